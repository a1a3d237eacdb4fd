-- lance_ivf: options, training, quantizers; results checked against exact search
SET client_min_messages = warning;
CREATE TABLE iv (id int PRIMARY KEY, v vector(16), h halfvec(16), cat int);
-- deterministic, tie-free data: 40 clusters on a smooth manifold
INSERT INTO iv
SELECT i, a::vector, a::halfvec, i % 10
  FROM (SELECT i, ARRAY(SELECT sin(i % 40 * 1.7 + j) * 3 + sin(i * 0.37 + j * j) * 0.6
                        FROM generate_series(1, 16) j) AS a
          FROM generate_series(1, 3000) i) s;
CREATE TABLE ivq (qid int, v vector(16));
INSERT INTO ivq
SELECT q, ARRAY(SELECT sin(q % 40 * 1.7 + j) * 3 + cos(q * 0.11 + j) * 0.7 FROM generate_series(1, 16) j)
  FROM generate_series(1, 40) q;

-- recall@k of the index against exact search, over the query table
CREATE FUNCTION ivf_recall(k int, op text DEFAULT '<->', col text DEFAULT 'v', filter text DEFAULT 'true')
RETURNS float LANGUAGE plpgsql AS $$
DECLARE
	r record;
	approx int[];
	exact int[];
	hits int := 0;
	total int := 0;
BEGIN
	FOR r IN SELECT * FROM ivq ORDER BY qid LOOP
		PERFORM set_config('enable_seqscan', 'off', true);
		PERFORM set_config('enable_indexscan', 'on', true);
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM iv WHERE %s ORDER BY %I %s $1 LIMIT $2) s',
					   filter, col, op) INTO approx USING r.v, k;
		PERFORM set_config('enable_seqscan', 'on', true);
		PERFORM set_config('enable_indexscan', 'off', true);
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM iv WHERE %s ORDER BY %I %s $1 LIMIT $2) s',
					   filter, col, op) INTO exact USING r.v, k;
		hits := hits + (SELECT count(*) FROM unnest(approx) a WHERE a = ANY (exact));
		total := total + cardinality(exact);
	END LOOP;
	PERFORM set_config('enable_indexscan', 'on', true);
	PERFORM set_config('enable_seqscan', 'on', true);
	RETURN round(hits::numeric / total, 3);
END $$;

-- bad options
CREATE INDEX ON iv USING lance_ivf (v vector_l2_ops) WITH (quantizer = 'bogus');
CREATE INDEX ON iv USING lance_ivf (v vector_l2_ops) WITH (lists = -1);
CREATE INDEX ON iv USING lance_ivf (v vector_l2_ops) WITH (quantizer = 'pq', num_bits = 6);
CREATE INDEX ON iv USING lance_ivf (v vector_l2_ops) WITH (quantizer = 'pq', num_sub_vectors = 17);
CREATE INDEX ON iv USING lance_ivf (v vector_l2_ops) WITH (num_bits = 9);
CREATE INDEX ON iv USING lance_ivf (v vector_l2_ops) WITH (unknown_option = 1);
CREATE TABLE nodim (v vector);
CREATE INDEX ON nodim USING lance_ivf (v vector_l2_ops);
DROP TABLE nodim;
CREATE INDEX ON iv USING lance_ivf (v);
CREATE INDEX ON iv USING lance_ivf (id);

-- every quantizer, L2: with every list probed, flat and sq (exact lower
-- bounds) equal exact search; rq (probabilistic bound) reaches high recall;
-- pq ranks by its estimates, so it needs refine_factor (as in LanceDB)
SET lancedb.nprobes = 1000;
CREATE INDEX iv_flat ON iv USING lance_ivf (v vector_l2_ops) WITH (lists = 30, quantizer = 'flat');
SELECT ivf_recall(10) AS flat_all_lists;
DROP INDEX iv_flat;
CREATE INDEX iv_sq ON iv USING lance_ivf (v vector_l2_ops) WITH (lists = 30, quantizer = 'sq');
SELECT ivf_recall(10) AS sq_all_lists;
DROP INDEX iv_sq;
CREATE INDEX iv_rq ON iv USING lance_ivf (v vector_l2_ops) WITH (lists = 30, quantizer = 'rq');
SELECT ivf_recall(10) >= 0.98 AS rq_all_lists;
DROP INDEX iv_rq;
CREATE INDEX iv_rq4 ON iv USING lance_ivf (v vector_l2_ops) WITH (lists = 30, quantizer = 'rq', num_bits = 4);
SELECT ivf_recall(10) >= 0.99 AS rq4_all_lists;
DROP INDEX iv_rq4;
CREATE INDEX iv_pq ON iv USING lance_ivf (v vector_l2_ops) WITH (lists = 30, quantizer = 'pq', num_sub_vectors = 8);
SELECT ivf_recall(10) >= 0.6 AS pq_all_lists;
SET lancedb.refine_factor = 10;
SELECT ivf_recall(10) >= 0.97 AS pq_refined;
RESET lancedb.refine_factor;
DROP INDEX iv_pq;
CREATE INDEX iv_pq4 ON iv USING lance_ivf (v vector_l2_ops) WITH (lists = 30, quantizer = 'pq', num_sub_vectors = 8, num_bits = 4);
SET lancedb.refine_factor = 10;
SELECT ivf_recall(10) >= 0.9 AS pq4_refined;
RESET lancedb.refine_factor;
DROP INDEX iv_pq4;

