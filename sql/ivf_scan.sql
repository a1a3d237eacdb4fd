-- lance_ivf scans: filters with iterative scans, range search, NULL and
-- zero vectors, inserts after the build, deletes and VACUUM, untrained
-- indexes, bit vectors
SET client_min_messages = warning;
CREATE TABLE ivs (id int PRIMARY KEY, v vector(8), cat int);
INSERT INTO ivs
SELECT i, ARRAY(SELECT sin(i % 25 * 2.1 + j) * 2 + cos(i * 0.71 + j * 1.3) * 0.4
                  FROM generate_series(1, 8) j), i % 20
  FROM generate_series(1, 2000) i;
CREATE INDEX ivs_idx ON ivs USING lance_ivf (v vector_l2_ops) WITH (lists = 20, quantizer = 'sq');
SET enable_seqscan = off;

-- a selective filter: 1 row in 20 matches; iterative scans keep probing
-- until LIMIT rows pass (relaxed_order, the default), strict_order also
-- keeps the distance order, off stops after nprobes lists
SET lancedb.nprobes = 1;
SHOW lancedb.iterative_scan;
SELECT count(*) AS relaxed_rows FROM
  (SELECT id FROM ivs WHERE cat = 7 ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 30) s;
SET lancedb.iterative_scan = strict_order;
SELECT count(*) AS strict_rows, bool_and(d >= prev) AS strict_in_order FROM
  (SELECT d, lag(d, 1, 0::float8) OVER () AS prev FROM
    (SELECT v <-> '[1,1,1,1,1,1,1,1]' AS d FROM ivs WHERE cat = 7
      ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 30) s) t;
SET lancedb.iterative_scan = off;
SELECT count(*) < 30 AS off_returns_fewer FROM
  (SELECT id FROM ivs WHERE cat = 7 ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 30) s;
RESET lancedb.iterative_scan;
SET lancedb.max_probes = 2;
SELECT count(*) < 30 AS max_probes_limits FROM
  (SELECT id FROM ivs WHERE cat = 7 ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 30) s;
RESET lancedb.max_probes;
-- every row of the table comes back exactly once through the index
SET lancedb.nprobes = 20;
SELECT count(*) AS all_rows, count(DISTINCT id) AS distinct_rows FROM
  (SELECT id FROM ivs ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 5000) s;
-- filtered top-k equals exact filtered top-k when all lists are probed
SELECT array_agg(id) AS filtered_via_index FROM
  (SELECT id FROM ivs WHERE cat = 3 ORDER BY v <-> '[2,0,2,0,2,0,2,0]' LIMIT 10) s;
SET enable_indexscan = off;
SET enable_seqscan = on;
SELECT array_agg(id) AS filtered_exact FROM
  (SELECT id FROM ivs WHERE cat = 3 ORDER BY v <-> '[2,0,2,0,2,0,2,0]' LIMIT 10) s;
RESET enable_indexscan;
SET enable_seqscan = off;

-- range search: the same rows as a sequential scan, through the index
EXPLAIN (COSTS OFF) SELECT id FROM ivs WHERE v <<->> lancedb.sphere((SELECT v FROM ivs WHERE id = 10), 1.5);
SELECT count(*) AS in_range FROM ivs WHERE v <<->> lancedb.sphere((SELECT v FROM ivs WHERE id = 10), 1.5);
SELECT count(*) AS in_band FROM ivs WHERE v <<->> lancedb.sphere((SELECT v FROM ivs WHERE id = 10), 1.0, 1.5);
SELECT count(*) AS in_range_ordered FROM
  (SELECT id FROM ivs WHERE v <<->> lancedb.sphere((SELECT v FROM ivs WHERE id = 10), 1.5)
    ORDER BY v <-> (SELECT v FROM ivs WHERE id = 10)) s;
RESET enable_seqscan;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS seq_in_range FROM ivs WHERE v <-> (SELECT v FROM ivs WHERE id = 10) < 1.5;
SELECT count(*) AS seq_in_band FROM ivs
 WHERE v <-> (SELECT v FROM ivs WHERE id = 10) >= 1.0
   AND v <-> (SELECT v FROM ivs WHERE id = 10) < 1.5;
