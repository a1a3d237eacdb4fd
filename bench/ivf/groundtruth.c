/*
 * groundtruth.c
 *	  Exact top-k of every query by brute force, computed in every benchmark
 *	  run (cached files are only compared against, never trusted).  Worker
 *	  threads (one per CPU) take blocks of base rows in turn; for each block
 *	  one single-threaded OpenBLAS sgemm per block of queries gives the dot
 *	  products (70-120 GFLOP/s a core that way, against ~5 as one query at a
 *	  time), and a bounded heap per query and thread keeps the best
 *	  k + GT_SLACK by the float score.  The survivors of all threads are
 *	  re-ranked in double with the metric's SQL distance, so float rounding
 *	  in the sgemm cannot change the answer.
 *
 * File: 8-byte magic "IVFBGT01", int32 nq, int32 k, nq x k int32 ids,
 * nq x k float64 distances.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "ivfbench.h"

#define GT_SLACK		32		/* extra float-score candidates re-ranked in double */
#define GT_BASE_BLOCK	2048	/* base rows per sgemm (and per work item) */
#define GT_QUERY_BLOCK	256		/* queries per sgemm: 2 MB of dot products */

static const char gt_magic[8] = {'I', 'V', 'F', 'B', 'G', 'T', '0', '1'};

typedef struct ScoredId
{
	float		score;
	int32_t		id;
} ScoredId;

