-- lance_hnsw after deletes: VACUUM repairs the graph and frees the dead
-- elements, inserts reuse them, recall stays close to a fresh build;
-- lancedb.optimize() repairs ahead of VACUUM
SET client_min_messages = warning;
CREATE TABLE hd (id int PRIMARY KEY, v vector(16));
INSERT INTO hd
SELECT i, ARRAY(SELECT sin(i % 41 * 1.9 + j) * 3 + cos(i * 0.53 + j * 1.7)
                     + sin(i * 0.017 * j) FROM generate_series(1, 16) j)
  FROM generate_series(1, 6000) i;
CREATE TABLE hdq (qid int, v vector(16));
INSERT INTO hdq
SELECT q, ARRAY(SELECT sin(q * 1.3 + j) * 3 + cos(q * 2.9 + j * 0.7) FROM generate_series(1, 16) j)
  FROM generate_series(1, 40) q;
CREATE INDEX hd_idx ON hd USING lance_hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 64);

-- recall@10 of the index over the 40 queries, against an exact scan
CREATE FUNCTION hd_recall() RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  r float8;
BEGIN
  PERFORM set_config('enable_indexscan', 'off', true);
  PERFORM set_config('enable_seqscan', 'on', true);
  CREATE TEMP TABLE gt AS SELECT q.qid, x.id FROM hdq q CROSS JOIN LATERAL
    (SELECT id FROM hd ORDER BY hd.v <-> q.v LIMIT 10) x;
  PERFORM set_config('enable_indexscan', 'on', true);
  PERFORM set_config('enable_seqscan', 'off', true);
  CREATE TEMP TABLE ix AS SELECT q.qid, x.id FROM hdq q CROSS JOIN LATERAL
    (SELECT id FROM hd ORDER BY hd.v <-> q.v LIMIT 10) x;
  SELECT count(*)::float8 / (SELECT count(*) FROM gt) INTO r FROM gt JOIN ix USING (qid, id);
  DROP TABLE gt, ix;
  RETURN r;
END $$;
CREATE TEMP TABLE rec (step text, recall float8);
SET lancedb.ef_search = 20;

-- 30% deleted: VACUUM frees every dead element (none stays a tombstone)
DELETE FROM hd WHERE id % 10 IN (1, 4, 7);
-- (the deletes reach the statistics before VACUUM resets their count)
SELECT pg_stat_force_next_flush();
VACUUM hd;
SELECT (s->>'nodes')::int AS nodes, (s->>'deleted_nodes')::int AS deleted_nodes,
       (s->>'free_slots')::int AS free_slots
  FROM lancedb.index_stats('hd_idx') s;
INSERT INTO rec SELECT 'vacuumed', hd_recall();
REINDEX INDEX hd_idx;
INSERT INTO rec SELECT 'fresh', hd_recall();
SELECT (SELECT recall FROM rec WHERE step = 'vacuumed') >=
       (SELECT recall FROM rec WHERE step = 'fresh') - 0.02 AS vacuumed_recall_close_to_fresh,
       (SELECT recall FROM rec WHERE step = 'fresh') >= 0.9 AS fresh_recall_ok;

-- freed elements are reused: inserts after VACUUM barely grow the index (an
-- element of level l reuses a freed one of level >= l; m = 8: ~1 in 8 is above 0)
DELETE FROM hd WHERE id % 10 = 2;
SELECT pg_stat_force_next_flush();
VACUUM hd;
CREATE TEMP TABLE before AS
  SELECT (s->>'free_slots')::int AS free_slots, (s->>'pages')::int AS pages
    FROM lancedb.index_stats('hd_idx') s;
INSERT INTO hd
SELECT i, ARRAY(SELECT cos(i % 29 * 1.3 + j) * 3 + sin(i * 0.41 + j) FROM generate_series(1, 16) j)
  FROM generate_series(10001, 10300) i;
SELECT b.free_slots - (s->>'free_slots')::int >= 240 AS slots_reused,
       (s->>'pages')::int <= b.pages + 3 AS pages_kept
  FROM lancedb.index_stats('hd_idx') s, before b;
-- the new rows are found where they were put
SELECT count(*) >= 295 AS reused_found FROM hd o
 WHERE o.id > 10000 AND (SELECT i.id FROM hd i ORDER BY i.v <-> o.v LIMIT 1) = o.id;
-- every live row once through the index, no dead one
SET lancedb.max_scan_tuples = 100000;
SELECT count(*) = (SELECT count(*) FROM hd) AS all_live_rows, count(DISTINCT id) = count(*) AS once
  FROM (SELECT id FROM hd ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 100000) s;
RESET lancedb.max_scan_tuples;

-- the maintenance repair: lancedb.optimize() before VACUUM rewires the
-- graph around the dead rows; VACUUM then only frees them
REINDEX INDEX hd_idx;
SET lancedb.hnsw_repair_threshold = 0.1;
SELECT o->>'action' AS action_before_deletes FROM lancedb.optimize('hd_idx') o;
DELETE FROM hd WHERE id % 10 IN (3, 6, 9);
SELECT pg_stat_force_next_flush();
SELECT o->>'action' AS action, (o->>'deleted')::float8 > 0.2 AS deleted_reported
  FROM lancedb.optimize('hd_idx') o;
SELECT (s->>'deleted_nodes')::int > 0 AS tombstones, (s->>'repaired_nodes')::int AS repaired_nodes,
       (s->>'deleted_nodes')::int = (s->>'repaired_nodes')::int AS all_repaired
  FROM lancedb.index_stats('hd_idx') s;
