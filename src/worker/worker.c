/*
 * worker.c
 *	  The maintenance launcher and per-database workers (see maint.h), and
 *	  the lancedb.maintenance* settings.
 *
 * Like autovacuum: the launcher (registered when the library is in
 * shared_preload_libraries) wakes every lancedb.maintenance_naptime
 * seconds and starts, one database at a time, a dynamic worker that
 * connects to it, does one maintenance round for each lancedb index there
 * and exits.  A worker runs at a lower CPU priority (lancedb.maintenance_nice)
 * so user queries keep theirs; its rebuilds are REINDEX CONCURRENTLY, which
 * takes the locks CREATE INDEX CONCURRENTLY takes and never blocks queries
 * or writes for long; everything it changes is WAL-logged by PostgreSQL
 * itself.  Killed or cancelled, it leaves at worst an invalid index
 * "..._ccnew" that the next round's REINDEX replaces.
 */
#include "postgres.h"

#include <sys/resource.h>
#include <unistd.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lancedb.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "worker/maint.h"

bool		lancedb_maintenance = true;
int			lancedb_maintenance_naptime = 60;
int			lancedb_maintenance_nice = 10;
double		lancedb_maintenance_cost_delay = 2;
int			lancedb_maintenance_cost_limit = 200;
int			lancedb_ivf_train_min_rows = 1000;
double		lancedb_ivf_retrain_drift = 1.25;
double		lancedb_ivf_retrain_growth = 1.0;
double		lancedb_ivf_max_list_ratio = 10.0;
int			lancedb_auto_index_min_rows = 10000;

PGDLLEXPORT void lance_maintenance_launcher_main(Datum arg);
PGDLLEXPORT void lance_maintenance_db_main(Datum arg);

