-- lance_bm25 queries: scores against a brute-force BM25 computed here in
-- SQL from lancedb.tokenize (k1 1.2, b 0.75, Lucene idf, exact lengths),
-- plain strings, AND, phrases, fuzzy and prefix expansion, boolean, boost,
-- multi_match, query strings, WHERE @@@, filters with LIMIT, errors.
SET client_min_messages = warning;
CREATE SCHEMA bm25_query;
SET search_path = bm25_query, public;
SET extra_float_digits = 0;
SET jit = off;
CREATE TABLE docs (id int PRIMARY KEY, body text, title text, cat int);
-- skewed draws from a small vocabulary (stems, stop words, accents)
INSERT INTO docs
SELECT i,
       (SELECT string_agg(w[1 + floor(power(((hashint4(i * 131 + j) & 65535) / 65536.0)::float8, 2) * array_length(w, 1))::int], ' ')
          FROM generate_series(1, 4 + (i % 23)) j),
       (SELECT string_agg(w[1 + ((hashint4(i * 7 + j) & 65535) % array_length(w, 1))], ' ')
          FROM generate_series(1, 3) j),
       i % 7
  FROM generate_series(1, 3000) i,
       (SELECT '{the,cat,cats,car,cart,bat,puppy,puppies,happy,running,runs,runner,park,dog,dogs,and,of,in,café,cafe,naïve,river,bank,money,stream,water,fish,bird,tree,forest,mountain,data,index,search,query,ranking,score,segment,posting,list}'::text[] AS w) v;
INSERT INTO docs VALUES (3001, NULL, NULL, 0), (3002, '', '', 0);
-- stop words kept so that brute-force positions are token ordinals
CREATE INDEX docs_fts ON docs USING lance_bm25 (body) WITH (with_position = true, remove_stop_words = false);
CREATE INDEX docs_title_fts ON docs USING lance_bm25 (title);
SET enable_seqscan = off;
SET enable_bitmapscan = off;

-- brute force: tokens of every doc with the index's analyzer
CREATE TABLE toks AS
  SELECT id, t, o - 1 AS pos
    FROM docs, unnest(lancedb.tokenize(body, 'docs_fts'::regclass)) WITH ORDINALITY AS u(t, o)
   WHERE body IS NOT NULL;
CREATE INDEX ON toks (id, pos);
CREATE TABLE dl AS
  SELECT id, coalesce(cardinality(lancedb.tokenize(body, 'docs_fts'::regclass)), 0) AS len
    FROM docs WHERE body IS NOT NULL;
ALTER TABLE dl ADD PRIMARY KEY (id);
ANALYZE toks, dl;
CREATE INDEX ON toks (t);
CREATE TABLE st AS SELECT count(*)::float8 AS n, avg(len)::float8 AS avgdl FROM dl;
CREATE FUNCTION bf_idf(df bigint) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT ln(1 + ((SELECT n FROM st) - df + 0.5) / (df + 0.5)) $$;
CREATE FUNCTION bf_tf(tf float8, len int, avgdl float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avgdl)) $$;
-- OR of the analysed terms (or of given tokens), weight w; AND if all_terms
CREATE FUNCTION bf_terms(qt text[], w float8 DEFAULT 1, all_terms bool DEFAULT false)
RETURNS TABLE (id int, score float8) LANGUAGE sql AS $$
  WITH q AS (SELECT DISTINCT unnest(qt) AS t),
       df AS (SELECT q.t, count(DISTINCT k.id) AS df FROM q JOIN toks k USING (t) GROUP BY q.t),
       tf AS (SELECT k.id, q.t, count(*) AS tf FROM q JOIN toks k USING (t) GROUP BY k.id, q.t)
  SELECT tf.id, sum(w * bf_idf(df.df) * bf_tf(tf.tf, dl.len, st.avgdl))
    FROM tf JOIN df USING (t) JOIN dl USING (id), st
   GROUP BY tf.id
  HAVING NOT all_terms OR count(*) = (SELECT count(*) FROM q)
