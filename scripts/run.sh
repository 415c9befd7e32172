#!/usr/bin/env bash
# run.sh installs the build packages (scripts/deps.sh), builds hubmirror
# from source and runs it with the given arguments, e.g.
#   scripts/run.sh serve --listen 127.0.0.1:5000 --cache-dir /tmp/hubmirror
#
# The binary is built into ${XDG_CACHE_HOME:-~/.cache}/hubmirror/bin (outside
# the repository) and then exec'd, so the PID this script started is the
# mirror's own: stopping it by that PID stops the mirror. (`go run` would
# leave the mirror running, orphaned, when only go run is stopped.)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/deps.sh

bin_dir=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/hubmirror/bin
bin=$bin_dir/hubmirror
mkdir -p "$bin_dir"
if [[ ! -x $bin ]]; then
	echo "run.sh: building hubmirror into $bin for the first time." >&2
	echo "run.sh: this compiles the desktop toolkit (Fyne) and its C parts (cgo): about 4-5 minutes on a cold cache," >&2
	echo "run.sh: after any 'go: downloading' lines it is quiet until done; later builds take seconds." >&2
fi
go build -o "$bin" .
exec "$bin" "$@"
