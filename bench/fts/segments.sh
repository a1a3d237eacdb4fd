#!/usr/bin/env bash
# lance_bm25 segments before and after the maintenance worker merges them
# (issue 9): the Debian corpus (bench/fts/README.md) minus the last --inserts
# rows is indexed, those rows are inserted one per transaction with the
# library preloaded (so the write path leaves merges above
# lancedb.bm25_insert_merge_limit to the worker), and the same top-10
# queries run on the index as the inserts left it and after the worker's
# round merged it.  Same run, same queries: segment count, mean and p50
# server-side latency and the backend's CPU time per query (Linux
# /proc/self/schedstat: less sensitive to machine load than wall time, as
# the two states cannot be measured in alternating passes), --passes passes
# each after a warm-up, shared buffer accesses per query (EXPLAIN (ANALYZE,
# BUFFERS)), and the ratios before / after.
#
#   bash bench/fts/segments.sh                  (500 queries, 32000 inserts)
#   bash bench/fts/segments.sh --inserts 8000 --nq 200 --no-install
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$ROOT/scripts/lib/cluster.sh"
if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
	export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi

NQ=500 NINSERT=32000 PASSES=3 INSTALL=1 TRANSLATION=''
while [ $# -gt 0 ]; do
	case $1 in
		--nq) NQ=$2; shift ;;
		--inserts) NINSERT=$2; shift ;;
		--passes) PASSES=$2; shift ;;
		--translation) TRANSLATION=$2; shift ;;
		--no-install) INSTALL=0 ;;
		-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
		*) echo "unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
say() { printf '== %s\n' "$*" >&2; }

