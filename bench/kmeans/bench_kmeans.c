/*
 * bench_kmeans.c
 *	  Wall-clock seconds and GFLOP/s of kmeans_train and kmeans_assign at
 *	  index-build sizes, for each OpenBLAS thread count given.
 *
 * Usage: bench_kmeans [threads...]		(default: 1 2)
 *
 * Data is a synthetic mixture (uniform noise around 4k random centres), so
 * Lloyd converges the way it does on real embeddings rather than on
 * structureless uniform noise.  GFLOP/s counts only the assignment sgemm
 * (2 n k dim per pass; train runs iterations + 1 passes), so it shows how
 * close the whole run gets to sgemm speed.  "seed" is kmeans_train with
 * max_iterations = 0: k-means++ seeding plus one assignment pass.
 *
 * The machine's sgemm speed is the ceiling: check the OpenBLAS core printed
 * first (see main).
 */
#include "index/kmeans.h"
#include "kernels/distance.h"

#include "index/blas.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = UINT64_C(0x2545f4914f6cdd1d);

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

/* uniform in [-1, 1) */
static float
rng_float(void)
{
	return (float) ((double) (rng_next() >> 11) / 4503599627370496.0 - 1.0);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static float *
mixture(int64_t n, int dim, int ncentres, float noise)
{
	float	   *centres = malloc((size_t) ncentres * dim * sizeof(float));
	float	   *x = malloc((size_t) n * dim * sizeof(float));
	int64_t		i;
	int			d;

	if (centres == NULL || x == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	for (i = 0; i < (int64_t) ncentres * dim; i++)
		centres[i] = rng_float();
	for (i = 0; i < n; i++)
	{
		const float *c = centres + (size_t) (rng_next() % ncentres) * dim;

		for (d = 0; d < dim; d++)
			x[(size_t) i * dim + d] = c[d] + noise * rng_float();
	}
	free(centres);
	return x;
}

static void
bench_train(int threads, int64_t n, int dim, int k)
{
	float	   *x = mixture(n, dim, 4 * k, 0.5f);
	float	   *c = malloc((size_t) k * dim * sizeof(float));
	int32_t    *assign = malloc((size_t) n * sizeof(int32_t));
	KMeansParams p;
	KMeansResult r;
	double		pass = 2.0 * (double) n * k * dim * 1e-9;
	double		t0,
				t_seed,
				t_train,
				t_assign;

	memset(&p, 0, sizeof(p));
	p.k = k;
	p.seed = 1;
	p.tolerance = 1e-4;

	p.max_iterations = 0;
	t0 = now();
	kmeans_train(x, n, dim, &p, c, &r);
	t_seed = now() - t0;

	p.max_iterations = 50;
	t0 = now();
	kmeans_train(x, n, dim, &p, c, &r);
	t_train = now() - t0;

	t0 = now();
	kmeans_assign(x, n, dim, c, k, assign, NULL, &p);
	t_assign = now() - t0;

	printf("%7d  train   n=%-8lld dim=%-4d k=%-5d %8.3f s  %6.1f GFLOP/s  "
		   "%2d iterations  (seed %.3f s)\n",
		   threads, (long long) n, dim, k, t_train,
		   pass * (r.iterations + 1) / t_train, r.iterations, t_seed);
	printf("%7d  assign  n=%-8lld dim=%-4d k=%-5d %8.3f s  %6.1f GFLOP/s\n",
		   threads, (long long) n, dim, k, t_assign, pass / t_assign);
	fflush(stdout);
	free(assign);
	free(c);
	free(x);
}

static void
bench_assign(int threads, int64_t n, int dim, int k)
{
	float	   *x = mixture(n, dim, 4 * k, 0.5f);
	float	   *c = mixture(k, dim, 4 * k, 0.5f);
	int32_t    *assign = malloc((size_t) n * sizeof(int32_t));
	float	   *dist = malloc((size_t) n * sizeof(float));
	double		pass = 2.0 * (double) n * k * dim * 1e-9;
	double		t0,
				t;

	t0 = now();
	kmeans_assign(x, n, dim, c, k, assign, dist, NULL);
	t = now() - t0;
	printf("%7d  assign  n=%-8lld dim=%-4d k=%-5d %8.3f s  %6.1f GFLOP/s\n",
		   threads, (long long) n, dim, k, t, pass / t);
	fflush(stdout);
	free(dist);
	free(assign);
	free(c);
	free(x);
}

int
main(int argc, char **argv)
{
	int			threads[16] = {1, 2};
	int			nthreads = 2;
	int			i;

	if (argc > 1)
	{
		nthreads = 0;
		for (i = 1; i < argc && nthreads < 16; i++)
			threads[nthreads++] = atoi(argv[i]);
	}

	lance_kernels_init();
	/*
	 * OpenBLAS 0.3.21 falls back to its Prescott (SSE3) kernels on CPUs it
	 * does not recognise; OPENBLAS_CORETYPE=Haswell or SkylakeX overrides.
	 */
	printf("kernels: %s, OpenBLAS core: %s\n", lance_kernels->name,
		   lance_blas_corename() ? lance_blas_corename() : "none");
	printf("threads  what    size                             seconds  "
		   "throughput\n");
	for (i = 0; i < nthreads; i++)
	{
		kmeans_set_threads(threads[i]);
		bench_train(threads[i], 60000, 784, 245);
		bench_train(threads[i], 256000, 128, 1000);
		bench_assign(threads[i], 1000000, 128, 1000);
	}
	return 0;
}
