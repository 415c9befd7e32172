#!/usr/bin/env bash
# run.sh installs the build packages (scripts/deps.sh) and runs hubmirror
# from source with the given arguments, e.g.
#   scripts/run.sh serve --listen 127.0.0.1:5000 --cache-dir /tmp/hubmirror
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/deps.sh
exec go run . "$@"
