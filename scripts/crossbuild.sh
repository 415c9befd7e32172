#!/usr/bin/env bash
# crossbuild.sh proves that hubmirror builds for the platforms most
# developers use but CI cannot run: it builds, and runs go vet on, every
# package for
#
#   windows/amd64          the full desktop app (Fyne and cgo, with MinGW-w64's
#                          x86_64-w64-mingw32-gcc)
#   windows/amd64 nogui    -tags nogui, CGO_ENABLED=0
#   darwin/amd64 nogui     -tags nogui, CGO_ENABLED=0
#   darwin/arm64 nogui     -tags nogui, CGO_ENABLED=0
#
# Fyne needs cgo on macOS, and cgo for darwin needs Apple's SDK, which Linux
# does not have: the darwin targets build and vet every package except those
# that import Fyne (internal/ui/ and internal/traymenu), which are neither built nor
# vetted for darwin here. Their darwin files are checked on a Mac.
#
# It prints one line per target with its time and fails naming the target.
# Build outputs go to a temporary directory, removed at exit.
#
# Time on the CI machine (2 cores, shared): cold, with an empty GOCACHE,
# 7 to 14 minutes (about 10 CPU-minutes, nearly all of it the Windows desktop
# build: Fyne's and GLFW's C code through cgo); warm, with the Go build cache
# of an earlier run, 8 s when nothing changed and about 1 minute after a
# change to internal/ui/ or internal/mirror/. The cache is GOCACHE (by default ~/.cache/go-build),
# outside the clone, so a fresh clone on the same machine builds warm.
#
# The MinGW compiler is installed by scripts/deps.sh --test when missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

readonly mingw_cc=x86_64-w64-mingw32-gcc

log() { echo "crossbuild.sh: $*" >&2; }

if ! command -v "$mingw_cc" >/dev/null 2>&1; then
	scripts/deps.sh --test
	if ! command -v "$mingw_cc" >/dev/null 2>&1; then
		log "FAIL windows/amd64: $mingw_cc not found; install MinGW-w64" \
			"(Debian: gcc-mingw-w64-x86-64, macOS: brew install mingw-w64)"
		exit 1
	fi
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# without_fyne prints the packages of ./... (tests included) that do not
# import Fyne, directly or not, when built for the environment it is given.
without_fyne() {
	env "$@" go list -tags nogui -test -f '{{.ImportPath}}{{range .Deps}} {{.}}{{end}}' ./... |
		awk '{
			p = $1
			sub(/_test$/, "", p)
			fyne = 0
			for (i = 2; i <= NF; i++) if ($i ~ /^fyne\.io\/fyne\/v2(\/|$)/) fyne = 1
			if (fyne) skip[p] = 1; else if (p !~ /\.test$/) pkgs[p] = 1
		}
		END { for (p in pkgs) if (!(p in skip)) print p }' | sort
}

# target NAME TAGS ENV... builds and vets the packages named on the lines of
# $pkgs for one target and prints its time.
target() {
	local name=$1 tags=$2 start=$SECONDS dir
	shift 2
	dir=$out/${name//[\/ ]/-}
	mkdir -p "$dir"
	if ! env "$@" go build -tags "$tags" -o "$dir/" "${pkgs[@]}"; then
		log "FAIL $name: go build failed (output above)"
		exit 1
	fi
	if ! env "$@" go vet -tags "$tags" "${pkgs[@]}"; then
		log "FAIL $name: go vet failed (output above)"
		exit 1
	fi
	echo "cross-build: $name: build and vet ok ($((SECONDS - start))s)"
}

pkgs=(./...)
target "windows/amd64 desktop" "" GOOS=windows GOARCH=amd64 CGO_ENABLED=1 CC="$mingw_cc"
target "windows/amd64 nogui" nogui GOOS=windows GOARCH=amd64 CGO_ENABLED=0

for arch in amd64 arm64; do
	darwin=(GOOS=darwin GOARCH=$arch CGO_ENABLED=0)
	if ! list=$(without_fyne "${darwin[@]}") || [[ -z $list ]]; then
		log "FAIL darwin/$arch nogui: go list found no package to build"
		exit 1
	fi
	mapfile -t pkgs <<<"$list"
	target "darwin/$arch nogui" nogui "${darwin[@]}"
done
