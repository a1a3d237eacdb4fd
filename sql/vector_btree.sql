-- ordering, equality, hashing: DISTINCT, GROUP BY, UNIQUE, ORDER BY v
SELECT '[1,2,3]'::vector < '[1,2,4]', '[1,2,3]'::vector <= '[1,2,3]',
       '[1,2,3]'::vector = '[1,2,3]', '[1,2,3]'::vector <> '[1,2,3]',
       '[1,2,3]'::vector >= '[1,2,4]', '[1,2,3]'::vector > '[1,2]';
SELECT vector_cmp('[1,2]', '[1,3]'), vector_cmp('[1,2]', '[1,2]'),
       vector_cmp('[2]', '[1,9]'), vector_cmp('[1]', '[1,0]');
-- -0 equals 0, and equal vectors hash alike
SELECT '[0,-0]'::vector = '[-0,0]' AS zeros_equal,
       vector_hash('[0,-0]') = vector_hash('[-0,0]') AS zeros_hash_alike,
       vector_hash_extended('[1,2]', 7) = vector_hash_extended('[1,2]', 7) AS ext_stable,
       vector_hash_extended('[1,2]', 7) <> vector_hash_extended('[1,2]', 8) AS seed_matters;

CREATE TABLE vb (id int, v vector(2));
INSERT INTO vb SELECT i, ARRAY[i % 3, i % 2] FROM generate_series(1, 60) i;
SELECT v, count(*) FROM vb GROUP BY v ORDER BY v;
SET enable_hashagg = off;
SELECT v, count(*) FROM vb GROUP BY v ORDER BY v;
RESET enable_hashagg;
SELECT DISTINCT v FROM vb ORDER BY v DESC;
SELECT count(DISTINCT v) FROM vb;

-- btree index: ORDER BY v and equality lookups through the index
CREATE INDEX vb_v_idx ON vb (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM vb WHERE v = '[1,1]';
SELECT count(*) FROM vb WHERE v = '[1,1]';
SELECT v FROM vb WHERE v > '[1,0]' ORDER BY v LIMIT 3;
RESET enable_seqscan;

-- hash index and hash join
CREATE INDEX vb_v_hash ON vb USING hash (v);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) FROM vb WHERE v = '[2,0]';
RESET enable_seqscan;
RESET enable_bitmapscan;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SELECT count(*) FROM vb a JOIN vb b ON a.v = b.v;
RESET enable_mergejoin;
RESET enable_nestloop;

-- UNIQUE
CREATE TABLE vu (v vector(2) UNIQUE);
INSERT INTO vu VALUES ('[1,2]'), ('[2,1]');
INSERT INTO vu VALUES ('[1,2]');
DROP TABLE vu;
DROP TABLE vb;
