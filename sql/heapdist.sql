-- Re-ranking reads each candidate's exact vector from the table
-- (src/am/heapdist.c: a direct heapam read through recent-buffer hints;
-- src/am/toastfetch.c: toast chunks read directly).  Every index here is
-- probed whole, so its answer (ids and the distances it returns) must be
-- the exact one, through HOT chains, non-HOT updates, deletes, pruned and
-- redirected chains, TOASTed values in one or two chunks, compressed
-- values, an expression index and a cursor's older snapshot.
SET client_min_messages = warning;
CREATE FUNCTION hdv(i int, d int) RETURNS vector IMMUTABLE LANGUAGE sql AS $$
  SELECT array_agg(sin(i * 0.71 + j * 1.3 + (i % 7) * j * 0.2)::real ORDER BY j)::vector
    FROM generate_series(1, d) j
$$;
-- queries whose index answer differs from the exact one (ids and distances)
CREATE FUNCTION hd_wrong(tbl text, expr text, d int, k int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE a text; e text; wrong int := 0; sql text;
BEGIN
  SET LOCAL lancedb.nprobes = 64;
  SET LOCAL lancedb.refine_factor = 100;
  SET LOCAL lancedb.ef_search = 400;
  SET LOCAL lancedb.iterative_scan = off;
  SET LOCAL enable_bitmapscan = off;
  FOR i IN 1..8 LOOP
    sql := format('SELECT string_agg(id || '':'' || dist, '','' ORDER BY dist, id) FROM '
                  '(SELECT id, %s <-> %L::vector AS dist FROM %I ORDER BY %s <-> %L::vector LIMIT %s) s',
                  expr, hdv(1000 + i, d), tbl, expr, hdv(1000 + i, d), k);
    SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = on;
    EXECUTE sql INTO a;
    SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
    EXECUTE sql INTO e;
    IF a IS DISTINCT FROM e THEN
      RAISE WARNING '% query %: index % exact %', tbl, i, a, e;
      wrong := wrong + 1;
    END IF;
  END LOOP;
  RETURN wrong;
END $$;
-- the same for each index of the table alone (the others dropped in a
-- subtransaction that is rolled back): "index=wrong", -1 when the query
-- did not use that index
CREATE FUNCTION hd_each(tbl text, expr text, d int, k int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE idx text; other text; line text; res text := ''; w int;
BEGIN
  FOR idx IN SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = tbl::regclass ORDER BY 1 LOOP
    BEGIN
      FOR other IN SELECT indexrelid::regclass::text FROM pg_index
                    WHERE indrelid = tbl::regclass AND indexrelid::regclass::text <> idx LOOP
        EXECUTE 'DROP INDEX ' || other;
      END LOOP;
      w := -1;
      SET LOCAL enable_seqscan = off;
      FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT id FROM %I ORDER BY %s <-> %L::vector LIMIT 5',
                                 tbl, expr, hdv(1, d)) LOOP
        IF line LIKE '%Index Scan using ' || idx || ' %' THEN
          w := hd_wrong(tbl, expr, d, k);
        END IF;
      END LOOP;
      RAISE EXCEPTION USING ERRCODE = 'LHD01', MESSAGE = w::text;
    EXCEPTION WHEN SQLSTATE 'LHD01' THEN
      res := res || CASE WHEN res = '' THEN '' ELSE ' ' END || idx || '=' || SQLERRM;
    END;
  END LOOP;
  RETURN res;
END $$;

-- in-line vectors, room on every page for HOT updates
CREATE TABLE hh (id int, pad int, v vector(16)) WITH (fillfactor = 40, autovacuum_enabled = off);
INSERT INTO hh SELECT i, 0, hdv(i, 16) FROM generate_series(1, 300) i;
CREATE INDEX hh_ivf ON hh USING lance_ivf (v vector_l2_ops) WITH (lists = 8, quantizer = 'rq');
CREATE INDEX hh_hnsw ON hh USING lance_hnsw (v vector_l2_ops) WITH (quantizer = 'sq', m = 8, ef_construction = 64);
SELECT hd_each('hh', 'v', 16, 10) AS wrong;
-- HOT chains: several versions of a row on its page, the index entry on
-- the chain head, the visible version at its end
BEGIN;
UPDATE hh SET pad = pad + 1 WHERE id % 3 = 0;
UPDATE hh SET pad = pad + 1 WHERE id % 3 = 0;
UPDATE hh SET pad = pad + 1 WHERE id % 6 = 0;
SELECT pg_stat_get_xact_tuples_hot_updated('hh'::regclass) > 100 AS hot_updates;
SELECT hd_each('hh', 'v', 16, 10) AS wrong_in_xact;
COMMIT;
SELECT hd_each('hh', 'v', 16, 10) AS wrong_hot;
-- non-HOT updates (new vectors: the old entries lead to dead versions) and deletes
UPDATE hh SET v = hdv(id + 5000, 16) WHERE id % 5 = 0;
DELETE FROM hh WHERE id % 7 = 0;
SELECT hd_each('hh', 'v', 16, 10) AS wrong_updated, hd_each('hh', 'v', 16, 60) AS wrong_60;
-- after VACUUM: chains pruned to redirects, dead entries gone
VACUUM hh;
UPDATE hh SET pad = pad + 1 WHERE id % 4 = 1;
SELECT hd_each('hh', 'v', 16, 10) AS wrong_vacuumed, hd_each('hh', 'v', 16, 60) AS wrong_60;
-- an open cursor keeps the snapshot of its opening: rows updated or
-- deleted after it (whose new versions are in the index) are read as they were
CREATE TABLE hd_res (ok bool, n int);
BEGIN;
DO $$
DECLARE c refcursor; r record; before text; after text; top int[];
  q vector := hdv(2000, 16);
BEGIN
  SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
  SELECT string_agg(id || ':' || dist, ',' ORDER BY dist, id), array_agg(id) INTO before, top
    FROM (SELECT id, v <-> q AS dist FROM hh ORDER BY v <-> q LIMIT 8) s;
  SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = on;
  SET LOCAL lancedb.nprobes = 64; SET LOCAL lancedb.refine_factor = 100;
  OPEN c FOR SELECT id, v <-> q AS dist FROM hh ORDER BY v <-> q LIMIT 8;
  UPDATE hh SET v = hdv(id + 9000, 16) WHERE id = ANY (top[1:4]);
  UPDATE hh SET pad = pad + 1 WHERE id = ANY (top[5:6]);
  DELETE FROM hh WHERE id = ANY (top[7:8]);
  after := '';
  LOOP
    FETCH c INTO r;
    EXIT WHEN NOT FOUND;
    after := after || CASE WHEN after = '' THEN '' ELSE ',' END || r.id || ':' || r.dist;
  END LOOP;
  CLOSE c;
  INSERT INTO hd_res VALUES (before = after, array_length(top, 1));
END $$;
SELECT * FROM hd_res;
-- and a new query sees the changes
SELECT hd_each('hh', 'v', 16, 10) AS wrong_after_changes;
ROLLBACK;
DROP TABLE hd_res;

-- TOASTed vectors: 600 dimensions stored out of line in two chunks, some
-- rows compressible (kept in line, compressed)
CREATE TABLE ht (id int, pad int, v vector(600)) WITH (autovacuum_enabled = off);
ALTER TABLE ht ALTER v SET STORAGE EXTENDED;
INSERT INTO ht SELECT i, 0,
    CASE WHEN i % 10 = 0 THEN array_fill((i * 0.01)::real, ARRAY[600])::vector ELSE hdv(i, 600) END
  FROM generate_series(1, 150) i;
-- values of the table stored out of line, by number of chunks
CREATE FUNCTION hd_toast_shape(tbl regclass) RETURNS TABLE (one_chunk bigint, two_chunks bigint) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n = 2) '
                              'FROM (SELECT chunk_id, count(*) AS n FROM %s GROUP BY chunk_id) s',
                              (SELECT reltoastrelid::regclass FROM pg_class WHERE oid = tbl));
