package clientconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// The daemon.json keys ApplyDocker edits; every other key is left as it is.
const (
	mirrorsKey  = "registry-mirrors"
	insecureKey = "insecure-registries"
)

// Docker is what a daemon.json needs to pull through the mirror.
type Docker struct {
	// Mirror is the mirror's URL, put first in "registry-mirrors".
	Mirror string
	// Insecure is the mirror's host:port for "insecure-registries", or ""
	// where dockerd needs none (https, or plain http on loopback).
	Insecure string
}

// DockerFromSnippet is the Docker a daemon.json snippet of internal/clientsetup asks
// for, so that --apply writes what `hubmirror setup docker` prints.
func DockerFromSnippet(text string) (Docker, error) {
	var doc struct {
		Mirrors  []string `json:"registry-mirrors"`
		Insecure []string `json:"insecure-registries"`
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil || len(doc.Mirrors) != 1 || len(doc.Insecure) > 1 {
		return Docker{}, fmt.Errorf(i18n.Key("not a daemon.json with one mirror: %q"), text)
	}
	d := Docker{Mirror: doc.Mirrors[0]}
	if len(doc.Insecure) == 1 {
		d.Insecure = doc.Insecure[0]
	}
	return d, nil
}

// DockerRecord is what ApplyDocker changed in a daemon.json, kept next to
// it (daemon.json.hubmirror), so that UndoDocker takes back exactly that
// and nothing the user had or added since.
type DockerRecord struct {
	// Mirror is the URL ApplyDocker put first in registry-mirrors; ""
	// when it was already first.
	Mirror string `json:"mirror,omitempty"`
	// MirrorWas is where Mirror stood in the list before: -1 when it was
	// not there.
	MirrorWas int `json:"mirror_was"`
	// MadeMirrors says the file had no registry-mirrors key.
	MadeMirrors bool `json:"made_registry_mirrors,omitempty"`
	// Insecure is the host ApplyDocker added to insecure-registries.
	Insecure string `json:"insecure,omitempty"`
	// MadeInsecure says the file had no insecure-registries key.
	MadeInsecure bool `json:"made_insecure_registries,omitempty"`
	// MadeFile says there was no file (or only white space) before.
	MadeFile bool `json:"made_file,omitempty"`
}

// Empty reports whether r records no change at all.
func (r DockerRecord) Empty() bool {
	return r.Mirror == "" && r.Insecure == "" && !r.MadeFile
}

// emptyDaemonJSON is what a missing or blank daemon.json stands for.
const emptyDaemonJSON = "{}\n"

// isBlank reports whether data has nothing but white space.
func isBlank(data []byte) bool {
	return strings.TrimSpace(string(data)) == ""
}

// sameMirror reports whether two mirror URLs are the same to dockerd,
// which ignores a trailing slash.
func sameMirror(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// ApplyDocker is old (a daemon.json, possibly empty) with want's mirror
// first in registry-mirrors and want's host in insecure-registries,
// edited in place: every other key, value, mirror and byte of layout stays
// as it was. When old already has both, it comes back unchanged, with an
// empty record. Bad JSON is an error naming the line.
func ApplyDocker(old []byte, want Docker) ([]byte, DockerRecord, error) {
	rec := DockerRecord{MirrorWas: -1}
	data := old
	if isBlank(old) {
		data, rec.MadeFile = []byte(emptyDaemonJSON), true
	}
	data, err := putMirror(data, want.Mirror, &rec)
	if err != nil {
		return nil, DockerRecord{}, err
	}
	if want.Insecure != "" {
		if data, err = putInsecure(data, want.Insecure, &rec); err != nil {
			return nil, DockerRecord{}, err
		}
	}
	if rec.Empty() {
		return old, DockerRecord{MirrorWas: -1}, nil
	}
	return data, rec, nil
}

// putMirror puts mirror first in data's registry-mirrors, noting in rec
// what that changed.
func putMirror(data []byte, mirror string, rec *DockerRecord) ([]byte, error) {
	o, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	i := o.find(mirrorsKey)
	if i < 0 {
		rec.Mirror, rec.MadeMirrors = mirror, true
		return addMember(data, o, mirrorsKey, "["+quote(mirror)+"]"), nil
	}
	a, err := parseArray(data, o.members[i].value, mirrorsKey)
	if err != nil {
		return nil, err
	}
	k := slices.IndexFunc(a.values, func(v string) bool { return sameMirror(v, mirror) })
	if k == 0 {
		return data, nil
	}
	rec.Mirror, rec.MirrorWas = mirror, k
	if k > 0 {
		mirror = a.values[k] // moved as the user spelled it
		rec.Mirror = mirror
		data = removeElem(data, a, k)
		if a, err = reparseArray(data, mirrorsKey); err != nil {
			return nil, err
		}
	}
	return insertElem(data, a, 0, mirror), nil
}

// putInsecure adds host to data's insecure-registries unless it is there,
// noting in rec what that changed.
func putInsecure(data []byte, host string, rec *DockerRecord) ([]byte, error) {
	o, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	i := o.find(insecureKey)
	if i < 0 {
		rec.Insecure, rec.MadeInsecure = host, true
		return addMember(data, o, insecureKey, "["+quote(host)+"]"), nil
	}
	a, err := parseArray(data, o.members[i].value, insecureKey)
	if err != nil {
		return nil, err
	}
	if slices.Contains(a.values, host) {
		return data, nil
	}
	rec.Insecure = host
	return insertElem(data, a, len(a.elems), host), nil
}

// reparseArray finds key's array in data again after an edit moved it.
func reparseArray(data []byte, key string) (array, error) {
	o, err := parseObject(data)
	if err != nil {
		return array{}, err
	}
	i := o.find(key)
	if i < 0 {
		return array{}, errors.New(i18n.Key("the edit lost its key")) // cannot happen: the edit kept it
	}
	return parseArray(data, o.members[i].value, key)
}

// UndoDocker is cur (a daemon.json that ApplyDocker changed as rec says)
// with those changes taken back: the mirror out of registry-mirrors (back
// where it was, if it was there before), the host out of
// insecure-registries, and either key removed if ApplyDocker made it and
// it is now empty. What the user changed since stays. When nothing changed
// since, the result is the file from before ApplyDocker, byte for byte.
// gone reports that ApplyDocker made the file and nothing is left in it:
// the file itself should go.
func UndoDocker(cur []byte, rec DockerRecord) (out []byte, gone bool, err error) {
	data := cur
	if isBlank(cur) {
		data = []byte(emptyDaemonJSON)
	}
	if rec.Insecure != "" {
		if data, err = takeBack(data, insecureKey, rec.Insecure, -1, rec.MadeInsecure); err != nil {
			return nil, false, err
		}
	}
	if rec.Mirror != "" {
		if data, err = takeBack(data, mirrorsKey, rec.Mirror, rec.MirrorWas, rec.MadeMirrors); err != nil {
			return nil, false, err
		}
	}
	if rec.MadeFile {
		o, err := parseObject(data)
		if err != nil {
			return nil, false, err
		}
		if len(o.members) == 0 {
			return nil, true, nil
		}
	}
	return data, false, nil
}

// takeBack removes v from key's list in data, puts it back at index was
// when that is ≥ 0, and removes key when made says ApplyDocker added it and
// the list is now empty.
func takeBack(data []byte, key, v string, was int, made bool) ([]byte, error) {
	o, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	i := o.find(key)
	if i < 0 {
		return data, nil // the user removed it
	}
	a, err := parseArray(data, o.members[i].value, key)
	if err != nil {
		return nil, err
	}
	k := slices.IndexFunc(a.values, func(x string) bool { return sameMirror(x, v) })
	if k < 0 {
		return data, nil
	}
	data = removeElem(data, a, k)
	if was >= 0 {
		if a, err = reparseArray(data, key); err != nil {
			return nil, err
		}
		return insertElem(data, a, min(was, len(a.elems)), v), nil
	}
	if made && len(a.elems) == 1 {
		if o, err = parseObject(data); err != nil {
			return nil, err
		}
		return removeMember(data, o, o.find(key)), nil
	}
	return data, nil
}
