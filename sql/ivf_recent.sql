-- lance_ivf list pages are read through per-backend hints of the shared
-- buffer that held each block last time (ReadRecentBuffer).  A hint may
-- be stale after anything that moves or rewrites pages; results must stay
-- those of an exact search: the same session scans, then REINDEX, inserts
-- that add list pages, DELETE + VACUUM, TRUNCATE + reload, and a rebuilt
-- index under the same name, and compares with a sequential scan each time.
SET client_min_messages = warning;
CREATE TABLE ivr (id int, v vector(6));
INSERT INTO ivr SELECT i, ARRAY(SELECT sin(i * 0.37 + j * 1.9) * 3 + cos(i * 0.011 * j)
                                  FROM generate_series(1, 6) j)
  FROM generate_series(1, 3000) i;
CREATE INDEX ivr_idx ON ivr USING lance_ivf (v vector_l2_ops) WITH (lists = 8, quantizer = 'flat');
SET lancedb.nprobes = 8;

-- ids of the 25 nearest rows of query i, through the index and exactly
CREATE FUNCTION ivr_check(nq int) RETURNS TABLE (queries int, same int) LANGUAGE plpgsql AS $$
DECLARE
  q vector;
  a int[];
  b int[];
BEGIN
  queries := 0;
  same := 0;
  FOR i IN 1..nq LOOP
    q := ARRAY(SELECT cos(i * 0.53 + j) * 3 FROM generate_series(1, 6) j)::vector;
    SET LOCAL enable_seqscan = off;
    SET LOCAL enable_indexscan = on;
    SELECT array_agg(id ORDER BY d, id) INTO a
      FROM (SELECT id, v <-> q AS d FROM ivr ORDER BY v <-> q LIMIT 25) s;
    SET LOCAL enable_seqscan = on;
    SET LOCAL enable_indexscan = off;
    SELECT array_agg(id ORDER BY d, id) INTO b
      FROM (SELECT id, v <-> q AS d FROM ivr ORDER BY v <-> q, id LIMIT 25) s;
    queries := queries + 1;
    IF a = b THEN
      same := same + 1;
    END IF;
  END LOOP;
  RETURN NEXT;
END $$;

-- the plan of the checked query uses the index
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivr ORDER BY v <-> '[1,1,1,1,1,1]' LIMIT 25;
RESET enable_seqscan;

SELECT * FROM ivr_check(20);
SELECT * FROM ivr_check(20);		-- hints set by the first pass
REINDEX INDEX ivr_idx;				-- new relfilenode: every hint stale
SELECT * FROM ivr_check(20);
-- inserts grow the lists past the blocks hinted so far
INSERT INTO ivr SELECT i, ARRAY(SELECT sin(i * 0.41 + j * 1.3) * 3 FROM generate_series(1, 6) j)
  FROM generate_series(3001, 6000) i;
SELECT * FROM ivr_check(20);
DELETE FROM ivr WHERE id % 3 = 0;
VACUUM ivr;
SELECT * FROM ivr_check(20);
TRUNCATE ivr;
INSERT INTO ivr SELECT i, ARRAY(SELECT cos(i * 0.29 + j * 0.7) * 3 FROM generate_series(1, 6) j)
  FROM generate_series(1, 2000) i;
SELECT * FROM ivr_check(20);
DROP INDEX ivr_idx;
CREATE INDEX ivr_idx ON ivr USING lance_ivf (v vector_l2_ops) WITH (lists = 8, quantizer = 'sq');
SELECT * FROM ivr_check(20);

-- a temporary table's index (local buffers) takes the normal read path
CREATE TEMP TABLE ivr_tmp AS SELECT * FROM ivr;
CREATE INDEX ON ivr_tmp USING lance_ivf (v vector_l2_ops) WITH (lists = 8, quantizer = 'flat');
SET enable_seqscan = off;
SELECT count(*) AS same_as_exact FROM
  (SELECT id FROM ivr_tmp ORDER BY v <-> '[1,0,1,0,1,0]' LIMIT 25) a
  JOIN (SELECT id FROM ivr ORDER BY (v <-> '[1,0,1,0,1,0]') + 0, id LIMIT 25) b USING (id);
RESET enable_seqscan;
DROP TABLE ivr_tmp;
DROP FUNCTION ivr_check(int);
DROP TABLE ivr;
