#!/usr/bin/env bash
# bench/w4/run.sh: W4 (issue 5, Measure): a paginated HTTP API on loopback
# (bench/w4/api: pages of 500 orders of about 400 bytes, every EVERY'th
# page answering 429 with Retry-After: 1 the first time), read
#   1. by the bare loop of bench/w4/bare (fetch and decode every page,
#      waiting out the 429s, nothing else), and
#   2. by `sluice run bench/w4/flow.yaml` (http read, page style, 500 a
#      page -> map -> http write of batches of 500 to the same API's
#      /sink, which counts the records it gets by id),
# each under /usr/bin/time -v, in rounds in the same run: first with the
# 429s (the issue's figure), then a round without any (EVERY=0), where
# only the work counts. It prints records/s of both, the ratio, the peak
# RSS of each, and fails unless the sink got every record exactly once
# and the run's succeeded counter says N. See bench/README.md.
#
#   bash bench/w4/run.sh                 # 500 000 records (about 2 min)
#   N=100000 ROUNDS=1 bash bench/w4/run.sh
#
# Settings (env):
#   N=500000   records the API serves (1000 pages of 500)
#   EVERY=50   every EVERY'th page answers 429 once (20 per 500 000)
#   ROUNDS=2   rounds with the 429s, each the bare loop then sluice run
#   CLEAN=1    1 adds a round without 429s (0: none)
#   KEEP=0     1 keeps the temporary directory
set -euo pipefail

N=${N:-500000}
EVERY=${EVERY:-50}
ROUNDS=${ROUNDS:-2}
CLEAN=${CLEAN:-1}
KEEP=${KEEP:-0}

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

say() { printf '%s\n' "$*" >&2; }
die() {
	say "bench/w4: $*"
	exit 1
}

[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time, Debian package 'time') is needed for peak RSS"
command -v go >/dev/null 2>&1 || die "go is needed"
command -v curl >/dev/null 2>&1 || die "curl is needed"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-w4.XXXXXX")
ok=0
API_PID=
cleanup() {
	if [ -n "$API_PID" ]; then
		kill "$API_PID" 2>/dev/null || true
		wait "$API_PID" 2>/dev/null || true
	fi
	if [ "$KEEP" = 1 ] || [ "$ok" = 0 ]; then
		say "bench/w4: kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT

say "bench/w4: building..."
go build -o "$TMP/bin/" ./cmd/sluice ./bench/w4/api ./bench/w4/bare

# start_api EVERY: starts the API (127.0.0.1, a free port); sets BASE.
start_api() {
	if [ -n "$API_PID" ]; then
		kill "$API_PID" && wait "$API_PID" 2>/dev/null || true
	fi
	rm -f "$TMP/addr"
	"$TMP/bin/api" -n "$N" -every "$1" -addr-file "$TMP/addr" >"$TMP/api.log" 2>&1 &
	API_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$TMP/addr" ] && break
		kill -0 "$API_PID" 2>/dev/null || die "the API did not start: $(cat "$TMP/api.log")"
		sleep 0.1
	done
	[ -s "$TMP/addr" ] || die "the API did not start in 10 s"
	BASE=$(cat "$TMP/addr")
	case "$BASE" in http://127.0.0.1:*) ;; *) die "the API is not on 127.0.0.1: $BASE" ;; esac
	# The connection sluice run uses; no secret, so nothing from the env.
	printf 'api:\n  kind: http\n  settings: {base_url: "%s"}\n' "$BASE" >"$TMP/connections.yaml"
}

stat_of() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$TMP/stats.json"; }
get_stats() { curl -fsS "$BASE/stats" >"$TMP/stats.json"; }
reset_api() { curl -fsS -X POST "$BASE/reset" >/dev/null; }
rss_kb() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }

# bare NAME: the bare loop; sets REC_S, RSS_KB, THROTTLED.
bare() {
	reset_api
	/usr/bin/time -v -o "$TMP/$1.time" "$TMP/bin/bare" -base "$BASE" >"$TMP/$1.out" 2>&1 || {
		cat "$TMP/$1.out" "$TMP/$1.time" >&2
		die "the bare loop failed"
	}
	local got
	got=$(sed -n 's/.*records=\([0-9]*\).*/\1/p' "$TMP/$1.out")
	[ "$got" = "$N" ] || die "the bare loop read $got records, not $N"
	REC_S=$(sed -n 's/.*records_per_s=\([0-9]*\).*/\1/p' "$TMP/$1.out")
	RSS_KB=$(rss_kb "$TMP/$1.time")
	get_stats
	THROTTLED=$(stat_of throttled)
	say "  bare:  $(cat "$TMP/$1.out")"
}

