/*
 * maintstats.c
 *	  What lancedb.index_stats adds for maintenance: the module's health
 *	  figures (the same advice the worker acts on), the last action taken
 *	  and when the next round is due.
 *
 * Round times live in a small shared-memory area that exists only when the
 * library is preloaded (the only case in which there are rounds at all).
 */
#include "postgres.h"

#include <math.h>

#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "worker/maint.h"

#define MAINT_MAX_DBS 64

typedef struct MaintShared
{
	slock_t		mutex;
	TimestampTz next_round;		/* launcher: when the next round starts */
	int			ndbs;
	struct
	{
		Oid			dboid;
		TimestampTz last_round; /* a worker finished its round here */
	}			dbs[MAINT_MAX_DBS];
} MaintShared;

static MaintShared *maint_shared = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;

static void
lance_maint_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(MaintShared)));
}
#endif

static void
lance_maint_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	maint_shared = ShmemInitStruct("lancedb maintenance", sizeof(MaintShared), &found);
	if (!found)
	{
		memset(maint_shared, 0, sizeof(MaintShared));
		SpinLockInit(&maint_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* from _PG_init while preloading */
void
LanceMaintShmemInit(void)
{
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = lance_maint_shmem_request;
#else
	RequestAddinShmemSpace(MAXALIGN(sizeof(MaintShared)));
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = lance_maint_shmem_startup;
}

void
lance_maint_note_next_round(TimestampTz when)
{
	if (maint_shared == NULL)
		return;
	SpinLockAcquire(&maint_shared->mutex);
	maint_shared->next_round = when;
	SpinLockRelease(&maint_shared->mutex);
}

void
lance_maint_note_round_done(Oid dboid)
{
	int			i;

	if (maint_shared == NULL)
		return;
	SpinLockAcquire(&maint_shared->mutex);
	for (i = 0; i < maint_shared->ndbs; i++)
		if (maint_shared->dbs[i].dboid == dboid)
			break;
	if (i == maint_shared->ndbs && i < MAINT_MAX_DBS)
		maint_shared->dbs[maint_shared->ndbs++].dboid = dboid;
	if (i < MAINT_MAX_DBS)
		maint_shared->dbs[i].last_round = GetCurrentTimestamp();
	SpinLockRelease(&maint_shared->mutex);
}

static void
append_figure(StringInfo buf, const char *name, double v, bool first)
{
	appendStringInfo(buf, "%s\"%s\": ", first ? "" : ", ", name);
	if (isnan(v))
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.4f", v);
}

static void
append_ts(StringInfo buf, const char *name, TimestampTz ts)
{
	appendStringInfo(buf, ", \"%s\": ", name);
	if (ts == 0)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, timestamptz_to_str(ts));
}

/* the latest maintenance_log row for relid, as a JSON object (or null) */
static void
append_last_action(StringInfo buf, Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	appendStringInfoString(buf, "\"last\": ");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT json_build_object('action', action, 'status', status, "
							  "'started', started, 'finished', finished, 'reason', reason, "
							  "'detail', detail)::text "
							  "FROM lancedb.maintenance_log WHERE relid = $1 ORDER BY id DESC LIMIT 1",
							  1, types, values, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
		appendStringInfoString(buf, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	else
		appendStringInfoString(buf, "null");
	SPI_finish();
}

/*
 * Close the index_stats object in buf (which ends with '}') with
 * "health" and "maintenance" members.  rel is the index (or a Lance
 * foreign table), locked by the caller.
 */
void
LanceMaintStatsJson(Relation rel, StringInfo buf)
{
	const LanceMaintOps *ops = lance_maint_ops_for(RelationGetRelid(rel));
	LanceMaintAdvice advice;
	TimestampTz last_round = 0;
	TimestampTz next_round = 0;

	Assert(buf->len > 0 && buf->data[buf->len - 1] == '}');
	buf->data[--buf->len] = '\0';

	LanceMaintAdviceInit(&advice);
	if (ops != NULL)
	{
		bool		isindex = rel->rd_rel->relkind == RELKIND_INDEX;
		Relation	heap = isindex ? table_open(rel->rd_index->indrelid, AccessShareLock) : rel;

		ops->advise(isindex ? rel : NULL, heap, &advice);
		if (isindex)
			table_close(heap, AccessShareLock);
	}
	appendStringInfoString(buf, ", \"health\": {");
	append_figure(buf, "drift", advice.drift, true);
	append_figure(buf, "balance", advice.balance, false);
	append_figure(buf, "growth", advice.growth, false);
	append_figure(buf, "deleted", advice.deleted, false);
	append_figure(buf, "segments", advice.segments, false);
	appendStringInfoString(buf, ", \"needs\": ");
	escape_json(buf, advice.action == LANCE_MAINT_TRAIN ? "train" :
				advice.action == LANCE_MAINT_RETRAIN ? "retrain" :
				advice.action == LANCE_MAINT_INPLACE ? advice.task : "none");
	if (advice.action != LANCE_MAINT_NONE)
	{
		appendStringInfoString(buf, ", \"reason\": ");
		escape_json(buf, advice.reason);
	}
	appendStringInfoString(buf, "}, \"maintenance\": {");
	append_last_action(buf, RelationGetRelid(rel));
	if (maint_shared != NULL)
	{
		SpinLockAcquire(&maint_shared->mutex);
		next_round = maint_shared->next_round;
		for (int i = 0; i < maint_shared->ndbs; i++)
			if (maint_shared->dbs[i].dboid == MyDatabaseId)
				last_round = maint_shared->dbs[i].last_round;
		SpinLockRelease(&maint_shared->mutex);
	}
	appendStringInfo(buf, ", \"worker\": %s",
					 maint_shared == NULL ? "\"not preloaded\"" :
					 lancedb_maintenance ? "\"on\"" : "\"off\"");
	append_ts(buf, "last_round", last_round);
	append_ts(buf, "next_round", lancedb_maintenance ? next_round : 0);
	appendStringInfoString(buf, "}}");
}
