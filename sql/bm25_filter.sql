-- col <&> query and col @@@ query outside a lance_bm25 index scan
-- (sequential scans, sorts, joins): the same scores and matches as the
-- index, computed from each row's value and the index's statistics
SET client_min_messages = warning;
CREATE SCHEMA bm25_filter;
SET search_path = bm25_filter, public;
SET jit = off;
SET extra_float_digits = 0;
CREATE TABLE d (id int PRIMARY KEY, body text, tags text[], v varchar, other text);
INSERT INTO d
SELECT i,
       (SELECT string_agg(w[1 + floor(power(((hashint4(i * 131 + j) & 65535) / 65536.0)::float8, 2) * array_length(w, 1))::int], ' ')
          FROM generate_series(1, 4 + (i % 17)) j),
       ARRAY[w[1 + i % 9], w[1 + (i * 7) % 13] || ' ' || w[1 + (i * 3) % 11]],
       w[1 + i % 5] || ' ' || w[1 + i % 7],
       'plain'
  FROM generate_series(1, 1500) i,
       (SELECT '{the,cat,cats,car,cart,bat,puppy,puppies,happy,running,runs,runner,park,dog,dogs,café,cafe,river,bank,money,stream,water,fish,bird,tree,search,query,score}'::text[] AS w) v;
INSERT INTO d VALUES (2001, NULL, NULL, NULL, NULL), (2002, '', '{}', '', '');
CREATE INDEX d_body ON d USING lance_bm25 (body) WITH (with_position = true);
CREATE INDEX d_tags ON d USING lance_bm25 (tags);
CREATE INDEX d_v ON d USING lance_bm25 (v);
-- the rows after the build go to the delta and a flushed segment
INSERT INTO d SELECT id + 1500, body || ' river', tags, v, other FROM d WHERE id BETWEEN 1 AND 200;
DELETE FROM d WHERE id % 50 = 0;
VACUUM d;

-- ranked: through the index / by a sort over a sequential scan
CREATE FUNCTION ix(q jsonb) RETURNS TABLE (id int, score float8) LANGUAGE sql
  SET enable_seqscan = off SET enable_bitmapscan = off SET enable_indexscan = on AS $$
  SELECT id, -(body <&> q) FROM d ORDER BY body <&> q LIMIT 25 $$;
CREATE FUNCTION sq(q jsonb) RETURNS TABLE (id int, score float8) LANGUAGE sql
  SET enable_seqscan = on SET enable_bitmapscan = off SET enable_indexscan = off AS $$
  SELECT id, -(body <&> q) FROM d WHERE body @@@ q ORDER BY body <&> q LIMIT 25 $$;
-- matches: index (bitmap) / filter of a sequential scan
CREATE FUNCTION ixm(q jsonb) RETURNS int[] LANGUAGE sql
  SET enable_seqscan = off SET enable_bitmapscan = on SET enable_indexscan = off AS $$
  SELECT array_agg(id ORDER BY id) FROM d WHERE body @@@ q $$;
CREATE FUNCTION sqm(q jsonb) RETURNS int[] LANGUAGE sql
  SET enable_seqscan = on SET enable_bitmapscan = off SET enable_indexscan = off AS $$
  SELECT array_agg(id ORDER BY id) FROM d WHERE body @@@ q $$;
-- same rows in rank order (up to ties at the cut) and equal scores
CREATE FUNCTION cmp(q jsonb) RETURNS text LANGUAGE sql AS $$
  WITH a AS (SELECT *, row_number() OVER () AS r FROM ix(q)),
       b AS (SELECT *, row_number() OVER () AS r FROM sq(q))
  SELECT CASE
    WHEN (SELECT count(*) FROM a) <> (SELECT count(*) FROM b) THEN 'row count differs'
    WHEN (SELECT count(*) FROM a) = 0 THEN 'no rows'
    WHEN EXISTS (SELECT 1 FROM a JOIN b USING (r) WHERE abs(a.score - b.score) > 1e-9) THEN 'rank scores differ'
    WHEN EXISTS (SELECT 1 FROM a JOIN b USING (id) WHERE abs(a.score - b.score) > 1e-9) THEN 'row scores differ'
    WHEN ixm(q) IS DISTINCT FROM sqm(q) THEN 'matches differ'
    ELSE 'ok' END $$;
