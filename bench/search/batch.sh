#!/usr/bin/env bash
# Batch search benchmark: LanceDB's batch query (many query vectors, one
# call, query_index beside each result) three ways in one run:
#   - one prepared ORDER BY ... LIMIT k statement per query (the baseline),
#   - lancedb.batch_search(NULL::items, 'v', queries, k),
#   - the LATERAL-join pattern of docs/sql-reference.md as plain SQL.
#
#   bash bench/search/batch.sh [--rows N] [--dim D] [--queries Q] [--no-install]
#
# Prints the server CPU per query (the backend's own utime + stime from
# /proc, so other load on the machine does not count) and the wall time per
# query, each the mean over interleaved passes, and checks that all three
# return the same ids.  All three return whole rows.  A benchmark, not a test.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$ROOT/scripts/lib/cluster.sh"
if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
	export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
ROWS=100000 DIM=64 NQ=200 K=10 INSTALL=1
while [ $# -gt 0 ]; do
	case $1 in
		--rows) ROWS=$2; shift ;;
		--dim) DIM=$2; shift ;;
		--queries) NQ=$2; shift ;;
		--no-install) INSTALL=0 ;;
		*) echo "usage: $0 [--rows N] [--dim D] [--queries Q] [--no-install]" >&2; exit 2 ;;
	esac
	shift
done
say() { printf '== %s\n' "$*" >&2; }
if [ "$INSTALL" = 1 ]; then
	flock /tmp/lancedb-build.lock make -s -C "$ROOT" -j2 install >/dev/null
fi
trap 'cluster_destroy' EXIT
cluster_create lancedb-batchbench
cluster_as tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null <<-CONF
	shared_buffers = 1GB
	maintenance_work_mem = 1GB
	max_parallel_workers_per_gather = 0
	jit = off
	autovacuum = off
CONF
cluster_start
cluster_env
export PGOPTIONS='-c client_min_messages=warning'
q() { cluster_psql -d postgres -Atq -c "$1"; }
q "CREATE EXTENSION lancedb" >/dev/null

say "loading $ROWS x $DIM clustered vectors, building lance_ivf"
cluster_psql -d postgres -q <<-SQL
	SELECT setseed(0.42) AS seed \gset
	CREATE TABLE centres AS SELECT c, ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, $DIM)) AS x
	  FROM generate_series(0, 99) c;
	CREATE TABLE items (id int PRIMARY KEY, v vector($DIM));
	INSERT INTO items SELECT i, (SELECT array_agg(ce.x[j] + (random() - 0.5) * 0.6 ORDER BY j)
	                               FROM generate_series(1, $DIM) j)::vector
	  FROM generate_series(1, $ROWS) i JOIN centres ce ON ce.c = i % 100;
	VACUUM ANALYZE items;
	CREATE INDEX ON items USING lance_ivf (v vector_l2_ops);
	CREATE TABLE queries AS SELECT row_number() OVER ()::int AS qid, v || '[0.01]'::vector AS qv FROM items LIMIT 0;
	INSERT INTO queries SELECT g, (SELECT array_agg(ce.x[j] + (random() - 0.5) * 0.6 ORDER BY j)
	                               FROM generate_series(1, $DIM) j)::vector
	  FROM generate_series(1, $NQ) g JOIN centres ce ON ce.c = g % 100;
	CREATE FUNCTION cpu_ms() RETURNS float8 LANGUAGE sql AS \$\$
	  SELECT (f[12]::bigint + f[13]::bigint) * 1000.0 / 100
	    FROM (SELECT string_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ') f) s
	\$\$;
	-- mean CPU and wall ms per query over reps passes, and a checksum of the ids
	CREATE FUNCTION per_query(method text, reps int, OUT cpu float8, OUT wall float8, OUT ids bigint)
	LANGUAGE plpgsql AS \$\$
	DECLARE c0 float8 := cpu_ms(); t0 timestamptz := clock_timestamp(); qs vector[]; r record; qq record;
	BEGIN
	  SELECT array_agg(qv ORDER BY qid) INTO qs FROM queries;
	  ids := 0;
	  FOR i IN 1..reps LOOP
	    IF method = 'single' THEN
	      FOR qq IN SELECT qid, qv FROM queries ORDER BY qid LOOP
	        FOR r IN SELECT t AS item, t.id FROM items t ORDER BY t.v <-> qq.qv LIMIT $K LOOP ids := ids + qq.qid * r.id; END LOOP;
	      END LOOP;
	    ELSIF method = 'batch' THEN
	      FOR r IN SELECT query_index, item, (item).id FROM lancedb.batch_search(NULL::items, 'v', qs, $K) LOOP
	        ids := ids + r.query_index * r.id;
	      END LOOP;
	    ELSE
	      FOR r IN SELECT q.i AS query_index, s.item, s.id FROM unnest(qs) WITH ORDINALITY AS q(v, i),
	                   LATERAL (SELECT t AS item, t.id FROM items t ORDER BY t.v <-> q.v LIMIT $K) s LOOP
	        ids := ids + r.query_index * r.id;
	      END LOOP;
	    END IF;
	  END LOOP;
	  cpu := (cpu_ms() - c0) / (reps * $NQ);
	  wall := extract(epoch FROM clock_timestamp() - t0) * 1000 / (reps * $NQ);
	  ids := ids / reps;
	END \$\$;
SQL
say "timing (3 interleaved passes of $NQ queries per method, after a warm-up)"
q "SELECT * FROM per_query('single', 1); SELECT * FROM per_query('batch', 1); SELECT * FROM per_query('lateral', 1)" >/dev/null
declare -A CPU WALL IDS
for pass in 1 2 3; do
	for m in single batch lateral; do
		IFS='|' read -r c w i < <(q "SELECT * FROM per_query('$m', 3)")
		CPU[$m]="${CPU[$m]:-} $c" WALL[$m]="${WALL[$m]:-} $w" IDS[$m]=$i
	done
done
mean() { echo "$@" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.4f", s / NF }'; }
CS=$(mean ${CPU[single]})
cat <<-EOF
	# Batch search benchmark ($(date +%Y-%m-%d), lancedb $(git -C "$ROOT" rev-parse --short HEAD))

	- $ROWS x $DIM clustered vectors, lance_ivf (defaults), $NQ queries, k = $K, 3 x 3 passes per method, interleaved
	- load average $(cut -d' ' -f1-3 /proc/loadavg)
	- same ids from all three: $([ "${IDS[single]}" = "${IDS[batch]}" ] && [ "${IDS[single]}" = "${IDS[lateral]}" ] && echo yes || echo "NO (${IDS[single]} ${IDS[batch]} ${IDS[lateral]})")

	| method | server CPU ms / query | x single | wall ms / query |
	|---|---:|---:|---:|
	| one prepared statement per query | $CS | 1.00 | $(mean ${WALL[single]}) |
	| lancedb.batch_search, one call | $(mean ${CPU[batch]}) | $(awk -v a="$(mean ${CPU[batch]})" -v b="$CS" 'BEGIN { printf "%.2f", a / b }') | $(mean ${WALL[batch]}) |
	| LATERAL join, one statement | $(mean ${CPU[lateral]}) | $(awk -v a="$(mean ${CPU[lateral]})" -v b="$CS" 'BEGIN { printf "%.2f", a / b }') | $(mean ${WALL[lateral]}) |
	EOF
