/*
 * ivfscan.c
 *	  lance_ivf scans.  ORDER BY: probe the nprobes nearest lists, estimate
 *	  every entry's distance and a lower bound from its code, then re-rank
 *	  with exact distances read from the heap, emitting a row once no
 *	  unranked candidate can be closer (bounds) and refine_factor x k
 *	  candidates have been ranked.  With iterative_scan, more lists are
 *	  probed when the executor keeps asking (filters rejected rows).
 *	  Range (sphere) keys probe every list that can hold a match.
 *
 * Distances are compared in the quantizers' space ("internal": squared L2,
 * 2 x cosine distance on unit vectors, -dot); rows are returned with the
 * exact SQL distance and no recheck, in non-decreasing order.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/relscan.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "am/ivf.h"
#include "am/heapdist.h"
#include "am/ivfscan.h"
#include "am/scanreport.h"
#include "am/toastfetch.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "vector/halfvec.h"
#include "vector/distmemo.h"
#include "vector/sphere.h"

/* ---- the candidate reserve, pooled across scans ---- */

/*
 * A scan of a large index fills hundreds of kB of candidates; allocating
 * and freeing that per query made malloc hand it back to the kernel and
 * fault it in again every time.  One array per backend is lent to one
 * scan at a time (nested scans allocate their own); transaction end takes
 * it back from scans that ended by an error.
 */
static IvfCandidate *cand_pool = NULL;
static int	cand_pool_cap = 0;
static bool cand_pool_busy = false;
static bool cand_pool_callback = false;

/* pools above this are freed when returned, not kept */
#define IVF_POOL_KEEP_BYTES		(32 * 1024 * 1024)

static void
IvfPoolXactCallback(XactEvent event, void *arg)
{
	cand_pool_busy = false;
}

IvfCandidate *
IvfCandAlloc(IvfScanOpaque so, int cap)
{
	if (cand_pool_busy)
	{
		so->cand_pooled = false;
		return palloc_extended(sizeof(IvfCandidate) * cap, MCXT_ALLOC_HUGE);
	}
	if (!cand_pool_callback)
	{
		RegisterXactCallback(IvfPoolXactCallback, NULL);
		cand_pool_callback = true;
	}
	if (cand_pool_cap < cap)
	{
		if (cand_pool)
			pfree(cand_pool);
		cand_pool = NULL;
		cand_pool_cap = 0;
		cand_pool = MemoryContextAllocHuge(TopMemoryContext, sizeof(IvfCandidate) * cap);
		cand_pool_cap = cap;
	}
	cand_pool_busy = true;
	so->cand_pooled = true;
	return cand_pool;
}

static void
IvfCandGrow(IvfScanOpaque so)
{
	int			cap = so->cand_cap * 2;

	so->cand = repalloc_huge(so->cand, sizeof(IvfCandidate) * cap);
	so->cand_cap = cap;
	if (so->cand_pooled)
	{
		cand_pool = so->cand;
		cand_pool_cap = cap;
	}
}

static void
IvfCandRelease(IvfScanOpaque so)
{
	if (!so->cand_pooled)
		return;
	so->cand_pooled = false;
	so->cand = NULL;
	cand_pool_busy = false;
	if ((Size) cand_pool_cap * sizeof(IvfCandidate) > IVF_POOL_KEEP_BYTES)
	{
		pfree(cand_pool);
		cand_pool = NULL;
		cand_pool_cap = 0;
	}
}

/* ---- metric conversions ---- */

/* The exact SQL distance mapped into the internal space (monotonic). */
static double
IvfInternalFromSql(const LanceMetricSupport *metric, double v)
{
	if (isnan(v))
		return get_float8_infinity();	/* zero vectors under cosine: last */
	if (metric->normalize)
		return 2 * v;
	if (metric->qmetric == QMETRIC_IP || metric->hamming)
		return v;
	return v * v;
}

static double
IvfRangeHiInternal(const LanceMetricSupport *metric, double hi)
{
	if (isinf(hi))
		return hi;
	if (metric->normalize)
		return 2 * hi;
	if (metric->qmetric == QMETRIC_IP || metric->hamming)
		return hi;
	return hi < 0 ? -1 : hi * hi;
}

/* Lower bound of the internal distance of anything in a list. */
static double
IvfListLowerBound(IvfScanOpaque so, uint32 list)
{
	const IvfIndexCache *c = so->cache;
	const float *cen = c->centroids + (Size) list * c->meta.dim;
	double		r = so->dir[list].radius;

	if (c->metric->qmetric == QMETRIC_IP)
		return -(double) lance_kernels->dot_f32(so->q, cen, c->meta.dim) - so->qnorm * r;
	else
	{
		double		d = sqrt((double) lance_kernels->l2sq_f32(so->q, cen, c->meta.dim)) - r;

		return d > 0 ? d * d : 0;
	}
}

/* ---- heap access for exact distances ---- */

