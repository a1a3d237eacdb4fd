/*
 * distance_avx2.c
 *	  AVX2 + FMA + F16C + POPCNT distance kernels.
 *
 * This file is built with the portable flags (no -mavx2): the target
 * attribute enables the instructions per function, and lance_kernels_avx2()
 * hands the table out only after checking the running CPU, so the same
 * binary still runs on x86-64 machines without AVX2.
 *
 * Four independent 8-lane accumulators hide the FMA/add latency; tails
 * shorter than a vector use the scalar formulas so any n works.
 */
#include "distance.h"

#if defined(__x86_64__) || defined(__i386__)

#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define LANCE_AVX2 __attribute__((target("avx2,fma,f16c,popcnt")))

LANCE_AVX2 static inline float
hsum256(__m256 v)
{
	__m128		s = _mm_add_ps(_mm256_castps256_ps128(v),
							   _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

LANCE_AVX2 static inline __m256
load_f16(const uint16_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) p));
}

LANCE_AVX2 static inline __m256
abs256(__m256 v)
{
	return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

LANCE_AVX2 static float
avx2_l2sq_f32(const float *a, const float *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	size_t		i = 0;
	float		sum;

	for (; i + 32 <= n; i += 32)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256		d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256		d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	sum = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

LANCE_AVX2 static float
avx2_dot_f32(const float *a, const float *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	size_t		i = 0;
	float		sum;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	sum = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

LANCE_AVX2 static float
avx2_l1_f32(const float *a, const float *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	size_t		i = 0;
	float		sum;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm256_add_ps(s0, abs256(_mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))));
		s1 = _mm256_add_ps(s1, abs256(_mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8))));
		s2 = _mm256_add_ps(s2, abs256(_mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16))));
		s3 = _mm256_add_ps(s3, abs256(_mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24))));
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_add_ps(s0, abs256(_mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))));
	sum = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		sum += fabsf(d);
	}
	return sum;
}

/*
 * Three sums per element: three accumulators each (9 registers) keep both
 * FMA units busy while the six loaded vectors still fit in the 16 ymm
 * registers without spills.
 */
LANCE_AVX2 static void
avx2_cosine_f32(const float *a, const float *b, size_t n,
				float *dot, float *norm_a, float *norm_b)
{
	__m256		ab0 = _mm256_setzero_ps();
	__m256		ab1 = _mm256_setzero_ps();
	__m256		ab2 = _mm256_setzero_ps();
	__m256		aa0 = _mm256_setzero_ps();
	__m256		aa1 = _mm256_setzero_ps();
	__m256		aa2 = _mm256_setzero_ps();
	__m256		bb0 = _mm256_setzero_ps();
	__m256		bb1 = _mm256_setzero_ps();
	__m256		bb2 = _mm256_setzero_ps();
	size_t		i = 0;
	float		ab;
	float		aa;
	float		bb;

	for (; i + 24 <= n; i += 24)
	{
		__m256		x0 = _mm256_loadu_ps(a + i);
		__m256		y0 = _mm256_loadu_ps(b + i);
		__m256		x1 = _mm256_loadu_ps(a + i + 8);
		__m256		y1 = _mm256_loadu_ps(b + i + 8);
		__m256		x2 = _mm256_loadu_ps(a + i + 16);
		__m256		y2 = _mm256_loadu_ps(b + i + 16);

		ab0 = _mm256_fmadd_ps(x0, y0, ab0);
		aa0 = _mm256_fmadd_ps(x0, x0, aa0);
		bb0 = _mm256_fmadd_ps(y0, y0, bb0);
		ab1 = _mm256_fmadd_ps(x1, y1, ab1);
		aa1 = _mm256_fmadd_ps(x1, x1, aa1);
		bb1 = _mm256_fmadd_ps(y1, y1, bb1);
		ab2 = _mm256_fmadd_ps(x2, y2, ab2);
		aa2 = _mm256_fmadd_ps(x2, x2, aa2);
		bb2 = _mm256_fmadd_ps(y2, y2, bb2);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		x = _mm256_loadu_ps(a + i);
		__m256		y = _mm256_loadu_ps(b + i);

		ab0 = _mm256_fmadd_ps(x, y, ab0);
		aa0 = _mm256_fmadd_ps(x, x, aa0);
		bb0 = _mm256_fmadd_ps(y, y, bb0);
	}
	ab = hsum256(_mm256_add_ps(_mm256_add_ps(ab0, ab1), ab2));
	aa = hsum256(_mm256_add_ps(_mm256_add_ps(aa0, aa1), aa2));
	bb = hsum256(_mm256_add_ps(_mm256_add_ps(bb0, bb1), bb2));
	for (; i < n; i++)
	{
		ab += a[i] * b[i];
		aa += a[i] * a[i];
		bb += b[i] * b[i];
	}
	*dot = ab;
	*norm_a = aa;
	*norm_b = bb;
}

