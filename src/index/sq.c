/*
 * sq.c
 *	  8-bit scalar quantizer: per-dimension range, one byte per dimension,
 *	  plus the exact norm of the quantisation residual so every estimate
 *	  comes with a guaranteed lower bound (triangle inequality).
 *
 * For L2 the query is mapped once into code units, q'_i = (q_i - min_i) /
 * step_i, so the distance to a code is sum step_i^2 (q'_i - c_i)^2: one
 * byte-to-float conversion and one FMA per dimension.  For IP the estimate
 * is the affine sum -sum q_i min_i - sum (q_i step_i) c_i.
 *
 * The range is the sample's plain min/max: clipping to the 0.1%/99.9%
 * quantiles measured 1.5-6x larger mean relative distance errors on
 * Gaussian and clustered data (a few clipped coordinates cost more than the
 * finer step gains), and it would need a sort per dimension.
 */
#include "index/quantizer_int.h"

#include "kernels/distance.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SQ_HAVE_AVX2 1
#define SQ_AVX2 __attribute__((target("avx2,fma")))
#endif

bool
sq_train(Quantizer *q, const float *sample, int64_t n,
		 const QuantOptions *opts)
{
	int			dim = q->dim;
	int			i;
	int64_t		j;
	float	   *lo = q->sq_min;
	float	   *hi = q->sq_step;	/* holds the maxima until the end */

	for (i = 0; i < dim; i++)
	{
		lo[i] = INFINITY;
		hi[i] = -INFINITY;
	}
	for (j = 0; j < n; j++)
	{
		const float *x = sample + j * dim;

		if (opts->interrupt_hook && (j & 4095) == 4095)
			opts->interrupt_hook(opts->interrupt_arg);
		for (i = 0; i < dim; i++)
		{
			/* skip NaN and infinities: they would poison the range */
			if (!isfinite(x[i]))
				continue;
			if (x[i] < lo[i])
				lo[i] = x[i];
			if (x[i] > hi[i])
				hi[i] = x[i];
		}
	}

	for (i = 0; i < dim; i++)
	{
		if (!(lo[i] <= hi[i]))
		{
			/* no finite value seen */
			lo[i] = 0.0f;
			hi[i] = 0.0f;
		}
		/* divide first: max - min can overflow */
		hi[i] = hi[i] / 255.0f - lo[i] / 255.0f;
	}
	return true;
}

void
sq_encode(const Quantizer *q, const float *x, uint8_t *code, float *aux)
{
	double		err = 0.0;
	int			i;

	for (i = 0; i < q->dim; i++)
	{
		float		step = q->sq_step[i];
		float		c = 0.0f;
		double		d;

		if (step > 0.0f)
		{
			c = rintf((x[i] - q->sq_min[i]) / step);
			if (!(c >= 0.0f))	/* also maps NaN to 0 */
				c = 0.0f;
			else if (c > 255.0f)
				c = 255.0f;
		}
		code[i] = (uint8_t) c;
		d = (double) x[i] - ((double) q->sq_min[i] + (double) c * step);
		err += d * d;
	}
	/* round up so the bound derived from it stays conservative */
	aux[0] = nextafterf((float) sqrt(err), INFINITY);
}

void
sq_decode(const Quantizer *q, const uint8_t *code, float *out)
{
	int			i;

	for (i = 0; i < q->dim; i++)
		out[i] = q->sq_min[i] + (float) code[i] * q->sq_step[i];
}

/*
 * L2: table = q' (query in code units), table2 = step^2; dimensions with a
 * zero range contribute a constant.  IP: table = q_i * step_i, constant =
 * -sum q_i min_i.
 */
