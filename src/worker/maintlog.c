/*
 * maintlog.c
 *	  lancedb.maintenance_log: one row per maintenance action (what, when,
 *	  on what, why, how long, result), written in transactions of its own so
 *	  a failed action still leaves its record.  lancedb.maintenance_status
 *	  is the view users read.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "worker/maint.h"

static Oid
log_owner(void)
{
	Oid			relid = RangeVarGetRelid(makeRangeVar("lancedb", "maintenance_log", -1),
										 NoLock, false);
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

static void
log_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
		 int64 *id_out)
{
	bool		own = !IsTransactionState();
	Oid			save_user;
	int			save_sec;

	if (own)
	{
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	/*
	 * As the log's owner: users who may optimize an index may record it,
	 * but not write the log themselves.
	 */
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(log_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0) < 0)
		elog(ERROR, "could not write lancedb.maintenance_log");
	if (id_out && SPI_processed == 1)
	{
		bool		isnull;

		*id_out = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	SetUserIdAndSecContext(save_user, save_sec);
	if (own)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
}

int64
lance_maint_log_start(Oid relid, const char *am, const char *action,
					  const char *reason)
{
	Oid			types[4] = {OIDOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	int64		id = 0;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(am);
	values[2] = CStringGetTextDatum(action);
	values[3] = CStringGetTextDatum(reason);
	log_exec("INSERT INTO lancedb.maintenance_log (relid, relation, am, action, reason, status) "
			 "VALUES ($1, $1::regclass::text, $2, $3, $4, 'running') RETURNING id",
			 4, types, values, NULL, &id);
	return id;
}

void
lance_maint_log_finish(int64 id, const char *status, const char *detail)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', detail ? ' ' : 'n'};

	values[0] = Int64GetDatum(id);
	values[1] = CStringGetTextDatum(status);
	values[2] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	log_exec("UPDATE lancedb.maintenance_log SET status = $2, detail = $3, finished = clock_timestamp() "
			 "WHERE id = $1", 3, types, values, nulls, NULL);
}
