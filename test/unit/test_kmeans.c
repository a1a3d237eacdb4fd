/*
 * test_kmeans.c
 *	  Standalone checks of the k-means module (no PostgreSQL needed).
 *
 * Properties rather than golden values: blob centres are recovered, the
 * objective never rises with more iterations and matches a brute-force
 * recomputation, kmeans_assign agrees with a double-precision brute-force
 * argmin, results are deterministic per seed, degenerate inputs (n <= k,
 * duplicate points) are handled, spherical centroids are unit vectors, and
 * the interrupt hook and allocator hooks are honoured (including a longjmp
 * out of the hook).  The last line of output is "N passed, M failed"; the
 * exit status is non-zero on any failure.
 */
#include "index/kmeans.h"
#include "kernels/distance.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	n_passed = 0;
static int	n_failed = 0;

static void
check(bool ok, const char *what)
{
	if (ok)
	{
		n_passed++;
		return;
	}
	n_failed++;
	printf("not ok - %s\n", what);
}

/* xorshift64*: seeded, fast, and identical on every platform */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

/* uniform in [0, 1) */
static double
rng_unit(void)
{
	return (double) (rng_next() >> 11) / 9007199254740992.0;
}

/* uniform in [-1, 1) */
static float
rng_float(void)
{
	return (float) (2.0 * rng_unit() - 1.0);
}

/* standard normal (Box-Muller) */
static float
rng_gauss(void)
{
	double		u = rng_unit();
	double		v = rng_unit();

	if (u < 1e-300)
		u = 1e-300;
	return (float) (sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v));
}

static float *
random_data(int64_t n, int dim)
{
	float	   *x = malloc((size_t) n * dim * sizeof(float));
	int64_t		i;

	for (i = 0; i < n * dim; i++)
		x[i] = rng_float();
	return x;
}

static void
normalize_rows(float *x, int64_t n, int dim)
{
	int64_t		i;
	int			d;

	for (i = 0; i < n; i++)
	{
		float	   *r = x + (size_t) i * dim;
		double		s = 0.0;

		for (d = 0; d < dim; d++)
			s += (double) r[d] * r[d];
		s = sqrt(s);
		for (d = 0; d < dim; d++)
			r[d] = (float) (r[d] / s);
	}
}

static double
l2sq_double(const float *a, const float *b, int dim)
{
	double		s = 0.0;
	int			d;

	for (d = 0; d < dim; d++)
	{
		double		t = (double) a[d] - b[d];

		s += t * t;
	}
	return s;
}

static KMeansParams
default_params(int k)
{
	KMeansParams p;

	memset(&p, 0, sizeof(p));
	p.k = k;
	p.max_iterations = 50;
	p.tolerance = 1e-4;
	p.seed = 42;
	return p;
}

/* Sum over points of the squared distance to the nearest centroid. */
static double
brute_objective(const float *x, int64_t n, int dim, const float *c, int k)
{
	double		total = 0.0;
	int64_t		i;

	for (i = 0; i < n; i++)
	{
		double		best = INFINITY;
		int			j;

		for (j = 0; j < k; j++)
		{
			double		d = l2sq_double(x + (size_t) i * dim,
										c + (size_t) j * dim, dim);

			if (d < best)
				best = d;
		}
		total += best;
	}
	return total;
}

/* ---- blobs ---- */

/*
 * nb well-separated Gaussian blobs of per points each; labels in lab,
 * true centres in ctr.
 */
static float *
make_blobs(int nb, int per, int dim, float sigma, float spread,
		   float *ctr, int *lab)
{
	float	   *x = malloc((size_t) nb * per * dim * sizeof(float));
	int			b,
				i,
				d;

	for (b = 0; b < nb; b++)
		for (d = 0; d < dim; d++)
			ctr[b * dim + d] = spread * rng_float();
	for (b = 0; b < nb; b++)
		for (i = 0; i < per; i++)
		{
			int			row = b * per + i;

			lab[row] = b;
			for (d = 0; d < dim; d++)
				x[(size_t) row * dim + d] = ctr[b * dim + d] + sigma * rng_gauss();
		}
	return x;
}

