-- lance_ivf in-place rebalancing through lancedb.optimize(): a list swollen
-- by skewed inserts is split (2-means, LIRE reassignment of neighbouring
-- entries), tiny lists are merged; for every quantizer no row is lost or
-- duplicated and search with every list probed stays exact.
SET client_min_messages = warning;
-- all the splits in one optimize() call (13 here)
SET lancedb.ivf_rebalance_ops = 64;
CREATE FUNCTION rb_vec(i int, shift real DEFAULT 0) RETURNS vector(16) IMMUTABLE LANGUAGE sql AS $$
  SELECT array_agg((shift + sin(i * 0.0137 * (j + 1) + j * 0.9 + cos(i * 0.071)))::real ORDER BY j)::vector(16)
    FROM generate_series(0, 15) AS j
$$;
-- 20 queries: ids through the index (every list probed, every candidate
-- re-ranked) equal an exact scan's
CREATE FUNCTION rb_exact(shift real, op text DEFAULT '<->') RETURNS bool LANGUAGE plpgsql AS $$
DECLARE q int; a int[]; e int[]; ok bool := true;
  sql text := format('SELECT array_agg(id) FROM (SELECT id FROM rb ORDER BY v %s rb_vec($1, $2) LIMIT 10) s', op);
BEGIN
  SET LOCAL lancedb.nprobes = 100000;
  SET LOCAL lancedb.refine_factor = 10000;
  FOR q IN SELECT g * 131 FROM generate_series(1, 20) g LOOP
    SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = on;
    EXECUTE sql INTO a USING q + 70000, shift;
    SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
    EXECUTE sql INTO e USING q + 70000, shift;
    ok := ok AND a = e;
  END LOOP;
  RETURN ok;
END $$;
-- every row comes back through the index exactly once
CREATE FUNCTION rb_rows(op text DEFAULT '<->', OUT n bigint, OUT distinct_ids bigint) LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL lancedb.nprobes = 100000;
  SET LOCAL enable_seqscan = off;
  EXECUTE format('SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM rb ORDER BY v %s rb_vec(1) LIMIT 1000000) s', op)
    INTO n, distinct_ids;
END $$;
CREATE FUNCTION rb_lists() RETURNS int LANGUAGE sql AS
  $$ SELECT (lancedb.index_stats('rb_idx'::text::regclass)->>'lists')::int $$;
CREATE FUNCTION rb_balance() RETURNS numeric LANGUAGE sql AS
  $$ SELECT round(((lancedb.index_stats('rb_idx'::text::regclass)->'list_size'->>'max')::numeric /
                   (lancedb.index_stats('rb_idx'::text::regclass)->'list_size'->>'mean')::numeric), 1) $$;
CREATE TABLE rb (id int PRIMARY KEY, v vector(16));
CREATE TABLE rb_result (quantizer text, lists_before int, action text, lists_grew bool,
  balanced bool, exact_before bool, exact_after bool, rows_after bigint, distinct_after bigint,
  insert_after_found bool, exact_after_insert bool);

DO $$
DECLARE qz text; before int; act text; ex_before bool; r record;
BEGIN
  FOREACH qz IN ARRAY ARRAY['flat', 'sq', 'pq', 'rq'] LOOP
    TRUNCATE rb;
    INSERT INTO rb SELECT i, rb_vec(i) FROM generate_series(1, 6000) i;
    EXECUTE format('CREATE INDEX rb_idx ON rb USING lance_ivf (v vector_l2_ops) WITH (quantizer = %L, lists = 60)', qz);
    -- half as many rows again, all in one place: one list swallows them
    INSERT INTO rb SELECT 100000 + i, rb_vec(i, 3) FROM generate_series(1, 3000) i;
    before := rb_lists();
    ex_before := rb_exact(3) AND rb_exact(0);
    -- one round
    act := lancedb.optimize('rb_idx')->>'action';
    r := rb_rows();
    -- rows inserted after the split go to the new lists and are found
    INSERT INTO rb SELECT 200000 + i, rb_vec(i, 3.05) FROM generate_series(1, 300) i;
    INSERT INTO rb_result VALUES (qz, before, act, rb_lists() > before,
      rb_balance() <= 3.5, ex_before, rb_exact(3) AND rb_exact(0), r.n, r.distinct_ids,
      (SELECT count(*) = 300 FROM (SELECT id FROM rb WHERE id > 200000
         ORDER BY v <-> rb_vec(5, 3.05) LIMIT 300) s),
      rb_exact(3.05));
    DROP INDEX rb_idx;
  END LOOP;