RESET enable_indexscan;
RESET enable_bitmapscan;
SELECT '([1,2],0,0.5)'::lancedb.sphere, lancedb.sphere('[1,2]', 0.25, 0.5);
SELECT '[1,2]'::vector <<->> lancedb.sphere('[1,2.4]', 0.5) AS inside,
       '[1,2]'::vector <<->> lancedb.sphere('[1,2.6]', 0.5) AS outside;
SELECT lancedb.sphere('[1,2]', 0.5, 0.25);
SELECT '([1,2],0)'::lancedb.sphere;
SELECT '[1,2,3]'::vector <<->> lancedb.sphere('[1,2]', 0.5);

-- inserts after the build are found; deletes disappear after VACUUM
SET enable_seqscan = off;
INSERT INTO ivs VALUES (5001, '[9,9,9,9,9,9,9,9]', 1), (5002, '[9,9,9,9,9,9,9,9.5]', 1), (5003, NULL, 1);
SELECT id FROM ivs ORDER BY v <-> '[9,9,9,9,9,9,9,9]' LIMIT 2;
SELECT (lancedb.index_stats('ivs_idx')->>'rows_inserted_since_build')::int AS inserted,
       (lancedb.index_stats('ivs_idx')->>'num_indexed_rows')::int AS indexed;
DELETE FROM ivs WHERE id = 5001 OR id % 4 = 0;
SELECT id FROM ivs ORDER BY v <-> '[9,9,9,9,9,9,9,9]' LIMIT 2;
VACUUM ivs;
SELECT (lancedb.index_stats('ivs_idx')->>'num_indexed_rows')::int AS indexed_after_vacuum;
INSERT INTO ivs SELECT i, '[3,3,3,3,3,3,3,3]', 0 FROM generate_series(6000, 6400) i;
SELECT count(*) AS found_new FROM ivs WHERE v <<->> lancedb.sphere('[3,3,3,3,3,3,3,3]', 0.001);
SELECT (lancedb.index_stats('ivs_idx')->>'num_indexed_rows')::int AS indexed_reusing_space;
-- ORDER BY a NULL query returns every row with a NULL distance
SELECT count(*) AS null_query_rows, count(d) AS non_null FROM
  (SELECT v <-> NULL AS d FROM ivs ORDER BY v <-> NULL) s;
RESET enable_seqscan;
DROP TABLE ivs;

-- an index built on an empty table is untrained and exact, and trains on REINDEX
CREATE TABLE ive (id serial, v vector(3));
CREATE INDEX ive_idx ON ive USING lance_ivf (v vector_cosine_ops) WITH (quantizer = 'rq');
SELECT lancedb.index_stats('ive_idx')->>'trained' AS trained,
       lancedb.index_stats('ive_idx')->>'quantizer' AS quantizer;
INSERT INTO ive (v) SELECT ARRAY[sin(i), cos(i), sin(i * 0.3)] FROM generate_series(1, 500) i;
INSERT INTO ive (v) VALUES ('[0,0,0]');
SET enable_seqscan = off;
SELECT id, round((v <=> '[1,0,0]')::numeric, 6) AS d FROM ive ORDER BY v <=> '[1,0,0]' LIMIT 3;
-- the zero vector has no direction: NaN, sorted last
SELECT id, v <=> '[1,0,0]' AS d FROM ive ORDER BY v <=> '[1,0,0]' DESC LIMIT 1;
REINDEX INDEX ive_idx;
SELECT lancedb.index_stats('ive_idx')->>'trained' AS trained,
       lancedb.index_stats('ive_idx')->>'quantizer' AS quantizer,
       lancedb.index_stats('ive_idx')->>'lists' AS lists;
SELECT id, round((v <=> '[1,0,0]')::numeric, 6) AS d FROM ive ORDER BY v <=> '[1,0,0]' LIMIT 3;
RESET enable_seqscan;
DROP TABLE ive;

