-- lance_ivf at high dimension (300): list selection over centroids of
-- 1.2 kB each, for every metric.  Well separated clusters (k-means may cut
-- one in two): with three probes the nearest rows of every cluster's
-- centre are found; with every list probed the answer is exact.
SET client_min_messages = warning;
CREATE FUNCTION hd_vec(c int, i int, noise real) RETURNS vector(300) IMMUTABLE LANGUAGE sql AS $$
  SELECT array_agg((10 * sin(c * 1.7 + j * 0.37 * (c % 5 + 1)) + noise * sin(i * 0.013 * (j + 1) + c))::real
                   ORDER BY j)::vector(300)
    FROM generate_series(0, 299) AS j
$$;
CREATE TABLE hd (id int PRIMARY KEY, c int, v vector(300));
INSERT INTO hd SELECT c * 1000 + i, c, hd_vec(c, i, 0.5)
  FROM generate_series(1, 20) c, generate_series(1, 60) i;
CREATE INDEX hd_l2 ON hd USING lance_ivf (v vector_l2_ops) WITH (lists = 20, quantizer = 'sq');
CREATE INDEX hd_ip ON hd USING lance_ivf (v vector_ip_ops) WITH (lists = 20, quantizer = 'sq');
CREATE INDEX hd_cos ON hd USING lance_ivf (v vector_cosine_ops) WITH (lists = 20, quantizer = 'rq');
-- top 10 through the index (index forced) against an exact scan
CREATE FUNCTION hd_check(idx text, op text, probes int) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE c int; a int[]; e int[]; ok bool := true;
  q text := format('SELECT array_agg(id) FROM (SELECT id FROM hd ORDER BY v %s hd_vec($1, 0, 0) LIMIT 10) s', op);
BEGIN
  EXECUTE format('SET LOCAL lancedb.nprobes = %s', probes);
  SET LOCAL lancedb.iterative_scan = off;
  SET LOCAL lancedb.refine_factor = 100;
  FOR c IN 1..20 LOOP
    SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = on;
    EXECUTE q INTO a USING c;
    SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
    EXECUTE q INTO e USING c;
    ok := ok AND a = e;
  END LOOP;
  RETURN ok;
END $$;
SELECT idx, hd_check(idx, op, 3) AS three_probes, hd_check(idx, op, 20) AS all_lists
  FROM (VALUES ('hd_l2', '<->'), ('hd_ip', '<#>'), ('hd_cos', '<=>')) t(idx, op)
 WHERE (SELECT count(*) FROM pg_indexes WHERE indexname = idx) = 1
 ORDER BY idx;
-- every row once through an index scan over the whole table, probing one
-- list more at a time (iterative)
SET enable_seqscan = off;
SET lancedb.nprobes = 1;
SET lancedb.iterative_scan = relaxed_order;
SELECT count(*) AS rows, count(DISTINCT id) AS distinct_ids
  FROM (SELECT id FROM hd ORDER BY v <-> hd_vec(3, 0, 0)) s;
RESET ALL;
DROP TABLE hd;
DROP FUNCTION hd_vec, hd_check;
