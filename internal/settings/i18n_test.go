package settings

import (
	"errors"
	"testing"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// A FieldError stays English in Error() and reads in the user's language
// through In, the field and the value as written.
func TestFieldErrorIn(t *testing.T) {
	err := Settings{Listen: "localhost", CacheDir: "/tmp/x"}.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("not a FieldError: %v", err)
	}
	if got, want := fe.Error(), `"listen": "localhost" is not host:port (for example 127.0.0.1:5000)`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := fe.In(i18n.Chinese), `"listen"："localhost" 不是“主机:端口”形式（例如 127.0.0.1:5000）`; got != want {
		t.Errorf("In(Chinese) = %q, want %q", got, want)
	}
	if got := fe.In(i18n.English); got != fe.Error() {
		t.Errorf("In(English) = %q", got)
	}
	if got := i18n.Chinese.Text(fe.Error()); got != fe.In(i18n.Chinese) {
		t.Errorf("Text(Error()) = %q, In = %q", got, fe.In(i18n.Chinese))
	}
}
