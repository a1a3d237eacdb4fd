/*
 * ivfscan.h
 *	  lance_ivf scan state, shared by the single-vector scan (ivfscan.c) and
 *	  the multivector scan (ivfmulti.c).  Private to the AM.
 */
#ifndef LANCEDB_IVFSCAN_H
#define LANCEDB_IVFSCAN_H

#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "am/ivf.h"
#include "am/toastfetch.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/hsearch.h"

typedef struct IvfCandidate
{
	float		lower;			/* ranking key: lower bound (or estimate) */
	ItemPointerData tid;
} IvfCandidate;

typedef struct IvfResult
{
	double		internal;		/* exact, internal space */
	double		value;			/* exact SQL distance */
	ItemPointerData tid;
	Oid			toastrelid;		/* the row's out-of-line vector, for */
	Oid			valueid;		/* vector/distmemo.h (Invalid: in line) */
} IvfResult;

/* A list page whose entries with key above threshold were left out */
typedef struct IvfDeferred
{
	float		min_key;		/* smallest key of those entries */
	float		threshold;		/* entries with key <= threshold went in */
	uint32		list;
	BlockNumber blkno;
} IvfDeferred;

typedef struct IvfProbe
{
	float		dist;
	uint32		list;
} IvfProbe;

typedef struct IvfScanOpaqueData
{
	IvfIndexCache *cache;
	MemoryContext scanctx;		/* reset at every rescan */
	MemoryContext longctx;		/* lives as long as the scan */
	bool		started;
	bool		done;

	/* the query */
	bool		ordered;		/* ORDER BY (else range keys only) */
	bool		null_query;		/* ORDER BY NULL: return every row */
	Datum		query;			/* datum of the indexed type, for distproc */
	float	   *q;				/* floats, normalised for cosine */
	double		qnorm;
	bool		has_range;
	double		range_lo;		/* SQL units */
	double		range_hi;
	double		range_hi_internal;

	/*
	 * Lists in probe order (ivfprobe.c): first probes[probe_pos..nfirst),
	 * the nearest, sorted; the others follow unordered until they are
	 * needed, then become a min-heap by dist (probes_heap).  nprobes_left
	 * counts the lists not probed yet.
	 */
	IvfProbe   *probes;
	int			nprobes_left;
	int			probe_pos;
	int			nfirst;
	bool		probes_heap;
	int			probed;
	IvfListInfo *dir;

	/*
	 * Candidates: probes append to the unordered reserve cand[]; the best
	 * of it move to the small min-heap top[] (by lower) on demand, so a
	 * scan orders the few candidates it re-ranks, not the thousands it
	 * estimates.  Every reserve entry's lower is >= reserve_min (valid
	 * unless cand_unordered).
	 */
	IvfCandidate *cand;
	int			ncand;
	int			cand_cap;
	bool		cand_pooled;	/* cand is the backend's pooled array */
	bool		cand_unordered; /* appended since the last refill */
	float		reserve_min;
	IvfCandidate *top;
	int			ntop;
	int			top_cap;
	int			refills;

	/*
	 * Deferred entries (ordered scans, quantizer_can_select): once the
	 * reserve holds enough candidates, the estimate kernel of a page also
	 * selects, appending only the entries whose key is at most
	 * defer_threshold; the page is remembered (min-heap by the smallest
	 * key left out) and estimated again when a candidate that far is
	 * needed (IvfOrderCandidates).  Most of the thousands of entries a
	 * scan estimates are never needed: they cost neither a store nor a
	 * refill.
	 */
	bool		defer;			/* this scan may defer */
	float		defer_threshold;	/* +inf until the reserve is large */
	int			defer_next;		/* reserve size to lower it again at */
	IvfDeferred *deferred;
	int			ndeferred;
	int			deferred_cap;
	int		   *sel_slot;		/* a page's entries at most the threshold */
	float	   *sel_key;

	/* exact results (min-heap) */
	IvfResult  *res;
	int			nres;
	int			res_cap;
	int64		reranked;
	int64		emitted;
	double		last_internal;

	/*
	 * relaxed_order: rows of the first nprobes lists found closer than one
	 * already returned (a failed bound), held back until those lists are
	 * exhausted so a plain ORDER BY ... LIMIT comes back sorted, and then
	 * returned like rows of later probes (every row still comes back).
	 */
	IvfResult  *late;
	int			nlate;
	int			late_cap;
	bool		relaxed_now;	/* the first lists are exhausted */

	/* exact distances from the heap */
	struct LanceHeapDist *hd;
	Oid			dist_fn_oid;	/* the distance support function */
	bool		memo;			/* leave returned distances in distmemo */

	/*
	 * Index size in blocks as this scan last read it (0: not yet).  Reading
	 * it is an lseek, a system call: once per scan, again only when a link
	 * points past it (IvfPinListPage).
	 */
	BlockNumber nblocks;

	QuantQuery *qq;
	bool		rank_by_est;	/* quantizer's bounds too loose to rank by */
	float	   *est;
	float	   *lower;

	/* what the scan did over all rescans, for EXPLAIN ANALYZE and DEBUG2 */
	int64		loops;
	int64		lists_probed;
	int64		pages_read;
	int64		pages_revisited;	/* deferred pages estimated again */
	int64		codes_scanned;
	int64		reranked_total;
	int64		heap_fetches;
	int64		distances_reused;	/* by the executor (vector/distmemo.h) */
	int64		returned_total;

	/* multivector scans (ivfmulti.c) */
	bool		multi;
	float	   *mq;				/* query vectors, unit length */
	int			mq_n;
	int			mbatch;			/* batches gathered so far */
	bool		mexhausted;		/* the last batch took every entry found */
	ItemPointerData *mdone;		/* rows ranked by earlier batches, sorted */
	int			mdone_n;
	HTAB	   *seen;			/* ORDER BY NULL: rows already returned */
} IvfScanOpaqueData;

