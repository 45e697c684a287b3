#!/usr/bin/env bash
# bench/run.sh: measure Sluice on loopback against a bare net/http baseline
# started in the same run. See bench/README.md for what each figure means.
#
#   bash bench/run.sh
#
# Everything runs from a fresh temporary directory, talks only to
# 127.0.0.1 (and 127.0.0.2 for the per-account throttle demo), and every
# process the script starts is stopped when it exits. Settings (env):
#
#   DURATION=10s         wrk duration of each measured GET run
#   WARMUP=2s            wrk warm-up of each server before the GET runs
#   ROUNDS=2             GET rounds, each measuring bare then /api/v1/me
#   THREADS=2            wrk threads
#   CONNECTIONS=32       wrk connections for the GET runs
#   LOGIN_DURATION=5s    wrk duration of the login run
#   LOGIN_CONNECTIONS=8  wrk connections for the login run (logins in flight)
#   LOG_LEVEL=info       sluice --log-level (info logs one line per request)
#   ARGON_BENCH=1        also run BenchmarkVerifyPassword* in this run (0 skips)
#   KEEP=0               1 keeps the temporary directory (logs, wrk output)
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
LOGIN_DURATION=${LOGIN_DURATION:-5s}
LOGIN_CONNECTIONS=${LOGIN_CONNECTIONS:-8}
LOG_LEVEL=${LOG_LEVEL:-info}
ARGON_BENCH=${ARGON_BENCH:-1}
KEEP=${KEEP:-0}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

BENCH=bench
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# --- tools ----------------------------------------------------------------

need_wrk_and_time
for tool in curl go pgrep awk; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done

# --- clean-up -------------------------------------------------------------

bench_tmp sluice-bench

# --- helpers --------------------------------------------------------------

# wrk_*: figures from one wrk output file.
wrk_non2xx() { awk '/Non-2xx or 3xx responses:/ {print $NF; f=1} END {if (!f) print 0}' "$1"; }
wrk_total() { awk '/requests in/ {print $1}' "$1"; }
wrk_secs() { awk '/requests in/ {s=$4; sub(/,$/, "", s); if (s ~ /ms$/) {sub(/ms$/, "", s); s/=1000} else if (s ~ /m$/) {sub(/m$/, "", s); s*=60} else sub(/s$/, "", s); print s}' "$1"; }

# vm_kib PID FIELD: a VmXXX figure of a live process, in KiB.
vm_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

mib() { awk -v k="$1" 'BEGIN {printf "%.0f MiB", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b+0 > 0) printf "%.2f", a/b; else print "n/a"}'; }

# run_wrk NAME URL ARGS...: a measured wrk run, output in $TMP/wrk-NAME.txt
# and echoed indented.
run_wrk() {
	local name=$1 url=$2
	shift 2
	wrk --latency "$@" "$url" >"$TMP/wrk-$name.txt" 2>&1 || {
		cat "$TMP/wrk-$name.txt" >&2
		die "wrk $name failed"
	}
	sed 's/^/    /' "$TMP/wrk-$name.txt" >&2
}

# --- build ----------------------------------------------------------------

say "== building into $TMP/bin"
mkdir -p "$TMP/bin" "$TMP/data"
go build -o "$TMP/bin/sluice" ./cmd/sluice
go build -o "$TMP/bin/bare" ./bench/bare
if [ "$ARGON_BENCH" = 1 ]; then
	go test -c -o "$TMP/bin/auth.test" ./internal/auth
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')

# --- argon2id in process (same run) ----------------------------------------

ARGON_MS=n/a ARGON_CORE=n/a ARGON_ALL=n/a
if [ "$ARGON_BENCH" = 1 ]; then
	say "== argon2id at DefaultParams, in process (go test -bench VerifyPassword)"
	"$TMP/bin/auth.test" -test.run '^$' -test.bench '^BenchmarkVerifyPassword' -test.benchmem \
		>"$TMP/argon.txt" 2>&1 || {
		cat "$TMP/argon.txt" >&2
		die "argon2id benchmark failed"
	}
	sed 's/^/    /' "$TMP/argon.txt" >&2
	ARGON_MS=$(awk '$1 ~ /^BenchmarkVerifyPassword(-[0-9]+)?$/ {printf "%.1f", $3/1e6}' "$TMP/argon.txt")
	ARGON_CORE=$(awk '$1 ~ /^BenchmarkVerifyPassword(-[0-9]+)?$/ {for (i = 1; i < NF; i++) if ($(i+1) == "logins/s/core") printf "%.1f", $i}' "$TMP/argon.txt")
	ARGON_ALL=$(awk '$1 ~ /^BenchmarkVerifyPasswordParallel/ {for (i = 1; i < NF; i++) if ($(i+1) == "logins/s") printf "%.1f", $i}' "$TMP/argon.txt")
