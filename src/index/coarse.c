/*
 * coarse.c
 *	  int8 copies of IVF centroids with sound distance intervals (see
 *	  coarse.h).
 *
 * Per dimension d the centroids' range is mapped onto the codes -127..127:
 * c_d ~ offset_d + scale_d * k_d.  For a query q, q . c^ = sum_d q_d
 * offset_d + sum_d (q_d scale_d) k_d; the second sum is taken with
 * q_d scale_d rounded to int16 (an integer dot product, exact), whose
 * rounding moves it by at most half a unit times sum_d |k_d|.  With e = c - c^ (||e|| stored per centroid), the true
 * distance lies within ||e|| of the decoded centroid's in Euclidean terms
 * (L2) or within ||q|| ||e|| (dot product); a margin covers float
 * rounding in both this computation and the exact kernels.
 */
#include "index/coarse.h"

#include "kernels/distance.h"

#include <math.h>
#include <string.h>

/* relative rounding allowance of a float sum of n terms */
#define COARSE_ULP 1.2e-7

static size_t
align16(size_t x)
{
	return (x + 15) & ~(size_t) 15;
}

CoarseCodes *
coarse_build(const float *centroids, int n, int dim, void *(*alloc) (size_t size))
{
	size_t		head = align16(sizeof(CoarseCodes));
	size_t		codes = align16((size_t) n * dim);
	size_t		perdim = align16(sizeof(float) * (size_t) dim);
	size_t		percen = align16(sizeof(float) * (size_t) n);
	char	   *mem;
	CoarseCodes *cc;

	if (n <= 0 || dim <= 0)
		return NULL;
	mem = alloc(head + codes + 2 * perdim + 3 * percen);
	if (mem == NULL)
		return NULL;
	cc = (CoarseCodes *) mem;
	cc->n = n;
	cc->dim = dim;
	cc->codes = (int8_t *) (mem + head);
	cc->scale = (float *) (mem + head + codes);
	cc->offset = (float *) (mem + head + codes + perdim);
	cc->err = (float *) (mem + head + codes + 2 * perdim);
	cc->norm2 = (float *) (mem + head + codes + 2 * perdim + percen);
	cc->kabs = (float *) (mem + head + codes + 2 * perdim + 2 * percen);

	for (int d = 0; d < dim; d++)
	{
		float		mn = centroids[d];
		float		mx = centroids[d];

		for (int i = 1; i < n; i++)
		{
			float		v = centroids[(size_t) i * dim + d];

			mn = v < mn ? v : mn;
			mx = v > mx ? v : mx;
		}
		cc->offset[d] = mn / 2 + mx / 2;
		cc->scale[d] = (mx / 2 - mn / 2) / 127.0f;
		if (!(cc->scale[d] > 0.0f) || !isfinite(cc->scale[d]))
			cc->scale[d] = 0.0f;
	}
	for (int i = 0; i < n; i++)
	{
		const float *c = centroids + (size_t) i * dim;
		int8_t	   *k = cc->codes + (size_t) i * dim;
		double		e2 = 0;
		double		n2 = 0;
		long		ka = 0;

		for (int d = 0; d < dim; d++)
		{
			double		dec;
			long		v = 0;

			if (cc->scale[d] > 0.0f)
			{
				v = lroundf((c[d] - cc->offset[d]) / cc->scale[d]);
				v = v < -127 ? -127 : (v > 127 ? 127 : v);
			}
			k[d] = (int8_t) v;
			ka += v < 0 ? -v : v;
			dec = (double) cc->offset[d] + (double) cc->scale[d] * v;
			e2 += ((double) c[d] - dec) * ((double) c[d] - dec);
			n2 += (double) dec * dec;
		}
		/* rounded up: the interval must hold */
		cc->err[i] = (float) (sqrt(e2) * (1 + 1e-6)) + 1e-30f;
		cc->norm2[i] = (float) n2;
		cc->kabs[i] = (float) ka;
	}
	return cc;
}

/*
 * Per centroid: key = the distance to the decoded centroid (squared L2 or
 * negative dot), its rounding allowance tol, and the centroid's error
 * e.  The true distance is within e of the key's (Euclidean) distance, or
 * within ||q|| e of the dot.  The `want` smallest keys give a threshold,
 * the largest upper bound among them, which at least `want` centroids
 * are within; a centroid is a candidate unless its lower bound is above
 * it.  No square root per centroid: for L2, lower bound <= T is
 * sqrt(key) - e <= sqrt(T).
 */