typedef IvfScanOpaqueData *IvfScanOpaque;

/* ---- small binary heaps ---- */

#define HEAP_PUSH(arr, n, item, less) \
	do { \
		int			_i = (n)++; \
		(arr)[_i] = (item); \
		while (_i > 0) \
		{ \
			int			_p = (_i - 1) / 2; \
			if (!less((arr)[_i], (arr)[_p])) \
				break; \
			{ \
				__typeof__((arr)[0]) _t = (arr)[_i]; \
				(arr)[_i] = (arr)[_p]; \
				(arr)[_p] = _t; \
			} \
			_i = _p; \
		} \
	} while (0)

#define HEAP_SIFT_DOWN(arr, n, start, less) \
	do { \
		int			_i = (start); \
		for (;;) \
		{ \
			int			_l = 2 * _i + 1, _r = _l + 1, _m = _i; \
			if (_l < (n) && less((arr)[_l], (arr)[_m])) _m = _l; \
			if (_r < (n) && less((arr)[_r], (arr)[_m])) _m = _r; \
			if (_m == _i) \
				break; \
			{ \
				__typeof__((arr)[0]) _t = (arr)[_i]; \
				(arr)[_i] = (arr)[_m]; \
				(arr)[_m] = _t; \
			} \
			_i = _m; \
		} \
	} while (0)

#define HEAP_POP(arr, n, less) \
	do { \
		(arr)[0] = (arr)[--(n)]; \
		HEAP_SIFT_DOWN(arr, n, 0, less); \
	} while (0)

#define CAND_LESS(a, b)		((a).lower < (b).lower)

/* candidates moved to the heap by the first refill (doubling after) */
#define IVF_TOP_BATCH			128

/* Floyd's bottom-up heap construction: O(n), against O(n log n) pushes */
#define HEAP_HEAPIFY(arr, n, less) \
	do { \
		for (int _s = (n) / 2 - 1; _s >= 0; _s--) \
			HEAP_SIFT_DOWN(arr, n, _s, less); \
	} while (0)
#define RES_LESS(a, b)		((a).internal < (b).internal)
#define PROBE_LESS(a, b)	((a).dist < (b).dist)
#define DEFERRED_LESS(a, b)	((a).min_key < (b).min_key)

/*
 * Deferring starts when the reserve holds 2 x IVF_DEFER_RANK candidates
 * (times refine_factor), with a threshold at about the IVF_DEFER_RANK-th
 * smallest key, lowered each time the reserve doubles: a LIMIT 10 query
 * re-ranks about 75, so deferred pages are rarely estimated again.
 */
#define IVF_DEFER_RANK			128
/* keys sampled for the threshold (a rough one is as correct) */
#define IVF_DEFER_SAMPLE		128
/*
 * Deferring has a cost per query (choosing thresholds) and saves per entry
 * left out: scans expecting fewer than this many x IVF_DEFER_RANK
 * candidates from their first probes do not defer.
 */
#define IVF_DEFER_MIN_FACTOR	16

/* ivfprobe.c */
extern void IvfProbesInit(IvfScanOpaque so, int want);
extern void IvfProbesSetHeap(IvfScanOpaque so);
extern const IvfProbe *IvfProbesPeek(IvfScanOpaque so);
extern uint32 IvfProbesPop(IvfScanOpaque so);

/* ivfscan.c */
extern IvfCandidate *IvfCandAlloc(IvfScanOpaque so, int cap);
extern void IvfScanInitFetch(IndexScanDesc scan, IvfScanOpaque so);
extern bool IvfExactDistance(IndexScanDesc scan, IvfScanOpaque so,
							 ItemPointer tid, double *value);
extern void IvfScanList(IndexScanDesc scan, IvfScanOpaque so, uint32 list,
						BlockNumber ahead_blk);
extern void IvfPushResult(IvfScanOpaque so, ItemPointer tid, double value);
extern void IvfPushResultToast(IvfScanOpaque so, ItemPointer tid, double value,
							   Oid toastrelid, Oid valueid);
extern float IvfFloatSelect(float *x, int n, int k);
extern bool IvfReturn(IndexScanDesc scan, IvfScanOpaque so, bool ordered);

/* ivfmulti.c */
extern void IvfMultiQuery(IndexScanDesc scan, IvfScanOpaque so, ScanKey orderby);
extern void IvfMultiSetup(IndexScanDesc scan, IvfScanOpaque so);
extern bool IvfMultiNext(IndexScanDesc scan, IvfScanOpaque so);

#endif							/* LANCEDB_IVFSCAN_H */