$$;
CREATE FUNCTION bf(q text, w float8 DEFAULT 1, all_terms bool DEFAULT false)
RETURNS TABLE (id int, score float8) LANGUAGE sql AS $$
  SELECT * FROM bf_terms(lancedb.tokenize(q, 'docs_fts'::regclass), w, all_terms)
$$;
-- exact two-term phrase "a b"
CREATE FUNCTION bf_phrase2(a text, b text, w float8 DEFAULT 1)
RETURNS TABLE (id int, score float8) LANGUAGE sql AS $$
  WITH f AS (SELECT x.id, count(*) AS freq FROM toks x JOIN toks y ON y.id = x.id AND y.pos = x.pos + 1
              WHERE x.t = a AND y.t = b GROUP BY x.id)
  SELECT f.id, w * (bf_idf((SELECT count(DISTINCT id) FROM toks WHERE t = a)) +
                    bf_idf((SELECT count(DISTINCT id) FROM toks WHERE t = b))) * bf_tf(f.freq, dl.len, st.avgdl)
    FROM f JOIN dl USING (id), st
$$;

-- compare an index query's top k with the brute force: same count, every
-- returned score equal to the row's brute-force score, and the k-th best
-- brute-force score equal (ties may order rows differently)
CREATE TABLE ixres (q text, rank int, id int, score float8);
CREATE TABLE bfres (q text, id int, score float8);
CREATE FUNCTION verdict(name text, k int) RETURNS text LANGUAGE sql AS $$
  SELECT name || ': ' ||
    CASE WHEN (SELECT count(*) FROM ixres WHERE q = name) <> least(k, (SELECT count(*) FROM bfres WHERE q = name))
         THEN 'row count ' || (SELECT count(*) FROM ixres WHERE q = name) || ' vs ' || least(k, (SELECT count(*) FROM bfres WHERE q = name))
         WHEN EXISTS (SELECT 1 FROM ixres i LEFT JOIN bfres b ON b.q = i.q AND b.id = i.id
                       WHERE i.q = name AND (b.id IS NULL OR abs(b.score - i.score) > 1e-5))
         THEN 'score mismatch'
         WHEN EXISTS (SELECT 1 FROM (SELECT score, row_number() OVER (ORDER BY score DESC) r FROM bfres WHERE q = name) b
                        JOIN (SELECT score, row_number() OVER (ORDER BY score DESC) r FROM ixres WHERE q = name) i USING (r)
                       WHERE abs(b.score - i.score) > 1e-5)
         THEN 'not the top k'
         WHEN EXISTS (SELECT 1 FROM ixres a JOIN ixres b ON a.q = b.q AND b.rank = a.rank + 1
                       WHERE a.q = name AND b.score > a.score + 1e-12)
         THEN 'out of order'
         ELSE 'ok (' || (SELECT count(*) FROM ixres WHERE q = name) || ' rows)' END
$$;

-- plain string: OR of the analysed terms
INSERT INTO ixres SELECT 'or', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> 'happy puppies running' AS s FROM docs ORDER BY body <&> 'happy puppies running' LIMIT 10) x;
INSERT INTO bfres SELECT 'or', * FROM bf('happy puppies running');
SELECT verdict('or', 10);
-- rows beyond the first batch, and every match
INSERT INTO ixres SELECT 'or250', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> 'bank river' AS s FROM docs ORDER BY body <&> 'bank river' LIMIT 250) x;
INSERT INTO bfres SELECT 'or250', * FROM bf('bank river');
SELECT verdict('or250', 250);
INSERT INTO ixres SELECT 'orall', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> 'mountain' AS s FROM docs ORDER BY body <&> 'mountain') x;
INSERT INTO bfres SELECT 'orall', * FROM bf('mountain');
SELECT verdict('orall', 100000);
-- score in the select list equals the ORDER BY value
SELECT bool_and(a = b) AS score_in_select_list FROM
  (SELECT -(body <&> 'fish water') AS a, -(body <&> 'fish water') AS b FROM docs ORDER BY body <&> 'fish water' LIMIT 5) x;
