
--------------------------------------------------------------------------
-- lance_fdw: foreign tables over Lance datasets written by LanceDB
--------------------------------------------------------------------------

CREATE FUNCTION lancedb.lance_fdw_handler() RETURNS fdw_handler
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION lancedb.lance_fdw_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER lance_fdw
	HANDLER lancedb.lance_fdw_handler
	VALIDATOR lancedb.lance_fdw_validator;

-- Metadata of a lance_fdw foreign table's dataset (needs SELECT on the table).
CREATE FUNCTION lancedb.lance_versions(regclass,
	OUT version bigint, OUT "timestamp" timestamptz, OUT rows bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'lance_fdw_versions' LANGUAGE C STRICT;
CREATE FUNCTION lancedb.lance_tags(regclass, OUT tag text, OUT version bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'lance_fdw_tags' LANGUAGE C STRICT;

COMMENT ON FOREIGN DATA WRAPPER lance_fdw IS 'reads Lance datasets written by LanceDB (server option uri; table options table or path, version or tag)';
COMMENT ON FUNCTION lancedb.lance_fdw_handler() IS 'handler of the lance_fdw foreign-data wrapper';
COMMENT ON FUNCTION lancedb.lance_fdw_validator(text[], oid) IS 'option validator of the lance_fdw foreign-data wrapper';
COMMENT ON FUNCTION lancedb.lance_versions(regclass) IS 'versions of a lance_fdw table''s dataset: version, commit time, live rows';
COMMENT ON FUNCTION lancedb.lance_tags(regclass) IS 'tags of a lance_fdw table''s dataset and the versions they name';