LANCE_AVX2 static float
avx2_l2sq_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	size_t		i = 0;
	float		sum;

	for (; i + 32 <= n; i += 32)
	{
		__m256		d0 = _mm256_sub_ps(load_f16(a + i), load_f16(b + i));
		__m256		d1 = _mm256_sub_ps(load_f16(a + i + 8), load_f16(b + i + 8));
		__m256		d2 = _mm256_sub_ps(load_f16(a + i + 16), load_f16(b + i + 16));
		__m256		d3 = _mm256_sub_ps(load_f16(a + i + 24), load_f16(b + i + 24));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d = _mm256_sub_ps(load_f16(a + i), load_f16(b + i));

		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	sum = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
	{
		float		d = lance_f16_to_f32(a[i]) - lance_f16_to_f32(b[i]);

		sum += d * d;
	}
	return sum;
}

LANCE_AVX2 static float
avx2_dot_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	size_t		i = 0;
	float		sum;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm256_fmadd_ps(load_f16(a + i), load_f16(b + i), s0);
		s1 = _mm256_fmadd_ps(load_f16(a + i + 8), load_f16(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(load_f16(a + i + 16), load_f16(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(load_f16(a + i + 24), load_f16(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(load_f16(a + i), load_f16(b + i), s0);
	sum = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		sum += lance_f16_to_f32(a[i]) * lance_f16_to_f32(b[i]);
	return sum;
}

LANCE_AVX2 static float
avx2_l1_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	size_t		i = 0;
	float		sum;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm256_add_ps(s0, abs256(_mm256_sub_ps(load_f16(a + i), load_f16(b + i))));
		s1 = _mm256_add_ps(s1, abs256(_mm256_sub_ps(load_f16(a + i + 8), load_f16(b + i + 8))));
		s2 = _mm256_add_ps(s2, abs256(_mm256_sub_ps(load_f16(a + i + 16), load_f16(b + i + 16))));
		s3 = _mm256_add_ps(s3, abs256(_mm256_sub_ps(load_f16(a + i + 24), load_f16(b + i + 24))));
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_add_ps(s0, abs256(_mm256_sub_ps(load_f16(a + i), load_f16(b + i))));
	sum = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
	{
		float		d = lance_f16_to_f32(a[i]) - lance_f16_to_f32(b[i]);

		sum += fabsf(d);
	}
	return sum;
}

LANCE_AVX2 static void
avx2_cosine_f16(const uint16_t *a, const uint16_t *b, size_t n,
				float *dot, float *norm_a, float *norm_b)
{
	__m256		ab0 = _mm256_setzero_ps();
	__m256		ab1 = _mm256_setzero_ps();
	__m256		ab2 = _mm256_setzero_ps();
	__m256		aa0 = _mm256_setzero_ps();
	__m256		aa1 = _mm256_setzero_ps();
	__m256		aa2 = _mm256_setzero_ps();
	__m256		bb0 = _mm256_setzero_ps();
	__m256		bb1 = _mm256_setzero_ps();
	__m256		bb2 = _mm256_setzero_ps();
	size_t		i = 0;
	float		ab;
	float		aa;
	float		bb;

	for (; i + 24 <= n; i += 24)
	{
		__m256		x0 = load_f16(a + i);
		__m256		y0 = load_f16(b + i);
		__m256		x1 = load_f16(a + i + 8);
		__m256		y1 = load_f16(b + i + 8);
		__m256		x2 = load_f16(a + i + 16);
		__m256		y2 = load_f16(b + i + 16);

		ab0 = _mm256_fmadd_ps(x0, y0, ab0);
		aa0 = _mm256_fmadd_ps(x0, x0, aa0);
		bb0 = _mm256_fmadd_ps(y0, y0, bb0);
		ab1 = _mm256_fmadd_ps(x1, y1, ab1);
		aa1 = _mm256_fmadd_ps(x1, x1, aa1);
		bb1 = _mm256_fmadd_ps(y1, y1, bb1);
		ab2 = _mm256_fmadd_ps(x2, y2, ab2);
		aa2 = _mm256_fmadd_ps(x2, x2, aa2);
		bb2 = _mm256_fmadd_ps(y2, y2, bb2);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		x = load_f16(a + i);
		__m256		y = load_f16(b + i);

		ab0 = _mm256_fmadd_ps(x, y, ab0);
		aa0 = _mm256_fmadd_ps(x, x, aa0);
		bb0 = _mm256_fmadd_ps(y, y, bb0);
	}
	ab = hsum256(_mm256_add_ps(_mm256_add_ps(ab0, ab1), ab2));
	aa = hsum256(_mm256_add_ps(_mm256_add_ps(aa0, aa1), aa2));
	bb = hsum256(_mm256_add_ps(_mm256_add_ps(bb0, bb1), bb2));
	for (; i < n; i++)
	{
		float		x = lance_f16_to_f32(a[i]);
		float		y = lance_f16_to_f32(b[i]);

		ab += x * y;
		aa += x * x;
		bb += y * y;
	}
	*dot = ab;
	*norm_a = aa;
	*norm_b = bb;
}

LANCE_AVX2 static void
avx2_f16_to_f32(const uint16_t *src, float *dst, size_t n)
{
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, load_f16(src + i));
	for (; i < n; i++)
		dst[i] = lance_f16_to_f32(src[i]);
}

LANCE_AVX2 static void
avx2_f32_to_f16(const float *src, uint16_t *dst, size_t n)
{
	size_t		i = 0;

	/* the immediate rounding mode overrides MXCSR: always ties-to-even */
	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *) (dst + i),
						 _mm256_cvtps_ph(_mm256_loadu_ps(src + i),
										 _MM_FROUND_TO_NEAREST_INT));
	for (; i < n; i++)
		dst[i] = lance_f32_to_f16(src[i]);
}

LANCE_AVX2 static inline uint64_t
load64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
	return v;
}

