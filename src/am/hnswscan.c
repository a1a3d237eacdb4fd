/*
 * hnswscan.c
 *	  lance_hnsw scans.  ORDER BY: greedy descent from the entry point,
 *	  then an ef_search-wide search of level 0 (tombstones are walked
 *	  through but take no slot).  With quantizer none the index distances
 *	  are exact; with sq/pq every candidate is re-ranked with its exact
 *	  distance from the heap (invisible rows drop out there).  When the
 *	  executor wants more rows (filters), an iterative scan searches again
 *	  with twice the width, skipping rows already returned, until
 *	  lancedb.max_scan_tuples.  Range (sphere) keys widen the search until
 *	  the candidates reach past the radius.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/relscan.h"
#include "access/tableam.h"
#include "am/heapdist.h"
#include "am/hnsw.h"
#include "am/scanreport.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "vector/halfvec.h"
#include "vector/sphere.h"

typedef struct HnswResult
{
	double		internal;
	double		value;			/* SQL distance */
	ItemPointerData tid;
} HnswResult;

typedef struct HnswScanOpaqueData
{
	HnswIndexInfo *info;
	MemoryContext scanctx;
	MemoryContext longctx;
	bool		started;
	bool		done;

	bool		ordered;
	bool		all_rows;		/* NULL (or zero cosine) query: every row */
	bool		all_rows_nan;
	Datum		query;
	float	   *q;
	bool		has_range;
	double		range_lo;
	double		range_hi;
	double		range_hi_internal;

	HnswDiskSearch *ds;
	bool		by_bound;		/* sq: emit lower bounds, the executor re-ranks */
	int			ef;
	HTAB	   *returned;		/* element keys already emitted */
	HnswResult *batch;
	int			nbatch;
	int			pos;
	double		last_internal;
	int64		visited;
	bool		exhausted;		/* the last search found nothing new */
	bool		swept;			/* the final sequential pass ran */
	HnswQuery	sweepq;

	/* all_rows: page walk */
	BlockNumber walk_blk;
	OffsetNumber walk_off;

	/* heap access for exact re-rank */
	LanceHeapDist *hd;
	int64		heap_fetches;
	int64		emitted;
	/* over all rescans, for EXPLAIN ANALYZE (am/scanreport.h) */
	int64		loops;
	int64		tot_visited;
	int64		tot_heap_fetches;
	int64		tot_emitted;
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

static void
HnswScanInitFetch(IndexScanDesc scan, HnswScanOpaque so)
{
	MemoryContext old;

	if (so->hd != NULL)
		return;
	old = MemoryContextSwitchTo(so->longctx);
	so->hd = lance_heapdist_begin(scan->indexRelation, scan->heapRelation);
	MemoryContextSwitchTo(old);
}

/* Exact SQL distance of a visible heap row; false if none is visible. */
static bool
HnswHeapDistance(IndexScanDesc scan, HnswScanOpaque so, ItemPointer tid,
				 double *value)
{
	so->heap_fetches++;
	return lance_heapdist_get(so->hd, scan->xs_snapshot, tid, so->query, value);
}

static int
result_cmp(const void *a, const void *b)
{
	const HnswResult *x = a;
	const HnswResult *y = b;

	if (x->internal < y->internal)
		return -1;
	if (x->internal > y->internal)
		return 1;
	return 0;
}

/*
 * One search of width ef; the batch holds the rows not returned before,
 * ascending.  Returns the number of live candidates the search found.
 */
static int
HnswRunBatch(IndexScanDesc scan, HnswScanOpaque so, int ef)
{
	const HnswIndexInfo *info = so->info;
	HnswCandidate *out = palloc(sizeof(HnswCandidate) * ef);
	int			top;
	int			n;
	bool		exact = info->quant == NULL;

	n = HnswDiskSearchRun(so->ds, ef, 0, out, &top);
	so->visited = HnswDiskSearchVisited(so->ds);
	so->batch = repalloc(so->batch, sizeof(HnswResult) * Max(n, 1));
	so->nbatch = 0;
	so->pos = 0;
	if (!exact && !so->by_bound)
		HnswScanInitFetch(scan, so);
	for (int i = 0; i < n; i++)
	{
		bool		found;
		HnswResult r;

		hash_search(so->returned, &out[i].key, HASH_ENTER, &found);
		if (found)
			continue;
		if (!HnswDiskHeapTid(so->ds, out[i].key, &r.tid))
			continue;
		if (exact)
		{
			r.internal = out[i].dist;
			r.value = HnswSqlDistance(info->metric, out[i].dist);
		}
		else if (so->by_bound)
		{
			/*
			 * A guaranteed lower bound (widened for rounding): the executor
			 * reads the row anyway, computes the exact distance and
			 * re-orders (xs_recheckorderby), so no heap fetch here.
			 */
			float		lo = HnswDiskLower(so->ds, out[i].key);

			r.internal = lo - (fabs(lo) * 1e-4 + 1e-6);
			r.value = HnswSqlDistance(info->metric, r.internal);
		}
		else
		{
			if (!HnswHeapDistance(scan, so, &r.tid, &r.value))
				continue;
			r.internal = HnswInternalFromSql(info->metric, r.value);
		}
		so->batch[so->nbatch++] = r;
	}
	if (!exact && so->nbatch > 1)
		qsort(so->batch, so->nbatch, sizeof(HnswResult), result_cmp);
	pfree(out);
	return n;
}

/*
 * The graph search has visited everything reachable from the entry point:
 * read every element page once for live elements not returned yet (HNSW
 * graphs can leave an element without incoming links), so an iterative
 * scan ends with every row of the index.
 */
static void
HnswSweepBatch(IndexScanDesc scan, HnswScanOpaque so)
{
	Relation	index = scan->indexRelation;
	const HnswIndexInfo *info = so->info;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	int			cap = 64;
	bool		exact = info->quant == NULL;

	so->swept = true;
	so->nbatch = so->pos = 0;
	so->batch = repalloc_huge(so->batch, sizeof(HnswResult) * cap);
	HnswQueryInit(&so->sweepq, info, so->q);
	if (!exact && !so->by_bound)
		HnswScanInitFetch(scan, so);
	for (BlockNumber blk = HNSW_METAPAGE_BLKNO + 1; blk < nblocks; blk++)
	{
		Buffer		buf = ReadBuffer(index, blk);
		Page		page;
		int			first = so->nbatch;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (!PageIsNew(page) && HnswPageGetOpaque(page)->page_id == HNSW_PAGE_ID &&
			HnswPageGetOpaque(page)->page_type == HNSW_PAGE_ELEMENT)
		{
			OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				HnswElementTuple tup = HnswGetElement(index, page, blk, off,
													  info->meta.data_size,
													  info->meta.m);
				HnswKey		key = HnswKeyFromTid(blk, off);
				bool		found;
				HnswResult *r;

				/*
				 * VACUUM leaves a freed element FREE only (heap TID invalid):
				 * returned, its TID made the heap fetch extend the table by
				 * an empty page (ReadBuffer of InvalidBlockNumber is P_NEW).
				 */
				if (tup->flags & (HNSW_ELEM_DELETED | HNSW_ELEM_FREE))
					continue;
				hash_search(so->returned, &key, HASH_ENTER, &found);
				if (found)
					continue;
				if (so->nbatch == cap)
				{
					cap *= 2;
					so->batch = repalloc_huge(so->batch, sizeof(HnswResult) * cap);
				}
				r = &so->batch[so->nbatch++];
				r->tid = tup->heaptid;
				if (so->by_bound)
				{
					float		lo;

					(void) HnswQueryDistanceBound(&so->sweepq, tup->data, &lo);
					r->internal = lo - (fabs(lo) * 1e-4 + 1e-6);
				}
				else
					r->internal = HnswQueryDistance(&so->sweepq, tup->data);
				r->value = HnswSqlDistance(info->metric, r->internal);
			}
		}
		UnlockReleaseBuffer(buf);
		/* pq: exact distances from the heap (outside the page lock) */
		if (!exact && !so->by_bound)
		{
			int			k = first;

			for (int i = first; i < so->nbatch; i++)
			{
				HnswResult	r = so->batch[i];

				if (!HnswHeapDistance(scan, so, &r.tid, &r.value))
					continue;
				r.internal = HnswInternalFromSql(info->metric, r.value);
				so->batch[k++] = r;
			}
			so->nbatch = k;
		}
	}
	if (so->nbatch > 1)
		qsort(so->batch, so->nbatch, sizeof(HnswResult), result_cmp);
}