-- the plan: an index scan ordered by the operator, no sort
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY body <&> 'fish' LIMIT 5;

-- match JSON, AND
INSERT INTO ixres SELECT 'and', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> '{"match": {"terms": "fish water", "operator": "And"}}'::jsonb AS s FROM docs
    ORDER BY body <&> '{"match": {"terms": "fish water", "operator": "And"}}'::jsonb LIMIT 20) x;
INSERT INTO bfres SELECT 'and', * FROM bf('fish water', 1, true);
SELECT verdict('and', 20);
-- boost multiplies the score
INSERT INTO ixres SELECT 'boost', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> '{"match": {"terms": "forest", "boost": 2.5, "fuzziness": 0}}'::jsonb AS s FROM docs
    ORDER BY body <&> '{"match": {"terms": "forest", "boost": 2.5, "fuzziness": 0}}'::jsonb LIMIT 10) x;
INSERT INTO bfres SELECT 'boost', * FROM bf('forest', 2.5);
SELECT verdict('boost', 10);
-- fuzziness 1: "cat" expands to cat, car, bat, cart (cats stems to cat)
INSERT INTO ixres SELECT 'fuzzy', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> '{"match": {"terms": "cat", "fuzziness": 1}}'::jsonb AS s FROM docs
    ORDER BY body <&> '{"match": {"terms": "cat", "fuzziness": 1}}'::jsonb LIMIT 15) x;
INSERT INTO bfres SELECT 'fuzzy', * FROM bf_terms('{cat,car,bat,cart}');
SELECT verdict('fuzzy', 15);
-- AUTO fuzziness (missing = AUTO): "mountian" (8 letters) allows 2 edits
INSERT INTO ixres SELECT 'auto', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> '{"match": {"terms": "mountian"}}'::jsonb AS s FROM docs
    ORDER BY body <&> '{"match": {"terms": "mountian"}}'::jsonb LIMIT 10) x;
INSERT INTO bfres SELECT 'auto', * FROM bf('mountain');
SELECT verdict('auto', 10);
-- max_expansions caps the expansion (1: the closest term, cat itself)
INSERT INTO ixres SELECT 'maxexp', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> '{"match": {"terms": "cat", "fuzziness": 1, "max_expansions": 1}}'::jsonb AS s FROM docs
    ORDER BY body <&> '{"match": {"terms": "cat", "fuzziness": 1, "max_expansions": 1}}'::jsonb LIMIT 15) x;
INSERT INTO bfres SELECT 'maxexp', * FROM bf_terms('{cat}');
SELECT verdict('maxexp', 15);
-- prefix_length 1 keeps the first letter: c-words only (cat, car, cart)
INSERT INTO ixres SELECT 'prefixlen', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> '{"match": {"terms": "cat", "fuzziness": 1, "prefix_length": 1}}'::jsonb AS s FROM docs
    ORDER BY body <&> '{"match": {"terms": "cat", "fuzziness": 1, "prefix_length": 1}}'::jsonb LIMIT 15) x;
INSERT INTO bfres SELECT 'prefixlen', * FROM bf_terms('{cat,car,cart}');
SELECT verdict('prefixlen', 15);
-- phrase, exact
INSERT INTO ixres SELECT 'phrase', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> '{"phrase": {"terms": "river bank"}}'::jsonb AS s FROM docs
    ORDER BY body <&> '{"phrase": {"terms": "river bank"}}'::jsonb LIMIT 10) x;
INSERT INTO bfres SELECT 'phrase', * FROM bf_phrase2('river', 'bank');
SELECT verdict('phrase', 10);
-- query strings become FtsQuery JSON
SELECT lancedb.query_string('"river bank"~2 cat~1^2 +fish -bird pre* title:data^1.5');
SELECT lancedb.query_string('happy puppy');
-- prefix: searc* = search (stemmed "search")
INSERT INTO ixres SELECT 'prefix', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> lancedb.query_string('searc*') AS s FROM docs
    ORDER BY body <&> lancedb.query_string('searc*') LIMIT 10) x;