fi

# --- servers --------------------------------------------------------------

say "== starting the bare net/http baseline and sluice serve on loopback"
start_servers
say "    sluice $BASE (pid $SLUICE_PID), bare $BARE_URL (pid $BARE_PID)"

# --- account, session, API key -----------------------------------------------

bench_login
bench_api_key bench

ME_BODY=$(curl -sS --fail-with-body -H "Authorization: Bearer $KEY" "$BASE/api/v1/me") ||
	die "GET /api/v1/me with the API key failed: $ME_BODY"
grep -q '"auth":"api_key"' <<<"$ME_BODY" || die "GET /api/v1/me did not authenticate with the key: $ME_BODY"
BARE_BODY=$(curl -sS --fail-with-body "$BARE_URL/")
say "    /api/v1/me body ${#ME_BODY} bytes, bare body ${#BARE_BODY} bytes"

# --- GET /api/v1/me vs bare ---------------------------------------------------

WRK_ARGS=(-t"$THREADS" -c"$CONNECTIONS")
say "== warm-up ($WARMUP each)"
wrk "${WRK_ARGS[@]}" -d"$WARMUP" "$BARE_URL/" >/dev/null
wrk "${WRK_ARGS[@]}" -d"$WARMUP" -H "Authorization: Bearer $KEY" "$BASE/api/v1/me" >/dev/null

# Alternating rounds, so that a change in the machine's other load during
# the run shows up in both figures rather than in one.
for ((r = 1; r <= ROUNDS; r++)); do
	say "== round $r/$ROUNDS, bare net/http: wrk ${WRK_ARGS[*]} -d$DURATION $BARE_URL/"
	run_wrk "bare-$r" "$BARE_URL/" "${WRK_ARGS[@]}" -d"$DURATION"
	say "== round $r/$ROUNDS, sluice: wrk ${WRK_ARGS[*]} -d$DURATION -H 'Authorization: Bearer ...' $BASE/api/v1/me"
	run_wrk "me-$r" "$BASE/api/v1/me" "${WRK_ARGS[@]}" -d"$DURATION" -H "Authorization: Bearer $KEY"
done
RSS_AFTER_ME=$(vm_kib "$SLUICE_PID" VmHWM)

# --- successful logins/s --------------------------------------------------------

say "== logins: wrk -t$THREADS -c$LOGIN_CONNECTIONS -d$LOGIN_DURATION -s bench/login.lua $BASE"
export SLUICE_BENCH_EMAIL=$EMAIL SLUICE_BENCH_PASSWORD=$PASSWORD
run_wrk login "$BASE" -t"$THREADS" -c"$LOGIN_CONNECTIONS" -d"$LOGIN_DURATION" --timeout 10s \
	-s "$ROOT/bench/login.lua"
RSS_AFTER_LOGIN=$(vm_kib "$SLUICE_PID" VmHWM)
LOGIN_OK=$(awk '/^status 200:/ {print $3; f=1} END {if (!f) print 0}' "$TMP/wrk-login.txt")
LOGIN_TOTAL=$(wrk_total "$TMP/wrk-login.txt")
LOGIN_SECS=$(wrk_secs "$TMP/wrk-login.txt")
LOGIN_RPS=$(awk -v n="$LOGIN_OK" -v s="$LOGIN_SECS" 'BEGIN {if (s > 0) printf "%.1f", n/s; else print 0}')
LOGIN_OTHER=$(awk '/^status / && $2 != "200:" {printf "%s%s %s", sep, $2, $3; sep=", "}' "$TMP/wrk-login.txt")

# --- throttling of failed logins ---------------------------------------------------

# status_run: "401×20, 429×2" from a list of status codes.
status_run() { awk '{ if ($1 == prev) n++; else { if (n) { printf "%s%s×%d", sep, prev, n; sep = ", " } prev = $1; n = 1 } } END { if (n) printf "%s%s×%d", sep, prev, n }'; }