static bool
HnswCanWiden(HnswScanOpaque so)
{
	if (so->exhausted)
		return false;
	if (so->has_range && !so->ordered)
		return true;			/* bounded by the radius instead */
	return lancedb_iterative_scan != IVF_ITERATIVE_OFF &&
		so->ef < lancedb_max_scan_tuples;
}

static bool
HnswNextOrdered(IndexScanDesc scan, HnswScanOpaque so)
{
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		while (so->pos < so->nbatch)
		{
			HnswResult r = so->batch[so->pos++];

			if (so->has_range)
			{
				if (r.value >= so->range_hi)
				{
					/* ascending: nothing further in range in this batch */
					so->pos = so->nbatch;
					so->exhausted = true;
					break;
				}
				/* a lower bound below lo says nothing: the executor rechecks */
				if (r.value < so->range_lo && !so->by_bound)
					continue;
			}
			if (r.internal < so->last_internal &&
				lancedb_iterative_scan == IVF_ITERATIVE_STRICT)
				continue;
			scan->xs_heaptid = r.tid;
			scan->xs_recheck = so->by_bound && so->has_range;
			scan->xs_orderbyvals[0] = Float8GetDatum(r.value);
			scan->xs_orderbynulls[0] = false;
			scan->xs_recheckorderby = so->by_bound;
			so->last_internal = Max(so->last_internal, r.internal);
			so->emitted++;
			return true;
		}
		if (so->exhausted && !so->swept && !so->has_range &&
			lancedb_iterative_scan != IVF_ITERATIVE_OFF)
		{
			HnswSweepBatch(scan, so);
			continue;
		}
		if (!HnswCanWiden(so))
			return false;
		so->ef = (int) Min((int64) so->ef * 2, (int64) lancedb_max_scan_tuples);
		if (HnswRunBatch(scan, so, so->ef) < so->ef)
			so->exhausted = true;	/* the graph has no more to give */
	}
}

