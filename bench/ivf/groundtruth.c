/*
 * groundtruth.c
 *	  Exact top-k of every query by brute force: the dot products of all
 *	  queries with a block of base rows come from one sgemm (OpenBLAS does
 *	  70-120 GFLOP/s that way, against ~5 as one query at a time), a bounded
 *	  heap per query keeps the best k + GT_SLACK by the float score, and the
 *	  survivors are re-ranked in double with the metric's SQL distance, so
 *	  float rounding in the sgemm cannot change the answer.
 *
 * Cache file: 8-byte magic "IVFBGT01", int32 nq, int32 k, nq x k int32 ids,
 * nq x k float64 distances.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ivfbench.h"

#define GT_SLACK		32		/* extra float-score candidates re-ranked in double */
#define GT_BASE_BLOCK	4096	/* base rows per sgemm */
#define GT_QUERY_BLOCK	1024	/* queries per sgemm */

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

void
groundtruth_compute(const FloatMatrix *base, const FloatMatrix *queries,
					BenchMetric metric, int k, GroundTruth *gt)
{
	int			dim = base->dim;
	int			nq = (int) queries->n;
	int			cap = k + GT_SLACK;
	float	   *bnorm = xmalloc(sizeof(float) * base->n);
	float	   *dots = xmalloc(sizeof(float) * GT_QUERY_BLOCK * GT_BASE_BLOCK);
	ScoredId   *heaps = xmalloc(sizeof(ScoredId) * cap * nq);
	int		   *heapn = calloc(nq, sizeof(int));
	ExactHit   *hits = xmalloc(sizeof(ExactHit) * cap);

	if (queries->dim != dim)
		die("ground truth: queries have %d dimensions, the base %d", queries->dim, dim);
	if (base->n < k)
		die("ground truth: base has fewer than %d rows", k);

	for (int64_t i = 0; i < base->n; i++)
	{
		const float *x = base->x + i * dim;
		double		s = 0;

		for (int c = 0; c < dim; c++)
			s += (double) x[c] * x[c];
		/* L2 needs |x|^2; cosine needs 1/|x| */
		bnorm[i] = metric == METRIC_L2 ? (float) s : (s > 0 ? (float) (1.0 / sqrt(s)) : 0.0f);
	}

	for (int q0 = 0; q0 < nq; q0 += GT_QUERY_BLOCK)
	{
		int			qn = nq - q0 < GT_QUERY_BLOCK ? nq - q0 : GT_QUERY_BLOCK;

		for (int64_t b0 = 0; b0 < base->n; b0 += GT_BASE_BLOCK)
		{
			int			bn = (int) (base->n - b0 < GT_BASE_BLOCK ? base->n - b0 : GT_BASE_BLOCK);

			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, qn, bn, dim,
						1.0f, queries->x + (int64_t) q0 * dim, dim,
						base->x + b0 * dim, dim, 0.0f, dots, bn);
			for (int q = 0; q < qn; q++)
			{
				const float *d = dots + (int64_t) q * bn;
				ScoredId   *h = heaps + (int64_t) (q0 + q) * cap;
				int		   *hn = &heapn[q0 + q];

				/*
				 * Smaller score = nearer, monotone in the SQL distance for a
				 * fixed query (|q| is a per-query constant, left out).
				 */
				for (int j = 0; j < bn; j++)
				{
					float		score;

					switch (metric)
					{
						case METRIC_L2:
							score = bnorm[b0 + j] - 2.0f * d[j];
							break;
						case METRIC_IP:
							score = -d[j];
							break;
						default:
							score = -d[j] * bnorm[b0 + j];
							break;
					}
					if (*hn < cap || score < h[0].score)
						heap_push(h, hn, cap, score, (int32_t) (b0 + j));
				}
			}
		}
	}

	gt->nq = nq;
	gt->k = k;
	gt->ids = xmalloc(sizeof(int32_t) * nq * k);
	gt->dist = xmalloc(sizeof(double) * nq * k);
	for (int q = 0; q < nq; q++)
	{
		ScoredId   *h = heaps + (int64_t) q * cap;
		const float *qv = queries->x + (int64_t) q * dim;

		for (int j = 0; j < heapn[q]; j++)
		{
			hits[j].id = h[j].id;
			hits[j].dist = metric_distance(metric, qv, base->x + (int64_t) h[j].id * dim, dim);
		}
		qsort(hits, heapn[q], sizeof(ExactHit), exact_hit_cmp);
		for (int j = 0; j < k; j++)
		{
			gt->ids[(int64_t) q * k + j] = hits[j].id;
			gt->dist[(int64_t) q * k + j] = hits[j].dist;
		}
	}

	free(hits);
	free(heapn);
	free(heaps);
	free(dots);
	free(bnorm);
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