int
coarse_choose(const CoarseCodes *cc, const float *q, bool ip,
			  const bool *valid, int want, float *work, int *best, int *idx)
{
	int			dim = cc->dim;
	int			n = cc->n;
	int16_t    *qi = (int16_t *) work;
	int32_t    *acc = (int32_t *) (work + dim);
	float	   *key = work + dim + n;
	double		qoff = 0;
	double		qn2 = 0;
	double		absum = 0;
	double		qmax = 0;
	double		rel = (dim + 16) * COARSE_ULP;
	double		imax;
	double		qs;				/* q_d scale_d ~ qi_d / qs */
	double		qn;
	double		t;
	float		c0;
	float		c1;
	float		frel;
	float		fabsum;
	float		fqerr;
	float		fqn;
	float		ft;
	int			nbest = 0;
	int			out = 0;

	if (want <= 0)
		return 0;
	for (int d = 0; d < dim; d++)
	{
		double		v = (double) q[d] * cc->scale[d];

		qmax = fmax(qmax, fabs(v));
		qoff += (double) q[d] * cc->offset[d];
		qn2 += (double) q[d] * q[d];
		absum += fabs(v) * 127 + fabs((double) q[d] * cc->offset[d]);
	}
	qn = sqrt(qn2);
	/* int32 sums: dim * 127 * max|qi| must stay below 2^31 */
	imax = fmin(32767.0, floor(2147483647.0 / (127.0 * dim)) - 1);
	qs = qmax > 0 && imax >= 1 ? imax / qmax : 0;
	for (int d = 0; d < dim; d++)
		qi[d] = (int16_t) lrint((double) q[d] * cc->scale[d] * qs);
	lance_kernels->dot_i16_i8_rows(qi, cc->codes, (size_t) dim, (size_t) n, acc);

	/*
	 * key = distance to the decoded centroid: qn2 + norm2 - 2 (qoff + acc /
	 * qs) for L2, -(qoff + acc / qs) for the dot product.
	 */
	c1 = (float) (qs > 0 ? 1.0 / qs : 0);
	if (ip)
	{
		c0 = (float) -qoff;
		for (int i = 0; i < n; i++)
			key[i] = c0 - c1 * (float) acc[i];
	}
	else
	{
		c0 = (float) (qn2 - 2 * qoff);
		c1 *= 2;
		for (int i = 0; i < n; i++)
			key[i] = c0 + cc->norm2[i] - c1 * (float) acc[i];
	}
	/* the query's rounding to int16: half a unit per |code| */
	fqerr = (float) ((ip ? 0.5 : 1.0) * (qs > 0 ? 1.0 / qs : 0) * (1 + 1e-6));
	frel = (float) rel;
	fabsum = (float) (absum + qn2);
	fqn = (float) qn;

	/* the `want` smallest keys (best[], sorted by key) */
	for (int i = 0; i < n; i++)
	{
		int			j;

		if (valid != NULL && !valid[i])
			continue;
		if (nbest == want)
		{
			/* NaN keys (a NaN query) never enter; they are kept below */
			if (!(key[i] < key[best[want - 1]]))
				continue;
			nbest--;
		}
		for (j = nbest; j > 0 && key[best[j - 1]] > key[i]; j--)
			best[j] = best[j - 1];
		best[j] = i;
		nbest++;
	}
	if (nbest < want)
		t = INFINITY;
	else
	{
		/* the largest upper bound among them */
		t = -INFINITY;
		for (int b = 0; b < nbest; b++)
		{
			int			i = best[b];
			double		tol = rel * (absum + qn2 + cc->norm2[i] + fabs(key[i])) +
				(double) fqerr * cc->kabs[i];
			double		u;

			if (ip)
				u = key[i] + qn * cc->err[i] + tol;
			else
			{
				u = sqrt(fmax(key[i] + tol, 0)) + cc->err[i];
				u = u * u;
			}
			t = fmax(t, u);
		}
		t += rel * fabs(t) + 1e-30;
		if (!ip)
			t = sqrt(t);
	}
	ft = (float) (t + 1e-6 * fabs(t));
	for (int i = 0; i < n; i++)
	{
		float		tol;

		if (valid != NULL && !valid[i])
			continue;
		tol = frel * (fabsum + cc->norm2[i] + fabsf(key[i])) + fqerr * cc->kabs[i];
		if (ip)
		{
			if (key[i] - fqn * cc->err[i] - tol > ft)
				continue;
		}
		else
		{
			float		r = ft + cc->err[i];

			/* sqrt(key - tol) - e > sqrt(T): too far */
			if (key[i] - tol > r * r)
				continue;
		}
		idx[out++] = i;
	}
	return out;
}