-- fewer probes: still good recall on clustered data
CREATE INDEX iv_l2 ON iv USING lance_ivf (v vector_l2_ops) WITH (lists = 30);
SELECT lancedb.index_stats('iv_l2') - 'bytes' - 'pages' - 'health' - 'maintenance' AS stats;
SET lancedb.nprobes = 5;
SELECT ivf_recall(10) >= 0.9 AS rq_5_probes;
SET lancedb.nprobes = 1000;

-- the planner uses the index for ORDER BY ... LIMIT, not for other filters
EXPLAIN (COSTS OFF) SELECT id FROM iv ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM iv WHERE cat = 1;
-- returned distances are exact and in order
SET enable_seqscan = off;
SELECT id, round((v <-> (SELECT v FROM ivq WHERE qid = 1))::numeric, 6) AS d
  FROM iv ORDER BY v <-> (SELECT v FROM ivq WHERE qid = 1) LIMIT 5;
RESET enable_seqscan;
SELECT id, round((v <-> (SELECT v FROM ivq WHERE qid = 1))::numeric, 6) AS d
  FROM iv ORDER BY v <-> (SELECT v FROM ivq WHERE qid = 1) LIMIT 5;
-- a whole-table scan: relaxed_order (default) returns every row; with the
-- probabilistic rq bound a few may come slightly out of order, which
-- strict_order never allows (it drops them instead)
SET enable_seqscan = off;
SELECT count(*) AS relaxed_rows, count(DISTINCT id) AS distinct_rows
  FROM (SELECT id FROM iv ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]') s;
SET lancedb.iterative_scan = strict_order;
SELECT bool_and(d >= lag_d) AS strict_ordered, count(*) >= 2900 AS strict_most_rows
  FROM (SELECT d, lag(d, 1, 0::float8) OVER () AS lag_d
          FROM (SELECT v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' AS d FROM iv
                 ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]') s) t;
RESET lancedb.iterative_scan;
RESET enable_seqscan;
DROP INDEX iv_l2;

-- inner product and cosine, vector and halfvec
CREATE INDEX iv_ip ON iv USING lance_ivf (v vector_ip_ops) WITH (lists = 20, quantizer = 'sq');
SELECT ivf_recall(10, '<#>') AS ip_sq;
DROP INDEX iv_ip;
CREATE INDEX iv_ip_rq ON iv USING lance_ivf (v vector_ip_ops) WITH (lists = 20, quantizer = 'rq');
SELECT ivf_recall(10, '<#>') >= 0.95 AS ip_rq;
DROP INDEX iv_ip_rq;
CREATE INDEX iv_cos ON iv USING lance_ivf (v vector_cosine_ops) WITH (lists = 20, quantizer = 'rq');
SELECT ivf_recall(10, '<=>') >= 0.95 AS cosine_rq;
DROP INDEX iv_cos;
CREATE INDEX iv_h ON iv USING lance_ivf (h halfvec_l2_ops) WITH (lists = 20, quantizer = 'flat');
SELECT ivf_recall(10, '<->', 'h') AS halfvec_flat;
DROP INDEX iv_h;
CREATE INDEX iv_hc ON iv USING lance_ivf (h halfvec_cosine_ops) WITH (lists = 20, quantizer = 'sq');
SELECT ivf_recall(10, '<=>', 'h') AS halfvec_cosine_sq;
DROP INDEX iv_hc;
