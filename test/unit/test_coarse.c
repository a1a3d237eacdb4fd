/*
 * test_coarse.c
 *	  Checks of index/coarse.c: int8 centroid copies must never rule out a
 *	  centroid the exact kernels would rank among the nearest, and should
 *	  leave few others to measure.
 */
#include "index/coarse.h"
#include "kernels/distance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	n_passed = 0;
static int	n_failed = 0;

static void
check(bool ok, const char *label, double got, double want)
{
	if (ok)
	{
		n_passed++;
		return;
	}
	n_failed++;
	if (n_failed <= 30)
	{
		printf("not ok - ");
		printf(label, got, want);
		printf("\n");
	}
}

static uint64_t rng = 88172645463325252ULL;

static double
uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double) (rng >> 11) / 9007199254740992.0;
}

static double
gauss(void)
{
	double		u = uniform() + 1e-12;
	double		v = uniform();

	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static int
cmp_float(const void *a, const void *b)
{
	float		x = *(const float *) a;
	float		y = *(const float *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * n centroids of dim dims (clustered: around a few centres, else spread),
 * scaled per dimension (one dimension constant), queries near them.
 */
static void
run(const char *set, int n, int dim, bool clustered, bool ip, double *avg_extra)
{
	float	   *cen = malloc(sizeof(float) * n * dim);
	float	   *q = malloc(sizeof(float) * dim);
	float	   *exact = malloc(sizeof(float) * n);
	float	   *sorted = malloc(sizeof(float) * n);
	float	   *work = malloc(sizeof(float) * (2 * n + dim));
	int		   *best = malloc(sizeof(int) * n);
	int		   *idx = malloc(sizeof(int) * n);
	bool	   *valid = malloc(n);
	bool	   *cand = malloc(n);
	CoarseCodes *cc;
	static const int wants[] = {1, 3, 16, 40};
	char		label[256];
	double		extra = 0;
	int			trials = 0;

	for (int i = 0; i < n; i++)
		for (int d = 0; d < dim; d++)
		{
			double		centre = clustered ? ((i % 7) - 3) * 2.0 + d % 3 : 0;
			double		spread = (d % 5 + 1) * (clustered ? 0.3 : 1.5);

			cen[i * dim + d] = d == 1 ? 0.25f : (float) (centre + spread * gauss());
		}
	cc = coarse_build(cen, n, dim, malloc);
	check(cc != NULL, "coarse_build %g %g", 0, 0);
	if (cc == NULL)
		return;
	/* the stored error is the exact rounding error, rounded up */
	for (int i = 0; i < n; i++)
	{
		double		e2 = 0;

		for (int d = 0; d < dim; d++)
		{
			double		dec = cc->offset[d] + (double) cc->scale[d] * cc->codes[i * dim + d];
			double		diff = cen[i * dim + d] - dec;

			e2 += diff * diff;
		}
		if (sqrt(e2) > cc->err[i])
		{
			snprintf(label, sizeof(label), "%s: error norm %%g <= stored %%g", set);
			check(false, label, sqrt(e2), cc->err[i]);
		}
	}

	for (int t = 0; t < 60; t++)
	{
		int			base = (int) (uniform() * n) % n;

		for (int d = 0; d < dim; d++)
			q[d] = cen[base * dim + d] + (float) (gauss() * (t % 3 + 1));
		for (int i = 0; i < n; i++)
		{
			valid[i] = (i + t) % 11 != 0;	/* some empty lists */
			exact[i] = ip ? -lance_kernels->dot_f32(q, cen + i * dim, dim)
				: lance_kernels->l2sq_f32(q, cen + i * dim, dim);
		}
		for (size_t w = 0; w < sizeof(wants) / sizeof(wants[0]); w++)
		{
			int			want = wants[w];
			int			m = 0;
			int			nc;
			float		kth;
			bool		ok = true;
			int			within = 0;

			for (int i = 0; i < n; i++)
				if (valid[i])
					sorted[m++] = exact[i];
			qsort(sorted, m, sizeof(float), cmp_float);
			kth = sorted[(want < m ? want : m) - 1];
			nc = coarse_choose(cc, q, ip, valid, want, work, best, idx);
			memset(cand, 0, n);
			for (int c = 0; c < nc; c++)
			{
				ok = ok && valid[idx[c]] && (c == 0 || idx[c] > idx[c - 1]);
				cand[idx[c]] = true;
				within += exact[idx[c]] <= kth;
			}
			for (int i = 0; i < n; i++)
				if (valid[i] && exact[i] < kth && !cand[i])
					ok = false;
			snprintf(label, sizeof(label),
					 "%s %s dim %d want %d query %d: candidates hold the nearest (%%g of %%g)",
					 set, ip ? "ip" : "l2", dim, want, t);
			check(ok && within >= (want < m ? want : m), label, within, want);
			extra += (double) (nc - want) / want;
			trials++;
		}
	}
	*avg_extra = extra / trials;
	free(cc);
	free(cen);
	free(q);
	free(exact);
	free(sorted);
	free(work);
	free(best);
	free(idx);
	free(valid);
	free(cand);
}

int
main(void)
{
	static const int dims[] = {8, 16, 100, 128, 784};
	char		label[200];

	lance_kernels_init();
	for (int path = 0; path < 2; path++)
	{
		if (path == 1 && !lance_kernels_use("scalar"))
			break;
		for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
			for (int clustered = 0; clustered < 2; clustered++)
				for (int ip = 0; ip < 2; ip++)
				{
					double		extra = 0;
					const char *set = clustered ? "clustered" : "spread";

					run(set, 300, dims[d], clustered, ip, &extra);
					/* useful, not only sound: few more than `want` measured */
					snprintf(label, sizeof(label),
							 "%s %s %s dim %d: extra candidates per wanted %%g <= %%g",
							 lance_kernels->name, set, ip ? "ip" : "l2", dims[d]);
					check(extra <= 3.0, label, extra, 3.0);
					printf("# %s %s %s dim %d: %.2f extra candidates per wanted list\n",
						   lance_kernels->name, set, ip ? "ip" : "l2", dims[d], extra);
				}
	}

	/* one centroid, or want beyond the valid ones: all valid are candidates */
	{
		float		c1[4] = {1, 2, 3, 4};
		float		q[4] = {0, 0, 0, 0};
		float		work[8];
		int			best[3];
		int			idx[3];
		CoarseCodes *cc = coarse_build(c1, 1, 4, malloc);

		check(coarse_choose(cc, q, false, NULL, 3, work, best, idx) == 1 && idx[0] == 0,
			  "one centroid: chosen %g %g", 0, 0);
		free(cc);
	}
	printf("%d passed, %d failed\n", n_passed, n_failed);
	return n_failed == 0 ? 0 : 1;
}
