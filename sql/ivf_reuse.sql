-- lance_ivf page reuse after in-place rebalancing: each optimize() round
-- writes the lists it changes on new pages and retires the old ones; the
-- next round (its own transaction, once no snapshot can read them) reuses
-- them, so after many rounds the index stays within 1.5x of a fresh build
-- of the same rows (without reuse it grows by every round's writes).
SET client_min_messages = warning;
-- one split per round: many rounds, each writing a region of lists
SET lancedb.ivf_rebalance_ops = 1;
CREATE FUNCTION ru_vec(i int, shift real DEFAULT 0) RETURNS vector(16) IMMUTABLE LANGUAGE sql AS $$
  SELECT array_agg((shift + sin(i * 0.0137 * (j + 1) + j * 0.9 + cos(i * 0.071)))::real ORDER BY j)::vector(16)
    FROM generate_series(0, 15) AS j
$$;
CREATE TABLE ru (id int PRIMARY KEY, v vector(16)) WITH (autovacuum_enabled = off);
CREATE TABLE ru_rounds (round serial, action text, blocks bigint, pages_written int, reused int);
INSERT INTO ru SELECT i, ru_vec(i) FROM generate_series(1, 12000) i;
CREATE INDEX ru_idx ON ru USING lance_ivf (v vector_l2_ops) WITH (quantizer = 'rq', lists = 100);
-- half as many rows again in two places: lists to split for several rounds
INSERT INTO ru SELECT 100000 + i, ru_vec(i, 3) FROM generate_series(1, 3000) i;
INSERT INTO ru SELECT 200000 + i, ru_vec(i, -3) FROM generate_series(1, 3000) i;
-- one optimize() round, in the caller's (top-level) transaction
CREATE FUNCTION ru_round() RETURNS void LANGUAGE plpgsql AS $$
DECLARE a text; d text;
BEGIN
  a := lancedb.optimize('ru_idx')->>'action';
  SELECT detail INTO d FROM lancedb.maintenance_status
   WHERE relation = 'ru_idx' ORDER BY id DESC LIMIT 1;
  INSERT INTO ru_rounds (action, blocks, pages_written, reused)
    VALUES (a, pg_relation_size('ru_idx') / current_setting('block_size')::int,
            substring(d from '\((\d+) pages\)')::int,
            substring(d from '(\d+) retired pages free for reuse')::int);
END $$;
SELECT ru_round();
SELECT ru_round();
SELECT ru_round();
SELECT ru_round();
SELECT ru_round();
SELECT ru_round();
SELECT ru_round();
SELECT ru_round();
SELECT ru_round();
SELECT ru_round();
SELECT ru_round();
SELECT ru_round();
-- a fresh build of the same rows, for the size bound
CREATE INDEX ru_fresh ON ru USING lance_ivf (v vector_l2_ops)
  WITH (quantizer = 'rq', lists = 100);
SELECT count(*) FILTER (WHERE action = 'split') >= 6 AS several_splits,
       bool_and(action IN ('split', 'merge', 'none')) AS in_place_only,
       -- without reuse the rounds' writes alone would pass the bound
       sum(pages_written) > 0.5 * pg_relation_size('ru_fresh') / current_setting('block_size')::int
         AS writes_exceed_half_an_index,
       count(*) FILTER (WHERE reused > 0) >= 4 AS rounds_reused_pages,
       max(blocks) <= 1.5 * pg_relation_size('ru_fresh') / current_setting('block_size')::int
         AS within_1_5x_of_fresh
  FROM ru_rounds;
DROP INDEX ru_fresh;
-- every row still comes back once, and search with every list probed is exact
SET lancedb.nprobes = 100000;
SET enable_seqscan = off;
SELECT count(*) AS rows, count(DISTINCT id) AS distinct_ids
  FROM (SELECT id FROM ru ORDER BY v <-> ru_vec(1) LIMIT 100000) s;
SET lancedb.refine_factor = 10000;
SELECT bool_and(ARRAY(SELECT id FROM ru ORDER BY v <-> ru_vec(q, s) LIMIT 10) =
                ARRAY(SELECT id FROM ru ORDER BY (v <-> ru_vec(q, s)) + 0 LIMIT 10)) AS exact
  FROM generate_series(1, 10) q, (VALUES (0::real), (3), (-3)) t(s);
RESET lancedb.refine_factor;
RESET enable_seqscan;
-- VACUUM frees room (and puts retired pages in the free space map): inserts
-- after it do not grow the index
DELETE FROM ru WHERE id % 3 = 0;
VACUUM ru;
SELECT (pg_relation_size('ru_idx') / current_setting('block_size')::int) AS blocks_before \gset
INSERT INTO ru SELECT 300000 + i, ru_vec(i, 1.5) FROM generate_series(1, 1500) i;
SELECT pg_relation_size('ru_idx') / current_setting('block_size')::int <= :blocks_before AS inserts_did_not_grow_index;
SELECT count(*) = (SELECT count(*) FROM ru) AS all_rows_found
  FROM (SELECT id FROM ru ORDER BY v <-> ru_vec(7, 1.5) LIMIT 100000) s;
-- Several operations in one round (the default 8): with no other
-- transaction holding a snapshot, each reuses the pages the previous one
-- retired, so a single round does not leave the index much larger either.
RESET lancedb.ivf_rebalance_ops;
TRUNCATE ru, ru_rounds;
INSERT INTO ru SELECT i, ru_vec(i) FROM generate_series(1, 12000) i;
REINDEX INDEX ru_idx;
INSERT INTO ru SELECT 100000 + i, ru_vec(i, 3) FROM generate_series(1, 3000) i;
INSERT INTO ru SELECT 200000 + i, ru_vec(i, -3) FROM generate_series(1, 3000) i;
SELECT ru_round();
CREATE INDEX ru_fresh ON ru USING lance_ivf (v vector_l2_ops)
  WITH (quantizer = 'rq', lists = 100);
SELECT r.action,
       substring(d.detail from '^(\d+) splits?')::int >= 4 AS several_splits,
       substring(d.detail from '(\d+) reused within the round')::int > 0 AS reused_within_round,
       r.blocks <= 1.5 * pg_relation_size('ru_fresh') / current_setting('block_size')::int
         AS within_1_5x_of_fresh
  FROM ru_rounds r,
       (SELECT detail FROM lancedb.maintenance_status WHERE relation = 'ru_idx'
         ORDER BY id DESC LIMIT 1) d;
DROP INDEX ru_fresh;
SET lancedb.nprobes = 100000;
SET enable_seqscan = off;
SELECT count(*) AS rows, count(DISTINCT id) AS distinct_ids
  FROM (SELECT id FROM ru ORDER BY v <-> ru_vec(1) LIMIT 100000) s;
RESET enable_seqscan;
RESET lancedb.nprobes;
DROP TABLE ru, ru_rounds;
DROP FUNCTION ru_vec, ru_round;
