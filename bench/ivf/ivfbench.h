/*
 * ivfbench.h
 *	  Shared declarations of the lance_ivf benchmark client: data sets
 *	  (generated or loaded, cached as flat float files), exact ground truth
 *	  and the libpq side (binary COPY, timed prepared queries).
 */
#ifndef IVFBENCH_H
#define IVFBENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

typedef enum BenchMetric
{
	METRIC_L2,
	METRIC_IP,
	METRIC_COSINE
} BenchMetric;

/* A dense row-major float matrix, n rows of dim floats. */
typedef struct FloatMatrix
{
	int64_t		n;
	int			dim;
	float	   *x;
} FloatMatrix;

/* A vector file mapped read-only (matrix_map). */
typedef struct MappedMatrix
{
	void	   *map;
	size_t		size;
	int64_t		n;
	int			dim;
	const float *x;
} MappedMatrix;

/* Exact top-k of every query: ids (row numbers of the base) and distances. */
typedef struct GroundTruth
{
	int			nq;
	int			k;
	int32_t    *ids;			/* nq x k */
	double	   *dist;			/* nq x k, the metric's SQL distance */
} GroundTruth;

/* Parameters of the anisotropic Gaussian mixture (README, "Data"). */
typedef struct AnisoParams
{
	int64_t		n;				/* base rows */
	int			nq;				/* queries */
	int			dim;
	double		alpha;			/* spectrum lambda_i ~ i^-alpha */
	double		spread;			/* centre std per axis = spread * sqrt(lambda_i) */
	int			centres;
	double		zipf;			/* cluster weight of centre j ~ (j+1)^-zipf */
	uint64_t	seed;
	bool		normalise;		/* unit vectors (cosine set) */
} AnisoParams;

/* util */
extern void die(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));
extern void *xmalloc(size_t size);
extern double now_seconds(void);
extern const char *metric_name(BenchMetric m);
extern BenchMetric metric_parse(const char *s);
extern double metric_distance(BenchMetric m, const float *a, const float *b, int dim);

/* dataset.c */
extern void matrix_save(const char *path, const FloatMatrix *m);
extern bool matrix_load(const char *path, FloatMatrix *m);
extern void matrix_free(FloatMatrix *m);
extern bool matrix_map(const char *path, MappedMatrix *mm);
extern void matrix_unmap(MappedMatrix *mm);
extern void aniso_generate(const AnisoParams *p, FloatMatrix *base, FloatMatrix *queries);
extern void fmnist_load(const char *path, int64_t limit, FloatMatrix *m);

/* groundtruth.c */
extern int	groundtruth_compute(const FloatMatrix *base, const FloatMatrix *queries,
								BenchMetric metric, int k, int nthreads, GroundTruth *gt);
extern int	groundtruth_compare(const GroundTruth *fresh, const GroundTruth *old,
								const FloatMatrix *base, const FloatMatrix *queries,
								BenchMetric metric, int *ties_only);
extern void groundtruth_save(const char *path, const GroundTruth *gt);
extern bool groundtruth_load(const char *path, GroundTruth *gt);

/* pgclient.c */
extern int	cmd_load(int argc, char **argv);
extern int	cmd_exec(int argc, char **argv);
extern int	cmd_query(int argc, char **argv);

#endif							/* IVFBENCH_H */
