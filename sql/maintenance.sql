-- lancedb.optimize on tables, indexes and errors; automatic indexing
-- (lancedb.auto_index); index_stats' health and maintenance members
SET client_min_messages = warning;
SET search_path = public, lancedb;
SELECT setseed(0.42);

CREATE TABLE m (id int PRIMARY KEY, v vector(4), body text, mv vector[], b bit(16));
INSERT INTO m SELECT i, ARRAY[random(), random(), random(), random()]::vector,
					 'document number ' || i, NULL, NULL
  FROM generate_series(1, 300) i;

-- registration: not due yet (300 of 1000 rows), due (100), errors
SELECT auto_index('m', 'v', min_rows => 1000, metric => 'cosine') - 'table';
SELECT auto_index('m', 'body', min_rows => 100) ->> 'statement' AS statement;
SELECT auto_index('m', 'id');
SELECT auto_index('m', 'v', 'bm25');
SELECT auto_index('m', 'b', metric => 'l2') - 'table';
SELECT auto_index('m', 'v', metric => 'hamming');
SELECT auto_index('m', 'nope');
SELECT auto_index('m', 'v', 'graph');
SELECT column_name, index_type, metric, min_rows FROM auto_index_config ORDER BY 1;

-- a table: due automatic indexes are created, then each lancedb index gets a round
SELECT optimize('m') -> 'created' AS created;
SELECT indexrelid::regclass AS index FROM pg_index WHERE indrelid = 'm'::regclass ORDER BY 1;
INSERT INTO m SELECT i, ARRAY[random(), random(), random(), random()]::vector,
					 'document number ' || i, NULL, NULL
  FROM generate_series(301, 1200) i;
SELECT optimize('m') -> 'created' AS created;
SELECT jsonb_path_query_array(optimize('m'), '$.indexes[*].index') AS maintained,
	   optimize('m') -> 'created' AS created_again;
SELECT action, status, relation, detail FROM maintenance_status WHERE am = 'auto_index' ORDER BY id;

-- the automatic index answers exactly with all lists probed
SET lancedb.nprobes = 1000;
SET enable_seqscan = off;
SELECT array_agg(id) = (SELECT array_agg(id) FROM (SELECT id FROM m ORDER BY v <=> '[1,0,0,0]', id LIMIT 5) s
						  ) AS exact
  FROM (SELECT id FROM m ORDER BY v <=> '[1,0,0,0]' LIMIT 5) s;
RESET enable_seqscan;

-- index_stats: unindexed rows, health and maintenance for every lancedb index
SELECT s -> 'num_unindexed_rows' AS unindexed,
	   jsonb_typeof(s -> 'health' -> 'drift') AS drift,
	   jsonb_typeof(s -> 'health' -> 'balance') AS balance,
	   s -> 'health' ->> 'needs' AS needs,
	   s -> 'maintenance' ->> 'worker' AS worker,
	   s -> 'maintenance' -> 'last' ->> 'action' AS last_action
  FROM index_stats('m_v_lance_auto') s;
SELECT jsonb_object_keys(index_stats('m_body_lance_auto') -> 'health') AS health_keys ORDER BY 1;
SELECT (index_stats('m_body_lance_auto') -> 'maintenance') - 'last' AS maintenance;

-- optimize(): what it accepts
SELECT optimize('m_pkey');
SELECT optimize('pg_class');
CREATE SEQUENCE m_seq;
SELECT optimize('m_seq');
SELECT optimize('m_v_lance_auto') ->> 'action' AS action;

-- only the table's owner registers or maintains
CREATE ROLE m_other;
GRANT USAGE ON SCHEMA lancedb TO m_other;
SET ROLE m_other;
SELECT auto_index('m', 'v');
SELECT auto_index_remove('m', 'v');
SELECT optimize('m');
SELECT count(*) AS visible_registrations FROM auto_index_config;
RESET ROLE;
DROP OWNED BY m_other;
DROP ROLE m_other;

-- removal: the index stays, nothing more is created
SELECT auto_index_remove('m', 'v') AS removed, auto_index_remove('m', 'v') AS again;
DROP INDEX m_v_lance_auto;
SELECT optimize('m') -> 'created' AS created;
-- a dropped table's registration is forgotten by the next worker round;
-- auto_index_ddl ignores it meanwhile
DROP TABLE m;
SELECT count(*) AS registrations FROM auto_index_config;
SELECT count(*) FILTER (WHERE auto_index_ddl(relid, column_name, false) IS NOT NULL) AS due
  FROM auto_index_config;
