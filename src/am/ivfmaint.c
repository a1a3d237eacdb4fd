/*
 * ivfmaint.c
 *	  What a lance_ivf index needs from maintenance (see worker/maint.h):
 *
 *	  train    an untrained index (built on an empty or tiny table) whose
 *	           table now holds lancedb.ivf_train_min_rows rows;
 *	  retrain  centroid drift: a fresh sample of the table lies, on average,
 *	           lancedb.ivf_retrain_drift times farther from its nearest
 *	           centroid than the build's sample did; growth: rows inserted
 *	           since the build reach lancedb.ivf_retrain_growth times the
 *	           rows built (the list count, sqrt(rows), is stale); imbalance:
 *	           the largest list holds lancedb.ivf_max_list_ratio times the
 *	           mean (skewed inserts).
 */
#include "postgres.h"

#include <math.h>

#include "am/ivf.h"
#include "catalog/pg_attribute.h"
#include "executor/spi.h"
#include "kernels/distance.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "worker/maint.h"

#define IVF_DRIFT_SAMPLE	2000

/*
 * Mean distance of a sample of the table's vectors to their nearest
 * centroid (as the build measured its training sample); NaN when it cannot
 * be measured (expression index, empty table).
 */
static double
IvfSampleResidual(Relation index, Relation heap, IvfIndexCache *cache)
{
	AttrNumber	attno = index->rd_index->indkey.values[0];
	int			dim = cache->meta.dim;
	BlockNumber nblocks = RelationGetNumberOfBlocks(heap);
	double		density = heap->rd_rel->relpages > 0 && heap->rd_rel->reltuples > 0 ?
		heap->rd_rel->reltuples / heap->rd_rel->relpages : 10;
	double		rows = Max(density * nblocks, 1);
	/*
	 * SYSTEM sampling takes whole blocks at random, so the sample spans the
	 * table (a LIMIT on a bigger sample would favour its first blocks, the
	 * oldest rows: exactly not where drift shows).
	 */
	double		pct = Min(100.0, 100.0 * IVF_DRIFT_SAMPLE / rows);
	char	   *col;
	StringInfoData sql;
	double		sum = 0;
	int64		n = 0;

	if (attno == 0)
		return NAN;
	col = get_attname(RelationGetRelid(heap), attno, false);
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT %s FROM %s.%s TABLESAMPLE SYSTEM (%g) REPEATABLE (7) WHERE %s IS NOT NULL LIMIT %d",
					 quote_identifier(col),
					 quote_identifier(get_namespace_name(RelationGetNamespace(heap))),
					 quote_identifier(RelationGetRelationName(heap)),
					 pct, quote_identifier(col), 4 * IVF_DRIFT_SAMPLE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql.data, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not sample \"%s\"", RelationGetRelationName(heap));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
		int			xdim;
		int			nrows;
		float	   *x;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		x = LanceDatumToRows(d, cache->type, &xdim, &nrows);
		if (xdim != dim)
			continue;
		for (int i = 0; i < nrows; i++)
		{
			float	   *xi = x + (Size) i * dim;
			float		best = INFINITY;

			if (cache->metric->normalize)
				LanceNormalize(xi, dim);
			for (uint32 l = 0; l < cache->meta.nlists; l++)
			{
				float		dl = lance_kernels->l2sq_f32(xi, cache->centroids + (Size) l * dim, dim);

				if (dl < best)
					best = dl;
			}
			sum += sqrt(Max(best, 0.0f));
			n++;
		}
		pfree(x);
	}
	SPI_finish();
	return n > 0 ? sum / n : NAN;
}

void
IvfMaintenanceAdvice(Relation index, Relation heap, LanceMaintAdvice *advice)
{
	IvfIndexCache *cache = IvfGetCache(index);
	IvfMetaPageData meta = cache->meta;
	IvfListInfo *dir = IvfReadDirectory(index, &meta);
	uint64		entries = 0;
	uint64		inserted = 0;
	uint32		largest = 0;

	LanceMaintAdviceInit(advice);
	for (uint32 l = 0; l < meta.nlists; l++)
	{
		entries += dir[l].count;
		inserted += dir[l].inserted;
		largest = Max(largest, dir[l].count);
	}
	pfree(dir);

	if (!meta.trained)
	{
		if (entries >= (uint64) lancedb_ivf_train_min_rows)
		{
			advice->action = LANCE_MAINT_TRAIN;
			snprintf(advice->reason, sizeof(advice->reason),
					 "untrained index holds " UINT64_FORMAT " rows (lancedb.ivf_train_min_rows = %d)",
					 entries, lancedb_ivf_train_min_rows);
		}
		return;
	}

	if (meta.nlists > 1 && entries > 0)
		advice->balance = largest / ((double) entries / meta.nlists);
	if (meta.rows_built > 0)
		advice->growth = (double) inserted / meta.rows_built;
	if (meta.mean_residual > 0)
		advice->drift = IvfSampleResidual(index, heap, cache) / meta.mean_residual;

	if (!isnan(advice->drift) && advice->drift >= lancedb_ivf_retrain_drift)
		snprintf(advice->reason, sizeof(advice->reason),
				 "centroid drift %.2f (lancedb.ivf_retrain_drift = %g)",
				 advice->drift, lancedb_ivf_retrain_drift);
	else if (!isnan(advice->growth) && advice->growth >= lancedb_ivf_retrain_growth)
		snprintf(advice->reason, sizeof(advice->reason),
				 "rows inserted since the build: %.0f%% of the rows built (lancedb.ivf_retrain_growth = %g)",
				 100 * advice->growth, lancedb_ivf_retrain_growth);
	else if (!isnan(advice->balance) && advice->balance >= lancedb_ivf_max_list_ratio)
		snprintf(advice->reason, sizeof(advice->reason),
				 "largest list holds %.1f x the mean (lancedb.ivf_max_list_ratio = %g)",
				 advice->balance, lancedb_ivf_max_list_ratio);
	else
		return;
	advice->action = LANCE_MAINT_RETRAIN;
}

/* In-place rebalancing (list split/merge): not yet; advice never asks for it. */
void
IvfMaintain(Relation index, Relation heap, LanceMaintAdvice *advice,
			StringInfo detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("in-place maintenance of lance_ivf index \"%s\" is not implemented",
					RelationGetRelationName(index))));
}
