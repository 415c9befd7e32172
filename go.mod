module github.com/hubmirror/hubmirror

go 1.26.8
