-- lance_bm25 benchmark body; run by run.sh with psql variables
--   docs (path of docs.tsv), nq (queries), nq_big (queries at scale),
--   dup (copies of the corpus for the scale run), ninsert (single-row inserts),
--   passes (alternating passes over the fresh and the inserted index)
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
SET jit = off;
SET max_parallel_maintenance_workers = 0;
SET max_parallel_workers_per_gather = 0;
SET maintenance_work_mem = '256MB';
CREATE EXTENSION IF NOT EXISTS lancedb;
CREATE TABLE pkg (id int PRIMARY KEY, name text, synopsis text, body text);
COPY pkg FROM :'docs';
ALTER TABLE pkg ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED;
VACUUM ANALYZE pkg;
-- known-item queries: synopses of a fixed pseudo-random sample of packages
CREATE TABLE q AS
  SELECT row_number() OVER (ORDER BY hashint4(id), id) AS qid, id AS target, synopsis AS query
    FROM pkg WHERE synopsis ~ ' ' ORDER BY hashint4(id), id LIMIT :nq;

CREATE TABLE timing (what text, seconds float8, bytes bigint);
CREATE TABLE res (method text, corpus text, qid bigint, ms float8, ids int[]);

-- builds (one backend, no parallel workers)
SELECT clock_timestamp() AS t0 \gset
CREATE INDEX pkg_bm25 ON pkg USING lance_bm25 (body);
INSERT INTO timing SELECT 'build lance_bm25 64k', extract(epoch FROM clock_timestamp() - :'t0'), pg_relation_size('pkg_bm25');
SELECT clock_timestamp() AS t0 \gset
CREATE INDEX pkg_gin ON pkg USING gin (tsv);
INSERT INTO timing SELECT 'build gin 64k', extract(epoch FROM clock_timestamp() - :'t0'), pg_relation_size('pkg_gin');
ANALYZE pkg;

-- brute-force BM25 (same analyzer, same formula) for quality
CREATE TABLE tk AS SELECT id, t, count(*) AS tf FROM pkg, unnest(lancedb.tokenize(body, 'pkg_bm25'::regclass)) t GROUP BY id, t;
CREATE TABLE dlen AS SELECT id, coalesce(cardinality(lancedb.tokenize(body, 'pkg_bm25'::regclass)), 0) AS len FROM pkg;
CREATE TABLE dfs AS SELECT t, count(*) AS df FROM tk GROUP BY t;
CREATE INDEX ON tk (t);
CREATE INDEX ON dfs (t);
CREATE INDEX ON dlen (id);
ANALYZE tk, dlen, dfs;
SELECT count(*)::float8 AS n, avg(len)::float8 AS avgdl FROM dlen \gset

-- one timed pass of a method over the queries of a corpus (server-side
-- time per query, plan cached by PL/pgSQL as an application would)
CREATE FUNCTION run(method text, corpus text, lim int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record; t0 timestamptz; ids int[]; tq tsquery;
BEGIN
  FOR r IN SELECT * FROM q ORDER BY qid LIMIT lim LOOP
    t0 := clock_timestamp();
    IF method = 'lance_bm25' AND corpus IN ('64k', 'fresh') THEN
      SELECT array_agg(id) INTO ids FROM (SELECT id FROM pkg ORDER BY body <&> r.query LIMIT 10) s;
    ELSIF method = 'lance_bm25' AND corpus = 'big' THEN
      SELECT array_agg(id) INTO ids FROM (SELECT id FROM pkg_big ORDER BY body <&> r.query LIMIT 10) s;
    ELSIF method = 'lance_bm25' AND corpus = 'inserted' THEN
      SELECT array_agg(id) INTO ids FROM (SELECT id FROM pkg_ins ORDER BY body <&> r.query LIMIT 10) s;
    ELSIF method = 'gin_or' THEN
      tq := to_tsquery('english', coalesce(nullif(replace(plainto_tsquery('english', r.query)::text, ' & ', ' | '), ''), 'xxxxxxxx'));
      IF corpus = '64k' THEN
        SELECT array_agg(id) INTO ids FROM (SELECT id FROM pkg WHERE tsv @@ tq ORDER BY ts_rank_cd(tsv, tq) DESC LIMIT 10) s;
      ELSE
        SELECT array_agg(id) INTO ids FROM (SELECT id FROM pkg_big WHERE tsv @@ tq ORDER BY ts_rank_cd(tsv, tq) DESC LIMIT 10) s;
      END IF;
    ELSIF method = 'gin_and' THEN
      tq := plainto_tsquery('english', r.query);
      IF corpus = '64k' THEN
        SELECT array_agg(id) INTO ids FROM (SELECT id FROM pkg WHERE tsv @@ tq ORDER BY ts_rank_cd(tsv, tq) DESC LIMIT 10) s;
      ELSE
        SELECT array_agg(id) INTO ids FROM (SELECT id FROM pkg_big WHERE tsv @@ tq ORDER BY ts_rank_cd(tsv, tq) DESC LIMIT 10) s;
      END IF;
    ELSIF method = 'brute_bm25' THEN
      SELECT array_agg(id ORDER BY s DESC, id) INTO ids FROM (
        SELECT tk.id, sum(ln(1 + (current_setting('bench.n')::float8 - df + 0.5) / (df + 0.5))
                          * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / current_setting('bench.avgdl')::float8))) AS s
          FROM (SELECT DISTINCT unnest(lancedb.tokenize(r.query, 'pkg_bm25'::regclass)) AS t) qt
          JOIN dfs USING (t) JOIN tk USING (t) JOIN dlen USING (id)
         GROUP BY tk.id ORDER BY s DESC, tk.id LIMIT 10) x;
    END IF;
    INSERT INTO res VALUES (method, corpus, r.qid, extract(epoch FROM clock_timestamp() - t0) * 1000, ids);
  END LOOP;
