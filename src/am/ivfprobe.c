/*
 * ivfprobe.c
 *	  The order in which a lance_ivf scan probes its lists.
 *
 * A scan probes the nprobes nearest lists and, only when an iterative or
 * range scan asks for more, the others by increasing centroid distance.
 * So the nearest few are chosen and sorted up front, from the centroids'
 * int8 copies (index/coarse.h) plus exact distances for the centroids
 * those cannot rule out, and the rest are measured and heap-ordered the
 * first time a scan goes beyond them.  A heap of every list, built per
 * query, cost as much as the distances themselves.
 */
#include "postgres.h"

#include "am/ivf.h"
#include "am/ivfscan.h"
#include "index/coarse.h"
#include "miscadmin.h"

static int
IvfProbeCmp(const void *a, const void *b)
{
	const IvfProbe *x = (const IvfProbe *) a;
	const IvfProbe *y = (const IvfProbe *) b;

	if (x->dist < y->dist)
		return -1;
	if (x->dist > y->dist)
		return 1;
	return x->list < y->list ? -1 : (x->list > y->list ? 1 : 0);
}

static inline float
IvfProbeExact(IvfScanOpaque so, uint32 list)
{
	const IvfIndexCache *c = so->cache;

	return IvfCentroidDistance(c->metric, so->q,
							   c->centroids + (Size) list * c->meta.dim,
							   c->meta.dim);
}

/*
 * Set up the probe order of so->q: the `want` nearest non-empty lists
 * first, sorted.
 */
void
IvfProbesInit(IvfScanOpaque so, int want)
{
	const IvfIndexCache *c = so->cache;
	int			nlists = c->meta.nlists;
	IvfProbe   *p = palloc(sizeof(IvfProbe) * Max(nlists, 1));
	int			nvalid = 0;
	int			nexact = 0;

	so->probes = p;
	so->probe_pos = 0;
	so->probes_heap = false;

	for (int l = 0; l < nlists; l++)
		if (so->dir[l].head != InvalidBlockNumber)
			nvalid++;
	want = Min(Max(want, 0), nvalid);

	if (c->coarse != NULL && want > 0 && want < nvalid / 2)
	{
		bool	   *valid = palloc(sizeof(bool) * nlists);
		float	   *work = palloc(sizeof(float) * (2 * nlists + c->meta.dim));
		int		   *best = palloc(sizeof(int) * want);
		int		   *idx = palloc(sizeof(int) * nlists);
		bool	   *taken = valid;	/* reused: cleared as candidates go */
		int			ncand;
		int			m = 0;

		for (int l = 0; l < nlists; l++)
			valid[l] = so->dir[l].head != InvalidBlockNumber;
		ncand = coarse_choose(c->coarse, so->q, c->metric->qmetric == QMETRIC_IP,
							  valid, want, work, best, idx);
		/* candidates first, measured exactly; then the other lists */
		for (int i = 0; i < ncand; i++)
		{
			p[m].list = idx[i];
			p[m].dist = IvfProbeExact(so, idx[i]);
			taken[idx[i]] = false;
			m++;
		}
		nexact = m;
		for (int l = 0; l < nlists; l++)
			if (taken[l])
			{
				p[m].list = l;
				p[m].dist = 0;	/* measured when needed */
				m++;
			}
		Assert(m == nvalid);
		pfree(valid);
		pfree(work);
		pfree(best);
		pfree(idx);
	}
	else
	{
		nexact = 0;
		for (int l = 0; l < nlists; l++)
		{
			if (so->dir[l].head == InvalidBlockNumber)
				continue;
			p[nexact].list = l;
			p[nexact].dist = IvfProbeExact(so, l);
			nexact++;
		}
	}
	/*
	 * The measured ones in order, the nearest `want` first: few beyond
	 * `want` with the int8 copies; without them (few lists, or most of them
	 * wanted) sorting them all costs little next to measuring them.
	 */
	qsort(p, nexact, sizeof(IvfProbe), IvfProbeCmp);
	so->nfirst = want;
	so->nprobes_left = nvalid;
}

/* The caller filled so->probes as a min-heap (every list measured). */
void
IvfProbesSetHeap(IvfScanOpaque so)
{
	so->probes_heap = true;
	so->probe_pos = so->nfirst = 0;
}

/* Measure the lists beyond the first ones and heap-order them. */
static void
IvfProbesMaterialize(IvfScanOpaque so)
{
	int			n = so->nprobes_left;
	IvfProbe   *p = so->probes;

	memmove(p, p + so->probe_pos, sizeof(IvfProbe) * n);
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		p[i].dist = IvfProbeExact(so, p[i].list);
	}
	HEAP_HEAPIFY(p, n, PROBE_LESS);
	so->probes_heap = true;
	so->probe_pos = so->nfirst = 0;
}

/* The next list to probe, or NULL when every list was probed. */
const IvfProbe *
IvfProbesPeek(IvfScanOpaque so)
{
	if (so->nprobes_left == 0)
		return NULL;
	if (!so->probes_heap)
	{
		if (so->probe_pos < so->nfirst)
			return &so->probes[so->probe_pos];
		IvfProbesMaterialize(so);
	}
	return &so->probes[0];
}

uint32
IvfProbesPop(IvfScanOpaque so)
{
	uint32		list = IvfProbesPeek(so)->list;

	if (so->probes_heap)
		HEAP_POP(so->probes, so->nprobes_left, PROBE_LESS);
	else
	{
		so->probe_pos++;
		so->nprobes_left--;
	}
	return list;
}
