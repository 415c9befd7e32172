package app

import (
	"bytes"
	"testing"
)

// The log goes to stderr always and to the log file while one is set;
// a failing file does not stop the stderr copy.
func TestLogOutputCopiesToTheFile(t *testing.T) {
	var stderr, file bytes.Buffer
	out := &logTee{out: &stderr}
	out.Write([]byte("one\n"))
	out.setFile(&file)
	out.Write([]byte("two\n"))
	out.setFile(nil)
	out.Write([]byte("three\n"))
	if stderr.String() != "one\ntwo\nthree\n" || file.String() != "two\n" {
		t.Errorf("stderr %q, file %q", stderr.String(), file.String())
	}
}
