#!/usr/bin/env bash
# lance_fdw compaction benchmark: a dataset of APPENDS appends of N rows
# with a 128-dim vector, written by LanceDB; LanceDB optimize() of it
# against lancedb.lance_compact() of a copy, measured in the same run.
# See README.md ("Compaction").
#
#   bash bench/fdw/compact.sh [--n ROWS_PER_APPEND] [--appends K]
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$ROOT/scripts/lib/cluster.sh"

N=100000
APPENDS=10
while [ $# -gt 0 ]; do
	case "$1" in
		--n) N=$2; shift 2 ;;
		--appends) APPENDS=$2; shift 2 ;;
		*) echo "usage: bash bench/fdw/compact.sh [--n ROWS_PER_APPEND] [--appends K]" >&2; exit 2 ;;
	esac
done

DATA=$HERE/data/compact-n$N-a$APPENDS
rm -rf "$DATA"
mkdir -p "$DATA" "$HERE/results"
[ -e "$HERE/node_modules" ] || ln -s ../../test/lance/node_modules "$HERE/node_modules"

echo "== LanceDB (npm @lancedb/lancedb 0.39.0): $APPENDS appends of $N rows, optimize()"
node "$HERE/compact_lancedb.mjs" "$DATA" "$N" "$APPENDS" | tee "$HERE/results/compact_lancedb.json"
chmod -R go+rwX "$HERE/data"

echo "== lance_fdw: lancedb.lance_compact() of a copy of the same dataset"
cluster_create lancedb-bench-fdw-compact >/dev/null
trap cluster_destroy EXIT
cat >>"$CLUSTER_DATA/postgresql.conf" <<-CONF
	shared_buffers = 256MB
	jit = off
CONF
cluster_start >/dev/null
cluster_env
chown -R "$(stat -c %U "$CLUSTER_DATA")" "$DATA" 2>/dev/null || true
cluster_psql -q -v ON_ERROR_STOP=1 -d postgres <<-SQL
	CREATE EXTENSION lancedb;
	CREATE SERVER bench FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$DATA');
	CREATE FOREIGN TABLE items (id bigint, vector vector(128), _rowaddr bigint)
		SERVER bench OPTIONS (table 'fdw');
	CREATE FUNCTION ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
	DECLARE t0 timestamptz := clock_timestamp();
	BEGIN EXECUTE q; RETURN extract(epoch FROM clock_timestamp() - t0) * 1000; END \$\$;
SQL
BEFORE=$(cluster_psql -qAt -d postgres -c "SELECT count(DISTINCT _rowaddr >> 32) FROM items")
SUM0=$(cluster_psql -qAt -d postgres -c "SELECT count(*), sum(id), sum(((vector::real[])[1])::float8)::numeric(20,3) FROM items")
# wall clock from the backend, CPU time (user + system) from /proc/<pid>/stat
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
coproc PSQL { cluster_psql -qAt -d postgres; }
echo "SELECT pg_backend_pid();" >&"${PSQL[1]}"
read -r BPID <&"${PSQL[0]}"
T0=$(cpu_ticks "$BPID")
echo "SELECT ms('SELECT lancedb.lance_compact(''items'')');" >&"${PSQL[1]}"
read -r COMPACT_MS <&"${PSQL[0]}"
T1=$(cpu_ticks "$BPID")
exec {PSQL[1]}>&-
wait "$PSQL_PID" 2>/dev/null || true
COMPACT_CPU_MS=$(( (T1 - T0) * 1000 / $(getconf CLK_TCK) ))
AFTER=$(cluster_psql -qAt -d postgres -c "SELECT count(DISTINCT _rowaddr >> 32) FROM items")
SUM1=$(cluster_psql -qAt -d postgres -c "SELECT count(*), sum(id), sum(((vector::real[])[1])::float8)::numeric(20,3) FROM items")
[ "$SUM0" = "$SUM1" ] || { echo "rows changed by compaction: $SUM0 -> $SUM1" >&2; exit 1; }

python3 - "$HERE/results/compact_lancedb.json" "$COMPACT_MS" "$BEFORE" "$AFTER" "$SUM1" "$COMPACT_CPU_MS" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ms, before, after, rows = float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5].split("|")[0]
cpu = float(sys.argv[6])
print(f"rows: {rows} (LanceDB: {d['rows']}); rows, id sum and vector[1] sum unchanged by lance_compact")
print(f"| | fragments | wall ms | time vs LanceDB | CPU ms (all threads) | CPU vs LanceDB |")
print(f"|---|---|---|---|---|---|")
print(f"| LanceDB optimize() | {d['fragments_before']} -> {d['fragments_after']} | {d['optimize_ms']:,.0f} | 1.00x | {d['optimize_cpu_ms']:,.0f} | 1.00x |")
print(f"| lancedb.lance_compact | {before} -> {after} | {ms:,.0f} | {ms / d['optimize_ms']:.2f}x | {cpu:,.0f} | {cpu / d['optimize_cpu_ms']:.2f}x |")
PY
