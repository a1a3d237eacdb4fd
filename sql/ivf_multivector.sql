-- multivectors (late interaction): lancedb.max_sim, the <=> distances on
-- vector[] and lance_ivf with multivector_cosine_ops
SET client_min_messages = warning;

-- MaxSim(document, query) = sum over query vectors of the best cosine
-- similarity; <=> = |query| - MaxSim
SELECT round(lancedb.max_sim(ARRAY['[1,0]', '[0,1]']::vector[],
                             ARRAY['[1,0]', '[1,1]']::vector[])::numeric, 6) AS max_sim;
SELECT round((ARRAY['[1,0]', '[0,1]']::vector[] <=> ARRAY['[1,0]', '[1,1]']::vector[])::numeric, 6) AS dist,
       round((ARRAY['[1,0]', '[0,1]']::vector[] <=> '[1,1]'::vector)::numeric, 6) AS dist_one,
       round((ARRAY['[3,0]']::vector[] <=> ARRAY['[-1,0]']::vector[])::numeric, 6) AS opposite;
-- asymmetric: the query's vectors are summed over
SELECT round(lancedb.max_sim(ARRAY['[1,0]']::vector[], ARRAY['[1,0]', '[0,1]']::vector[])::numeric, 6) AS doc_one,
       round(lancedb.max_sim(ARRAY['[1,0]', '[0,1]']::vector[], ARRAY['[1,0]']::vector[])::numeric, 6) AS query_one;
-- a zero vector has no direction: similarity 0
SELECT lancedb.max_sim(ARRAY['[0,0]']::vector[], ARRAY['[1,0]']::vector[]) AS zero_doc;
-- empty arrays: nothing to compare
SELECT lancedb.max_sim('{}'::vector[], ARRAY['[1,0]']::vector[]) IS NULL AS empty_doc,
       (ARRAY['[1,0]']::vector[] <=> '{}'::vector[]) IS NULL AS empty_query;
-- errors
SELECT lancedb.max_sim(ARRAY['[1,0]', NULL]::vector[], ARRAY['[1,0]']::vector[]);
SELECT lancedb.max_sim(ARRAY['[1,0]', '[1,0,0]']::vector[], ARRAY['[1,0]']::vector[]);
SELECT lancedb.max_sim(ARRAY['[1,0]']::vector[], ARRAY['[1,0,0]']::vector[]);
SELECT lancedb.max_sim(ARRAY[['[1,0]'], ['[0,1]']]::vector[], ARRAY['[1,0]']::vector[]);

-- 1500 documents of 3 to 10 token vectors around a per-document topic
CREATE TABLE mv (id int PRIMARY KEY, cat int, tokens vector(16)[]);
INSERT INTO mv
SELECT d, d % 10, ARRAY(SELECT ARRAY(SELECT sin(d * 0.37 + t * 0.23 + j * 1.1) + cos(d * 0.051 * j) * 0.3
                                       FROM generate_series(1, 16) j)::vector
                          FROM generate_series(1, 3 + d % 8) t)
  FROM generate_series(1, 1500) d;
INSERT INTO mv VALUES (2001, 1, '{}'), (2002, 1, NULL);   -- not indexed
CREATE INDEX mv_idx ON mv USING lance_ivf (tokens multivector_cosine_ops) WITH (lists = 16, quantizer = 'rq');
-- one entry per token vector
SELECT (lancedb.index_stats('mv_idx')->>'num_indexed_rows')::int = (SELECT sum(cardinality(tokens)) FROM mv) AS one_entry_per_token;

SET lancedb.nprobes = 4;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM mv ORDER BY tokens <=> (SELECT tokens FROM mv WHERE id = 7) LIMIT 10;
-- recall@10 against exact MaxSim over 20 queries (queries are documents'
-- first 3 tokens, perturbed)
CREATE TEMP TABLE mvq AS
  SELECT q, ARRAY(SELECT (tokens[t]::real[] || ARRAY[]::real[])::vector FROM generate_series(1, 3) t) AS qv
    FROM (SELECT g AS q, (SELECT tokens FROM mv WHERE id = g * 71 % 1500 + 1) AS tokens
            FROM generate_series(1, 20) g) s;
