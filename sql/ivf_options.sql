-- lance_ivf options and edge cases: halfvec inner product, zero vectors
-- under cosine, PQ sub-vector default, sample_rate / max_iterations,
-- untrained indexes, the cost model, iterative scans with filters, and
-- reltuples with NULL vectors.  Results are checked against exact search.
SET client_min_messages = warning;

-- ivo_topk: run `query` (SELECT id, <distance> AS d ... ORDER BY ... LIMIT k)
-- through a lance_ivf index (use_index) or as an exact seq scan + sort, and
-- return its ids and distances in output order.  It raises an error if the
-- plan is not the one asked for (an index scan shows "Order By:"), so an
-- "index" result cannot silently be the seq scan's.
CREATE FUNCTION ivo_topk(query text, use_index bool, OUT ids int[], OUT dists float8[])
LANGUAGE plpgsql AS $$
DECLARE
	plan text := '';
	l text;
BEGIN
	PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
	PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		plan := plan || l || E'\n';
	END LOOP;
	IF use_index AND plan !~ 'Order By: ' THEN
		RAISE EXCEPTION 'expected an index scan: %', plan;
	ELSIF NOT use_index AND (plan !~ 'Seq Scan' OR plan ~ 'Order By: ') THEN
		RAISE EXCEPTION 'expected a seq scan: %', plan;
	END IF;
	EXECUTE 'SELECT array_agg(id ORDER BY n), array_agg(d ORDER BY n)
	           FROM (SELECT row_number() OVER () AS n, id, d FROM (' || query || ') s) t'
	   INTO ids, dists;
END $$;
-- ivo_check: the index answer against the exact one
CREATE FUNCTION ivo_check(query text, OUT nrows int, OUT same_ids bool,
						  OUT same_dists bool, OUT nan_rows int)
LANGUAGE sql AS $$
	SELECT cardinality(i.ids), i.ids = e.ids, i.dists = e.dists,
		   (SELECT count(*)::int FROM unnest(i.dists) x WHERE x = 'NaN')
	  FROM ivo_topk(query, true) i, ivo_topk(query, false) e
$$;

-- 1. halfvec_ip_ops (no other suite covers it), and halfvec_l2_ops with sq,
-- halfvec_cosine_ops with flat (ivf_build covers the other pairs).  With
-- every list probed, flat and sq (exact lower bounds) must give exactly the
-- seq scan's ids and distances, for every query.
CREATE TABLE ivo (id int PRIMARY KEY, h halfvec(16));
INSERT INTO ivo
SELECT i, ARRAY(SELECT sin(i % 30 * 1.3 + j) * 2 + cos(i * 0.53 + j * 0.7) * 0.5
                  FROM generate_series(1, 16) j)::halfvec
  FROM generate_series(1, 1500) i;
CREATE TABLE ivoq (qid int, h halfvec(16));
INSERT INTO ivoq
SELECT q, ARRAY(SELECT cos(q * 0.9 + j * 0.4) * 2 FROM generate_series(1, 16) j)::halfvec
  FROM generate_series(1, 6) q;
SET lancedb.nprobes = 10;
CREATE INDEX ivo_ip ON ivo USING lance_ivf (h halfvec_ip_ops) WITH (lists = 10, quantizer = 'flat');
SELECT lancedb.index_stats('ivo_ip')->>'metric' AS metric,
       lancedb.index_stats('ivo_ip')->>'lists' AS lists,
       lancedb.index_stats('ivo_ip')->>'trained' AS trained;
EXPLAIN (COSTS OFF) SELECT id FROM ivo ORDER BY h <#> (SELECT h FROM ivoq WHERE qid = 1) LIMIT 10;
SELECT q.qid, c.* FROM ivoq q,
  ivo_check(format('SELECT id, h <#> %L AS d FROM ivo ORDER BY h <#> %L LIMIT 10', q.h, q.h)) c
 ORDER BY q.qid;
