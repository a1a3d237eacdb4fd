-- hybrid search: a vector leg (lance_ivf) and a text leg (lance_bm25) fused
-- by RRF, linear combination or MRR, checked against the legs run apart
SET client_min_messages = warning;
CREATE TABLE hdocs (id int PRIMARY KEY, cat int, body text, v vector(3));
INSERT INTO hdocs VALUES
  (1, 1, 'the quick brown fox jumps over the lazy dog', '[1,0,0]'),
  (2, 1, 'a quick brown dog outpaces a quick fox', '[0.9,0.1,0]'),
  (3, 2, 'lazy dogs sleep all day long', '[0,1,0]'),
  (4, 2, 'foxes are quick and clever animals', '[0.7,0.7,0]'),
  (5, 1, 'the brown bear eats honey', '[0,0,1]'),
  (6, 2, 'quick quick quick fox fox', '[0.2,0.2,0.9]'),
  (7, 1, 'nothing to see here', '[0.5,0.5,0.5]'),
  (8, 2, 'a dog and a fox are friends', '[0.95,0,0.05]');
CREATE INDEX hdocs_body ON hdocs USING lance_bm25 (body);
CREATE INDEX hdocs_v ON hdocs USING lance_ivf (v vector_l2_ops) WITH (lists = 1);

-- the two legs, ranked (both through their indexes)
SET enable_seqscan = off;
CREATE TEMP VIEW vleg AS
  SELECT id, v <-> '[1,0,0]' AS d, row_number() OVER (ORDER BY v <-> '[1,0,0]') AS r
    FROM (SELECT * FROM hdocs ORDER BY v <-> '[1,0,0]' LIMIT 5) s;
CREATE TEMP VIEW tleg AS
  SELECT id, -(body <&> 'quick fox') AS s, row_number() OVER (ORDER BY body <&> 'quick fox') AS r
    FROM (SELECT * FROM hdocs WHERE body @@@ 'quick fox' ORDER BY body <&> 'quick fox' LIMIT 5) x;

-- RRF (k = 60): 1/(60 + rank) summed over the legs a row is in (each leg
-- takes k rows, the candidates option's default, like the views above)
SELECT (item).id, round(_relevance_score::numeric, 6) AS relevance
  FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'quick fox', k => 5);
SELECT bool_and(abs(h._relevance_score - e.rel) < 1e-12) AS rrf_matches_legs,
       count(*) AS rows
  FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'quick fox', k => 5) h
  JOIN (SELECT coalesce(v.id, t.id) AS id, lancedb.rrf(v.r, t.r) AS rel
          FROM vleg v FULL JOIN tleg t USING (id)) e ON e.id = (h.item).id;
-- by hand: row 2 is 2nd by vector and 1st or 2nd by text
SELECT round(lancedb.rrf(1, 2)::numeric, 8) AS rrf_1_2, round((1.0 / 61 + 1.0 / 62)::numeric, 8) AS by_hand;
-- MRR (0.5 / 0.5): weighted reciprocal ranks
SELECT bool_and(abs(h._relevance_score - e.rel) < 1e-12) AS mrr_matches_legs
  FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'quick fox', k => 5, reranker => 'mrr') h
  JOIN (SELECT coalesce(v.id, t.id) AS id, lancedb.mrr(v.r, t.r) AS rel
          FROM vleg v FULL JOIN tleg t USING (id)) e ON e.id = (h.item).id;
-- linear (0.7 vector): min-max normalised distance (inverted) and score
SELECT bool_and(abs(h._relevance_score - e.rel) < 1e-9) AS linear_matches_legs
  FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'quick fox', k => 5, reranker => 'linear') h
  JOIN (SELECT coalesce(v.id, t.id) AS id,
               lancedb.linear_combination(1 - (v.d - (SELECT min(d) FROM vleg)) / ((SELECT max(d) FROM vleg) - (SELECT min(d) FROM vleg)),
                                          (t.s - (SELECT min(s) FROM tleg)) / ((SELECT max(s) FROM tleg) - (SELECT min(s) FROM tleg))) AS rel
          FROM vleg v FULL JOIN tleg t USING (id)) e ON e.id = (h.item).id;