SELECT q, cmp(q::jsonb) FROM (VALUES
  ('{"match": {"terms": "puppy"}}'),
  ('{"match": {"terms": "happy puppies in the park"}}'),
  ('{"match": {"terms": "happy puppy", "operator": "And"}}'),
  ('{"match": {"terms": "runing", "fuzziness": 1}}'),
  ('{"match": {"terms": "pupy cafe", "fuzziness": null, "boost": 2.5}}'),
  ('{"match": {"terms": "ca*", "prefix": true}}'),
  ('{"phrase": {"terms": "happy puppy"}}'),
  ('{"phrase": {"terms": "dog park", "slop": 2}}'),
  ('{"boost": {"positive": {"match": {"terms": "river"}}, "negative": {"match": {"terms": "bank"}}, "negative_boost": 0.3}}'),
  ('{"multi_match": {"query": "fish bird", "columns": ["body"], "boost": [1.5]}}'),
  ('{"boolean": {"must": [{"match": {"terms": "water"}}], "should": [{"match": {"terms": "fish"}}], "must_not": [{"match": {"terms": "tree"}}]}}'),
  ('{"boolean": {"should": [{"match": {"terms": "money"}}, {"phrase": {"terms": "river bank"}}]}}')
) t(q);
SELECT cmp(lancedb.query_string('"happy puppy"~1 +river -money')) AS query_string;

-- plain text queries, scores in the select list and a filter
SET enable_indexscan = off; SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id, body <&> 'happy cats' FROM d WHERE body @@@ 'happy cats' ORDER BY 2 LIMIT 5;
CREATE TEMP TABLE s1 AS SELECT id, body <&> 'happy cats' AS s FROM d WHERE body @@@ 'happy cats' ORDER BY 2, 1 LIMIT 10;
RESET enable_indexscan; RESET enable_bitmapscan;
SET enable_seqscan = off;
CREATE TEMP TABLE s2 AS SELECT id, body <&> 'happy cats' AS s FROM d ORDER BY body <&> 'happy cats' LIMIT 10;
RESET enable_seqscan;
SELECT count(*) AS rows, bool_and(abs(s1.s - s2.s) < 1e-9) AS same_scores FROM s1 JOIN s2 USING (id);
-- a row that does not match scores 0 and is not matched
SELECT body <&> 'zzzz' AS score, body @@@ 'zzzz' AS matched FROM d WHERE id = 1;
-- text[] and varchar columns
SET enable_indexscan = off; SET enable_bitmapscan = off;
SELECT count(*) FILTER (WHERE tags @@@ 'cats') AS tag_matches, count(*) FILTER (WHERE v @@@ 'puppy') AS v_matches FROM d;
CREATE TEMP TABLE t1 AS SELECT id, tags <&> 'cat river' AS s FROM d WHERE tags @@@ 'cat river' ORDER BY 2, 1 LIMIT 10;
RESET enable_indexscan; RESET enable_bitmapscan;
SET enable_seqscan = off;
CREATE TEMP TABLE t2 AS SELECT id, tags <&> 'cat river' AS s FROM d ORDER BY tags <&> 'cat river' LIMIT 10;
SELECT (SELECT count(*) FROM d WHERE tags @@@ 'cats') AS tag_matches_ix, (SELECT count(*) FROM d WHERE v @@@ 'puppy') AS v_matches_ix;
RESET enable_seqscan;
SELECT count(*) AS rows, bool_and(abs(t1.s - t2.s) < 1e-9) AS same_scores FROM t1 JOIN t2 USING (id);
-- above a join (the column's origin is kept through the plan)
SET enable_indexscan = off; SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF, VERBOSE) SELECT a.id, a.body <&> 'fish'
  FROM d a JOIN d b ON b.id = a.id + 1 WHERE a.body @@@ 'fish' ORDER BY a.body <&> 'fish', a.id LIMIT 3;
SELECT a.id, round((a.body <&> 'fish')::numeric, 6) = round((SELECT -score FROM ix('{"match": {"terms": "fish"}}') WHERE id = a.id)::numeric, 6) AS same
  FROM d a JOIN d b ON b.id = a.id + 1 WHERE a.body @@@ 'fish' ORDER BY a.body <&> 'fish', a.id LIMIT 3;
RESET enable_indexscan; RESET enable_bitmapscan;

-- errors: no column, no index, another column's query
SET enable_indexscan = off; SET enable_bitmapscan = off;
SELECT 'fish' <&> 'fish';
SELECT count(*) FROM d WHERE other @@@ 'plain';
SELECT count(*) FROM d WHERE body @@@ '{"match": {"terms": "fish", "column": "tags"}}'::jsonb;
SELECT count(*) FROM d WHERE tags @@@ '{"phrase": {"terms": "happy cat"}}'::jsonb;
RESET search_path;
DROP SCHEMA bm25_filter CASCADE;