void
sq_query_reset(QuantQuery *qq)
{
	const Quantizer *q = qq->q;
	const float *x = qq->query;
	double		cst = 0.0;
	double		qn = 0.0;
	double		dmax = 0.0;
	double		mag = 0.0;
	int			i;

	for (i = 0; i < q->dim; i++)
	{
		float		mn = q->sq_min[i];
		float		step = q->sq_step[i];
		double		top = fmax(fabs(mn), fabs(mn + 255.0 * step));

		dmax += top * top;
		qn += (double) x[i] * x[i];
		if (q->metric == QMETRIC_IP)
		{
			qq->table[i] = x[i] * step;
			qq->table2[i] = 0.0f;
			cst -= (double) x[i] * mn;
		}
		else if (step > 0.0f)
		{
			qq->table[i] = (x[i] - mn) / step;
			qq->table2[i] = step * step;
		}
		else
		{
			qq->table[i] = 0.0f;
			qq->table2[i] = 0.0f;
			cst += ((double) x[i] - mn) * ((double) x[i] - mn);
		}
	}
	qq->constant = (float) cst;
	qq->qnorm = (float) sqrt(qn);
	qq->dmax = (float) sqrt(dmax);

	/*
	 * Float rounding of the estimate, relative to the magnitude of its
	 * terms: for IP |sum| <= ||q|| * max ||decoded||; for L2 it is
	 * handled relatively in sq_estimate.
	 */
	mag = sqrt(qn) * sqrt(dmax);
	qq->slack = (float) (mag * 1e-5 + 1e-30);

	/* build mode: the query in whole code units, inside the code range */
	if (qq->sq_fast)
		for (i = 0; i < q->dim; i++)
		{
			float		t = rintf(qq->table[i]);

			qq->sq_qi[i] = (int16_t) (t > 0.0f ? (t < 255.0f ? t : 255.0f) : 0.0f);
		}
}

static float
sq_l2_scalar(const float *qp, const float *w, const uint8_t *c, int dim)
{
	float		s0 = 0.0f;
	float		s1 = 0.0f;
	int			i = 0;

	for (; i + 2 <= dim; i += 2)
	{
		float		d0 = qp[i] - (float) c[i];
		float		d1 = qp[i + 1] - (float) c[i + 1];

		s0 += w[i] * d0 * d0;
		s1 += w[i + 1] * d1 * d1;
	}
	for (; i < dim; i++)
	{
		float		d = qp[i] - (float) c[i];

		s0 += w[i] * d * d;
	}
	return s0 + s1;
}

static float
sq_dot_scalar(const float *v, const uint8_t *c, int dim)
{
	float		s0 = 0.0f;
	float		s1 = 0.0f;
	int			i = 0;

	for (; i + 2 <= dim; i += 2)
	{
		s0 += v[i] * (float) c[i];
		s1 += v[i + 1] * (float) c[i + 1];
	}
	for (; i < dim; i++)
		s0 += v[i] * (float) c[i];
	return s0 + s1;
}

#ifdef SQ_HAVE_AVX2

SQ_AVX2 static inline __m256
load_u8x8(const uint8_t *p)
{
	__m128i		b = _mm_loadl_epi64((const __m128i *) p);

	return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
}

SQ_AVX2 static inline float
hsum8(__m256 v)
{
	__m128		s = _mm_add_ps(_mm256_castps256_ps128(v),
							   _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

SQ_AVX2 static float
sq_l2_avx2(const float *qp, const float *w, const uint8_t *c, int dim)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	int			i = 0;
	float		sum;

	for (; i + 16 <= dim; i += 16)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(qp + i), load_u8x8(c + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(qp + i + 8),
									   load_u8x8(c + i + 8));

		s0 = _mm256_fmadd_ps(_mm256_mul_ps(d0, d0), _mm256_loadu_ps(w + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_mul_ps(d1, d1), _mm256_loadu_ps(w + i + 8), s1);
	}
	for (; i + 8 <= dim; i += 8)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(qp + i), load_u8x8(c + i));

		s0 = _mm256_fmadd_ps(_mm256_mul_ps(d0, d0), _mm256_loadu_ps(w + i), s0);
	}
	sum = hsum8(_mm256_add_ps(s0, s1));
	for (; i < dim; i++)
	{
		float		d = qp[i] - (float) c[i];

		sum += w[i] * d * d;
	}
	return sum;
}

SQ_AVX2 static float
sq_dot_avx2(const float *v, const uint8_t *c, int dim)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	int			i = 0;
	float		sum;

	for (; i + 16 <= dim; i += 16)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + i), load_u8x8(c + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + i + 8), load_u8x8(c + i + 8), s1);
	}
	for (; i + 8 <= dim; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + i), load_u8x8(c + i), s0);
	sum = hsum8(_mm256_add_ps(s0, s1));
	for (; i < dim; i++)
		sum += v[i] * (float) c[i];
	return sum;
}

/*
 * Build mode: sum w_i (q_i - c_i)^2 with q, w int16 and c uint8 codes
 * (|q - c| <= 255, w <= 127: every (q - c) w fits 16 bits, each of the 8
 * lanes sums at most 2048/8 terms (q - c)^2 w < 2^23, below 2^31).  The
 * total can pass 2^31 from about 260 dimensions, so the lanes are added in
 * 64 bits.
 */
