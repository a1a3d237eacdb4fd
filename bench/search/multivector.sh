#!/usr/bin/env bash
# MaxSim (multivector) search benchmark: lance_ivf with multivector_cosine_ops
# against the exact MaxSim scan of the same run, on a throwaway cluster.
#
#   bash bench/search/multivector.sh [--docs N] [--tokens T] [--dim D] [--queries Q]
#
# Data (generated in SQL, seeded): N documents of T/2 to 3T/2 token vectors
# of D dimensions; each document has a topic (one of 64 centres) and its
# tokens are the topic centre plus a per-document offset plus per-token
# noise.  A query is 32 new tokens drawn from one document's distribution.  Prints recall@10 against exact MaxSim and
# queries per second (server-side loop) for nprobes x multivector_candidates.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$ROOT/scripts/lib/cluster.sh"
if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
	export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
DOCS=10000 TOKENS=32 DIM=128 NQ=50 INSTALL=1
while [ $# -gt 0 ]; do
	case $1 in
		--docs) DOCS=$2; shift ;;
		--tokens) TOKENS=$2; shift ;;
		--dim) DIM=$2; shift ;;
		--queries) NQ=$2; shift ;;
		--no-install) INSTALL=0 ;;
		*) echo "usage: $0 [--docs N] [--tokens T] [--dim D] [--queries Q] [--no-install]" >&2; exit 2 ;;
	esac
	shift
done
say() { printf '== %s\n' "$*" >&2; }
if [ "$INSTALL" = 1 ]; then
	flock /tmp/lancedb-build.lock make -s -C "$ROOT" -j2 install >/dev/null
fi
trap 'cluster_destroy' EXIT
cluster_create lancedb-mvbench
cluster_as tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null <<-CONF
	shared_buffers = 2GB
	maintenance_work_mem = 2GB
	max_parallel_workers_per_gather = 0
	jit = off
	autovacuum = off
CONF
cluster_start
cluster_env
export PGOPTIONS='-c client_min_messages=warning'
q() { cluster_psql -d postgres -Atq -c "$1"; }
q "CREATE EXTENSION lancedb" >/dev/null

say "generating $DOCS documents x ~$TOKENS tokens x $DIM dims"
T0=$(date +%s.%N)
cluster_psql -d postgres -q <<-SQL
	SELECT setseed(0.42);
	CREATE TABLE centres AS
	  SELECT c, ARRAY(SELECT random() * 2 - 1 + c * 0 FROM generate_series(1, $DIM)) AS x FROM generate_series(0, 63) c;
	-- every document: its topic's centre plus its own offset
	CREATE TABLE doc_base AS
	  SELECT d, ARRAY(SELECT ce.x[j] + (random() - 0.5) * 1.2 FROM generate_series(1, $DIM) j) AS b
	    FROM generate_series(1, $DOCS) d JOIN centres ce ON ce.c = d % 64;
	CREATE TABLE docs (id int PRIMARY KEY, topic int, tokens vector($DIM)[]);
	INSERT INTO docs
	SELECT d, d % 64, ARRAY(
	    SELECT ARRAY(SELECT b[j] + (random() - 0.5) * 0.8 + t * 0 FROM generate_series(1, $DIM) j)::vector
	      FROM generate_series(1, greatest(1, $TOKENS / 2 + (d * 7919) % ($TOKENS + 1))) t)
	  FROM doc_base;
	-- a query: 32 new tokens of one document's distribution
	CREATE TABLE queries AS
	SELECT g AS qid, ARRAY(
	    SELECT ARRAY(SELECT b[j] + (random() - 0.5) * 0.8 + t * 0 FROM generate_series(1, $DIM) j)::vector
	      FROM generate_series(1, 32) t) AS qv
	  FROM generate_series(1, $NQ) g JOIN doc_base ON d = (g * 7907) % $DOCS + 1;
	VACUUM ANALYZE docs;
SQL
GEN_S=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
ENTRIES=$(q "SELECT sum(cardinality(tokens)) FROM docs")
TABLE_MB=$(q "SELECT round(pg_total_relation_size('docs') / 1048576.0, 1)")

# timed loop on the server: every query once, ids of the top 10 kept
cluster_psql -d postgres -q <<-'SQL'
	CREATE TABLE answers (run text, qid int, ids int[]);
	CREATE FUNCTION run_queries(label text) RETURNS float8 LANGUAGE plpgsql AS $$
	DECLARE t0 timestamptz; r record; n int := 0;
	BEGIN
	  t0 := clock_timestamp();
	  FOR r IN SELECT qid, qv FROM queries ORDER BY qid LOOP
	    INSERT INTO answers SELECT label, r.qid, ARRAY(SELECT id FROM docs ORDER BY tokens <=> r.qv LIMIT 10);
	    n := n + 1;
	  END LOOP;
	  RETURN n / extract(epoch FROM clock_timestamp() - t0);
	END $$;
SQL
say "exact MaxSim scan ($NQ queries)"
EXACT_QPS=$(q "SET lancedb.bypass_vector_index = on; SELECT round(run_queries('exact')::numeric, 2)")
say "building lance_ivf (multivector_cosine_ops) over $ENTRIES token vectors"
T0=$(date +%s.%N)
q "CREATE INDEX docs_mv ON docs USING lance_ivf (tokens multivector_cosine_ops)" >/dev/null
BUILD_S=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
IDX_MB=$(q "SELECT round(pg_relation_size('docs_mv') / 1048576.0, 1)")
LISTS=$(q "SELECT lancedb.index_stats('docs_mv')->>'lists'")

cat <<-EOF
	# MaxSim benchmark ($(date +%Y-%m-%d), lancedb $(git -C "$ROOT" rev-parse --short HEAD))

	- data: $DOCS documents, $ENTRIES token vectors of $DIM dims (generated in ${GEN_S} s), table $TABLE_MB MB; $NQ queries of 32 vectors
	- index: lance_ivf multivector_cosine_ops, rq, $LISTS lists, built in $BUILD_S s, $IDX_MB MB
	- exact MaxSim scan (lancedb.bypass_vector_index = on): $EXACT_QPS QPS
	- load average $(cut -d' ' -f1-3 /proc/loadavg)

	| nprobes | multivector_candidates | recall@10 | QPS | QPS x exact |
	|---:|---:|---:|---:|---:|
EOF
for np in 4 8 16; do
	for mc in 8 16 32 64; do
		label="np$np-mc$mc"
		qps=$(q "SET lancedb.nprobes = $np; SET lancedb.multivector_candidates = $mc; SELECT run_queries('$label')")
		recall=$(q "SELECT round(avg(cardinality(ARRAY(SELECT unnest(a.ids) INTERSECT SELECT unnest(e.ids))) / 10.0), 3)
		              FROM answers a JOIN answers e ON e.qid = a.qid AND e.run = 'exact' WHERE a.run = '$label'")
		printf '| %s | %s | %s | %.1f | %.1f |\n' "$np" "$mc" "$recall" "$qps" \
			"$(awk -v a="$qps" -v b="$EXACT_QPS" 'BEGIN { print a / b }')"
	done
done
