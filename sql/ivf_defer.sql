-- lance_ivf ORDER BY scans defer candidates (lancedb.ivf_defer_candidates):
-- once a scan holds enough candidates, the RaBitQ estimate kernel keeps only
-- the entries whose key is under a threshold, and a page with others left
-- out is estimated again when the scan goes that deep.  3000 rows per list
-- make the threshold kick in after the first list.  Results must be the
-- same as with deferring off (the scan without it), for shallow and deep
-- LIMITs, a cursor fetched in steps, filters with iterative scans and
-- refine_factor; and those of an exact scan where the index is exact
-- (every list probed, not too deep: rq's bound is probabilistic, so
-- thousands deep a row may come a few places late either way).
SET client_min_messages = warning;
CREATE TABLE dv (id int PRIMARY KEY, cat int, v vector(16));
INSERT INTO dv
  SELECT i, i % 7,
         (SELECT array_agg((4 * sin(i * 0.7071 * (j + 1) + j * 1.3) + (i % 5) * 0.5)::real ORDER BY j)
            FROM generate_series(0, 15) j)::vector(16)
    FROM generate_series(1, 12000) i;
CREATE INDEX dv_idx ON dv USING lance_ivf (v vector_l2_ops) WITH (lists = 4, quantizer = 'rq');
CREATE FUNCTION dv_q(k int) RETURNS vector IMMUTABLE LANGUAGE sql AS $$
  SELECT array_agg((4 * sin(k * 1.1 + j * 0.9) + (k % 5) * 0.5)::real ORDER BY j)::vector(16)
    FROM generate_series(0, 15) j
