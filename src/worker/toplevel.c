/*
 * toplevel.c
 *	  Run SQL in a background worker the way the backend runs a client's
 *	  simple query: parsed, planned and run through an unnamed portal as a
 *	  top-level statement.  That is what lets a worker run commands that
 *	  refuse to run inside functions or transaction blocks, such as
 *	  REINDEX INDEX CONCURRENTLY, which commits and starts transactions of
 *	  its own while it builds the new index beside the old one.
 *
 * The caller starts the transaction before and commits it after.
 */
#include "postgres.h"

#include "access/xact.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "pgstat.h"
#include "tcop/dest.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"
#include "worker/maint.h"

void
lance_exec_toplevel(const char *sql)
{
	List	   *parsetrees;
	ListCell   *lc;
	MemoryContext old;

	/*
	 * The statement's trees must outlive the transactions it commits (the
	 * backend keeps them in MessageContext for the same reason).
	 */
	MemoryContext stmtcxt = AllocSetContextCreate(TopMemoryContext,
												  "lancedb top-level statement",
												  ALLOCSET_DEFAULT_SIZES);

	old = MemoryContextSwitchTo(stmtcxt);
	sql = pstrdup(sql);
	debug_query_string = sql;
	pgstat_report_activity(STATE_RUNNING, sql);
	parsetrees = pg_parse_query(sql);
	foreach(lc, parsetrees)
	{
		RawStmt    *parsetree = lfirst_node(RawStmt, lc);
		bool		snapshot_set = false;
		List	   *querytrees;
		List	   *plantrees;
		Portal		portal;
		DestReceiver *dest;
		QueryCompletion qc;

		if (analyze_requires_snapshot(parsetree))
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			snapshot_set = true;
		}
#if PG_VERSION_NUM >= 150000
		querytrees = pg_analyze_and_rewrite_fixedparams(parsetree, sql, NULL, 0, NULL);
#else
		querytrees = pg_analyze_and_rewrite(parsetree, sql, NULL, 0, NULL);
#endif
		plantrees = pg_plan_queries(querytrees, sql, CURSOR_OPT_PARALLEL_OK, NULL);
		if (snapshot_set)
			PopActiveSnapshot();
		MemoryContextSwitchTo(stmtcxt);

		portal = CreatePortal("", true, true);
		portal->visible = false;
		PortalDefineQuery(portal, NULL, sql, CreateCommandTag(parsetree->stmt),
						  plantrees, NULL);
		PortalStart(portal, NULL, 0, InvalidSnapshot);
		dest = CreateDestReceiver(DestNone);
		InitializeQueryCompletion(&qc);
		(void) PortalRun(portal, FETCH_ALL, true, true, dest, dest, &qc);
		dest->rDestroy(dest);
		PortalDrop(portal, false);
		MemoryContextSwitchTo(stmtcxt);
	}
	debug_query_string = NULL;
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(stmtcxt);
}
