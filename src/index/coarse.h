/*
 * coarse.h
 *	  int8 copies of IVF centroids for choosing the lists a query probes.
 *
 * Choosing the nprobes nearest of 1000 centroids of 128 floats streams
 * 512 kB per query (245 x 784: 768 kB), which no longer sits in the core's
 * caches by the next query.  The int8 copy is a quarter of that; each
 * centroid's distance from it comes with a sound interval (the exact norm
 * of the centroid's rounding error), so only centroids whose interval can
 * still reach the nearest few are measured exactly, and the lists chosen
 * are the ones exact distances would choose.
 */
#ifndef LANCE_INDEX_COARSE_H
#define LANCE_INDEX_COARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CoarseCodes
{
	int			n;
	int			dim;
	int8_t	   *codes;			/* n x dim: c_d ~ offset_d + scale_d * code */
	float	   *scale;			/* dim */
	float	   *offset;			/* dim */
	float	   *err;			/* n: ||c - decoded c||, rounded up */
	float	   *norm2;			/* n: ||decoded c||^2 */
	float	   *kabs;			/* n: sum of |code| (the query's rounding) */
} CoarseCodes;

/* NULL when alloc fails; everything in one allocation (free it whole) */
extern CoarseCodes *coarse_build(const float *centroids, int n, int dim,
								 void *(*alloc) (size_t size));

/*
 * The centroids with valid[i] (NULL: all) that may be among the `want`
 * nearest to q, by squared L2 (ip false) or the negative dot product (ip
 * true) as the exact kernels compute them: their indexes into idx
 * (capacity n), in increasing order; returns their count (>= want unless
 * fewer are valid).  work: dim + 2 n floats; best: want ints.
 */
extern int	coarse_choose(const CoarseCodes *cc, const float *q, bool ip,
						  const bool *valid, int want, float *work, int *best,
						  int *idx);

#endif							/* LANCE_INDEX_COARSE_H */
