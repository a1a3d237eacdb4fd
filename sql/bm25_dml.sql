-- lance_bm25 after the build: inserts into the delta, flushes into
-- segments, tiered merges, deletes and VACUUM; scores checked against a
-- brute-force BM25 over the live rows after each step
SET client_min_messages = warning;
CREATE SCHEMA bm25_dml;
SET search_path = bm25_dml, public;
SET jit = off;
CREATE TABLE d (id int PRIMARY KEY, body text);
CREATE FUNCTION gen(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg((ARRAY['alpha','beta','gamma','delta','epsilon','zeta','eta','theta','iota','kappa','lambda','omega'])
                    [1 + floor(power(((hashint4(i * 97 + j) & 65535) / 65536.0)::float8, 2) * 12)::int], ' ')
    FROM generate_series(1, 3 + i % 11) j $$;
INSERT INTO d SELECT i, gen(i) FROM generate_series(1, 500) i;
CREATE INDEX d_idx ON d USING lance_bm25 (body);
SET enable_seqscan = off;

-- brute force over the current rows
CREATE FUNCTION bf(q text) RETURNS TABLE (id int, score float8) LANGUAGE sql AS $$
  WITH toks AS (SELECT d.id, t FROM d, unnest(lancedb.tokenize(body, 'd_idx'::regclass)) t),
       dl AS (SELECT d.id, cardinality(lancedb.tokenize(body, 'd_idx'::regclass)) AS len FROM d),
       st AS (SELECT count(*)::float8 AS n, avg(len)::float8 AS avgdl FROM dl),
       qt AS (SELECT DISTINCT unnest(lancedb.tokenize(q, 'd_idx'::regclass)) AS t),
       df AS (SELECT t, count(DISTINCT id) AS df FROM toks JOIN qt USING (t) GROUP BY t),
       tf AS (SELECT id, t, count(*) AS tf FROM toks JOIN qt USING (t) GROUP BY id, t)
  SELECT tf.id, sum(ln(1 + (st.n - df + 0.5) / (df + 0.5)) * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl.len / st.avgdl)))
    FROM tf JOIN df USING (t) JOIN dl USING (id), st GROUP BY tf.id $$;
-- index top k vs brute force: counts, per-row scores, k-th score
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
SELECT check_q('alpha', 10) AS built, check_q('kappa omega', 30) AS built2;

-- single-row inserts: the delta, then flushed segments and merges
INSERT INTO d SELECT i, gen(i) FROM generate_series(501, 560) i;
SELECT (s ->> 'delta_docs')::int AS delta_docs, (s ->> 'num_docs')::int AS num_docs
  FROM lancedb.index_stats('d_idx') s;
SELECT check_q('alpha', 10) AS with_delta, check_q('kappa omega', 30) AS with_delta2;
DO $$ BEGIN FOR i IN 561..1300 LOOP INSERT INTO d VALUES (i, gen(i)); END LOOP; END $$;
SELECT (s ->> 'num_docs')::int AS num_docs, (s ->> 'merges')::int > 0 AS merged,
       (s ->> 'num_segments')::int <= 8 AS few_segments,
       (s ->> 'inserted_since_build')::int AS inserted
  FROM lancedb.index_stats('d_idx') s;
SELECT check_q('alpha', 10) AS after_inserts, check_q('kappa omega', 30) AS after_inserts2,
       check_q('iota', 2000) AS all_matches;
-- a row larger than a delta page becomes a segment of its own
INSERT INTO d VALUES (5000, (SELECT string_agg('w' || i || ' alpha', ' ') FROM generate_series(1, 2000) i));
SELECT check_q('alpha', 10) AS big_row;

-- deletes: rows disappear at once (heap), VACUUM marks them in the index
-- and rewrites segments so that N, avgdl and df count live rows only
DELETE FROM d WHERE id % 3 = 0;
SELECT count(*) = 0 AS deleted_not_returned FROM
  (SELECT id FROM d ORDER BY body <&> 'alpha' LIMIT 100) x WHERE id % 3 = 0;
VACUUM d;
SELECT (s ->> 'num_docs')::int = (SELECT count(*) FROM d) AS live_count, (s ->> 'deleted')::int AS deleted
  FROM lancedb.index_stats('d_idx') s;
SELECT check_q('alpha', 10) AS after_vacuum, check_q('kappa omega', 50) AS after_vacuum2;
-- updates: the new version is indexed, the old one goes at VACUUM
UPDATE d SET body = 'zzzunique ' || body WHERE id = 7;
SELECT id FROM d ORDER BY body <&> 'zzzunique' LIMIT 5;
VACUUM d;
SELECT check_q('zeta', 40) AS after_update;
-- an update that leaves the indexed column alone is HOT (the pages have
-- room after the VACUUM above): no index entry is added
ALTER TABLE d ADD COLUMN note text;
SELECT (s ->> 'inserted_since_build')::int AS ins_before FROM lancedb.index_stats('d_idx') s \gset
BEGIN;
UPDATE d SET note = 'seen' WHERE id IN (8, 10, 11);
SELECT n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relid = 'd'::regclass;
COMMIT;
SELECT (s ->> 'inserted_since_build')::int = :ins_before AS no_new_entries
  FROM lancedb.index_stats('d_idx') s;
SELECT id, note FROM d WHERE id IN (8, 10, 11)
   AND body @@@ 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda omega' ORDER BY id;
SELECT check_q('zeta', 40) AS after_hot_update;
-- freed pages are reused: the index does not grow on churn (VACUUM
-- recycles the pages of dropped segments once no snapshot predates the
-- drop, here after a later transaction)
SELECT txid_current() > 0 AS later_xact;
VACUUM d;
SELECT pg_relation_size('d_idx') AS size_before \gset
DELETE FROM d WHERE id > 900;
VACUUM d;
SELECT txid_current() > 0 AS later_xact;
VACUUM d;
INSERT INTO d SELECT i, gen(i) FROM generate_series(901, 1100) i;
VACUUM d;
SELECT pg_relation_size('d_idx') <= :size_before AS no_growth;
SELECT check_q('alpha beta', 25) AS after_churn;
-- TRUNCATE and REINDEX
REINDEX INDEX d_idx;
SELECT check_q('alpha beta', 25) AS after_reindex;
TRUNCATE d;
SELECT count(*) FROM (SELECT id FROM d ORDER BY body <&> 'alpha' LIMIT 5) x;
INSERT INTO d VALUES (1, 'alpha');
SELECT id FROM d ORDER BY body <&> 'alpha' LIMIT 5;
RESET search_path;
DROP SCHEMA bm25_dml CASCADE;
