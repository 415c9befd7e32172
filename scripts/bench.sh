#!/usr/bin/env bash
# bench.sh runs the end-to-end benchmarks (e2e/bench_test.go): one
# large random layer pulled directly from the fake hub, then through a cold
# mirror, a cold mirror with 16 concurrent clients, and a warm mirror.
#
#   scripts/bench.sh [-s MiB] [-n COUNT] [go test flags...]
#
#   -s MiB    layer size (default $HUBMIRROR_BENCH_SIZE, else 1024)
#   -n COUNT  runs of each benchmark, for benchstat (default 1)
#
# The raw go test output is saved under .cache/bench/ in the format
# benchstat reads (compare two runs with: benchstat OLD NEW); a summary table
# follows it.
set -euo pipefail

size=${HUBMIRROR_BENCH_SIZE:-1024}
count=1
while getopts "s:n:h" opt; do
	case $opt in
	s) size=$OPTARG ;;
	n) count=$OPTARG ;;
	h)
		sed -n '2,13s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/deps.sh

out_dir=$root/.cache/bench
mkdir -p "$out_dir"
out=$out_dir/bench-$(date -u +%Y%m%dT%H%M%SZ)-${size}MiB.txt

echo "==> benchmarks with a ${size} MiB layer, count $count" >&2
# The mirror logs to stderr; keep only go test's report.
HUBMIRROR_BENCH_SIZE=$size go test ./e2e -run '^$' -bench . -benchtime 1x \
	-count "$count" -timeout 0 "$@" 2>/dev/null | tee "$out"

echo
awk '
	/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		secs = ""; mbs = ""; rss = ""; up = ""
		for (i = 3; i < NF; i++) {
			if ($(i + 1) == "ns/op") secs = sprintf("%.2f", $i / 1e9)
			if ($(i + 1) == "MB/s") mbs = $i
			if ($(i + 1) == "peak-RSS-MiB") rss = $i
			if ($(i + 1) == "upstream-bytes/layer") up = sprintf("%.2f", $i)
		}
		rows[++n] = sprintf("%-24s %8s %10s %14s %22s", name, secs, mbs, rss, up)
	}
	END {
		if (n == 0) exit 1
		printf "%-24s %8s %10s %14s %22s\n", "benchmark", "seconds", "MB/s", "peak-RSS-MiB", "upstream-bytes/layer"
		for (i = 1; i <= n; i++) print rows[i]
	}
' "$out"
echo
echo "raw results (benchstat format): $out"
if command -v benchstat >/dev/null 2>&1; then
	benchstat "$out"
else
	echo "for statistics: go install golang.org/x/perf/cmd/benchstat@latest && benchstat $out"
fi
