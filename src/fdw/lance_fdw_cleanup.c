/*
 * lance_fdw_cleanup.c
 *	  lancedb.lance_cleanup(): LanceDB's cleanup_old_versions for a
 *	  lance_fdw table's dataset.
 *
 * Versions committed before the cutoff lose their manifests, except the
 * latest and every tagged version.  Then each data, deletion, transaction
 * and index file is kept if a kept version uses it, removed if only removed
 * versions used it, and, if no version at all uses it (left by a crashed or
 * failed writer), removed once older than the cutoff and an hour, so that
 * a writer still busy writing its files never loses them.
 */
#include "postgres.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/hashfn.h"
#include "fdw/lance_fdw.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* an unreferenced file this young may belong to a writer still at work */
#define IN_FLIGHT_SECS	3600

typedef enum RefKind
{
	REF_DATA,
	REF_DELETION,
	REF_TXN,
	REF_INDEX,
	NUM_REF_KINDS
} RefKind;

typedef struct RefEntry
{
	char		name[256];		/* hash key */
	bool		kept;			/* used by a kept version */
} RefEntry;

static const char *const ref_dirs[NUM_REF_KINDS] = {"data", "_deletions", "_transactions", "_indices"};

static void
note_ref(HTAB *h, const char *name, bool kept)
{
	RefEntry   *e;
	bool		found;
	char		key[256];

	if (strlen(name) >= sizeof(key))
		return;
	memset(key, 0, sizeof(key));
	strlcpy(key, name, sizeof(key));
	e = hash_search(h, key, HASH_ENTER, &found);
	if (!found)
		e->kept = false;
	e->kept |= kept;
}

static void
remove_path(const char *path, int64 *count, LanceCleanupStats *st)
{
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return;
	if (unlink(path) == 0)
	{
		(*count)++;
		st->bytes_removed += sb.st_size;
	}
	else if (errno != ENOENT)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not remove \"%s\": %m", path)));
}

/* Removes an index directory and the files in it. */
static void
remove_index_dir(const char *path, LanceCleanupStats *st)
{
	DIR		   *dir = AllocateDir(path);
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = ReadDir(dir, path)) != NULL)
	{
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		remove_path(psprintf("%s/%s", path, de->d_name), &st->index_files_removed, st);
	}
	FreeDir(dir);
	(void) rmdir(path);
}

/* Whether a file nothing references is old enough to go. */
static bool
stale(const char *path, int64 cutoff)
{
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return false;
	return (int64) sb.st_mtime < cutoff &&
		(int64) sb.st_mtime < (int64) time(NULL) - IN_FLIGHT_SECS;
}

static void
sweep_dir(const char *dataset, RefKind kind, HTAB *refs, int64 cutoff, LanceCleanupStats *st)
{
	char	   *dirname = psprintf("%s/%s", dataset, ref_dirs[kind]);
	DIR		   *dir = AllocateDir(dirname);
	struct dirent *de;
	List	   *doomed = NIL;
	ListCell   *lc;

	if (dir == NULL)
		return;
	while ((de = ReadDir(dir, dirname)) != NULL)
	{
		char		key[256];
		RefEntry   *e;
		char	   *path;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
			strlen(de->d_name) >= sizeof(key))
			continue;
		memset(key, 0, sizeof(key));
		strlcpy(key, de->d_name, sizeof(key));
		e = hash_search(refs, key, HASH_FIND, NULL);
		path = psprintf("%s/%s", dirname, de->d_name);
		if (e != NULL ? !e->kept : stale(path, cutoff))
			doomed = lappend(doomed, path);
	}
	FreeDir(dir);
	foreach(lc, doomed)
	{
		const char *path = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		switch (kind)
		{
			case REF_DATA:
				remove_path(path, &st->data_files_removed, st);
				break;
			case REF_DELETION:
				remove_path(path, &st->deletion_files_removed, st);
				break;
			case REF_TXN:
				remove_path(path, &st->transaction_files_removed, st);
				break;
			default:
				remove_index_dir(path, st);
				break;
		}
	}
}

