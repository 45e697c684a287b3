#!/usr/bin/env bash
# bench/console/run.sh: the web console's pages under wrk, logged in with a
# session cookie, against the cost of serving a static file through the
# same server and middleware (/static/console.css), measured in the same
# run. See bench/README.md ("Console pages") for what each figure means.
#
# A project with one pipe and one file flow (ten orders, two refused) is
# filled with RUNS real runs started through the API (POST .../runs) and
# worked by sluice's own worker, so the dashboard, the runs list and a
# run's page read what a busy project holds. Then each page is loaded in
# turn: the dashboard, the runs list, a run's page, the flow editor, the
# members page and the baseline.
#
#   bash bench/console/run.sh
#   RUNS=1000 DURATION=5s ROUNDS=1 bash bench/console/run.sh     # quicker
#
# Settings (env):
#
#   RUNS=5000        runs of the flow started through the API before the load
#   DURATION=10s     each measured wrk run
#   WARMUP=2s        warm-up of each page before the rounds
#   ROUNDS=2         rounds, each measuring every page in turn
#   THREADS=2        wrk threads
#   CONNECTIONS=16   wrk connections
#   TIMEOUT=10s      wrk --timeout: an answer slower than this is a socket
#                    error, and any socket error fails the run
#   LOG_LEVEL=info   sluice --log-level (info logs one line per request)
#   KEEP=0           1 keeps the temporary directory (logs, wrk output)
set -euo pipefail

