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
