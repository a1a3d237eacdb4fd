
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

-- Automatic indexing (LanceDB Cloud's "automated indexing"), opt-in per
-- column: once the table holds min_rows rows and the column has no lancedb
-- index, maintenance creates one (CREATE INDEX CONCURRENTLY from the
-- worker; a plain CREATE INDEX from lancedb.optimize(table)).
CREATE TABLE lancedb.auto_index_config (
	relid oid NOT NULL,
	column_name name NOT NULL,
	index_type text NOT NULL CHECK (index_type IN ('auto', 'ivf', 'hnsw', 'bm25')),
	metric text NOT NULL CHECK (metric IN ('l2', 'ip', 'cosine', 'hamming')),
	min_rows bigint CHECK (min_rows > 0),
	registered timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (relid, column_name)
);
-- everyone may register their own tables' columns (and only those)
ALTER TABLE lancedb.auto_index_config ENABLE ROW LEVEL SECURITY;
CREATE POLICY table_owner ON lancedb.auto_index_config
	USING (pg_catalog.pg_has_role((SELECT relowner FROM pg_catalog.pg_class WHERE oid = relid), 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON lancedb.auto_index_config TO PUBLIC;

-- The CREATE INDEX statement auto indexing would run for (relid, column)
-- now, or NULL when it has nothing to do (not registered, an index exists,
-- too few rows).  Raises for a column no lancedb index can serve.
CREATE FUNCTION lancedb.auto_index_ddl(p_relid oid, p_column name, p_concurrently boolean)
RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	cfg lancedb.auto_index_config;
	am text;
	opclass text;
	want bigint;
	have bigint;
	typ text;
BEGIN
	SELECT * INTO cfg FROM lancedb.auto_index_config c
	 WHERE c.relid = p_relid AND c.column_name = p_column;
	IF NOT FOUND OR NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = p_relid) THEN
		RETURN NULL;
	END IF;
	SELECT t.typname INTO typ
	  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
	 WHERE a.attrelid = p_relid AND a.attname = p_column AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RETURN NULL;			-- column dropped since
	END IF;
	typ := CASE typ WHEN '_vector' THEN 'vector[]' WHEN '_text' THEN 'text[]'
					WHEN 'varchar' THEN 'character varying' ELSE typ END;
	IF typ IN ('vector', 'halfvec', 'bit', 'vector[]') THEN
		IF cfg.index_type NOT IN ('auto', 'ivf', 'hnsw') THEN
			RAISE EXCEPTION 'auto index type % does not fit column "%" of type %', cfg.index_type, p_column, typ
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		am := CASE WHEN cfg.index_type = 'hnsw' THEN 'lance_hnsw' ELSE 'lance_ivf' END;
		IF typ = 'vector[]' THEN
			opclass := 'multivector_cosine_ops';
			am := 'lance_ivf';
		ELSIF typ = 'bit' THEN
			opclass := 'bit_hamming_ops';
			am := 'lance_ivf';
		ELSE
			IF cfg.metric = 'hamming' THEN
				RAISE EXCEPTION 'metric hamming needs a bit column, "%" is %', p_column, typ
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			opclass := typ || '_' || cfg.metric || '_ops';
		END IF;
		-- where CREATE EXTENSION put it
		SELECT quote_ident(n.nspname) || '.' || quote_ident(o.opcname) INTO opclass
		  FROM pg_opclass o JOIN pg_am m ON m.oid = o.opcmethod
		  JOIN pg_namespace n ON n.oid = o.opcnamespace
		 WHERE o.opcname = opclass AND m.amname = am;
	ELSIF typ IN ('text', 'character varying', 'text[]') THEN
		IF cfg.index_type NOT IN ('auto', 'bm25') THEN
			RAISE EXCEPTION 'auto index type % does not fit text column "%"', cfg.index_type, p_column
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		am := 'lance_bm25';
		opclass := NULL;
	ELSE
		RAISE EXCEPTION 'column "%" of type % cannot have a lancedb index', p_column, typ
			USING ERRCODE = 'datatype_mismatch';
	END IF;

	-- an index (valid or still being built) of a lancedb AM on the column
	IF EXISTS (SELECT 1 FROM pg_index i
				 JOIN pg_class c ON c.oid = i.indexrelid
				 JOIN pg_am a ON a.oid = c.relam
				 JOIN pg_attribute att ON att.attrelid = i.indrelid AND att.attname = p_column
				WHERE i.indrelid = p_relid AND att.attnum = ANY (i.indkey::int2[])
				  AND a.amname IN ('lance_ivf', 'lance_hnsw', 'lance_bm25')
				  AND NOT (i.indisvalid = false AND c.relname ~ '(_cc(new|old)[0-9]*|_lance_auto)$')) THEN
		RETURN NULL;
	END IF;

	want := coalesce(cfg.min_rows, coalesce(current_setting('lancedb.auto_index_min_rows', true)::bigint, 10000));
	-- rows, counted only up to what is needed
	EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s WHERE %I IS NOT NULL LIMIT %s) s',
				   p_relid::regclass, p_column, want) INTO have;
	IF have < want THEN
		RETURN NULL;
	END IF;
	-- a recognisable name: an interrupted CONCURRENTLY build leaves an
	-- invalid index by that name, which the next round drops and redoes
	RETURN format('CREATE INDEX %s%I ON %s USING %s (%I%s)',
				  CASE WHEN p_concurrently THEN 'CONCURRENTLY ' ELSE '' END,
				  left((SELECT relname FROM pg_class WHERE oid = p_relid), 24) || '_' ||
				  left(p_column, 24) || '_lance_auto',
				  p_relid::regclass, am, p_column,
				  CASE WHEN opclass IS NULL THEN '' ELSE ' ' || opclass END);
