-- search layer: batch search, exact search on demand
SET client_min_messages = warning;
CREATE TABLE items (id int PRIMARY KEY, cat int, v vector(3));
INSERT INTO items SELECT i, i % 5, ARRAY[sin(i), cos(i), i % 7] FROM generate_series(1, 3000) i;
CREATE INDEX items_v_idx ON items USING lance_ivf (v vector_l2_ops) WITH (lists = 10);
SET lancedb.nprobes = 10;

-- batch search: the k nearest rows of every query vector with its position
SELECT query_index, round(_distance::numeric, 4) AS distance, (item).id
  FROM lancedb.batch_search(NULL::items, 'v', ARRAY['[0,1,2]', '[1,0,5]', '[0.5,0.5,0]']::vector[], 3);
-- equals one query per vector
SELECT bool_and(b.ids = s.ids) AS same_as_single_queries FROM
  (SELECT query_index, array_agg((item).id ORDER BY _distance) AS ids
     FROM lancedb.batch_search(NULL::items, 'v', ARRAY['[0,1,2]', '[1,0,5]', '[0.5,0.5,0]']::vector[], 4)
    GROUP BY query_index) b
  JOIN (SELECT i AS query_index, ARRAY(SELECT id FROM items ORDER BY v <-> q LIMIT 4) AS ids
          FROM unnest(ARRAY['[0,1,2]', '[1,0,5]', '[0.5,0.5,0]']::vector[]) WITH ORDINALITY AS u(q, i)) s
  USING (query_index);
-- other metrics, a filter, whole rows
SELECT query_index, (item).id, (item).cat
  FROM lancedb.batch_search(NULL::items, 'v', ARRAY['[0,1,2]']::vector[], 3, '<=>', 'cat = 2');
SELECT count(*) AS rows FROM lancedb.batch_search(NULL::items, 'v', ARRAY['[0,1,2]', '[1,1,1]']::vector[], 5, '<#>');
-- through the index, re-scanned per query vector
CREATE FUNCTION explain_json(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || q INTO j;
  RETURN j::jsonb;
END $$;
SELECT s->>'Index Name' AS index, s->>'Loops' AS loops FROM jsonb_array_elements(explain_json(
  'SELECT q.i, s.id FROM unnest(ARRAY[''[0,1,2]'', ''[1,0,5]'']::vector[]) WITH ORDINALITY AS q(v, i),
     LATERAL (SELECT id FROM items ORDER BY v <-> q.v LIMIT 3) s') -> 1 -> 'Lancedb Scans') s;
-- errors
SELECT * FROM lancedb.batch_search(NULL::items, 'v', ARRAY['[0,1,2]']::vector[], 3, 'DROP');
SELECT * FROM lancedb.batch_search(NULL::items, 'v', ARRAY['[0,1,2]']::vector[], 0);
SELECT * FROM lancedb.batch_search(NULL::items, 'nope', ARRAY['[0,1,2]']::vector[], 3);

-- exact search on demand (LanceDB's bypass_vector_index)
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[0,1,2]' LIMIT 3;
SET lancedb.bypass_vector_index = on;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[0,1,2]' LIMIT 3;
SELECT array_agg(id) AS exact FROM (SELECT id FROM items ORDER BY v <-> '[0,1,2]' LIMIT 3) s;
RESET lancedb.bypass_vector_index;

-- the same for lance_hnsw: EXPLAIN ANALYZE reports its scans, bypass skips it
DROP INDEX items_v_idx;
CREATE INDEX items_hnsw ON items USING lance_hnsw (v vector_l2_ops);
SELECT s->>'Index Name' AS index, s->>'Access Method' AS am, s->>'Loops' AS loops,
       (s->>'nodes visited')::int > 0 AS visited, (s->>'rows returned')::int AS returned
  FROM jsonb_array_elements(explain_json(
  'SELECT id FROM items ORDER BY v <-> ''[0,1,2]'' LIMIT 3') -> 1 -> 'Lancedb Scans') s;
SET lancedb.bypass_vector_index = on;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[0,1,2]' LIMIT 3;
RESET lancedb.bypass_vector_index;
DROP FUNCTION explain_json(text);
DROP TABLE items;

-- fast_search (LanceDB's): lance_bm25 leaves out rows still in its delta
CREATE TABLE notes (id int PRIMARY KEY, body text);
INSERT INTO notes SELECT i, 'note about apples number ' || i FROM generate_series(1, 300) i;
CREATE INDEX notes_body ON notes USING lance_bm25 (body);
INSERT INTO notes VALUES (1001, 'bananas are yellow'), (1002, 'ripe bananas');
SELECT (lancedb.index_stats('notes_body')->>'delta_docs')::int > 0 AS rows_in_delta;
SET enable_seqscan = off;
SELECT array_agg(id ORDER BY id) AS all_rows FROM
  (SELECT id FROM notes ORDER BY body <&> 'bananas' LIMIT 5) s;
SET lancedb.fast_search = on;
SELECT count(*) AS indexed_rows_only FROM
  (SELECT id FROM notes ORDER BY body <&> 'bananas' LIMIT 5) s;
RESET lancedb.fast_search;
RESET enable_seqscan;
DROP TABLE notes;
