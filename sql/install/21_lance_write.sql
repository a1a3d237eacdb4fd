
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

-- LanceDB's compact_files: merges small fragments (and fragments with more
-- deleted rows than lancedb.lance_compact_deleted_fraction) into fragments
-- of up to target_rows_per_fragment rows, dropping deleted rows; commits a
-- Rewrite version at once.
CREATE FUNCTION lancedb.lance_compact(regclass,
	target_rows_per_fragment int DEFAULT 1048576,
	materialize_deletions bool DEFAULT true)
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'lance_fdw_compact' LANGUAGE C STRICT VOLATILE;
-- LanceDB's cleanup_old_versions: removes versions committed before
-- now() - older_than (never the latest or a tagged one) and the files only
-- they use, plus old files no version uses.
CREATE FUNCTION lancedb.lance_cleanup(regclass, older_than interval DEFAULT '7 days')
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'lance_fdw_cleanup' LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION lancedb.lance_compact(regclass, int, bool) IS 'compacts a lance_fdw table''s dataset as LanceDB''s compact_files (merges small fragments, drops deleted rows); returns what it did';
COMMENT ON FUNCTION lancedb.lance_cleanup(regclass, interval) IS 'removes versions of a lance_fdw table''s dataset older than older_than (except the latest and tagged ones) and the files only they use';
