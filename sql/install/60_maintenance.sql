
--------------------------------------------------------------------------
-- maintenance: what the background worker and lancedb.optimize() do
--------------------------------------------------------------------------

-- One row per action (the worker writes in its own transactions, so a
-- failed rebuild keeps its row with status 'failed').
CREATE TABLE lancedb.maintenance_log (
	id bigserial PRIMARY KEY,
	started timestamptz NOT NULL DEFAULT clock_timestamp(),
	finished timestamptz,
	relid oid NOT NULL,
	relation text NOT NULL,
	am text NOT NULL,
	action text NOT NULL,
	reason text,
	status text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
	detail text
);
CREATE VIEW lancedb.maintenance_status AS
	SELECT id, started, finished, finished - started AS duration, relation, am,
		   action, reason, status, detail
	  FROM lancedb.maintenance_log;
GRANT SELECT ON lancedb.maintenance_status TO PUBLIC;
COMMENT ON VIEW lancedb.maintenance_status IS
	'what lancedb maintenance (background worker or lancedb.optimize) did: when, on what, why, how long, result';

-- One maintenance round for one index, now: decides as the worker does
-- and rebuilds (REINDEX INDEX, not CONCURRENTLY: inside a transaction)
-- when the index needs it.
CREATE FUNCTION lancedb.optimize(regclass) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'lancedb_optimize' LANGUAGE C STRICT VOLATILE;