SQ_AVX2 static inline int64_t
sq_int_hsum(__m256i acc)
{
	__m256i		wide = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc)),
										_mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc, 1)));
	__m128i		s = _mm_add_epi64(_mm256_castsi256_si128(wide),
								  _mm256_extracti128_si256(wide, 1));

	return _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
}

SQ_AVX2 static int64_t
sq_int_l2_avx2(const int16_t *qi, const int16_t *wi, const uint8_t *c, int dim)
{
	__m256i		acc = _mm256_setzero_si256();
	int			i = 0;
	int64_t		sum;

	for (; i + 16 <= dim; i += 16)
	{
		__m256i		cv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *) (c + i)));
		__m256i		d = _mm256_sub_epi16(_mm256_loadu_si256((const __m256i *) (qi + i)), cv);
		__m256i		dw = _mm256_mullo_epi16(d, _mm256_loadu_si256((const __m256i *) (wi + i)));

		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, dw));
	}
	sum = sq_int_hsum(acc);
	for (; i < dim; i++)
	{
		int32_t		d = qi[i] - c[i];

		sum += (int64_t) d * d * wi[i];
	}
	return sum;
}

/* the same between two codes */
SQ_AVX2 static int64_t
sq_int_sym_l2_avx2(const int16_t *wi, const uint8_t *a, const uint8_t *c, int dim)
{
	__m256i		acc = _mm256_setzero_si256();
	int			i = 0;
	int64_t		sum;

	for (; i + 16 <= dim; i += 16)
	{
		__m256i		av = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *) (a + i)));
		__m256i		cv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *) (c + i)));
		__m256i		d = _mm256_sub_epi16(av, cv);
		__m256i		dw = _mm256_mullo_epi16(d, _mm256_loadu_si256((const __m256i *) (wi + i)));

		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, dw));
	}
	sum = sq_int_hsum(acc);
	for (; i < dim; i++)
	{
		int32_t		d = (int32_t) a[i] - c[i];

		sum += (int64_t) d * d * wi[i];
	}
	return sum;
}

/* sum (step_i (a_i - b_i))^2: L2 between the vectors two codes decode to */
SQ_AVX2 static float
sq_sym_l2_avx2(const float *step, const uint8_t *a, const uint8_t *b, int dim)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	int			i = 0;
	float		sum;

	for (; i + 16 <= dim; i += 16)
	{
		__m128i		va = _mm_loadu_si128((const __m128i *) (a + i));
		__m128i		vb = _mm_loadu_si128((const __m128i *) (b + i));
		__m256i		d16 = _mm256_sub_epi16(_mm256_cvtepu8_epi16(va),
										   _mm256_cvtepu8_epi16(vb));
		__m256		d0 = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(d16)));
		__m256		d1 = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(d16, 1)));

		d0 = _mm256_mul_ps(d0, _mm256_loadu_ps(step + i));
		d1 = _mm256_mul_ps(d1, _mm256_loadu_ps(step + i + 8));
		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	sum = hsum8(_mm256_add_ps(s0, s1));
	for (; i < dim; i++)
	{
		float		d = ((float) a[i] - (float) b[i]) * step[i];

		sum += d * d;
	}
	return sum;
}

#endif							/* SQ_HAVE_AVX2 */

void
sq_estimate(const QuantQuery *qq, const uint8_t *codes, const float *aux,
			int n, float *est, float *lower)
{
	const Quantizer *q = qq->q;
	int			dim = q->dim;
	bool		ip = q->metric == QMETRIC_IP;
	/* locals: stores to est[] could alias qq's float fields otherwise */
	const float *t1 = qq->table;
	const float *t2 = qq->table2;
	float		constant = qq->constant;
	float		qnorm = qq->qnorm;
	float		slack = qq->slack;
	int			i;

	for (i = 0; i < n; i++)
	{
		const uint8_t *c = codes + (size_t) i * dim;
		float		r = aux[i];
		float		d;

#ifdef SQ_HAVE_AVX2
		if (qq->use_avx2)
			d = ip ? sq_dot_avx2(t1, c, dim) : sq_l2_avx2(t1, t2, c, dim);
		else
#endif
			d = ip ? sq_dot_scalar(t1, c, dim) : sq_l2_scalar(t1, t2, c, dim);

		if (ip)
		{
			/* -<q,x> >= -<q,dec> - ||q|| ||x - dec|| */
			est[i] = constant - d;
			lower[i] = est[i] - qnorm * r - slack;
		}
		else
		{
			/*
			 * ||q - x|| >= ||q - dec|| - ||x - dec||; shrink ||q - dec||
			 * by a relative 2^-14 for the float rounding of the sum.
			 */
			float		s;

			d += constant;
			est[i] = d;
			s = sqrtf(d) * (1.0f - 1.0f / 16384.0f);
			lower[i] = s > r ? (s - r) * (s - r) : 0.0f;
		}
	}
}

