-- lance_hnsw: build, options, every opclass x quantizer against exact
-- search (recall@10), index_stats, errors
SET client_min_messages = warning;
CREATE TABLE hv (id int PRIMARY KEY, v vector(16), h halfvec(16));
INSERT INTO hv
SELECT i, a::vector, a::halfvec FROM (
  SELECT i, ARRAY(SELECT sin(i % 37 * 1.7 + j) * 3 + cos(i * 0.37 + j * 1.1)
                       + sin(i * 0.011 * j) FROM generate_series(1, 16) j) a
    FROM generate_series(1, 3000) i) s;
CREATE TABLE hq (qid int, v vector(16));
INSERT INTO hq
SELECT q, ARRAY(SELECT sin(q * 1.3 + j) * 3 + cos(q * 2.9 + j * 0.7) FROM generate_series(1, 16) j)
  FROM generate_series(1, 25) q;

-- recall@10 of the index against an exact scan of the same table
CREATE FUNCTION hnsw_recall(col text, opclass text, op text, quant text)
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  r float8;
  qcast text := CASE WHEN col = 'h' THEN '::halfvec' ELSE '' END;
BEGIN
  EXECUTE format('CREATE INDEX hv_rec ON hv USING lance_hnsw (%I %s) WITH (quantizer = %L, m = 12, ef_construction = 64)',
                 col, opclass, quant);
  PERFORM set_config('enable_indexscan', 'off', true);
  PERFORM set_config('enable_seqscan', 'on', true);
  EXECUTE format('CREATE TEMP TABLE gt AS SELECT q.qid, x.id FROM hq q CROSS JOIN LATERAL
                    (SELECT id FROM hv ORDER BY hv.%I %s q.v%s LIMIT 10) x', col, op, qcast);
  PERFORM set_config('enable_indexscan', 'on', true);
  PERFORM set_config('enable_seqscan', 'off', true);
  EXECUTE format('CREATE TEMP TABLE ix AS SELECT q.qid, x.id FROM hq q CROSS JOIN LATERAL
                    (SELECT id FROM hv ORDER BY hv.%I %s q.v%s LIMIT 10) x', col, op, qcast);
  IF (SELECT count(*) FROM ix) <> 250 THEN
    RAISE EXCEPTION 'index returned % rows, not 250', (SELECT count(*) FROM ix);
  END IF;
  SELECT count(*)::float8 / 250 INTO r FROM gt JOIN ix USING (qid, id);
  DROP TABLE gt, ix;
  DROP INDEX hv_rec;
  RETURN r;
END $$;

SET lancedb.ef_search = 40;
SELECT col, opclass, quant, hnsw_recall(col, opclass, op, quant) >= 0.9 AS recall_ok
  FROM (VALUES ('v', 'vector_l2_ops', '<->'), ('v', 'vector_ip_ops', '<#>'),
               ('v', 'vector_cosine_ops', '<=>'), ('h', 'halfvec_l2_ops', '<->'),
               ('h', 'halfvec_ip_ops', '<#>'), ('h', 'halfvec_cosine_ops', '<=>')) o(col, opclass, op)
  CROSS JOIN (VALUES ('none'), ('sq'), ('pq')) q(quant)
 ORDER BY 1, 2, 3;

-- the exact index reaches (near) perfect recall with a wide search
SET lancedb.ef_search = 200;
SELECT hnsw_recall('v', 'vector_l2_ops', '<->', 'none') >= 0.99 AS wide_search_recall;
RESET lancedb.ef_search;

-- a narrower search finds fewer true neighbours, never more
SET lancedb.ef_search = 10;
SELECT hnsw_recall('v', 'vector_l2_ops', '<->', 'none') <=
       (SELECT hnsw_recall('v', 'vector_l2_ops', '<->', 'none') FROM (SELECT set_config('lancedb.ef_search', '100', false)) s)
       AS narrow_not_better;
RESET lancedb.ef_search;

-- index_stats: layers, nodes, quantizer
CREATE INDEX hv_idx ON hv USING lance_hnsw (v vector_l2_ops) WITH (quantizer = 'sq');
SELECT s->>'index_type' AS type, s->>'quantizer' AS quantizer, s->>'m' AS m,
       s->>'ef_construction' AS efc, (s->>'nodes')::int AS nodes,
       (s->>'deleted_nodes')::int AS deleted, (s->>'layers')::int >= 2 AS layered,
       (s->'nodes_per_layer'->>0)::int = 3000 AS layer0_has_all,
       (s->>'bytes')::bigint = (s->>'pages')::bigint * 8192 AS bytes_ok,
       s->>'element_bytes' AS element_bytes
  FROM lancedb.index_stats('hv_idx') s;
-- sq stores one byte per dimension plus correction terms: smaller than none
CREATE INDEX hv_idx_none ON hv USING lance_hnsw (v vector_l2_ops);
SELECT pg_relation_size('hv_idx') < pg_relation_size('hv_idx_none') AS sq_smaller;
SELECT lancedb.index_stats('hv_idx_none')->>'quantizer' AS default_quantizer;
DROP INDEX hv_idx, hv_idx_none;

-- a graph too big for maintenance_work_mem: the rest goes through on-disk
-- insertion (NOTICE with the memory needed), and the index stays correct
SET maintenance_work_mem = '1MB';
SET client_min_messages = notice;
CREATE TEMP TABLE big AS SELECT i AS id, ARRAY(SELECT sin(i * 0.7 + j) * 5 FROM generate_series(1, 64) j)::vector(64) AS v
  FROM generate_series(1, 6000) i;
CREATE INDEX big_idx ON big USING lance_hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
SET client_min_messages = warning;
RESET maintenance_work_mem;
SELECT (lancedb.index_stats('big_idx')->>'nodes')::int AS nodes,
       (lancedb.index_stats('big_idx')->>'rows_at_build')::int < 6000 AS partly_on_disk;
SET enable_seqscan = off;
SELECT id FROM big ORDER BY v <-> (SELECT v FROM big WHERE id = 5999) LIMIT 1;
RESET enable_seqscan;
DROP TABLE big;

-- parallel build: leader and worker add to one graph in shared memory;
-- the same rows, recall like a serial build; and a shared graph that runs
-- out of maintenance_work_mem leaves the rest to on-disk insertion
CREATE TABLE hpar (id int, v vector(16));
INSERT INTO hpar SELECT i, ARRAY(SELECT sin(i * 0.0131 * j + j) * 2 + cos(i * 0.7 + j)
                                   FROM generate_series(1, 16) j)
  FROM generate_series(1, 12000) i;
ANALYZE hpar;
SET max_parallel_maintenance_workers = 1;
SET min_parallel_table_scan_size = 0;
CREATE TEMP TABLE pq AS SELECT id, v FROM hpar WHERE id % 500 = 3;
SET enable_indexscan = off;
CREATE TEMP TABLE pgt AS SELECT q.id AS qid, x.id FROM pq q
  CROSS JOIN LATERAL (SELECT id FROM hpar ORDER BY hpar.v <-> q.v LIMIT 10) x;
RESET enable_indexscan;
SET enable_seqscan = off;
CREATE INDEX hpar_idx ON hpar USING lance_hnsw (v vector_l2_ops) WITH (m = 12, ef_construction = 48);
SELECT (lancedb.index_stats('hpar_idx')->>'nodes')::int AS parallel_nodes;
CREATE TEMP TABLE pix AS SELECT q.id AS qid, x.id FROM pq q
  CROSS JOIN LATERAL (SELECT id FROM hpar ORDER BY hpar.v <-> q.v LIMIT 10) x;
SELECT count(*) >= 0.9 * (SELECT count(*) FROM pgt) AS parallel_recall FROM pgt JOIN pix USING (qid, id);
DROP INDEX hpar_idx;
SET maintenance_work_mem = '1MB';
CREATE INDEX hpar_idx ON hpar USING lance_hnsw (v vector_l2_ops) WITH (m = 12, ef_construction = 48, quantizer = 'sq');
RESET maintenance_work_mem;
SELECT (lancedb.index_stats('hpar_idx')->>'nodes')::int AS overflow_nodes,
       (lancedb.index_stats('hpar_idx')->>'rows_at_build')::int < 12000 AS partly_on_disk;
DROP TABLE pix;
CREATE TEMP TABLE pix AS SELECT q.id AS qid, x.id FROM pq q
  CROSS JOIN LATERAL (SELECT id FROM hpar ORDER BY hpar.v <-> q.v LIMIT 10) x;
SELECT count(*) >= 0.9 * (SELECT count(*) FROM pgt) AS overflow_recall FROM pgt JOIN pix USING (qid, id);
RESET enable_seqscan;
RESET max_parallel_maintenance_workers;
RESET min_parallel_table_scan_size;
DROP TABLE hpar, pq, pgt, pix;

-- 784 dimensions near 0 or 255 (like Fashion-MNIST's pixels), 20
-- clusters: distances between clusters pass 2^31 in the build's 16-bit
-- integer estimates, whose 32-bit total once wrapped, so builds linked
-- rows to far ones (recall@10 about 0.2 at any ef_search)
SELECT setseed(0.25);
CREATE TABLE hfmc AS
  SELECT c, array_agg(CASE WHEN random() < 0.5 THEN 0 ELSE 255 END ORDER BY j) AS a
    FROM generate_series(1, 20) c, generate_series(1, 784) j GROUP BY c;
CREATE TABLE hfm (id int, v vector(784));
INSERT INTO hfm
  SELECT i, (SELECT array_agg((CASE WHEN random() < 0.05 THEN 255 - x ELSE x END + 10 * random())::real
                              ORDER BY o)
               FROM unnest(a) WITH ORDINALITY u(x, o))::vector
    FROM generate_series(1, 2000) i JOIN hfmc ON c = 1 + i % 20;
-- exact top 10 of 20 rows, before any index exists
CREATE TABLE hfm_gt AS
  SELECT q.id AS qid, x.id FROM hfm q CROSS JOIN LATERAL
    (SELECT id FROM hfm ORDER BY v <-> q.v LIMIT 10) x WHERE q.id % 100 = 7;
SET enable_seqscan = off;
SET lancedb.ef_search = 40;
CREATE FUNCTION hfm_found() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FILTER (WHERE g.id IN
           (SELECT id FROM hfm ORDER BY v <-> (SELECT v FROM hfm WHERE id = g.qid) LIMIT 10))
    FROM hfm_gt g
$$;
CREATE INDEX hfm_idx ON hfm USING lance_hnsw (v vector_l2_ops) WITH (quantizer = 'sq');
SELECT hfm_found() >= 180 AS sq_784_recall_ok;
DROP INDEX hfm_idx;
CREATE INDEX hfm_idx ON hfm USING lance_hnsw (v vector_l2_ops) WITH (quantizer = 'none');
SELECT hfm_found() >= 180 AS none_784_recall_ok;
RESET enable_seqscan;
RESET lancedb.ef_search;
DROP FUNCTION hfm_found;
DROP TABLE hfm, hfmc, hfm_gt;

-- options and errors
CREATE INDEX ON hv USING lance_hnsw (v vector_l2_ops) WITH (m = 1);
CREATE INDEX ON hv USING lance_hnsw (v vector_l2_ops) WITH (m = 101);
CREATE INDEX ON hv USING lance_hnsw (v vector_l2_ops) WITH (ef_construction = 3);
CREATE INDEX ON hv USING lance_hnsw (v vector_l2_ops) WITH (m = 40, ef_construction = 20);
CREATE INDEX ON hv USING lance_hnsw (v vector_l2_ops) WITH (quantizer = 'rq');
CREATE INDEX ON hv USING lance_hnsw (v vector_l2_ops) WITH (lists = 4);
CREATE INDEX ON hv USING lance_hnsw (v vector_l1_ops);
CREATE INDEX ON hv USING lance_hnsw (v);
CREATE TABLE hnodim (v vector);
CREATE INDEX ON hnodim USING lance_hnsw (v vector_l2_ops);
CREATE TABLE hbit (b bit(8));
CREATE INDEX ON hbit USING lance_hnsw (b bit_hamming_ops);
CREATE TABLE hwide (v vector(2100));
INSERT INTO hwide SELECT array_fill(1.0, ARRAY[2100])::vector;
CREATE INDEX ON hwide USING lance_hnsw (v vector_l2_ops);
-- sq codes of the same width fit
CREATE INDEX hwide_sq ON hwide USING lance_hnsw (v vector_l2_ops) WITH (quantizer = 'sq');
SELECT (lancedb.index_stats('hwide_sq')->>'nodes')::int AS wide_nodes;
-- inserting a vector of the wrong size
CREATE INDEX hv_l2 ON hv USING lance_hnsw (v vector_l2_ops);
INSERT INTO hv VALUES (9999, '[1,2,3]', NULL);
DROP TABLE hnodim, hbit, hwide;
DROP FUNCTION hnsw_recall;
DROP TABLE hv, hq;
