# bench/w2/profile.awk: where sluice's CPU goes during a W2 run, from
# `perf script -F comm,tid,ip,sym` of a `perf record -g` of the process.
#
#   perf script -i perf.data -F comm,tid,ip,sym | awk -f bench/w2/profile.awk
#
# Each sample (one call stack) goes to the first part, in the order of the
# table below, that one of its frames matches, so the shares add up to
# 100%. Then the SQLite samples are split by the store call that made them
# (the first store.(*Q) method, BEGIN or COMMIT from the leaf up).
BEGIN {
	nc = 0
	pat[++nc] = "sqlite\\.\\(\\*conn\\)\\.prepareV2|sqlite\\.newStmt"
	name[nc] = "SQLite: preparing statements (SQL text parsed for every exec and query)"
	pat[++nc] = "\\(\\*Tx\\)\\.Commit|_sqlite3VdbeHalt"
	name[nc] = "SQLite: commits (WAL frames written)"
	pat[++nc] = "modernc\\.org/sqlite"
	name[nc] = "SQLite: running statements"
	pat[++nc] = "sluice/internal/flow\\.(load|Load)"
	name[nc] = "flow.Load on every call: YAML parse, jq compile"
	pat[++nc] = "gojq|sluice/internal/engine\\."
	name[nc] = "engine: map and respond"
	pat[++nc] = "sluice/internal/consumer\\."
	name[nc] = "consumer auth (token cache, JWT)"
	pat[++nc] = "database/sql\\."
	name[nc] = "database/sql (pool, Rows, locks)"
	pat[++nc] = "gcBgMarkWorker|gcDrain|gcAssist|bgsweep|bgscavenge"
	name[nc] = "GC"
	pat[++nc] = "copystack|newstack|morestack"
	name[nc] = "goroutine stack growth"
	pat[++nc] = "sluice/internal/runs\\."
	name[nc] = "runs: heartbeat, recorder, semaphore"
	pat[++nc] = "sluice/internal/web|net/http|encoding/json|go-json|log/slog|internal/poll|^net\\."
	name[nc] = "HTTP: server, middleware (log, metrics), JSON, sockets"
}

function flush(   i, n, f, who) {
	for (i = 1; i <= nc; i++)
		if (stack ~ ("(" pat[i] ")"))
			break
	part[i <= nc ? name[i] : "other: scheduler, kernel, runtime"]++
	if (stack ~ /modernc\.org\/sqlite/) {
		n = split(stack, f, " ")
		who = "other"
		for (i = 1; i <= n; i++) {
			if (f[i] ~ /^database\/sql\.\(\*Tx\)\.Commit$/) { who = "COMMIT"; break }
			if (f[i] ~ /^database\/sql\.\(\*DB\)\.(BeginTx|begin)$/) { who = "BEGIN IMMEDIATE"; break }
			if (f[i] ~ /sluice\/internal\/store\.\(\*Q\)\.[A-Za-z]+$/) {
				who = f[i]
				sub(/.*\(\*Q\)\./, "", who)
				# execOne is shared: name the method that called it.
				if (who == "execOne" && i < n) {
					who = f[i + 1]
					sub(/.*\)\./, "", who)
				}
				break
			}
		}
		sql[who]++
		nsql++
	}
	total++
	stack = ""
	open = 0
}

/^[^ \t]/ { if (open) flush(); open = 1; next }
/^[ \t]/ { stack = stack " " $2; next }
/^$/ { if (open) flush() }

END {
	if (open) flush()
	if (total == 0) {
		print "   no samples"
		exit
	}
	for (k in part) printf "   %5.1f%%  %s\n", 100 * part[k] / total, k | "sort -rn"
	close("sort -rn")
	printf "   SQLite, %.1f%% of the samples, by the store call that made it:\n", 100 * nsql / total
	for (k in sql) printf "       %5.1f%%  %s\n", 100 * sql[k] / total, k | "sort -rn"
	close("sort -rn")
	printf "   (%d samples)\n", total
}