/* One code, estimate only (graph builds). */
float
sq_estimate_one(const QuantQuery *qq, const uint8_t *code)
{
	int			dim = qq->q->dim;
	float		d;

#ifdef SQ_HAVE_AVX2
	if (qq->sq_fast)
		return (float) sq_int_l2_avx2(qq->sq_qi, qq->sq_wi, code, dim) * qq->sq_wscale +
			qq->constant;
#endif

	if (qq->q->metric == QMETRIC_IP)
	{
#ifdef SQ_HAVE_AVX2
		if (qq->use_avx2)
			d = sq_dot_avx2(qq->table, code, dim);
		else
#endif
			d = sq_dot_scalar(qq->table, code, dim);
		return qq->constant - d;
	}
#ifdef SQ_HAVE_AVX2
	if (qq->use_avx2)
		d = sq_l2_avx2(qq->table, qq->table2, code, dim);
	else
#endif
		d = sq_l2_scalar(qq->table, qq->table2, code, dim);
	return d + qq->constant;
}

/*
 * The query is the vector a code decodes to.  For L2 that vector in code
 * units is the code itself, and dimensions with a zero range decode to
 * min_i on both sides, so the table is exact without decoding; IP decodes.
 */
void
sq_query_reset_code(QuantQuery *qq, const uint8_t *code)
{
	const Quantizer *q = qq->q;

	if (q->metric == QMETRIC_IP)
	{
		sq_decode(q, code, qq->query);
		sq_query_reset(qq);
		return;
	}
	if (qq->sq_fast)
		for (int i = 0; i < q->dim; i++)
			qq->sq_qi[i] = code[i];
	for (int i = 0; i < q->dim; i++)
	{
		float		step = q->sq_step[i];

		qq->query[i] = q->sq_min[i] + (float) code[i] * step;
		qq->table[i] = step > 0.0f ? (float) code[i] : 0.0f;
		qq->table2[i] = step * step;
	}
	qq->constant = 0.0f;
	qq->slack = 0.0f;
}

/* L2 between the vectors two codes decode to (graph builds); IP: -1 */
float
sq_code_l2(const QuantQuery *qq, const uint8_t *a, const uint8_t *b)
{
	const Quantizer *q = qq->q;
	float		sum = 0.0f;

#ifdef SQ_HAVE_AVX2
	if (qq->sq_fast)
		return (float) sq_int_sym_l2_avx2(qq->sq_wi, a, b, q->dim) * qq->sq_wscale;
	if (qq->use_avx2)
		return sq_sym_l2_avx2(q->sq_step, a, b, q->dim);
#endif
	for (int i = 0; i < q->dim; i++)
	{
		float		d = ((float) a[i] - (float) b[i]) * q->sq_step[i];

		sum += d * d;
	}
	return sum;
}

/* See quantizer_query_build_mode. */
bool
sq_build_mode(QuantQuery *qq)
{
	const Quantizer *q = qq->q;
	float		wmax = 0.0f;
	size_t		n = (size_t) q->dim;

#ifndef SQ_HAVE_AVX2
	return false;
#endif
	if (!qq->use_avx2 || q->metric == QMETRIC_IP || q->dim > 2048)
		return false;
	if (qq->sq_qi == NULL)
	{
		qq->sq_qi = quant_alloc(q, n * sizeof(int16_t));
		qq->sq_wi = quant_alloc(q, n * sizeof(int16_t));
		if (qq->sq_qi == NULL || qq->sq_wi == NULL)
			return false;
	}
	for (int i = 0; i < q->dim; i++)
		wmax = fmaxf(wmax, q->sq_step[i] * q->sq_step[i]);
	for (int i = 0; i < q->dim; i++)
	{
		float		w = q->sq_step[i] * q->sq_step[i];

		qq->sq_wi[i] = wmax > 0.0f ? (int16_t) rintf(127.0f * w / wmax) : 0;
		qq->sq_qi[i] = 0;
	}
	qq->sq_wscale = wmax / 127.0f;
	qq->sq_fast = true;
	return true;
}