INSERT INTO bfres SELECT 'prefix', * FROM bf_terms('{search}');
SELECT verdict('prefix', 10);
-- boolean: +fish +water -bird  (must, must, must_not)
INSERT INTO ixres SELECT 'bool', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> lancedb.query_string('+fish +water -bird') AS s FROM docs
    ORDER BY body <&> lancedb.query_string('+fish +water -bird') LIMIT 20) x;
INSERT INTO bfres SELECT 'bool', b.* FROM bf('fish water', 1, true) b
  WHERE b.id NOT IN (SELECT id FROM toks WHERE t = 'bird');
SELECT verdict('bool', 20);
-- boolean with should: must fish, should tree adds its score where present
INSERT INTO ixres SELECT 'should', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> '{"boolean": {"must": [{"match": {"terms": "fish", "fuzziness": 0}}], "should": [{"match": {"terms": "tree", "fuzziness": 0}}], "must_not": []}}'::jsonb AS s FROM docs
    ORDER BY body <&> '{"boolean": {"must": [{"match": {"terms": "fish", "fuzziness": 0}}], "should": [{"match": {"terms": "tree", "fuzziness": 0}}], "must_not": []}}'::jsonb LIMIT 20) x;
INSERT INTO bfres SELECT 'should', f.id, f.score + coalesce(t.score, 0) FROM bf('fish') f LEFT JOIN bf('tree') t USING (id);
SELECT verdict('should', 20);
-- boost query: docs matching the negative query are scaled by negative_boost
INSERT INTO ixres SELECT 'boostq', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> '{"boost": {"positive": {"match": {"terms": "stream", "fuzziness": 0}}, "negative": {"match": {"terms": "money", "fuzziness": 0}}, "negative_boost": 0.25}}'::jsonb AS s FROM docs
    ORDER BY body <&> '{"boost": {"positive": {"match": {"terms": "stream", "fuzziness": 0}}, "negative": {"match": {"terms": "money", "fuzziness": 0}}, "negative_boost": 0.25}}'::jsonb LIMIT 30) x;
INSERT INTO bfres SELECT 'boostq', s.id, s.score * CASE WHEN s.id IN (SELECT id FROM toks WHERE t = 'money') THEN 0.25 ELSE 1 END FROM bf('stream') s;
SELECT verdict('boostq', 30);
-- multi_match over body and title (each column has its own index)
CREATE TABLE ttoks AS
  SELECT id, t FROM docs, unnest(lancedb.tokenize(title, 'docs_title_fts'::regclass)) t WHERE title IS NOT NULL;
CREATE TABLE tdl AS
  SELECT id, coalesce(cardinality(lancedb.tokenize(title, 'docs_title_fts'::regclass)), 0) AS len FROM docs WHERE title IS NOT NULL;
INSERT INTO ixres SELECT 'multi', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> '{"multi_match": {"query": "segment", "columns": ["body", "title"], "boost": [1.0, 2.0]}}'::jsonb AS s FROM docs
    ORDER BY body <&> '{"multi_match": {"query": "segment", "columns": ["body", "title"], "boost": [1.0, 2.0]}}'::jsonb LIMIT 20) x;
INSERT INTO bfres SELECT 'multi', id, sum(score) FROM (
  SELECT * FROM bf('segment')
  UNION ALL
  SELECT x.id, 2.0 * ln(1 + ((SELECT count(*) FROM tdl) - df + 0.5) / (df + 0.5))
         * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * tdl.len / (SELECT avg(len) FROM tdl)))
    FROM (SELECT id, count(*) AS tf FROM ttoks WHERE t = 'segment' GROUP BY id) x
    JOIN tdl USING (id), (SELECT count(DISTINCT id) AS df FROM ttoks WHERE t = 'segment') d
) u GROUP BY id;
SELECT verdict('multi', 20);

