/*
 * lance_fdw_maint.c
 *	  What a Lance foreign table needs from background maintenance (see
 *	  worker/maint.h): compaction when small fragments or deleted rows pile
 *	  up, cleanup when versions older than the retention period exist.
 *
 * advise reads the latest manifest (and the oldest one's timestamp) under
 * the caller's AccessShareLock; maintain runs the same code as
 * lancedb.lance_compact() and lancedb.lance_cleanup() with their defaults,
 * under the same privilege check.  Neither writes anything to PostgreSQL
 * (no WAL): the work is on the dataset's files, safe beside readers and
 * writers (see lance_fdw.h).
 */
#include "postgres.h"

#include <limits.h>
#include <time.h>

#include "fdw/lance_fdw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/rel.h"
#include "worker/maint.h"

#define DEFAULT_TARGET_ROWS		1048576

int			lance_compact_min_fragments = 16;
double		lance_compact_deleted_fraction = 0.1;
int			lance_retention = 7 * 24 * 3600;
int			lance_commit_delay = 0;

void
lance_fdw_maint_init(void)
{
	DefineCustomIntVariable("lancedb.lance_compact_min_fragments",
							"Small fragments of a Lance dataset that make maintenance compact it.",
							"Fragments with fewer rows than lance_compact's default target count.",
							&lance_compact_min_fragments,
							16, 2, INT_MAX,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomRealVariable("lancedb.lance_compact_deleted_fraction",
							 "Fraction of deleted rows that makes a Lance fragment worth rewriting.",
							 "lance_compact rewrites a fragment with more deleted rows than this (LanceDB's materialize threshold); maintenance compacts a dataset with more.",
							 &lance_compact_deleted_fraction,
							 0.1, 0.0, 1.0,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("lancedb.lance_retention",
							"Age of Lance versions that maintenance cleans up.",
							"Versions committed longer ago are removed by maintenance, except the latest and tagged ones.",
							&lance_retention,
							7 * 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	/* tests: hold a compaction between writing its files and committing */
	DefineCustomIntVariable("lancedb.lance_commit_delay",
							"Longest delay before lance_compact commits (for tests).",
							"It ends early once another writer commits a version of the dataset.",
							&lance_commit_delay,
							0, 0, 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);
}

/*
 * Tests: hold a compaction of dataset, read at base_version, before it
 * commits, until another writer commits a version (a race the test sets
 * up) or lance_commit_delay passes.  Ending on the other commit rather than
 * on a fixed time keeps the race a race on a loaded machine, where the
 * other writer (a Node.js process) can take longer than any fixed delay.
 */
void
lance_fdw_commit_delay(const char *dataset, uint64 base_version)
{
	TimestampTz end;
	LanceFdwTarget target = {(char *) dataset, 0, NULL};
	MemoryContext cxt;

	if (lance_commit_delay <= 0)
		return;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "lance commit delay",
								ALLOCSET_SMALL_SIZES);
	end = GetCurrentTimestamp() + (TimestampTz) lance_commit_delay * 1000;
	for (;;)
	{
		long		ms = (long) ((end - GetCurrentTimestamp()) / 1000);
		MemoryContext old;
		bool		newer;

		CHECK_FOR_INTERRUPTS();
		if (ms <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(ms, 50), WAIT_EVENT_PG_SLEEP);
		ResetLatch(MyLatch);
		old = MemoryContextSwitchTo(cxt);
		newer = lance_fdw_load_manifest(&target)->version > base_version;
		MemoryContextSwitchTo(old);
		MemoryContextReset(cxt);
		if (newer)
			break;
	}
	MemoryContextDelete(cxt);
}

static void
default_options(LanceCompactOptions *opt)
{
	opt->target_rows = DEFAULT_TARGET_ROWS;
	opt->materialize_deletions = true;
	opt->deletion_threshold = lance_compact_deleted_fraction;
}

/*
 * Commit time of the oldest version cleanup could remove (neither the
 * latest nor tagged); false when there is none.
 */
static bool
oldest_version_time(const char *dataset, int64 *secs)
{
	LanceVersionList vl;
	LanceError	err = {0};
	char		path[MAXPGPATH];
	uint64		found;
	LanceManifest *m;
	List	   *tags;
	int			i;

	if (!lance_list_versions(dataset, &vl, &err))
		lance_fdw_reader_error(&err, dataset);
	/* cleanup never removes the latest or a tagged version: skip them */
	tags = lance_fdw_tagged_versions(dataset);
	for (i = 0; i + 1 < vl.n; i++)
	{
		ListCell   *lc;
		bool		tagged = false;

		foreach(lc, tags)
			if (*(uint64 *) lfirst(lc) == vl.versions[i])
				tagged = true;
		if (!tagged)
			break;
	}
	if (i + 1 >= vl.n)
	{
		lance_version_list_free(&vl);
		return false;
	}
	if (!lance_manifest_path(dataset, vl.versions[i], path, sizeof(path), &found, &err) ||
		(m = lance_manifest_load(path, &err)) == NULL)
		lance_fdw_reader_error(&err, dataset);
	*secs = m->timestamp_sec;
	lance_manifest_free(m);
	lance_version_list_free(&vl);
	return true;
}

void
LanceFdwMaintenanceAdvice(Relation index, Relation ftable, LanceMaintAdvice *advice)
{
	LanceFdwTarget target;
	LanceManifest *m;
	LanceCompactOptions opt;
	LanceCompactBin *bins;
	LanceError	err = {0};
	uint64		deleted = 0,
				physical = 0;
	int			small = 0,
				nbins,
				i;
	int64		oldest;

	LanceMaintAdviceInit(advice);
	lance_fdw_get_target(RelationGetRelid(ftable), &target);
	if (target.version != 0 || target.tag != NULL)
		return;					/* pinned: read-only */
	lance_fdw_init_reader();
	target.version = 0;
	m = lance_fdw_load_manifest(&target);
	default_options(&opt);
	for (i = 0; i < m->nfragments; i++)
	{
		const LanceFragment *f = &m->fragments[i];

		physical += f->physical_rows;
		if (f->deletion.present)
			deleted += Min(f->deletion.num_deleted_rows, f->physical_rows);
		if (f->physical_rows < opt.target_rows)
			small++;
	}
	advice->segments = m->nfragments;
	advice->deleted = (double) deleted;
	nbins = lance_compact_plan(m, &opt, &bins, &err);
	if (nbins < 0)
		lance_fdw_reader_error(&err, target.dataset);
	if (nbins > 0 && lance_fdw_compactable(m) &&
		(small >= lance_compact_min_fragments ||
		 (physical > 0 && (double) deleted / (double) physical > lance_compact_deleted_fraction)))
	{
		advice->action = LANCE_MAINT_INPLACE;
		strlcpy(advice->task, "compact", sizeof(advice->task));
		snprintf(advice->reason, sizeof(advice->reason),
				 "%d fragments (%d small), " UINT64_FORMAT " of " UINT64_FORMAT " rows deleted",
				 m->nfragments, small, deleted, physical);
		return;
	}
	if (oldest_version_time(target.dataset, &oldest) &&
		oldest < (int64) time(NULL) - lance_retention)
	{
		advice->action = LANCE_MAINT_INPLACE;
		strlcpy(advice->task, "cleanup", sizeof(advice->task));
		snprintf(advice->reason, sizeof(advice->reason),
				 "versions older than %d s (lancedb.lance_retention)", lance_retention);
	}
}

void
LanceFdwMaintain(Relation index, Relation ftable, LanceMaintAdvice *advice,
				 StringInfo detail)
{
	char	   *dataset = lance_fdw_writable_dataset(RelationGetRelid(ftable));

	if (strcmp(advice->task, "compact") == 0)
	{
		LanceCompactOptions opt;
		LanceCompactStats st;

		default_options(&opt);
		lance_fdw_compact_dataset(dataset, &opt, &st);
		appendStringInfo(detail, "compacted %d fragments into %d (" UINT64_FORMAT " rows, "
						 UINT64_FORMAT " deleted rows dropped), version " UINT64_FORMAT,
						 st.fragments_removed, st.fragments_added, st.rows, st.deleted_rows,
						 st.version);
		if (st.indices_dropped > 0)
			appendStringInfo(detail, ", %d Lance indexes dropped", st.indices_dropped);
	}
	else if (strcmp(advice->task, "cleanup") == 0)
	{
		LanceCleanupStats st;

		lance_fdw_cleanup_dataset(dataset, (int64) time(NULL) - lance_retention, &st);
		appendStringInfo(detail, "removed %d versions, " INT64_FORMAT " files, " INT64_FORMAT " bytes",
						 st.versions_removed,
						 st.data_files_removed + st.deletion_files_removed +
						 st.transaction_files_removed + st.index_files_removed,
						 st.bytes_removed);
	}
	else
		elog(ERROR, "lance_fdw: unknown maintenance task \"%s\"", advice->task);
}