/* Range only: widen until the search reaches past the radius, then emit. */
static bool
HnswNextRange(IndexScanDesc scan, HnswScanOpaque so)
{
	if (so->pos == 0 && so->nbatch == 0 && !so->exhausted)
	{
		const HnswIndexInfo *info = so->info;
		HnswCandidate *out;
		int			ef = lancedb_ef_search;
		int			n;
		int			top;
		int			k = 0;
		double		slack = info->quant ? 1.25 : 1.0;
		double		limit = so->range_hi_internal >= 0 ?
		so->range_hi_internal * slack : so->range_hi_internal / slack;

		for (;;)
		{
			out = palloc(sizeof(HnswCandidate) * ef);
			n = HnswDiskSearchRun(so->ds, ef, 0, out, &top);
			if (n < ef || out[n - 1].dist > limit)
				break;
			pfree(out);
			ef *= 2;
		}
		if (n < ef)
		{
			/* the whole reachable graph is inside: read every element */
			HnswSweepBatch(scan, so);
			k = 0;
			for (int i = 0; i < so->nbatch; i++)
				if (so->batch[i].internal <= limit)
					so->batch[k++] = so->batch[i];
			so->nbatch = k;
			so->exhausted = true;
		}
		else
		{
			so->batch = repalloc_huge(so->batch, sizeof(HnswResult) * Max(n, 1));
			for (int i = 0; i < n; i++)
			{
				HnswResult	r;

				if (out[i].dist > limit)
					break;
				if (!HnswDiskHeapTid(so->ds, out[i].key, &r.tid))
					continue;
				r.internal = out[i].dist;
				so->batch[k++] = r;
			}
			so->nbatch = k;
			so->exhausted = true;
		}
	}
	if (so->pos >= so->nbatch)
		return false;
	scan->xs_heaptid = so->batch[so->pos++].tid;
	scan->xs_recheck = true;	/* the operator decides: [lo, hi) exactly */
	so->emitted++;
	return true;
}