END $$;
SELECT set_config('bench.n', :'n', false), set_config('bench.avgdl', :'avgdl', false) \gset

-- warm the caches, then measure
SELECT run('lance_bm25', '64k', 100), run('gin_or', '64k', 20), run('gin_and', '64k', 100) \g /dev/null
TRUNCATE res;
SELECT run('lance_bm25', '64k', :nq) \g /dev/null
SELECT run('gin_or', '64k', :nq) \g /dev/null
SELECT run('gin_and', '64k', :nq) \g /dev/null
SELECT run('brute_bm25', '64k', :nq) \g /dev/null

\echo
\echo '== 64k Debian package descriptions: known-item search (query = synopsis, target = its package), top 10'
SELECT method,
       count(*) AS queries,
       round(avg(CASE WHEN pos BETWEEN 1 AND 10 THEN 1.0 / pos ELSE 0 END)::numeric, 4) AS "MRR@10",
       round(avg(CASE WHEN pos BETWEEN 1 AND 10 THEN 1 ELSE 0 END)::numeric, 4) AS "recall@10",
       round(avg(CASE WHEN coalesce(cardinality(ids), 0) = 0 THEN 1 ELSE 0 END)::numeric, 3) AS empty,
       round(avg(ms)::numeric, 3) AS mean_ms,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS p50_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS p99_ms,
       round((SELECT avg(ms) FROM res WHERE method = 'gin_or' AND corpus = '64k')::numeric / avg(ms)::numeric, 1) AS speedup_vs_gin_or
  FROM (SELECT r.*, array_position(r.ids, q.target) AS pos FROM res r JOIN q USING (qid) WHERE corpus = '64k') x
 GROUP BY method ORDER BY mean_ms;
\echo '== agreement of lance_bm25 top 10 with brute-force BM25 (same ids, in order)'
SELECT count(*) AS queries,
       sum(CASE WHEN a.ids IS NOT DISTINCT FROM b.ids THEN 1 ELSE 0 END) AS identical_top10,
       sum(CASE WHEN a.ids @> b.ids AND a.ids <@ b.ids THEN 1 ELSE 0 END) AS same_set
  FROM res a JOIN res b USING (qid) WHERE a.method = 'lance_bm25' AND b.method = 'brute_bm25' AND a.corpus = '64k' AND b.corpus = '64k';

-- 10k single-row inserts into a freshly built index, then the same queries
CREATE TABLE pkg_ins (id int PRIMARY KEY, body text);
INSERT INTO pkg_ins SELECT id, body FROM pkg WHERE id <= (SELECT max(id) FROM pkg) - :ninsert ORDER BY id;
CREATE INDEX pkg_ins_bm25 ON pkg_ins USING lance_bm25 (body);
SELECT clock_timestamp() AS t0 \gset
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT id, body FROM pkg WHERE id NOT IN (SELECT id FROM pkg_ins) ORDER BY id LOOP
    INSERT INTO pkg_ins VALUES (r.id, r.body); COMMIT;
  END LOOP; END $$;
INSERT INTO timing SELECT 'single-row inserts (' || :ninsert || ', one transaction each)',
       extract(epoch FROM clock_timestamp() - :'t0'), pg_relation_size('pkg_ins_bm25');
