/*
 * ivfstats.c
 *	  lancedb.index_stats(regclass) for lance_ivf indexes.
 */
#include "postgres.h"

#include <float.h>

#include "access/relation.h"
#include "am/hnsw.h"
#include "am/bm25am.h"
#include "am/ivf.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "worker/maint.h"

static const char *
QuantName(int kind)
{
	switch (kind)
	{
		case QUANT_FLAT:
			return "flat";
		case QUANT_SQ:
			return "sq";
		case QUANT_PQ:
			return "pq";
		case QUANT_RQ:
			return "rq";
		case QUANT_BINARY:
			return "binary";
	}
	return "unknown";
}

static void
IvfStatsJson(Relation index, StringInfo buf)
{
	IvfIndexCache *cache = IvfGetCache(index);
	IvfMetaPageData meta = cache->meta;
	IvfListInfo *dir = IvfReadDirectory(index, &meta);
	uint64		rows = 0;
	uint64		inserted = 0;
	uint32		minsz = UINT32_MAX;
	uint32		maxsz = 0;
	uint32		empty = 0;
	BlockNumber pages = RelationGetNumberOfBlocks(index);

	for (uint32 l = 0; l < meta.nlists; l++)
	{
		rows += dir[l].count;
		inserted += dir[l].inserted;
		minsz = Min(minsz, dir[l].count);
		maxsz = Max(maxsz, dir[l].count);
		if (dir[l].count == 0)
			empty++;
	}
	appendStringInfo(buf,
					 "{\"index_type\": \"lance_ivf\", \"metric\": \"%s\", "
					 "\"quantizer\": \"%s\", \"configured_quantizer\": \"%s\", "
					 "\"trained\": %s, \"dimensions\": %u, \"lists\": %u, "
					 "\"lists_at_build\": %u, \"rebalances\": %u, "
					 "\"code_bytes\": %u, \"aux_floats\": %u, "
					 "\"num_indexed_rows\": " UINT64_FORMAT ", \"num_unindexed_rows\": 0, "
					 "\"rows_at_build\": " UINT64_FORMAT ", "
					 "\"rows_inserted_since_build\": " UINT64_FORMAT ", "
					 "\"list_size\": {\"min\": %u, \"mean\": %.2f, \"max\": %u, \"empty\": %u}, "
					 "\"pages\": %u, \"bytes\": " UINT64_FORMAT "}",
					 cache->metric->name, QuantName(meta.qkind),
					 QuantName(meta.configured_qkind),
					 meta.trained ? "true" : "false",
					 meta.dim, meta.nlists, meta.lists_built ? meta.lists_built : meta.nlists,
					 meta.rebalances, meta.code_size, meta.num_aux,
					 rows, meta.rows_built, inserted,
					 meta.nlists ? minsz : 0,
					 meta.nlists ? (double) rows / meta.nlists : 0.0,
					 maxsz, empty, pages, (uint64) pages * BLCKSZ);
}

LANCEDB_FUNCTION(lancedb_index_stats);
Datum
lancedb_index_stats(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	index;
	StringInfoData buf;
	Oid			amoid;

	index = relation_open(relid, AccessShareLock);
	if (index->rd_rel->relkind == RELKIND_FOREIGN_TABLE &&
		lance_maint_ops_for(relid) != NULL)
	{
		/* a Lance dataset: what maintenance sees (fragments, deleted rows) */
		initStringInfo(&buf);
		appendStringInfoString(&buf, "{\"index_type\": \"lance_fdw\"}");
		LanceMaintStatsJson(index, &buf);
		relation_close(index, AccessShareLock);
		PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
	}
	if (index->rd_rel->relkind != RELKIND_INDEX)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index", RelationGetRelationName(index))));
	amoid = index->rd_rel->relam;
	initStringInfo(&buf);
	if (amoid == get_am_oid("lance_ivf", true))
		IvfStatsJson(index, &buf);
	else if (amoid == get_am_oid("lance_hnsw", true))
		HnswStatsJson(index, &buf);
	else if (amoid == get_am_oid("lance_bm25", true))
		Bm25StatsJson(index, &buf);
	else
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a lancedb index", RelationGetRelationName(index)),
				 errdetail("Its access method is %s.", get_am_name(amoid))));
	LanceMaintStatsJson(index, &buf);
	relation_close(index, AccessShareLock);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