END $$;
SELECT * FROM rb_result ORDER BY quantizer;

-- cosine (unit vectors, spherical 2-means) and inner product
CREATE TABLE rb_metric (opclass text, action text, lists_grew bool, exact_after bool,
  rows_after bigint, distinct_after bigint);
DO $$
DECLARE oc text; op text; before int; r record;
BEGIN
  FOR oc, op IN VALUES ('vector_cosine_ops', '<=>'), ('vector_ip_ops', '<#>') LOOP
    TRUNCATE rb;
    INSERT INTO rb SELECT i, rb_vec(i) FROM generate_series(1, 6000) i;
    EXECUTE format('CREATE INDEX rb_idx ON rb USING lance_ivf (v %s) WITH (quantizer = ''sq'', lists = 60)', oc);
    INSERT INTO rb SELECT 100000 + i, rb_vec(i, 3) FROM generate_series(1, 3000) i;
    before := rb_lists();
    r := rb_rows(op);
    INSERT INTO rb_metric VALUES (oc, lancedb.optimize('rb_idx')->>'action', rb_lists() > before,
      rb_exact(3, op) AND rb_exact(0, op), (rb_rows(op)).n, (rb_rows(op)).distinct_ids);
    DROP INDEX rb_idx;
  END LOOP;
END $$;
SELECT * FROM rb_metric ORDER BY opclass;
SELECT action, status, count(*) > 0 AS runs,
       bool_and(detail ~ '^[0-9]+ splits?, 0 merges: lists [0-9]+ -> [0-9]+, ') AS detail_ok
  FROM lancedb.maintenance_status WHERE relation = 'rb_idx' GROUP BY 1, 2;

-- merge: empty out the region of a few lists, VACUUM, optimize
TRUNCATE rb;
INSERT INTO rb SELECT i, rb_vec(i) FROM generate_series(1, 6000) i;
CREATE INDEX rb_idx ON rb USING lance_ivf (v vector_l2_ops) WITH (quantizer = 'rq', lists = 60);
DELETE FROM rb WHERE id IN (SELECT id FROM rb ORDER BY v <-> rb_vec(17) LIMIT 400);
VACUUM rb;
SELECT rb_lists() AS lists_before_merge,
       (lancedb.index_stats('rb_idx')->'list_size'->>'min')::int < 10 AS has_tiny_list;
SELECT lancedb.optimize('rb_idx')->>'action' AS action;
SELECT rb_lists() < 60 AS lists_shrank,
       (lancedb.index_stats('rb_idx')->'list_size'->>'min')::int >= 10 AS no_tiny_list,
       rb_exact(0) AS exact;
SELECT * FROM rb_rows();
-- index_stats: list count now and at build, operations done in place
SELECT (s->>'lists')::int = (s->>'lists_at_build')::int - (s->>'rebalances')::int AS one_list_per_merge,
       (s->>'lists_at_build')::int AS lists_at_build
  FROM lancedb.index_stats('rb_idx') s;
-- nothing left to do: the advice says so
SELECT lancedb.optimize('rb_idx')->>'action' AS action_after;

-- the ratios are settings
SET lancedb.ivf_split_ratio = 1;
SET lancedb.ivf_split_ratio = 2.5;
SHOW lancedb.ivf_split_ratio;
RESET lancedb.ivf_split_ratio;
SHOW lancedb.ivf_split_ratio;
SHOW lancedb.ivf_merge_ratio;
RESET lancedb.ivf_rebalance_ops;
SHOW lancedb.ivf_rebalance_ops;

DROP TABLE rb, rb_result, rb_metric;
DROP FUNCTION rb_vec, rb_exact, rb_rows, rb_lists, rb_balance;