void
IvfScanInitFetch(IndexScanDesc scan, IvfScanOpaque so)
{
	MemoryContext old;

	if (so->hd != NULL)
		return;
	old = MemoryContextSwitchTo(so->longctx);
	so->hd = lance_heapdist_begin(scan->indexRelation, scan->heapRelation);
	MemoryContextSwitchTo(old);
}

/*
 * The exact SQL distance of a heap row visible to the scan's snapshot;
 * false if no visible version exists (dead or not yet committed rows).
 */
bool
IvfExactDistance(IndexScanDesc scan, IvfScanOpaque so, ItemPointer tid,
				 double *value)
{
	so->heap_fetches++;
	return lance_heapdist_get(so->hd, scan->xs_snapshot, tid, so->query, value);
}

/* ---- probing ---- */

/*
 * Pin list page blkno, checking the link first: a cycle or a bad link in
 * a corrupt index must not hang or crash.
 */
static Buffer
IvfPinListPage(Relation index, IvfScanOpaque so, BlockNumber blkno,
			   BlockNumber *nblocks, int64 *guard)
{
	/*
	 * Concurrent inserts may have extended the chain past the size we read
	 * at the start: look again before calling a link broken.
	 */
	if (blkno >= *nblocks || *guard + 1 > (int64) *nblocks)
		*nblocks = RelationGetNumberOfBlocks(index);
	if (blkno >= *nblocks || ++(*guard) > (int64) *nblocks)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a broken list chain at block %u",
						RelationGetRelationName(index), blkno)));
	return IvfReadListBuffer(index, so->cache, blkno);
}

/*
 * List pages are usually in shared buffers but not in this core's caches,
 * and waiting for their lines was half of the estimate kernel's time.  So
 * while one page is estimated, the kernel also prefetches the next page's
 * entries (aux, codes, TIDs), spread over its blocks
 * (quantizer_estimate_area_ahead): the loads overlap the arithmetic, and
 * the few prefetches per block do not fill the core's miss queue, as
 * asking for the whole page at once did.  The header and the special
 * space, read first when the page's turn comes, are asked for at once.
 * Only hints: nothing is read from the page here.
 */
static inline void
IvfPrefetchHeader(const char *page)
{
	__builtin_prefetch(page);
	__builtin_prefetch(page + BLCKSZ - 64);
}

/*
 * The page an unpinned block was last found in (IvfReadListBuffer's
 * hint), for prefetching only: it may hold another block by now.
 */
static const char *
IvfRecentPage(Relation index, const IvfIndexCache *c, BlockNumber blkno)
{
	if (blkno == InvalidBlockNumber || RelationUsesLocalBuffers(index) ||
		blkno >= c->nrecent || !BufferIsValid(c->recent[blkno]) ||
		BufferIsLocal(c->recent[blkno]))
		return NULL;
	return (const char *) BufferGetBlock(c->recent[blkno]);
}

/*
 * Append a page's n entries (keys from so->est and so->lower) to the
 * reserve, unordered (see IvfRefill).  Room for all n is made first and
 * the loop works on locals: stores into the reserve could otherwise alias
 * the scan state and reload it on every entry (the loop runs once per
 * code scanned).
 */
static void
IvfAppendCandidates(IvfScanOpaque so, const ItemPointerData *tids, int n)
{
	const float *est = so->est;
	const float *lower = so->lower;
	IvfCandidate *out;
	int			m = 0;

	while (so->cand_cap - so->ncand < n)
		IvfCandGrow(so);
	out = so->cand + so->ncand;
	if (so->has_range)
	{
		double		hi = so->range_hi_internal;
		bool		by_est = so->rank_by_est;

		/* prune with the sound bound, rank by the chosen key */
		for (int i = 0; i < n; i++)
		{
			if (lower[i] >= hi)
				continue;
			out[m].lower = by_est ? est[i] : Min(lower[i], est[i]);
			out[m].tid = tids[i];
			m++;
		}
	}
	else if (so->rank_by_est)
	{
		for (int i = 0; i < n; i++)
		{
			out[i].lower = est[i];
			out[i].tid = tids[i];
		}
		m = n;
	}
	else
	{
		for (int i = 0; i < n; i++)
		{
			out[i].lower = Min(lower[i], est[i]);
			out[i].tid = tids[i];
		}
		m = n;
	}
	so->ncand += m;
	if (m > 0)
		so->cand_unordered = true;
}

/*
 * Append the entries a fused estimate-and-select kept (so->sel_slot,
 * so->sel_key: key <= so->defer_threshold) and, if it left some out,
 * remember the page with the smallest key it left out (IvfUndefer).
 */
