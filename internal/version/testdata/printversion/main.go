// Command printversion prints version.String, for the test that builds it
// with -ldflags -X.
package main

import (
	"fmt"

	"github.com/hubmirror/hubmirror/internal/version"
)

func main() { fmt.Println(version.String()) }