# try_login FROM EMAIL PASSWORD: "STATUS RETRY-AFTER" of one login attempt
# from source address FROM.
try_login() {
	curl -s -o /dev/null --interface "$1" -w '%{http_code} %header{retry-after}\n' \
		-H 'Content-Type: application/json' \
		--data-binary "{\"email\":\"$2\",\"password\":\"$3\"}" "$BASE/api/v1/auth/login"
}

say "== per-IP throttle: 22 wrong logins from 127.0.0.1, each for a different unknown email"
: >"$TMP/ip-throttle.txt"
for i in $(seq 1 22); do
	r=$(try_login 127.0.0.1 "nobody-$i@example.com" "wrong-password-$i")
	printf '    attempt %2d: %s\n' "$i" "$r" >&2
	printf '%s\n' "$r" >>"$TMP/ip-throttle.txt"
done
IP_RUN=$(awk '{print $1}' "$TMP/ip-throttle.txt" | status_run)
IP_RETRY=$(awk '$1 == 429 && $2 != "" {print $2; exit}' "$TMP/ip-throttle.txt")

say "== per-account throttle: 6 wrong passwords for $EMAIL from 127.0.0.2, then the right one"
: >"$TMP/acct-throttle.txt"
for i in $(seq 1 6); do
	r=$(try_login 127.0.0.2 "$EMAIL" "wrong-password-$i")
	printf '    attempt %2d: %s\n' "$i" "$r" >&2
	printf '%s\n' "$r" >>"$TMP/acct-throttle.txt"
done
ACCT_RUN=$(awk '{print $1}' "$TMP/acct-throttle.txt" | status_run)
ACCT_RETRY=$(awk '$1 == 429 && $2 != "" {print $2; exit}' "$TMP/acct-throttle.txt")
ACCT_RIGHT=$(try_login 127.0.0.2 "$EMAIL" "$PASSWORD")
say "    right password while locked: $ACCT_RIGHT"

# --- server health under load ---------------------------------------------------

curl -fsS "$BASE/metrics" >"$TMP/metrics.txt"
HTTP_5XX=$(awk '/^sluice_http_requests_total\{/ && /status="5/ {n += $NF} END {printf "%d", n}' "$TMP/metrics.txt")
HTTP_5XX_BY=$(awk '/^sluice_http_requests_total\{/ && /status="5/ && $NF > 0 {r = $0; sub(/.*route="/, "", r); sub(/".*/, "", r); s = $0; sub(/.*status="/, "", s); sub(/".*/, "", s); printf "%s%s %s: %d", sep, r, s, $NF; sep = "; "}' "$TMP/metrics.txt")
HTTP_TOTAL=$(awk '/^sluice_http_requests_total\{/ {n += $NF} END {printf "%d", n}' "$TMP/metrics.txt")

say "== stopping sluice with SIGTERM"
kill -TERM "$SLUICE_PID"
SLUICE_EXIT=0
wait "$TIME_PID" || SLUICE_EXIT=$?
kill -TERM "$BARE_PID" 2>/dev/null || true
wait "$BARE_TIME_PID" || true

PEAK_SLUICE=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time-sluice.txt")
PEAK_BARE=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time-bare.txt")
LOG_LINES=$(wc -l <"$TMP/sluice.log")
LOG_ERRORS=$(grep -c 'level=ERROR' "$TMP/sluice.log" || true)
LOG_WARNS=$(grep -c 'level=WARN' "$TMP/sluice.log" || true)
AUDIT=$("$TMP/bin/sluice" audit verify --data-dir "$TMP/data" 2>&1) || true

# --- summary ----------------------------------------------------------------