static void
IvfAppendSelected(IvfScanOpaque so, const ItemPointerData *tids, int n,
				  int m, float min_out, uint32 list, BlockNumber blkno)
{
	const int  *slot = so->sel_slot;
	const float *key = so->sel_key;
	IvfCandidate *out;

	while (so->cand_cap - so->ncand < m)
		IvfCandGrow(so);
	out = so->cand + so->ncand;
	for (int j = 0; j < m; j++)
	{
		out[j].lower = key[j];
		out[j].tid = tids[slot[j]];
	}
	so->ncand += m;
	if (m > 0)
		so->cand_unordered = true;
	if (m < n)
	{
		IvfDeferred d;

		/* +inf if only NaN keys were left out: found when nothing else is */
		d.min_key = min_out;
		d.threshold = so->defer_threshold;
		d.list = list;
		d.blkno = blkno;
		if (so->ndeferred == so->deferred_cap)
		{
			so->deferred_cap *= 2;
			so->deferred = repalloc_huge(so->deferred,
										 sizeof(IvfDeferred) * so->deferred_cap);
		}
		HEAP_PUSH(so->deferred, so->ndeferred, d, DEFERRED_LESS);
	}
}

/*
 * Estimate every entry of a list and append them to the reserve.
 * ahead_blk: the first page of the list probed next (InvalidBlockNumber
 * if none), prefetched while this list's last page is estimated.
 */
void
IvfScanList(IndexScanDesc scan, IvfScanOpaque so, uint32 list,
			BlockNumber ahead_blk)
{
	Relation	index = scan->indexRelation;
	const IvfIndexCache *c = so->cache;
	const IvfListLayout *lay = &c->layout;
	BlockNumber blkno = so->dir[list].head;
	int64		guard = 0;
	Buffer		buf = InvalidBuffer;

	quantizer_query_list(so->qq, (int) list);

	if (blkno != InvalidBlockNumber)
		buf = IvfPinListPage(index, so, blkno, &so->nblocks, &guard);
	while (BufferIsValid(buf))
	{
		Buffer		next = InvalidBuffer;
		BlockNumber nextblk;
		const char *ahead;
		Page		page;
		int			n;

		CHECK_FOR_INTERRUPTS();
		so->pages_read++;
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		n = IvfListPageItems(index, page, blkno, lay);

		/*
		 * Pin the next page of the chain now and let its first lines come
		 * into the cache while this one is estimated (only a pin: it is
		 * locked and checked when its turn comes, as if read then).
		 */
		nextblk = IvfPageGetOpaque(page)->next;
		if (nextblk != InvalidBlockNumber)
		{
			next = IvfPinListPage(index, so, nextblk, &so->nblocks, &guard);
			ahead = (const char *) BufferGetPage(next);
		}
		else
			ahead = IvfRecentPage(index, c, ahead_blk);
		if (ahead)
			IvfPrefetchHeader(ahead);

		if (n > 0)
		{
			const ItemPointerData *tids =
			(const ItemPointerData *) ((char *) page + lay->tid_off);
			const uint8 *codes = (const uint8 *) page + lay->code_off;
			const float *aux = (const float *) ((char *) page + lay->aux_off);

			if (so->defer && so->defer_threshold < get_float4_infinity())
			{
				/* the kernel appends only what may matter (see ivfscan.h) */
				float		min_out;
				int			m;

				m = quantizer_estimate_area_select(so->qq, codes, aux, n,
												   so->rank_by_est,
												   so->defer_threshold,
												   so->sel_slot, so->sel_key,
												   &min_out,
												   ahead ? ahead + lay->aux_off : NULL,
												   ahead ? lay->end_off - lay->aux_off : 0);
				IvfAppendSelected(so, tids, n, m, min_out, list, blkno);
			}
			else
			{
				quantizer_estimate_area_ahead(so->qq, codes, aux, n,
											  so->est, so->lower,
											  ahead ? ahead + lay->aux_off : NULL,
											  ahead ? lay->end_off - lay->aux_off : 0);
				IvfAppendCandidates(so, tids, n);
			}
			so->codes_scanned += n;
		}
		UnlockReleaseBuffer(buf);
		buf = next;
		blkno = nextblk;
	}
}

/*
 * Lower the deferring threshold to about the rank-th smallest key of the
 * reserve, from an evenly spaced sample as IvfRefill does, once the
 * reserve holds twice rank and again whenever it has doubled since.  Any
 * threshold is correct (each deferred page keeps its own); a close one
 * leaves out the most.
 */
static void
IvfDeferThreshold(IvfScanOpaque so)
{
	int64		rank = (int64) IVF_DEFER_RANK * Max(1, lancedb_refine_factor);
	float		sample[IVF_DEFER_SAMPLE];
	int			ns;
	float		t;

	if (so->ncand < so->defer_next)
		return;
	ns = Min(IVF_DEFER_SAMPLE, so->ncand);
	for (int i = 0; i < ns; i++)
		sample[i] = so->cand[(int64) i * so->ncand / ns].lower;
	t = IvfFloatSelect(sample, ns, (int) (rank * ns / so->ncand));
	/* a NaN must not become the threshold (nothing is <= NaN) */
	if (t < so->defer_threshold)
		so->defer_threshold = t;
	so->defer_next = (int) Min((int64) so->ncand * 2, (int64) INT_MAX);
}

