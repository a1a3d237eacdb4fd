/*
 * distance.c
 *	  Portable scalar distance kernels, IEEE binary16 conversion and the
 *	  run-time choice of kernel table.
 *
 * The scalar loops are the reference the SIMD paths are tested against, so
 * they stay deliberately plain: one float accumulator, elements in order.
 */
#include "distance.h"

#include <math.h>
#include <string.h>

/*
 * Never NULL, so code that runs before lance_kernels_init() (or in a tool
 * that never calls it) still gets correct results.
 */
const LanceKernels *lance_kernels = &lance_kernels_scalar;

static inline uint32_t
float_bits(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static inline float
bits_float(uint32_t u)
{
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/*
 * Inline so the scalar f16 loops do not pay a call per element; normal
 * numbers, by far the common case, take the first branch.
 */
static inline float
half_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	em = h & 0x7fff;	/* exponent and mantissa */

	if (em >= 0x0400 && em < 0x7c00)
		return bits_float(sign | ((em << 13) + ((127 - 15) << 23)));
	if (em >= 0x7c00)
	{
		/* inf keeps a zero mantissa; NaN keeps its payload, made quiet */
		if (em == 0x7c00)
			return bits_float(sign | 0x7f800000);
		return bits_float(sign | 0x7fc00000 | ((em & 0x3ff) << 13));
	}
	/* zero or subnormal: em * 2^-24, exact in float arithmetic */
	return bits_float(sign | float_bits((float) em * 5.9604644775390625e-8f));
}

float
lance_f16_to_f32(uint16_t h)
{
	return half_to_float(h);
}

uint16_t
lance_f32_to_f16(float f)
{
	uint32_t	u = float_bits(f);
	uint16_t	sign = (uint16_t) ((u >> 16) & 0x8000);
	uint32_t	a = u & 0x7fffffff;
	uint32_t	exp = a >> 23;
	uint32_t	h;
	uint32_t	rem;

	if (a > 0x7f800000)			/* NaN: keep the top payload bits, quiet */
		return sign | 0x7e00 | ((a >> 13) & 0x3ff);

	/*
	 * 65520 is the midpoint between the largest half (65504, odd mantissa)
	 * and 2^16, so ties-to-even sends it and everything above to inf.
	 */
	if (a >= 0x477ff000)
		return sign | 0x7c00;

	if (exp < 113)
	{
		/*
		 * Below 2^-14 the result is subnormal: count units of 2^-24.  Values
		 * under 2^-25 round to zero; 2^-25 itself is a tie that goes to the
		 * even zero, which the general rounding below also gets right.
		 */
		uint32_t	m = (a & 0x7fffff) | 0x800000;
		uint32_t	shift = 126 - exp;	/* 14 .. 24 */
		uint32_t	halfway;

		if (exp < 102)
			return sign;
		halfway = 1u << (shift - 1);
		h = m >> shift;
		rem = m & ((1u << shift) - 1);
		if (rem > halfway || (rem == halfway && (h & 1)))
			h++;				/* may carry into the smallest normal: fine */
		return sign | (uint16_t) h;
	}

	/* normal: rebias the exponent, round the 13 dropped mantissa bits */
	h = (a >> 13) - ((127 - 15) << 10);
	rem = a & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++;					/* carry into the exponent is correct */
	return sign | (uint16_t) h;
}

/* SWAR popcount: portable, and only the reference path uses it */
static inline uint64_t
popcount64(uint64_t x)
{
	x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
	x = (x & UINT64_C(0x3333333333333333)) +
		((x >> 2) & UINT64_C(0x3333333333333333));
	x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
	return (x * UINT64_C(0x0101010101010101)) >> 56;
}

static float
scalar_l2sq_f32(const float *a, const float *b, size_t n)
{
	float		sum = 0.0f;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

static float
scalar_dot_f32(const float *a, const float *b, size_t n)
{
	float		sum = 0.0f;
	size_t		i;

	for (i = 0; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

static float
scalar_l1_f32(const float *a, const float *b, size_t n)
{
	float		sum = 0.0f;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		float		d = a[i] - b[i];

		sum += fabsf(d);
	}
	return sum;
}

static void
scalar_cosine_f32(const float *a, const float *b, size_t n,
				  float *dot, float *norm_a, float *norm_b)
{
	float		ab = 0.0f;
	float		aa = 0.0f;
	float		bb = 0.0f;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		ab += a[i] * b[i];
		aa += a[i] * a[i];
		bb += b[i] * b[i];
	}
	*dot = ab;
	*norm_a = aa;
	*norm_b = bb;
}

static float
scalar_l2sq_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	float		sum = 0.0f;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		float		d = half_to_float(a[i]) - half_to_float(b[i]);

		sum += d * d;
	}
	return sum;
}