LANCE_AVX2 static uint64_t
avx2_hamming(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
	uint64_t	c0 = 0;
	uint64_t	c1 = 0;
	uint64_t	c2 = 0;
	uint64_t	c3 = 0;
	size_t		i = 0;

	for (; i + 32 <= nbytes; i += 32)
	{
		c0 += (uint64_t) __builtin_popcountll(load64(a + i) ^ load64(b + i));
		c1 += (uint64_t) __builtin_popcountll(load64(a + i + 8) ^ load64(b + i + 8));
		c2 += (uint64_t) __builtin_popcountll(load64(a + i + 16) ^ load64(b + i + 16));
		c3 += (uint64_t) __builtin_popcountll(load64(a + i + 24) ^ load64(b + i + 24));
	}
	for (; i + 8 <= nbytes; i += 8)
		c0 += (uint64_t) __builtin_popcountll(load64(a + i) ^ load64(b + i));
	for (; i < nbytes; i++)
		c0 += (uint64_t) __builtin_popcount((unsigned) (a[i] ^ b[i]));
	return c0 + c1 + c2 + c3;
}

LANCE_AVX2 static void
avx2_and_or_count(const uint8_t *a, const uint8_t *b, size_t nbytes,
				  uint64_t *and_count, uint64_t *or_count)
{
	uint64_t	n0 = 0;
	uint64_t	n1 = 0;
	uint64_t	o0 = 0;
	uint64_t	o1 = 0;
	size_t		i = 0;

	for (; i + 16 <= nbytes; i += 16)
	{
		uint64_t	x0 = load64(a + i);
		uint64_t	y0 = load64(b + i);
		uint64_t	x1 = load64(a + i + 8);
		uint64_t	y1 = load64(b + i + 8);

		n0 += (uint64_t) __builtin_popcountll(x0 & y0);
		o0 += (uint64_t) __builtin_popcountll(x0 | y0);
		n1 += (uint64_t) __builtin_popcountll(x1 & y1);
		o1 += (uint64_t) __builtin_popcountll(x1 | y1);
	}
	for (; i + 8 <= nbytes; i += 8)
	{
		uint64_t	x = load64(a + i);
		uint64_t	y = load64(b + i);

		n0 += (uint64_t) __builtin_popcountll(x & y);
		o0 += (uint64_t) __builtin_popcountll(x | y);
	}
	for (; i < nbytes; i++)
	{
		n0 += (uint64_t) __builtin_popcount((unsigned) (a[i] & b[i]));
		o0 += (uint64_t) __builtin_popcount((unsigned) (a[i] | b[i]));
	}
	*and_count = n0 + n1;
	*or_count = o0 + o1;
}

/*
 * 16 codes widened to int16 and multiplied pairwise into 8 int32 sums
 * (vpmaddwd): half the instructions of converting them to float.  Four
 * rows at a time share the query's loads.  Integer sums: the same results
 * as the scalar path.
 */