# sluice NAME: sluice run on the flow; checks that nothing was lost; sets
# REC_S, RSS_KB, THROTTLED, SUMMARY.
sluice() {
	reset_api
	local rc=0
	/usr/bin/time -v -o "$TMP/$1.time" "$TMP/bin/sluice" run bench/w4/flow.yaml \
		--connections "$TMP/connections.yaml" --egress-allow 127.0.0.0/8 >"$TMP/$1.out" 2>"$TMP/$1.err" || rc=$?
	SUMMARY=$(grep '^run ' "$TMP/$1.err" || true)
	[ "$rc" = 0 ] || {
		cat "$TMP/$1.err" >&2
		die "sluice run exited $rc"
	}
	local succeeded
	succeeded=$(sed -n 's/^run completed: [0-9]* read, \([0-9]*\) succeeded, 0 failed, 0 skipped.*/\1/p' "$TMP/$1.err")
	REC_S=$(sed -n 's/^run .*(\([0-9]*\) records\/s)$/\1/p' "$TMP/$1.err")
	RSS_KB=$(rss_kb "$TMP/$1.time")
	get_stats
	THROTTLED=$(stat_of throttled)
	local received distinct dups strays
	received=$(stat_of received)
	distinct=$(stat_of distinct)
	dups=$(stat_of duplicates)
	strays=$(stat_of strays)
	say "  sluice: $SUMMARY"
	say "          sink: $(cat "$TMP/stats.json")"
	[ "$succeeded" = "$N" ] || die "the run's succeeded counter is '$succeeded', not $N: $SUMMARY"
	[ "$distinct" = "$N" ] || die "the sink got $distinct distinct records of $N ($received in all): records were lost"
	[ "$received" = "$N" ] && [ "$dups" = 0 ] && [ "$strays" = 0 ] ||
		die "the sink got $received records for $N ($dups duplicates, $strays strays)"
	LOSS="sink got $received records, $distinct distinct ids of $N, $dups duplicates; run succeeded $succeeded"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
mean() { printf '%s\n' "$@" | awk '{s+=$1} END {printf "%.0f", s/NR}'; }
max() { printf '%s\n' "$@" | sort -n | tail -1; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }

load=$(cut -d' ' -f1-3 /proc/loadavg)
declare -a lines base_rs sl_rs base_rss sl_rss
start_api "$EVERY"
for r in $(seq 1 "$ROUNDS"); do
	say "bench/w4: round $r (429 on every ${EVERY}th page once)..."
	bare "bare-$r"
	b=$REC_S bt=$THROTTLED
	base_rs+=("$b")
	base_rss+=("$RSS_KB")
	sluice "sluice-$r"
	sl_rs+=("$REC_S")
	sl_rss+=("$RSS_KB")
	lines+=("$(printf 'round %d: bare %7s records/s (%s × 429)   sluice run %7s records/s (%s × 429)   ratio %s' \
		"$r" "$b" "$bt" "$REC_S" "$THROTTLED" "$(ratio "$REC_S" "$b")")")
done
mb=$(mean "${base_rs[@]}")
ms=$(mean "${sl_rs[@]}")
if [ "$CLEAN" = 1 ]; then
	say "bench/w4: a round without 429s..."
	start_api 0
	bare "bare-clean"
	cb=$REC_S
	base_rss+=("$RSS_KB")
	sluice "sluice-clean"
	cs=$REC_S
	sl_rss+=("$RSS_KB")
fi

echo "================ W4: HTTP pages -> map -> batched HTTP write, sluice run vs the bare loop ================"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')   ($(nproc) CPUs, $(go env GOVERSION), load average before: $load)"
echo "API:     $N orders in pages of 500 ($(curl -fsS "$BASE/orders?page=1&per_page=500" | wc -c) bytes a page), on 127.0.0.1"
for l in "${lines[@]}"; do echo "$l"; done
printf 'mean:    bare %7s records/s   sluice run %7s records/s   ratio %s   (goal >= 0.80)\n' "$mb" "$ms" "$(ratio "$ms" "$mb")"
if [ "$CLEAN" = 1 ]; then
	printf 'no 429s: bare %7s records/s   sluice run %7s records/s   ratio %s\n' "$cb" "$cs" "$(ratio "$cs" "$cb")"
fi
echo "peak RSS: bare $(mib "$(max "${base_rss[@]}")") MiB   sluice run $(mib "$(max "${sl_rss[@]}")") MiB   (Maximum resident set size, time -v)"
echo "last run: $SUMMARY"
echo "no record lost: $LOSS"
echo "=========================================================================================================="
ok=1