static float
scalar_dot_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	float		sum = 0.0f;
	size_t		i;

	for (i = 0; i < n; i++)
		sum += half_to_float(a[i]) * half_to_float(b[i]);
	return sum;
}

static float
scalar_l1_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	float		sum = 0.0f;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		float		d = half_to_float(a[i]) - half_to_float(b[i]);

		sum += fabsf(d);
	}
	return sum;
}

static void
scalar_cosine_f16(const uint16_t *a, const uint16_t *b, size_t n,
				  float *dot, float *norm_a, float *norm_b)
{
	float		ab = 0.0f;
	float		aa = 0.0f;
	float		bb = 0.0f;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		float		x = half_to_float(a[i]);
		float		y = half_to_float(b[i]);

		ab += x * y;
		aa += x * x;
		bb += y * y;
	}
	*dot = ab;
	*norm_a = aa;
	*norm_b = bb;
}

static void
scalar_f16_to_f32(const uint16_t *src, float *dst, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		dst[i] = half_to_float(src[i]);
}

static void
scalar_f32_to_f16(const float *src, uint16_t *dst, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		dst[i] = lance_f32_to_f16(src[i]);
}

static uint64_t
scalar_hamming(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
	uint64_t	count = 0;
	size_t		i = 0;

	for (; i + 8 <= nbytes; i += 8)
	{
		uint64_t	x;
		uint64_t	y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		count += popcount64(x ^ y);
	}
	for (; i < nbytes; i++)
		count += popcount64((uint64_t) (a[i] ^ b[i]));
	return count;
}

static void
scalar_and_or_count(const uint8_t *a, const uint8_t *b, size_t nbytes,
					uint64_t *and_count, uint64_t *or_count)
{
	uint64_t	na = 0;
	uint64_t	no = 0;
	size_t		i = 0;

	for (; i + 8 <= nbytes; i += 8)
	{
		uint64_t	x;
		uint64_t	y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		na += popcount64(x & y);
		no += popcount64(x | y);
	}
	for (; i < nbytes; i++)
	{
		na += popcount64((uint64_t) (a[i] & b[i]));
		no += popcount64((uint64_t) (a[i] | b[i]));
	}
	*and_count = na;
	*or_count = no;
}

static void
scalar_dot_i16_i8_rows(const int16_t *a, const int8_t *b, size_t n, size_t nrows,
					   int32_t *out)
{
	size_t		r;
	size_t		i;

	for (r = 0; r < nrows; r++)
	{
		const int8_t *row = b + r * n;
		int32_t		sum = 0;

		for (i = 0; i < n; i++)
			sum += (int32_t) a[i] * row[i];
		out[r] = sum;
	}
}

const LanceKernels lance_kernels_scalar = {
	.name = "scalar",
	.l2sq_f32 = scalar_l2sq_f32,
	.dot_f32 = scalar_dot_f32,
	.l1_f32 = scalar_l1_f32,
	.cosine_f32 = scalar_cosine_f32,
	.l2sq_f16 = scalar_l2sq_f16,
	.dot_f16 = scalar_dot_f16,
	.l1_f16 = scalar_l1_f16,
	.cosine_f16 = scalar_cosine_f16,
	.f16_to_f32 = scalar_f16_to_f32,
	.f32_to_f16 = scalar_f32_to_f16,
	.hamming = scalar_hamming,
	.and_or_count = scalar_and_or_count,
	.dot_i16_i8_rows = scalar_dot_i16_i8_rows,
};

static const LanceKernels *
best_kernels(void)
{
	const LanceKernels *k = lance_kernels_avx2();

	return k ? k : &lance_kernels_scalar;
}

const LanceKernels *
lance_kernels_init(void)
{
	lance_kernels = best_kernels();
	return lance_kernels;
}

bool
lance_kernels_use(const char *name)
{
	const LanceKernels *k;

	if (name == NULL)
		return false;
	if (strcmp(name, "auto") == 0)
		k = best_kernels();
	else if (strcmp(name, "scalar") == 0)
		k = &lance_kernels_scalar;
	else if (strcmp(name, "avx2") == 0)
		k = lance_kernels_avx2();
	else
		k = NULL;

	if (k == NULL)
		return false;
	lance_kernels = k;
	return true;
}