$$;
-- ids in order: the exact scan, or the index with deferring on or off;
-- rows at exactly the same distance (ties, in any order) are listed by id
-- at the place of the first of them
CREATE FUNCTION dv_ids(q vector, lim int, cond text, how text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  IF how = 'exact' THEN
    SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = on;
  ELSE
    SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = off;
    PERFORM set_config('lancedb.ivf_defer_candidates', (how = 'defer')::text, true);
  END IF;
  EXECUTE format('SELECT string_agg(id::text, '','' ORDER BY g, id) FROM '
                 '(SELECT id, min(n) OVER (PARTITION BY d) g FROM (SELECT row_number() OVER () n, id, d FROM '
                 '(SELECT id, v <-> $1 AS d FROM dv WHERE %s ORDER BY v <-> $1 LIMIT %s) s) t) u', cond, lim)
    INTO r USING q;
  RETURN r;
END $$;
-- the scan's counters (EXPLAIN ANALYZE)
CREATE FUNCTION dv_scan(q vector, lim int, defer bool) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  SET LOCAL enable_seqscan = off;
  PERFORM set_config('lancedb.ivf_defer_candidates', defer::text, true);
  EXECUTE format('EXPLAIN (ANALYZE, FORMAT JSON) SELECT id FROM dv ORDER BY v <-> %L LIMIT %s', q, lim) INTO j;
  RETURN (j::jsonb -> 1 -> 'Lancedb Scans' -> 0);
END $$;

-- ids in common of two id lists
CREATE FUNCTION dv_common(a text, b text) RETURNS int IMMUTABLE LANGUAGE sql AS $$
  SELECT count(*)::int FROM (SELECT unnest(string_to_array(a, ',')) INTERSECT SELECT unnest(string_to_array(b, ','))) s
$$;

SET lancedb.nprobes = 4;
-- LIMIT 10 and deep LIMITs, every list probed
SELECT lim, count(*) AS queries,
       count(*) FILTER (WHERE dv_ids(dv_q(k), lim, 'true', 'defer') = dv_ids(dv_q(k), lim, 'true', 'nodefer')) AS defer_same,
       CASE WHEN lim <= 200 THEN
         count(*) FILTER (WHERE dv_ids(dv_q(k), lim, 'true', 'defer') = dv_ids(dv_q(k), lim, 'true', 'exact')) END AS defer_exact,
       count(*) FILTER (WHERE dv_common(dv_ids(dv_q(k), lim, 'true', 'defer'), dv_ids(dv_q(k), lim, 'true', 'exact')) >= 0.99 * lim) AS defer_99pct
  FROM generate_series(1, 6) k, (VALUES (10), (200), (3000)) l(lim)
 GROUP BY lim ORDER BY lim;
-- deep scans estimate deferred pages again; LIMIT 10 rarely does; never
-- with deferring off; the same rows re-ranked either way
SELECT lim, bool_and((dv_scan(dv_q(k), lim, true)->>'pages revisited')::int > 0) AS revisited,
       bool_and((dv_scan(dv_q(k), lim, false)->>'pages revisited')::int = 0) AS off_none,
       bool_and(dv_scan(dv_q(k), lim, true)->>'re-ranked' = dv_scan(dv_q(k), lim, false)->>'re-ranked') AS same_reranked,
       bool_and(dv_scan(dv_q(k), lim, true)->>'codes scanned' = dv_scan(dv_q(k), lim, false)->>'codes scanned') AS same_codes
  FROM generate_series(1, 3) k, (VALUES (3000)) l(lim)
 GROUP BY lim;
SELECT sum((dv_scan(dv_q(k), 10, true)->>'pages revisited')::int) <
       sum((dv_scan(dv_q(k), 10, true)->>'pages read')::int) / 10 AS limit10_rarely
  FROM generate_series(1, 6) k;

-- a cursor fetched in steps: past the first threshold between fetches
CREATE FUNCTION dv_cursor(q vector, steps int[], defer bool) RETURNS text LANGUAGE plpgsql AS $$
DECLARE c refcursor; r text := ''; id int; s int;
BEGIN
  SET LOCAL enable_seqscan = off;
  PERFORM set_config('lancedb.ivf_defer_candidates', defer::text, true);
  OPEN c FOR SELECT dv.id FROM dv ORDER BY v <-> q;
  FOREACH s IN ARRAY steps LOOP
    -- a step: move s - 1 rows on, then fetch one
    MOVE FORWARD s - 1 FROM c;
    FETCH c INTO id;
    r := r || coalesce(id::text, 'none') || ',';
  END LOOP;
  CLOSE c;
  RETURN r;
END $$;
CREATE FUNCTION dv_nth(q vector, steps int[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text := ''; pos int := 0; s int; id int;
BEGIN
  SET LOCAL enable_indexscan = off;
  FOREACH s IN ARRAY steps LOOP
    pos := pos + s;
    SELECT x.id INTO id FROM (SELECT dv.id FROM dv ORDER BY v <-> q LIMIT 1 OFFSET pos - 1) x;
    r := r || coalesce(id::text, 'none') || ',';
  END LOOP;
  RETURN r;
END $$;
SELECT k, dv_cursor(dv_q(k), '{1,9,150}', true) = dv_nth(dv_q(k), '{1,9,150}') AS cursor_exact,
       dv_cursor(dv_q(k), '{1,9,300,1500,1200,1}', true) = dv_cursor(dv_q(k), '{1,9,300,1500,1200,1}', false) AS cursor_same
  FROM generate_series(1, 3) k ORDER BY k;

-- filters: every list probed (exact), and iterative scans from one list
-- (not exact: the same rows as without deferring)
SELECT count(*) FILTER (WHERE dv_ids(dv_q(k), 100, 'cat = 3', 'defer') = dv_ids(dv_q(k), 100, 'cat = 3', 'exact')) AS filter_exact
  FROM generate_series(1, 4) k;
SET lancedb.nprobes = 1;
SET lancedb.iterative_scan = relaxed_order;
SELECT count(*) FILTER (WHERE dv_ids(dv_q(k), lim, 'cat = 3', 'defer') = dv_ids(dv_q(k), lim, 'cat = 3', 'nodefer')) AS relaxed_same,
       count(*) FILTER (WHERE dv_ids(dv_q(k), lim, 'cat = 3', 'defer') IS NOT NULL) AS nonempty
  FROM generate_series(1, 4) k, (VALUES (10), (400)) l(lim);
SET lancedb.iterative_scan = strict_order;
SELECT count(*) FILTER (WHERE dv_ids(dv_q(k), lim, 'cat = 3', 'defer') = dv_ids(dv_q(k), lim, 'cat = 3', 'nodefer')) AS strict_same
  FROM generate_series(1, 4) k, (VALUES (10), (400)) l(lim);
RESET lancedb.iterative_scan;

-- refine_factor: more candidates re-ranked before a row is returned
SET lancedb.nprobes = 4;
SET lancedb.refine_factor = 3;
SELECT count(*) FILTER (WHERE dv_ids(dv_q(k), lim, 'true', 'defer') = dv_ids(dv_q(k), lim, 'true', 'exact')) AS refine_exact,
       count(*) FILTER (WHERE dv_ids(dv_q(k), lim, 'true', 'defer') = dv_ids(dv_q(k), lim, 'true', 'nodefer')) AS refine_same
  FROM generate_series(1, 4) k, (VALUES (10), (300)) l(lim);
RESET lancedb.refine_factor;
RESET lancedb.nprobes;
DROP TABLE dv;
DROP FUNCTION dv_q(int), dv_ids(vector, int, text, text), dv_scan(vector, int, bool), dv_common(text, text),
  dv_cursor(vector, int[], bool), dv_nth(vector, int[]);
