/*
 * kmeans.c
 *	  k-means++ seeding and Lloyd iterations for IVF lists and PQ codebooks.
 *
 * The assignment step dominates: for a batch of rows it computes the
 * rows x k matrix -2 x.c with one sgemm, then takes per row the argmin of
 * ||c||^2 - 2 x.c (||x||^2 is added back only for the reported distance).
 * Batches are sized so the matrix stays around a megabyte, which keeps it
 * in L2 between sgemm and the argmin and bounds memory whatever n is.
 *
 * Seeding is plain k-means++ on a random subsample.  Each new centre needs
 * one pass over the sample to refresh every point's distance to its
 * nearest centre; the pass skips points that the triangle inequality
 * proves cannot get closer (d(c_near, c_new) >= 2 d(x, c_near)).  That
 * saves most of the reads on clustered, low-dimensional data (PQ
 * sub-vectors) and costs next to nothing where it rarely applies.
 *
 * Everything allocated goes through params->alloc, so when the interrupt
 * hook longjmps out of a backend the memory context reclaims it.
 */
#include "index/blas.h"
#include "kmeans.h"

#include "kernels/distance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KM_HAVE_AVX2 1
#endif

/* Target size of the per-batch dot-product matrix (fits in L2). */
#define KM_BATCH_BYTES		(1024 * 1024)
#define KM_BATCH_MIN_ROWS	16
#define KM_BATCH_MAX_ROWS	4096

/*
 * k-means++ seeds from a random sample of this many points per centroid
 * (at least KM_SEED_MIN_SAMPLE).  Seeding is sequential, memory-bound and
 * costs sample * k * dim, so a small sample keeps it well below the cost
 * of one Lloyd pass; the Lloyd iterations over all n points do the rest.
 */
#define KM_SEED_PER_CENTROID	16
#define KM_SEED_MIN_SAMPLE		4096

#define KM_DEFAULT_TOLERANCE	1e-4

/* Relative size of the perturbation that splits a cluster in two. */
#define KM_SPLIT_EPS		(1.0 / 1024.0)

/* Lanes of the argmin loop: independent minima the compiler can vectorise. */
#define KM_LANES			8

/* Memory through the caller's allocator, malloc/free without one. */
static void *
km_alloc(const KMeansParams *params, size_t size)
{
	if (size == 0)
		size = 1;
	if (params != NULL && params->alloc != NULL)
		return params->alloc(size);
	return malloc(size);
}

static void
km_free(const KMeansParams *params, void *ptr)
{
	if (ptr == NULL)
		return;
	if (params != NULL && params->release != NULL)
		params->release(ptr);
	else if (params == NULL || params->alloc == NULL)
		free(ptr);
	/* an allocator without a release function owns its memory */
}

static inline void
km_interrupt(const KMeansParams *params)
{
	if (params != NULL && params->interrupt_hook != NULL)
		params->interrupt_hook(params->interrupt_arg);
}

