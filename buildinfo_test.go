package main

import (
	"runtime/debug"
	"testing"
)

func TestCommitFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name         string
		info         *debug.BuildInfo
		want         string
		wantModified bool
	}{
		{"no build info", nil, "", false},
		{"built outside a checkout", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}}}, "", false},
		{"clean checkout", &debug.BuildInfo{Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "9845823abc"}, {Key: "vcs.modified", Value: "false"}}}, "9845823abc", false},
		{"local changes", &debug.BuildInfo{Settings: []debug.BuildSetting{
			{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "9845823abc"}}}, "9845823abc", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, modified := commitOf(tc.info)
			if got != tc.want || modified != tc.wantModified {
				t.Errorf("commitOf = %q, %v; want %q, %v", got, modified, tc.want, tc.wantModified)
			}
		})
	}
}
