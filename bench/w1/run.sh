#!/usr/bin/env bash
# bench/w1/run.sh: W1 (issue 5, Measure): N order records of about 400
# bytes as NDJSON,
#   1. copied by the minimal Go loop of bench/w1/baseline (bufio +
#      encoding/json into map[string]any and back, no transform), and
#   2. run through Sluice as a real run (bench/w1/flowrun: the W1 flow,
#      file -> map -> file, stored in a fresh SQLite store and executed by
#      the run worker's code, counters written to the run row every second
#      and at the end; replace mode with fsync and rename),
# each under /usr/bin/time -v, in alternating rounds in the same run. It
# prints records/s, the ratio, and the peak RSS of each. See bench/README.md.
#
#   bash bench/w1/run.sh                       # 1 million records (about 2 min)
#   N=10000000 ROUNDS=1 bash bench/w1/run.sh   # 10 million (about 10 min, 9 GB of disk)
#
# Settings (env):
#   N=1000000   records
#   SEED=1      generator seed (same N and SEED: same bytes)
#   ROUNDS=2    rounds, each baseline then the run
#   KEEP=0      1 keeps the temporary directory
set -euo pipefail

N=${N:-1000000}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-2}
KEEP=${KEEP:-0}

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

say() { printf '%s\n' "$*" >&2; }
die() {
	say "bench/w1: $*"
	exit 1
}

[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time, Debian package 'time') is needed for peak RSS"
command -v go >/dev/null 2>&1 || die "go is needed"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-w1.XXXXXX")
ok=0
cleanup() {
	if [ "$KEEP" = 1 ] || [ "$ok" = 0 ]; then
		say "bench/w1: kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT

need=$((N * 900 / 1000000)) # MB: the input, its copy and the mapped output, with room
avail=$(df -Pm "$TMP" | awk 'NR==2 {print $4}')
[ "$avail" -gt "$need" ] || die "$TMP has $avail MB free; $N records need about $need MB"

say "bench/w1: building..."
go build -o "$TMP/bin/" ./bench/w1/gen ./bench/w1/baseline ./bench/w1/flowrun

FILES=$TMP/files
mkdir -m 0700 "$FILES"
say "bench/w1: generating $N records..."
"$TMP/bin/gen" -n "$N" -seed "$SEED" -o "$FILES/in.ndjson"
size=$(stat -c %s "$FILES/in.ndjson")
cat "$FILES/in.ndjson" >/dev/null # both start from the page cache

# measure NAME CMD...: runs CMD under time -v; sets REC_S, RSS_KB, LINE.
measure() {
	local name=$1
	shift
	/usr/bin/time -v "$@" >"$TMP/$name.out" 2>"$TMP/$name.time" || {
		cat "$TMP/$name.out" "$TMP/$name.time" >&2
		die "$name failed"
	}
	LINE=$(cat "$TMP/$name.out")
	REC_S=$(sed -n 's/.*records_per_s=\([0-9]*\).*/\1/p' "$TMP/$name.out")
	RSS_KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/$name.time")
}

declare -a base_rs sl_rs base_rss sl_rss
for r in $(seq 1 "$ROUNDS"); do
	rm -rf "$FILES/out.baseline.ndjson" "$FILES/out.ndjson" "$TMP/data"
	mkdir -m 0700 "$TMP/data"
	say "bench/w1: round $r: baseline..."
	measure "baseline-$r" "$TMP/bin/baseline" "$FILES/in.ndjson" "$FILES/out.baseline.ndjson"
	base_rs+=("$REC_S")
	base_rss+=("$RSS_KB")
	say "  $LINE"
	say "bench/w1: round $r: the W1 flow as a run..."
	measure "sluice-$r" "$TMP/bin/flowrun" -files-dir "$FILES" -data-dir "$TMP/data"
	sl_rs+=("$REC_S")
	sl_rss+=("$RSS_KB")
	say "  $LINE"
done
lines=$(wc -l <"$FILES/out.ndjson")
[ "$lines" -eq "$N" ] || die "the run wrote $lines records, not $N"

mean() { printf '%s\n' "$@" | awk '{s+=$1} END {printf "%.0f", s/NR}'; }
max() { printf '%s\n' "$@" | sort -n | tail -1; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }

echo "================ W1: NDJSON -> map -> NDJSON, a real run vs the minimal loop ================"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')   ($(nproc) CPUs, $(go env GOVERSION), load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "input:   $N records, $((size / 1024 / 1024)) MiB NDJSON ($((size / N)) bytes a record), seed $SEED"
for r in $(seq 1 "$ROUNDS"); do
	i=$((r - 1))
	printf 'round %d: baseline %8s records/s   sluice run %8s records/s   ratio %s\n' "$r" "${base_rs[$i]}" "${sl_rs[$i]}" \
		"$(awk -v a="${sl_rs[$i]}" -v b="${base_rs[$i]}" 'BEGIN {printf "%.2f", a/b}')"
done
mb=$(mean "${base_rs[@]}")
ms=$(mean "${sl_rs[@]}")
printf 'mean:    baseline %8s records/s   sluice run %8s records/s   ratio %s\n' "$mb" "$ms" "$(awk -v a="$ms" -v b="$mb" 'BEGIN {printf "%.2f", a/b}')"
echo "peak RSS: baseline $(mib "$(max "${base_rss[@]}")") MiB   sluice run $(mib "$(max "${sl_rss[@]}")") MiB   (Maximum resident set size, time -v)"
echo "the run, last round: $(sed -n 's/.*\(status=.*\)/\1/p' "$TMP/sluice-$ROUNDS.out"); output lines: $lines"
echo "============================================================================================="
ok=1