/* Every element in page order (NULL query, or a zero vector under cosine). */
static bool
HnswNextAll(IndexScanDesc scan, HnswScanOpaque so)
{
	Relation	index = scan->indexRelation;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	while (so->walk_blk < nblocks)
	{
		Buffer		buf = ReadBuffer(index, so->walk_blk);
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (!PageIsNew(page) &&
			HnswPageGetOpaque(page)->page_id == HNSW_PAGE_ID &&
			HnswPageGetOpaque(page)->page_type == HNSW_PAGE_ELEMENT)
		{
			OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

			while (so->walk_off <= maxoff)
			{
				HnswElementTuple tup = HnswGetElement(index, page, so->walk_blk,
													  so->walk_off,
													  so->info->meta.data_size,
													  so->info->meta.m);

				so->walk_off++;
				/* freed elements have no row (see HnswSweepBatch) */
				if (tup->flags & (HNSW_ELEM_DELETED | HNSW_ELEM_FREE))
					continue;
				scan->xs_heaptid = tup->heaptid;
				UnlockReleaseBuffer(buf);
				scan->xs_recheck = false;
				scan->xs_recheckorderby = false;
				if (so->all_rows_nan)
				{
					scan->xs_orderbyvals[0] = Float8GetDatum(get_float8_nan());
					scan->xs_orderbynulls[0] = false;
				}
				else
				{
					scan->xs_orderbyvals[0] = (Datum) 0;
					scan->xs_orderbynulls[0] = true;
				}
				return true;
			}
		}
		UnlockReleaseBuffer(buf);
		so->walk_blk++;
		so->walk_off = FirstOffsetNumber;
	}
	return false;
}

IndexScanDesc
hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	so->longctx = CurrentMemoryContext;
	so->scanctx = AllocSetContextCreate(CurrentMemoryContext, "lance_hnsw scan",
										ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	return scan;
}