/* Versions named by tags (a List of palloc'd uint64). */
List *
lance_fdw_tagged_versions(const char *dataset)
{
	char	   *dirname = psprintf("%s/_refs/tags", dataset);
	DIR		   *dir = AllocateDir(dirname);
	struct dirent *de;
	List	   *out = NIL;

	if (dir == NULL)
		return NIL;
	while ((de = ReadDir(dir, dirname)) != NULL)
	{
		size_t		len = strlen(de->d_name);
		char	   *tag;
		uint64		version,
					msize;
		LanceError	err = {0};

		if (len <= 5 || de->d_name[0] == '.' || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		tag = pnstrdup(de->d_name, len - 5);
		if (!lance_fdw_valid_name(tag))
			continue;
		/* a tag that cannot be read keeps everything: refuse rather than guess */
		if (!lance_tag_lookup(dataset, tag, &version, &msize, &err))
			lance_fdw_reader_error(&err, dataset);
		out = lappend(out, palloc_object(uint64));
		*(uint64 *) llast(out) = version;
	}
	FreeDir(dir);
	return out;
}

void
lance_fdw_cleanup_dataset(const char *dataset, int64 cutoff, LanceCleanupStats *st)
{
	LanceVersionList vl;
	LanceVersionRefs *refs;
	LanceError	err = {0};
	List	   *tags;
	HTAB	   *sets[NUM_REF_KINDS];
	bool	   *keep;
	int			i,
				j,
				k;
	uint64		latest;

	memset(st, 0, sizeof(*st));
	lance_fdw_init_reader();
	if (!lance_list_versions(dataset, &vl, &err))
		lance_fdw_reader_error(&err, dataset);
	latest = vl.versions[vl.n - 1];
	tags = lance_fdw_tagged_versions(dataset);
	refs = palloc0(sizeof(LanceVersionRefs) * vl.n);
	keep = palloc0(sizeof(bool) * vl.n);
	for (k = 0; k < NUM_REF_KINDS; k++)
	{
		HASHCTL		ctl;

		ctl.keysize = 256;
		ctl.entrysize = sizeof(RefEntry);
		ctl.hcxt = CurrentMemoryContext;
		sets[k] = hash_create("lance_cleanup refs", 1024, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	st->oldest_kept = latest;
	for (i = 0; i < vl.n; i++)
	{
		ListCell   *lc;

		CHECK_FOR_INTERRUPTS();
		if (!lance_version_refs(dataset, vl.versions[i], vl.v2_naming, &refs[i], &err))
			lance_fdw_reader_error(&err, dataset);
		keep[i] = vl.versions[i] == latest || refs[i].timestamp_sec >= cutoff;
		foreach(lc, tags)
			keep[i] |= *(uint64 *) lfirst(lc) == vl.versions[i];
		if (keep[i] && vl.versions[i] < st->oldest_kept)
			st->oldest_kept = vl.versions[i];
		for (j = 0; j < refs[i].nfiles; j++)
			note_ref(sets[REF_DATA], refs[i].files[j], keep[i]);
		for (j = 0; j < refs[i].ndeletions; j++)
			note_ref(sets[REF_DELETION], refs[i].deletions[j], keep[i]);
		if (refs[i].transaction)
			note_ref(sets[REF_TXN], refs[i].transaction, keep[i]);
		for (j = 0; j < refs[i].nindices; j++)
			note_ref(sets[REF_INDEX], refs[i].indices[j], keep[i]);
	}

	/* manifests first: no version is left naming a file removed below */
	for (i = 0; i < vl.n; i++)
	{
		char		path[MAXPGPATH];
		uint64		found;
		int64		n = 0;

		if (keep[i])
			continue;
		if (!lance_manifest_path(dataset, vl.versions[i], path, sizeof(path), &found, &err))
			lance_fdw_reader_error(&err, dataset);
		remove_path(path, &n, st);
		st->versions_removed += (int) n;
	}
	if (st->versions_removed > 0)
	{
		char	   *dir = psprintf("%s/_versions", dataset);

		fsync_fname(dir, true);
	}
	for (k = 0; k < NUM_REF_KINDS; k++)
		sweep_dir(dataset, (RefKind) k, sets[k], cutoff, st);

	/* temporary files of commits that never finished */
	{
		char	   *dirname = psprintf("%s/_versions", dataset);
		DIR		   *dir = AllocateDir(dirname);
		struct dirent *de;
		List	   *doomed = NIL;
		ListCell   *lc;

		if (dir != NULL)
		{
			while ((de = ReadDir(dir, dirname)) != NULL)
				if (strstr(de->d_name, ".manifest-") != NULL || strncmp(de->d_name, ".tmp-", 5) == 0 ||
					strncmp(de->d_name, ".hint-", 6) == 0)
				{
					char	   *path = psprintf("%s/%s", dirname, de->d_name);

					if (stale(path, cutoff))
						doomed = lappend(doomed, path);
				}
			FreeDir(dir);
		}
		foreach(lc, doomed)
		{
			int64		n = 0;

			remove_path(lfirst(lc), &n, st);
		}
	}
	lance_version_list_free(&vl);
}

LANCEDB_FUNCTION(lance_fdw_cleanup);
Datum
lance_fdw_cleanup(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Interval   *span = PG_GETARG_INTERVAL_P(1);
	char	   *dataset;
	LanceCleanupStats st;
	double		secs;
	char	   *json;

	secs = (double) span->time / USECS_PER_SEC + (double) span->day * SECS_PER_DAY +
		(double) span->month * DAYS_PER_MONTH * SECS_PER_DAY;
	if (secs < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be negative")));
	dataset = lance_fdw_writable_dataset(relid);
	lance_fdw_cleanup_dataset(dataset, (int64) time(NULL) - (int64) secs, &st);
	json = psprintf("{\"versions_removed\": %d, \"data_files_removed\": " INT64_FORMAT
					", \"deletion_files_removed\": " INT64_FORMAT
					", \"transaction_files_removed\": " INT64_FORMAT
					", \"index_files_removed\": " INT64_FORMAT
					", \"bytes_removed\": " INT64_FORMAT ", \"oldest_version\": " UINT64_FORMAT "}",
					st.versions_removed, st.data_files_removed, st.deletion_files_removed,
					st.transaction_files_removed, st.index_files_removed, st.bytes_removed,
					st.oldest_kept);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}
