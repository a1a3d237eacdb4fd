/*
 * pq.c
 *	  Product quantizer: M sub-vectors (sizes differ by at most one when M
 *	  does not divide dim), 256 or 16 centroids each, asymmetric distance
 *	  computation through a per-query look-up table.
 *
 * The index encodes residuals x - c against its list centroid c.  For L2
 * the table holds ||q_r^m - C_m[j]||^2 with q_r = q - c, so the sum over
 * sub-vectors is the distance of q to c + decode(code).  For IP it holds
 * -<q^m, C_m[j]>, and the centroid's share -<q, c> is a per-list constant.
 * 4-bit codes pack sub-vector 2k in the low nibble of byte k and 2k + 1 in
 * the high nibble.
 */
#include "index/quantizer_int.h"

#include "index/kmeans.h"
#include "kernels/distance.h"

#include <string.h>

/* First dim % M sub-vectors get one extra dimension. */
void
pq_layout(Quantizer *q)
{
	int			m = q->num_sub_vectors;
	int			base = q->dim / m;
	int			extra = q->dim % m;
	int			off = 0;
	int			i;

	for (i = 0; i < m; i++)
	{
		q->pq_offset[i] = off;
		off += base + (i < extra ? 1 : 0);
	}
	q->pq_offset[m] = off;
}

bool
pq_train(Quantizer *q, const float *sample, int64_t n,
		 const QuantOptions *opts)
{
	int			m;
	float	   *sub;
	KMeansParams params;
	bool		ok = true;

	sub = quant_alloc(q, (size_t) n * (q->dim / q->num_sub_vectors + 1) *
					  sizeof(float));
	if (sub == NULL)
		return false;

	memset(&params, 0, sizeof(params));
	params.k = q->pq_ksub;
	params.max_iterations = opts->max_iterations > 0 ? opts->max_iterations : 50;
	params.tolerance = 1e-4;
	params.spherical = false;	/* residual sub-vectors: plain L2 */
	params.interrupt_hook = opts->interrupt_hook;
	params.interrupt_arg = opts->interrupt_arg;
	params.alloc = opts->alloc;
	params.release = opts->release;

	for (m = 0; m < q->num_sub_vectors && ok; m++)
	{
		int			off = q->pq_offset[m];
		int			ds = q->pq_offset[m + 1] - off;
		int64_t		j;
		KMeansResult res;

		for (j = 0; j < n; j++)
			memcpy(sub + j * ds, sample + j * q->dim + off,
				   (size_t) ds * sizeof(float));
		/* distinct but reproducible seeds per sub-space */
		params.seed = opts->seed + UINT64_C(0x9e3779b97f4a7c15) * (uint64_t) (m + 1);
		ok = kmeans_train(sub, n, ds, &params,
						  q->pq_codebooks + (size_t) q->pq_ksub * off, &res);
	}
	quant_release(q, sub);
	return ok;
}

static float
sub_l2(const float *a, const float *b, int n)
{
	float		s = 0.0f;
	int			i;

	for (i = 0; i < n; i++)
	{
		float		d = a[i] - b[i];

		s += d * d;
	}
	return s;
}

static float
sub_dot(const float *a, const float *b, int n)
{
	float		s = 0.0f;
	int			i;

	for (i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

void
pq_encode(const Quantizer *q, const float *x, uint8_t *code)
{
	int			m;

	if (q->num_bits == 4)
		memset(code, 0, q->code_size);
	for (m = 0; m < q->num_sub_vectors; m++)
	{
		int			off = q->pq_offset[m];
		int			ds = q->pq_offset[m + 1] - off;
		const float *cb = q->pq_codebooks + (size_t) q->pq_ksub * off;
		int			best = 0;
		float		bestd = 0.0f;
		int			j;

		for (j = 0; j < q->pq_ksub; j++)
		{
			float		d = sub_l2(x + off, cb + (size_t) j * ds, ds);

			/* "!(d >= bestd)" also lets a finite d replace a NaN */
			if (j == 0 || !(d >= bestd))
			{
				best = j;
				bestd = d;
			}
		}
		if (q->num_bits == 8)
			code[m] = (uint8_t) best;
		else
			code[m >> 1] |= (uint8_t) (best << ((m & 1) * 4));
	}
}

static inline int
pq_code_at(const Quantizer *q, const uint8_t *code, int m)
{
	if (q->num_bits == 8)
		return code[m];
	return (code[m >> 1] >> ((m & 1) * 4)) & 15;
}

void
pq_decode(const Quantizer *q, const uint8_t *code, float *out)
{
	int			m;

	for (m = 0; m < q->num_sub_vectors; m++)
	{
		int			off = q->pq_offset[m];
		int			ds = q->pq_offset[m + 1] - off;
		const float *cb = q->pq_codebooks + (size_t) q->pq_ksub * off;

		memcpy(out + off, cb + (size_t) pq_code_at(q, code, m) * ds,
			   (size_t) ds * sizeof(float));
	}
}

void
pq_query_reset(QuantQuery *qq, const float *centroid)
{
	const Quantizer *q = qq->q;
	const float *x = qq->query;
	int			ksub = q->pq_ksub;
	int			m;

	if (q->metric == QMETRIC_IP)
	{
		if (centroid)
			qq->constant = -lance_kernels->dot_f32(x, centroid, (size_t) q->dim);
	}
	else if (centroid)
	{
		int			i;

		for (i = 0; i < q->dim; i++)
			qq->work[i] = x[i] - centroid[i];
		x = qq->work;
	}

	for (m = 0; m < q->num_sub_vectors; m++)
	{
		int			off = q->pq_offset[m];
		int			ds = q->pq_offset[m + 1] - off;
		const float *cb = q->pq_codebooks + (size_t) ksub * off;
		float	   *t = qq->table + (size_t) m * ksub;
		int			j;

		if (q->metric == QMETRIC_IP)
			for (j = 0; j < ksub; j++)
				t[j] = -sub_dot(x + off, cb + (size_t) j * ds, ds);
		else
			for (j = 0; j < ksub; j++)
				t[j] = sub_l2(x + off, cb + (size_t) j * ds, ds);
	}
}

void
pq_estimate(const QuantQuery *qq, const uint8_t *codes, int n, float *est,
			float *lower)
{
	const Quantizer *q = qq->q;
	int			nsub = q->num_sub_vectors;
	const float *t = qq->table;
	int			i;

	for (i = 0; i < n; i++)
	{
		const uint8_t *c = codes + (size_t) i * q->code_size;
		float		s0 = 0.0f;
		float		s1 = 0.0f;
		int			m = 0;

		if (q->num_bits == 8)
		{
			for (; m + 2 <= nsub; m += 2)
			{
				s0 += t[m * 256 + c[m]];
				s1 += t[(m + 1) * 256 + c[m + 1]];
			}
			if (m < nsub)
				s0 += t[m * 256 + c[m]];
		}
		else
		{
			for (; m + 2 <= nsub; m += 2)
			{
				s0 += t[m * 16 + (c[m >> 1] & 15)];
				s1 += t[(m + 1) * 16 + (c[m >> 1] >> 4)];
			}
			if (m < nsub)
				s0 += t[m * 16 + (c[m >> 1] & 15)];
		}
		est[i] = qq->constant + s0 + s1;
		lower[i] = est[i];
	}
}
