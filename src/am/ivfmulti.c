/*
 * ivfmulti.c
 *	  lance_ivf scans of multivector (vector[]) columns, LanceDB's
 *	  multivector search.
 *
 * Every element of a row's array is an index entry under the row's TID.
 * A query (vector[], or one vector) takes, for each of its vectors, the
 * lancedb.multivector_candidates rows with the nearest entries (by code)
 * in that vector's nprobes nearest lists; the union of those rows is
 * ranked by exact MaxSim distance read from the heap and comes out in that
 * order.  When the executor asks for more (a filter rejected rows), the
 * next batch takes twice as many rows per query vector and ranks the rows not
 * ranked yet: relaxed_order returns them after the earlier batch,
 * strict_order drops those closer than a row already returned, off stops
 * after the first batch.
 */
#include "postgres.h"

#include <math.h>

#include "am/ivfscan.h"
#include "catalog/pg_type.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "vector/multivector.h"

/*
 * The query of a multivector ORDER BY as a vector[] datum: a single vector
 * (operator vector[] <=> vector) becomes a one-element array, so the
 * distance support function always gets two arrays.
 */
void
IvfMultiQuery(IndexScanDesc scan, IvfScanOpaque so, ScanKey orderby)
{
	Oid			arraytype = TupleDescAttr(RelationGetDescr(scan->indexRelation), 0)->atttypid;
	Oid			elemtype = get_element_type(arraytype);
	Datum		arg = orderby->sk_argument;

	so->multi = true;
	if (OidIsValid(elemtype) && orderby->sk_subtype == elemtype)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum		elem = PointerGetDatum(PG_DETOAST_DATUM_COPY(arg));

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		so->query = PointerGetDatum(construct_array(&elem, 1, elemtype,
													typlen, typbyval, typalign));
	}
	else
		so->query = PointerGetDatum(PG_DETOAST_DATUM_COPY(arg));
}

void
IvfMultiSetup(IndexScanDesc scan, IvfScanOpaque so)
{
	const IvfIndexCache *c = so->cache;
	int			dim;

	so->mq = MultivectorUnitRows(DatumGetArrayTypeP(so->query), &so->mq_n, &dim);
	if (so->mq_n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a multivector query needs at least one vector")));
	if (dim != c->meta.dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", c->meta.dim, dim)));

	so->dir = IvfReadDirectoryN(scan->indexRelation, &c->meta, &so->nblocks);
	so->probes = palloc(sizeof(IvfProbe) * Max(c->meta.nlists, 1));
	so->qq = quantizer_query_new(c->quant);
	so->rank_by_est = quantizer_rank_by_estimate(c->quant);
	so->est = palloc(sizeof(float) * c->layout.capacity);
	so->lower = palloc(sizeof(float) * c->layout.capacity);
	so->cand_cap = 1024;
	so->cand = IvfCandAlloc(so, so->cand_cap);
	so->res_cap = 64;
	so->res = palloc(sizeof(IvfResult) * so->res_cap);
	so->mbatch = 0;
	so->mexhausted = false;
	so->mdone = NULL;
	so->mdone_n = 0;
	so->last_internal = -get_float8_infinity();
	IvfScanInitFetch(scan, so);
}

static int
tid_cmp(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) a, (ItemPointer) b);
}

static int
cand_cmp(const void *a, const void *b)
{
	float		x = ((const IvfCandidate *) a)->lower;
	float		y = ((const IvfCandidate *) b)->lower;

	return x < y ? -1 : x > y;
}

/*
 * Append to *tids the rows of the best entries of so->cand (by key) until
 * `want` distinct rows are taken (a row has an entry per token, and its
 * tokens tend to share lists).  Returns whether entries were left over.
 */