static void
test_blobs(void)
{
	enum
	{
		NB = 10, PER = 200, DIM = 16, N = NB * PER
	};
	float		ctr[NB * DIM];
	int		   *lab = malloc(N * sizeof(int));
	float	   *x = make_blobs(NB, PER, DIM, 0.1f, 10.0f, ctr, lab);
	float		cent[NB * DIM];
	int32_t    *assign = malloc(N * sizeof(int32_t));
	uint64_t	seed;

	for (seed = 1; seed <= 5; seed++)
	{
		KMeansParams p = default_params(NB);
		KMeansResult r;
		bool		ok;
		int			matched[NB];
		int			j,
					b,
					i;
		double		worst = 0.0;
		bool		one_to_one = true;
		int			pure = 0;

		p.seed = seed;
		ok = kmeans_train(x, N, DIM, &p, cent, &r);
		check(ok, "blobs: train returns true");

		/* every centroid near a distinct true centre */
		memset(matched, 0, sizeof(matched));
		for (j = 0; j < NB; j++)
		{
			double		best = INFINITY;
			int			bb = 0;

			for (b = 0; b < NB; b++)
			{
				double		d = l2sq_double(cent + j * DIM, ctr + b * DIM, DIM);

				if (d < best)
				{
					best = d;
					bb = b;
				}
			}
			matched[bb]++;
			if (sqrt(best) > worst)
				worst = sqrt(best);
		}
		for (b = 0; b < NB; b++)
			if (matched[b] != 1)
				one_to_one = false;
		check(one_to_one, "blobs: one centroid per blob");
		check(worst < 0.05, "blobs: centroids within 0.05 of the true centres");

		/* purity: each cluster holds a single label */
		kmeans_assign(x, N, DIM, cent, NB, assign, NULL, &p);
		for (j = 0; j < NB; j++)
		{
			int			count[NB];
			int			best = 0;

			memset(count, 0, sizeof(count));
			for (i = 0; i < N; i++)
				if (assign[i] == j)
					count[lab[i]]++;
			for (b = 0; b < NB; b++)
				if (count[b] > best)
					best = count[b];
			pure += best;
		}
		check(pure == N, "blobs: purity 1.0");
		check(r.iterations >= 1 && r.iterations < 50,
			  "blobs: converges before max_iterations");
		check(fabs(r.objective - brute_objective(x, N, DIM, cent, NB)) <=
			  1e-3 * r.objective + 1e-3,
			  "blobs: reported objective matches brute force");
		check(r.empty_clusters_fixed == 0, "blobs: no empty clusters");
		if (seed == 1)
			printf("# blobs: %d iterations, objective %.4f, worst centre error %.4f\n",
				   r.iterations, r.objective, worst);
	}
	free(assign);
	free(x);
	free(lab);
}

/* ---- objective monotone in max_iterations ---- */

static void
monotone_case(bool spherical, const char *label)
{
	int			n = 3000,
				dim = 8,
				k = 24;
	float	   *x = random_data(n, dim);
	float	   *cent = malloc((size_t) k * dim * sizeof(float));
	double		prev = INFINITY;
	int			t;
	bool		mono = true;
	bool		matches = true;
	bool		any_empty = false;
	char		what[128];

	if (spherical)
		normalize_rows(x, n, dim);
	for (t = 0; t <= 20; t++)
	{
		KMeansParams p = default_params(k);
		KMeansResult r;

		p.max_iterations = t;
		p.tolerance = 1e-12;
		p.spherical = spherical;
		p.seed = 7;
		kmeans_train(x, n, dim, &p, cent, &r);
		if (r.empty_clusters_fixed > 0)
			any_empty = true;
		if (r.objective > prev * (1.0 + 1e-5))
		{
			mono = false;
			printf("# %s: objective %.6f after %d iterations > %.6f before\n",
				   label, r.objective, t, prev);
		}
		if (fabs(r.objective - brute_objective(x, n, dim, cent, k)) >
			1e-4 * r.objective)
			matches = false;
		if (t == 0 || t == 20)
			printf("# %s: max_iterations %d: objective %.4f (%d run)\n",
				   label, t, r.objective, r.iterations);
		prev = r.objective;
	}
	snprintf(what, sizeof(what), "%s: objective non-increasing", label);
	check(mono, what);
	snprintf(what, sizeof(what), "%s: objective matches brute force", label);
	check(matches, what);
	snprintf(what, sizeof(what), "%s: no empty-cluster repair interferes", label);
	check(!any_empty, what);
	free(cent);
	free(x);
}

