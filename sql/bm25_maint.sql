-- lance_bm25 maintenance (what the background worker runs, on demand
-- through lancedb.optimize): small segments merged, deleted docs purged,
-- scores checked against a brute-force BM25 before and after
SET client_min_messages = warning;
CREATE SCHEMA bm25_maint;
SET search_path = bm25_maint, public;
SET jit = off;
CREATE TABLE d (id int PRIMARY KEY, body text);
CREATE FUNCTION gen(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg((ARRAY['alpha','beta','gamma','delta','epsilon','zeta','eta','theta','iota','kappa','lambda','omega'])
                    [1 + floor(power(((hashint4(i * 97 + j) & 65535) / 65536.0)::float8, 2) * 12)::int], ' ')
    FROM generate_series(1, 3 + i % 11) j $$;
INSERT INTO d SELECT i, gen(i) FROM generate_series(1, 6000) i;
CREATE INDEX d_idx ON d USING lance_bm25 (body);
SET enable_seqscan = off;
CREATE FUNCTION bf(q text) RETURNS TABLE (id int, score float8) LANGUAGE sql AS $$
  WITH toks AS (SELECT d.id, t FROM d, unnest(lancedb.tokenize(body, 'd_idx'::regclass)) t),
       dl AS (SELECT d.id, cardinality(lancedb.tokenize(body, 'd_idx'::regclass)) AS len FROM d),
       st AS (SELECT count(*)::float8 AS n, avg(len)::float8 AS avgdl FROM dl),
       qt AS (SELECT DISTINCT unnest(lancedb.tokenize(q, 'd_idx'::regclass)) AS t),
       df AS (SELECT t, count(DISTINCT id) AS df FROM toks JOIN qt USING (t) GROUP BY t),
       tf AS (SELECT id, t, count(*) AS tf FROM toks JOIN qt USING (t) GROUP BY id, t)
  SELECT tf.id, sum(ln(1 + (st.n - df + 0.5) / (df + 0.5)) * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl.len / st.avgdl)))
    FROM tf JOIN df USING (t) JOIN dl USING (id), st GROUP BY tf.id $$;
CREATE FUNCTION check_q(q text, k int) RETURNS text LANGUAGE sql AS $$
  WITH ix AS (SELECT id, -(body <&> q) AS score, row_number() OVER () AS r
                FROM (SELECT id, body FROM d ORDER BY body <&> q LIMIT k) x),
       b AS (SELECT * FROM bf(q)),
       br AS (SELECT score, row_number() OVER (ORDER BY score DESC) AS r FROM b)
  SELECT CASE
    WHEN (SELECT count(*) FROM ix) <> least(k, (SELECT count(*) FROM b)) THEN 'row count differs'
    WHEN EXISTS (SELECT 1 FROM ix LEFT JOIN b USING (id) WHERE b.id IS NULL OR abs(ix.score - b.score) > 1e-5) THEN 'score differs'
    WHEN EXISTS (SELECT 1 FROM ix JOIN br USING (r) WHERE abs(ix.score - br.score) > 1e-5) THEN 'not the top k'
    ELSE 'ok' END $$;
CREATE FUNCTION segs() RETURNS TABLE (segments int, docs jsonb, delta int) LANGUAGE sql AS $$
  SELECT (s ->> 'num_segments')::int, jsonb_path_query_array(s, '$.segments[*].docs'), (s ->> 'delta_docs')::int
    FROM lancedb.index_stats('d_idx') s $$;

-- a freshly built index needs nothing
SELECT o ->> 'action' AS action, o ->> 'segments' AS segments FROM lancedb.optimize('d_idx') o;

-- single-row inserts leave small segments beside the built one
DO $$ BEGIN FOR i IN 6001..6700 LOOP INSERT INTO d VALUES (i, gen(i)); END LOOP; END $$;
SELECT * FROM segs();
SELECT check_q('alpha', 10) AS before, check_q('kappa omega', 30) AS before2;
SELECT o ->> 'action' AS action, o ->> 'reason' AS reason FROM lancedb.optimize('d_idx') o;
SELECT * FROM segs();
SELECT check_q('alpha', 10) AS after, check_q('kappa omega', 30) AS after2,
       check_q('iota', 10000) AS all_matches;
-- done: nothing left to merge
SELECT o ->> 'action' AS action FROM lancedb.optimize('d_idx') o;
SELECT status, detail FROM lancedb.maintenance_log
 WHERE relid = 'd_idx'::regclass AND action = 'merge' ORDER BY id;

-- deleted docs in the delta: VACUUM flags them, maintenance flushes them out
DO $$ BEGIN FOR i IN 7001..7040 LOOP INSERT INTO d VALUES (i, gen(i)); END LOOP; END $$;
DELETE FROM d WHERE id BETWEEN 7001 AND 7020;
VACUUM d;
SELECT * FROM segs();
SELECT o ->> 'action' AS action, o ->> 'reason' AS reason, (o ->> 'deleted')::float8 > 0 AS has_deleted
  FROM lancedb.optimize('d_idx') o;
SELECT * FROM segs();
SELECT check_q('alpha', 10) AS after_purge, check_q('lambda zeta', 40) AS after_purge2;

-- settings
SHOW lancedb.bm25_insert_merge_limit;
SHOW lancedb.bm25_purge_fraction;
RESET search_path;
DROP SCHEMA bm25_maint CASCADE;