-- the fresh and the inserted index in alternating passes, so that both see
-- the same machine load; CPU time of the backend too (Linux schedstat)
CREATE FUNCTION cpu_ns() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN RETURN split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
EXCEPTION WHEN OTHERS THEN RETURN NULL; END $$;
CREATE TABLE passes (corpus text, pass int, cpu_ms float8);
CREATE FUNCTION alternate(npasses int, lim int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE c0 bigint; c text;
BEGIN
  FOR p IN 1..npasses LOOP
    FOREACH c IN ARRAY ARRAY['fresh', 'inserted'] LOOP
      c0 := cpu_ns();
      PERFORM run('lance_bm25', c, lim);
      INSERT INTO passes VALUES (c, p, (cpu_ns() - c0) / 1e6 / lim);
    END LOOP;
  END LOOP;
END $$;
SELECT run('lance_bm25', 'inserted', 100), run('lance_bm25', 'fresh', 100) \g /dev/null
DELETE FROM res WHERE corpus IN ('inserted', 'fresh');
SELECT alternate(:passes, :nq) \g /dev/null
\echo '== after single-row inserts into a built index vs the freshly built index (alternating passes over both)'
WITH m AS (SELECT corpus, avg(ms) AS mean, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50
             FROM res WHERE method = 'lance_bm25' AND corpus IN ('fresh', 'inserted') GROUP BY corpus),
     c AS (SELECT corpus, avg(cpu_ms) AS cpu FROM passes GROUP BY corpus)
SELECT (SELECT count(*) FROM pkg_ins) AS rows,
       (SELECT (s ->> 'num_segments') || ' segments, ' || (s ->> 'delta_docs') || ' in delta, ' || (s ->> 'merges') || ' merges'
          FROM lancedb.index_stats('pkg_ins_bm25') s) AS structure,
       round(i.mean::numeric, 3) AS mean_ms_after_inserts, round(f.mean::numeric, 3) AS mean_ms_fresh,
       round((i.mean / f.mean)::numeric, 2) AS ratio,
       round((i.p50 / f.p50)::numeric, 2) AS p50_ratio,
       round((ci.cpu / cf.cpu)::numeric, 2) AS cpu_ratio,
       (SELECT count(*) FROM (SELECT DISTINCT qid, ids FROM res WHERE method = 'lance_bm25' AND corpus = 'inserted') a
          JOIN res b USING (qid) WHERE b.method = 'lance_bm25' AND b.corpus = '64k'
           AND a.ids @> b.ids AND a.ids <@ b.ids) AS same_top10_set
  FROM m i, m f, c ci, c cf
 WHERE i.corpus = 'inserted' AND f.corpus = 'fresh' AND ci.corpus = 'inserted' AND cf.corpus = 'fresh';

-- scale: the corpus :dup times (distinct ids), builds and latency
CREATE TABLE pkg_big (id int, body text, tsv tsvector);
INSERT INTO pkg_big SELECT id + k * 1000000, body, tsv FROM pkg, generate_series(0, :dup - 1) k;
VACUUM ANALYZE pkg_big;
SELECT clock_timestamp() AS t0 \gset
CREATE INDEX pkg_big_bm25 ON pkg_big USING lance_bm25 (body);
INSERT INTO timing SELECT 'build lance_bm25 ' || (SELECT count(*) FROM pkg_big), extract(epoch FROM clock_timestamp() - :'t0'), pg_relation_size('pkg_big_bm25');
SELECT clock_timestamp() AS t0 \gset
CREATE INDEX pkg_big_gin ON pkg_big USING gin (tsv);
INSERT INTO timing SELECT 'build gin ' || (SELECT count(*) FROM pkg_big), extract(epoch FROM clock_timestamp() - :'t0'), pg_relation_size('pkg_big_gin');
ANALYZE pkg_big;
SELECT run('lance_bm25', 'big', 50) \g /dev/null
DELETE FROM res WHERE corpus = 'big';
SELECT run('lance_bm25', 'big', :nq_big), run('gin_or', 'big', :nq_big), run('gin_and', 'big', :nq_big) \g /dev/null
\echo '== scale: the corpus duplicated (same queries; MRR is not meaningful with duplicates)'
SELECT method, count(*) AS queries,
       round(avg(ms)::numeric, 3) AS mean_ms,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS p50_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS p99_ms,
       round((SELECT avg(ms) FROM res WHERE method = 'gin_or' AND corpus = 'big')::numeric / avg(ms)::numeric, 1) AS speedup_vs_gin_or
  FROM res WHERE corpus = 'big' GROUP BY method ORDER BY mean_ms;
\echo '== builds (one backend, maintenance_work_mem 256MB) and sizes'
SELECT what, round(seconds::numeric, 2) AS seconds, pg_size_pretty(bytes) AS size FROM timing;
SELECT round(((SELECT seconds FROM timing WHERE what = 'build lance_bm25 64k') / (SELECT seconds FROM timing WHERE what = 'build gin 64k'))::numeric, 2) AS build_time_vs_gin_64k,
       round(((SELECT bytes FROM timing WHERE what = 'build lance_bm25 64k')::numeric / (SELECT bytes FROM timing WHERE what = 'build gin 64k')), 2) AS size_vs_gin_64k;
