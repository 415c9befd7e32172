#!/usr/bin/env bash
# bench-idle.sh measures what the desktop app costs while it sits in the
# tray: launch to listening (best of several warm launches), then CPU and
# RSS over an interval with no window open, with the settings window open,
# and after it was closed again.
#
#   scripts/bench-idle.sh [-t SECONDS] [-s SECONDS] [-n LAUNCHES] [-b BINARY] [-k]
#
#   -t SECONDS   length of each measured interval (default 60)
#   -s SECONDS   settling time before each interval (default 5)
#   -n LAUNCHES  warm launches timed to listening (default 5)
#   -b BINARY    measure this binary instead of building the desktop app
#   -k           keep the temporary directory (logs, settings, cache)
#
# The app runs under Xvfb in its own D-Bus session, with a stand-in tray
# host (scripts/trayhost) so that it starts in the tray, a temporary HOME
# and XDG directories, and an upstream on a closed port of 127.0.0.1, so
# idle means no pulls and no traffic. CPU is utime+stime (and
# the reaped children's cutime+cstime) from /proc/PID/stat, summed over the
# app and its descendants; RSS is their VmRSS summed, at the end of the
# interval. The window is opened by a second launch (which asks the first
# to show it) and closed by WM_DELETE_WINDOW, as a window manager's close
# button sends it. Needs gcc and libx11-dev (for that sender), Xvfb,
# xdotool and dbus-run-session (scripts/deps.sh --test).
set -euo pipefail

interval=60
settle=5
launches=5
bin=
keep=
while getopts "t:s:n:b:kh" opt; do
	case $opt in
	t) interval=$OPTARG ;;
	s) settle=$OPTARG ;;
	n) launches=$OPTARG ;;
	b) bin=$OPTARG ;;
	k) keep=1 ;;
	h)
		sed -n '2,24s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Everything below runs in a D-Bus session of its own.
if [[ -z ${HUBMIRROR_BENCH_IDLE_INNER:-} ]]; then
	for c in Xvfb xdotool dbus-run-session gcc; do
		command -v "$c" >/dev/null || {
			echo "bench-idle: $c is missing (scripts/deps.sh --test)" >&2
			exit 1
		}
	done
	work=$(mktemp -d "${TMPDIR:-/tmp}/hubmirror-idle.XXXXXX")
	if [[ -n $keep ]]; then
		trap 'echo "kept $work" >&2' EXIT
	else
		trap 'rm -rf "$work"' EXIT
	fi
	if [[ -z $bin ]]; then
		echo "==> building the desktop app" >&2
		(cd "$root" && go build -o "$work/hubmirror" .)
		bin=$work/hubmirror
	fi
	(cd "$root" && go build -o "$work/trayhost" ./scripts/trayhost)
	# Before the D-Bus session, so that what it starts (a keyring) uses
	# them too.
	for d in home config cache data state runtime tmp; do mkdir -p "$work/$d"; done
	chmod 700 "$work/runtime"
	export HOME=$work/home XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache \
		XDG_DATA_HOME=$work/data XDG_STATE_HOME=$work/state XDG_RUNTIME_DIR=$work/runtime \
		TMPDIR=$work/tmp MESA_SHADER_CACHE_DISABLE=true LANG=en_US.UTF-8
	unset WAYLAND_DISPLAY DISPLAY
	HUBMIRROR_BENCH_IDLE_INNER=$work dbus-run-session -- "$0" -t "$interval" -s "$settle" -n "$launches" -b "$bin"
	exit
fi

work=$HUBMIRROR_BENCH_IDLE_INNER

# A WM_DELETE_WINDOW sender: the close button of a window manager.
gcc -O -o "$work/wmclose" "$root/scripts/wmclose/wmclose.c" -lX11

# Xvfb, as our child; it writes its display number to fd 3.
exec 3>"$work/display"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb=$!
exec 3>&-
app=
host=
cleanup() {
	[[ -n $app ]] && kill "$app" 2>/dev/null && wait "$app" 2>/dev/null
	[[ -n $host ]] && kill "$host" 2>/dev/null && wait "$host" 2>/dev/null
	kill "$xvfb" 2>/dev/null && wait "$xvfb" 2>/dev/null
	true
}
trap cleanup EXIT
for _ in $(seq 200); do
	[[ -s $work/display ]] && break
	sleep 0.05
done
[[ -s $work/display ]] || {
	echo "bench-idle: Xvfb did not start" >&2
	exit 1
}
export DISPLAY=:$(tr -d '\n' <"$work/display")

# A tray host, so that the app goes to the tray and opens no window.
coproc trayhost { exec "$work/trayhost"; }
host=$trayhost_PID
read -r ready <&"${trayhost[0]}" || true
[[ ${ready:-} == ready ]] || {
	echo "bench-idle: the stand-in tray host did not start" >&2
	exit 1
}