/*
 * Estimate the deferred page with the smallest key left out again and
 * append those entries (key above the page's threshold).  The same query
 * state gives the first visit's keys bit for bit.  Sound under concurrent
 * changes: VACUUM moves entries only within a page (found again by key)
 * and removes only rows dead to every snapshot; rebalancing writes new
 * pages and does not reuse the ones a running scan can see (see
 * ivfrebalance.c); entries inserted since are invisible to the scan.
 */
static void
IvfUndefer(IndexScanDesc scan, IvfScanOpaque so)
{
	Relation	index = scan->indexRelation;
	const IvfListLayout *lay = &so->cache->layout;
	IvfDeferred d = so->deferred[0];
	int64		guard = 0;
	Buffer		buf;
	Page		page;
	int			n;

	HEAP_POP(so->deferred, so->ndeferred, DEFERRED_LESS);
	quantizer_query_list(so->qq, (int) d.list);
	buf = IvfPinListPage(index, so, d.blkno, &so->nblocks, &guard);
	so->pages_read++;
	so->pages_revisited++;
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	n = IvfListPageItems(index, page, d.blkno, lay);
	if (n > 0)
	{
		const ItemPointerData *tids =
		(const ItemPointerData *) ((char *) page + lay->tid_off);
		const float *est = so->est;
		const float *lower = so->lower;
		bool		by_est = so->rank_by_est;
		float		threshold = d.threshold;
		IvfCandidate *out;
		int			m = 0;

		quantizer_estimate_area(so->qq, (const uint8 *) page + lay->code_off,
								(const float *) ((char *) page + lay->aux_off),
								n, so->est, so->lower);
		while (so->cand_cap - so->ncand < n)
			IvfCandGrow(so);
		out = so->cand + so->ncand;
		for (int i = 0; i < n; i++)
		{
			float		key = by_est ? est[i] : Min(lower[i], est[i]);

			/* exactly the entries the first visit left out (and NaN) */
			if (!(key <= threshold))
			{
				out[m].lower = key;
				out[m].tid = tids[i];
				m++;
			}
		}
		so->ncand += m;
		if (m > 0)
			so->cand_unordered = true;
	}
	UnlockReleaseBuffer(buf);
}

/* Probe up to n more lists; returns how many were probed. */
static int
IvfProbeMore(IndexScanDesc scan, IvfScanOpaque so, int n)
{
	int			done = 0;

	while (done < n && so->nprobes_left > 0)
	{
		uint32		list = IvfProbesPop(so);

		/* range scans skip lists that cannot hold a match */
		if (so->has_range && IvfListLowerBound(so, list) >= so->range_hi_internal)
			continue;
		IvfScanList(scan, so, list,
					done + 1 < n && so->nprobes_left > 0 ?
					so->dir[IvfProbesPeek(so)->list].head : InvalidBlockNumber);
		if (so->defer)
			IvfDeferThreshold(so);
		so->probed++;
		so->lists_probed++;
		done++;
	}
	return done;
}

/*
 * Entries in the lists the first probes will visit (the nprobes nearest),
 * so the reserve is allocated once at its final size.
 */
static int
IvfExpectedCandidates(IvfScanOpaque so)
{
	int64		n = 0;
	int			take = so->ordered ? Min(lancedb_nprobes, so->nprobes_left) : so->nprobes_left;
	/* the first lists are in probe order; beyond them, count them all */
	int			upto = take <= so->nfirst ? take : so->nprobes_left;

	for (int i = 0; i < upto; i++)
		n += so->dir[so->probes[i].list].count;
	return (int) Min(Max(n + 64, 1024), (int64) (MaxAllocHugeSize / sizeof(IvfCandidate) / 2));
}

