#!/usr/bin/env bash
# bench/w2/run.sh: W2 of issue 6. Requests/s and p99 of
# POST /call/{project}/{flow} (a sync flow: map, then respond) with an HS256
# and then an ES256 JWT, against a bare net/http handler that decodes and
# answers the same JSON (bench/w2/bare), in the same run, under wrk on
# 127.0.0.1. Every call is a run: after the load the script stops sluice
# and counts the runs in its SQLite file against the 200s wrk saw.
#
#   bash bench/w2/run.sh
#   DURATION=5s ROUNDS=1 bash bench/w2/run.sh      # quicker
#   PROFILE=1 bash bench/w2/run.sh                  # also perf record sluice
#
# Settings (env):
#
#   DURATION=10s     each measured wrk run
#   WARMUP=2s        warm-up of each target before the rounds
#   ROUNDS=2         rounds, each measuring bare, then HS256, then ES256
#   THREADS=2        wrk threads
#   CONNECTIONS=32   wrk connections
#   LOG_LEVEL=info   sluice --log-level (info logs one line per request)
#   PROFILE=0        1: one more HS256 and ES256 run each under
#                    `perf record -g` on sluice, top functions printed
#   KEEP=0           1 keeps the temporary directory (logs, wrk output)
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
LOG_LEVEL=${LOG_LEVEL:-info}
PROFILE=${PROFILE:-0}
KEEP=${KEEP:-0}

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$(pwd)

BENCH=bench/w2
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# --- tools ----------------------------------------------------------------

