#!/usr/bin/env bash
# test.sh runs every check CI runs: it installs what the tests need
# (scripts/deps.sh --test), checks formatting, runs go vet, and runs all tests
# with the race detector, the end-to-end tests included (HUBMIRROR_E2E=1
# turns a missing program, such as skopeo or crane, into a failure).
# After go vet it cross-builds and vets for Windows and macOS
# (scripts/crossbuild.sh).
#
# Then it runs every fuzz target of the parsers' packages (internal/mirror,
# internal/store, internal/oci, internal/upstream) for HUBMIRROR_FUZZTIME each (default 8s; 0
# skips the step).
#
# Extra arguments are passed to go test, e.g. scripts/test.sh -run Skopeo -v
# (with -run the secrets audit of ./internal/mirror/ does not run: test.sh says so).
#
# A passing run is quiet: what dbus-daemon and the services it starts write
# to stderr is kept in a log printed only when the tests fail.
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

# selects_tests reports whether the go test arguments hold a non-empty -run
# (or -test.run): the secrets audit in ./internal/mirror/'s TestMain checks the logs
# of every test and is skipped when only some of them ran.
selects_tests() {
	while [[ $# -gt 0 ]]; do
		case $1 in
		-run | --run | -test.run | --test.run)
			[[ -n ${2:-} ]] && return 0
			shift
			;;
		-run=?* | --run=?* | -test.run=?* | --test.run=?*) return 0 ;;
		esac
		shift
	done
	return 1
}

begin "deps"
# apt-get waits up to 5 minutes for another apt to let go of its lock
# (DPkg::Lock::Timeout in deps.sh) rather than fail at once.
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

begin "cross-build"
# The Windows desktop app and the nogui builds for macOS and Windows, each
# vetted: about 7 minutes cold, seconds warm (scripts/crossbuild.sh).
scripts/crossbuild.sh

export HUBMIRROR_TOOLS_BIN=${HUBMIRROR_TOOLS_BIN:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/hubmirror/tools}

begin "staticcheck"
"$HUBMIRROR_TOOLS_BIN/staticcheck" ./...

begin "go test"
if selects_tests "$@"; then
	echo "test.sh: -run given, so the secrets audit of ./internal/mirror/ (run only after every test) is off; run without -run for it" >&2
fi
export HUBMIRROR_E2E=1
# A private D-Bus session with an unlocked GNOME Keyring gives the tests a
# real OS keyring; its files live in a temporary directory, not in $HOME.
keyring_home=$(mktemp -d)
trap 'rc=$?; rm -rf "$keyring_home"; (exit $rc); finish' EXIT
mkdir -m 700 "$keyring_home/run"
export XDG_RUNTIME_DIR=$keyring_home/run
export HUBMIRROR_KEYRING_HOME=$keyring_home
# dbus-daemon, gnome-keyring-daemon and the services the bus starts warn on
# every healthy run (dbus-daemon's "Failed to set fd limit" when it may not
# raise the limit, a notification service that cannot start): their stderr
# goes to dbus_log, printed only when the tests fail, while go test keeps
# this script's stderr through fd 3.
dbus_log=$keyring_home/dbus-session.log
rc=0
dbus-run-session -- bash -c '
	printf %s test-keyring-password |
		HOME=$HUBMIRROR_KEYRING_HOME XDG_DATA_HOME=$HUBMIRROR_KEYRING_HOME/data \
		gnome-keyring-daemon --unlock --components=secrets >/dev/null
	exec 2>&3 3>&-
	HUBMIRROR_KEYRING=1 exec go test -race -count=1 -timeout 20m "$@" ./...
' go-test "$@" 3>&2 2>"$dbus_log" || rc=$?
if [[ $rc -ne 0 ]]; then
	echo "--- stderr of the D-Bus session (dbus-daemon, gnome-keyring-daemon, bus-started services):" >&2
	cat "$dbus_log" >&2
	exit "$rc"
fi

begin "fuzz"
# go test takes one -fuzz target per run, so each gets its own. A failing
# input is written to the package's testdata/fuzz/FuzzXxx/: commit it with
# the fix, and every plain go test runs it from then on as a regression test.
fuzztime=${HUBMIRROR_FUZZTIME:-8s}
if [[ $fuzztime != 0 ]]; then
	for pkg in ./internal/mirror/ ./internal/store/ ./internal/oci/ ./internal/upstream/; do
		mapfile -t fuzz_targets < <(go test -list '^Fuzz' "$pkg" | grep '^Fuzz')
		if [[ ${#fuzz_targets[@]} -eq 0 ]]; then
			echo "no fuzz targets found in $pkg" >&2
			exit 1
		fi
		for target in "${fuzz_targets[@]}"; do
			echo "--- $pkg $target ($fuzztime)"
			# go's fuzz coordinator can end a run that found nothing with
			# "context deadline exceeded" when a worker is slow to stop at
			# the deadline on a loaded machine; that run is tried again
			# once. A failing input ("Failing input written to …") is not.
			fuzz_log=$(mktemp)
			if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$fuzz_log"; then
				if grep -q 'context deadline exceeded' "$fuzz_log" && ! grep -q 'Failing input written' "$fuzz_log"; then
					echo "--- $pkg $target: the fuzz run ended on its deadline without a failing input; once more"
					go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
				else
					rm -f "$fuzz_log"
					exit 1
				fi
			fi
			rm -f "$fuzz_log"
		done
	done
fi
