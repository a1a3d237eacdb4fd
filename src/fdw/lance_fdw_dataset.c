/*
 * lance_fdw_dataset.c
 *	  Locating a foreign table's Lance dataset and version, the reader's
 *	  memory and errors inside a backend, and the SQL functions
 *	  lancedb.lance_versions() and lancedb.lance_tags().
 */
#include "fdw/lance_fdw.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "access/reloptions.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/*
 * The reader allocates through palloc in the current memory context, so an
 * ERROR anywhere frees what it had.  Allocation failures come back to the
 * reader as NULL (its own clean error path) rather than as a longjmp.
 */
static void *
reader_alloc(size_t size, void *arg)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void *
reader_realloc(void *ptr, size_t size, void *arg)
{
	return repalloc_huge(ptr, size);
}

static void
reader_free(void *ptr, void *arg)
{
	pfree(ptr);
}

void
lance_fdw_init_reader(void)
{
	static bool done = false;
	static const LanceAllocHooks hooks = {reader_alloc, reader_realloc, reader_free, NULL};

	if (!done)
	{
		lance_set_alloc_hooks(&hooks);
		done = true;
	}
}

/*
 * Turns a reader error into an ERROR.  The reader's messages name the file;
 * it does not classify them, so the few kinds that are not corruption are
 * recognised by their wording.
 */
void
lance_fdw_reader_error(const LanceError *err, const char *dataset)
{
	const char *msg = err->set ? err->msg : "unknown error in the Lance reader";
	int			code = ERRCODE_DATA_CORRUPTED;

	if (strstr(msg, "out of memory") != NULL)
		code = ERRCODE_OUT_OF_MEMORY;
	else if (strstr(msg, "not supported") != NULL || strstr(msg, "unsupported") != NULL)
		code = ERRCODE_FEATURE_NOT_SUPPORTED;
	ereport(ERROR,
			(errcode(code),
			 errmsg("%s", msg),
			 dataset ? errcontext("Lance dataset \"%s\"", dataset) : 0));
}

/*
 * A dataset or tag name usable as one path component: not empty, no '/',
 * no "..".
 */
bool
lance_fdw_valid_name(const char *name)
{
	return name[0] != '\0' && strchr(name, '/') == NULL && strstr(name, "..") == NULL;
}

/*
 * Directory of dataset `table` in database directory `uri`, resolved
 * through symlinks.  It must stay inside `uri`: only the server's uri was
 * vetted by a privileged user.  With missing_ok, a dataset that does not
 * exist or escapes gives NULL.
 */
char *
lance_fdw_dataset_in_dir(const char *uri, const char *table, bool missing_ok)
{
	char		root[PATH_MAX];
	char		real[PATH_MAX];
	char	   *joined;
	size_t		rlen;

	if (!lance_fdw_valid_name(table))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid Lance table name \"%s\"", table),
				 errdetail("A table name must not be empty or contain \"/\" or \"..\".")));
	if (realpath(uri, root) == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not access LanceDB directory \"%s\": %m", uri)));
	joined = psprintf("%s/%s.lance", uri, table);
	if (realpath(joined, real) == NULL)
	{
		if (missing_ok)
			return NULL;
		if (errno == ENOENT)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
					 errmsg("Lance dataset \"%s\" does not exist", joined)));
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not access Lance dataset \"%s\": %m", joined)));
	}
	rlen = strlen(root);
	if (strcmp(root, "/") == 0)
		rlen = 0;
	if (strncmp(real, root, rlen) != 0 || real[rlen] != '/')
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("Lance dataset \"%s\" resolves to \"%s\", outside the server directory \"%s\"",
						joined, real, root)));
	}
	return pstrdup(real);
}

