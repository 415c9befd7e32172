#!/usr/bin/env bash
# deps.sh installs what building hubmirror needs and, with --test, what its
# tests need. It is idempotent and prints nothing when all is installed.
#
#   scripts/deps.sh          OS build packages (a C toolchain and Fyne's headers)
#   scripts/deps.sh --test   also skopeo, jq, dbus and gnome-keyring (a real
#                            OS keyring for the tests), xvfb, imagemagick,
#                            xdotool and x11-utils (the desktop app under a
#                            virtual display),
#                            chromium (the landing page in a browser),
#                            gcc-mingw-w64-x86-64 (the Windows cross build),
#                            docker.io, containerd, podman and buildah (the
#                            real engines the end-to-end tests configure), and
#                            crane, the OCI conformance suite and staticcheck
#                            in ~/.cache/hubmirror/tools
#
# OS packages are installed with apt-get as root, else with sudo when it
# needs no password, else the script prints what to install and fails.
set -euo pipefail

readonly CRANE_MOD=github.com/google/go-containerregistry
readonly CRANE_PKG=$CRANE_MOD/cmd/crane
readonly CRANE_VERSION=v0.22.1
readonly CONFORMANCE_MOD=github.com/opencontainers/distribution-spec/conformance
readonly CONFORMANCE_VERSION=v0.0.0-20260831232431-97274622c111
readonly STATICCHECK_MOD=honnef.co/go/tools
readonly STATICCHECK_VERSION=v0.8.2

usage() {
	sed -n '2,18s/^# \{0,1\}//p' "$0"
}

want_test=0
for arg in "$@"; do
	case $arg in
	--test) want_test=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "deps.sh: unknown argument $arg" >&2
		usage >&2
		exit 2
		;;
	esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Tools live outside the clone, so a fresh clone (CI) does not build them
# again; go_tool rebuilds one when its version changes.
tools_bin=${HUBMIRROR_TOOLS_BIN:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/hubmirror/tools}

log() { echo "deps.sh: $*" >&2; }

# as_root runs a command as root: directly, with sudo -n, or not at all.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		return 1
	fi
}

# apt_install installs the Debian packages that are not installed yet.
apt_install() {
	local missing=() pkg
	for pkg in "$@"; do
		if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
			missing+=("$pkg")
		fi
	done
	if [[ ${#missing[@]} -eq 0 ]]; then
		return 0
	fi
	log "installing ${missing[*]}"
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300)
	if ! as_root "${apt[@]}" update -q >/dev/null ||
		! as_root "${apt[@]}" install --no-install-recommends "${missing[@]}" >/dev/null; then
		log "could not install packages; as root run:"
		log "  apt-get update && apt-get install --no-install-recommends ${missing[*]}"
		return 1
	fi
}

# need_commands fails listing the commands that are not in PATH.
need_commands() {
	local missing=() c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	if [[ ${#missing[@]} -gt 0 ]]; then
		log "missing: ${missing[*]}; install them with your package manager"
		return 1
	fi
}

# go_tool PKG MODULE VERSION installs PKG@VERSION into $tools_bin unless the
# binary there was already built from MODULE at VERSION.
go_tool() {
	local pkg=$1 mod=$2 version=$3 bin
	bin=$tools_bin/$(basename "$pkg")
	if [[ -x $bin ]] && go version -m "$bin" 2>/dev/null |
		awk -v m="$mod" -v v="$version" '($1 == "mod" || $1 == "path") && $2 == m && $3 == v { ok = 1 } END { exit !ok }'; then
		return 0
	fi
	log "installing $pkg@$version into $tools_bin"
	mkdir -p "$tools_bin"
	GOBIN=$tools_bin go install "$pkg@$version"
}

command -v go >/dev/null 2>&1 || {
	log "Go is not installed (https://go.dev/dl/); go.mod needs $(awk '$1 == "go" { print $2 }' "$root/go.mod")"
	exit 1
}

case $(uname -s) in
Darwin)
	# Fyne needs only a C compiler on macOS (xcode-select --install).
	need_commands cc
	if [[ $want_test -eq 1 ]]; then
		need_commands skopeo jq || log "brew install skopeo jq"
	fi
	;;
Linux)
	pkgs=(gcc libc6-dev pkg-config libgl1-mesa-dev libxcursor-dev libxrandr-dev
		libxinerama-dev libxi-dev libxxf86vm-dev)
	if [[ $want_test -eq 1 ]]; then
		# systemd for busctl, which the tray tests click the tray menu with;
		# a minimal Debian image may lack it.
		pkgs+=(skopeo jq dbus systemd gnome-keyring xvfb imagemagick xdotool x11-utils chromium gcc-mingw-w64-x86-64
			docker.io containerd podman buildah)
	fi
	if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
		apt_install "${pkgs[@]}"
	else
		# Not Debian: check for the commands and name the Fedora packages.
		cmds=(gcc pkg-config)
		if [[ $want_test -eq 1 ]]; then
			cmds+=(skopeo jq)
		fi
		need_commands "${cmds[@]}" || {
			log "on Fedora: dnf install gcc pkgconf-pkg-config libXcursor-devel libXrandr-devel" \
				"mesa-libGL-devel libXi-devel libXinerama-devel libXxf86vm-devel skopeo jq"
			exit 1
		}
	fi
	;;
*)
	log "unsupported OS $(uname -s): install a C compiler yourself"
	;;
esac

if [[ $want_test -eq 1 ]]; then
	go_tool "$CRANE_PKG" "$CRANE_MOD" "$CRANE_VERSION"
	go_tool "$CONFORMANCE_MOD" "$CONFORMANCE_MOD" "$CONFORMANCE_VERSION"
	go_tool "$STATICCHECK_MOD/cmd/staticcheck" "$STATICCHECK_MOD" "$STATICCHECK_VERSION"
	"$root/scripts/seaweedfs.sh" >/dev/null # SeaweedFS's weed, the object-store tests' S3 server (built once, ~12 min cold)
fi
