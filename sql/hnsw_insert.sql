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

-- many rows of one vector: 100 vectors inserted 20 more times each (21
-- rows apiece, more than the 2m = 16 a list holds).  Copies used to fill
-- each other's lists, and rows past the first 2m + 1 of a vector were
-- found by no query (1811-1830 of 2100); every row must come back
CREATE TABLE hd (id int PRIMARY KEY, v vector(16));
INSERT INTO hd
SELECT i, ARRAY(SELECT sin(i * 1.7 + j) FROM generate_series(1, 16) j)
  FROM generate_series(1, 2000) i;
CREATE INDEX hd_idx ON hd USING lance_hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 40);
INSERT INTO hd
SELECT 10000 + c * 100 + k, (SELECT v FROM hd WHERE id = k)
  FROM generate_series(1, 100) k, generate_series(1, 20) c;
SET lancedb.ef_search = 100;
SELECT sum(n) AS copies_found, min(n) AS fewest FROM (
  SELECT k, (SELECT count(*) FROM
               (SELECT i.v FROM hd i ORDER BY i.v <-> (SELECT v FROM hd WHERE id = k) LIMIT 21) s
             WHERE s.v = (SELECT v FROM hd WHERE id = k)) AS n
    FROM generate_series(1, 100) k) t;
RESET lancedb.ef_search;
DROP TABLE hd;
