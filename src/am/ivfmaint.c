/*
 * ivfmaint.c
 *	  What a lance_ivf index needs from maintenance (see worker/maint.h):
 *
 *	  train    an untrained index (built on an empty or tiny table) whose
 *	           table now holds lancedb.ivf_train_min_rows rows;
 *	  retrain  growth: rows inserted since the build reach
 *	           lancedb.ivf_retrain_growth times the rows built (the list
 *	           count, sqrt(rows), is stale); centroid drift left after any
 *	           rebalancing: a fresh sample of the table lies, on average,
 *	           lancedb.ivf_retrain_drift times farther from its nearest
 *	           centroid than the build's sample did;
 *	  split    (in place) a list holds more than lancedb.ivf_split_ratio
 *	           times the mean list (skewed inserts);
 *	  merge    (in place) a list holds less than lancedb.ivf_merge_ratio
 *	           times the mean.
 *	  Multivector indexes are not rebalanced in place: they are retrained
 *	  when the largest list reaches lancedb.ivf_max_list_ratio x the mean.
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
	uint32		smallest = UINT32_MAX;
	double		mean;
	bool		inplace = !cache->type->multi;

	LanceMaintAdviceInit(advice);
	for (uint32 l = 0; l < meta.nlists; l++)
	{
		entries += dir[l].count;
		inserted += dir[l].inserted;
		largest = Max(largest, dir[l].count);
		smallest = Min(smallest, dir[l].count);
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

	mean = meta.nlists > 0 ? (double) entries / meta.nlists : 0;
	if (meta.nlists > 1 && entries > 0)
		advice->balance = largest / mean;
	if (meta.rows_built > 0)
		advice->growth = (double) inserted / meta.rows_built;
	if (meta.mean_residual > 0)
		advice->drift = IvfSampleResidual(index, heap, cache) / meta.mean_residual;

	/*
	 * Growth first: the list count (sqrt(rows) at build) is stale.  Then
	 * local imbalance, fixed in place (splits also pull centroids towards
	 * where new rows went, so drift is measured again afterwards).  Drift
	 * left after that is global: retrain.
	 */
	if (!isnan(advice->growth) && advice->growth >= lancedb_ivf_retrain_growth)
	{
		advice->action = LANCE_MAINT_RETRAIN;
		snprintf(advice->reason, sizeof(advice->reason),
				 "rows inserted since the build: %.0f%% of the rows built (lancedb.ivf_retrain_growth = %g)",
				 100 * advice->growth, lancedb_ivf_retrain_growth);
	}
	else if (inplace && mean > 0 && largest >= 4 &&
			 largest > lancedb_ivf_split_ratio * mean)
	{
		advice->action = LANCE_MAINT_INPLACE;
		strlcpy(advice->task, "split", sizeof(advice->task));
		snprintf(advice->reason, sizeof(advice->reason),
				 "largest list holds %.1f x the mean (lancedb.ivf_split_ratio = %g)",
				 advice->balance, lancedb_ivf_split_ratio);
	}
	else if (inplace && meta.nlists > 2 && mean > 0 &&
			 smallest < lancedb_ivf_merge_ratio * mean)
	{
		advice->action = LANCE_MAINT_INPLACE;
		strlcpy(advice->task, "merge", sizeof(advice->task));
		snprintf(advice->reason, sizeof(advice->reason),
				 "smallest list holds %.2f x the mean (lancedb.ivf_merge_ratio = %g)",
				 smallest / mean, lancedb_ivf_merge_ratio);
	}
	else if (!inplace && !isnan(advice->balance) &&
			 advice->balance >= lancedb_ivf_max_list_ratio)
	{
		/* multivector entries share TIDs: rebuilt, not rebalanced */
		advice->action = LANCE_MAINT_RETRAIN;
		snprintf(advice->reason, sizeof(advice->reason),
				 "largest list holds %.1f x the mean (lancedb.ivf_max_list_ratio = %g)",
				 advice->balance, lancedb_ivf_max_list_ratio);
	}
	else if (!isnan(advice->drift) && advice->drift >= lancedb_ivf_retrain_drift)
	{
		advice->action = LANCE_MAINT_RETRAIN;
		snprintf(advice->reason, sizeof(advice->reason),
				 "centroid drift %.2f (lancedb.ivf_retrain_drift = %g)",
				 advice->drift, lancedb_ivf_retrain_drift);
	}
}

/*
 * In-place rebalancing: splits and merges (ivfrebalance.c), at most
 * lancedb.ivf_rebalance_ops per round; the next round goes on if more are
 * needed (and reuses the pages this one retired).
 */
void
IvfMaintain(Relation index, Relation heap, LanceMaintAdvice *advice,
			StringInfo detail)
{
	if (strcmp(advice->task, "split") != 0 && strcmp(advice->task, "merge") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lance_ivf has no in-place task \"%s\"", advice->task)));
	IvfRebalance(index, heap, lancedb_ivf_rebalance_ops, detail);
}