static void
IvfScanSetup(IndexScanDesc scan, IvfScanOpaque so)
{
	const IvfIndexCache *c = so->cache;
	int			nlists = c->meta.nlists;
	int			dim;
	double		s = 0;

	so->q = LanceDatumToFloats(so->query, c->type, &dim);
	if (dim != c->meta.dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", c->meta.dim, dim)));
	if (c->metric->normalize)
		LanceNormalize(so->q, dim);
	for (int i = 0; i < dim; i++)
		s += (double) so->q[i] * so->q[i];
	so->qnorm = sqrt(s);

	so->dir = IvfReadDirectoryN(scan->indexRelation, &c->meta, &so->nblocks);
	IvfProbesInit(so, so->ordered ? lancedb_nprobes : nlists);

	so->qq = quantizer_query_new(c->quant);
	quantizer_query_begin(so->qq, so->q);
	so->rank_by_est = quantizer_rank_by_estimate(c->quant);
	so->est = palloc(sizeof(float) * c->layout.capacity);
	so->lower = palloc(sizeof(float) * c->layout.capacity);
	so->cand_cap = IvfExpectedCandidates(so);
	so->cand = IvfCandAlloc(so, so->cand_cap);
	so->top_cap = 2 * IVF_TOP_BATCH;
	so->top = palloc(sizeof(IvfCandidate) * so->top_cap);
	so->res_cap = 64;
	so->res = palloc(sizeof(IvfResult) * so->res_cap);
	so->last_internal = -get_float8_infinity();
	/* range scans prune by their own bound and want every candidate */
	so->defer = so->ordered && !so->has_range && lancedb_ivf_defer_candidates &&
		quantizer_can_select(c->quant) &&
		so->cand_cap >= (int64) IVF_DEFER_MIN_FACTOR * IVF_DEFER_RANK * Max(1, lancedb_refine_factor);
	so->defer_threshold = get_float4_infinity();
	so->defer_next = (int) Min((int64) 2 * IVF_DEFER_RANK * Max(1, lancedb_refine_factor),
							   (int64) INT_MAX);
	if (so->defer)
	{
		so->sel_slot = palloc(sizeof(int) * c->layout.capacity);
		so->sel_key = palloc(sizeof(float) * c->layout.capacity);
		so->deferred_cap = 64;
		so->deferred = palloc(sizeof(IvfDeferred) * so->deferred_cap);
	}
	IvfScanInitFetch(scan, so);
	so->memo = so->ordered && lancedb_ivf_reuse_distances;
	if (so->memo)
		so->dist_fn_oid = index_getprocinfo(scan->indexRelation, 1, IVF_DISTANCE_PROC)->fn_oid;

	if (so->ordered)
		IvfProbeMore(scan, so, lancedb_nprobes);
	else
		IvfProbeMore(scan, so, nlists);	/* range: every list that may match */
}

void
IvfPushResult(IvfScanOpaque so, ItemPointer tid, double value)
{
	IvfPushResultToast(so, tid, value, InvalidOid, InvalidOid);
}

void
IvfPushResultToast(IvfScanOpaque so, ItemPointer tid, double value,
				   Oid toastrelid, Oid valueid)
{
	IvfResult	r;

	r.toastrelid = toastrelid;
	r.valueid = valueid;
	r.value = value;
	r.internal = IvfInternalFromSql(so->cache->metric, value);
	r.tid = *tid;
	if (so->nres == so->res_cap)
	{
		so->res_cap *= 2;
		so->res = repalloc(so->res, sizeof(IvfResult) * so->res_cap);
	}
	HEAP_PUSH(so->res, so->nres, r, RES_LESS);
}

static inline bool
IvfInRange(IvfScanOpaque so, double value)
{
	return !so->has_range || (value >= so->range_lo && value < so->range_hi);
}

/* The k-th smallest of x[0..n-1] (0-based; reorders x): quickselect. */
float
IvfFloatSelect(float *x, int n, int k)
{
	int			lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		float		pivot = x[lo + (hi - lo) / 2];
		int			i = lo,
					j = hi;

		while (i <= j)
		{
			while (x[i] < pivot)
				i++;
			while (x[j] > pivot)
				j--;
			if (i <= j)
			{
				float		t = x[i];

				x[i++] = x[j];
				x[j--] = t;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return x[k];
}

/*
 * Move the best of the reserve to the heap: a threshold taken from an
 * evenly spaced sample of the reserve selects about `want` entries in one
 * pass, which also compacts the rest and finds their minimum.
 */
static void
IvfRefill(IvfScanOpaque so)
{
	int			want = IVF_TOP_BATCH << Min(so->refills, 16);
	float		threshold = get_float4_infinity();
	float		rmin = get_float4_infinity();
	int			kept = 0;

	so->refills++;
	if (so->ncand > want)
	{
		float		sample[256];
		int			ns = Min(256, so->ncand);
		int			rank;

		for (int i = 0; i < ns; i++)
			sample[i] = so->cand[(int64) i * so->ncand / ns].lower;
		rank = (int) ((int64) want * ns / so->ncand);
		threshold = IvfFloatSelect(sample, ns, Min(rank, ns - 1));
	}
	{
		/*
		 * The reserve is unordered: a taken entry is replaced by the last
		 * one, so only the few taken cost a store, not every entry kept.
		 * Locals: the stores could alias the scan state otherwise.
		 */
		IvfCandidate *cand = so->cand;
		int			ncand = so->ncand;
		int			i = 0;

		while (i < ncand)
		{
			IvfCandidate c = cand[i];

			/* <= keeps ties (and a threshold equal to the minimum) moving */
			if (c.lower <= threshold)
			{
				if (so->ntop == so->top_cap)
				{
					so->top_cap *= 2;
					so->top = repalloc_huge(so->top, sizeof(IvfCandidate) * so->top_cap);
				}
				HEAP_PUSH(so->top, so->ntop, c, CAND_LESS);
				cand[i] = cand[--ncand];
			}
			else
			{
				rmin = Min(rmin, c.lower);
				i++;
			}
		}
		kept = ncand;
	}
	so->ncand = kept;
	so->reserve_min = rmin;
	so->cand_unordered = false;
}

static inline int
IvfCandidatesLeft(IvfScanOpaque so)
{
	return so->ntop + so->ncand + so->ndeferred;
}

/*
 * Make top[0] the best candidate left (refilling from the reserve when it
 * may hold a better one); false when none is left.
 */
static inline bool
IvfOrderCandidates(IndexScanDesc scan, IvfScanOpaque so)
{
	for (;;)
	{
		if (so->ncand > 0 &&
			(so->cand_unordered || so->ntop == 0 || so->reserve_min < so->top[0].lower))
			IvfRefill(so);
		/* a deferred page may hold a better candidate than top[0] */
		if (so->ndeferred == 0 ||
			(so->ntop > 0 && so->top[0].lower <= so->deferred[0].min_key))
			return so->ntop > 0;
		IvfUndefer(scan, so);
	}
}

/*
 * Candidates leave the heap top[] best first: the next is top[0], the one
 * after it among top[1..2], then among top[3..6].  Each gets its stage of
 * the row read ahead (lance_heapdist_prefetch_*), so that the cache misses
 * of the next rows overlap the re-rank of this one instead of following it.
 */
static inline void
IvfPrefetchAhead(IvfScanOpaque so)
{
	int			n = so->ntop;

	if (n > 0)
		lance_heapdist_prefetch_row(so->hd, &so->top[0].tid);
	for (int i = 1; i < Min(n, 3); i++)
		lance_heapdist_prefetch(so->hd, &so->top[i].tid);
	for (int i = 3; i < Min(n, 7); i++)
		lance_heapdist_prefetch_hint(so->hd, &so->top[i].tid);
}

/* Rank the best remaining candidate exactly. */
static void
IvfRerankOne(IndexScanDesc scan, IvfScanOpaque so)
{
	IvfCandidate cand;
	double		value;
	Oid			toastrelid,
				valueid;

	IvfOrderCandidates(scan, so);
	cand = so->top[0];
	HEAP_POP(so->top, so->ntop, CAND_LESS);
	IvfPrefetchAhead(so);
	so->reranked++;
	so->reranked_total++;
	so->heap_fetches++;
	if (lance_heapdist_get_toast(so->hd, scan->xs_snapshot, &cand.tid, so->query,
								 &value, &toastrelid, &valueid) &&
		IvfInRange(so, value))
		IvfPushResultToast(so, &cand.tid, value, toastrelid, valueid);
}

bool
IvfReturn(IndexScanDesc scan, IvfScanOpaque so, bool ordered)
{
	IvfResult	r = so->res[0];

	HEAP_POP(so->res, so->nres, RES_LESS);
	scan->xs_heaptid = r.tid;
	scan->xs_recheck = false;
	if (ordered)
	{
		scan->xs_orderbyvals[0] = Float8GetDatum(r.value);
		scan->xs_orderbynulls[0] = false;
		scan->xs_recheckorderby = false;
		so->last_internal = r.internal;
		/* the executor evaluates the ORDER BY distance again: reuse this */
		if (so->memo)
			lance_distmemo_set(so->dist_fn_oid, so->query, r.toastrelid, r.valueid,
							   r.value, &so->distances_reused);
	}
	so->emitted++;
	so->returned_total++;
	return true;
}

/* Keep a relaxed_order row that came out of order for later. */
static void
IvfHoldBack(IvfScanOpaque so, const IvfResult *r)
{
	if (so->nlate == so->late_cap)
	{
		so->late_cap = Max(16, so->late_cap * 2);
		so->late = so->late ?
			repalloc(so->late, sizeof(IvfResult) * so->late_cap) :
			palloc(sizeof(IvfResult) * so->late_cap);
	}
	so->late[so->nlate++] = *r;
}

/* May an iterative scan probe another list? */
static inline bool
IvfCanProbeMore(IvfScanOpaque so)
{
	return lancedb_iterative_scan != IVF_ITERATIVE_OFF && so->nprobes_left > 0 &&
		(lancedb_max_probes < 0 || so->probed < lancedb_max_probes);
}

/*
 * Next row of an ORDER BY scan: in non-decreasing exact distance within the
 * lists probed so far (relaxed_order may return a closer row found by a
 * later probe after farther ones; strict_order never does).
 */
static bool
IvfNextOrdered(IndexScanDesc scan, IvfScanOpaque so)
{
	for (;;)
	{
		int64		need = (int64) lancedb_refine_factor * (so->emitted + 1);

		bool		more;

		CHECK_FOR_INTERRUPTS();
		more = IvfOrderCandidates(scan, so);
		if (so->nres > 0)
		{
			bool		bounded = !more ||
			so->res[0].internal <= so->top[0].lower;

			if (bounded && (so->reranked >= need || !more))
			{
				/*
				 * strict_order: a row must not be farther than the nearest
				 * list not yet probed (by centroid), or rows found there
				 * later would be closer than rows already returned; probe
				 * that list first.  Rows that still come out closer than
				 * the last one returned are dropped, so the order holds.
				 */
				if (lancedb_iterative_scan == IVF_ITERATIVE_STRICT &&
					IvfCanProbeMore(so) &&
					so->res[0].internal > IvfProbesPeek(so)->dist)
				{
					IvfProbeMore(scan, so, 1);
					continue;
				}
				/*
				 * A row closer than one already returned: its bound failed
				 * (rq's is probabilistic, pq ranks by estimate) or a later
				 * probe found it.  strict_order and off drop it to keep the
				 * order; relaxed_order holds it back while the first lists
				 * last (see IvfScanOpaqueData.late), then returns it.
				 */
				if (so->res[0].internal < so->last_internal &&
					!so->relaxed_now)
				{
					if (lancedb_iterative_scan == IVF_ITERATIVE_RELAXED)
						IvfHoldBack(so, &so->res[0]);
					HEAP_POP(so->res, so->nres, RES_LESS);
					continue;
				}
				return IvfReturn(scan, so, true);
			}
		}
		if (more)
		{
			IvfRerankOne(scan, so);
			continue;
		}
		/* out of candidates: the held-back rows may come now */
		if (lancedb_iterative_scan == IVF_ITERATIVE_RELAXED && !so->relaxed_now)
		{
			so->relaxed_now = true;
			for (int i = 0; i < so->nlate; i++)
				IvfPushResultToast(so, &so->late[i].tid, so->late[i].value,
								   so->late[i].toastrelid, so->late[i].valueid);
			so->nlate = 0;
			if (so->nres > 0)
				continue;
		}
		/* probe more lists if allowed */
		if (IvfCanProbeMore(so))
		{
			int			batch = lancedb_nprobes;

			if (lancedb_max_probes >= 0)
				batch = Min(batch, lancedb_max_probes - so->probed);
			if (IvfProbeMore(scan, so, Max(batch, 1)) > 0)
				continue;
		}
		return false;
	}
}

/* Next row of a range-only scan (no order). */
static bool
IvfNextRange(IndexScanDesc scan, IvfScanOpaque so)
{
	while (so->nres == 0 && IvfCandidatesLeft(so) > 0)
	{
		CHECK_FOR_INTERRUPTS();
		IvfRerankOne(scan, so);
	}
	if (so->nres == 0)
		return false;
	return IvfReturn(scan, so, false);
}

/* ORDER BY a NULL query: every row, in list order, distance NULL. */
static bool
IvfNextAll(IndexScanDesc scan, IvfScanOpaque so)
{
	for (;;)
	{
		ItemPointerData tid;
		bool		found;

		while (IvfCandidatesLeft(so) == 0)
		{
			if (so->nprobes_left == 0)
				return false;
			IvfProbeMore(scan, so, 1);
		}
		IvfOrderCandidates(scan, so);
		tid = so->top[0].tid;
		HEAP_POP(so->top, so->ntop, CAND_LESS);
		if (!so->multi)
		{
			scan->xs_heaptid = tid;
			break;
		}
		/* a multivector row has an entry per element: return it once */
		if (so->seen == NULL)
		{
			HASHCTL		ctl;

			ctl.keysize = sizeof(ItemPointerData);
			ctl.entrysize = sizeof(ItemPointerData);
			ctl.hcxt = so->scanctx;
			so->seen = hash_create("lance_ivf rows returned", 1024, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		}
		hash_search(so->seen, &tid, HASH_ENTER, &found);
		if (!found)
		{
			scan->xs_heaptid = tid;
			break;
		}
	}
	scan->xs_recheck = false;
	scan->xs_orderbyvals[0] = (Datum) 0;
	scan->xs_orderbynulls[0] = true;
	scan->xs_recheckorderby = false;
	return true;
}

/* ---- AM entry points ---- */

IndexScanDesc
ivfbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	IvfScanOpaque so = palloc0(sizeof(IvfScanOpaqueData));

	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	so->longctx = CurrentMemoryContext;
	so->scanctx = AllocSetContextCreate(CurrentMemoryContext,
										"lance_ivf scan",
										ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	return scan;
}

/* The datum the distance function takes for this index's type. */

void
ivfrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
		  int norderbys)
{
	IvfScanOpaque so = (IvfScanOpaque) scan->opaque;
	MemoryContext old;

	lance_distmemo_clear();
	if (so->cache)
		IvfUnpinCache(so->cache);
	IvfCandRelease(so);
	MemoryContextReset(so->scanctx);
	so->started = false;
	so->done = false;
	so->ordered = norderbys > 0;
	so->null_query = false;
	so->multi = false;
	so->seen = NULL;
	so->has_range = false;
	so->ncand = so->nres = so->ntop = 0;
	so->cand_unordered = false;
	so->refills = 0;
	so->defer = false;
	so->deferred = NULL;
	so->ndeferred = so->deferred_cap = 0;
	so->reranked = so->emitted = 0;
	so->late = NULL;			/* in scanctx, reset above */
	so->nlate = so->late_cap = 0;
	so->relaxed_now = false;
	so->nprobes_left = so->probe_pos = so->nfirst = 0;
	so->probes_heap = false;
	so->probed = 0;
	so->nblocks = 0;
	so->qq = NULL;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	old = MemoryContextSwitchTo(so->scanctx);
	so->cache = IvfGetCache(scan->indexRelation);
	IvfPinCache(so->cache);

	so->range_lo = -get_float8_infinity();
	so->range_hi = get_float8_infinity();
	for (int i = 0; i < scan->numberOfKeys; i++)
	{
		ScanKey		key = &scan->keyData[i];
		VectorSphere *s;

		if (key->sk_flags & SK_ISNULL)
		{
			so->done = true;	/* col <<op>> NULL matches nothing */
			break;
		}
		s = DatumGetVectorSphere(key->sk_argument);
		so->has_range = true;
		so->range_lo = Max(so->range_lo, s->lower);
		so->range_hi = Min(so->range_hi, s->upper);
		if (!so->ordered)
			so->query = LanceQueryDatumFromCenter(so->cache->type, &s->center);
	}
	so->range_hi_internal = IvfRangeHiInternal(so->cache->metric, so->range_hi);

	if (so->ordered)
	{
		so->multi = so->cache->type->multi;
		if (scan->orderByData[0].sk_flags & SK_ISNULL)
			so->null_query = true;
		else if (so->multi)
			IvfMultiQuery(scan, so, &scan->orderByData[0]);
		else
			so->query = PointerGetDatum(PG_DETOAST_DATUM_COPY(scan->orderByData[0].sk_argument));
	}
	MemoryContextSwitchTo(old);
}

bool
ivfgettuple(IndexScanDesc scan, ScanDirection dir)
{
	IvfScanOpaque so = (IvfScanOpaque) scan->opaque;
	MemoryContext old;
	bool		found;

	if (!ScanDirectionIsForward(dir))
		elog(ERROR, "lance_ivf scans only forward");
	lance_distmemo_clear();		/* the executor is done with the last row */
	if (so->done)
		return false;

	old = MemoryContextSwitchTo(so->scanctx);
	if (!so->started)
	{
		so->started = true;
		so->loops++;
		if (so->null_query)
		{
			so->dir = IvfReadDirectoryN(scan->indexRelation, &so->cache->meta,
										 &so->nblocks);
			so->probes = palloc(sizeof(IvfProbe) * so->cache->meta.nlists);
			for (uint32 l = 0; l < so->cache->meta.nlists; l++)
			{
				IvfProbe	p = {(float) l, l};

				HEAP_PUSH(so->probes, so->nprobes_left, p, PROBE_LESS);
			}
			IvfProbesSetHeap(so);
			so->qq = quantizer_query_new(so->cache->quant);
			so->q = palloc0(sizeof(float) * so->cache->meta.dim);
			quantizer_query_reset(so->qq, so->q, quantizer_wants_residuals(so->cache->quant) ? so->q : NULL);
			so->est = palloc(sizeof(float) * so->cache->layout.capacity);
			so->lower = palloc(sizeof(float) * so->cache->layout.capacity);
			so->cand_cap = 1024;
			so->cand = IvfCandAlloc(so, so->cand_cap);
			so->top_cap = 2 * IVF_TOP_BATCH;
			so->top = palloc(sizeof(IvfCandidate) * so->top_cap);
		}
		else if (so->multi)
			IvfMultiSetup(scan, so);
		else
			IvfScanSetup(scan, so);
	}

	if (so->null_query)
		found = IvfNextAll(scan, so);
	else if (so->multi)
		found = IvfMultiNext(scan, so);
	else if (so->ordered)
		found = IvfNextOrdered(scan, so);
	else
		found = IvfNextRange(scan, so);
	MemoryContextSwitchTo(old);
	if (!found)
		so->done = true;
	return found;
}

void
ivfendscan(IndexScanDesc scan)
{
	IvfScanOpaque so = (IvfScanOpaque) scan->opaque;

	if (so->loops > 0)
	{
		LanceScanCounter c[] = {
			{"lists probed", so->lists_probed},
			{"pages read", so->pages_read},
			{"pages revisited", so->pages_revisited},
			{"codes scanned", so->codes_scanned},
			{"re-ranked", so->reranked_total},
			{"heap fetches", so->heap_fetches},
			{"distances reused", so->distances_reused},
			{"rows returned", so->returned_total},
		};

		lance_scan_report(scan->indexRelation, "lance_ivf", so->loops,
						  c, lengthof(c));
		ereport(DEBUG2,
				(errmsg("lance_ivf scan of \"%s\": " INT64_FORMAT " loops, " INT64_FORMAT " lists probed, " INT64_FORMAT " codes scanned, " INT64_FORMAT " re-ranked, " INT64_FORMAT " heap fetches, " INT64_FORMAT " rows returned",
						RelationGetRelationName(scan->indexRelation),
						so->loops, so->lists_probed, so->codes_scanned,
						so->reranked_total, so->heap_fetches,
						so->returned_total)));
	}

	lance_distmemo_clear();
	lance_heapdist_end(so->hd);
	if (so->cache)
		IvfUnpinCache(so->cache);
	IvfCandRelease(so);
	MemoryContextDelete(so->scanctx);
	pfree(so);
	scan->opaque = NULL;
}
