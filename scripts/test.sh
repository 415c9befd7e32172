#!/usr/bin/env bash
# test.sh runs every check CI runs: it installs what the tests need
# (scripts/deps.sh --test), checks formatting, runs go vet, and runs all tests
# with the race detector, the end-to-end tests included (HUBMIRROR_E2E=1
# turns a missing skopeo, crane or conformance binary into a failure).
#
# Extra arguments are passed to go test, e.g. scripts/test.sh -run Skopeo -v
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

start=$SECONDS
step=""
finish() {
	local rc=$?
	local took=$((SECONDS - start))
	if [[ $rc -eq 0 ]]; then
		echo "test.sh: PASS (${took}s)"
	else
		echo "test.sh: FAIL in step '$step' (exit $rc, ${took}s)" >&2
	fi
}
trap finish EXIT

begin() {
	step=$1
	echo "==> $step"
}

begin "deps"
scripts/deps.sh --test

begin "gofmt"
mapfile -t go_files < <(find . \( -name .git -o -name .cache -o -name testdata -o -name vendor \) -prune -o -name '*.go' -type f -print)
if [[ ${#go_files[@]} -gt 0 ]]; then
	unformatted=$(gofmt -l "${go_files[@]}")
	if [[ -n $unformatted ]]; then
		echo "these files need gofmt -w:" >&2
		echo "$unformatted" >&2
		exit 1
	fi
fi

begin "go vet"
go vet ./...

begin "go test"
export HUBMIRROR_E2E=1
export HUBMIRROR_TOOLS_BIN=$root/.cache/bin
go test -race -count=1 -timeout 20m "$@" ./...
