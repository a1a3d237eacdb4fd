/*
 * optimize.c
 *	  lancedb.optimize(regclass): one maintenance round, on demand, without
 *	  the background worker (see maint.h, maintrun.c).  For an index or a
 *	  Lance foreign table: that relation.  For a table (as LanceDB's
 *	  table.optimize()): every lancedb index on it, after creating the
 *	  automatic indexes that are due.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/relation.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "lancedb.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "worker/maint.h"

static void
append_figure(StringInfo buf, const char *name, double v)
{
	if (isnan(v))
		appendStringInfo(buf, ", \"%s\": null", name);
	else
		appendStringInfo(buf, ", \"%s\": %.4f", name, v);
}

/* one round for one index or Lance foreign table, as a JSON object */
static void
optimize_one(Oid relid, StringInfo buf)
{
	LanceMaintAdvice advice;
	LanceMaintAction done = lance_maint_index(relid, false, &advice);

	appendStringInfoString(buf, "{\"index\": ");
	escape_json(buf, get_rel_name(relid));
	appendStringInfoString(buf, ", \"action\": ");
	escape_json(buf, done == LANCE_MAINT_TRAIN ? "train" :
				done == LANCE_MAINT_RETRAIN ? "retrain" :
				done == LANCE_MAINT_INPLACE ? advice.task : "none");
	if (done != LANCE_MAINT_NONE)
	{
		appendStringInfoString(buf, ", \"reason\": ");
		escape_json(buf, advice.reason);
	}
	append_figure(buf, "drift", advice.drift);
	append_figure(buf, "balance", advice.balance);
	append_figure(buf, "growth", advice.growth);
	append_figure(buf, "deleted", advice.deleted);
	append_figure(buf, "segments", advice.segments);
	appendStringInfoChar(buf, '}');
}

LANCEDB_FUNCTION(lancedb_optimize);
Datum
lancedb_optimize(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	StringInfoData buf;
	char	   *relname = get_rel_name(relid);
	char		relkind;
	bool		istable;

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	relkind = get_rel_relkind(relid);
	istable = relkind == RELKIND_RELATION || relkind == RELKIND_MATVIEW ||
		relkind == RELKIND_PARTITIONED_TABLE;
	if (!istable && lance_maint_ops_for(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is neither a table, a lancedb index nor a Lance foreign table", relname),
				 errdetail("lancedb.optimize() maintains lance_ivf, lance_hnsw and lance_bm25 indexes (all of a table's when given the table) and lance_fdw foreign tables.")));
#if PG_VERSION_NUM >= 160000
	if (!object_ownercheck(RelationRelationId, relid, GetUserId()))
#else
	if (!pg_class_ownercheck(relid, GetUserId()))
#endif
		aclcheck_error(ACLCHECK_NOT_OWNER,
					   relkind == RELKIND_INDEX ? OBJECT_INDEX :
					   relkind == RELKIND_FOREIGN_TABLE ? OBJECT_FOREIGN_TABLE : OBJECT_TABLE,
					   relname);

	initStringInfo(&buf);
	if (!istable)
		optimize_one(relid, &buf);
	else
	{
		Relation	rel;
		List	   *indexes;
		ListCell   *lc;
		bool		first = true;

		appendStringInfoString(&buf, "{\"table\": ");
		escape_json(&buf, relname);
		appendStringInfoString(&buf, ", \"created\": ");
		lance_auto_index_table(relid, &buf);
		appendStringInfoString(&buf, ", \"indexes\": [");
		rel = relation_open(relid, AccessShareLock);
		indexes = RelationGetIndexList(rel);
		relation_close(rel, AccessShareLock);
		foreach(lc, indexes)
		{
			Oid			indexoid = lfirst_oid(lc);

			if (lance_maint_ops_for(indexoid) == NULL)
				continue;
			if (!first)
				appendStringInfoString(&buf, ", ");
			optimize_one(indexoid, &buf);
			first = false;
		}
		appendStringInfoString(&buf, "]}");
	}
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