void
LanceMaintInit(void)
{
	BackgroundWorker bgw;

	DefineCustomBoolVariable("lancedb.maintenance",
							 "Runs the lancedb maintenance workers (needs shared_preload_libraries).",
							 NULL, &lancedb_maintenance, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("lancedb.maintenance_naptime",
							"Seconds between maintenance rounds of a database.",
							NULL, &lancedb_maintenance_naptime, 60, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("lancedb.maintenance_nice",
							"CPU priority (nice) of maintenance workers, so user queries keep theirs.",
							NULL, &lancedb_maintenance_nice, 10, 0, 19,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("lancedb.maintenance_cost_delay",
							 "Cost-based delay of in-place maintenance by the workers, in milliseconds (0 = off), as autovacuum_vacuum_cost_delay.",
							 NULL, &lancedb_maintenance_cost_delay, 2, 0, 100,
							 PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("lancedb.maintenance_cost_limit",
							"Cost accumulated before in-place maintenance sleeps, as autovacuum_vacuum_cost_limit.",
							NULL, &lancedb_maintenance_cost_limit, 200, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("lancedb.ivf_train_min_rows",
							"Rows an untrained lance_ivf index needs before maintenance trains it.",
							NULL, &lancedb_ivf_train_min_rows, 1000, 1, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("lancedb.ivf_retrain_drift",
							 "Centroid drift (mean residual of the table now / at build) that makes maintenance retrain a lance_ivf index.",
							 NULL, &lancedb_ivf_retrain_drift, 1.25, 1.0, 1000.0,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("lancedb.ivf_retrain_growth",
							 "Rows inserted since the build, as a multiple of the rows built, that make maintenance retrain a lance_ivf index.",
							 NULL, &lancedb_ivf_retrain_growth, 1.0, 0.01, 1000.0,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("lancedb.ivf_max_list_ratio",
							 "Largest list of a multivector lance_ivf index (other indexes split lists in place), as a multiple of the mean list, that makes maintenance rebuild it.",
							 NULL, &lancedb_ivf_max_list_ratio, 10.0, 1.5, 1e6,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("lancedb.auto_index_min_rows",
							"Rows a table needs before automatic indexing (lancedb.auto_index) creates the index.",
							NULL, &lancedb_auto_index_min_rows, 10000, 1, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	LanceMaintShmemInit();
	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 10;
	strlcpy(bgw.bgw_library_name, "lancedb", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "lance_maintenance_launcher_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, "lancedb maintenance launcher", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "lancedb maintenance launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&bgw);
}

/* Databases a worker may connect to. */
static List *
lance_maint_databases(void)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext cxt = CurrentMemoryContext;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate)
			continue;
		old = MemoryContextSwitchTo(cxt);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return dbs;
}

static BackgroundWorkerHandle *
lance_maint_start_db(Oid dboid)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(bgw.bgw_library_name, "lancedb", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "lance_maintenance_db_main", BGW_MAXLEN);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "lancedb maintenance worker for database %u", dboid);
	strlcpy(bgw.bgw_type, "lancedb maintenance worker", BGW_MAXLEN);
	bgw.bgw_main_arg = ObjectIdGetDatum(dboid);
	bgw.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
		return NULL;			/* no free worker slot: next round */
	return handle;
}

void
lance_maintenance_launcher_main(Datum arg)
{
	BackgroundWorkerHandle *running = NULL;
	List	   *queue = NIL;
	MemoryContext cxt;
	TimestampTz next_round = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	cxt = AllocSetContextCreate(TopMemoryContext, "lancedb launcher", ALLOCSET_DEFAULT_SIZES);

	while (!ShutdownRequestPending)
	{
		pid_t		pid;
		long		wait_ms;
		TimestampTz now;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		/* one database worker at a time, each database once per naptime */
		if (running != NULL)
		{
			BgwHandleStatus st = GetBackgroundWorkerPid(running, &pid);

			if (st != BGWH_STARTED && st != BGWH_NOT_YET_STARTED)
			{
				pfree(running);
				running = NULL;
			}
		}
		now = GetCurrentTimestamp();
		if (lancedb_maintenance && running == NULL)
		{
			if (queue == NIL && now >= next_round)
			{
				MemoryContextReset(cxt);
				MemoryContextSwitchTo(cxt);
				queue = lance_maint_databases();
				next_round = TimestampTzPlusMilliseconds(now, 1000L * lancedb_maintenance_naptime);
				lance_maint_note_next_round(next_round);
			}
			if (queue != NIL)
			{
				Oid			dboid = linitial_oid(queue);

				MemoryContextSwitchTo(cxt);
				queue = list_delete_first(queue);
				MemoryContextSwitchTo(TopMemoryContext);
				running = lance_maint_start_db(dboid);
			}
		}
		if (running != NULL)
			wait_ms = 100;
		else if (queue != NIL)
			wait_ms = 10;
		else
			wait_ms = Max(10, (long) ((next_round - now) / 1000));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	proc_exit(0);
}

/*
 * Drop what a REINDEX CONCURRENTLY killed half-way left behind: an invalid
 * "..._ccnew" (or "..._ccold") lancedb index, or an automatic index's
 * interrupted CREATE INDEX CONCURRENTLY ("..._lance_auto"), which inserts would keep
 * maintaining.  Skipped while anyone holds a conflicting lock on its table
 * (a REINDEX CONCURRENTLY may still be running).
 */
static void
lance_maint_cleanup(MemoryContext cxt)
{
	List	   *oids = NIL;
	List	   *names = NIL;
	ListCell   *lc1,
			   *lc2;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("lancedb", true)) && SPI_connect() == SPI_OK_CONNECT)
	{
		if (SPI_execute("SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
						"FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
						"JOIN pg_namespace n ON n.oid = c.relnamespace "
						"JOIN pg_am a ON a.oid = c.relam "
						"WHERE a.amname IN ('lance_ivf', 'lance_hnsw', 'lance_bm25') AND NOT i.indisvalid "
						"AND c.relname ~ '(_cc(new|old)[0-9]*|_lance_auto)$' "
						"AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.relation = i.indrelid "
						"                AND l.pid <> pg_backend_pid() "
						"                AND l.mode IN ('ShareUpdateExclusiveLock', 'ShareLock', "
						"                               'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'))",
						true, 0) == SPI_OK_SELECT)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			for (uint64 r = 0; r < SPI_processed; r++)
			{
				bool		isnull;

				oids = lappend_oid(oids, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r],
																	   SPI_tuptable->tupdesc, 1, &isnull)));
				names = lappend(names, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2));
			}
			MemoryContextSwitchTo(old);
		}
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	forboth(lc1, oids, lc2, names)
	{
		char	   *name = (char *) lfirst(lc2);
		int64		id = lance_maint_log_start(lfirst_oid(lc1), "lancedb", "cleanup",
											   "invalid index left by an interrupted REINDEX CONCURRENTLY");
		char	   *sql = psprintf("DROP INDEX CONCURRENTLY IF EXISTS %s", name);

		PG_TRY();
		{
			StartTransactionCommand();
			lance_exec_toplevel(sql);
			CommitTransactionCommand();
			MemoryContextSwitchTo(cxt);
			lance_maint_log_finish(id, "done", sql);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(cxt);
			lance_maint_log_finish(id, "failed", edata->message);
			FreeErrorData(edata);
		}
		PG_END_TRY();
	}
}

void
lance_maintenance_db_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	List	   *indexes = NIL;
	ListCell   *lc;
	MemoryContext cxt;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	/* user queries keep priority over maintenance */
	if (lancedb_maintenance_nice > 0)
		(void) setpriority(PRIO_PROCESS, 0, lancedb_maintenance_nice);
	cxt = AllocSetContextCreate(TopMemoryContext, "lancedb maintenance", ALLOCSET_DEFAULT_SIZES);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("lancedb", true)))
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/*
		 * One worker per database at a time: a committed 'running' row is
		 * what a killed worker or a crash left behind.
		 */
		SPI_execute("UPDATE lancedb.maintenance_log SET status = 'failed', finished = clock_timestamp(), "
					"detail = 'interrupted (worker killed or server restarted)' WHERE status = 'running'",
					false, 0);
		/* every lancedb index, then every Lance foreign table */
		if (SPI_execute("SELECT i.indexrelid FROM pg_index i "
						"JOIN pg_class c ON c.oid = i.indexrelid "
						"JOIN pg_am a ON a.oid = c.relam "
						"WHERE a.amname IN ('lance_ivf', 'lance_hnsw', 'lance_bm25') "
						"AND i.indisvalid AND i.indisready "
						"UNION ALL "
						"(SELECT ft.ftrelid FROM pg_foreign_table ft "
						"JOIN pg_foreign_server s ON s.oid = ft.ftserver "
						"JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw "
						"WHERE w.fdwname = 'lance_fdw' ORDER BY 1)", true, 0) == SPI_OK_SELECT)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			for (uint64 r = 0; r < SPI_processed; r++)
			{
				bool		isnull;

				indexes = lappend_oid(indexes,
									  DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r],
																	 SPI_tuptable->tupdesc, 1, &isnull)));
			}
			MemoryContextSwitchTo(old);
		}
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	lance_maint_cleanup(cxt);
	foreach(lc, indexes)
	{
		LanceMaintAdvice advice;

		CHECK_FOR_INTERRUPTS();
		/* lancedb.maintenance = off also ends a round between two objects */
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!lancedb_maintenance)
			break;
		SetCurrentStatementStartTimestamp();
		(void) lance_maint_index(lfirst_oid(lc), true, &advice);
		MemoryContextSwitchTo(cxt);
	}
	if (lancedb_maintenance)
		lance_auto_index_round(cxt);
	lance_maint_note_round_done(dboid);
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
