# Shared by the benchmark scripts (bench/run.sh, bench/w2/run.sh): output,
# tools, a temporary directory whose processes are all stopped on exit,
# and readers of wrk's output. Source it after setting BENCH (the name in
# messages) and KEEP (1 keeps the temporary directory).

say() { printf '%s\n' "$*" >&2; }
die() {
	say "$BENCH: $*"
	exit 1
}

# need_wrk_and_time: wrk (installed from Debian if missing) and GNU time.
need_wrk_and_time() {
	if ! command -v wrk >/dev/null 2>&1; then
		say "$BENCH: wrk is not installed; installing the Debian package (apt-get install -y wrk)..."
		if [ "$(id -u)" -eq 0 ]; then
			apt-get update -qq && apt-get install -y -qq wrk >/dev/null
		else
			sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null
		fi
		command -v wrk >/dev/null 2>&1 || die "could not install wrk; install it and run again"
	fi
	[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time, Debian package 'time') is needed for peak RSS"
}

# bench_tmp PREFIX: makes TMP, and stops every process in PIDS (newest
# first, the children of each before it) when the script exits; TMP is
# removed unless the run failed or KEEP=1.
PIDS=()
bench_tmp() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

bench_cleanup() {
	local rc=$?
	local i child
	# The servers run under /usr/bin/time: their children go first, so
	# that nothing is orphaned even when the script stops before it has
	# read a server's pid.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		for child in $(pgrep -P "${PIDS[i]}" 2>/dev/null || true); do
			kill -TERM "$child" 2>/dev/null || true
		done
		kill -TERM "${PIDS[i]}" 2>/dev/null || true
	done
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		wait "${PIDS[i]}" 2>/dev/null || true
	done
	if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then
		say "$BENCH: logs and wrk output kept in $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}

# json_str FIELD: the string value of FIELD in the JSON on stdin (flat
# string values only).
json_str() { sed -n 's/.*"'"$1"'":"\([^"]*\)".*/\1/p' | head -n1; }

# wait_for_line REGEX PID FILE...: the first match of REGEX in the FILEs,
# waiting up to 30 s while PID lives.
wait_for_line() {
	local re=$1 pid=$2 i line
	shift 2
	for ((i = 0; i < 300; i++)); do
		line=$(grep -Eoh "$re" "$@" 2>/dev/null | head -n1 || true)
		if [ -n "$line" ]; then
			printf '%s\n' "$line"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# wrk_*: figures from one wrk output file.
wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_pct() { awk -v p="$2" '$1 == p {print $2}' "$1"; }
wrk_sockerr() { awk '/Socket errors:/ {sub(/.*Socket errors: /, ""); print; f=1} END {if (!f) print "none"}' "$1"; }

# start_servers: the bare baseline ($TMP/bin/bare) and sluice serve (a
# fresh --data-dir under TMP, --log-level $LOG_LEVEL) on loopback, each
# under /usr/bin/time -v (peak RSS in $TMP/time-*.txt). Sets BARE_URL,
# BARE_PID, BASE, TIME_PID and SLUICE_PID, and returns once sluice is
# ready.
start_servers() {
	/usr/bin/time -v -o "$TMP/time-bare.txt" "$TMP/bin/bare" --addr 127.0.0.1:0 >"$TMP/bare.out" 2>&1 &
	BARE_TIME_PID=$!
	PIDS+=("$BARE_TIME_PID")
	BARE_URL=$(wait_for_line 'http://127\.0\.0\.1:[0-9]+' "$BARE_TIME_PID" "$TMP/bare.out") ||
		die "the bare server did not start: $(cat "$TMP/bare.out")"
	BARE_PID=$(pgrep -P "$BARE_TIME_PID")
	PIDS+=("$BARE_PID")

	/usr/bin/time -v -o "$TMP/time-sluice.txt" "$TMP/bin/sluice" serve --data-dir "$TMP/data" \
		--addr 127.0.0.1:0 --log-level "$LOG_LEVEL" >"$TMP/sluice.out" 2>"$TMP/sluice.log" &
	TIME_PID=$!
	PIDS+=("$TIME_PID")
	# The address is in the "sluice listening" log line (level info) and in the
	# one-time setup link printed on stdout while no user exists.
	BASE=$(wait_for_line 'http://127\.0\.0\.1:[0-9]+' "$TIME_PID" "$TMP/sluice.log" "$TMP/sluice.out") || {
		cat "$TMP/sluice.log" "$TMP/sluice.out" >&2
		die "sluice serve did not start"
	}
	SLUICE_PID=$(pgrep -P "$TIME_PID")
	PIDS+=("$SLUICE_PID")
	local i
	for ((i = 0; i < 100; i++)); do
		curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null && break
		sleep 0.1
	done
	curl -fsS -o /dev/null "$BASE/readyz" || die "$BASE/readyz is not ready"
}

# wrk_status FILE N: how many answers had status N in a wrk output whose
# script loads bench/statuses.lua; wrk_others FILE: the other statuses
# than 200, as "N count, ..." ("" when there are none).
wrk_status() { awk -v s="$2:" '$1 == "status" && $2 == s {print $3; f=1} END {if (!f) print 0}' "$1"; }
wrk_others() { awk '$1 == "status" && $2 != "200:" {printf "%s%s %s", sep, $2, $3; sep=", "}' "$1"; }

# bench_login: creates bench@example.com with a random password through
# `sluice admin create-user` (same --data-dir, password on stdin) and logs
# in with curl. Sets EMAIL, PASSWORD and CSRF; the session cookie is in
# $TMP/cookies.txt.
bench_login() {
	EMAIL="bench@example.com"
	PASSWORD="Sv-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
	say "== creating $EMAIL with sluice admin create-user, logging in with curl"
	printf '%s\n' "$PASSWORD" | "$TMP/bin/sluice" admin create-user --email "$EMAIL" --name Bench \
		--data-dir "$TMP/data" --log-level warn >&2
	local login
	login=$(curl -sS --fail-with-body -c "$TMP/cookies.txt" -H 'Content-Type: application/json' \
		--data-binary "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/login") ||
		die "login failed: $login"
	CSRF=$(json_str csrf_token <<<"$login")
	[ -n "$CSRF" ] || die "no csrf_token in the login answer: $login"
}

# bench_api_key NAME: creates an API key for a day with the session of
# bench_login and sets KEY.
bench_api_key() {
	local out
	out=$(curl -sS --fail-with-body -b "$TMP/cookies.txt" -H 'Content-Type: application/json' \
		-H "X-CSRF-Token: $CSRF" -H "Origin: $BASE" \
		--data-binary "{\"name\":\"$1\",\"expires_in_days\":1}" "$BASE/api/v1/me/api-keys") ||
		die "creating an API key failed: $out"
	KEY=$(json_str token <<<"$out")
	[ -n "$KEY" ] || die "no token in the API key answer"
}