END $$;
SELECT * FROM hd_toast_shape('ht');
SELECT count(*) FILTER (WHERE pg_column_compression(v) IS NOT NULL) AS compressed FROM ht;
CREATE INDEX ht_ivf ON ht USING lance_ivf (v vector_l2_ops) WITH (lists = 4, quantizer = 'sq');
SELECT hd_each('ht', 'v', 600, 10) AS wrong;
UPDATE ht SET pad = 1 WHERE id % 3 = 0;
UPDATE ht SET v = hdv(id + 7000, 600) WHERE id % 4 = 0;
DELETE FROM ht WHERE id % 9 = 0;
SELECT hd_each('ht', 'v', 600, 10) AS wrong_updated, hd_each('ht', 'v', 600, 40) AS wrong_40;
-- chunk TIDs remembered from the queries above go stale: VACUUM frees
-- them for new values' chunks, CLUSTER rewrites every value (keeping its
-- value id) into a new toast file, in the reverse order
DELETE FROM ht WHERE id % 2 = 1;
VACUUM ht;
INSERT INTO ht SELECT i, 0, hdv(i, 600) FROM generate_series(201, 260) i;
SELECT hd_each('ht', 'v', 600, 10) AS wrong_reused, hd_each('ht', 'v', 600, 40) AS wrong_40;
CREATE INDEX ht_desc ON ht (id DESC);
CLUSTER ht USING ht_desc;
DROP INDEX ht_desc;
SELECT hd_each('ht', 'v', 600, 10) AS wrong_rewritten, hd_each('ht', 'v', 600, 40) AS wrong_40;
-- expression index (the generic slot path) over the same TOASTed column
DROP INDEX ht_ivf;
CREATE INDEX ht_expr ON ht USING lance_ivf ((subvector(v, 1, 32)::vector(32)) vector_l2_ops) WITH (lists = 4, quantizer = 'rq');
SELECT hd_each('ht', 'subvector(v, 1, 32)::vector(32)', 32, 10) AS wrong;
DROP INDEX ht_expr;

-- one chunk per value: a wide row is toasted down to a low
-- toast_tuple_target, which moves the 400-byte vector out of line too
CREATE TABLE ht1 (id int, f text, v vector(100)) WITH (toast_tuple_target = 128, autovacuum_enabled = off);
ALTER TABLE ht1 ALTER f SET STORAGE EXTERNAL;
INSERT INTO ht1 SELECT i, repeat('x', 2100), hdv(i, 100) FROM generate_series(1, 200) i;
SELECT * FROM hd_toast_shape('ht1');
CREATE INDEX ht1_ivf ON ht1 USING lance_ivf (v vector_l2_ops) WITH (lists = 4, quantizer = 'rq');
CREATE INDEX ht1_hnsw ON ht1 USING lance_hnsw (v vector_l2_ops) WITH (quantizer = 'sq', m = 8, ef_construction = 64);
SELECT hd_each('ht1', 'v', 100, 10) AS wrong;
DELETE FROM ht1 WHERE id % 2 = 0;
SELECT hd_each('ht1', 'v', 100, 10) AS wrong_deleted;

RESET ALL;
DROP TABLE hh, ht, ht1;
DROP FUNCTION hdv, hd_wrong, hd_each, hd_toast_shape;