/* Reads the server and table options of a lance_fdw foreign table. */
void
lance_fdw_get_target(Oid relid, LanceFdwTarget *target)
{
	ForeignTable *table = GetForeignTable(relid);
	ForeignServer *server = GetForeignServer(table->serverid);
	const char *uri = NULL;
	const char *name = NULL;
	const char *path = NULL;
	ListCell   *lc;

	memset(target, 0, sizeof(*target));
	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "uri") == 0)
			uri = defGetString(def);
	}
	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "table") == 0)
			name = defGetString(def);
		else if (strcmp(def->defname, "path") == 0)
			path = defGetString(def);
		else if (strcmp(def->defname, "version") == 0)
			target->version = strtou64(defGetString(def), NULL, 10);
		else if (strcmp(def->defname, "tag") == 0)
			target->tag = defGetString(def);
	}

	if (path != NULL)
	{
		struct stat st;

		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
					 errmsg("Lance dataset \"%s\" does not exist", path)));
		target->dataset = pstrdup(path);
	}
	else if (name != NULL)
	{
		if (uri == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" names Lance table \"%s\" but server \"%s\" has no \"uri\" option",
							get_rel_name(relid), name, server->servername)));
		target->dataset = lance_fdw_dataset_in_dir(uri, name, false);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" needs a \"table\" or \"path\" option",
						get_rel_name(relid))));
}

/* True if `dataset` has a _versions directory (it may still be empty). */
bool
lance_fdw_is_dataset(const char *dataset)
{
	struct stat st;
	char	   *versions = psprintf("%s/_versions", dataset);
	bool		ok = stat(versions, &st) == 0 && S_ISDIR(st.st_mode);

	pfree(versions);
	return ok;
}

/*
 * Loads the manifest the target asks for: its version, its tag's version,
 * or the latest version at this moment.  The manifest's memory is in the
 * current context.
 */
LanceManifest *
lance_fdw_load_manifest(const LanceFdwTarget *target)
{
	LanceError	err = {0};
	LanceVersionList versions;
	uint64		version = target->version;
	uint64		found;
	char		path[MAXPGPATH];
	LanceManifest *m;
	int			i;

	lance_fdw_init_reader();
	if (!lance_fdw_is_dataset(target->dataset))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("\"%s\" is not a Lance dataset", target->dataset),
				 errdetail("It has no _versions directory.")));
	if (target->tag != NULL)
	{
		char	   *tagfile;
		struct stat st;
		uint64		msize;

		if (!lance_fdw_valid_name(target->tag))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid Lance tag name \"%s\"", target->tag)));
		tagfile = psprintf("%s/_refs/tags/%s.json", target->dataset, target->tag);
		if (stat(tagfile, &st) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("tag \"%s\" does not exist in Lance dataset \"%s\"",
							target->tag, target->dataset)));
		if (!lance_tag_lookup(target->dataset, target->tag, &version, &msize, &err))
			lance_fdw_reader_error(&err, target->dataset);
	}

	if (!lance_list_versions(target->dataset, &versions, &err))
		lance_fdw_reader_error(&err, target->dataset);
	if (versions.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("Lance dataset \"%s\" has no committed version", target->dataset)));
	if (version != 0)
	{
		for (i = 0; i < versions.n; i++)
			if (versions.versions[i] == version)
				break;
		if (i == versions.n)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("version " UINT64_FORMAT " of Lance dataset \"%s\" does not exist",
							version, target->dataset),
					 errdetail("The latest version is " UINT64_FORMAT ".",
							   versions.versions[versions.n - 1])));
	}
	lance_version_list_free(&versions);

	if (!lance_manifest_path(target->dataset, version, path, sizeof(path), &found, &err))
		lance_fdw_reader_error(&err, target->dataset);
	m = lance_manifest_load(path, &err);
	if (m == NULL)
		lance_fdw_reader_error(&err, target->dataset);
	return m;
}

/* Rows a version holds: physical rows minus deleted ones. */
uint64
lance_fdw_live_rows(const LanceManifest *m)
{
	uint64		rows = 0;
	int			i;

	for (i = 0; i < m->nfragments; i++)
	{
		const LanceFragment *fr = &m->fragments[i];
		uint64		deleted = fr->deletion.present ? fr->deletion.num_deleted_rows : 0;

		rows += fr->physical_rows - Min(deleted, fr->physical_rows);
	}
	return rows;
}