-- WHERE col @@@ query: exactly the matching rows, answered by the index
SELECT count(*) = (SELECT count(*) FROM bf('kingfisher bird')) AS match_count FROM docs WHERE body @@@ 'kingfisher bird';
SELECT count(*) = (SELECT count(*) FROM bf('fish water', 1, true)) AS match_and
  FROM docs WHERE body @@@ '{"match": {"terms": "fish water", "operator": "And"}}'::jsonb;
RESET enable_bitmapscan;
SET enable_indexscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM docs WHERE body @@@ 'bird';
SELECT count(*) = (SELECT count(*) FROM bf('bird')) AS bitmap_match FROM docs WHERE body @@@ 'bird';
RESET enable_indexscan;
SET enable_bitmapscan = off;

-- ranked search with another filter returns k rows when k match
INSERT INTO ixres SELECT 'filtered', row_number() OVER (), id, -s FROM
  (SELECT id, body <&> 'dog' AS s FROM docs WHERE cat = 3 ORDER BY body <&> 'dog' LIMIT 40) x;
INSERT INTO bfres SELECT 'filtered', b.* FROM bf('dog') b JOIN docs USING (id) WHERE docs.cat = 3;
SELECT verdict('filtered', 40);
-- ranked by one query among the rows matching another
SELECT count(*) AS rows, bool_and(id IN (SELECT id FROM bf('fish'))) AS all_match
  FROM (SELECT id FROM docs WHERE body @@@ 'fish' ORDER BY body <&> 'water' LIMIT 1000) x;

-- text[] and varchar columns
CREATE TABLE arr (id int, tags text[], name varchar(100));
INSERT INTO arr VALUES (1, '{"red apple","green pear"}', 'Crème Brûlée'), (2, '{"apple pie"}', 'apple'),
  (3, '{banana,NULL,cherry}', 'banana split'), (4, NULL, NULL);
CREATE INDEX arr_tags ON arr USING lance_bm25 (tags) WITH (with_position = true);
CREATE INDEX arr_name ON arr USING lance_bm25 (name);
SELECT id FROM arr ORDER BY tags <&> 'apple' LIMIT 5;
SELECT id FROM arr ORDER BY tags <&> '{"phrase": {"terms": "pear"}}'::jsonb LIMIT 5;
SELECT id FROM arr WHERE tags @@@ 'cherry';
SELECT id FROM arr ORDER BY name <&> 'creme brulee' LIMIT 5;

-- errors: malformed JSON, unknown fields, bad syntax, phrase without
-- positions, MUST_NOT alone, unknown column, no index scan
SELECT id FROM docs ORDER BY body <&> '{"match": {"terms": "x", "color": 1}}'::jsonb LIMIT 1;
SELECT id FROM docs ORDER BY body <&> '{"match": {"term": "x"}}'::jsonb LIMIT 1;
SELECT id FROM docs ORDER BY body <&> '{"matchx": {"terms": "x"}}'::jsonb LIMIT 1;
SELECT id FROM docs ORDER BY body <&> '{"match": {"terms": "x", "fuzziness": 3}}'::jsonb LIMIT 1;
SELECT id FROM docs ORDER BY body <&> '{"boolean": {"must_not": [{"match": {"terms": "x"}}]}}'::jsonb LIMIT 1;
SELECT lancedb.query_string('"unterminated');
SELECT lancedb.query_string('a AND');
SELECT id FROM docs ORDER BY title <&> '{"phrase": {"terms": "data index"}}'::jsonb LIMIT 1;
SELECT id FROM docs ORDER BY body <&> '{"match": {"terms": "x", "column": "nosuch"}}'::jsonb LIMIT 1;
-- outside an index scan the operators need a column with a lance_bm25 index
SELECT 'x' <&> 'x';
SELECT id FROM docs WHERE cat::text @@@ 'x';
RESET search_path;
DROP SCHEMA bm25_query CASCADE;
