#!/usr/bin/env bash
# bench/w3/run.sh: W3 (issue 5, Measure): W1's N order records upserted into
# PostgreSQL on 127.0.0.1:5432 (user postgres) by Sluice, beside psql's
# \copy of the same rows into a table of the same shape, in alternating
# rounds in the same run:
#   1. \copy orders_copy FROM rows.csv (CSV made by bench/w3/load -csv from
#      the same NDJSON: the rows the sink writes);
#   2. bench/w3/load: the W3 flow (file in.ndjson -> sql upsert on id into
#      orders) through the engine, the file source and the sql sink, with
#      the run-level accounting callbacks;
# both into empty tables (TRUNCATE before each round). Then once more the
# Sluice upsert over the rows already there (every record an update). It
# prints records/s and the ratio to \copy, checks that both tables hold
# the same rows, and drops the database it created. See bench/README.md.
#
#   bash bench/w3/run.sh              # 1 million records (about 3 min)
#   N=200000 bash bench/w3/run.sh     # quicker
#
# Settings (env):
#   N=1000000   records
#   SEED=1      generator seed
#   ROUNDS=2    rounds, each \copy then Sluice
#   BATCH=1000  records per source batch, and so per sink Write (the runs
#               layer's default)
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres
#   KEEP=0      1 keeps the temporary directory and the database
set -euo pipefail

N=${N:-1000000}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-2}
BATCH=${BATCH:-1000}
KEEP=${KEEP:-0}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

say() { printf '%s\n' "$*" >&2; }
die() {
	say "bench/w3: $*"
	exit 1
}

command -v go >/dev/null 2>&1 || die "go is needed"
command -v psql >/dev/null 2>&1 || die "psql is needed (Debian package postgresql-client)"
case $PGHOST in 127.* | localhost | ::1) ;; *) die "PGHOST must be loopback, not $PGHOST" ;; esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-w3.XXXXXX")
DB=sluice_w3_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
created=0
ok=0
cleanup() {
	if [ "$KEEP" = 1 ]; then
		say "bench/w3: kept $TMP and database $DB"
		return
	fi
	if [ "$created" = 1 ]; then
		psql -qX -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || say "bench/w3: could not drop database $DB"
	fi
	if [ "$ok" = 0 ]; then
		say "bench/w3: kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT

q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

say "bench/w3: building..."
go build -o "$TMP/bin/" ./bench/w1/gen ./bench/w3/load
psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null
created=1
URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB?sslmode=disable"

FILES=$TMP/files
mkdir -m 0700 "$FILES"
say "bench/w3: generating $N records..."
"$TMP/bin/gen" -n "$N" -seed "$SEED" -o "$FILES/in.ndjson"
"$TMP/bin/load" -csv "$TMP/rows.csv" -files-dir "$FILES"
size=$(stat -c %s "$FILES/in.ndjson")
cat "$FILES/in.ndjson" "$TMP/rows.csv" >/dev/null # both start from the page cache

for t in orders orders_copy; do
	q -c "CREATE TABLE $t (id BIGINT PRIMARY KEY, order_no TEXT NOT NULL, status TEXT NOT NULL,
		created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL, currency TEXT NOT NULL,
		total NUMERIC(12,2) NOT NULL, customer JSONB NOT NULL, items JSONB NOT NULL, shipping JSONB NOT NULL)"
done

now() { date +%s%N; }
rate() { awk -v n="$1" -v ns="$2" 'BEGIN {printf "%.0f", n / (ns / 1e9)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
field() { sed -n "s/.*[[:space:]]$1=\\([0-9.]*\\).*/\\1/p" "$2"; }

declare -a copy_rs sl_rs sink_rs
for r in $(seq 1 "$ROUNDS"); do
	q -c "TRUNCATE orders, orders_copy" -c "CHECKPOINT"
	say "bench/w3: round $r: psql \\copy..."
	t0=$(now)
	q -c "\\copy orders_copy ($(
		IFS=,
		echo "id,order_no,status,created_at,updated_at,currency,total,customer,items,shipping"
	)) FROM '$TMP/rows.csv' WITH (FORMAT csv)"
	t1=$(now)
	copy_rs+=("$(rate "$N" $((t1 - t0)))")
	say "  \\copy: ${copy_rs[-1]} rows/s"
	q -c "CHECKPOINT"
	say "bench/w3: round $r: Sluice upsert..."
	"$TMP/bin/load" -db "$URL" -files-dir "$FILES" -batch "$BATCH" >"$TMP/sluice-$r.out" || {
		cat "$TMP/sluice-$r.out" >&2
		die "the Sluice upsert failed"
	}
	say "  $(cat "$TMP/sluice-$r.out")"
	sl_rs+=("$(field records_per_s "$TMP/sluice-$r.out")")
	sink_rs+=("$(field sink_records_per_s "$TMP/sluice-$r.out")")
done
rows=$(q -c "SELECT count(*) FROM orders")
copy_rows=$(q -c "SELECT count(*) FROM orders_copy")
differ=$(q -c "SELECT count(*) FROM ((SELECT * FROM orders EXCEPT ALL SELECT * FROM orders_copy) UNION ALL (SELECT * FROM orders_copy EXCEPT ALL SELECT * FROM orders)) d")
[ "$rows" -eq "$N" ] && [ "$copy_rows" -eq "$N" ] || die "orders has $rows rows and orders_copy $copy_rows, not $N"

say "bench/w3: Sluice upsert over the same rows (every record an update)..."
q -c "CHECKPOINT"
"$TMP/bin/load" -db "$URL" -files-dir "$FILES" -batch "$BATCH" >"$TMP/sluice-update.out" || die "the update run failed"
say "  $(cat "$TMP/sluice-update.out")"

mean() { printf '%s\n' "$@" | awk '{s+=$1} END {printf "%.0f", s/NR}'; }

echo "================ W3: NDJSON -> PostgreSQL upsert vs psql \\copy ================"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')   ($(nproc) CPUs, $(go env GOVERSION), $(psql -AtX -d postgres -c 'SHOW server_version' | cut -d' ' -f1), load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "input:   $N records, $((size / 1024 / 1024)) MiB NDJSON, seed $SEED; source batches of $BATCH"
for r in $(seq 1 "$ROUNDS"); do
	i=$((r - 1))
	printf 'round %d: \\copy %8s rows/s   sluice %8s records/s (ratio %s)   sink alone %8s records/s (ratio %s)\n' "$r" \
		"${copy_rs[$i]}" "${sl_rs[$i]}" "$(ratio "${sl_rs[$i]}" "${copy_rs[$i]}")" "${sink_rs[$i]}" "$(ratio "${sink_rs[$i]}" "${copy_rs[$i]}")"
done
mc=$(mean "${copy_rs[@]}")
ms=$(mean "${sl_rs[@]}")
mk=$(mean "${sink_rs[@]}")
printf 'mean:    \\copy %8s rows/s   sluice %8s records/s (ratio %s)   sink alone %8s records/s (ratio %s)\n' "$mc" "$ms" "$(ratio "$ms" "$mc")" "$mk" "$(ratio "$mk" "$mc")"
us=$(field records_per_s "$TMP/sluice-update.out")
printf 'update:  sluice %8s records/s over existing rows (ratio %s to the mean \\copy)\n' "$us" "$(ratio "$us" "$mc")"
echo "tables:  $rows rows each; rows that differ between orders and orders_copy: $differ"
echo "================================================================================"
ok=1
