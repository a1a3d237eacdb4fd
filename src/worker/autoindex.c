/*
 * autoindex.c
 *	  Automatic indexing (lancedb.auto_index): create the registered
 *	  columns' indexes once their tables are big enough.  Which statement
 *	  to run is decided in SQL (lancedb.auto_index_ddl); this runs it, from
 *	  the worker as CREATE INDEX CONCURRENTLY at top level, from
 *	  lancedb.optimize(table) as a plain CREATE INDEX.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "worker/maint.h"

typedef struct AutoIndexJob
{
	Oid			relid;
	char	   *column;
	char	   *ddl;
} AutoIndexJob;

/*
 * Due statements (for one table, or all when relid is invalid), in cxt.
 * Runs in the current transaction.  Registrations of dropped tables are
 * forgotten on the way.
 */
static List *
auto_index_due(Oid relid, bool concurrently, MemoryContext cxt)
{
	List	   *jobs = NIL;
	Oid			types[2] = {OIDOID, BOOLOID};
	Datum		values[2] = {ObjectIdGetDatum(relid), BoolGetDatum(concurrently)};

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!OidIsValid(relid))
		SPI_execute("DELETE FROM lancedb.auto_index_config c "
					"WHERE NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = c.relid)", false, 0);
	if (SPI_execute_with_args("SELECT relid, column_name::text, "
							  "lancedb.auto_index_ddl(relid, column_name, $2) "
							  "FROM lancedb.auto_index_config "
							  "WHERE $1 = 0 OR relid = $1 ORDER BY relid, column_name",
							  2, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read lancedb.auto_index_config");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *ddl = SPI_getvalue(tup, desc, 3);
		bool		isnull;
		AutoIndexJob *job;
		MemoryContext old;

		if (ddl == NULL)
			continue;
		old = MemoryContextSwitchTo(cxt);
		job = palloc(sizeof(AutoIndexJob));
		job->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		job->column = pstrdup(SPI_getvalue(tup, desc, 2));
		job->ddl = pstrdup(ddl);
		jobs = lappend(jobs, job);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return jobs;
}

static char *
auto_index_reason(AutoIndexJob *job)
{
	return psprintf("lancedb.auto_index on column \"%s\": the table reached its row threshold",
					job->column);
}

/* Worker: one round of automatic indexing for this database. */
void
lance_auto_index_round(MemoryContext cxt)
{
	List	   *jobs = NIL;
	ListCell   *lc;

	PG_TRY();
	{
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (OidIsValid(get_extension_oid("lancedb", true)))
			jobs = auto_index_due(InvalidOid, true, cxt);
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		ereport(LOG, (errmsg("lancedb automatic indexing skipped: %s", edata->message)));
		FreeErrorData(edata);
		return;
	}
	PG_END_TRY();

	foreach(lc, jobs)
	{
		AutoIndexJob *job = lfirst(lc);
		int64		id;

		CHECK_FOR_INTERRUPTS();
		id = lance_maint_log_start(job->relid, "auto_index", "create_index",
								   auto_index_reason(job));
		PG_TRY();
		{
			StartTransactionCommand();
			lance_exec_toplevel(job->ddl);
			CommitTransactionCommand();
			MemoryContextSwitchTo(cxt);
			lance_maint_log_finish(id, "done", job->ddl);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(cxt);
			ereport(LOG, (errmsg("lancedb automatic index on %u failed: %s",
								 job->relid, edata->message)));
			lance_maint_log_finish(id, "failed", edata->message);
			FreeErrorData(edata);
		}
		PG_END_TRY();
	}
}

/*
 * lancedb.optimize(table): create the table's due automatic indexes now,
 * in the caller's transaction; appends a JSON array of the statements run.
 */
void
lance_auto_index_table(Oid relid, StringInfo buf)
{
	List	   *jobs = auto_index_due(relid, false, CurrentMemoryContext);
	ListCell   *lc;
	bool		first = true;

	appendStringInfoChar(buf, '[');
	foreach(lc, jobs)
	{
		AutoIndexJob *job = lfirst(lc);
		int64		id = lance_maint_log_start(job->relid, "auto_index", "create_index",
											   auto_index_reason(job));

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute(job->ddl, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not run \"%s\"", job->ddl);
		SPI_finish();
		lance_maint_log_finish(id, "done", job->ddl);
		if (!first)
			appendStringInfoString(buf, ", ");
		escape_json(buf, job->ddl);
		first = false;
	}
	appendStringInfoChar(buf, ']');
}