static bool
IvfMultiTakeRows(IvfScanOpaque so, int64 want, ItemPointerData **tids,
				 int64 *ntids, int64 *cap)
{
	int64		take = Min((int64) so->ncand, want * 2);
	HTAB	   *rows;
	HASHCTL		ctl;
	IvfCandidate *best;

	ctl.keysize = sizeof(ItemPointerData);
	ctl.entrysize = sizeof(ItemPointerData);
	ctl.hcxt = CurrentMemoryContext;
	for (;;)
	{
		int64		nbest = 0;
		int64		taken = 0;
		float		threshold = get_float4_infinity();

		if (take < so->ncand)
		{
			float	   *keys = palloc(sizeof(float) * so->ncand);

			for (int i = 0; i < so->ncand; i++)
				keys[i] = so->cand[i].lower;
			threshold = IvfFloatSelect(keys, so->ncand, (int) take - 1);
			pfree(keys);
		}
		best = palloc_extended(sizeof(IvfCandidate) * Max(take, 1) * 2, MCXT_ALLOC_HUGE);
		for (int i = 0; i < so->ncand && nbest < take * 2; i++)
			if (so->cand[i].lower <= threshold)
				best[nbest++] = so->cand[i];
		qsort(best, nbest, sizeof(IvfCandidate), cand_cmp);

		rows = hash_create("lance_ivf multivector rows", Max(want, 16), &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		for (int64 i = 0; i < nbest && taken < want; i++)
		{
			bool		found;

			hash_search(rows, &best[i].tid, HASH_ENTER, &found);
			if (found)
				continue;
			taken++;
			if (*ntids == *cap)
			{
				*cap = Max(*cap * 2, 256);
				*tids = *tids ? repalloc_huge(*tids, sizeof(ItemPointerData) * *cap) :
					palloc_extended(sizeof(ItemPointerData) * *cap, MCXT_ALLOC_HUGE);
			}
			(*tids)[(*ntids)++] = best[i].tid;
		}
		hash_destroy(rows);
		pfree(best);
		if (taken >= want || take >= so->ncand)
			return take < so->ncand || taken >= want;
		/* too many entries of the same rows: look further */
		(*ntids) -= taken;
		take = Min((int64) so->ncand, take * 4);
	}
}

/* Probe the nearest lists of query vector qi; candidates land in so->cand. */
static void
IvfMultiProbe(IndexScanDesc scan, IvfScanOpaque so, const float *qi)
{
	const IvfIndexCache *c = so->cache;
	int			dim = c->meta.dim;
	int			n = 0;

	for (uint32 l = 0; l < c->meta.nlists; l++)
	{
		IvfProbe	p;

		if (so->dir[l].head == InvalidBlockNumber)
			continue;
		p.list = l;
		p.dist = IvfCentroidDistance(c->metric, qi, c->centroids + (Size) l * dim, dim);
		HEAP_PUSH(so->probes, n, p, PROBE_LESS);
	}
	quantizer_query_begin(so->qq, qi);
	so->ncand = 0;
	for (int i = 0; i < lancedb_nprobes && n > 0; i++)
	{
		uint32		list = so->probes[0].list;

		HEAP_POP(so->probes, n, PROBE_LESS);
		IvfScanList(scan, so, list, InvalidBlockNumber);
		so->probed++;
		so->lists_probed++;
	}
}

/*
 * One batch: the best `per` entries of every query vector, their rows not
 * ranked before, ranked exactly into so->res.
 */
static void
IvfMultiGather(IndexScanDesc scan, IvfScanOpaque so)
{
	int			dim = so->cache->meta.dim;
	int64		per = (int64) lancedb_multivector_candidates << Min(so->mbatch, 20);
	ItemPointerData *tids = NULL;
	int64		ntids = 0;
	int64		cap = 0;
	bool		more = false;
	int64		nnew = 0;
	ItemPointerData *merged;
	int64		a,
				b,
				m;

	for (int qi = 0; qi < so->mq_n; qi++)
	{
		CHECK_FOR_INTERRUPTS();
		IvfMultiProbe(scan, so, so->mq + (Size) qi * dim);
		if (IvfMultiTakeRows(so, per, &tids, &ntids, &cap))
			more = true;
	}
	so->ncand = 0;
	so->mbatch++;
	so->mexhausted = !more;
	if (ntids == 0)
		return;

	/* distinct rows, minus those ranked by earlier batches */
	qsort(tids, ntids, sizeof(ItemPointerData), tid_cmp);
	b = 0;
	for (a = 0; a < ntids; a++)
	{
		if (a > 0 && ItemPointerEquals(&tids[a], &tids[a - 1]))
			continue;
		if (so->mdone_n > 0 &&
			bsearch(&tids[a], so->mdone, so->mdone_n, sizeof(ItemPointerData), tid_cmp))
			continue;
		tids[b++] = tids[a];
	}
	nnew = b;

	for (int64 i = 0; i < nnew; i++)
	{
		double		value;

		CHECK_FOR_INTERRUPTS();
		so->reranked++;
		so->reranked_total++;
		if (IvfExactDistance(scan, so, &tids[i], &value) && !isnan(value))
			IvfPushResult(so, &tids[i], value);
	}

	/* remember them: merge the two sorted lists */
	merged = palloc_extended(sizeof(ItemPointerData) * (so->mdone_n + nnew + 1), MCXT_ALLOC_HUGE);
	a = b = m = 0;
	while (a < so->mdone_n || b < nnew)
	{
		if (b >= nnew || (a < so->mdone_n && tid_cmp(&so->mdone[a], &tids[b]) < 0))
			merged[m++] = so->mdone[a++];
		else
			merged[m++] = tids[b++];
	}
	if (so->mdone)
		pfree(so->mdone);
	so->mdone = merged;
	so->mdone_n = (int) m;
	pfree(tids);
}

bool
IvfMultiNext(IndexScanDesc scan, IvfScanOpaque so)
{
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (so->nres > 0)
		{
			if (lancedb_iterative_scan == IVF_ITERATIVE_STRICT &&
				so->res[0].internal < so->last_internal)
			{
				HEAP_POP(so->res, so->nres, RES_LESS);
				continue;
			}
			return IvfReturn(scan, so, true);
		}
		if (so->mbatch == 0 ||
			(!so->mexhausted && lancedb_iterative_scan != IVF_ITERATIVE_OFF))
		{
			IvfMultiGather(scan, so);
			continue;
		}
		return false;
	}
}