-- binary vectors: Hamming with the flat quantizer
CREATE TABLE ivb (id int, b bit(64));
INSERT INTO ivb SELECT i, (i::bigint * 2654435761 % 18446744073709551557::numeric)::bigint::bit(64)
  FROM generate_series(1, 1000) i;
CREATE INDEX ON ivb USING lance_ivf (b bit_hamming_ops) WITH (lists = 10, quantizer = 'sq');
CREATE INDEX ivb_idx ON ivb USING lance_ivf (b bit_hamming_ops) WITH (lists = 10, quantizer = 'flat');
-- stored as 8-byte bit codes, compared by popcount
SELECT lancedb.index_stats('ivb_idx')->>'quantizer' AS quantizer,
       lancedb.index_stats('ivb_idx')->>'code_bytes' AS code_bytes;
SET enable_seqscan = off;
SET lancedb.nprobes = 10;
SELECT array_agg(d) AS via_index FROM
  (SELECT id, b <~> (SELECT b FROM ivb WHERE id = 7) AS d FROM ivb
    ORDER BY b <~> (SELECT b FROM ivb WHERE id = 7) LIMIT 8) s;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT array_agg(d) AS exact FROM
  (SELECT id, b <~> (SELECT b FROM ivb WHERE id = 7) AS d FROM ivb
    ORDER BY b <~> (SELECT b FROM ivb WHERE id = 7) LIMIT 8) s;
DROP TABLE ivb;

-- lancedb.index_stats on other relations
SELECT lancedb.index_stats('pg_class');
SELECT lancedb.index_stats('pg_class_oid_index');

-- vectors stored out of line (800 dims = 3.2 kB, TOASTed): re-ranking reads
-- them through one open toast index scan; the answers equal an exact scan,
-- also after updates leave dead versions and chunks behind
RESET enable_seqscan;
RESET enable_indexscan;
CREATE TABLE ivt (id int, v vector(800));
ALTER TABLE ivt ALTER COLUMN v SET STORAGE EXTENDED;
INSERT INTO ivt
SELECT i, ARRAY(SELECT sin(i * 0.37 + j * 0.011) + (i % 7) * 0.1 FROM generate_series(1, 800) j)
  FROM generate_series(1, 300) i;
-- two rows compress (constant vectors) and stay in line or compressed
INSERT INTO ivt SELECT 1000 + i, array_fill(i::real, ARRAY[800])::vector FROM generate_series(1, 2) i;
UPDATE ivt SET v = ARRAY(SELECT cos(id * 0.5 + j * 0.02) FROM generate_series(1, 800) j) WHERE id % 10 = 0;
SELECT count(*) FILTER (WHERE pg_column_size(v) > 3000) AS out_of_line_rows FROM ivt;
CREATE INDEX ivt_idx ON ivt USING lance_ivf (v vector_l2_ops) WITH (lists = 4, quantizer = 'rq');
SET lancedb.nprobes = 4;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivt ORDER BY v <-> (SELECT v FROM ivt WHERE id = 3) LIMIT 5;
CREATE TEMP TABLE ivt_index AS
  SELECT q.id AS qid, array_agg(t.id ORDER BY t.d, t.id) AS ids FROM ivt q,
    LATERAL (SELECT id, v <-> q.v AS d FROM ivt ORDER BY v <-> q.v LIMIT 5) t
   WHERE q.id IN (3, 10, 77, 150, 1001) GROUP BY q.id;
RESET enable_seqscan;
SET enable_indexscan = off;
CREATE TEMP TABLE ivt_exact AS
  SELECT q.id AS qid, array_agg(t.id ORDER BY t.d, t.id) AS ids FROM ivt q,
    LATERAL (SELECT id, v <-> q.v AS d FROM ivt ORDER BY v <-> q.v LIMIT 5) t
   WHERE q.id IN (3, 10, 77, 150, 1001) GROUP BY q.id;
RESET enable_indexscan;
SELECT count(*) AS queries, count(*) FILTER (WHERE i.ids = e.ids) AS same_answers
  FROM ivt_index i JOIN ivt_exact e USING (qid);
