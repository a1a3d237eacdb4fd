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
#include <math.h>

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
	int64_t		stride = 1;

	/*
	 * Codebooks of at most 256 centroids in a few dimensions settle on far
	 * fewer rows than the IVF sample holds: use an evenly spaced subset of
	 * 64 rows per centroid (the sample is already random).
	 */
	if (n > (int64_t) 64 * q->pq_ksub)
	{
		stride = n / ((int64_t) 64 * q->pq_ksub);
		n = n / stride;
	}

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
			memcpy(sub + j * ds, sample + j * stride * q->dim + off,
				   (size_t) ds * sizeof(float));
		/* distinct but reproducible seeds per sub-space */
		params.seed = opts->seed + UINT64_C(0x9e3779b97f4a7c15) * (uint64_t) (m + 1);
		ok = kmeans_train(sub, n, ds, &params,
						  q->pq_codebooks + (size_t) q->pq_ksub * off, &res);
	}
	quant_release(q, sub);
	return ok;
}

/* Transposed codebooks: the table loops then run over contiguous centroids. */
void
pq_prepare(Quantizer *q)
{
	int			ksub = q->pq_ksub;
	int			m;

	for (m = 0; m < q->num_sub_vectors; m++)
	{
		int			off = q->pq_offset[m];
		int			ds = q->pq_offset[m + 1] - off;
		const float *src = q->pq_codebooks + (size_t) ksub * off;
		float	   *dst = q->pq_codebooks_t + (size_t) ksub * off;
		int			j;
		int			d;

		for (j = 0; j < ksub; j++)
			for (d = 0; d < ds; d++)
				dst[(size_t) d * ksub + j] = src[(size_t) j * ds + d];
	}
}

/*
 * Squared distances (L2) or negative inner products (IP) of one sub-vector
 * x to all centroids of its transposed codebook ct.  A constant ksub lets
 * the compiler vectorise the inner loops.
 */
static inline __attribute__((always_inline)) void
pq_sub_table_n(const float *restrict x, const float *restrict ct, int ds,
			   int ksub, bool ip, float *restrict out)
{
	int			d;
	int			j;

	for (j = 0; j < ksub; j++)
		out[j] = 0.0f;
	for (d = 0; d < ds; d++)
	{
		const float *row = ct + (size_t) d * ksub;
		float		xd = x[d];

		if (ip)
			for (j = 0; j < ksub; j++)
				out[j] -= xd * row[j];
		else
			for (j = 0; j < ksub; j++)
			{
				float		diff = xd - row[j];

				out[j] += diff * diff;
			}
	}
}

static void
pq_sub_table_scalar(const float *x, const float *ct, int ds, int ksub,
					bool ip, float *out)
{
	if (ksub == 256)
	{
		if (ip)
			pq_sub_table_n(x, ct, ds, 256, true, out);
		else
			pq_sub_table_n(x, ct, ds, 256, false, out);
	}
	else
	{
		if (ip)
			pq_sub_table_n(x, ct, ds, 16, true, out);
		else
			pq_sub_table_n(x, ct, ds, 16, false, out);
	}
}

#if defined(__x86_64__) || defined(__i386__)
#define PQ_HAVE_AVX2 1

/* the same loops compiled for 8-wide vectors */
__attribute__((target("avx2,fma"))) static void
pq_sub_table_avx2(const float *x, const float *ct, int ds, int ksub,
				  bool ip, float *out)
{
	if (ksub == 256)
	{
		if (ip)
			pq_sub_table_n(x, ct, ds, 256, true, out);
		else
			pq_sub_table_n(x, ct, ds, 256, false, out);
	}
	else
	{
		if (ip)
			pq_sub_table_n(x, ct, ds, 16, true, out);
		else
			pq_sub_table_n(x, ct, ds, 16, false, out);
	}
}
#endif

/* follow the kernel path in use, so "scalar" really means scalar */
static void
pq_sub_table(const float *x, const float *ct, int ds, int ksub, bool ip,
			 bool avx2, float *out)
{
#ifdef PQ_HAVE_AVX2
	if (avx2)
	{
		pq_sub_table_avx2(x, ct, ds, ksub, ip, out);
		return;
	}
#endif
	(void) avx2;
	pq_sub_table_scalar(x, ct, ds, ksub, ip, out);
}

static inline int
pq_code_at(const Quantizer *q, const uint8_t *code, int m)
{
	if (q->num_bits == 8)
		return code[m];
	return (code[m >> 1] >> ((m & 1) * 4)) & 15;
}

/*
 * Encode, and store the reconstruction error ||x - decode(code)|| in aux[0]:
 * by the triangle inequality it turns every estimate into a guaranteed
 * lower bound, so scans re-rank exactly as many candidates as needed.
 */