/* bounded max-heap: h[0] is the worst kept candidate */
static void
heap_sift_down(ScoredId *h, int n, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1,
					r = l + 1,
					m = i;
		ScoredId	t;

		if (l < n && h[l].score > h[m].score)
			m = l;
		if (r < n && h[r].score > h[m].score)
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void
heap_push(ScoredId *h, int *n, int cap, float score, int32_t id)
{
	if (*n < cap)
	{
		int			i = (*n)++;

		h[i].score = score;
		h[i].id = id;
		while (i > 0 && h[(i - 1) / 2].score < h[i].score)
		{
			ScoredId	t = h[i];

			h[i] = h[(i - 1) / 2];
			h[(i - 1) / 2] = t;
			i = (i - 1) / 2;
		}
	}
	else if (score < h[0].score)
	{
		h[0].score = score;
		h[0].id = id;
		heap_sift_down(h, *n, 0);
	}
}

typedef struct ExactHit
{
	double		dist;
	int32_t		id;
} ExactHit;

static int
exact_hit_cmp(const void *a, const void *b)
{
	const ExactHit *x = a,
			   *y = b;

	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* What the workers share; next_block hands out blocks of base rows. */
typedef struct GtShared
{
	const FloatMatrix *base;
	const FloatMatrix *queries;
	BenchMetric metric;
	int			cap;
	int64_t		nblocks;
	atomic_llong next_block;
} GtShared;

/* One worker: its own heaps (cap per query) over the blocks it took. */
typedef struct GtWorker
{
	GtShared   *sh;
	ScoredId   *heaps;
	int		   *heapn;
	float	   *dots;
	float	   *bnorm;
	pthread_t	thread;
} GtWorker;

/*
 * Offer one query's scores against bn base rows (ids from id0) to its heap.
 * Smaller score = nearer, monotone in the SQL distance for a fixed query
 * (|q| is a per-query constant, left out): L2 |x|^2 - 2 q.x, ip -q.x,
 * cosine -q.x / |x|.
 */
static void
gt_select(BenchMetric metric, const float *d, const float *bnorm, int bn,
		  int64_t id0, ScoredId *h, int *hn, int cap)
{
	float		thr = *hn < cap ? INFINITY : h[0].score;

#define GT_SELECT_LOOP(SCORE) \
	for (int j = 0; j < bn; j++) \
	{ \
		float		score = (SCORE); \
		if (score < thr) \
		{ \
			heap_push(h, hn, cap, score, (int32_t) (id0 + j)); \
			if (*hn == cap) \
				thr = h[0].score; \
		} \
	}

	switch (metric)
	{
		case METRIC_L2:
			GT_SELECT_LOOP(bnorm[j] - 2.0f * d[j]);
			break;
		case METRIC_IP:
			GT_SELECT_LOOP(-d[j]);
			break;
		default:
			GT_SELECT_LOOP(-d[j] * bnorm[j]);
			break;
	}
#undef GT_SELECT_LOOP
}

static void *
gt_worker(void *arg)
{
	GtWorker   *w = arg;
	GtShared   *sh = w->sh;
	const FloatMatrix *base = sh->base;
	const FloatMatrix *queries = sh->queries;
	int			dim = base->dim;
	int			nq = (int) queries->n;
	int64_t		blk;

	while ((blk = atomic_fetch_add(&sh->next_block, 1)) < sh->nblocks)
	{
		int64_t		b0 = blk * GT_BASE_BLOCK;
		int			bn = (int) (base->n - b0 < GT_BASE_BLOCK ? base->n - b0 : GT_BASE_BLOCK);

		/* L2 needs |x|^2; cosine needs 1/|x| */
		for (int j = 0; j < bn; j++)
		{
			const float *x = base->x + (b0 + j) * dim;
			double		s = 0;

			for (int c = 0; c < dim; c++)
				s += (double) x[c] * x[c];
			w->bnorm[j] = sh->metric == METRIC_L2 ? (float) s :
				(s > 0 ? (float) (1.0 / sqrt(s)) : 0.0f);
		}
		for (int q0 = 0; q0 < nq; q0 += GT_QUERY_BLOCK)
		{
			int			qn = nq - q0 < GT_QUERY_BLOCK ? nq - q0 : GT_QUERY_BLOCK;

			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, qn, bn, dim,
						1.0f, queries->x + (int64_t) q0 * dim, dim,
						base->x + b0 * dim, dim, 0.0f, w->dots, bn);
			for (int q = 0; q < qn; q++)
				gt_select(sh->metric, w->dots + (int64_t) q * bn, w->bnorm, bn, b0,
						  w->heaps + (int64_t) (q0 + q) * sh->cap,
						  &w->heapn[q0 + q], sh->cap);
		}
	}
	return NULL;
}

/* nthreads, or one per online CPU if <= 0 */
static int
groundtruth_threads(int nthreads)
{
	if (nthreads <= 0)
	{
		long		n = sysconf(_SC_NPROCESSORS_ONLN);

		nthreads = n > 0 ? (int) n : 1;
	}
	return nthreads > 64 ? 64 : nthreads;
}

/*
 * The exact top k of every query into gt, by nthreads worker threads (one
 * per online CPU if <= 0, at most one per block of base rows); returns the
 * number of threads used.
 */
int
groundtruth_compute(const FloatMatrix *base, const FloatMatrix *queries,
					BenchMetric metric, int k, int nthreads, GroundTruth *gt)
{
	int			dim = base->dim;
	int			nq = (int) queries->n;
	int			cap = k + GT_SLACK;
	GtShared	sh;
	GtWorker   *workers;
	ExactHit   *hits;
	int			blas_threads = openblas_get_num_threads();

	if (queries->dim != dim)
		die("ground truth: queries have %d dimensions, the base %d", queries->dim, dim);
	if (base->n < k)
		die("ground truth: base has fewer than %d rows", k);

	sh.base = base;
	sh.queries = queries;
	sh.metric = metric;
	sh.cap = cap;
	sh.nblocks = (base->n + GT_BASE_BLOCK - 1) / GT_BASE_BLOCK;
	atomic_init(&sh.next_block, 0);
	nthreads = groundtruth_threads(nthreads);
	if (nthreads > sh.nblocks)
		nthreads = (int) sh.nblocks;

	workers = xmalloc(sizeof(GtWorker) * nthreads);
	for (int t = 0; t < nthreads; t++)
	{
		workers[t].sh = &sh;
		workers[t].heaps = xmalloc(sizeof(ScoredId) * cap * nq);
		workers[t].heapn = calloc(nq, sizeof(int));
		workers[t].dots = xmalloc(sizeof(float) * GT_QUERY_BLOCK * GT_BASE_BLOCK);
		workers[t].bnorm = xmalloc(sizeof(float) * GT_BASE_BLOCK);
		if (workers[t].heapn == NULL)
			die("out of memory");
	}

	/* the threads are ours: each sgemm runs in the thread that calls it */
	openblas_set_num_threads(1);
	for (int t = 1; t < nthreads; t++)
	{
		int			rc = pthread_create(&workers[t].thread, NULL, gt_worker, &workers[t]);

		if (rc != 0)
			die("ground truth: could not start a thread: %s", strerror(rc));
	}
	gt_worker(&workers[0]);
	for (int t = 1; t < nthreads; t++)
		pthread_join(workers[t].thread, NULL);
	openblas_set_num_threads(blas_threads);

	/* every thread's candidates of a query, re-ranked in double */
	gt->nq = nq;
	gt->k = k;
	gt->ids = xmalloc(sizeof(int32_t) * nq * k);
	gt->dist = xmalloc(sizeof(double) * nq * k);
	hits = xmalloc(sizeof(ExactHit) * cap * nthreads);
	for (int q = 0; q < nq; q++)
	{
		const float *qv = queries->x + (int64_t) q * dim;
		int			nhits = 0;

		for (int t = 0; t < nthreads; t++)
		{
			const ScoredId *h = workers[t].heaps + (int64_t) q * cap;

			for (int j = 0; j < workers[t].heapn[q]; j++)
			{
				hits[nhits].id = h[j].id;
				hits[nhits].dist = metric_distance(metric, qv, base->x + (int64_t) h[j].id * dim, dim);
				nhits++;
			}
		}
		if (nhits < k)
			die("ground truth: query %d has only %d candidates (NaN in the data?)", q, nhits);
		qsort(hits, nhits, sizeof(ExactHit), exact_hit_cmp);
		for (int j = 0; j < k; j++)
		{
			gt->ids[(int64_t) q * k + j] = hits[j].id;
			gt->dist[(int64_t) q * k + j] = hits[j].dist;
		}
	}

	free(hits);
	for (int t = 0; t < nthreads; t++)
	{
		free(workers[t].heaps);
		free(workers[t].heapn);
		free(workers[t].dots);
		free(workers[t].bnorm);
	}
	free(workers);
	return nthreads;
}

/*
 * How a ground truth read from a file (old) differs from a fresh one of the
 * same queries over the same base: -1 when they do not have the same shape,
 * else the number of queries whose ids differ; *ties_only counts those
 * among them where the old ids' exact distances, recomputed from the base,
 * equal the fresh distances rank by rank (only the choice among equally
 * distant rows differs: Fashion-MNIST has duplicate images).
 */
int
groundtruth_compare(const GroundTruth *fresh, const GroundTruth *old,
					const FloatMatrix *base, const FloatMatrix *queries,
					BenchMetric metric, int *ties_only)
{
	int			k = fresh->k;
	int			differ = 0;

	*ties_only = 0;
	if (fresh->nq != old->nq || k != old->k)
		return -1;
	for (int q = 0; q < fresh->nq; q++)
	{
		const int32_t *fi = fresh->ids + (int64_t) q * k,
				   *oi = old->ids + (int64_t) q * k;
		const double *fd = fresh->dist + (int64_t) q * k;
		bool		same_dist = true;

		if (memcmp(fi, oi, sizeof(int32_t) * k) == 0)
			continue;
		differ++;
		for (int j = 0; j < k && same_dist; j++)
		{
			double		d;

			if (oi[j] < 0 || oi[j] >= base->n)
			{
				same_dist = false;
				break;
			}
			d = metric_distance(metric, queries->x + (int64_t) q * queries->dim,
								base->x + (int64_t) oi[j] * base->dim, base->dim);
			same_dist = fabs(d - fd[j]) <= 1e-9 * fmax(1.0, fabs(fd[j]));
		}
		if (same_dist)
			(*ties_only)++;
	}
	return differ;
}

void
groundtruth_save(const char *path, const GroundTruth *gt)
{
	char		tmp[4096];
	FILE	   *f;
	int32_t		hdr[2] = {gt->nq, gt->k};
	size_t		cnt = (size_t) gt->nq * gt->k;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (f == NULL)
		die("could not create \"%s\": %s", tmp, strerror(errno));
	if (fwrite(gt_magic, 1, 8, f) != 8 ||
		fwrite(hdr, sizeof(hdr), 1, f) != 1 ||
		fwrite(gt->ids, sizeof(int32_t), cnt, f) != cnt ||
		fwrite(gt->dist, sizeof(double), cnt, f) != cnt ||
		fclose(f) != 0)
		die("could not write \"%s\": %s", tmp, strerror(errno));
	if (rename(tmp, path) != 0)
		die("could not rename \"%s\": %s", tmp, strerror(errno));
}

bool
groundtruth_load(const char *path, GroundTruth *gt)
{
	FILE	   *f = fopen(path, "rb");
	char		magic[8];
	int32_t		hdr[2];
	size_t		cnt;

	if (f == NULL)
		return false;
	if (fread(magic, 1, 8, f) != 8 || memcmp(magic, gt_magic, 8) != 0 ||
		fread(hdr, sizeof(hdr), 1, f) != 1 || hdr[0] <= 0 || hdr[1] <= 0)
		die("\"%s\" is not a benchmark ground-truth file", path);
	gt->nq = hdr[0];
	gt->k = hdr[1];
	cnt = (size_t) gt->nq * gt->k;
	gt->ids = xmalloc(sizeof(int32_t) * cnt);
	gt->dist = xmalloc(sizeof(double) * cnt);
	if (fread(gt->ids, sizeof(int32_t), cnt, f) != cnt ||
		fread(gt->dist, sizeof(double), cnt, f) != cnt)
		die("\"%s\" is truncated", path);
	fclose(f);
	return true;
}