need_wrk_and_time
for tool in curl go pgrep awk jq sqlite3; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is needed (jq reads API answers, sqlite3 counts the runs in sluice's database)"
done
if [ "$PROFILE" = 1 ]; then
	command -v perf >/dev/null 2>&1 || die "PROFILE=1 needs perf (Debian package linux-perf)"
fi

# --- clean-up -------------------------------------------------------------

bench_tmp sluice-w2

# --- helpers --------------------------------------------------------------

# api METHOD PATH [BODY]: an API call with the bench's API key; the answer
# on stdout, and a failure with the answer when the status is not 2xx.
api() {
	local out
	out=$(curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $KEY" \
		-H 'Content-Type: application/json' ${3:+--data-binary "$3"} "$BASE$2") ||
		die "$1 $2 failed: $out"
	printf '%s' "$out"
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b+0 > 0) printf "%.2f", a/b; else print "n/a"}'; }

# OK200[NAME]: the 200s each target answered, warm-ups and checks included
# (every one of them made a run).
declare -A OK200=([bare]=0 [HS256]=0 [ES256]=0)

# load NAME FILE URL AUTH ARGS...: a wrk run of call.lua against URL with
# Authorization AUTH, output in FILE; its 200s are added to OK200[NAME].
#
# It also keeps the CPU time the server spent during the run (user +
# system, /proc/PID/stat) in FILE.cpu, in seconds.
load() {
	local name=$1 file=$2 url=$3 auth=$4 pid t0
	shift 4
	pid=$SLUICE_PID
	[ "$name" != bare ] || pid=$BARE_PID
	t0=$(cpu_ticks "$pid")
	W2_AUTH=$auth wrk --latency -t"$THREADS" -c"$CONNECTIONS" -s "$ROOT/bench/w2/call.lua" "$@" "$url" \
		>"$file" 2>&1 || {
		cat "$file" >&2
		die "wrk against $name failed"
	}
	OK200[$name]=$((OK200[$name] + $(wrk_status "$file" 200)))
	awk -v t="$(($(cpu_ticks "$pid") - t0))" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f\n", t/hz}' >"$file.cpu"
}

# cpu_ticks PID: user + system CPU time of a live process, in clock ticks.
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# cpu_fig FILE: "C cores, U µs CPU a request" of a measured run.
cpu_fig() {
	awk -v c="$(cat "$1.cpu")" -v n="$(awk '/requests in/ {print $1}' "$1")" -v rps="$(wrk_rps "$1")" \
		'BEGIN {if (n > 0 && rps > 0) printf "%.2f cores, %4.0f µs CPU a request", c/(n/rps), c/n*1e6; else print "n/a"}'
}

# --- build ----------------------------------------------------------------

say "== building into $TMP/bin"
mkdir -p "$TMP/bin" "$TMP/data"
go build -o "$TMP/bin/sluice" ./cmd/sluice
go build -o "$TMP/bin/bare" ./bench/w2/bare
go build -o "$TMP/bin/mint" ./bench/w2/mint

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')

# --- servers --------------------------------------------------------------

say "== starting the bare net/http baseline and sluice serve on loopback"
start_servers
say "    sluice $BASE (pid $SLUICE_PID), bare $BARE_URL"

# --- account, API key, project, flow --------------------------------------------

bench_login
bench_api_key w2

say "== project W2, pipe calls, sync flow create-order (map, respond), enabled"
PID_=$(api POST /api/v1/projects '{"name":"W2"}' | jq -er .id)
PIPE=$(api POST "/api/v1/projects/$PID_/pipes" '{"name":"calls"}' | jq -er .id)
FLOW_DEF='{"definition":{"name":"create-order","trigger":{"dynamic":{"mode":"sync"}},"entity_id":".order_no","steps":[{"map":"{order_no, qty: (.lines | map(.qty) | add)}"},{"respond":"{status: \"accepted\", order_no, qty}"}]}}'
FLOW=$(api POST "/api/v1/projects/$PID_/pipes/$PIPE/flows" "$FLOW_DEF" | jq -er .id)
api POST "/api/v1/projects/$PID_/pipes/$PIPE/flows/$FLOW/enable" >/dev/null
CALL_URL="$BASE/call/$PID_/$FLOW"

# The consumers: one per algorithm, with a rate limit (the most the API
# takes) far above what the machine can answer, so it never throttles.
declare -A TOKEN
for alg in HS256 ES256; do
	"$TMP/bin/mint" -alg "$alg" -dir "$TMP" || die "mint -alg $alg failed"
	name="w2-${alg,,}"
	api POST "/api/v1/projects/$PID_/consumers" \
		"{\"name\":\"$name\",\"flows\":[\"$FLOW\"],\"rate_limit\":{\"per_second\":100000,\"burst\":100000},\"auth\":$(cat "$TMP/auth-$alg.json")}" \
		>/dev/null
	TOKEN[$alg]="Bearer $(cat "$TMP/token-$alg")"
	say "    consumer $name ($alg)"
done

# One call each, answers compared.
BODY=$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$ROOT/bench/w2/call.lua")
WANT='{"status":"accepted","order_no":"SO-1001","qty":6}'
check() {
	local got
	got=$(curl -sS --fail-with-body -H 'Content-Type: application/json' ${2:+-H "Authorization: $2"} \
		--data-binary "$BODY" "$1") || die "the check call to $1 failed: $got"
	[ "$(jq -cS . <<<"$got")" = "$(jq -cS . <<<"$WANT")" ] || die "the answer of $1 is $got, want $WANT"
}
check "$BARE_URL/"
OK200[bare]=$((OK200[bare] + 1))
for alg in HS256 ES256; do
	check "$CALL_URL" "${TOKEN[$alg]}"
	OK200[$alg]=$((OK200[$alg] + 1))
done
say "    all three answer $WANT"

# --- load -------------------------------------------------------------------

say "== warm-up ($WARMUP each)"
load bare "$TMP/warm-bare.txt" "$BARE_URL/" "" -d"$WARMUP"
for alg in HS256 ES256; do
	load "$alg" "$TMP/warm-$alg.txt" "$CALL_URL" "${TOKEN[$alg]}" -d"$WARMUP"
done

# Rounds alternate the targets, so a change in the machine's other load
# during the run shows up in every figure rather than in one.
for ((r = 1; r <= ROUNDS; r++)); do
	say "== round $r/$ROUNDS: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s bench/w2/call.lua"
	load bare "$TMP/wrk-bare-$r.txt" "$BARE_URL/" "" -d"$DURATION"
	for alg in HS256 ES256; do
		load "$alg" "$TMP/wrk-$alg-$r.txt" "$CALL_URL" "${TOKEN[$alg]}" -d"$DURATION"
	done
	for t in bare HS256 ES256; do
		f=$TMP/wrk-$t-$r.txt
		say "    $t: $(wrk_rps "$f") req/s, p50 $(wrk_pct "$f" 50%), p99 $(wrk_pct "$f" 99%)"
	done
done
RSS_AFTER_LOAD=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$SLUICE_PID/status" 2>/dev/null || echo 0)

if [ "$PROFILE" = 1 ]; then
	for alg in HS256 ES256; do
		say "== profile: perf record -g on sluice during a $DURATION $alg run"
		perf record -F 499 -g -o "$TMP/perf-$alg.data" -p "$SLUICE_PID" >/dev/null 2>"$TMP/perf-$alg.err" &
		PERF_PID=$!
		PIDS+=("$PERF_PID")
		sleep 0.5
		load "$alg" "$TMP/prof-$alg.txt" "$CALL_URL" "${TOKEN[$alg]}" -d"$DURATION"
		kill -INT "$PERF_PID"
		wait "$PERF_PID" || true
		# Where the CPU went, by part of a call (bench/w2/profile.awk); the
		# inclusive report of every function stays in perf-ALG-all.txt.
		perf script -i "$TMP/perf-$alg.data" -F comm,tid,ip,sym 2>/dev/null |
			awk -f "$ROOT/bench/w2/profile.awk" >"$TMP/perf-$alg.txt" || true
		perf report -i "$TMP/perf-$alg.data" --children --sort symbol --stdio -g none \
			>"$TMP/perf-$alg-all.txt" 2>/dev/null || true
	done
fi

# --- runs recorded -------------------------------------------------------------

say "== stopping sluice with SIGTERM, then counting its runs"
curl -fsS "$BASE/metrics" >"$TMP/metrics.txt" || true
kill -TERM "$SLUICE_PID"
SLUICE_EXIT=0
wait "$TIME_PID" || SLUICE_EXIT=$?
kill -TERM "$BARE_PID" 2>/dev/null || true
wait "$BARE_TIME_PID" || true

DB="$TMP/data/sluice.db"
[ -f "$DB" ] || die "no SQLite database at $DB"
sqlite3 -readonly "$DB" "SELECT triggered_by, status, count(*), sum(read_count), sum(succeeded_count), sum(failed_count), sum(skipped_count) FROM runs WHERE trigger_kind = 'dynamic' GROUP BY 1, 2 ORDER BY 1, 2" \
	>"$TMP/runs.txt"
runs_of() { awk -F'|' -v c="$1" -v s="$2" '$1 == c && (s == "" || $2 == s) {n += $3} END {printf "%d", n}' "$TMP/runs.txt"; }
runs_other() { awk -F'|' -v c="$1" '$1 == c && $2 != "completed" {printf "%s%s %d", sep, $2, $3; sep=", "}' "$TMP/runs.txt"; }

PEAK_SLUICE=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time-sluice.txt")
PEAK_BARE=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time-bare.txt")
LOG_ERRORS=$(grep -c 'level=ERROR' "$TMP/sluice.log" || true)
LOG_WARNS=$(grep -c 'level=WARN' "$TMP/sluice.log" || true)
# call_count STATUS: POST /call answers with STATUS ("" for all) from /metrics.
call_count() { awk -v s="$1" '/^sluice_http_requests_total\{/ && /route="POST \/call\// && (s == "" || index($0, "status=\"" s "\"")) {n += $NF} END {printf "%d", n}' "$TMP/metrics.txt"; }
CALL_200=$(call_count 200)
CALL_499=$(call_count 499)
CALL_OTHER=$(($(call_count "") - CALL_200 - CALL_499))

# --- summary ----------------------------------------------------------------

mean_rps() { cat "$TMP/wrk-$1"-*.txt | awk '/^Requests\/sec:/ {s += $2; n++} END {if (n) printf "%.0f", s/n}'; }
sum_others() {
	local f out=""
	for f in "$TMP/wrk-$1"-*.txt "$TMP/warm-$1.txt"; do
		o=$(wrk_others "$f")
		[ -z "$o" ] || out="$out${out:+; }$(basename "$f" .txt): $o"
	done
	echo "${out:-none}"
}
sum_sockerr() {
	local f out=""
	for f in "$TMP/wrk-$1"-*.txt; do
		e=$(wrk_sockerr "$f")
		[ "$e" = none ] || out="$out${out:+; }$(basename "$f" .txt): $e"
	done
	echo "${out:-none}"
}
BARE_RPS=$(mean_rps bare)
{
	echo
	echo "================ W2: POST /call (JWT, map, respond, sync) vs a bare net/http handler ================"
	echo "date:    $STARTED   ($(nproc) CPUs, $(go env GOVERSION), $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}'), load average before: $LOAD_BEFORE)"
	echo "load:    wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, $ROUNDS rounds (bare, HS256, ES256 in turn); sluice --log-level $LOG_LEVEL, SQLite"
	for ((r = 1; r <= ROUNDS; r++)); do
		b=$TMP/wrk-bare-$r.txt
		line=$(printf 'round %d: bare %7.0f req/s (p99 %s)' "$r" "$(wrk_rps "$b")" "$(wrk_pct "$b" 99%)")
		for alg in HS256 ES256; do
			f=$TMP/wrk-$alg-$r.txt
			line="$line$(printf '   %s %7.0f req/s (p99 %s) ratio %s' "$alg" "$(wrk_rps "$f")" "$(wrk_pct "$f" 99%)" "$(ratio "$(wrk_rps "$f")" "$(wrk_rps "$b")")")"
		done
		echo "$line"
	done
	for alg in HS256 ES256; do
		a=$(mean_rps "$alg")
		printf 'mean %s: sluice %7.0f req/s   bare %7.0f req/s   ratio %s   (goal >= 0.60, p99 < 10 ms)\n' \
			"$alg" "$a" "$BARE_RPS" "$(ratio "$a" "$BARE_RPS")"
	done
	echo "per run: latency p50 / p90 / p99; the server's CPU (of $(nproc) cores, wrk runs on the same machine)"
	for f in "$TMP"/wrk-*-*.txt; do
		printf '   %-9s %8s / %8s / %8s   %s\n' "$(basename "$f" .txt | sed 's/^wrk-//')" "$(wrk_pct "$f" 50%)" "$(wrk_pct "$f" 90%)" "$(wrk_pct "$f" 99%)" "$(cpu_fig "$f")"
	done
	echo "errors:  answers other than 200: bare $(sum_others bare); HS256 $(sum_others HS256); ES256 $(sum_others ES256)"
	echo "         socket errors: bare $(sum_sockerr bare); HS256 $(sum_sockerr HS256); ES256 $(sum_sockerr ES256)"
	for alg in HS256 ES256; do
		name="w2-${alg,,}"
		o=$(runs_other "$name")
		printf 'runs %s: %d recorded, %d completed%s; wrk and curl saw %d answers 200\n' "$alg" \
			"$(runs_of "$name" "")" "$(runs_of "$name" completed)" "${o:+, $o}" "${OK200[$alg]}"
	done
	ALL_RUNS=$(awk -F'|' '{n += $3} END {printf "%d", n}' "$TMP/runs.txt")
	ALL_WRK=$((OK200[HS256] + OK200[ES256]))
	printf 'runs all: %d recorded; POST /call answers by sluice (/metrics): %d × 200, %d × 499, %d other\n' \
		"$ALL_RUNS" "$CALL_200" "$CALL_499" "$CALL_OTHER"
	printf '          runs - 200s sluice sent = %+d; 200s sluice sent - 200s wrk read = %+d (answers in flight when wrk stopped)\n' \
		"$((ALL_RUNS - CALL_200))" "$((CALL_200 - ALL_WRK))"
	echo "          (a 499 is a call whose caller closed the connection when its wrk run ended: its run"
	echo "          completes and is recorded when the flow had started, and is not when it had not)"
	echo "peak RSS: sluice $(mib "$PEAK_SLUICE") ($(mib "$RSS_AFTER_LOAD") after the measured load)   bare $(mib "$PEAK_BARE")   (time -v)"
	echo "server:  log ERROR $LOG_ERRORS, WARN $LOG_WARNS; exit status after SIGTERM: $SLUICE_EXIT"
	if [ "$PROFILE" = 1 ]; then
		for alg in HS256 ES256; do
			echo "profile $alg ($(wrk_rps "$TMP/prof-$alg.txt") req/s under perf record -F 499 -g): sluice's CPU samples by part of a call"
			cat "$TMP/perf-$alg.txt"
		done
	fi
	echo "======================================================================================================"
} | tee "$TMP/summary.txt"

if [ "$LOG_ERRORS" -gt 0 ] || [ "$LOG_WARNS" -gt 0 ]; then
	say
	say "distinct WARN/ERROR log messages:"
	grep -E 'level=(ERROR|WARN)' "$TMP/sluice.log" | sed -E 's/^time=[^ ]+ //; s/request_id=[^ ]+ //' |
		sort | uniq -c | sort -rn | head -n 10 >&2
fi