void
pq_encode(const Quantizer *q, const float *x, uint8_t *code, float *aux)
{
	float		dist[256];
	bool		avx2 = lance_kernels == lance_kernels_avx2();
	int			m;

	if (q->num_bits == 4)
		memset(code, 0, q->code_size);
	for (m = 0; m < q->num_sub_vectors; m++)
	{
		int			off = q->pq_offset[m];
		int			ds = q->pq_offset[m + 1] - off;
		int			best = 0;
		float		bestd;
		int			j;

		pq_sub_table(x + off, q->pq_codebooks_t + (size_t) q->pq_ksub * off,
					 ds, q->pq_ksub, false, avx2, dist);
		/* a NaN input never compares below: code 0, no harm done */
		bestd = dist[0];
		for (j = 1; j < q->pq_ksub; j++)
		{
			float		d = dist[j];

			best = d < bestd ? j : best;
			bestd = d < bestd ? d : bestd;
		}
		if (q->num_bits == 8)
			code[m] = (uint8_t) best;
		else
			code[m >> 1] |= (uint8_t) (best << ((m & 1) * 4));
	}
	if (aux)
	{
		const float *dec;
		double		err = 0;
		int			i;

		for (m = 0; m < q->num_sub_vectors; m++)
		{
			int			off = q->pq_offset[m];
			int			ds = q->pq_offset[m + 1] - off;

			dec = q->pq_codebooks + (size_t) q->pq_ksub * off +
				(size_t) pq_code_at(q, code, m) * ds;
			for (i = 0; i < ds; i++)
			{
				double		d = (double) x[off + i] - dec[i];

				err += d * d;
			}
		}
		aux[0] = (float) sqrt(err);
	}
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
	bool		ip = q->metric == QMETRIC_IP;
	bool		avx2 = lance_kernels == lance_kernels_avx2();
	int			ksub = q->pq_ksub;
	int			m;

	if (ip)
	{
		if (centroid)
			qq->constant = -lance_kernels->dot_f32(x, centroid, (size_t) q->dim);
		qq->qnorm = sqrtf(lance_kernels->dot_f32(x, x, (size_t) q->dim));
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

		pq_sub_table(x + off, q->pq_codebooks_t + (size_t) ksub * off,
					 q->pq_offset[m + 1] - off, ksub, ip, avx2,
					 qq->table + (size_t) m * ksub);
	}
}

/*
 * Table sums of four codes at once: four independent add chains hide the
 * load and add latency that dominates one code's short sum.
 */
static inline void
pq_sum4(const float *t, int nsub, bool four_bit, const uint8_t *c0,
		const uint8_t *c1, const uint8_t *c2, const uint8_t *c3, float *out)
{
	float		s0 = 0.0f;
	float		s1 = 0.0f;
	float		s2 = 0.0f;
	float		s3 = 0.0f;
	int			m;

	if (!four_bit)
	{
		for (m = 0; m < nsub; m++, t += 256)
		{
			s0 += t[c0[m]];
			s1 += t[c1[m]];
			s2 += t[c2[m]];
			s3 += t[c3[m]];
		}
	}
	else
	{
		int			k;

		/* byte k: sub-vector 2k in the low nibble, 2k + 1 in the high */
		for (k = 0; k < nsub / 2; k++, t += 32)
		{
			s0 += t[c0[k] & 15] + t[16 + (c0[k] >> 4)];
			s1 += t[c1[k] & 15] + t[16 + (c1[k] >> 4)];
			s2 += t[c2[k] & 15] + t[16 + (c2[k] >> 4)];
			s3 += t[c3[k] & 15] + t[16 + (c3[k] >> 4)];
		}
		if (nsub & 1)
		{
			s0 += t[c0[k] & 15];
			s1 += t[c1[k] & 15];
			s2 += t[c2[k] & 15];
			s3 += t[c3[k] & 15];
		}
	}
	out[0] = s0;
	out[1] = s1;
	out[2] = s2;
	out[3] = s3;
}

/*
 * Estimates from the look-up tables; lower bounds from the stored
 * reconstruction error e: L2, sqrt(d) >= sqrt(est) - e; inner product,
 * |<q, x> - <q, x^>| <= ||q|| e.  A small allowance covers float rounding.
 */
void
pq_estimate(const QuantQuery *qq, const uint8_t *codes, const float *aux,
			int n, float *est, float *lower)
{
	const Quantizer *q = qq->q;
	const float *t = qq->table;
	size_t		cs = q->code_size;
	int			nsub = q->num_sub_vectors;
	bool		four_bit = q->num_bits == 4;
	float		constant = qq->constant;
	bool		ip = q->metric == QMETRIC_IP;
	float		qnorm = qq->qnorm;
	int			i;
	int			k;

	for (i = 0; i < n; i += 4)
	{
		const uint8_t *c = codes + (size_t) i * cs;
		int			left = n - i < 4 ? n - i : 4;
		float		s[4];

		/* a short last group repeats its first code */
		pq_sum4(t, nsub, four_bit, c,
				left > 1 ? c + cs : c,
				left > 2 ? c + 2 * cs : c,
				left > 3 ? c + 3 * cs : c, s);
		for (k = 0; k < left; k++)
		{
			float		e = aux[i + k] * 1.0001f + 1e-6f;

			est[i + k] = constant + s[k];
			if (ip)
				lower[i + k] = est[i + k] - qnorm * e - 1e-5f * fabsf(est[i + k]);
			else
			{
				float		r = sqrtf(est[i + k] > 0 ? est[i + k] : 0) - e;

				lower[i + k] = r > 0 ? r * r * 0.9999f : 0;
			}
		}
	}
}