CREATE TEMP TABLE mv_index AS
  SELECT q, ARRAY(SELECT id FROM mv ORDER BY tokens <=> mvq.qv LIMIT 10) AS ids FROM mvq;
RESET enable_seqscan;
SET enable_indexscan = off;
CREATE TEMP TABLE mv_exact AS
  SELECT q, ARRAY(SELECT id FROM mv ORDER BY tokens <=> mvq.qv LIMIT 10) AS ids FROM mvq;
RESET enable_indexscan;
SELECT count(*) AS queries,
       sum(cardinality(ARRAY(SELECT unnest(i.ids) INTERSECT SELECT unnest(e.ids)))) / (10.0 * count(*)) >= 0.9 AS recall_at_least_0_9,
       bool_and(i.ids[1] = e.ids[1]) AS best_row_always_found
  FROM mv_index i JOIN mv_exact e USING (q);
-- the first batch (multivector_candidates rows per query vector) comes out
-- in exact MaxSim distance order, each row once
SET enable_seqscan = off;
SELECT bool_and(d >= prev) AS ordered, count(*) AS rows, count(DISTINCT id) AS distinct_rows FROM
  (SELECT id, d, lag(d, 1, 0::float8) OVER () AS prev FROM
    (SELECT id, tokens <=> (SELECT qv FROM mvq WHERE q = 1) AS d FROM mv
      ORDER BY tokens <=> (SELECT qv FROM mvq WHERE q = 1) LIMIT 30) s) t;
-- one query vector against the documents' vectors
CREATE TEMP TABLE mv1 AS
  SELECT array_agg(id) AS ids FROM (SELECT id FROM mv ORDER BY tokens <=> (SELECT tokens[2] FROM mv WHERE id = 300) LIMIT 5) s;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT ids = (SELECT array_agg(id) FROM (SELECT id FROM mv ORDER BY tokens <=> (SELECT tokens[2] FROM mv WHERE id = 300) LIMIT 5) s)
       AS single_vector_query, ids[1] AS best FROM mv1;
RESET enable_indexscan;
SET enable_seqscan = off;
-- a selective filter: later batches take more entries until LIMIT rows pass
SET lancedb.multivector_candidates = 4;
SELECT count(*) AS relaxed_rows FROM
  (SELECT id FROM mv WHERE cat = 3 ORDER BY tokens <=> (SELECT qv FROM mvq WHERE q = 2) LIMIT 25) s;
SET lancedb.iterative_scan = off;
SELECT count(*) < 25 AS off_returns_fewer FROM
  (SELECT id FROM mv WHERE cat = 3 ORDER BY tokens <=> (SELECT qv FROM mvq WHERE q = 2) LIMIT 25) s;
RESET lancedb.iterative_scan;
RESET lancedb.multivector_candidates;
-- ORDER BY a NULL query returns every indexed row once
SELECT count(*) AS rows, count(DISTINCT id) AS distinct_rows FROM
  (SELECT id FROM mv ORDER BY tokens <=> NULL::vector[] LIMIT 5000) s;
-- an empty query is an error
SELECT id FROM mv ORDER BY tokens <=> '{}'::vector[] LIMIT 1;

-- inserts after the build, deletes and VACUUM
INSERT INTO mv VALUES (3000, 0, ARRAY['[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]', '[1,-1,1,-1,1,-1,1,-1,1,-1,1,-1,1,-1,1,-1]']::vector[]);
SELECT id FROM mv ORDER BY tokens <=> ARRAY['[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]', '[1,-1,1,-1,1,-1,1,-1,1,-1,1,-1,1,-1,1,-1]']::vector[] LIMIT 1;
DELETE FROM mv WHERE id = 3000 OR id % 3 = 0;
VACUUM mv;
SELECT count(*) FILTER (WHERE id % 3 = 0 OR id = 3000) AS deleted_rows_returned, count(*) AS rows FROM
  (SELECT id FROM mv ORDER BY tokens <=> (SELECT qv FROM mvq WHERE q = 3) LIMIT 30) s;
SELECT (lancedb.index_stats('mv_idx')->>'num_indexed_rows')::int = (SELECT sum(cardinality(tokens)) FROM mv) AS entries_after_vacuum;
RESET enable_seqscan;
RESET lancedb.nprobes;
DROP TABLE mv;
