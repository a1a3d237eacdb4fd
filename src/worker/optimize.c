/*
 * optimize.c
 *	  lancedb.optimize(regclass): one maintenance round for one index, on
 *	  demand, without the background worker (see maint.h, maintrun.c).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_class.h"
#include "lancedb.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "worker/maint.h"

static void
append_figure(StringInfo buf, const char *name, double v)
{
	if (isnan(v))
		appendStringInfo(buf, ", \"%s\": null", name);
	else
		appendStringInfo(buf, ", \"%s\": %.4f", name, v);
}

LANCEDB_FUNCTION(lancedb_optimize);
Datum
lancedb_optimize(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	LanceMaintAdvice advice;
	LanceMaintAction done;
	StringInfoData buf;
	char	   *relname = get_rel_name(relid);

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (lance_maint_ops_for(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is neither a lancedb index nor a Lance foreign table", relname),
				 errdetail("lancedb.optimize() maintains lance_ivf, lance_hnsw and lance_bm25 indexes and lance_fdw foreign tables.")));
#if PG_VERSION_NUM >= 160000
	if (!object_ownercheck(RelationRelationId, relid, GetUserId()))
#else
	if (!pg_class_ownercheck(relid, GetUserId()))
#endif
		aclcheck_error(ACLCHECK_NOT_OWNER,
					   get_rel_relkind(relid) == RELKIND_INDEX ? OBJECT_INDEX : OBJECT_FOREIGN_TABLE,
					   relname);

	done = lance_maint_index(relid, false, &advice);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"index\": ");
	escape_json(&buf, relname);
	appendStringInfoString(&buf, ", \"action\": ");
	escape_json(&buf, done == LANCE_MAINT_TRAIN ? "train" :
				done == LANCE_MAINT_RETRAIN ? "retrain" :
				done == LANCE_MAINT_INPLACE ? advice.task : "none");
	if (done != LANCE_MAINT_NONE)
	{
		appendStringInfoString(&buf, ", \"reason\": ");
		escape_json(&buf, advice.reason);
	}
	append_figure(&buf, "drift", advice.drift);
	append_figure(&buf, "balance", advice.balance);
	append_figure(&buf, "growth", advice.growth);
	append_figure(&buf, "deleted", advice.deleted);
	append_figure(&buf, "segments", advice.segments);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