LANCE_AVX2 static inline __m256i
i8x16_madd(__m256i q, const int8_t *p)
{
	return _mm256_madd_epi16(q, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) p)));
}

LANCE_AVX2 static inline int32_t
hsum256_epi32(__m256i v)
{
	__m128i		s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
	return _mm_cvtsi128_si32(s);
}

LANCE_AVX2 static void
avx2_dot_i16_i8_rows(const int16_t *a, const int8_t *b, size_t n, size_t nrows,
					 int32_t *out)
{
	size_t		r = 0;
	size_t		i;

	for (; r + 4 <= nrows; r += 4)
	{
		const int8_t *x0 = b + r * n;
		const int8_t *x1 = x0 + n;
		const int8_t *x2 = x1 + n;
		const int8_t *x3 = x2 + n;
		__m256i		s0 = _mm256_setzero_si256();
		__m256i		s1 = _mm256_setzero_si256();
		__m256i		s2 = _mm256_setzero_si256();
		__m256i		s3 = _mm256_setzero_si256();
		int32_t		t[4];

		for (i = 0; i + 16 <= n; i += 16)
		{
			__m256i		q = _mm256_loadu_si256((const __m256i *) (a + i));

			s0 = _mm256_add_epi32(s0, i8x16_madd(q, x0 + i));
			s1 = _mm256_add_epi32(s1, i8x16_madd(q, x1 + i));
			s2 = _mm256_add_epi32(s2, i8x16_madd(q, x2 + i));
			s3 = _mm256_add_epi32(s3, i8x16_madd(q, x3 + i));
		}
		t[0] = hsum256_epi32(s0);
		t[1] = hsum256_epi32(s1);
		t[2] = hsum256_epi32(s2);
		t[3] = hsum256_epi32(s3);
		for (; i < n; i++)
		{
			t[0] += (int32_t) a[i] * x0[i];
			t[1] += (int32_t) a[i] * x1[i];
			t[2] += (int32_t) a[i] * x2[i];
			t[3] += (int32_t) a[i] * x3[i];
		}
		memcpy(out + r, t, sizeof(t));
	}
	for (; r < nrows; r++)
	{
		const int8_t *x = b + r * n;
		__m256i		s0 = _mm256_setzero_si256();
		int32_t		t0;

		for (i = 0; i + 16 <= n; i += 16)
			s0 = _mm256_add_epi32(s0, i8x16_madd(_mm256_loadu_si256((const __m256i *) (a + i)), x + i));
		t0 = hsum256_epi32(s0);
		for (; i < n; i++)
			t0 += (int32_t) a[i] * x[i];
		out[r] = t0;
	}
}

static const LanceKernels lance_kernels_avx2_table = {
	.name = "avx2",
	.l2sq_f32 = avx2_l2sq_f32,
	.dot_f32 = avx2_dot_f32,
	.l1_f32 = avx2_l1_f32,
	.cosine_f32 = avx2_cosine_f32,
	.l2sq_f16 = avx2_l2sq_f16,
	.dot_f16 = avx2_dot_f16,
	.l1_f16 = avx2_l1_f16,
	.cosine_f16 = avx2_cosine_f16,
	.f16_to_f32 = avx2_f16_to_f32,
	.f32_to_f16 = avx2_f32_to_f16,
	.hamming = avx2_hamming,
	.and_or_count = avx2_and_or_count,
	.dot_i16_i8_rows = avx2_dot_i16_i8_rows,
};

/*
 * F16C is read from CPUID directly because older clang (which PGXS also
 * runs, to emit JIT bitcode) rejects __builtin_cpu_supports("f16c").  The
 * avx2 test already covers the OS saving YMM state, which F16C relies on.
 */
static bool
cpu_has_f16c(void)
{
	unsigned int eax,
				ebx,
				ecx,
				edx;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return false;
	return (ecx & bit_F16C) != 0;
}

const LanceKernels *
lance_kernels_avx2(void)
{
	/* 0 = not probed yet, 1 = supported, -1 = not supported */
	static int	supported = 0;

	if (supported == 0)
	{
		__builtin_cpu_init();
		supported = (__builtin_cpu_supports("avx2") &&
					 __builtin_cpu_supports("fma") &&
					 __builtin_cpu_supports("popcnt") &&
					 cpu_has_f16c()) ? 1 : -1;
	}
	return supported > 0 ? &lance_kernels_avx2_table : NULL;
}

#else							/* not x86 */

const LanceKernels *
lance_kernels_avx2(void)
{
	return NULL;
}

#endif
