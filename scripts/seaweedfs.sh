#!/usr/bin/env bash
# seaweedfs.sh prints the path of the SeaweedFS `weed` binary the object
# store tests run as their S3 server, building it first when it is missing.
#
#   scripts/seaweedfs.sh     print ~/.cache/hubmirror/tools/weed-VERSION/weed
#
# `go install github.com/seaweedfs/seaweedfs/weed@VERSION` is refused (the
# module's go.mod has replace directives), so the script downloads the
# module from the Go module proxy, builds ./weed in a writable copy of it and
# moves the binary into place only when complete. The first build takes
# minutes (12 on a 2-core machine, downloads included; 21 s with Go's module
# and build caches warm) and makes a 157 MiB binary; later runs print the
# path at once. Two runs at the same time are safe: they take a lock, and
# the binary appears by rename.
#
# HUBMIRROR_TOOLS_BIN moves the tools directory, as in deps.sh.
set -euo pipefail

readonly WEED_MOD=github.com/seaweedfs/seaweedfs
readonly WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6

case ${1:-} in
"") ;;
-h | --help)
	sed -n '2,16s/^# \{0,1\}//p' "$0"
	exit 0
	;;
*)
	echo "seaweedfs.sh: unknown argument $1" >&2
	exit 2
	;;
esac

tools_bin=${HUBMIRROR_TOOLS_BIN:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/hubmirror/tools}
dir=$tools_bin/weed-$WEED_VERSION
bin=$dir/weed

log() { echo "seaweedfs.sh: $*" >&2; }

if [[ -x $bin ]]; then
	echo "$bin"
	exit 0
fi

command -v go >/dev/null 2>&1 || {
	log "Go is not installed (https://go.dev/dl/)"
	exit 1
}
mkdir -p "$dir"

# One build at a time: a second run waits for the first and then finds the
# binary. flock(1) is in util-linux; without it (macOS) a run builds on its
# own and the rename below still keeps the binary whole.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$dir/.lock"
	flock 9
	if [[ -x $bin ]]; then
		echo "$bin"
		exit 0
	fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hubmirror-weed.XXXXXX")
# The module cache is read-only, so go clean -modcache could not remove the
# copy: the chmod lets rm do it.
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

log "building SeaweedFS weed $WEED_VERSION into $dir (this takes minutes the first time)"
src=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$WEED_MOD@$WEED_VERSION" |
	awk -F'"' '$2 == "Dir" { print $4 }')
if [[ -z $src || ! -d $src ]]; then
	log "go mod download $WEED_MOD@$WEED_VERSION gave no module directory"
	exit 1
fi
cp -r "$src" "$work/src"
chmod -R u+w "$work/src"
# -trimpath and no VCS stamp: the binary does not depend on where it was
# built; -s -w drop the symbol tables a test server does not need.
(cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags='-s -w' -o "$work/weed" ./weed)
mv "$work/weed" "$dir/weed.tmp.$$"
mv -f "$dir/weed.tmp.$$" "$bin"
log "built $bin"
echo "$bin"
