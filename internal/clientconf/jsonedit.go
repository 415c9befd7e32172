package clientconf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// span is where one JSON value sits in a document: data[start:end].
type span struct{ start, end int }

// member is one key of a JSON object with where its key and value sit, so
// that an edit can replace or cut them without touching the bytes around.
type member struct {
	key      string
	keyStart int // the key's opening quote
	value    span
}

// object is a document's top-level object: its braces and its members in
// file order.
type object struct {
	open, close int // the offsets of '{' and '}'
	members     []member
}

// find is the index of key among o's members, or -1.
func (o object) find(key string) int {
	for i, m := range o.members {
		if m.key == key {
			return i
		}
	}
	return -1
}

// lineAt is the line (from 1) that offset off of data is on, for error
// messages that send the user to the right place.
func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// syntaxError turns a decoding error into one that names the line, the
// way people find it in an editor.
func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf(i18n.Key("line %d: %s"), lineAt(data, int(se.Offset)), se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf(i18n.Key("line %d: the JSON ends too early"), lineAt(data, len(data)))
	}
	return fmt.Errorf(i18n.Key("line %d: %s"), lineAt(data, len(data)), err.Error())
}

// skipSpace is the offset of the first byte at or after i that is neither
// JSON white space nor a comma.
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n', ',':
			i++
		default:
			return i
		}
	}
	return i
}

// parseObject reads data as one JSON object and nothing after it, noting
// where each member sits. A key that appears twice is an error: which of
// the two dockerd would use is not obvious to the user.
func parseObject(data []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return object{}, syntaxError(data, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return object{}, fmt.Errorf(i18n.Key("line %d: the file is not a JSON object ({ … })"), lineAt(data, int(dec.InputOffset())))
	}
	o := object{open: int(dec.InputOffset()) - 1}
	prev := o.open + 1
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return object{}, syntaxError(data, err)
		}
		key, _ := tok.(string)
		keyStart := skipSpace(data, prev)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return object{}, syntaxError(data, err)
		}
		end := int(dec.InputOffset())
		if seen[key] {
			return object{}, fmt.Errorf(i18n.Key("line %d: %q appears twice"), lineAt(data, keyStart), key)
		}
		seen[key] = true
		o.members = append(o.members, member{key: key, keyStart: keyStart, value: span{end - len(raw), end}})
		prev = end
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return object{}, syntaxError(data, err)
	}
	o.close = int(dec.InputOffset()) - 1
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return object{}, fmt.Errorf(i18n.Key("line %d: there is more after the JSON object"), lineAt(data, int(dec.InputOffset())))
	}
	return o, nil
}

// array is a JSON array of strings: its brackets, and each element's
// value and place.
type array struct {
	open, close int
	elems       []span
	values      []string
}

// parseArray reads the array of strings at s in data, named key in error
// messages.
func parseArray(data []byte, s span, key string) (array, error) {
	bad := fmt.Errorf(i18n.Key("line %d: %q is not a list of strings"), lineAt(data, s.start), key)
	dec := json.NewDecoder(bytes.NewReader(data[s.start:s.end]))
	tok, err := dec.Token()
	if err != nil {
		return array{}, bad
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return array{}, bad
	}
	a := array{open: s.start}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return array{}, bad
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return array{}, bad
		}
		end := s.start + int(dec.InputOffset())
		a.elems = append(a.elems, span{end - len(raw), end})
		a.values = append(a.values, v)
	}
	a.close = s.end - 1
	return a, nil
}

// splice is data with data[start:end] replaced by text.
func splice(data []byte, start, end int, text string) []byte {
	out := make([]byte, 0, len(data)-(end-start)+len(text))
	out = append(out, data[:start]...)
	out = append(out, text...)
	return append(out, data[end:]...)
}

// quote is s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// indentOf is the white space before the first member's key on its line,
// and whether members sit on lines of their own: new members are written
// the way the file already writes them (two spaces on new lines when the
// object is empty).
func indentOf(data []byte, o object) (indent string, lines bool) {
	if len(o.members) == 0 {
		return "  ", true
	}
	ws := data[o.open+1 : o.members[0].keyStart]
	i := bytes.LastIndexByte(ws, '\n')
	if i < 0 {
		return "", false
	}
	return string(ws[i+1:]), true
}

// addMember is data with key: value added as the object's last member.
// removeMember of it gives data back, byte for byte.
func addMember(data []byte, o object, key, value string) []byte {
	indent, lines := indentOf(data, o)
	if len(o.members) == 0 {
		return splice(data, o.open+1, o.close, "\n"+indent+quote(key)+": "+value+"\n")
	}
	sep := ", "
	if lines {
		sep = ",\n" + indent
	}
	last := o.members[len(o.members)-1].value.end
	return splice(data, last, last, sep+quote(key)+": "+value)
}

// removeMember is data without o's i-th member, its comma and the white
// space that addMember puts before it.
func removeMember(data []byte, o object, i int) []byte {
	switch {
	case len(o.members) == 1:
		return splice(data, o.open+1, o.close, "")
	case i > 0:
		return splice(data, o.members[i-1].value.end, o.members[i].value.end, "")
	}
	return splice(data, o.members[0].keyStart, o.members[1].keyStart, "")
}

// gapAfterComma is the white space between a comma and the element after
// it in a, as the file writes it: what a new element is preceded by.
func gapAfterComma(data []byte, a array) string {
	var ws []byte
	if len(a.elems) >= 2 {
		ws = data[a.elems[0].end:a.elems[1].start]
		ws = ws[bytes.IndexByte(ws, ',')+1:]
	} else if len(a.elems) == 1 {
		ws = data[a.open+1 : a.elems[0].start]
	}
	if len(ws) == 0 {
		return " "
	}
	return string(ws)
}

// insertElem is data with the string v inserted into a at index j (0 ≤ j
// ≤ len): removeElem of it gives data back.
func insertElem(data []byte, a array, j int, v string) []byte {
	n := len(a.elems)
	switch {
	case n == 0:
		return splice(data, a.open+1, a.close, quote(v))
	case j < n:
		gap := string(data[a.open+1 : a.elems[0].start])
		if j > 0 {
			gap = gapAfterComma(data, a)
		}
		if gap == "" {
			gap = " "
		}
		at := a.elems[j].start
		return splice(data, at, at, quote(v)+","+gap)
	}
	at := a.elems[n-1].end
	return splice(data, at, at, ","+gapAfterComma(data, a)+quote(v))
}

// removeElem is data without a's k-th element and its comma.
func removeElem(data []byte, a array, k int) []byte {
	n := len(a.elems)
	switch {
	case n == 1:
		return splice(data, a.open+1, a.close, "")
	case k < n-1:
		return splice(data, a.elems[k].start, a.elems[k+1].start, "")
	}
	return splice(data, a.elems[k-1].end, a.elems[k].end, "")
}
