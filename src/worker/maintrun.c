/*
 * maintrun.c
 *	  One maintenance round for one index: ask its AM what it needs, do it,
 *	  log it (see maint.h).
 *
 * A rebuild is REINDEX: from a background worker REINDEX INDEX
 * CONCURRENTLY at top level, which builds the new index beside the old one
 * while queries and writes go on and swaps them in one step, so no query
 * ever sees a half-built structure; from lancedb.optimize() (inside the
 * caller's transaction, where CONCURRENTLY is not allowed) a plain REINDEX
 * INDEX, which blocks writes to the table while it runs.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "worker/maint.h"

static const char *
action_name(LanceMaintAction a)
{
	switch (a)
	{
		case LANCE_MAINT_TRAIN:
			return "train";
		case LANCE_MAINT_RETRAIN:
			return "retrain";
		default:
			return "none";
	}
}

/* Decide; false if the index is gone or not one maintenance knows. */
static bool
lance_maint_advise(Oid indexoid, LanceMaintAdvice *advice, char **qualname,
				   const char **am)
{
	Relation	index;
	Relation	heap;
	Oid			ivf_am = get_index_am_oid("lance_ivf", true);

	memset(advice, 0, sizeof(*advice));
	index = try_relation_open(indexoid, AccessShareLock);
	if (index == NULL)
		return false;
	if (index->rd_rel->relkind != RELKIND_INDEX || index->rd_rel->relam != ivf_am ||
		!index->rd_index->indisvalid)
	{
		relation_close(index, AccessShareLock);
		return false;
	}
	heap = table_open(index->rd_index->indrelid, AccessShareLock);
	IvfMaintenanceAdvice(index, heap, advice);
	*qualname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(index)),
										   RelationGetRelationName(index));
	*am = "lance_ivf";
	table_close(heap, AccessShareLock);
	relation_close(index, AccessShareLock);
	return true;
}

LanceMaintAction
lance_maint_index(Oid indexoid, bool concurrently, LanceMaintAdvice *advice)
{
	bool		own = !IsTransactionState();
	char	   *qualname = NULL;
	const char *am = NULL;
	bool		known;
	int64		logid;
	MemoryContext cxt = CurrentMemoryContext;
	StringInfoData sql;

	Assert(!concurrently || own);
	if (own)
	{
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	known = lance_maint_advise(indexoid, advice, &qualname, &am);
	if (known)
		qualname = MemoryContextStrdup(cxt, qualname);
	if (own)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	if (!known || advice->action == LANCE_MAINT_NONE)
		return LANCE_MAINT_NONE;

	logid = lance_maint_log_start(indexoid, am, action_name(advice->action), advice->reason);
	initStringInfo(&sql);
	appendStringInfo(&sql, "REINDEX INDEX %s%s", concurrently ? "CONCURRENTLY " : "", qualname);
	if (!concurrently)
	{
		/* errors reach the caller, and roll the log row back with it */
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not rebuild index %s", qualname);
		SPI_finish();
		lance_maint_log_finish(logid, "done", sql.data);
		return advice->action;
	}

	PG_TRY();
	{
		StartTransactionCommand();
		lance_exec_toplevel(sql.data);
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* as autovacuum does: report, clean up, and go on with the next one */
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		ereport(LOG,
				(errmsg("lancedb maintenance of %s failed: %s", qualname, edata->message)));
		lance_maint_log_finish(logid, "failed", edata->message);
		FreeErrorData(edata);
		return advice->action;
	}
	PG_END_TRY();
	lance_maint_log_finish(logid, "done", sql.data);
	return advice->action;
}