if [ -z "$TRANSLATION" ]; then
	for f in /var/lib/apt/lists/*debian_dists_*_main_i18n_Translation-en.lz4; do
		case $f in
			*-updates_* | *-security_*) ;;
			*) [ -f "$f" ] && { TRANSLATION=$f; break; } ;;
		esac
	done
fi
if [ -z "$TRANSLATION" ] || [ ! -f "$TRANSLATION" ]; then
	echo "no Translation-en file: run 'apt-get update -o Acquire::Languages=en' first" >&2
	exit 1
fi
if [ "$INSTALL" = 1 ]; then
	say "building and installing the extension"
	flock /tmp/lancedb-build.lock make -s -C "$ROOT" -j2 install >/dev/null
fi

cleanup() {
	local rc=$?
	[ "$rc" -ne 0 ] && cluster_log_tail 30 >&2
	cluster_destroy
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# the worker's first round (at start) finds no extension; no other round
# until the restart below
cluster_create lancedb-fts-seg
cluster_as tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null <<-CONF
	# --- added by bench/fts/segments.sh ---
	shared_preload_libraries = 'lancedb'
	lancedb.maintenance = on
	lancedb.maintenance_naptime = 86400
	shared_buffers = 1GB
	max_parallel_workers_per_gather = 0
	jit = off
	autovacuum = off
	max_wal_size = 8GB
CONF
python3 "$HERE/prepare.py" "$TRANSLATION" "$CLUSTER_DIR/docs.tsv"
chown "$CLUSTER_USER" "$CLUSTER_DIR/docs.tsv" 2>/dev/null || true
cluster_start
cluster_env
sleep 2

say "loading, indexing all but $NINSERT rows, inserting those one per transaction"
cluster_psql -d postgres -q -v docs="$CLUSTER_DIR/docs.tsv" -v nq="$NQ" -v ninsert="$NINSERT" <<'SQL'
SET client_min_messages = warning;
SET maintenance_work_mem = '256MB';
CREATE EXTENSION lancedb;
CREATE TABLE src (id int PRIMARY KEY, name text, synopsis text, body text);
COPY src FROM :'docs';
CREATE TABLE pkg (id int PRIMARY KEY, body text);
INSERT INTO pkg SELECT id, body FROM src WHERE id <= (SELECT max(id) FROM src) - :ninsert;
CREATE INDEX pkg_bm25 ON pkg USING lance_bm25 (body);
CREATE TABLE q AS
  SELECT row_number() OVER (ORDER BY hashint4(id), id) AS qid, synopsis AS query
    FROM src WHERE synopsis ~ ' ' ORDER BY hashint4(id), id LIMIT :nq;
CREATE PROCEDURE ins() LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT id, body FROM src WHERE id NOT IN (SELECT id FROM pkg) ORDER BY id LOOP
    INSERT INTO pkg VALUES (r.id, r.body);
    COMMIT;
  END LOOP;
END $$;
CALL ins();
VACUUM ANALYZE pkg;
CREATE TABLE res (state text, pass int, qid bigint, ms float8, bufs bigint);
CREATE TABLE cpu (state text, pass int, cpu_ms float8);
CREATE FUNCTION cpu_ns() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN RETURN split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
EXCEPTION WHEN OTHERS THEN RETURN NULL; END $$;
-- one timed pass (plan cached by PL/pgSQL as an application would)
CREATE FUNCTION run(st text, p int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE r record; t0 timestamptz; n int; c0 bigint := cpu_ns(); nq int := 0;
BEGIN
  FOR r IN SELECT * FROM q ORDER BY qid LOOP
    t0 := clock_timestamp();
    SELECT count(*) INTO n FROM (SELECT id FROM pkg ORDER BY body <&> r.query LIMIT 10) s;
    INSERT INTO res VALUES (st, p, r.qid, extract(epoch FROM clock_timestamp() - t0) * 1000, NULL);
    nq := nq + 1;
  END LOOP;
  INSERT INTO cpu VALUES (st, p, (cpu_ns() - c0) / 1e6 / nq);
END $$;
-- shared buffer accesses of each query (hits + reads), warm caches
CREATE FUNCTION bufs(st text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE r record; p json;
BEGIN
  FOR r IN SELECT * FROM q ORDER BY qid LOOP
    EXECUTE format('EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id FROM pkg ORDER BY body <&> %L LIMIT 10', r.query) INTO p;
    INSERT INTO res VALUES (st, 0, r.qid, NULL,
      (p->0->'Plan'->>'Shared Hit Blocks')::bigint + (p->0->'Plan'->>'Shared Read Blocks')::bigint);
  END LOOP;
END $$;
CREATE TABLE segs (state text, segments int, bytes bigint);
SQL

measure() {
	cluster_psql -d postgres -q -v st="$1" -v passes="$PASSES" <<'SQL'
SET max_parallel_workers_per_gather = 0;
SET enable_seqscan = off;
SELECT run(:'st', 0) \g /dev/null
DELETE FROM res WHERE state = :'st';
DELETE FROM cpu WHERE state = :'st';
SELECT run(:'st', p) FROM generate_series(1, :passes) p \g /dev/null
SELECT bufs(:'st') \g /dev/null
INSERT INTO segs SELECT :'st', (s->>'num_segments')::int, pg_relation_size('pkg_bm25') FROM lancedb.index_stats('pkg_bm25') s;
SQL
}

say "measuring the index as the inserts left it"
measure before

say "restarting with a 1 s naptime: the worker merges"
cluster_as tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null <<< "lancedb.maintenance_naptime = 1"
cluster_stop
cluster_start
cluster_env
t0=$(date +%s)
until [ "$(cluster_psql -d postgres -Atq -c "SELECT count(*) FROM lancedb.maintenance_status WHERE relation = 'pkg_bm25' AND status = 'done'") " != "0 " ] &&
	[ "$(cluster_psql -d postgres -Atq -c "SELECT coalesce(lancedb.index_stats('pkg_bm25')->'health'->>'needs', 'none')")" = none ]; do
	[ $(( $(date +%s) - t0 )) -lt 600 ] || { echo "the worker did not finish merging in 600 s" >&2; exit 1; }
	sleep 1
done
say "measuring after the worker's merges"
measure after

cluster_psql -d postgres -q <<'SQL'
\pset footer off
\echo
\echo '== lance_bm25 top-10 on the Debian corpus after single-row inserts: before vs after the maintenance worker merged the segments'
SELECT relation, action, status, round(extract(epoch FROM duration)::numeric, 2) AS seconds, detail
  FROM lancedb.maintenance_status WHERE relation = 'pkg_bm25' ORDER BY id;
WITH l AS (SELECT state, avg(ms) AS mean, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50
             FROM res WHERE pass > 0 GROUP BY state),
     c AS (SELECT state, avg(cpu_ms) AS cpu FROM cpu WHERE pass > 0 GROUP BY state),
     b AS (SELECT state, avg(bufs) AS bufs FROM res WHERE pass = 0 GROUP BY state)
SELECT s.state, s.segments, pg_size_pretty(s.bytes) AS size,
       (SELECT count(*) FROM q) AS queries,
       round(l.mean::numeric, 3) AS mean_ms, round(l.p50::numeric, 3) AS p50_ms,
       round(c.cpu::numeric, 3) AS cpu_ms_per_query, round(b.bufs::numeric, 1) AS buffers_per_query
  FROM segs s JOIN l USING (state) JOIN b USING (state) LEFT JOIN c USING (state)
 ORDER BY s.state DESC;
WITH l AS (SELECT state, avg(ms) AS mean, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50
             FROM res WHERE pass > 0 GROUP BY state),
     c AS (SELECT state, avg(cpu_ms) AS cpu FROM cpu WHERE pass > 0 GROUP BY state),
     b AS (SELECT state, avg(bufs) AS bufs FROM res WHERE pass = 0 GROUP BY state)
SELECT round((lb.mean / la.mean)::numeric, 2) AS mean_before_over_after,
       round((lb.p50 / la.p50)::numeric, 2) AS p50_before_over_after,
       round((cb.cpu / ca.cpu)::numeric, 2) AS cpu_before_over_after,
       round((bb.bufs / ba.bufs)::numeric, 2) AS buffers_before_over_after
  FROM l lb, l la, b bb, b ba, c cb, c ca
 WHERE lb.state = 'before' AND la.state = 'after' AND bb.state = 'before' AND ba.state = 'after'
   AND cb.state = 'before' AND ca.state = 'after';
SQL
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