# A port nothing listens on, picked at random.
port=
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 30000))
	if ! (exec 4<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		port=$p
		break
	fi
done
[[ -n $port ]] || {
	echo "bench-idle: no free port" >&2
	exit 1
}
args=(--listen "127.0.0.1:$port" --config "$work/settings.json" --cache-dir "$work/mirror-cache"
	--upstream "docker.io=http://127.0.0.1:9")

listening() { (exec 4<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# launch starts the app in the background (its pid in $app) and sets ms to
# the milliseconds from the exec to an accepted connection on its port.
launch() {
	local t0 t1
	t0=$(date +%s%N)
	"$bin" "${args[@]}" >>"$work/app.log" 2>&1 &
	app=$!
	until listening; do
		kill -0 "$app" 2>/dev/null || {
			echo "bench-idle: the app exited before listening; its log:" >&2
			tail -n 30 "$work/app.log" >&2
			exit 1
		}
	done
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
}

quit() {
	kill -TERM "$app"
	wait "$app" || true
	app=
	while listening; do sleep 0.01; done
}

# tree prints pid and its descendants.
tree() {
	local -A kids=()
	local f rest pid ppid
	for f in /proc/[0-9]*/stat; do
		{ read -r rest <"$f"; } 2>/dev/null || continue
		pid=${rest%% *}
		rest=${rest##*) }
		ppid=$(cut -d' ' -f2 <<<"$rest")
		kids[$ppid]+=" $pid"
	done
	local queue=("$1") out=()
	while ((${#queue[@]})); do
		pid=${queue[0]}
		queue=("${queue[@]:1}")
		out+=("$pid")
		# shellcheck disable=SC2206
		queue+=(${kids[$pid]:-})
	done
	echo "${out[@]}"
}

# ticks prints utime+stime+cutime+cstime summed over the app's tree.
ticks() {
	local sum=0 pid rest f
	for pid in $(tree "$app"); do
		{ read -r rest <"/proc/$pid/stat"; } 2>/dev/null || continue
		rest=${rest##*) }
		read -r -a f <<<"$rest"
		# After the comm: state is field 3, so utime (14) is f[11].
		sum=$((sum + f[11] + f[12] + f[13] + f[14]))
	done
	echo $sum
}

# rss prints the app tree's VmRSS in KiB, and how many processes it has.
rss() {
	local sum=0 n=0 pid kb
	for pid in $(tree "$app"); do
		kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
		[[ -n $kb ]] || continue
		sum=$((sum + kb))
		n=$((n + 1))
	done
	echo "$sum $n"
}

hz=$(getconf CLK_TCK)
rows=()
# measure LABEL: CPU over $interval seconds and RSS at its end.
measure() {
	local c0 c1 t0 t1 r n
	c0=$(ticks)
	t0=$(date +%s%N)
	sleep "$interval"
	c1=$(ticks)
	t1=$(date +%s%N)
	read -r r n < <(rss)
	rows+=("$(awk -v l="$1" -v d=$((c1 - c0)) -v hz="$hz" -v ns=$((t1 - t0)) -v r="$r" -v n="$n" 'BEGIN {
		printf "%-26s %9.3f %10.1f %6d", l, 100 * d / hz / (ns / 1e9), r / 1024, n }')")
	echo "    ${rows[-1]}" >&2
}

windowVisible() { { xdotool search --onlyvisible --name "^hubmirror settings$" 2>/dev/null || true; } | head -n 1; }

echo "==> one launch to warm up, then $launches warm ones timed to listening" >&2
launch
first=$ms
quit
best=
for i in $(seq "$launches"); do
	launch
	echo "    launch $i: $ms ms" >&2
	[[ -z $best || $ms -lt $best ]] && best=$ms
	((i == launches)) || quit
done

# The last launch keeps running: let it settle, then measure.
sleep "$settle"
echo "==> ${interval}s in the tray, no window yet" >&2
measure "tray only"

"$bin" "${args[@]}" >>"$work/second.log" 2>&1 # asks the first to show its window
win=
for _ in $(seq 200); do
	win=$(windowVisible)
	[[ -n $win ]] && break
	sleep 0.05
done
[[ -n $win ]] || {
	echo "bench-idle: the settings window did not show; the app's log:" >&2
	tail -n 30 "$work/app.log" >&2
	exit 1
}
sleep "$settle"
echo "==> ${interval}s with the settings window open" >&2
measure "settings window open"

"$work/wmclose" "$win"
for _ in $(seq 200); do
	[[ -z $(windowVisible) ]] && break
	sleep 0.05
done
[[ -z $(windowVisible) ]] || {
	echo "bench-idle: the settings window did not close" >&2
	exit 1
}
sleep "$settle"
echo "==> ${interval}s after the window was closed" >&2
measure "window closed again"
quit

echo
echo "launch to listening: best of $launches warm launches ${best} ms (first: ${first} ms)"
printf "%-26s %9s %10s %6s\n" "state (${interval}s each)" "CPU %core" "RSS MiB" "procs"
printf "%s\n" "${rows[@]}"