# mean_rps PREFIX: the mean requests/s over the rounds.
mean_rps() { cat "$TMP/wrk-$1"-*.txt | awk '/^Requests\/sec:/ {s += $2; n++} END {if (n) printf "%.0f", s/n}'; }
# sum_field PREFIX FUNC: a count summed over the rounds.
sum_field() {
	local f t=0
	for f in "$TMP/wrk-$1"-*.txt; do t=$((t + $("$2" "$f"))); done
	echo "$t"
}
ME_RPS=$(mean_rps me)
BARE_RPS=$(mean_rps bare)
{
	echo
	echo "================ Sluice bench summary ================"
	echo "date:     $STARTED   ($(nproc) CPUs, $(go env GOVERSION), load average before: $LOAD_BEFORE)"
	echo "sluice:   SQLite in a fresh --data-dir, --log-level $LOG_LEVEL; everything on 127.0.0.1"
	echo
	echo "argon2id m=19456 KiB t=2 p=1, in process (go test -bench, this run):"
	echo "  VerifyPassword:             $ARGON_MS ms/login = $ARGON_CORE logins/s per core"
	echo "  VerifyPasswordParallel:     $ARGON_ALL logins/s on $(nproc) cores"
	echo
	echo "GET /api/v1/me with an API key vs bare net/http (wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds):"
	for ((r = 1; r <= ROUNDS; r++)); do
		me=$TMP/wrk-me-$r.txt bare=$TMP/wrk-bare-$r.txt
		printf '  round %d: /me %8.0f req/s (p50 %s, p99 %s)   bare %8.0f req/s (p50 %s, p99 %s)   ratio %s\n' "$r" \
			"$(wrk_rps "$me")" "$(wrk_pct "$me" 50%)" "$(wrk_pct "$me" 99%)" \
			"$(wrk_rps "$bare")" "$(wrk_pct "$bare" 50%)" "$(wrk_pct "$bare" 99%)" \
			"$(ratio "$(wrk_rps "$me")" "$(wrk_rps "$bare")")"
	done
	printf '  mean:    /me %8.0f req/s   bare %8.0f req/s   ratio %s\n' \
		"$ME_RPS" "$BARE_RPS" "$(ratio "$ME_RPS" "$BARE_RPS")"
	sockerr=""
	for f in "$TMP"/wrk-me-*.txt "$TMP"/wrk-bare-*.txt; do
		e=$(wrk_sockerr "$f")
		[ "$e" = none ] || sockerr="$sockerr $(basename "$f" .txt) ($e)"
	done
	echo "  non-2xx seen by wrk: /me $(sum_field me wrk_non2xx), bare $(sum_field bare wrk_non2xx); socket errors:${sockerr:- none}"
	echo
	echo "POST /api/v1/auth/login (correct password, -c$LOGIN_CONNECTIONS for $LOGIN_DURATION):"
	echo "  successful logins/s:        $LOGIN_RPS   ($LOGIN_OK of $LOGIN_TOTAL answers were 200${LOGIN_OTHER:+; others: $LOGIN_OTHER})"
	echo "  latency:                    p50 $(wrk_pct "$TMP/wrk-login.txt" 50%)   p99 $(wrk_pct "$TMP/wrk-login.txt" 99%)"
	echo "  ratio to argon2id ceiling:  $(ratio "$LOGIN_RPS" "$ARGON_ALL")   (server logins/s : VerifyPasswordParallel logins/s)"
	echo
	echo "failed logins, per IP (20 / 15 min):      $IP_RUN   Retry-After: ${IP_RETRY:-none}s"
	echo "failed logins, per account (5 / 15 min):  $ACCT_RUN   Retry-After: ${ACCT_RETRY:-none}s; right password while locked: ${ACCT_RIGHT% *}"
	echo
	echo "peak RSS sluice:  $(mib "$PEAK_SLUICE") (at end; $(mib "$RSS_AFTER_ME") after the /me load, $(mib "$RSS_AFTER_LOGIN") after the login load)"
	echo "peak RSS bare:    $(mib "$PEAK_BARE")   ratio sluice : bare $(ratio "$PEAK_SLUICE" "$PEAK_BARE")"
	echo
	echo "server: $HTTP_TOTAL requests counted by /metrics, $HTTP_5XX with a 5xx status${HTTP_5XX_BY:+ ($HTTP_5XX_BY)}"
	echo "        (requests wrk abandoned when a run ended are recorded as 499, not 5xx: see bench/README.md);"
	echo "        log: $LOG_LINES lines, $LOG_ERRORS ERROR, $LOG_WARNS WARN; exit status after SIGTERM: $SLUICE_EXIT"
	echo "        audit verify: $AUDIT"
	echo "======================================================"
} | tee "$TMP/summary.txt"

if [ "$LOG_ERRORS" -gt 0 ] || [ "$LOG_WARNS" -gt 0 ]; then
	say
	say "distinct WARN/ERROR log messages:"
	grep -E 'level=(ERROR|WARN)' "$TMP/sluice.log" | sed -E 's/^time=[^ ]+ //; s/request_id=[^ ]+ //' |
		sort | uniq -c | sort -rn | head -n 10 >&2
fi