DROP TABLE ivt;
RESET lancedb.nprobes;

-- two lance_ivf scans open at once (the inner one re-scanned per outer
-- row) give the exact answers
CREATE TABLE ivn (id int, v vector(4));
INSERT INTO ivn SELECT i, ARRAY[sin(i), cos(i), sin(i * 0.3), cos(i * 0.7)] FROM generate_series(1, 500) i;
CREATE INDEX ivn_idx ON ivn USING lance_ivf (v vector_l2_ops) WITH (lists = 5, quantizer = 'rq');
SET lancedb.nprobes = 5;
SET enable_seqscan = off;
CREATE TEMP TABLE ivn_index AS
  SELECT a.id, (SELECT b.id FROM ivn b ORDER BY b.v <-> a.v LIMIT 1 OFFSET 1) AS second
    FROM ivn a ORDER BY a.v <-> '[0.5,0.5,0.5,0.5]' LIMIT 20;
RESET enable_seqscan;
SET enable_indexscan = off;
CREATE TEMP TABLE ivn_exact AS
  SELECT a.id, (SELECT b.id FROM ivn b ORDER BY b.v <-> a.v LIMIT 1 OFFSET 1) AS second
    FROM ivn a ORDER BY a.v <-> '[0.5,0.5,0.5,0.5]' LIMIT 20;
RESET enable_indexscan;
SELECT count(*) AS outer_rows, count(*) FILTER (WHERE i.second = e.second) AS same_inner
  FROM ivn_index i JOIN ivn_exact e USING (id);
DROP TABLE ivn;
RESET lancedb.nprobes;

-- EXPLAIN ANALYZE reports what each lance_ivf scan did (LanceDB's
-- analyze_plan): lists probed, pages read, codes scanned, re-ranked rows
CREATE TABLE ive (id int, v vector(8));
INSERT INTO ive SELECT i, ARRAY(SELECT sin(i % 25 * 2.1 + j) * 2 + cos(i * 0.71 + j * 1.3) * 0.4
                                  FROM generate_series(1, 8) j)
  FROM generate_series(1, 2000) i;
CREATE INDEX ive_idx ON ive USING lance_ivf (v vector_l2_ops) WITH (lists = 20, quantizer = 'sq');
SET lancedb.nprobes = 3;
SET enable_seqscan = off;
CREATE FUNCTION ivf_explain_text(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    -- data-dependent counts as N
    RETURN NEXT regexp_replace(l, '(pages read|codes scanned|re-ranked|heap fetches)=\d+', '\1=N', 'g');
  END LOOP;
END $$;
SELECT * FROM ivf_explain_text('SELECT id FROM ive ORDER BY v <-> ''[1,1,1,1,1,1,1,1]'' LIMIT 5');
CREATE FUNCTION ivf_explain_json(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || q INTO j;
  RETURN j::jsonb;
END $$;
SELECT s->>'Index Name' AS index, s->>'Loops' AS loops,
       (s->>'lists probed')::int AS lists, (s->>'pages read')::int > 0 AS pages,
       (s->>'codes scanned')::int > 0 AS codes, (s->>'re-ranked')::int >= 7 AS reranked,
       (s->>'rows returned')::int AS returned
  FROM jsonb_array_elements(ivf_explain_json(
         'SELECT id FROM ive ORDER BY v <-> ''[1,1,1,1,1,1,1,1]'' LIMIT 7') -> 1 -> 'Lancedb Scans') s;
-- a re-scanned inner index scan sums its loops
SELECT s->>'Loops' AS loops, (s->>'rows returned')::int AS returned
  FROM jsonb_array_elements(ivf_explain_json(
         'SELECT a.id, (SELECT b.id FROM ive b ORDER BY b.v <-> a.v LIMIT 1 OFFSET 1)
            FROM ive a WHERE a.id <= 4') -> 1 -> 'Lancedb Scans') s;
DROP FUNCTION ivf_explain_json(text);
DROP FUNCTION ivf_explain_text(text);
DROP TABLE ive;
RESET enable_seqscan;
RESET lancedb.nprobes;
