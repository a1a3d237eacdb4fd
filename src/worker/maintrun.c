/*
 * maintrun.c
 *	  One maintenance round for one index or Lance foreign table: ask its
 *	  module what it needs, do it, log it (see maint.h).
 *
 * A rebuild is REINDEX: from a background worker REINDEX INDEX
 * CONCURRENTLY at top level, which builds the new index beside the old one
 * while queries and writes go on and swaps them in one step, so no query
 * ever sees a half-built structure; from lancedb.optimize() (inside the
 * caller's transaction, where CONCURRENTLY is not allowed) a plain REINDEX
 * INDEX, which blocks writes to the table while it runs.  In-place work
 * (list splits, graph repair, segment merges, dataset compaction) is the
 * module's own, under the locks maint.h describes.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "worker/maint.h"

static const LanceMaintOps maint_ops[] = {
	{"lance_ivf", IvfMaintenanceAdvice, IvfMaintain},
	{"lance_hnsw", HnswMaintenanceAdvice, HnswMaintain},
	{"lance_bm25", Bm25MaintenanceAdvice, Bm25Maintain},
	{"lance_fdw", LanceFdwMaintenanceAdvice, LanceFdwMaintain},
};

void
LanceMaintAdviceInit(LanceMaintAdvice *advice)
{
	memset(advice, 0, sizeof(*advice));
	advice->action = LANCE_MAINT_NONE;
	advice->drift = advice->balance = advice->growth = NAN;
	advice->deleted = advice->segments = NAN;
}

const LanceMaintOps *
lance_maint_ops_for(Oid relid)
{
	char		relkind = get_rel_relkind(relid);
	const char *name = NULL;

	if (relkind == RELKIND_INDEX)
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		Oid			amoid;

		if (!HeapTupleIsValid(tup))
			return NULL;
		amoid = ((Form_pg_class) GETSTRUCT(tup))->relam;
		ReleaseSysCache(tup);
		name = get_am_name(amoid);
	}
	else if (relkind == RELKIND_FOREIGN_TABLE)
	{
		ForeignTable *ft = GetForeignTable(relid);
		ForeignServer *server = GetForeignServer(ft->serverid);

		name = GetForeignDataWrapper(server->fdwid)->fdwname;
	}
	if (name == NULL)
		return NULL;
	for (int i = 0; i < lengthof(maint_ops); i++)
		if (strcmp(maint_ops[i].name, name) == 0)
			return &maint_ops[i];
	return NULL;
}

static const char *
action_name(const LanceMaintAdvice *advice)
{
	switch (advice->action)
	{
		case LANCE_MAINT_TRAIN:
			return "train";
		case LANCE_MAINT_RETRAIN:
			return "retrain";
		case LANCE_MAINT_INPLACE:
			return advice->task[0] ? advice->task : "maintain";
		default:
			return "none";
	}
}

/*
 * Decide; false if the relation is gone or not one maintenance knows
 * (invalid indexes are left to whoever is building them).
 */
static bool
lance_maint_advise(Oid relid, LanceMaintAdvice *advice, char **qualname,
				   const LanceMaintOps **ops)
{
	Relation	rel;
	Relation	heap;
	bool		isindex;

	LanceMaintAdviceInit(advice);
	*ops = lance_maint_ops_for(relid);
	if (*ops == NULL)
		return false;
	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		return false;
	isindex = rel->rd_rel->relkind == RELKIND_INDEX;
	if (isindex && !rel->rd_index->indisvalid)
	{
		relation_close(rel, AccessShareLock);
		return false;
	}
	heap = isindex ? table_open(rel->rd_index->indrelid, AccessShareLock) : rel;
	(*ops)->advise(isindex ? rel : NULL, heap, advice);
	if (advice->action == LANCE_MAINT_INPLACE && (*ops)->maintain == NULL)
		advice->action = LANCE_MAINT_NONE;
	if (advice->action != LANCE_MAINT_INPLACE && !isindex)
		advice->action = LANCE_MAINT_NONE;	/* nothing to REINDEX */
	*qualname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										   RelationGetRelationName(rel));
	if (isindex)
		table_close(heap, AccessShareLock);
	relation_close(rel, AccessShareLock);
	return true;
}

/*
 * the in-place work, in the current transaction; returns what it did.
 * throttled: as autovacuum, with cost-based delay (buffer accesses are
 * charged by the buffer manager, the module calls vacuum_delay_point() in
 * its loops), so user queries keep the I/O and CPU they need.
 */
static char *
lance_maint_inplace(Oid relid, const LanceMaintOps *ops, LanceMaintAdvice *advice,
					bool throttled)
{
	StringInfoData detail;
	Relation	rel;
	Relation	heap;
	bool		isindex = get_rel_relkind(relid) == RELKIND_INDEX;

	if (throttled && lancedb_maintenance_cost_delay > 0)
	{
		VacuumCostDelay = lancedb_maintenance_cost_delay;
		VacuumCostLimit = lancedb_maintenance_cost_limit;
		VacuumCostBalance = 0;
		VacuumCostActive = true;
	}
	initStringInfo(&detail);
	if (isindex)
	{
		Oid			heapid = IndexGetRelation(relid, true);

		if (!OidIsValid(heapid))
			return pstrdup("index is gone");
		/* table first, as everywhere else, so no lock-order deadlock */
		heap = table_open(heapid, ShareUpdateExclusiveLock);
		rel = index_open(relid, RowExclusiveLock);
		ops->maintain(rel, heap, advice, &detail);
		index_close(rel, RowExclusiveLock);
		table_close(heap, ShareUpdateExclusiveLock);
	}
	else
	{
		heap = relation_open(relid, ShareUpdateExclusiveLock);
		ops->maintain(NULL, heap, advice, &detail);
		relation_close(heap, ShareUpdateExclusiveLock);
	}
	VacuumCostActive = false;
	return detail.data;
}

LanceMaintAction
lance_maint_index(Oid relid, bool concurrently, LanceMaintAdvice *advice)
{
	bool		own = !IsTransactionState();
	char	   *qualname = NULL;
	const LanceMaintOps *ops = NULL;
	bool		known;
	bool		inplace;
	int64		logid;
	MemoryContext cxt = CurrentMemoryContext;
	StringInfoData sql;
	char	   *detail;

	Assert(!concurrently || own);
	if (own)
	{
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	known = lance_maint_advise(relid, advice, &qualname, &ops);
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

	inplace = advice->action == LANCE_MAINT_INPLACE;
	logid = lance_maint_log_start(relid, ops->name, action_name(advice), advice->reason);
	initStringInfo(&sql);
	appendStringInfo(&sql, "REINDEX INDEX %s%s", concurrently ? "CONCURRENTLY " : "", qualname);
	if (!own)
	{
		/* errors reach the caller, and roll the log row back with it */
		if (inplace)
			detail = lance_maint_inplace(relid, ops, advice, false);
		else
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "could not rebuild index %s", qualname);
			SPI_finish();
			detail = sql.data;
		}
		lance_maint_log_finish(logid, "done", detail);
		return advice->action;
	}

	PG_TRY();
	{
		StartTransactionCommand();
		if (inplace)
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			detail = lance_maint_inplace(relid, ops, advice, true);
			detail = MemoryContextStrdup(cxt, detail);
			PopActiveSnapshot();
		}
		else
		{
			lance_exec_toplevel(sql.data);
			detail = sql.data;
		}
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* as autovacuum does: report, clean up, and go on with the next one */
		VacuumCostActive = false;
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
	lance_maint_log_finish(logid, "done", detail);
	return advice->action;
}