static void
test_monotone(void)
{
	monotone_case(false, "monotone L2");
	monotone_case(true, "monotone spherical");
}

/* ---- kmeans_assign vs brute force ---- */

static void
test_assign(void)
{
	static const int dims[] = {1, 3, 17, 784};
	static const int ks[] = {1, 2, 7, 1000};
	size_t		di,
				ki;

	for (di = 0; di < sizeof(dims) / sizeof(dims[0]); di++)
		for (ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
		{
			int			dim = dims[di];
			int			k = ks[ki];
			int64_t		n = dim >= 784 ? 700 : 5000;
			float	   *x = random_data(n, dim);
			float	   *c = random_data(k, dim);
			int32_t    *assign = malloc((size_t) n * sizeof(int32_t));
			int32_t    *assign2 = malloc((size_t) n * sizeof(int32_t));
			float	   *dist = malloc((size_t) n * sizeof(float));
			int64_t		i;
			int64_t		bad_idx = 0,
						bad_dist = 0,
						differ = 0;
			char		what[128];

			kmeans_assign(x, n, dim, c, k, assign, dist, NULL);
			kmeans_assign(x, n, dim, c, k, assign2, NULL, NULL);
			for (i = 0; i < n; i++)
			{
				const float *xr = x + (size_t) i * dim;
				double		best = INFINITY;
				int			bj = 0;
				double		got;
				double		scale;
				int			j;

				for (j = 0; j < k; j++)
				{
					double		d = l2sq_double(xr, c + (size_t) j * dim, dim);

					if (d < best)
					{
						best = d;
						bj = j;
					}
				}
				/* float rounding in ||x||^2 - 2 x.c + ||c||^2 */
				scale = 1e-5 * (2.0 * dim + best);
				if (assign[i] < 0 || assign[i] >= k)
				{
					bad_idx++;
					continue;
				}
				got = l2sq_double(xr, c + (size_t) assign[i] * dim, dim);
				if (got > best + scale)
					bad_idx++;
				if (assign[i] != bj)
					differ++;
				if (fabs(dist[i] - best) > scale)
					bad_dist++;
				if (assign2[i] != assign[i])
					bad_idx++;
			}
			snprintf(what, sizeof(what),
					 "assign dim=%d k=%d: nearest centroid (%lld wrong)",
					 dim, k, (long long) bad_idx);
			check(bad_idx == 0, what);
			snprintf(what, sizeof(what),
					 "assign dim=%d k=%d: distances (%lld wrong)",
					 dim, k, (long long) bad_dist);
			check(bad_dist == 0, what);
			if (differ > 0)
				printf("# assign dim=%d k=%d: %lld near-ties resolved differently\n",
					   dim, k, (long long) differ);
			free(dist);
			free(assign2);
			free(assign);
			free(c);
			free(x);
		}
}

/* ---- determinism ---- */

static void
test_determinism(void)
{
	int			n = 5000,
				dim = 12,
				k = 40;
	float	   *x = random_data(n, dim);
	float	   *c1 = malloc((size_t) k * dim * sizeof(float));
	float	   *c2 = malloc((size_t) k * dim * sizeof(float));
	float	   *c3 = malloc((size_t) k * dim * sizeof(float));
	KMeansParams p = default_params(k);
	KMeansResult r1,
				r2,
				r3;

	p.seed = 123;
	kmeans_train(x, n, dim, &p, c1, &r1);
	kmeans_train(x, n, dim, &p, c2, &r2);
	p.seed = 124;
	kmeans_train(x, n, dim, &p, c3, &r3);
	check(memcmp(c1, c2, (size_t) k * dim * sizeof(float)) == 0,
		  "determinism: same seed, same centroids");
	check(r1.iterations == r2.iterations && r1.objective == r2.objective,
		  "determinism: same seed, same result");
	check(memcmp(c1, c3, (size_t) k * dim * sizeof(float)) != 0,
		  "determinism: another seed, other centroids");
	free(c3);
	free(c2);
	free(c1);
	free(x);
}

/* ---- degenerate inputs ---- */

static void
test_small_n(void)
{
	int			dim = 5;
	float	   *x = random_data(5, dim);
	float		c[12 * 5];
	KMeansParams p = default_params(12);
	KMeansResult r;
	bool		ok;
	bool		same = true;
	int			j;

	ok = kmeans_train(x, 5, dim, &p, c, &r);
	check(ok, "n < k: returns true");
	for (j = 0; j < 12; j++)
		if (memcmp(c + j * dim, x + (j % 5) * dim, dim * sizeof(float)) != 0)
			same = false;
	check(same, "n < k: points, then repeats of them in order");
	check(r.objective == 0.0 && r.iterations == 0, "n < k: objective 0");

	p.k = 5;
	ok = kmeans_train(x, 5, dim, &p, c, &r);
	check(ok && memcmp(c, x, 5 * dim * sizeof(float)) == 0,
		  "n == k: the points themselves");

	p.k = 3;
	check(!kmeans_train(x, 0, dim, &p, c, &r), "n == 0 rejected");
	check(!kmeans_train(x, 5, 0, &p, c, &r), "dim == 0 rejected");
	p.k = 0;
	check(!kmeans_train(x, 5, dim, &p, c, &r), "k == 0 rejected");
	check(!kmeans_train(x, 5, dim, NULL, c, &r), "NULL params rejected");

	/* k == 1: the mean */
	{
		int			n = 1000;
		float	   *y = random_data(n, dim);
		double		mean[5] = {0};
		int			i,
					d;
		bool		close = true;

		p.k = 1;
		kmeans_train(y, n, dim, &p, c, &r);
		for (i = 0; i < n; i++)
			for (d = 0; d < dim; d++)
				mean[d] += y[i * dim + d] / (double) n;
		for (d = 0; d < dim; d++)
			if (fabs(mean[d] - c[d]) > 1e-5)
				close = false;
		check(close, "k == 1: centroid is the mean");
		free(y);
	}
	free(x);
}

static void
test_empty_clusters(void)
{
	/* 4 distinct points, 25 copies each, 6 centroids: 2 clusters stay empty */
	{
		int			dim = 3,
					n = 100,
					k = 6;
		float		loc[4 * 3] = {0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5};
		float	   *x = malloc((size_t) n * dim * sizeof(float));
		float		c[6 * 3];
		KMeansParams p = default_params(k);
		KMeansResult r;
		int			i,
					j;
		bool		all_found = true;
		bool		finite = true;

		for (i = 0; i < n; i++)
			memcpy(x + i * dim, loc + (i % 4) * dim, dim * sizeof(float));
		check(kmeans_train(x, n, dim, &p, c, &r), "duplicates: returns true");
		check(r.empty_clusters_fixed > 0, "duplicates: empty clusters counted");
		for (i = 0; i < 4; i++)
		{
			bool		found = false;

			for (j = 0; j < k; j++)
				if (l2sq_double(loc + i * dim, c + j * dim, dim) < 1e-10)
					found = true;
			if (!found)
				all_found = false;
		}
		for (j = 0; j < k * dim; j++)
			if (!isfinite(c[j]))
				finite = false;
		check(all_found, "duplicates: every distinct point is a centroid");
		check(finite, "duplicates: centroids finite");
		check(r.objective < 1e-6, "duplicates: objective 0");
		check(r.iterations < p.max_iterations,
			  "duplicates: converges despite unsplittable empty clusters");
		free(x);
	}

	/*
	 * A few outliers among many copies of one point, more points than the
	 * seeding sample: when the sample misses the outliers every seed is
	 * that point, two clusters are empty, and only splitting the one
	 * cluster with spread can give the outliers a centroid.
	 */
	{
		int			dim = 4,
					n = 200000,
					k = 3;
		float	   *x = malloc((size_t) n * dim * sizeof(float));
		float		c[3 * 4];
		int			out_at[3] = {12345, 99999, 177777};
		int			i,
					d;
		int			split_runs = 0;
		bool		found_b = true;
		bool		low_obj = true;
		uint64_t	seed;

		for (i = 0; i < n * dim; i++)
			x[i] = 1.0f;
		for (i = 0; i < 3; i++)
			for (d = 0; d < dim; d++)
			{
				x[(size_t) out_at[i] * dim + d] = 10.0f + 0.1f * rng_gauss();
			}
		for (seed = 1; seed <= 10; seed++)
		{
			KMeansParams p = default_params(k);
			KMeansResult r;
			int			j,
						o;

			p.seed = seed;
			kmeans_train(x, n, dim, &p, c, &r);
			if (r.empty_clusters_fixed == 0)
				continue;
			split_runs++;
			for (o = 0; o < 3; o++)
			{
				double		best = INFINITY;

				for (j = 0; j < k; j++)
				{
					double		dd = l2sq_double(c + j * dim,
												 x + (size_t) out_at[o] * dim,
												 dim);

					if (dd < best)
						best = dd;
				}
				if (best > 0.25)
					found_b = false;
			}
			if (r.objective > 1.0)
				low_obj = false;
		}
		printf("# split: %d of 10 runs repaired empty clusters\n", split_runs);
		check(split_runs > 0, "split: empty clusters happen and are counted");
		check(found_b, "split: the outliers get centroids of their own");
		check(low_obj, "split: objective of the repaired clustering is small");
		free(x);
	}
}

/* ---- spherical ---- */

static void
test_spherical(void)
{
	int			n = 4000,
				dim = 32,
				k = 16;
	float	   *x = random_data(n, dim);
	float	   *c = malloc((size_t) k * dim * sizeof(float));
	KMeansParams p = default_params(k);
	KMeansResult r;
	bool		unit = true;
	int			j,
				d;

	normalize_rows(x, n, dim);
	p.spherical = true;
	kmeans_train(x, n, dim, &p, c, &r);
	for (j = 0; j < k; j++)
	{
		double		s = 0.0;

		for (d = 0; d < dim; d++)
			s += (double) c[j * dim + d] * c[j * dim + d];
		if (fabs(sqrt(s) - 1.0) > 1e-5)
			unit = false;
	}
	check(unit, "spherical: centroids have unit norm");

	/* non-spherical centroids of the same data are shorter (means) */
	p.spherical = false;
	kmeans_train(x, n, dim, &p, c, &r);
	{
		double		s = 0.0;

		for (d = 0; d < dim; d++)
			s += (double) c[d] * c[d];
		check(sqrt(s) < 0.99, "plain L2: centroids are means, not unit");
	}
	free(c);
	free(x);
}

/* ---- hooks ---- */

#define MAX_LIVE 64

static void *live[MAX_LIVE];
static int	n_live = 0;
static int	n_allocs = 0;
static bool alloc_overflow = false;
static int	hook_calls = 0;
static int	hook_jump_at = -1;
static jmp_buf hook_jmp;

static void *
track_alloc(size_t size)
{
	void	   *p = malloc(size);

	n_allocs++;
	if (n_live < MAX_LIVE)
		live[n_live++] = p;
	else
		alloc_overflow = true;
	return p;
}

static void
track_release(void *p)
{
	int			i;

	for (i = 0; i < n_live; i++)
		if (live[i] == p)
		{
			live[i] = live[--n_live];
			free(p);
			return;
		}
	alloc_overflow = true;		/* unknown pointer */
}

static void
count_hook(void *arg)
{
	(*(int *) arg)++;
	hook_calls++;
	if (hook_calls == hook_jump_at)
		longjmp(hook_jmp, 1);
}

static void
test_hooks(void)
{
	int			n = 20000,
				dim = 16,
				k = 64;
	float	   *x = random_data(n, dim);
	float	   *c = malloc((size_t) k * dim * sizeof(float));
	int32_t    *assign = malloc((size_t) n * sizeof(int32_t));
	KMeansParams p = default_params(k);
	KMeansResult r;
	int			arg_count = 0;
	int			train_calls;

	p.interrupt_hook = count_hook;
	p.interrupt_arg = &arg_count;
	p.alloc = track_alloc;
	p.release = track_release;

	kmeans_train(x, n, dim, &p, c, &r);
	train_calls = hook_calls;
	check(train_calls > r.iterations, "hooks: interrupt hook called in train");
	check(arg_count == hook_calls, "hooks: interrupt_arg passed through");
	check(n_allocs > 0 && n_live == 0 && !alloc_overflow,
		  "hooks: train allocates through the hooks and frees everything");

	n_allocs = 0;
	kmeans_assign(x, n, dim, c, k, assign, NULL, &p);
	check(hook_calls > train_calls, "hooks: interrupt hook called in assign");
	check(n_allocs > 0 && n_live == 0 && !alloc_overflow,
		  "hooks: assign allocates through the hooks and frees everything");

	/*
	 * A hook that longjmps (ereport) mid-seeding and mid-Lloyd: whatever is
	 * left allocated came from the hooks, so a memory context reclaims it.
	 */
	{
		static const int jump_at[] = {5, 100};
		size_t		jj;

		for (jj = 0; jj < sizeof(jump_at) / sizeof(jump_at[0]); jj++)
		{
			hook_calls = 0;
			hook_jump_at = jump_at[jj];
			if (setjmp(hook_jmp) == 0)
			{
				kmeans_train(x, n, dim, &p, c, &r);
				check(false, "hooks: longjmp out of the hook");
			}
			else
			{
				check(n_live > 0 && !alloc_overflow,
					  "hooks: longjmp leaves only hook-allocated memory");
				while (n_live > 0)
					track_release(live[n_live - 1]);
			}
		}
		hook_jump_at = -1;
	}

	/* and training still works afterwards */
	check(kmeans_train(x, n, dim, &p, c, &r) && n_live == 0,
		  "hooks: train after a longjmp");
	free(assign);
	free(c);
	free(x);
}

/* ---- PQ-like: many small sub-vectors, 256 centroids ---- */

static void
test_pq_like(void)
{
	int			n = 20000,
				dim = 8,
				k = 256;
	float	   *x = random_data(n, dim);
	float	   *c = malloc((size_t) k * dim * sizeof(float));
	KMeansParams p = default_params(k);
	KMeansResult r0,
				r;

	p.max_iterations = 0;
	kmeans_train(x, n, dim, &p, c, &r0);
	p.max_iterations = 50;
	check(kmeans_train(x, n, dim, &p, c, &r), "pq-like: returns true");
	printf("# pq-like: seeds %.2f -> %.2f after %d iterations\n",
		   r0.objective, r.objective, r.iterations);
	check(r.objective < 0.9 * r0.objective, "pq-like: Lloyd improves on seeds");
	free(c);
	free(x);
}

int
main(void)
{
	lance_kernels_init();
	kmeans_set_threads(1);

	test_blobs();
	test_monotone();
	test_assign();
	test_determinism();
	test_small_n();
	test_empty_clusters();
	test_spherical();
	test_hooks();
	test_pq_like();

	/* the portable argmin (taken when the kernels are scalar) */
	if (lance_kernels_use("scalar"))
	{
		test_assign();
		test_blobs();
		lance_kernels_use("auto");
	}

	/* the same answers with two OpenBLAS threads */
	kmeans_set_threads(2);
	test_assign();
	test_determinism();

	printf("%d passed, %d failed\n", n_passed, n_failed);
	return n_failed == 0 ? 0 : 1;
}