SELECT o->>'action' AS action_again FROM lancedb.optimize('hd_idx') o;
INSERT INTO rec SELECT 'repaired', hd_recall();
VACUUM hd;
SELECT (s->>'deleted_nodes')::int AS deleted_after_vacuum, (s->>'repaired_nodes')::int AS repaired_after_vacuum
  FROM lancedb.index_stats('hd_idx') s;
INSERT INTO rec SELECT 'repaired_vacuumed', hd_recall();
REINDEX INDEX hd_idx;
INSERT INTO rec SELECT 'fresh2', hd_recall();
SELECT (SELECT recall FROM rec WHERE step = 'repaired') >=
       (SELECT recall FROM rec WHERE step = 'fresh2') - 0.02 AS repaired_recall_close_to_fresh,
       (SELECT recall FROM rec WHERE step = 'repaired_vacuumed') >=
       (SELECT recall FROM rec WHERE step = 'fresh2') - 0.02 AS vacuumed_recall_close_to_fresh;
-- whole neighbourhoods die: points along a curve, 30% deleted in runs of
-- 150 consecutive (mutually nearest) rows; the lists that led into a run
-- must reach across it (through the dead elements' neighbours, or a search
-- when all of those died too)
CREATE TABLE hc (id int PRIMARY KEY, v vector(16));
INSERT INTO hc SELECT i, (SELECT array_agg(sin(i * 0.0137 * (j + 1) + j * 0.9 + cos(i * 0.071))::real ORDER BY j)
                           FROM generate_series(0, 15) j)::vector
  FROM generate_series(1, 6000) i;
CREATE INDEX hc_idx ON hc USING lance_hnsw (v vector_l2_ops);
CREATE FUNCTION hc_recall() RETURNS float8 LANGUAGE sql AS $$
  WITH q AS (SELECT g, (SELECT array_agg(sin(g * 149 * 0.0137 * (j + 1) + j * 0.9 + cos(g * 149 * 0.071) + 0.01)::real ORDER BY j)
                        FROM generate_series(0, 15) j)::vector AS v FROM generate_series(1, 40) g),
       gt AS (SELECT q.g, x.id FROM q CROSS JOIN LATERAL
                (SELECT id FROM hc ORDER BY (hc.v <-> q.v) + 0 LIMIT 10) x)
  SELECT count(*)::float8 / 400 FROM gt
   WHERE gt.id IN (SELECT x.id FROM q CROSS JOIN LATERAL (SELECT id FROM hc ORDER BY hc.v <-> q.v LIMIT 10) x WHERE q.g = gt.g)
$$;
DELETE FROM hc WHERE (id / 150) % 10 < 3;
VACUUM hc;
SET enable_seqscan = off;
INSERT INTO rec SELECT 'clustered', hc_recall();
REINDEX INDEX hc_idx;
INSERT INTO rec SELECT 'fresh3', hc_recall();
RESET enable_seqscan;
SELECT (SELECT recall FROM rec WHERE step = 'clustered') >=
       (SELECT recall FROM rec WHERE step = 'fresh3') - 0.02 AS clustered_recall_close_to_fresh;
RESET lancedb.hnsw_repair_threshold;
RESET lancedb.ef_search;
SELECT step, recall > 0 AS measured FROM rec ORDER BY step;
DROP TABLE hd, hdq, hc;
DROP FUNCTION hd_recall();
DROP FUNCTION hc_recall();

-- Copies of one vector, then most of them and a third of the other rows
-- deleted: 2000 rows on a closed curve, 10 of them with 200 copies each,
-- m = 8.  The copies' lists lead out of them only through a few rows, and
-- VACUUM freed some of those and their neighbours too; the repair must
-- look through a dead neighbour's dead neighbours even when it met that
-- element first one step further out (26 rows beside one copied vector
-- were found by no query at any ef_search, 1301 of 1327 found themselves).
SET client_min_messages = warning;
CREATE TABLE hx (id int PRIMARY KEY, v vector(16));
INSERT INTO hx SELECT i, ARRAY(SELECT sin(i * 1.7 + j) FROM generate_series(1, 16) j)
  FROM generate_series(1, 2000) i;
INSERT INTO hx SELECT 100000 + c * 100 + k, (SELECT v FROM hx WHERE id = k)
  FROM generate_series(1, 10) k, generate_series(1, 200) c;
CREATE INDEX hx_idx ON hx USING lance_hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 40);
DELETE FROM hx WHERE (id > 100000 AND hashint4(id) % 4 <> 0) OR (id BETWEEN 11 AND 2000 AND id % 3 = 0);
VACUUM hx;
SET enable_seqscan = off;
SET lancedb.ef_search = 100;
SELECT count(*) >= (SELECT count(*) FROM hx WHERE id BETWEEN 11 AND 2000) - 3 AS rows_find_themselves
  FROM hx o WHERE o.id BETWEEN 11 AND 2000
   AND (SELECT i.id FROM hx i ORDER BY i.v <-> o.v LIMIT 1) = o.id;
-- the copies left: each vector's rows for LIMIT 300 (a copy whose every
-- in-link died can stay unlinked: 2 of 519 here)
SELECT count(*) >= (SELECT count(*) FROM hx WHERE id > 100000) - 5 AS copies_found
  FROM generate_series(1, 10) k,
       LATERAL (SELECT i.id, i.v FROM hx i ORDER BY i.v <-> (SELECT v FROM hx WHERE id = k) LIMIT 300) s
 WHERE s.v = (SELECT v FROM hx WHERE id = k) AND s.id > 100000;
RESET lancedb.ef_search;
RESET enable_seqscan;
DROP TABLE hx;