END $$;

-- Register (or change) automatic indexing of a column; returns its state.
CREATE FUNCTION lancedb.auto_index(tbl regclass, column_name name,
								   index_type text DEFAULT 'auto',
								   metric text DEFAULT 'l2',
								   min_rows bigint DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ddl text;
BEGIN
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF (SELECT relkind FROM pg_class WHERE oid = tbl) NOT IN ('r', 'm', 'p') THEN
		RAISE EXCEPTION '"%" is not a table', tbl USING ERRCODE = 'wrong_object_type';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = auto_index.column_name
					AND attnum > 0 AND NOT attisdropped) THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', auto_index.column_name, tbl
			USING ERRCODE = 'undefined_column';
	END IF;
	IF lower(auto_index.index_type) NOT IN ('auto', 'ivf', 'hnsw', 'bm25') THEN
		RAISE EXCEPTION 'unknown index type "%"', auto_index.index_type
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use auto, ivf, hnsw or bm25.';
	END IF;
	IF lower(auto_index.metric) NOT IN ('l2', 'ip', 'cosine', 'hamming') THEN
		RAISE EXCEPTION 'unknown metric "%"', auto_index.metric
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use l2, ip, cosine or hamming.';
	END IF;
	INSERT INTO lancedb.auto_index_config AS c (relid, column_name, index_type, metric, min_rows)
	VALUES (tbl, auto_index.column_name, lower(auto_index.index_type), lower(auto_index.metric),
			auto_index.min_rows)
	ON CONFLICT (relid, column_name) DO UPDATE
	   SET index_type = excluded.index_type, metric = excluded.metric,
		   min_rows = excluded.min_rows;
	ddl := lancedb.auto_index_ddl(tbl, auto_index.column_name, false);	-- validates the column now
	RETURN jsonb_build_object('table', tbl::text, 'column', auto_index.column_name,
							  'index_type', lower(auto_index.index_type), 'metric', lower(auto_index.metric),
							  'min_rows', coalesce(auto_index.min_rows, coalesce(current_setting('lancedb.auto_index_min_rows', true)::bigint, 10000)),
							  'due', ddl IS NOT NULL, 'statement', ddl);
END $$;

-- Stop automatic indexing of a column (an index already made stays).
CREATE FUNCTION lancedb.auto_index_remove(tbl regclass, column_name name) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	DELETE FROM lancedb.auto_index_config c
	 WHERE c.relid = tbl AND c.column_name = auto_index_remove.column_name;
	RETURN FOUND;
END $$;
