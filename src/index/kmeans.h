/*
 * kmeans.h
 *	  k-means for IVF partitioning and PQ codebooks: k-means++ seeding,
 *	  Lloyd iterations whose assignment step runs through OpenBLAS sgemm
 *	  (||x||^2 - 2 x.c + ||c||^2), spherical variant for cosine/IP.
 *
 * Plain C over plain buffers: no PostgreSQL headers, so it is unit-tested
 * and benchmarked outside a backend.  Long loops call the caller's
 * interrupt hook so a backend can honour CHECK_FOR_INTERRUPTS().
 */
#ifndef LANCE_INDEX_KMEANS_H
#define LANCE_INDEX_KMEANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct KMeansParams
{
	int			k;				/* number of centroids (>= 1) */
	int			max_iterations; /* Lloyd iterations at most (LanceDB: 50) */
	double		tolerance;		/* stop when relative objective change < tol */
	bool		spherical;		/* normalise centroids (cosine / inner product) */
	int			project_dim;	/* > 0 and < dim: cluster a random projection
								 * to this many dimensions, then average the
								 * original vectors per cluster */
	uint64_t	seed;			/* deterministic given the seed */
	/* called between batches; may longjmp (PostgreSQL ereport) */
	void		(*interrupt_hook) (void *arg);
	void	   *interrupt_arg;
	/* allocator: malloc-like, must not return NULL (may longjmp) */
	void	   *(*alloc) (size_t size);
	void		(*release) (void *ptr);
} KMeansParams;

typedef struct KMeansResult
{
	int			iterations;		/* Lloyd iterations run */
	double		objective;		/* final sum of squared distances */
	int			empty_clusters_fixed;	/* empty clusters re-seeded */
} KMeansResult;

/*
 * Cluster n vectors of dim floats (row-major, x[i * dim + j]) into
 * params->k centroids written to centroids (k * dim floats).  When n < k
 * the first n centroids are the points and the rest duplicates (callers
 * should choose k <= n).  With project_dim, the iterations run on a random
 * Gaussian projection (distances preserved up to small distortion, far
 * cheaper for high dimensions) and result->objective is in that space.  Empty clusters are re-seeded by splitting the
 * largest one.  Returns false only on invalid arguments.
 */
extern bool kmeans_train(const float *x, int64_t n, int dim,
						 const KMeansParams *params, float *centroids,
						 KMeansResult *result);

/*
 * Nearest centroid (squared L2; for spherical centroids the caller passes
 * normalised vectors) of each of n vectors: assign[i] in [0, k), and if
 * dist is not NULL the squared distance.  Batched through sgemm.
 */
extern void kmeans_assign(const float *x, int64_t n, int dim,
						  const float *centroids, int k,
						  int32_t *assign, float *dist,
						  const KMeansParams *params);

/* Set OpenBLAS's thread count (1 inside backends unless told otherwise). */
extern void kmeans_set_threads(int nthreads);

#endif							/* LANCE_INDEX_KMEANS_H */
