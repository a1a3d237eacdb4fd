#!/usr/bin/env bash
# lance_fdw benchmark: full-scan rows/s and exact top-10 vector search
# latency through the FDW, against LanceDB's own reads (npm) of the same
# dataset measured in the same run.  See README.md.
#
#   bash bench/fdw/run.sh [--n ROWS] [--nq QUERIES]
#
# The dataset (id, text, 128-dim vector, float; 10 fragments) is written by
# LanceDB into bench/fdw/data (git-ignored) once and reused.  The FDW side
# runs on a throwaway PostgreSQL 15 cluster with the extension installed.
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$ROOT/scripts/lib/cluster.sh"

N=1000000
NQ=20
while [ $# -gt 0 ]; do
	case "$1" in
		--n) N=$2; shift 2 ;;
		--nq) NQ=$2; shift 2 ;;
		*) echo "usage: bash bench/fdw/run.sh [--n ROWS] [--nq QUERIES]" >&2; exit 2 ;;
	esac
done

DATA=$HERE/data/n$N
mkdir -p "$HERE/results"
[ -e "$HERE/node_modules" ] || ln -s ../../test/lance/node_modules "$HERE/node_modules"
if [ ! -d "$DATA/items.lance" ]; then
	echo "writing $N rows with LanceDB into $DATA"
	node "$HERE/gen.mjs" "$DATA" "$N"
fi
chmod -R go+rX "$HERE/data"

echo "== LanceDB (npm @lancedb/lancedb 0.39.0)"
node "$HERE/lancedb_read.mjs" "$DATA" "$NQ" "$HERE/results/lancedb.json"

echo "== lance_fdw"
cluster_create lancedb-bench-fdw >/dev/null
trap cluster_destroy EXIT
cat >>"$CLUSTER_DATA/postgresql.conf" <<-CONF
	shared_buffers = 256MB
	max_worker_processes = 8
	max_parallel_workers = 4
	jit = off
CONF
cluster_start >/dev/null
cluster_env

# query vectors and LanceDB's answers as SQL
python3 - "$HERE/results/lancedb.json" >"$HERE/results/queries.sql" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("CREATE TABLE q (n int, v vector(128), want bigint[]);")
for i, (v, ids) in enumerate(zip(d["queries"], d["ids"])):
    print("INSERT INTO q VALUES (%d, '[%s]', '{%s}');" % (i, ",".join(repr(x) for x in v), ",".join(map(str, ids))))
PY

cluster_psql -q -v ON_ERROR_STOP=1 -d postgres <<-SQL
	CREATE EXTENSION lancedb;
	CREATE SERVER bench FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$DATA');
	IMPORT FOREIGN SCHEMA lance FROM SERVER bench INTO public;
	\i $HERE/results/queries.sql
	CREATE FUNCTION ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
	DECLARE t0 timestamptz := clock_timestamp();
	BEGIN EXECUTE q; RETURN extract(epoch FROM clock_timestamp() - t0) * 1000; END \$\$;
SQL

# every column decoded and converted: a qual on each
SCAN="SELECT count(*) FROM items WHERE id IS NOT NULL AND text IS NOT NULL AND vector IS NOT NULL AND val IS NOT NULL"
fdw_scan() {	# workers -> best ms of 3
	cluster_psql -qAt -d postgres -c "SET max_parallel_workers_per_gather = $1; SET parallel_setup_cost = 0;
		SET parallel_tuple_cost = 0; SELECT min(ms(\$q\$$SCAN\$q\$)) FROM generate_series(1, 3)"
}
SERIAL_MS=$(fdw_scan 0)
PAR_MS=$(fdw_scan 2)
ROWS=$(cluster_psql -qAt -d postgres -c "SELECT count(*) FROM items")

TOPK=$(cluster_psql -qAt -d postgres <<-'SQL'
	SELECT ms(format('SELECT * FROM items ORDER BY vector <-> %L LIMIT 10', v)) FROM q WHERE n = 0;  -- warm-up
	WITH t AS (
	  SELECT n, ms(format('SELECT * FROM items ORDER BY vector <-> %L LIMIT 10', v)) AS ms,
	         (SELECT array_agg(id ORDER BY d, id) FROM (SELECT id, vector <-> q.v AS d FROM items
	           ORDER BY vector <-> q.v LIMIT 10) s) AS got, want
	    FROM q)
	SELECT round(avg(ms)::numeric, 1) || ' ' ||
	       count(*) FILTER (WHERE (SELECT array_agg(x ORDER BY x) FROM unnest(got) x) =
	                              (SELECT array_agg(x ORDER BY x) FROM unnest(want) x)) || ' ' || count(*)
	  FROM t;
SQL
)
TOPK=$(echo "$TOPK" | tail -n 1)
read -r TOPK_MS SAME NQ_DONE <<<"$TOPK"
EXPLAIN=$(cluster_psql -qAt -d postgres -c "EXPLAIN (COSTS OFF) SELECT * FROM items ORDER BY vector <-> (SELECT v FROM q WHERE n = 0) LIMIT 10" | grep -c "Lance Top-K" || true)

python3 - "$HERE/results/lancedb.json" "$ROWS" "$SERIAL_MS" "$PAR_MS" "$TOPK_MS" "$SAME" "$NQ_DONE" "$EXPLAIN" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows, serial, par, topk, same, nq, pushed = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7], sys.argv[8]
base = d["scan_rows_per_s"]
print(f"rows: {rows} (LanceDB read {d['scanned']})")
print(f"full scan, LanceDB toArrow (all columns):    {base:12.0f} rows/s  (1.00x)")
print(f"full scan, lance_fdw serial (all columns):  {rows / serial * 1000:12.0f} rows/s  ({rows / serial * 1000 / base:.2f}x)")
print(f"full scan, lance_fdw 2 workers + leader:    {rows / par * 1000:12.0f} rows/s  ({rows / par * 1000 / base:.2f}x)")
print(f"top-10 exact, LanceDB vectorSearch bypassVectorIndex: {d['topk_mean_ms']:8.1f} ms mean (1.00x)")
print(f"top-10 exact, lance_fdw pushdown (SELECT *):          {topk:8.1f} ms mean ({topk / d['topk_mean_ms']:.2f}x)  "
      f"top-k pushed down: {'yes' if pushed != '0' else 'NO'}; same ids as LanceDB: {same}/{nq}")
PY