/* Index of the top-level field called `name`, or -1. */
int
lance_fdw_top_field(const LanceManifest *m, const char *name)
{
	int			i;

	for (i = 0; i < m->nfields; i++)
		if (m->fields[i].parent < 0 && strcmp(m->fields[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * The data file of fragment `fr` that holds field `field`, found by its
 * first leaf (2.1+ files list leaf field ids), else by the nearest
 * ancestor of that leaf (a packed struct is one column of its own); NULL if
 * no file has it (a column added after the fragment was written).
 */
const LanceDataFile *
lance_fdw_field_file(const LanceManifest *m, const LanceFragment *fr, int field)
{
	int			chain[64];
	int			depth = 0;
	int			i,
				j;

	chain[depth++] = field;
	while (m->fields[field].nchildren > 0 && depth < 64)
	{
		field = m->fields[field].children[0];
		chain[depth++] = field;
	}
	while (depth-- > 0)
	{
		int32		id = m->fields[chain[depth]].id;

		/* the last file wins: a later file replaces a column of an earlier one */
		for (i = fr->nfiles - 1; i >= 0; i--)
			for (j = 0; j < fr->files[i].nfields; j++)
				if (fr->files[i].fields[j] == id)
					return &fr->files[i];
	}
	return NULL;
}

/* ---- lancedb.lance_versions(regclass), lancedb.lance_tags(regclass) ---- */

/*
 * The dataset of a lance_fdw foreign table the caller may read.  Reading
 * its metadata needs the same privilege as reading its rows.
 */
static char *
checked_dataset(Oid relid)
{
	LanceFdwTarget target;
	ForeignTable *table;
	FdwRoutine *routine;
	AclResult	aclresult;

	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a foreign table", get_rel_name(relid))));
	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_TABLE, get_rel_name(relid));
	table = GetForeignTable(relid);
	routine = GetFdwRoutineByServerId(table->serverid);
	if (routine->ImportForeignSchema != lance_fdw_import_schema)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("foreign table \"%s\" does not use lance_fdw", get_rel_name(relid))));
	lance_fdw_get_target(relid, &target);
	return target.dataset;
}

static TimestampTz
manifest_time(const LanceManifest *m)
{
	return (TimestampTz) m->timestamp_sec * USECS_PER_SEC + m->timestamp_nsec / 1000 -
		(TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
}

LANCEDB_FUNCTION(lance_fdw_versions);
Datum
lance_fdw_versions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *dataset = checked_dataset(PG_GETARG_OID(0));
	LanceVersionList versions;
	LanceError	err = {0};
	MemoryContext tmp;
	MemoryContext old;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	lance_fdw_init_reader();
	if (!lance_fdw_is_dataset(dataset))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("\"%s\" is not a Lance dataset", dataset)));
	if (!lance_list_versions(dataset, &versions, &err))
		lance_fdw_reader_error(&err, dataset);

	/* one manifest at a time: a dataset may have thousands of versions */
	tmp = AllocSetContextCreate(CurrentMemoryContext, "lance_versions",
								ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < versions.n; i++)
	{
		LanceFdwTarget target = {dataset, versions.versions[i], NULL};
		LanceManifest *m;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(tmp);
		m = lance_fdw_load_manifest(&target);
		values[0] = Int64GetDatum((int64) m->version);
		values[1] = TimestampTzGetDatum(manifest_time(m));
		values[2] = Int64GetDatum((int64) lance_fdw_live_rows(m));
		MemoryContextSwitchTo(old);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextReset(tmp);
	}
	MemoryContextDelete(tmp);
	return (Datum) 0;
}

static int
cmp_names(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

LANCEDB_FUNCTION(lance_fdw_tags);
Datum
lance_fdw_tags(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *dataset = checked_dataset(PG_GETARG_OID(0));
	char	   *dirname = psprintf("%s/_refs/tags", dataset);
	List	   *names = NIL;
	DIR		   *dir;
	struct dirent *de;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	lance_fdw_init_reader();

	/* no tag directory: no tags */
	dir = AllocateDir(dirname);
	if (dir == NULL && errno == ENOENT)
		return (Datum) 0;
	while ((de = ReadDir(dir, dirname)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
			names = lappend(names, pnstrdup(de->d_name, len - 5));
	}
	FreeDir(dir);
	list_sort(names, cmp_names);

	foreach(lc, names)
	{
		const char *tag = (const char *) lfirst(lc);
		LanceError	err = {0};
		uint64		version,
					msize;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		CHECK_FOR_INTERRUPTS();
		if (!lance_fdw_valid_name(tag))
			continue;
		if (!lance_tag_lookup(dataset, tag, &version, &msize, &err))
			lance_fdw_reader_error(&err, dataset);
		values[0] = CStringGetTextDatum(tag);
		values[1] = Int64GetDatum((int64) version);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