void
hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
		   int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old;
	bool		null_query = false;
	HASHCTL		hctl;

	MemoryContextReset(so->scanctx);
	if (so->started)
	{
		so->tot_visited += so->visited;
		so->tot_heap_fetches += so->heap_fetches;
		so->tot_emitted += so->emitted;
	}
	so->started = false;
	so->done = false;
	so->ordered = norderbys > 0;
	so->all_rows = false;
	so->all_rows_nan = false;
	so->has_range = false;
	so->ds = NULL;
	so->nbatch = so->pos = 0;
	so->visited = 0;
	so->exhausted = false;
	so->swept = false;
	so->last_internal = -get_float8_infinity();
	so->heap_fetches = so->emitted = 0;
	so->walk_blk = HNSW_METAPAGE_BLKNO + 1;
	so->walk_off = FirstOffsetNumber;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	old = MemoryContextSwitchTo(so->scanctx);
	so->info = HnswGetInfo(scan->indexRelation);
	so->batch = palloc(sizeof(HnswResult));
	memset(&hctl, 0, sizeof(hctl));
	hctl.keysize = sizeof(HnswKey);
	hctl.entrysize = sizeof(HnswKey);
	hctl.hcxt = so->scanctx;
	so->returned = hash_create("lance_hnsw returned", 256, &hctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	so->range_lo = -get_float8_infinity();
	so->range_hi = get_float8_infinity();
	for (int i = 0; i < scan->numberOfKeys; i++)
	{
		ScanKey		key = &scan->keyData[i];
		VectorSphere *s;

		if (key->sk_flags & SK_ISNULL)
		{
			so->done = true;
			break;
		}
		s = DatumGetVectorSphere(key->sk_argument);
		so->has_range = true;
		so->range_lo = Max(so->range_lo, s->lower);
		so->range_hi = Min(so->range_hi, s->upper);
		if (!so->ordered)
			so->query = LanceQueryDatumFromCenter(so->info->type, &s->center);
	}
	so->range_hi_internal = so->range_hi < 0 && so->info->metric->qmetric != QMETRIC_IP ?
		-1 : HnswInternalFromSql(so->info->metric, so->range_hi);
	if (so->ordered)
	{
		if (scan->orderByData[0].sk_flags & SK_ISNULL)
			null_query = true;
		else
			so->query = PointerGetDatum(PG_DETOAST_DATUM_COPY(scan->orderByData[0].sk_argument));
	}
	if (null_query)
		so->all_rows = true;
	MemoryContextSwitchTo(old);
}

static void
HnswScanSetup(IndexScanDesc scan, HnswScanOpaque so)
{
	bool		indexable;
	float	   *q;

	if (so->all_rows)
		return;
	q = HnswValueToFloats(so->info, so->query, &indexable);
	if (!indexable)
	{
		/* cosine to a zero vector is NaN for every row: order is moot */
		so->all_rows = true;
		so->all_rows_nan = true;
		if (so->has_range)
			so->done = true;
		return;
	}
	so->q = q;
	so->by_bound = so->info->quant != NULL &&
		!quantizer_rank_by_estimate(so->info->quant);
	so->ds = HnswDiskSearchBegin(scan->indexRelation, so->info, q);
	so->ef = lancedb_ef_search;
	if (so->ordered)
		HnswRunBatch(scan, so, so->ef);
}

bool
hnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old;
	bool		found;

	if (!ScanDirectionIsForward(dir))
		elog(ERROR, "lance_hnsw scans only forward");
	if (so->done)
		return false;
	old = MemoryContextSwitchTo(so->scanctx);
	if (!so->started)
	{
		so->started = true;
		so->loops++;
		HnswScanSetup(scan, so);
	}
	if (so->done)
		found = false;
	else if (so->all_rows)
		found = so->ordered ? HnswNextAll(scan, so) : false;
	else if (so->ordered)
		found = HnswNextOrdered(scan, so);
	else
		found = HnswNextRange(scan, so);
	MemoryContextSwitchTo(old);
	if (!found)
		so->done = true;
	return found;
}

void
hnswendscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (so->started)
	{
		ereport(DEBUG2,
				(errmsg("lance_hnsw scan of \"%s\": final ef %d, " INT64_FORMAT " elements visited, " INT64_FORMAT " heap fetches, " INT64_FORMAT " rows returned",
						RelationGetRelationName(scan->indexRelation),
						so->ef, so->visited, so->heap_fetches, so->emitted)));
		so->tot_visited += so->visited;
		so->tot_heap_fetches += so->heap_fetches;
		so->tot_emitted += so->emitted;
	}
	if (so->loops > 0)
	{
		LanceScanCounter c[] = {
			{"nodes visited", so->tot_visited},
			{"heap fetches", so->tot_heap_fetches},
			{"rows returned", so->tot_emitted},
		};

		lance_scan_report(scan->indexRelation, "lance_hnsw", so->loops, c, lengthof(c));
	}
	lance_heapdist_end(so->hd);
	MemoryContextDelete(so->scanctx);
	pfree(so);
	scan->opaque = NULL;
}
