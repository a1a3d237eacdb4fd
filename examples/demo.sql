-- lancedb demo: run with `psql -X -f examples/demo.sql` (scripts/demo.sh does
-- it against a throwaway cluster).
\set ON_ERROR_STOP on
\pset footer off
\set ECHO queries
SET client_min_messages = warning;

CREATE EXTENSION IF NOT EXISTS lancedb;
SELECT lancedb.simd_path() AS simd_path;

-- 1000 random 3-dimensional vectors (repeatable: fixed seed), stored both
-- as float32 (vector) and float16 (halfvec).
DROP TABLE IF EXISTS items;
CREATE TABLE items (id int PRIMARY KEY, v vector(3), h halfvec(3));
SELECT setseed(0.42) AS seed \gset
INSERT INTO items
SELECT i, arr::vector(3), arr::halfvec(3)
FROM (SELECT i, ARRAY[random(), random(), random()] AS arr
      FROM generate_series(1, 1000) AS i) AS s;
SELECT count(*) AS rows, min(vector_dims(v)) AS dims FROM items;

-- The six distance operators.
SELECT '[1,2,3]'::vector <-> '[4,5,6]' AS l2,
       '[1,2,3]'::vector <#> '[4,5,6]' AS neg_inner_product,
       '[1,2,3]'::vector <=> '[4,5,6]' AS cosine,
       '[1,2,3]'::vector <+> '[4,5,6]' AS l1,
       B'1010' <~> B'0110'             AS hamming,
       B'1010' <%> B'0110'             AS jaccard;

-- Nearest neighbours of [0.5,0.5,0.5] by L2 distance (float32 and float16).
SELECT id, v, v <-> '[0.5,0.5,0.5]' AS dist
FROM items ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 5;
SELECT id, h, h <-> '[0.5,0.5,0.5]' AS dist
FROM items ORDER BY h <-> '[0.5,0.5,0.5]' LIMIT 5;

-- Other metrics on the same data.
SELECT id, v <=> '[1,0,0]' AS cosine FROM items ORDER BY v <=> '[1,0,0]' LIMIT 3;
SELECT id, v <#> '[1,1,1]' AS neg_ip FROM items ORDER BY v <#> '[1,1,1]' LIMIT 3;
SELECT id, v <+> '[0,0,0]' AS l1 FROM items ORDER BY v <+> '[0,0,0]' LIMIT 3;

-- Binary quantization: 1 bit per dimension (centered at 0.5), ranked by
-- Hamming distance, then re-ranked exactly.
SELECT id, binary_quantize(v - '[0.5,0.5,0.5]') AS bits,
       binary_quantize(v - '[0.5,0.5,0.5]') <~> B'111' AS hamming
FROM items ORDER BY binary_quantize(v - '[0.5,0.5,0.5]') <~> B'111', v <-> '[1,1,1]' LIMIT 5;

-- Aggregates: element-wise mean (about [0.5,0.5,0.5]) and sum.
SELECT avg(v) AS avg_v, avg(h) AS avg_h, sum(v) AS sum_v FROM items;

-- lance_ivf: an IVF index with RaBitQ codes (LanceDB's IVF_RQ), 20k x 32-d.
DROP TABLE IF EXISTS docs;
CREATE TABLE docs (id int PRIMARY KEY, category int, embedding vector(32));
INSERT INTO docs
SELECT i, i % 10,
       (SELECT array_agg(sin(i % 50 + j) + random() * 0.3) FROM generate_series(1, 32) j)::vector(32)
FROM generate_series(1, 20000) AS i;
CREATE INDEX docs_embedding_idx ON docs USING lance_ivf (embedding vector_l2_ops)
  WITH (lists = 100, quantizer = 'rq');
SELECT lancedb.index_stats('docs_embedding_idx') - 'pages' AS index_stats;

SET lancedb.nprobes = 10;
EXPLAIN (COSTS OFF)
SELECT id FROM docs ORDER BY embedding <-> (SELECT embedding FROM docs WHERE id = 42) LIMIT 5;
-- nearest neighbours through the index, with exact distances
SELECT id, round((embedding <-> (SELECT embedding FROM docs WHERE id = 42))::numeric, 4) AS dist
FROM docs ORDER BY embedding <-> (SELECT embedding FROM docs WHERE id = 42) LIMIT 5;
-- a filter: iterative scans keep probing until LIMIT rows match
SELECT id, category FROM docs WHERE category = 3
ORDER BY embedding <-> (SELECT embedding FROM docs WHERE id = 42) LIMIT 5;
-- range search (LanceDB's distance_range) through the index
SELECT count(*) AS within_1
FROM docs WHERE embedding <<->> lancedb.sphere((SELECT embedding FROM docs WHERE id = 42), 1.0);
