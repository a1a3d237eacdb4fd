
--------------------------------------------------------------------------
-- lance_fdw writes: dataset management (tags, restore)
--------------------------------------------------------------------------

-- Tags of a lance_fdw table's dataset (SELECT on the table and
-- pg_write_server_files).  version NULL = the latest.
CREATE FUNCTION lancedb.lance_tag_create(regclass, tag text, version bigint DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'lance_fdw_tag_create' LANGUAGE C CALLED ON NULL INPUT VOLATILE;
CREATE FUNCTION lancedb.lance_tag_delete(regclass, tag text)
	RETURNS void
	AS 'MODULE_PATHNAME', 'lance_fdw_tag_delete' LANGUAGE C STRICT VOLATILE;
-- A new version with the content of an old one (LanceDB's restore).
CREATE FUNCTION lancedb.lance_restore(regclass, version bigint)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'lance_fdw_restore' LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION lancedb.lance_restore(regclass, bigint) IS 'commits the content of an old version of a lance_fdw table''s dataset as its new latest version; returns that version';
COMMENT ON FUNCTION lancedb.lance_tag_create(regclass, text, bigint) IS 'creates a tag naming a version (default the latest) of a lance_fdw table''s dataset; returns the version';
COMMENT ON FUNCTION lancedb.lance_tag_delete(regclass, text) IS 'deletes a tag of a lance_fdw table''s dataset';
