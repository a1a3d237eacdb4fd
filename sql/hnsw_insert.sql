-- lance_hnsw inserts along a curve: 4000 rows inserted one after another
-- into an index built on 3000 clustered rows, eight near-parallel threads
-- of a closed curve (low intrinsic dimension, new rows far from the built
-- ones).  A greedy descent through the upper levels left runs of them
-- linked only to each other and one distant element, found at no
-- ef_search (0-73 rows per run, 6 in 16 runs more than 3); a descent 16
-- candidates wide strands 0-3
SET client_min_messages = warning;
CREATE TABLE hc (id int PRIMARY KEY, v vector(8));
INSERT INTO hc
SELECT i, ARRAY(SELECT sin(i % 25 * 2.1 + j) * 2 + cos(i * 0.71 + j * 1.3) * 0.4
                  FROM generate_series(1, 8) j)
  FROM generate_series(1, 3000) i;
CREATE INDEX hc_idx ON hc USING lance_hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 40);
INSERT INTO hc
SELECT i, ARRAY(SELECT cos(i * 0.013 + j) * 2 + cos(i * 0.29 + j * 2) * 0.05
                  FROM generate_series(1, 8) j)
  FROM generate_series(3001, 7000) i;
SET enable_seqscan = off;
-- every inserted row at a wide ef_search, nearly all at the default
SET lancedb.ef_search = 400;
SELECT count(*) >= 3996 AS found_ef400 FROM hc o
 WHERE o.id > 3000 AND (SELECT i.id FROM hc i ORDER BY i.v <-> o.v LIMIT 1) = o.id;
RESET lancedb.ef_search;
SELECT count(*) >= 3980 AS found_default_ef FROM hc o
 WHERE o.id > 3000 AND (SELECT i.id FROM hc i ORDER BY i.v <-> o.v LIMIT 1) = o.id;
-- and the rows of the build as well
SELECT count(*) >= 2970 AS built_found FROM hc o
 WHERE o.id <= 3000 AND (SELECT i.id FROM hc i ORDER BY i.v <-> o.v LIMIT 1) = o.id;
DROP TABLE hc;

-- Many rows with one vector: 10 vectors x 100 rows each in the build and
-- 100 more each inserted after it, beside 2000 distinct rows, m = 8 (a list
-- holds 16).  Copies keep each other as neighbours, so with candidates at
-- equal distance ordered by key every list kept the same oldest copies
-- (the newer ones found by no query), and copies' lists held nothing but
-- copies (a search reaching them was trapped: 1567 of 1990 rows found
-- themselves with quantizer none).  Ties are now broken at random and take
-- at most half a list.
CREATE TABLE hx (id int PRIMARY KEY, v vector(16));
INSERT INTO hx SELECT i, ARRAY(SELECT sin(i * 1.7 + j) FROM generate_series(1, 16) j)
  FROM generate_series(1, 2000) i;
INSERT INTO hx SELECT 100000 + c * 100 + k, (SELECT v FROM hx WHERE id = k)
  FROM generate_series(1, 10) k, generate_series(1, 100) c;
CREATE FUNCTION hx_copies_found(opclass text, quantizer text)
RETURNS TABLE (built_found bool, inserted_found bool, distinct_found bool)
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM hx WHERE id >= 200000;
  DROP INDEX IF EXISTS hx_idx;
  EXECUTE format('CREATE INDEX hx_idx ON hx USING lance_hnsw (v %s) WITH (m = 8, ef_construction = 40, quantizer = %L)',
                 opclass, quantizer);
  INSERT INTO hx SELECT 200000 + c * 100 + k, (SELECT v FROM hx WHERE id = k)
    FROM generate_series(1, 10) k, generate_series(1, 100) c;
  SET LOCAL enable_seqscan = off;
  SET LOCAL lancedb.ef_search = 100;
  -- each vector's 201 rows for LIMIT 201 (1-2 of 2010 may be missed)
  RETURN QUERY
  SELECT count(*) FILTER (WHERE id < 200000) >= 1000,
         count(*) FILTER (WHERE id >= 200000) >= 990,
         (SELECT count(*) >= 1985 FROM hx o WHERE o.id BETWEEN 11 AND 2000
             AND (SELECT i.id FROM hx i ORDER BY i.v <-> o.v LIMIT 1) = o.id)
    FROM generate_series(1, 10) k,
         LATERAL (SELECT i.id, i.v FROM hx i ORDER BY i.v <-> (SELECT v FROM hx WHERE id = k) LIMIT 201) s
   WHERE s.v = (SELECT v FROM hx WHERE id = k);
END $$;
SELECT * FROM hx_copies_found('vector_l2_ops', 'none');
SELECT * FROM hx_copies_found('vector_l2_ops', 'sq');
DROP FUNCTION hx_copies_found;
DROP TABLE hx;
