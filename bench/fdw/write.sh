#!/usr/bin/env bash
# lance_fdw write benchmark: INSERT of N rows with a 128-dim vector into a
# Lance dataset through the FDW, against LanceDB add() of N rows of the same
# shape, measured in the same run.  See README.md ("Writes").
#
#   bash bench/fdw/write.sh [--n ROWS] [--storage-version 2.0|2.1|2.2]
# (both sides write the given data storage version; default LanceDB's, 2.2)
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$ROOT/scripts/lib/cluster.sh"

N=1000000
VER=
while [ $# -gt 0 ]; do
	case "$1" in
		--n) N=$2; shift 2 ;;
		--storage-version) VER=$2; shift 2 ;;
		*) echo "usage: bash bench/fdw/write.sh [--n ROWS] [--storage-version V]" >&2; exit 2 ;;
	esac
done

DATA=$HERE/data/write-n$N${VER:+-v$VER}
rm -rf "$DATA"
mkdir -p "$DATA" "$HERE/results"
[ -e "$HERE/node_modules" ] || ln -s ../../test/lance/node_modules "$HERE/node_modules"

echo "== LanceDB (npm @lancedb/lancedb 0.39.0): add() and optimize(), storage version ${VER:-2.2 (default)}"
node "$HERE/write_lancedb.mjs" "$DATA" "$N" $VER | tee "$HERE/results/write_lancedb.json"
chmod -R go+rwX "$HERE/data"

echo "== lance_fdw: INSERT ... SELECT from a heap table"
cluster_create lancedb-bench-fdw-write >/dev/null
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
	CREATE FOREIGN TABLE items (id bigint, vector vector(128)) SERVER bench OPTIONS (table 'items');
	CREATE TABLE src AS SELECT g::bigint AS id,
		(SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 128) WHERE g > 0)::vector(128) AS vector
		FROM generate_series(1, $N) g;
	CREATE FUNCTION ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
	DECLARE t0 timestamptz := clock_timestamp();
	BEGIN EXECUTE q; RETURN extract(epoch FROM clock_timestamp() - t0) * 1000; END \$\$;
SQL
# the timed statement includes the commit (a new version)
INS_MS=$(cluster_psql -qAt -d postgres -c "SELECT ms('INSERT INTO items SELECT * FROM src')")
ROWS=$(cluster_psql -qAt -d postgres -c "SELECT count(*) FROM items")
BYTES=$(du -sb "$DATA/items.lance/data" | cut -f1)

python3 - "$HERE/results/write_lancedb.json" "$INS_MS" "$ROWS" "$BYTES" "$N" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ins_ms, rows, nbytes, n = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
raw_mb = n * (8 + 128 * 4) / 1e6
add_rs = n / (d["add_ms"] / 1000)
fdw_rs = n / (ins_ms / 1000)
print(f"rows in the FDW table after INSERT: {rows} (expected {n + 1})")
print(f"| | rows/s | MB/s (raw values) | vs LanceDB add() |")
print(f"|---|---|---|---|")
print(f"| LanceDB add() | {add_rs:,.0f} | {raw_mb / (d['add_ms'] / 1000):,.1f} | 1.00x |")
print(f"| lance_fdw INSERT | {fdw_rs:,.0f} | {raw_mb / (ins_ms / 1000):,.1f} | {fdw_rs / add_rs:.2f}x |")
print(f"LanceDB optimize() of 10 fragments x {n // 10} rows: {d['optimize_ms']:.0f} ms (lance_compact against it: bench/fdw/compact.sh)")
print(f"FDW data files: {nbytes / 1e6:.1f} MB")
PY
