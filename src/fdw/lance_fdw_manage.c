/*
 * lance_fdw_manage.c
 *	  Dataset management from SQL: lancedb.lance_tag_create,
 *	  lancedb.lance_tag_delete and lancedb.lance_restore.
 *
 * A tag is _refs/tags/<name>.json naming a version and its manifest's size,
 * the file LanceDB writes and reads.  Creation is create-if-absent (link()
 * of a complete temporary file), so a tag is never seen half-written and an
 * existing tag is never replaced.  Callers need SELECT on the table (as for
 * lance_tags) and pg_write_server_files, as for writes.
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "fdw/lance/lance_write.h"
#include "fdw/lance_fdw.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

char *
lance_fdw_writable_dataset(Oid relid)
{
	LanceFdwTarget target;
	FdwRoutine *routine;
	AclResult	aclresult;

	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a foreign table", get_rel_name(relid))));
	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_TABLE, get_rel_name(relid));
	routine = GetFdwRoutineByServerId(GetForeignTable(relid)->serverid);
	if (routine->ImportForeignSchema != lance_fdw_import_schema)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("foreign table \"%s\" does not use lance_fdw", get_rel_name(relid))));
	if (!has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to change the Lance dataset of foreign table \"%s\"",
						get_rel_name(relid)),
				 errdetail("Only superusers and roles with privileges of the pg_write_server_files role may change Lance datasets.")));
	lance_fdw_get_target(relid, &target);
	lance_fdw_init_reader();
	return target.dataset;
}

static void
check_tag_name(const char *tag)
{
	const char *p;

	if (!lance_fdw_valid_name(tag) || tag[0] == '.' || strlen(tag) > 200)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Lance tag name \"%s\"", tag)));
	for (p = tag; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char) *p < 0x20)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid Lance tag name \"%s\"", tag)));
}

LANCEDB_FUNCTION(lance_fdw_tag_create);
Datum
lance_fdw_tag_create(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *tag;
	int64		want = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2);
	char	   *dataset;
	char		mpath[MAXPGPATH];
	uint64		version;
	LanceError	err = {0};
	struct stat st;
	char	   *dir,
			   *tmp,
			   *final,
			   *json;
	char		rnd[17];
	int			fd;
	bool		ok;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	relid = PG_GETARG_OID(0);
	tag = text_to_cstring(PG_GETARG_TEXT_PP(1));
	dataset = lance_fdw_writable_dataset(relid);
	check_tag_name(tag);
	if (want < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Lance version " INT64_FORMAT, want)));
	if (!lance_manifest_path(dataset, (uint64) want, mpath, sizeof(mpath), &version, &err))
		lance_fdw_reader_error(&err, dataset);
	if (stat(mpath, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat \"%s\": %m", mpath)));
	dir = psprintf("%s/_refs", dataset);
	(void) mkdir(dir, 0755);
	dir = psprintf("%s/_refs/tags", dataset);
	(void) mkdir(dir, 0755);
	json = psprintf("{\"branch\":null,\"version\":" UINT64_FORMAT ",\"manifestSize\":%lld}",
					version, (long long) st.st_size);
	lance_random_hex(rnd, 8);
	tmp = psprintf("%s/.%s-%s.tmp", dir, tag, rnd);
	final = psprintf("%s/%s.json", dir, tag);
	fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create \"%s\": %m", tmp)));
	ok = write(fd, json, strlen(json)) == (ssize_t) strlen(json) && pg_fsync(fd) == 0;
	CloseTransientFile(fd);
	if (!ok)
	{
		unlink(tmp);
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write \"%s\": %m", tmp)));
	}
	if (link(tmp, final) != 0)
	{
		int			e = errno;

		unlink(tmp);
		errno = e;
		if (e == EEXIST)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("tag \"%s\" already exists in Lance dataset \"%s\"", tag, dataset)));
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create \"%s\": %m", final)));
	}
	unlink(tmp);
	PG_RETURN_INT64((int64) version);
}

LANCEDB_FUNCTION(lance_fdw_tag_delete);
Datum
lance_fdw_tag_delete(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *tag = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *dataset = lance_fdw_writable_dataset(relid);
	char	   *path;

	check_tag_name(tag);
	path = psprintf("%s/_refs/tags/%s.json", dataset, tag);
	if (unlink(path) != 0)
	{
		if (errno == ENOENT)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("tag \"%s\" does not exist in Lance dataset \"%s\"", tag, dataset)));
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not remove \"%s\": %m", path)));
	}
	PG_RETURN_VOID();
}

LANCEDB_FUNCTION(lance_fdw_restore);
Datum
lance_fdw_restore(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		version = PG_GETARG_INT64(1);
	char	   *dataset = lance_fdw_writable_dataset(relid);
	char		mpath[MAXPGPATH];
	uint64		found;
	LanceCommitResult res;
	LanceError	err = {0};

	if (version <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Lance version " INT64_FORMAT, version)));
	if (!lance_manifest_path(dataset, (uint64) version, mpath, sizeof(mpath), &found, &err) ||
		!lance_commit_restore(dataset, (uint64) version, LANCE_WRITER_LIBRARY, LANCE_WRITER_VERSION,
							  &res, &err))
		lance_fdw_reader_error(&err, dataset);
	PG_RETURN_INT64((int64) res.version);
}
