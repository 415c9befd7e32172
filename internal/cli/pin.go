package cli

import (
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// pinFlags is `hubmirror pin add|rm|ls [IMAGE...]`: it edits "pinned" in
// the settings file, which a running mirror applies at once.
func pinFlags(fs *flag.FlagSet, e *env) func([]string) error {
	var flags settings.Flags
	flags.Register(fs)
	return func(args []string) error {
		if len(args) == 0 {
			return errUsage{lookup("pin")}
		}
		sub, images := args[0], args[1:]
		_, path, err := flags.Load()
		if err != nil {
			return fmt.Errorf(i18n.Key("settings: %w"), err)
		}
		s, err := settings.Load(path) // the file as it is, without the flags
		if err != nil {
			return err
		}
		switch sub {
		case "ls":
			for _, p := range s.Pinned {
				fmt.Fprintln(e.stdout, p)
			}
			return nil
		case "add", "rm":
		default:
			return errUsage{lookup("pin")}
		}
		if len(images) == 0 {
			return fmt.Errorf(i18n.Key("hubmirror pin %s needs at least one image, such as alpine:3.20"), sub)
		}
		for _, arg := range images {
			ref, err := mirror.ParseRef(arg)
			if err != nil {
				return err
			}
			name := ref.String()
			i := pinIndex(s.Pinned, name)
			switch {
			case sub == "add" && i < 0:
				s.Pinned = append(s.Pinned, name)
			case sub == "rm" && i >= 0:
				s.Pinned = slices.Delete(s.Pinned, i, i+1)
			case sub == "rm":
				return fmt.Errorf(i18n.Key("%s is not pinned"), name)
			}
		}
		if err := settings.Save(path, s); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, e.T("Pinned images (%d): %s\n"), len(s.Pinned), strings.Join(s.Pinned, ", "))
		return nil
	}
}

// pinIndex is where pinned holds name, comparing each entry as ParseRef
// writes it, so an entry an earlier version stored as
// "library/alpine:3.20" is the pin "alpine:3.20"; -1 when it is not there.
func pinIndex(pinned []string, name string) int {
	return slices.IndexFunc(pinned, func(p string) bool {
		if ref, err := mirror.ParseRef(p); err == nil {
			return ref.String() == name
		}
		return p == name
	})
}