-- the answer itself for one query (largest inner products first)
SELECT id, round((h <#> (SELECT h FROM ivoq WHERE qid = 1))::numeric, 4) AS d
  FROM ivo ORDER BY h <#> (SELECT h FROM ivoq WHERE qid = 1) LIMIT 3;
DROP INDEX ivo_ip;
CREATE INDEX ivo_ip_sq ON ivo USING lance_ivf (h halfvec_ip_ops) WITH (lists = 10, quantizer = 'sq');
SELECT q.qid, c.* FROM ivoq q,
  ivo_check(format('SELECT id, h <#> %L AS d FROM ivo ORDER BY h <#> %L LIMIT 10', q.h, q.h)) c
 ORDER BY q.qid;
DROP INDEX ivo_ip_sq;
CREATE INDEX ivo_l2_sq ON ivo USING lance_ivf (h halfvec_l2_ops) WITH (lists = 10, quantizer = 'sq');
SELECT count(*) AS queries, count(*) FILTER (WHERE c.same_ids AND c.same_dists AND c.nrows = 10) AS exact
  FROM ivoq q, ivo_check(format('SELECT id, h <-> %L AS d FROM ivo ORDER BY h <-> %L LIMIT 10', q.h, q.h)) c;
DROP INDEX ivo_l2_sq;
CREATE INDEX ivo_cos_flat ON ivo USING lance_ivf (h halfvec_cosine_ops) WITH (lists = 10, quantizer = 'flat');
SELECT count(*) AS queries, count(*) FILTER (WHERE c.same_ids AND c.same_dists AND c.nrows = 10) AS exact
  FROM ivoq q, ivo_check(format('SELECT id, h <=> %L AS d FROM ivo ORDER BY h <=> %L LIMIT 10', q.h, q.h)) c;
DROP TABLE ivo, ivoq;

-- 2. Zero vectors under vector_cosine_ops, trained index (10 lists).  The
-- cosine distance of a zero vector is NaN (cosine_distance), PostgreSQL
-- sorts NaN after every number, and the scan maps a NaN distance to +inf
-- internally (IvfInternalFromSql), so the zero row comes last.  With sq
-- (exact bounds) and every list probed, the whole ordering through the
-- index equals the seq scan's, the zero row last.  A zero query has a NaN
-- distance to every row: the index returns every row once, all NaN; ids
-- are not compared there, as all rows tie.
CREATE TABLE ivz (id int PRIMARY KEY, v vector(8));
INSERT INTO ivz
SELECT i, ARRAY(SELECT sin(i % 20 * 2.3 + j) * 2 + cos(i * 0.61 + j * 1.1) * 0.5
                  FROM generate_series(1, 8) j)
  FROM generate_series(1, 1000) i;
INSERT INTO ivz VALUES (0, '[0,0,0,0,0,0,0,0]');
CREATE INDEX ivz_sq ON ivz USING lance_ivf (v vector_cosine_ops) WITH (lists = 10, quantizer = 'sq');
SELECT lancedb.index_stats('ivz_sq')->>'trained' AS trained,
       lancedb.index_stats('ivz_sq')->>'lists' AS lists;
SELECT '[0,0,0,0,0,0,0,0]'::vector <=> '[1,1,1,1,1,1,1,1]' AS zero_row_distance;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivz ORDER BY v <=> '[1,1,1,1,1,1,1,1]' ASC LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivz ORDER BY v <=> '[0,0,0,0,0,0,0,0]' ASC LIMIT 5;
RESET enable_seqscan;
-- a nonzero query, every row: the same order as the seq scan, NaN last
SELECT * FROM ivo_check('SELECT id, v <=> ''[1,1,1,1,1,1,1,1]'' AS d FROM ivz ORDER BY v <=> ''[1,1,1,1,1,1,1,1]'' LIMIT 1001');
SELECT (i.ids)[1001] AS last_id, (i.dists)[1001] AS last_d, (i.dists)[1000] < 2 AS before_last_finite
  FROM ivo_topk('SELECT id, v <=> ''[1,1,1,1,1,1,1,1]'' AS d FROM ivz ORDER BY v <=> ''[1,1,1,1,1,1,1,1]'' LIMIT 1001', true) i;
-- top-10 of a few nonzero queries (rows 1, 77 and 500)
SELECT q.id AS qid, c.* FROM ivz q,
  ivo_check(format('SELECT id, v <=> %L AS d FROM ivz ORDER BY v <=> %L LIMIT 10', q.v, q.v)) c
 WHERE q.id IN (1, 77, 500) ORDER BY q.id;
-- the zero query: k rows, all NaN, like the seq scan; every row exactly once
SELECT nrows, same_dists, nan_rows FROM
  ivo_check('SELECT id, v <=> ''[0,0,0,0,0,0,0,0]'' AS d FROM ivz ORDER BY v <=> ''[0,0,0,0,0,0,0,0]'' LIMIT 5');
SELECT cardinality(ids) AS nrows, (SELECT count(DISTINCT x) FROM unnest(ids) x) AS distinct_ids,
       (SELECT count(*) FROM unnest(dists) x WHERE x = 'NaN') AS nan_rows
  FROM ivo_topk('SELECT id, v <=> ''[0,0,0,0,0,0,0,0]'' AS d FROM ivz ORDER BY v <=> ''[0,0,0,0,0,0,0,0]''', true);
DROP INDEX ivz_sq;
-- the default quantizer (rq): top-k of nonzero queries exact, the zero
-- query all NaN
CREATE INDEX ivz_rq ON ivz USING lance_ivf (v vector_cosine_ops) WITH (lists = 10);
SELECT q.id AS qid, c.* FROM ivz q,
  ivo_check(format('SELECT id, v <=> %L AS d FROM ivz ORDER BY v <=> %L LIMIT 10', q.v, q.v)) c
 WHERE q.id IN (1, 77, 500) ORDER BY q.id;
SELECT nrows, same_dists, nan_rows FROM
  ivo_check('SELECT id, v <=> ''[0,0,0,0,0,0,0,0]'' AS d FROM ivz ORDER BY v <=> ''[0,0,0,0,0,0,0,0]'' LIMIT 5');
DROP TABLE ivz;
RESET lancedb.nprobes;

-- 3. PQ sub-vectors by default (8-bit codes: one byte per sub-vector, so
-- code_bytes = num_sub_vectors): dim / 16 when 16 divides dim, else
-- max(1, dim / 8) (ivfbuild.c).  4 and 12 use the fallback (1), 24 -> 3
-- (not 24 / 16 = 1), 32 -> 2 (not 32 / 8 = 4); an explicit value and
-- 4-bit codes for comparison.
CREATE TABLE ivpq (id int, v4 vector(4), v8 vector(8), v12 vector(12), v16 vector(16),
                   v20 vector(20), v24 vector(24), v32 vector(32));
INSERT INTO ivpq
SELECT i, a[1:4], a[1:8], a[1:12], a[1:16], a[1:20], a[1:24], a
  FROM (SELECT i, ARRAY(SELECT sin(i % 10 * 1.9 + j) + cos(i * 0.3 + j) * 0.2
                          FROM generate_series(1, 32) j)::real[] AS a
          FROM generate_series(1, 300) i) s;
CREATE INDEX ivpq_4 ON ivpq USING lance_ivf (v4 vector_l2_ops) WITH (lists = 4, quantizer = 'pq');
CREATE INDEX ivpq_8 ON ivpq USING lance_ivf (v8 vector_l2_ops) WITH (lists = 4, quantizer = 'pq');
CREATE INDEX ivpq_12 ON ivpq USING lance_ivf (v12 vector_l2_ops) WITH (lists = 4, quantizer = 'pq');
CREATE INDEX ivpq_16 ON ivpq USING lance_ivf (v16 vector_l2_ops) WITH (lists = 4, quantizer = 'pq');
CREATE INDEX ivpq_20 ON ivpq USING lance_ivf (v20 vector_l2_ops) WITH (lists = 4, quantizer = 'pq');
CREATE INDEX ivpq_24 ON ivpq USING lance_ivf (v24 vector_l2_ops) WITH (lists = 4, quantizer = 'pq');
CREATE INDEX ivpq_32 ON ivpq USING lance_ivf (v32 vector_l2_ops) WITH (lists = 4, quantizer = 'pq');
SELECT (s->>'dimensions')::int AS dims, s->>'quantizer' AS quantizer, s->>'trained' AS trained,
       (s->>'code_bytes')::int AS code_bytes,
       (s->>'code_bytes')::int = CASE WHEN (s->>'dimensions')::int % 16 = 0
                                      THEN (s->>'dimensions')::int / 16
                                      ELSE greatest(1, (s->>'dimensions')::int / 8) END AS as_documented
  FROM pg_class c, lancedb.index_stats(c.oid) s
 WHERE c.relname LIKE 'ivpq\_%' AND c.relkind = 'i' ORDER BY 1;
CREATE INDEX ivpq_24m6 ON ivpq USING lance_ivf (v24 vector_l2_ops)
  WITH (lists = 4, quantizer = 'pq', num_sub_vectors = 6);
CREATE INDEX ivpq_32b4 ON ivpq USING lance_ivf (v32 vector_l2_ops)
  WITH (lists = 4, quantizer = 'pq', num_bits = 4);
SELECT lancedb.index_stats('ivpq_24m6')->>'code_bytes' AS explicit_6_sub_vectors,
       lancedb.index_stats('ivpq_32b4')->>'code_bytes' AS two_4bit_sub_vectors;
DROP TABLE ivpq;

-- 4. sample_rate and max_iterations.  At debug1 the build reports
-- "lance_ivf k-means: N rows, L lists, I iterations", but also a summary
-- with timings, which pg_regress cannot filter.  So the build is stopped
-- right after training by an option error checked only then
-- (num_sub_vectors > dim, see IvfTrain): the k-means line is all that is
-- printed besides PostgreSQL's own "building index" line.  N must be
-- sample_rate x lists when that is below the table's 600 rows (the
-- reservoir holds exactly that many), else all 600; max_iterations = 1
-- and = 2 must run exactly that many Lloyd iterations (these clusters
-- need more to converge).
CREATE TABLE ivk (id int, v vector(8));
INSERT INTO ivk
SELECT i, ARRAY(SELECT sin(i % 8 * 2.1 + j) * 3 + cos(i * 0.7 + j) * 0.3 FROM generate_series(1, 8) j)
  FROM generate_series(1, 600) i;
SET client_min_messages = debug1;
CREATE INDEX ivk_idx ON ivk USING lance_ivf (v vector_l2_ops)
  WITH (lists = 4, sample_rate = 10, max_iterations = 1, quantizer = 'pq', num_sub_vectors = 9);
CREATE INDEX ivk_idx ON ivk USING lance_ivf (v vector_l2_ops)
  WITH (lists = 5, sample_rate = 25, max_iterations = 2, quantizer = 'pq', num_sub_vectors = 9);
-- default sample_rate (256 x 5 > 600): the whole table
CREATE INDEX ivk_idx ON ivk USING lance_ivf (v vector_l2_ops)
  WITH (lists = 5, max_iterations = 1, quantizer = 'pq', num_sub_vectors = 9);
SET client_min_messages = warning;
-- and max_iterations changes the partition: 1 vs 50 iterations give
-- different list sizes on the same clustered data
CREATE INDEX ivk_1 ON ivk USING lance_ivf (v vector_l2_ops) WITH (lists = 8, max_iterations = 1, quantizer = 'flat');
CREATE INDEX ivk_50 ON ivk USING lance_ivf (v vector_l2_ops) WITH (lists = 8, max_iterations = 50, quantizer = 'flat');
SELECT lancedb.index_stats('ivk_1')->'list_size' IS DISTINCT FROM
       lancedb.index_stats('ivk_50')->'list_size' AS partitions_differ,
       (lancedb.index_stats('ivk_1')->>'num_indexed_rows')::int AS rows_1,
       (lancedb.index_stats('ivk_50')->>'num_indexed_rows')::int AS rows_50;
DROP TABLE ivk;

-- 5. Fewer than 2 x lists rows (19 rows, lists = 10): an untrained index,
-- one exact list, which must answer exactly like the seq scan; at 20 rows
-- (= 2 x lists) REINDEX trains it.
CREATE TABLE ivu (id int, v vector(8));
INSERT INTO ivu SELECT i, ARRAY(SELECT sin(i * 1.3 + j) FROM generate_series(1, 8) j)
  FROM generate_series(1, 19) i;
CREATE INDEX ivu_idx ON ivu USING lance_ivf (v vector_l2_ops) WITH (lists = 10);
SELECT lancedb.index_stats('ivu_idx')->>'trained' AS trained,
       lancedb.index_stats('ivu_idx')->>'lists' AS lists,
       lancedb.index_stats('ivu_idx')->>'quantizer' AS quantizer,
       lancedb.index_stats('ivu_idx')->>'num_indexed_rows' AS indexed;
SELECT * FROM ivo_check('SELECT id, v <-> ''[1,0,1,0,1,0,1,0]'' AS d FROM ivu ORDER BY v <-> ''[1,0,1,0,1,0,1,0]'' LIMIT 5');
SELECT * FROM ivo_check('SELECT id, v <-> ''[1,2,3,4,5,6,7,8]'' AS d FROM ivu ORDER BY v <-> ''[1,2,3,4,5,6,7,8]'' LIMIT 19');
SET enable_seqscan = off;
SELECT id, round((v <-> '[1,0,1,0,1,0,1,0]')::numeric, 4) AS d
  FROM ivu ORDER BY v <-> '[1,0,1,0,1,0,1,0]' LIMIT 3;
RESET enable_seqscan;
INSERT INTO ivu VALUES (20, '[1,1,1,1,1,1,1,1]');
REINDEX INDEX ivu_idx;
SELECT lancedb.index_stats('ivu_idx')->>'trained' AS trained,
       lancedb.index_stats('ivu_idx')->>'lists' AS lists;
DROP TABLE ivu;

-- 6. Cost model (ivfcostestimate): the index part of the cost (nprobes /
-- lists of its entries) is all startup cost; PostgreSQL adds a heap fetch
-- for every row, which LIMIT scales by k / rows.  So ORDER BY ... LIMIT k
-- uses the index for small k, but the seq scan + sort wins when k is the
-- whole table with every list probed (nprobes 20 = lists; on this table
-- from about LIMIT 1982 on), on a 5-row table, and with no LIMIT.
CREATE TABLE ivc (id int PRIMARY KEY, v vector(16), cat int);
INSERT INTO ivc
SELECT i, ARRAY(SELECT sin(i % 40 * 1.7 + j) * 3 + sin(i * 0.37 + j * j) * 0.6
                  FROM generate_series(1, 16) j), i % 100
  FROM generate_series(1, 2000) i;
ANALYZE ivc;
CREATE INDEX ivc_idx ON ivc USING lance_ivf (v vector_l2_ops) WITH (lists = 20, quantizer = 'sq');
SHOW lancedb.nprobes;
EXPLAIN (COSTS OFF) SELECT id FROM ivc ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivc ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 1000;
EXPLAIN (COSTS OFF) SELECT id FROM ivc ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 2000;
EXPLAIN (COSTS OFF) SELECT id FROM ivc ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]';
-- With fewer probes than lists, only the first row's probes are startup
-- cost: rows beyond them make the iterative scan probe further, up to every
-- list for the whole table.  So LIMIT 5 takes the index, LIMIT 2000 the
-- seq scan + sort, and so does a 1%-selective filter on this small table;
-- without an iterative scan the scan stops at its probes, and the index is
-- taken even for LIMIT 2000 (it returns what those lists hold).
SET lancedb.nprobes = 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivc ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivc ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 2000;
EXPLAIN (COSTS OFF) SELECT id FROM ivc WHERE cat = 7 ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10;
SET lancedb.iterative_scan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivc ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 2000;
RESET lancedb.iterative_scan;
RESET lancedb.nprobes;
CREATE TABLE ivc5 (id int, v vector(16));
INSERT INTO ivc5 SELECT id, v FROM ivc WHERE id <= 5;
ANALYZE ivc5;
CREATE INDEX ivc5_idx ON ivc5 USING lance_ivf (v vector_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM ivc5 ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 1;
DROP TABLE ivc5;

-- 7. Iterative scans with a selective filter: cat = 7 matches M = 20 rows
-- (id % 100 = 7), spread over several lists.  The query is row 1's vector.
-- first_list: the rows of the list nearest the query (nprobes = 1, no
-- iterative scan, no filter: that list, exhaustively); its cat = 7 rows are
-- what a one-list scan can return.
SET enable_seqscan = off;
SET lancedb.nprobes = 1;
SET lancedb.iterative_scan = off;
EXPLAIN (COSTS OFF) SELECT id, cat FROM ivc ORDER BY v <-> (SELECT v FROM ivc WHERE id = 1);
CREATE TEMP TABLE first_list AS
  SELECT id, cat FROM ivc ORDER BY v <-> (SELECT v FROM ivc WHERE id = 1);
RESET lancedb.iterative_scan;
SELECT count(*) AS first_list_rows, count(*) FILTER (WHERE cat = 7) AS first_list_matches,
       count(*) BETWEEN (lancedb.index_stats('ivc_idx')->'list_size'->>'min')::int
                    AND (lancedb.index_stats('ivc_idx')->'list_size'->>'max')::int AS one_list_size,
       count(*) FILTER (WHERE id = 1) AS has_row_1
  FROM first_list;
RESET enable_seqscan;
-- relaxed_order (the default), nprobes = 1: keeps probing until k = 10
-- rows pass; here they are the exact filtered top-10 as a set (relaxed
-- order promises neither the set nor the order in general; the index is
-- deterministic, so this is stable)
SHOW lancedb.iterative_scan;
SELECT cardinality(i.ids) AS nrows,
       (SELECT array_agg(x ORDER BY x) FROM unnest(i.ids) x) =
       (SELECT array_agg(x ORDER BY x) FROM unnest(e.ids) x) AS same_set
  FROM ivo_topk('SELECT id, v <-> (SELECT v FROM ivc WHERE id = 1) AS d FROM ivc WHERE cat = 7
                  ORDER BY v <-> (SELECT v FROM ivc WHERE id = 1) LIMIT 10', true) i,
       ivo_topk('SELECT id, v <-> (SELECT v FROM ivc WHERE id = 1) AS d FROM ivc WHERE cat = 7
                  ORDER BY v <-> (SELECT v FROM ivc WHERE id = 1) LIMIT 10', false) e;
-- LIMIT 20 = M: every matching row, so the set is exactly the filter's
SELECT nrows, (SELECT count(*) FROM ivc WHERE cat = 7) AS m FROM
  ivo_check('SELECT id, v <-> (SELECT v FROM ivc WHERE id = 1) AS d FROM ivc WHERE cat = 7
              ORDER BY v <-> (SELECT v FROM ivc WHERE id = 1) LIMIT 20');
-- every list probed first: ids and distances in the seq scan's order
SET lancedb.nprobes = 20;
SELECT * FROM ivo_check('SELECT id, v <-> (SELECT v FROM ivc WHERE id = 1) AS d FROM ivc WHERE cat = 7
                          ORDER BY v <-> (SELECT v FROM ivc WHERE id = 1) LIMIT 10');
SET lancedb.nprobes = 1;
-- iterative_scan = off, nprobes = 1: only the nearest list's matches,
-- fewer than k here
SET lancedb.iterative_scan = off;
SELECT cardinality(i.ids) AS nrows,
       cardinality(i.ids) = (SELECT count(*) FROM first_list WHERE cat = 7) AS first_list_matches,
       i.ids <@ (SELECT array_agg(id) FROM first_list WHERE cat = 7) AS from_first_list
  FROM ivo_topk('SELECT id, v <-> (SELECT v FROM ivc WHERE id = 1) AS d FROM ivc WHERE cat = 7
                  ORDER BY v <-> (SELECT v FROM ivc WHERE id = 1) LIMIT 10', true) i;
RESET lancedb.iterative_scan;
-- max_probes = 1 caps the relaxed iterative scan at that one list: the
-- same rows, at most one list's worth (and here fewer than k)
SET lancedb.max_probes = 1;
SELECT cardinality(i.ids) AS nrows,
       cardinality(i.ids) = (SELECT count(*) FROM first_list WHERE cat = 7) AS first_list_matches,
       i.ids <@ (SELECT array_agg(id) FROM first_list WHERE cat = 7) AS from_first_list,
       cardinality(i.ids) <= (lancedb.index_stats('ivc_idx')->'list_size'->>'max')::int AS within_one_list
  FROM ivo_topk('SELECT id, v <-> (SELECT v FROM ivc WHERE id = 1) AS d FROM ivc WHERE cat = 7
                  ORDER BY v <-> (SELECT v FROM ivc WHERE id = 1) LIMIT 10', true) i;
-- without a filter max_probes = 1 returns the first list, not more
SELECT cardinality(i.ids) = (SELECT count(*) FROM first_list) AS whole_first_list
  FROM ivo_topk('SELECT id, v <-> (SELECT v FROM ivc WHERE id = 1) AS d FROM ivc
                  ORDER BY v <-> (SELECT v FROM ivc WHERE id = 1) LIMIT 1000', true) i;
RESET lancedb.max_probes;
RESET lancedb.nprobes;
DROP TABLE ivc, first_list;

-- 8. The build counts every live row for reltuples, NULL vectors included
-- (they are not indexed: num_indexed_rows counts the others).
CREATE TABLE ivnull (id int, v vector(8));
INSERT INTO ivnull
SELECT i, CASE WHEN i % 3 = 0 THEN NULL ELSE ARRAY(SELECT sin(i + j) FROM generate_series(1, 8) j)::vector END
  FROM generate_series(1, 300) i;
SELECT reltuples AS before_build FROM pg_class WHERE relname = 'ivnull';
CREATE INDEX ivnull_idx ON ivnull USING lance_ivf (v vector_l2_ops) WITH (lists = 4);
SELECT c.reltuples AS table_reltuples, (SELECT count(*) FROM ivnull) AS live_rows,
       (SELECT count(v) FROM ivnull) AS non_null,
       (lancedb.index_stats('ivnull_idx')->>'num_indexed_rows')::int AS indexed
  FROM pg_class c WHERE c.relname = 'ivnull';
DROP TABLE ivnull;

-- 9. The sample's size (k-means line at debug1, the build stopped after
-- training as in block 4).  A table never vacuumed or analyzed
-- (reltuples -1) is sampled from the planner's row estimate: all 20000
-- rows for sqrt(20000) = 141 lists (it used to be 8192).  With too little
-- maintenance_work_mem (1 MB: half of it holds 512 rows of 256 floats) the
-- sample is smaller than sample_rate x lists, and a NOTICE says so.
CREATE TABLE ivs (id int, v vector(4));
INSERT INTO ivs SELECT i, ARRAY(SELECT sin(i * 0.37 + j * 1.3) FROM generate_series(1, 4) j)
  FROM generate_series(1, 20000) i;
CREATE TABLE ivm (id int, v vector(256));
INSERT INTO ivm SELECT i, ARRAY(SELECT sin(i * 0.37 + j * 1.3) FROM generate_series(1, 256) j)
  FROM generate_series(1, 3000) i;
SET client_min_messages = debug1;
CREATE INDEX ivs_idx ON ivs USING lance_ivf (v vector_l2_ops)
  WITH (max_iterations = 1, quantizer = 'pq', num_sub_vectors = 5);
SET maintenance_work_mem = '1MB';
CREATE INDEX ivm_idx ON ivm USING lance_ivf (v vector_l2_ops)
  WITH (lists = 10, max_iterations = 1, quantizer = 'pq', num_sub_vectors = 257);
RESET maintenance_work_mem;
SET client_min_messages = warning;
DROP TABLE ivs, ivm;

DROP FUNCTION ivo_check(text);
DROP FUNCTION ivo_topk(text, bool);
