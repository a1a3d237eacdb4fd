-- lance_fdw: what needs no Lance data files (the TAP test 020_lance_fdw_read
-- reads real datasets): the wrapper, its functions, option validation,
-- privileges and errors for datasets that do not exist.
SELECT fdwname, fdwhandler::regproc, fdwvalidator::regproc
  FROM pg_foreign_data_wrapper WHERE fdwname = 'lance_fdw';
SELECT p.oid::regprocedure, pg_get_function_result(p.oid)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE nspname = 'lancedb' AND proname LIKE 'lance\_%' ORDER BY 1::text;
-- dataset management: arguments and targets checked first
SELECT lancedb.lance_compact('pg_class', 0);
SELECT lancedb.lance_compact('pg_class');
SELECT lancedb.lance_cleanup('pg_class', '-1 day');
SELECT lancedb.lance_cleanup('pg_class');

-- server options
CREATE SERVER lance_bad FOREIGN DATA WRAPPER lance_fdw OPTIONS (table 'x');
CREATE SERVER lance_bad FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri 'relative/dir');
CREATE SERVER lance_srv FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '/nonexistent/lancedb');
CREATE USER MAPPING FOR CURRENT_USER SERVER lance_srv OPTIONS (user 'x');

-- table options
CREATE FOREIGN TABLE ft (id bigint) SERVER lance_srv;
CREATE FOREIGN TABLE ft (id bigint) SERVER lance_srv OPTIONS (uri '/tmp');
CREATE FOREIGN TABLE ft (id bigint) SERVER lance_srv OPTIONS (table '../etc');
CREATE FOREIGN TABLE ft (id bigint) SERVER lance_srv OPTIONS (table 'a/b');
CREATE FOREIGN TABLE ft (id bigint) SERVER lance_srv OPTIONS (table '');
CREATE FOREIGN TABLE ft (id bigint) SERVER lance_srv OPTIONS (table 't', path '/tmp/t.lance');
CREATE FOREIGN TABLE ft (id bigint) SERVER lance_srv OPTIONS (table 't', version 'latest');
CREATE FOREIGN TABLE ft (id bigint) SERVER lance_srv OPTIONS (table 't', version '0');
CREATE FOREIGN TABLE ft (id bigint) SERVER lance_srv OPTIONS (table 't', version '3', tag 'x');
CREATE FOREIGN TABLE ft (id bigint) SERVER lance_srv OPTIONS (table 't', tag '../x');
CREATE FOREIGN TABLE ft (id bigint OPTIONS (column_name '')) SERVER lance_srv OPTIONS (table 't');
CREATE FOREIGN TABLE ft (id bigint OPTIONS (name 'x')) SERVER lance_srv OPTIONS (table 't');
CREATE FOREIGN TABLE ft (id bigint OPTIONS (column_name 'ident')) SERVER lance_srv
  OPTIONS (table 't', version '3');
ALTER FOREIGN TABLE ft OPTIONS (ADD tag 'x');
ALTER FOREIGN TABLE ft OPTIONS (DROP version, ADD tag 'release');
\det+ ft

-- datasets that do not exist
SELECT * FROM ft;
CREATE FOREIGN TABLE fp (id bigint) SERVER lance_srv OPTIONS (path '/nonexistent/t.lance');
SELECT * FROM fp;
CREATE FOREIGN TABLE notlance (id bigint) SERVER lance_srv OPTIONS (path '/');
SELECT * FROM notlance;
SELECT * FROM lancedb.lance_versions('notlance');
SELECT * FROM lancedb.lance_versions('pg_class');
IMPORT FOREIGN SCHEMA lance FROM SERVER lance_srv INTO public;
CREATE SERVER lance_nouri FOREIGN DATA WRAPPER lance_fdw;
IMPORT FOREIGN SCHEMA lance FROM SERVER lance_nouri INTO public;
CREATE FOREIGN TABLE nouri (id bigint) SERVER lance_nouri OPTIONS (table 't');
SELECT * FROM nouri;

-- uri and path need superuser or pg_read_server_files
CREATE ROLE regress_lance_user;
GRANT USAGE ON FOREIGN DATA WRAPPER lance_fdw TO regress_lance_user;
GRANT USAGE ON FOREIGN SERVER lance_srv TO regress_lance_user;
GRANT CREATE ON SCHEMA public TO regress_lance_user;
SET ROLE regress_lance_user;
CREATE SERVER lance_user FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '/tmp');
CREATE FOREIGN TABLE fu (id bigint) SERVER lance_srv OPTIONS (path '/tmp/t.lance');
CREATE FOREIGN TABLE fu (id bigint) SERVER lance_srv OPTIONS (table 't');
RESET ROLE;
GRANT pg_read_server_files TO regress_lance_user;
SET ROLE regress_lance_user;
CREATE SERVER lance_user FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '/tmp');
RESET ROLE;

DROP FOREIGN TABLE ft, fp, notlance, nouri;
DROP OWNED BY regress_lance_user;
DROP ROLE regress_lance_user;
DROP SERVER lance_srv, lance_nouri;
