-- avg and sum aggregates, serial and parallel
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,4,5]'), (NULL)) t(v);
SELECT avg(v), sum(v) FROM (VALUES (NULL::vector)) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT avg(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);   -- mean fits: no overflow
SELECT g, avg(v), sum(v) FROM (VALUES (1, '[1,1]'::vector), (1, '[3,5]'), (2, '[0,2]')) t(g, v)
 GROUP BY g ORDER BY g;

-- a parallel plan gives the serial answer (partial states are combined)
CREATE TABLE vagg (id int, v vector(3), h halfvec(3));
INSERT INTO vagg SELECT i, ARRAY[i % 10, (i % 7) * 0.5, 1], ARRAY[i % 10, (i % 7) * 0.5, 1]
  FROM generate_series(1, 100000) i;
ANALYZE vagg;
SET max_parallel_workers_per_gather = 0;
SELECT avg(v) AS serial_avg, sum(v) AS serial_sum, avg(h) AS serial_havg FROM vagg;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM vagg;
SELECT avg(v) AS parallel_avg, sum(v) AS parallel_sum, avg(h) AS parallel_havg FROM vagg;
RESET ALL;
DROP TABLE vagg;