/* splitmix64: tiny, seedable, and the same on every platform. */
static inline uint64_t
km_rand(uint64_t *state)
{
	uint64_t	z;

	*state += UINT64_C(0x9e3779b97f4a7c15);
	z = *state;
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 random bits */
static inline double
km_rand_unit(uint64_t *state)
{
	return (double) (km_rand(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform in [0, bound), bound > 0; the modulo bias is irrelevant here */
static inline int64_t
km_rand_below(uint64_t *state, int64_t bound)
{
	return (int64_t) (km_rand(state) % (uint64_t) bound);
}

static int
km_batch_rows(int k)
{
	size_t		rows = KM_BATCH_BYTES / ((size_t) k * sizeof(float));

	if (rows < KM_BATCH_MIN_ROWS)
		rows = KM_BATCH_MIN_ROWS;
	if (rows > KM_BATCH_MAX_ROWS)
		rows = KM_BATCH_MAX_ROWS;
	return (int) rows;
}

/*
 * Index of the smallest cn[j] + row[j]; *best gets that value.  The minimum
 * is found over KM_LANES independent lanes (a form compilers vectorise
 * without -ffast-math), then a second scan finds its first index, so ties
 * go to the lowest centroid as in a plain scan.
 */
static int
km_row_argmin(const float *row, const float *cn, int k, float *best)
{
	float		lane[KM_LANES];
	float		m = INFINITY;
	int			j = 0;
	int			l;

	for (l = 0; l < KM_LANES; l++)
		lane[l] = INFINITY;
	for (; j + KM_LANES <= k; j += KM_LANES)
	{
		for (l = 0; l < KM_LANES; l++)
		{
			float		v = cn[j + l] + row[j + l];

			lane[l] = v < lane[l] ? v : lane[l];
		}
	}
	for (; j < k; j++)
	{
		float		v = cn[j] + row[j];

		m = v < m ? v : m;
	}
	for (l = 0; l < KM_LANES; l++)
		m = lane[l] < m ? lane[l] : m;

	*best = m;
	for (j = 0; j < k; j++)
	{
		if (cn[j] + row[j] == m)
			return j;
	}
	/* only when every value is NaN or +inf */
	return 0;
}

#ifdef KM_HAVE_AVX2
/*
 * The same result as km_row_argmin with AVX2 (chosen at run time, like the
 * distance kernels): at dim 128 the portable loop costs about a quarter of
 * the assignment time, this one a tenth or less.  Four accumulators hide
 * the latency of min; the index scan compares eight at a time.
 */
__attribute__((target("avx2")))
static inline __m256
km_avx2_sum(const float *cn, const float *row, int j)
{
	return _mm256_add_ps(_mm256_loadu_ps(cn + j), _mm256_loadu_ps(row + j));
}

__attribute__((target("avx2")))
static int
km_row_argmin_avx2(const float *row, const float *cn, int k, float *best)
{
	__m256		m0 = _mm256_set1_ps(INFINITY);
	__m256		m1 = m0;
	__m256		m2 = m0;
	__m256		m3 = m0;
	__m256		vbest;
	float		lane[8];
	float		m;
	int			j = 0;
	int			l;

	/* min(v, m) keeps m when v is NaN, as the portable loop does */
	for (; j + 32 <= k; j += 32)
	{
		m0 = _mm256_min_ps(km_avx2_sum(cn, row, j), m0);
		m1 = _mm256_min_ps(km_avx2_sum(cn, row, j + 8), m1);
		m2 = _mm256_min_ps(km_avx2_sum(cn, row, j + 16), m2);
		m3 = _mm256_min_ps(km_avx2_sum(cn, row, j + 24), m3);
	}
	for (; j + 8 <= k; j += 8)
		m0 = _mm256_min_ps(km_avx2_sum(cn, row, j), m0);
	m0 = _mm256_min_ps(_mm256_min_ps(m0, m1), _mm256_min_ps(m2, m3));
	_mm256_storeu_ps(lane, m0);
	m = lane[0];
	for (l = 1; l < 8; l++)
		m = lane[l] < m ? lane[l] : m;
	for (l = j; l < k; l++)
	{
		float		v = cn[l] + row[l];

		m = v < m ? v : m;
	}

	*best = m;
	vbest = _mm256_set1_ps(m);
	for (j = 0; j + 8 <= k; j += 8)
	{
		__m256		eq = _mm256_cmp_ps(km_avx2_sum(cn, row, j), vbest,
									   _CMP_EQ_OQ);
		int			mask = _mm256_movemask_ps(eq);

		if (mask != 0)
			return j + __builtin_ctz(mask);
	}
	for (; j < k; j++)
	{
		if (cn[j] + row[j] == m)
			return j;
	}
	return 0;
}
#endif

typedef int (*KMArgmin) (const float *row, const float *cn, int k,
						 float *best);

/* AVX2 when the distance kernels use it (lance_kernels_use can force scalar) */
static KMArgmin
km_choose_argmin(void)
{
#ifdef KM_HAVE_AVX2
	const LanceKernels *avx2 = lance_kernels_avx2();

	if (avx2 != NULL && lance_kernels == avx2)
		return km_row_argmin_avx2;
#endif
	return km_row_argmin;
}

static void
km_centroid_norms(const float *centroids, int k, int dim, float *cn)
{
	int			j;

	for (j = 0; j < k; j++)
	{
		const float *c = centroids + (size_t) j * dim;

		cn[j] = lance_kernels->dot_f32(c, c, dim);
	}
}

/*
 * Assign n rows to their nearest centroid, bs rows at a time through buf
 * (bs * k floats).  xn holds the rows' squared norms, or is NULL to compute
 * them here.  dist (optional) gets squared distances, clamped at 0 against
 * the cancellation in ||x||^2 - 2 x.c + ||c||^2.  Returns their sum.
 */
/* -2 x.c without OpenBLAS (library missing): slow but correct. */
static void
km_gemm_fallback(const float *xb, int b, const float *centroids, int k,
				 int dim, float *buf)
{
	int			r;
	int			j;

	for (r = 0; r < b; r++)
		for (j = 0; j < k; j++)
			buf[(size_t) r * k + j] = -2.0f *
				lance_kernels->dot_f32(xb + (size_t) r * dim,
									   centroids + (size_t) j * dim,
									   (size_t) dim);
}

static double
km_assign_batched(const float *x, const float *xn, int64_t n, int dim,
				  const float *centroids, const float *cn, int k,
				  int32_t *assign, float *dist, float *buf, int bs,
				  const KMeansParams *params)
{
	KMArgmin	argmin = km_choose_argmin();
	double		total = 0.0;
	int64_t		i0;

	for (i0 = 0; i0 < n; i0 += bs)
	{
		int			b = (int) (n - i0 < bs ? n - i0 : bs);
		const float *xb = x + (size_t) i0 * dim;
		int			r;

		if (!lance_sgemm_nt(b, k, dim, -2.0f, xb, dim, centroids, dim,
							0.0f, buf, k))
			km_gemm_fallback(xb, b, centroids, k, dim, buf);

		for (r = 0; r < b; r++)
		{
			const float *xr = xb + (size_t) r * dim;
			float		best;
			float		d;
			int			a;

			a = argmin(buf + (size_t) r * k, cn, k, &best);
			d = (xn != NULL ? xn[i0 + r] : lance_kernels->dot_f32(xr, xr, dim)) +
				best;
			if (!(d > 0.0f))
				d = 0.0f;
			assign[i0 + r] = a;
			if (dist != NULL)
				dist[i0 + r] = d;
			total += d;
		}
		km_interrupt(params);
	}
	return total;
}

/*
 * Scratch-free assignment, only for when the malloc fallback fails (this
 * function cannot report an error).
 */
static void
km_assign_direct(const float *x, int64_t n, int dim,
				 const float *centroids, int k,
				 int32_t *assign, float *dist, const KMeansParams *params)
{
	int64_t		i;

	for (i = 0; i < n; i++)
	{
		const float *xr = x + (size_t) i * dim;
		float		best = INFINITY;
		int			a = 0;
		int			j;

		for (j = 0; j < k; j++)
		{
			float		d = lance_kernels->l2sq_f32(xr,
													centroids + (size_t) j * dim,
													dim);

			if (d < best)
			{
				best = d;
				a = j;
			}
		}
		assign[i] = a;
		if (dist != NULL)
			dist[i] = best;
		if ((i & 1023) == 1023)
			km_interrupt(params);
	}
}

/*
 * Choose m of n indices uniformly without replacement, in increasing order
 * (selection sampling: one pass, no n-sized scratch, and the sample is read
 * in memory order afterwards).
 */
static void
km_sample_indices(int64_t n, int64_t m, uint64_t *rng, int64_t *out)
{
	int64_t		i;
	int64_t		chosen = 0;

	for (i = 0; i < n && chosen < m; i++)
	{
		/* the first test keeps rounding from ever leaving the sample short */
		if (n - i <= m - chosen ||
			(double) (n - i) * km_rand_unit(rng) < (double) (m - chosen))
			out[chosen++] = i;
	}
}

/*
 * k-means++ seeding (k <= n) into centroids.  Each new centre is drawn with
 * probability proportional to the squared distance to the nearest existing
 * centre; once every sampled point coincides with a centre the rest are
 * drawn uniformly (they end up as duplicates, repaired as empty clusters).
 * Returns false only if the malloc fallback fails.
 */
static bool
km_seed(const float *x, int64_t n, int dim, int k, uint64_t *rng,
		float *centroids, const KMeansParams *params)
{
	int64_t		m;
	int64_t    *idx = NULL;
	float	   *mind;
	int32_t    *near;
	float	   *cc;
	double		total = 0.0;
	int64_t		p;
	int			j;

	m = (int64_t) k * KM_SEED_PER_CENTROID;
	if (m < KM_SEED_MIN_SAMPLE)
		m = KM_SEED_MIN_SAMPLE;
	if (m > n)
		m = n;

	if (m < n)
	{
		idx = km_alloc(params, (size_t) m * sizeof(int64_t));
		if (idx != NULL)
			km_sample_indices(n, m, rng, idx);
	}
	mind = km_alloc(params, (size_t) m * sizeof(float));
	near = km_alloc(params, (size_t) m * sizeof(int32_t));
	cc = km_alloc(params, (size_t) k * sizeof(float));
	if ((m < n && idx == NULL) || mind == NULL || near == NULL || cc == NULL)
	{
		km_free(params, cc);
		km_free(params, near);
		km_free(params, mind);
		km_free(params, idx);
		return false;
	}

#define SAMPLE_ROW(q) (x + (size_t) (idx != NULL ? idx[q] : (q)) * dim)

	p = km_rand_below(rng, m);
	memcpy(centroids, SAMPLE_ROW(p), (size_t) dim * sizeof(float));
	for (p = 0; p < m; p++)
	{
		mind[p] = lance_kernels->l2sq_f32(SAMPLE_ROW(p), centroids, dim);
		near[p] = 0;
		total += mind[p];
	}
	km_interrupt(params);

	for (j = 1; j < k; j++)
	{
		float	   *c = centroids + (size_t) j * dim;
		int64_t		pick = -1;
		int			i;

		if (total > 0.0)
		{
			double		target = km_rand_unit(rng) * total;
			double		cum = 0.0;
			int64_t		last_positive = -1;

			for (p = 0; p < m; p++)
			{
				if (mind[p] > 0.0f)
				{
					last_positive = p;
					cum += mind[p];
					if (cum > target)
						break;
				}
			}
			/* rounding can leave target just past the final sum */
			pick = p < m ? p : last_positive;
		}
		if (pick < 0)
			pick = km_rand_below(rng, m);
		memcpy(c, SAMPLE_ROW(pick), (size_t) dim * sizeof(float));

		for (i = 0; i < j; i++)
			cc[i] = lance_kernels->l2sq_f32(centroids + (size_t) i * dim, c,
											dim);

		total = 0.0;
		for (p = 0; p < m; p++)
		{
			/* d(x, c) >= d(c_near, c) - d(x, c_near) >= d(x, c_near) */
			if (cc[near[p]] < 4.0f * mind[p])
			{
				float		d = lance_kernels->l2sq_f32(SAMPLE_ROW(p), c, dim);

				if (d < mind[p])
				{
					mind[p] = d;
					near[p] = j;
				}
			}
			total += mind[p];
		}
		km_interrupt(params);
	}
#undef SAMPLE_ROW

	km_free(params, cc);
	km_free(params, near);
	km_free(params, mind);
	km_free(params, idx);
	return true;
}

static void
km_normalize(float *c, int dim)
{
	float		norm = sqrtf(lance_kernels->dot_f32(c, c, dim));
	int			d;

	if (norm > 0.0f && isfinite(norm))
	{
		float		inv = 1.0f / norm;

		for (d = 0; d < dim; d++)
			c[d] *= inv;
	}
}

/*
 * Re-seed each empty cluster by splitting the largest cluster that has any
 * spread: both get its centroid plus / minus a small random perturbation,
 * so the next assignment divides its points between them along a random
 * hyperplane.  Clusters of identical points are not split (there is
 * nothing to divide); if no cluster has spread, the empty one becomes a
 * copy of the largest.  counts and sse are updated as if the split halved
 * the cluster, so several empty clusters spread over several large ones.
 * Returns the number of empty clusters; *splits gets how many were split.
 */
static int
km_fix_empty(float *centroids, int k, int dim, int64_t *counts, double *sse,
			 uint64_t *rng, int *splits)
{
	int			empty = 0;
	int			ci;

	*splits = 0;
	for (ci = 0; ci < k; ci++)
	{
		int			cj = -1;
		int			largest = 0;
		int			j;
		int			d;
		float	   *dst = centroids + (size_t) ci * dim;
		float	   *src;
		float		spread;

		if (counts[ci] > 0)
			continue;
		empty++;

		for (j = 0; j < k; j++)
		{
			if (counts[j] > counts[largest])
				largest = j;
			if (counts[j] > 1 && sse[j] > 0.0 &&
				(cj < 0 || counts[j] > counts[cj]))
				cj = j;
		}
		if (cj < 0)
		{
			memcpy(dst, centroids + (size_t) largest * dim,
				   (size_t) dim * sizeof(float));
			continue;
		}

		/*
		 * Scale the perturbation by the coordinate and by the cluster's RMS
		 * spread per coordinate, so it survives float rounding yet stays
		 * small next to the cluster.
		 */
		src = centroids + (size_t) cj * dim;
		spread = (float) sqrt(sse[cj] / (double) counts[cj] / dim);
		for (d = 0; d < dim; d++)
		{
			float		delta = (float) KM_SPLIT_EPS * (fabsf(src[d]) + spread);

			if (km_rand(rng) & 1)
				delta = -delta;
			dst[d] = src[d] + delta;
			src[d] = src[d] - delta;
		}
		counts[ci] = counts[cj] / 2;
		counts[cj] -= counts[ci];
		sse[ci] = sse[cj] / 2;
		sse[cj] -= sse[ci];
		(*splits)++;
	}
	return empty;
}

/*
 * Centroids = means of their assigned points (double accumulators: a
 * cluster can hold hundreds of thousands of points), then empty clusters
 * repaired and, if spherical, centroids normalised.  Returns the number of
 * empty clusters; *splits gets how many of them were split off others.
 */
static int
km_update(const float *x, int64_t n, int dim, int k, const int32_t *assign,
		  bool spherical, uint64_t *rng, float *centroids,
		  double *sums, int64_t *counts, double *sse, int *splits)
{
	int64_t		i;
	int			j;
	int			empty = 0;

	memset(sums, 0, (size_t) k * dim * sizeof(double));
	memset(counts, 0, (size_t) k * sizeof(int64_t));

	for (i = 0; i < n; i++)
	{
		const float *xr = x + (size_t) i * dim;
		double	   *s = sums + (size_t) assign[i] * dim;
		int			d = 0;
		int			l;

		/* fixed-size blocks, so -O2 vectorises the float->double adds */
		for (; d + KM_LANES <= dim; d += KM_LANES)
		{
			for (l = 0; l < KM_LANES; l++)
				s[d + l] += xr[d + l];
		}
		for (; d < dim; d++)
			s[d] += xr[d];
		counts[assign[i]]++;
	}

	for (j = 0; j < k; j++)
	{
		float	   *c = centroids + (size_t) j * dim;
		const double *s = sums + (size_t) j * dim;
		int			d;

		if (counts[j] == 0)
		{
			empty++;
			continue;
		}
		for (d = 0; d < dim; d++)
			c[d] = (float) (s[d] / (double) counts[j]);
	}

	*splits = 0;
	if (empty > 0)
	{
		/*
		 * Rare, so pay a pass for exact spreads around the new centroids:
		 * the sgemm distances are not exactly 0 for identical points, and
		 * splitting such a cluster would loop forever.
		 */
		memset(sse, 0, (size_t) k * sizeof(double));
		for (i = 0; i < n; i++)
			sse[assign[i]] +=
				lance_kernels->l2sq_f32(x + (size_t) i * dim,
										centroids + (size_t) assign[i] * dim,
										dim);
		empty = km_fix_empty(centroids, k, dim, counts, sse, rng, splits);
	}

	if (spherical)
	{
		for (j = 0; j < k; j++)
			km_normalize(centroids + (size_t) j * dim, dim);
	}
	return empty;
}

static bool kmeans_train_full(const float *x, int64_t n, int dim,
							  const KMeansParams *params, float *centroids,
							  KMeansResult *result);

/*
 * Cluster a random Gaussian projection of x (n x pdim, via one sgemm), then
 * take each cluster's mean of the original vectors as its centroid.  A
 * cluster left empty keeps its projected seed's nearest original point.
 */
static bool
kmeans_train_projected(const float *x, int64_t n, int dim,
					   const KMeansParams *params, float *centroids,
					   KMeansResult *result)
{
	KMeansParams sub = *params;
	int			pdim = params->project_dim;
	int			k = params->k;
	uint64_t	rng = params->seed ^ UINT64_C(0x70726f6a);
	float	   *proj = km_alloc(params, (size_t) pdim * dim * sizeof(float));
	float	   *y = km_alloc(params, (size_t) n * pdim * sizeof(float));
	float	   *cy = km_alloc(params, (size_t) k * pdim * sizeof(float));
	int32_t    *assign = km_alloc(params, (size_t) n * sizeof(int32_t));
	double	   *sums = km_alloc(params, (size_t) k * dim * sizeof(double));
	int64_t    *counts = km_alloc(params, (size_t) k * sizeof(int64_t));
	float		scale = 1.0f / sqrtf((float) pdim);
	bool		ok = false;
	int64_t		i0;
	int64_t		i;
	int			j;

	if (!proj || !y || !cy || !assign || !sums || !counts)
		goto done;

	/* Box-Muller Gaussian entries; rows are the projection directions */
	for (i = 0; i < (int64_t) pdim * dim; i += 2)
	{
		double		u1 = km_rand_unit(&rng) + 0.5 / 9007199254740992.0;
		double		u2 = km_rand_unit(&rng);
		double		r = sqrt(-2.0 * log(u1));

		proj[i] = (float) (r * cos(2 * M_PI * u2)) * scale;
		if (i + 1 < (int64_t) pdim * dim)
			proj[i + 1] = (float) (r * sin(2 * M_PI * u2)) * scale;
	}
	for (i0 = 0; i0 < n; i0 += 4096)
	{
		int			b = (int) (n - i0 < 4096 ? n - i0 : 4096);

		km_interrupt(params);
		if (!lance_sgemm_nt(b, pdim, dim, 1.0f, x + (size_t) i0 * dim, dim,
							proj, dim, 0.0f, y + (size_t) i0 * pdim, pdim))
		{
			for (i = 0; i < b; i++)
				for (j = 0; j < pdim; j++)
					y[(size_t) (i0 + i) * pdim + j] =
						lance_kernels->dot_f32(x + (size_t) (i0 + i) * dim,
											   proj + (size_t) j * dim,
											   (size_t) dim);
		}
	}

	/* the projection of unit vectors is near-unit: cluster it plainly */
	sub.project_dim = 0;
	sub.spherical = false;
	if (!kmeans_train_full(y, n, pdim, &sub, cy, result))
		goto done;
	kmeans_assign(y, n, pdim, cy, k, assign, NULL, &sub);

	memset(sums, 0, (size_t) k * dim * sizeof(double));
	memset(counts, 0, (size_t) k * sizeof(int64_t));
	for (i = 0; i < n; i++)
	{
		double	   *s = sums + (size_t) assign[i] * dim;
		const float *xi = x + (size_t) i * dim;

		for (j = 0; j < dim; j++)
			s[j] += xi[j];
		counts[assign[i]]++;
	}
	for (j = 0; j < k; j++)
	{
		float	   *c = centroids + (size_t) j * dim;
		int			d;

		if (counts[j] == 0)
		{
			/* empty: the point nearest to its projected centroid stands in */
			memcpy(c, x + (size_t) (j % n) * dim, (size_t) dim * sizeof(float));
			continue;
		}
		for (d = 0; d < dim; d++)
			c[d] = (float) (sums[(size_t) j * dim + d] / counts[j]);
		if (params->spherical)
			km_normalize(c, dim);
	}
	ok = true;

done:
	km_free(params, proj);
	km_free(params, y);
	km_free(params, cy);
	km_free(params, assign);
	km_free(params, sums);
	km_free(params, counts);
	return ok;
}

bool
kmeans_train(const float *x, int64_t n, int dim,
			 const KMeansParams *params, float *centroids,
			 KMeansResult *result)
{
	if (params != NULL && params->project_dim > 0 &&
		params->project_dim < dim && n > params->k && params->k >= 1 &&
		x != NULL && centroids != NULL)
		return kmeans_train_projected(x, n, dim, params, centroids, result);
	return kmeans_train_full(x, n, dim, params, centroids, result);
}

static bool
kmeans_train_full(const float *x, int64_t n, int dim,
				  const KMeansParams *params, float *centroids,
				  KMeansResult *result)
{
	KMeansResult local;
	int			k;
	double		tol;
	uint64_t	rng;
	int			bs;
	int32_t    *assign;
	float	   *xn;
	float	   *buf;
	float	   *cn;
	double	   *sums;
	int64_t    *counts;
	double	   *sse;
	double		obj;
	int64_t		i;
	int			it;
	bool		ok;

	if (result == NULL)
		result = &local;
	memset(result, 0, sizeof(*result));

	if (x == NULL || params == NULL || centroids == NULL ||
		n <= 0 || dim < 1 || params->k < 1)
		return false;
	k = params->k;

	/*
	 * No more points than centroids: each point is a centroid (objective
	 * 0), and the surplus centroids repeat the points in order.
	 */
	if (n <= k)
	{
		int			j;

		for (j = 0; j < k; j++)
			memcpy(centroids + (size_t) j * dim, x + (size_t) (j % n) * dim,
				   (size_t) dim * sizeof(float));
		return true;
	}

	tol = params->tolerance > 0.0 ? params->tolerance : KM_DEFAULT_TOLERANCE;
	rng = params->seed;
	bs = km_batch_rows(k);
	if (n < bs)
		bs = (int) n;

	if (!km_seed(x, n, dim, k, &rng, centroids, params))
		return false;

	assign = km_alloc(params, (size_t) n * sizeof(int32_t));
	xn = km_alloc(params, (size_t) n * sizeof(float));
	buf = km_alloc(params, (size_t) bs * k * sizeof(float));
	cn = km_alloc(params, (size_t) k * sizeof(float));
	sums = km_alloc(params, (size_t) k * dim * sizeof(double));
	counts = km_alloc(params, (size_t) k * sizeof(int64_t));
	sse = km_alloc(params, (size_t) k * sizeof(double));
	ok = (assign != NULL && xn != NULL && buf != NULL && cn != NULL &&
		  sums != NULL && counts != NULL && sse != NULL);
	if (!ok)
		goto done;

	/*
	 * Objective of the seeds, then each iteration updates the centroids and
	 * reassigns, so result->objective always belongs to the centroids
	 * returned.
	 */
	for (i = 0; i < n; i++)
		xn[i] = lance_kernels->dot_f32(x + (size_t) i * dim,
									   x + (size_t) i * dim, dim);
	km_centroid_norms(centroids, k, dim, cn);
	obj = km_assign_batched(x, xn, n, dim, centroids, cn, k, assign, NULL,
							buf, bs, params);

	for (it = 1; it <= params->max_iterations; it++)
	{
		int			splits;
		double		new_obj;

		result->empty_clusters_fixed +=
			km_update(x, n, dim, k, assign, params->spherical, &rng,
					  centroids, sums, counts, sse, &splits);
		km_interrupt(params);

		km_centroid_norms(centroids, k, dim, cn);
		new_obj = km_assign_batched(x, xn, n, dim, centroids, cn, k, assign,
									NULL, buf, bs, params);
		result->iterations = it;

		/* a split may raise the objective briefly: never stop right after */
		if (splits == 0 && fabs(obj - new_obj) <= tol * obj)
		{
			obj = new_obj;
			break;
		}
		obj = new_obj;
	}
	result->objective = obj;

done:
	km_free(params, sse);
	km_free(params, counts);
	km_free(params, sums);
	km_free(params, cn);
	km_free(params, buf);
	km_free(params, xn);
	km_free(params, assign);
	return ok;
}

void
kmeans_assign(const float *x, int64_t n, int dim,
			  const float *centroids, int k,
			  int32_t *assign, float *dist,
			  const KMeansParams *params)
{
	int			bs;
	float	   *buf;
	float	   *cn;

	if (x == NULL || centroids == NULL || assign == NULL ||
		n <= 0 || dim < 1 || k < 1)
		return;

	bs = km_batch_rows(k);
	if (n < bs)
		bs = (int) n;
	cn = km_alloc(params, (size_t) k * sizeof(float));
	buf = km_alloc(params, (size_t) bs * k * sizeof(float));
	if (cn != NULL && buf != NULL)
	{
		km_centroid_norms(centroids, k, dim, cn);
		km_assign_batched(x, NULL, n, dim, centroids, cn, k, assign, dist,
						  buf, bs, params);
	}
	else
		km_assign_direct(x, n, dim, centroids, k, assign, dist, params);
	km_free(params, buf);
	km_free(params, cn);
}

void
kmeans_set_threads(int nthreads)
{
	if (nthreads < 1)
		nthreads = 1;
	lance_blas_set_threads(nthreads);
}