-- return_score = all keeps both legs' figures
SELECT (item).id, round(_distance::numeric, 4) AS distance, _score IS NOT NULL AS has_score
  FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'quick fox', k => 3,
                             options => '{"return_score": "all"}');
-- a filter applies to both legs (prefilter: k rows when k match)
SELECT count(*) AS rows, bool_and((item).cat = 2) AS all_cat_2
  FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'quick fox', k => 3, filter => 'cat = 2');
-- FtsQuery JSON as the text query
SELECT count(*) > 0 AS json_query_works
  FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body',
                             '{"match": {"column": "body", "terms": "fox"}}'::jsonb, k => 3);
-- prefilter semantics even when the session turned iterative scans off: a
-- selective filter on a many-list index still yields k rows
CREATE TABLE hbig (id int PRIMARY KEY, cat int, body text, v vector(2));
INSERT INTO hbig SELECT i, i % 100, 'item ' || i || ' common', ARRAY[cos(i * 0.1), sin(i * 0.1)]::vector
  FROM generate_series(1, 3000) i;
CREATE INDEX ON hbig USING lance_ivf (v vector_l2_ops) WITH (lists = 30);
CREATE INDEX ON hbig USING lance_bm25 (body);
SET lancedb.nprobes = 1;
SET lancedb.iterative_scan = off;
SELECT count(*) AS plain_leg_rows   -- fewer than 5: one list holds few cat = 7 rows
  FROM (SELECT id FROM hbig WHERE cat = 7 ORDER BY v <-> '[1,0]' LIMIT 5) s;
SELECT count(*) AS hybrid_rows, bool_and((item).cat = 7) AS all_match
  FROM lancedb.hybrid_search(NULL::hbig, 'v', '[1,0]', 'body', 'common', k => 5, filter => 'cat = 7',
							 options => '{"candidates": 5}');
SELECT count(*) FILTER (WHERE _distance IS NOT NULL) AS vector_leg_rows
  FROM lancedb.hybrid_search(NULL::hbig, 'v', '[1,0]', 'body', 'nomatch', k => 5, filter => 'cat = 7',
							 options => '{"candidates": 5, "return_score": "all"}');
SHOW lancedb.iterative_scan;
RESET lancedb.iterative_scan;
RESET lancedb.nprobes;
DROP TABLE hbig;

-- errors
\set VERBOSITY terse
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', reranker => 'cohere');
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', options => '{"kk": 1}');
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', normalize_by => 'z');
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', options => '{"metric": "<~>"}');
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', options => '{"k": 0}');
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', options => '{"weight": 1.5}');
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', options => '{"candidates": 2.5}');
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', options => '{"return_score": 1}');
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', options => '[1]');
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', k => 0);
-- nulls are errors, never a crash
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', NULL, 'body', 'fox');
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', NULL::text);
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, NULL, '[1,0,0]', 'body', 'fox');
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', k => NULL);
SELECT * FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', reranker => NULL);
SELECT count(*) FROM lancedb.hybrid_search(NULL::hdocs, 'v', '[1,0,0]', 'body', 'fox', options => NULL);
SELECT * FROM lancedb._hybrid_exec(NULL::hdocs, 'v', '<->', NULL::vector, 'body', 'fox', NULL, 5, 5, 0, 60, 0.7, 0.5, 0.5, false, false, NULL);
SELECT * FROM lancedb._hybrid_exec(NULL::hdocs, 'v', '<->', '[1,0,0]', 'body', NULL, NULL, 5, 5, 0, 60, 0.7, 0.5, 0.5, false, false, NULL);
\set VERBOSITY default
RESET enable_seqscan;
DROP VIEW vleg, tleg;
DROP TABLE hdocs;
