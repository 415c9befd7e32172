package logfile

import (
	"bytes"
	"errors"
	"io"
	"os"
)

// tailChunk is how much Tail reads at a time, from the end backwards.
const tailChunk = 32 << 10

// Tail returns the last n lines of the log at path, without their
// newlines, reading path.1 too when path (just rotated) has fewer. It
// reads only as much of the end of the files as it needs. A missing path
// is an error that os.IsNotExist recognises.
func Tail(path string, n int) ([]string, error) {
	lines, err := tailFile(path, n)
	if err != nil {
		return nil, err
	}
	if len(lines) < n {
		older, err := tailFile(path+".1", n-len(lines))
		if err == nil {
			lines = append(older, lines...)
		}
	}
	return lines, nil
}

// tailFile returns the last n lines of one file.
func tailFile(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	// Read chunks from the end until the data holds n full lines (n+1
	// newlines, counting the one that ends the file's last line) or the
	// start of the file is reached.
	var data []byte
	start := end
	for start > 0 && bytes.Count(data, []byte{'\n'}) <= n {
		size := min(int64(tailChunk), start)
		start -= size
		chunk := make([]byte, size)
		if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		data = append(chunk, data...)
	}
	data = bytes.TrimSuffix(data, []byte{'\n'})
	if len(data) == 0 {
		return nil, nil
	}
	all := bytes.Split(data, []byte{'\n'})
	if len(all) > n {
		all = all[len(all)-n:] // drops the first, partial line too, if any
	}
	lines := make([]string, len(all))
	for i, l := range all {
		lines[i] = string(l)
	}
	return lines, nil
}