RUNS=${RUNS:-5000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
TIMEOUT=${TIMEOUT:-10s}
LOG_LEVEL=${LOG_LEVEL:-info}
KEEP=${KEEP:-0}

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$(pwd)

BENCH=bench/console
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# --- tools ----------------------------------------------------------------

need_wrk_and_time
for tool in curl go pgrep awk jq sqlite3; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is needed (jq reads API answers, sqlite3 counts the runs in sluice's database)"
done
[[ $RUNS =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] || die "RUNS=$RUNS: want a whole number of runs, at least 1"

# --- clean-up -------------------------------------------------------------

bench_tmp sluice-console

# --- helpers --------------------------------------------------------------

# api METHOD PATH [BODY]: an API call with the session (cookie jar, CSRF
# token, Origin); the answer on stdout, a failure with the answer when the
# status is not 2xx.
api() {
	local out
	out=$(curl -sS --fail-with-body -X "$1" -b "$TMP/cookies.txt" -H "X-CSRF-Token: $CSRF" -H "Origin: $BASE" \
		-H 'Content-Type: application/json' ${3:+--data-binary "$3"} "$BASE$2") ||
		die "$1 $2 failed: $out"
	printf '%s' "$out"
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b+0 > 0) printf "%.4f", a/b; else print "n/a"}'; }
# ms DURATION: a wrk latency (e.g. 812.00us, 3.41ms, 1.02s) in ms.
ms() { awk -v d="$1" 'BEGIN {v = d + 0; if (d ~ /us$/) v /= 1000; else if (d ~ /ms$/) v += 0; else if (d ~ /m$/) v *= 60000; else if (d ~ /s$/) v *= 1000; printf "%.2f", v}'; }
# proc_kib FIELD: a field of sluice's /proc/PID/status in KiB (VmRSS, VmHWM).
proc_kib() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$SLUICE_PID/status" 2>/dev/null || echo 0; }

# load NAME FILE MIN ARGS...: a wrk run of get.lua against PAGE[NAME],
# output in FILE; fails unless every request was answered, with a 200,
# and at least MIN were (a warm-up of a slow page on a busy machine may
# end before its first answer: requests in flight when wrk stops are not
# counted).
load() {
	local name=$1 file=$2 min=$3
	shift 3
	CONSOLE_COOKIE=$COOKIE wrk --latency -t"$THREADS" -c"$CONNECTIONS" --timeout "$TIMEOUT" -s "$ROOT/bench/console/get.lua" "$@" \
		"$BASE${PAGE[$name]}" >"$file" 2>&1 || {
		cat "$file" >&2
		die "wrk against $name (${PAGE[$name]}) failed"
	}
	local ok others
	ok=$(wrk_status "$file" 200)
	others=$(wrk_others "$file")
	if [ -n "$others" ] || [ "$ok" -lt "$min" ]; then
		cat "$file" >&2
		die "$name (${PAGE[$name]}) answered something else than 200 under wrk: ${others:-no 200 at all} (a 303 means the session cookie was not sent or the session ended)"
	fi
	others=$(wrk_sockerr "$file")
	if [ "$others" != none ]; then
		cat "$file" >&2
		die "$name (${PAGE[$name]}) under wrk: socket errors $others (a timeout is an answer slower than TIMEOUT=$TIMEOUT)"
	fi
}

# --- build ----------------------------------------------------------------

say "== building into $TMP/bin"
mkdir -p "$TMP/bin" "$TMP/data"
go build -o "$TMP/bin/sluice" ./cmd/sluice
# start_servers (bench/lib.sh) starts the bare server too; its peak RSS is
# the memory baseline.
go build -o "$TMP/bin/bare" ./bench/bare

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')

# --- server -----------------------------------------------------------------

say "== starting sluice serve on loopback (and the bare server, for its RSS)"
start_servers
say "    sluice $BASE (pid $SLUICE_PID)"

# --- account, session -------------------------------------------------------

bench_login
# The session cookie, as wrk sends it (the jar is in Netscape format: name
# in the 6th field, value in the 7th; HttpOnly lines carry a prefix).
COOKIE=$(awk -F'\t' '$6 == "sluice_session" {print $6 "=" $7}' "$TMP/cookies.txt")
[ -n "$COOKIE" ] || die "no sluice_session cookie after the login (jar: $(cut -f6 "$TMP/cookies.txt" | tr '\n' ' '))"

# --- project, pipe, flow ---------------------------------------------------------

say "== project Shop, pipe orders, flow 'orders to file' (ten orders, two refused)"
mkdir -p "$TMP/data/files/in"
for i in $(seq 1 10); do
	total=$((i * 17))
	printf '{"id":%d,"customer":"C-%d","total":%d}\n' "$i" "$i" "$total"
done >"$TMP/data/files/in/orders.ndjson"
WANT_FAILED=$(awk -F'"total":' '{split($2, a, "}"); if (a[1] + 0 > 150) n++} END {print n + 0}' "$TMP/data/files/in/orders.ndjson")
PROJECT=$(api POST /api/v1/projects '{"name":"Shop"}' | jq -er .id)
PIPE=$(api POST "/api/v1/projects/$PROJECT/pipes" '{"name":"orders"}' | jq -er .id)
FLOW_YAML=$'name: orders to file\nread:\n  file: {path: in/orders.ndjson, format: ndjson}\nentity_id: .id\nsteps:\n  - fail: \'if .total > 150 then "too big" else empty end\'\n  - map: \'{id, total}\'\n  - write:\n      file: {path: out/orders.ndjson, format: ndjson}\n'
FLOW=$(api POST "/api/v1/projects/$PROJECT/pipes/$PIPE/flows" "$(jq -cn --arg d "$FLOW_YAML" '{definition: $d}')" | jq -er .id)

# --- runs ---------------------------------------------------------------------

# The runs are started through the API, eight requests in flight (curl
# --parallel), and worked by sluice's worker as any manual run is.
say "== starting $RUNS runs through POST .../flows/$FLOW/runs, then waiting for the worker to finish them"
RUN_URL="$BASE/api/v1/projects/$PROJECT/pipes/$PIPE/flows/$FLOW/runs"
for ((i = 0; i < RUNS; i++)); do
	printf 'url = "%s"\noutput = "/dev/null"\n' "$RUN_URL"
done >"$TMP/runs.curl"
T0=$(date +%s.%N)
curl -sS --parallel --parallel-max 8 -X POST -b "$TMP/cookies.txt" -H "X-CSRF-Token: $CSRF" -H "Origin: $BASE" \
	-w '%{http_code}\n' --config "$TMP/runs.curl" >"$TMP/runs-started.txt" 2>"$TMP/runs-started.err" ||
	die "starting the runs failed: $(tail -n 5 "$TMP/runs-started.err")"
T1=$(date +%s.%N)
STARTED_202=$(grep -c '^202$' "$TMP/runs-started.txt" || true)
[ "$STARTED_202" -eq "$RUNS" ] ||
	die "starting $RUNS runs: $STARTED_202 answered 202; answers: $(sort "$TMP/runs-started.txt" | uniq -c | tr '\n' ' ')"
DB="$TMP/data/sluice.db"
pending() { sqlite3 -readonly "$DB" "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')" 2>/dev/null || echo 1; }
last=-1
while :; do
	n=$(pending)
	[ "$n" -eq 0 ] && break
	if [ "$n" != "$last" ]; then
		say "    $n runs to go"
		last=$n
	fi
	kill -0 "$SLUICE_PID" 2>/dev/null || die "sluice stopped while working the runs"
	sleep 2
done
T2=$(date +%s.%N)
HWM_AFTER_RUNS=$(proc_kib VmHWM)
RUN_STATUSES=$(sqlite3 -readonly "$DB" "SELECT status || ' ' || count(*) FROM runs GROUP BY status ORDER BY status" | paste -sd, | sed 's/,/, /g')
RUN_TOTALS=$(sqlite3 -readonly "$DB" "SELECT sum(read_count) || ' read, ' || sum(succeeded_count) || ' succeeded, ' || sum(failed_count) || ' failed; ' || (SELECT count(*) FROM run_failures) || ' failure rows' FROM runs")
FILL=$(awk -v a="$T0" -v b="$T1" -v c="$T2" -v n="$RUNS" 'BEGIN {printf "started in %.1f s, all finished after %.1f s (%.0f runs/s)", b-a, c-a, n/(c-a)}')
say "    $RUN_STATUSES; $FILL"

# A run with failures for the run page: the newest partially failed one.
RUN=$(api GET "/api/v1/projects/$PROJECT/runs?status=partially_failed&limit=1" | jq -er '.runs[0].id')

# --- pages ----------------------------------------------------------------------

declare -A PAGE=(
	[css]=/static/console.css
	[dashboard]=/projects/$PROJECT
	[runs]=/projects/$PROJECT/runs
	[run]=/projects/$PROJECT/runs/$RUN
	[flow]=/projects/$PROJECT/pipes/$PIPE/flows/$FLOW
	[members]=/projects/$PROJECT/members
)
ORDER=(css dashboard runs run flow members)
# MARK[NAME]: what the page must hold, so that a 200 is the page itself.
declare -A MARK=(
	[css]='{'
	[dashboard]='id="records-chart"'
	[runs]='id="runs-table"'
	[run]='id="failures-table"'
	[flow]='id="flow-diagram"'
	[members]='id="members-table"'
)

say "== checking each page once with the cookie wrk sends"
declare -A BYTES
for name in "${ORDER[@]}"; do
	code=$(curl -sS -o "$TMP/page-$name.html" -w '%{http_code}' -H "Cookie: $COOKIE" "$BASE${PAGE[$name]}") ||
		die "GET ${PAGE[$name]} failed"
	[ "$code" = 200 ] || die "GET ${PAGE[$name]} answered $code, want 200"
	grep -qF -- "${MARK[$name]}" "$TMP/page-$name.html" || die "GET ${PAGE[$name]} does not hold ${MARK[$name]}"
	BYTES[$name]=$(wc -c <"$TMP/page-$name.html")
done
# The dashboard counts the runs of the last 14 days (at most 5000).
SHOWN=$(sed -n 's/.*id="run-count">\([0-9]*\)<.*/\1/p' "$TMP/page-dashboard.html")
[ "$SHOWN" = "$((RUNS < 5000 ? RUNS : 5000))" ] || die "the dashboard counts ${SHOWN:-no} runs, want $((RUNS < 5000 ? RUNS : 5000))"
say "    all 200 with their content; the dashboard counts $SHOWN runs"

# --- load ---------------------------------------------------------------------------

say "== warm-up ($WARMUP each)"
for name in "${ORDER[@]}"; do
	load "$name" "$TMP/warm-$name.txt" 0 -d"$WARMUP"
done
RSS_BEFORE_LOAD=$(proc_kib VmRSS)

# Rounds go through every page in turn, so a change in the machine's other
# load shows up in every figure rather than in one.
for ((r = 1; r <= ROUNDS; r++)); do
	say "== round $r/$ROUNDS: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s bench/console/get.lua"
	for name in "${ORDER[@]}"; do
		f=$TMP/wrk-$name-$r.txt
		load "$name" "$f" 1 -d"$DURATION"
		say "    $name: $(wrk_rps "$f") req/s, p50 $(wrk_pct "$f" 50%), p99 $(wrk_pct "$f" 99%)"
	done
done
RSS_AFTER_LOAD=$(proc_kib VmRSS)
HWM_AFTER_LOAD=$(proc_kib VmHWM)

# --- stop -----------------------------------------------------------------------------

say "== stopping sluice with SIGTERM"
kill -TERM "$SLUICE_PID"
SLUICE_EXIT=0
wait "$TIME_PID" || SLUICE_EXIT=$?
kill -TERM "$BARE_PID" 2>/dev/null || true
wait "$BARE_TIME_PID" || true

PEAK_SLUICE=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time-sluice.txt")
PEAK_BARE=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time-bare.txt")
LOG_ERRORS=$(grep -c 'level=ERROR' "$TMP/sluice.log" || true)
LOG_WARNS=$(grep -c 'level=WARN' "$TMP/sluice.log" || true)

# --- summary ----------------------------------------------------------------------------

# mean_of NAME WHAT: the mean over the rounds of req/s (WHAT=rps) or of a
# latency percentile in ms (WHAT=50% or 99%).
mean_of() {
	local r f s=0
	for ((r = 1; r <= ROUNDS; r++)); do
		f=$TMP/wrk-$1-$r.txt
		if [ "$2" = rps ]; then
			s=$(awk -v s="$s" -v v="$(wrk_rps "$f")" 'BEGIN {print s + v}')
		else
			s=$(awk -v s="$s" -v v="$(ms "$(wrk_pct "$f" "$2")")" 'BEGIN {print s + v}')
		fi
	done
	awk -v s="$s" -v n="$ROUNDS" 'BEGIN {printf "%.2f", s/n}'
}
declare -A LABEL=(
	[css]="/static/console.css (baseline)"
	[dashboard]="dashboard /projects/{p}"
	[runs]="runs list /projects/{p}/runs"
	[run]="a run /projects/{p}/runs/{r}"
	[flow]="flow editor .../flows/{f}"
	[members]="members /projects/{p}/members"
)
BASE_RPS=$(mean_of css rps)
{
	echo
	echo "================ Console pages: logged-in GETs vs a static file through the same server ================"
	echo "date:     $STARTED   ($(nproc) CPUs, $(go env GOVERSION), $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}'), load average before: $LOAD_BEFORE)"
	echo "project:  $RUNS runs of one file flow started through the API and worked by sluice (real runs, not inserted rows):"
	echo "          $RUN_STATUSES; $RUN_TOTALS"
	echo "          $FILL"
	echo "load:     wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $TIMEOUT --latency, session cookie, $ROUNDS rounds (every page in turn); sluice --log-level $LOG_LEVEL, SQLite"
	printf '%-40s %9s %9s %9s %8s %8s\n' "page (bytes)" "req/s" "p50 ms" "p99 ms" "ratio" "per round"
	for name in "${ORDER[@]}"; do
		rps=$(mean_of "$name" rps)
		per=""
		for ((r = 1; r <= ROUNDS; r++)); do
			per="$per${per:+ / }$(awk -v v="$(wrk_rps "$TMP/wrk-$name-$r.txt")" 'BEGIN {printf "%.0f", v}')"
		done
		printf '%-40s %9.0f %9s %9s %8s   %s\n' "${LABEL[$name]} (${BYTES[$name]})" "$rps" "$(mean_of "$name" 50%)" \
			"$(mean_of "$name" 99%)" "$(ratio "$rps" "$BASE_RPS")" "$per"
	done
	echo "          (req/s, p50 and p99 are means over the rounds; ratio = the page's req/s / the baseline's)"
	total=0
	for name in "${ORDER[@]}"; do
		for f in "$TMP/warm-$name.txt" "$TMP"/wrk-"$name"-*.txt; do
			total=$((total + $(wrk_status "$f" 200)))
		done
	done
	echo "answers:  $total under wrk, every one 200, no socket error nor timeout (checked after each wrk run)"
	echo "RSS:      sluice peak $(mib "$PEAK_SLUICE") over the whole run (time -v); VmHWM $(mib "$HWM_AFTER_RUNS") after the runs, $(mib "$HWM_AFTER_LOAD") after the page load"
	echo "          sluice VmRSS $(mib "$RSS_BEFORE_LOAD") before the measured load, $(mib "$RSS_AFTER_LOAD") after it; bare net/http server peak $(mib "$PEAK_BARE")"
	echo "server:   log ERROR $LOG_ERRORS, WARN $LOG_WARNS (the development master key warning is one); exit status after SIGTERM: $SLUICE_EXIT"
	echo "========================================================================================================"
} | tee "$TMP/summary.txt"

if [ "$LOG_ERRORS" -gt 0 ] || [ "$LOG_WARNS" -gt 0 ]; then
	say
	say "distinct WARN/ERROR log messages:"
	grep -E 'level=(ERROR|WARN)' "$TMP/sluice.log" | sed -E 's/^time=[^ ]+ //; s/request_id=[^ ]+ //' |
		sort | uniq -c | sort -rn | head -n 10 >&2
fi
