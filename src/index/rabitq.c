/*
 * rabitq.c
 *	  RaBitQ (Gao & Long, SIGMOD 2024) and its multi-bit extension: each
 *	  residual direction is randomly rotated and rounded onto a grid, and
 *	  the inner product with the rotated query direction is estimated
 *	  without bias together with an error bound.
 *
 * Rotation: pad to D = power of two (>= 64), then three rounds of a random
 * +-1 sign flip and a normalised fast Walsh-Hadamard transform.  That is
 * orthogonal and mixes like a random rotation for this purpose at
 * O(D log D) instead of O(D^2) per query and per vector.
 *
 * Code of a residual o_r = x - c (c = 0 without a centroid): with o' =
 * rotate(o_r / ||o_r||), pick per-dimension levels y_i in the half-integer
 * grid {-L, .., L}, L = (2^B - 1) / 2 (B = 1: y_i = +-1/2, the sign bits),
 * as round(t * o'_i) with the per-vector scale t that maximises
 * cos(y, o'); store u_i = y_i + L as B bit planes of D bits (plane j, byte
 * k, bit b holds bit j of u_{8k+b}).  aux = { ||o_r||, 1 / <y, o'>,
 * sqrt(1 - cos^2) / (cos sqrt(D - 1)) } with cos = <y, o'> / ||y||.
 *
 * Query: q' = rotate of the query direction; per byte position a 256-entry
 * table of partial sums of q' over the bits of the byte, so
 * <u, q'> = sum_j 2^j (sum_k T_k[plane_j[k]]) and <y, q'> = <u, q'> -
 * L sum q'.  Then <o, q_dir> ~ <y, q'> / <y, o'>, with |error| <=
 * eps0 * aux[2] with high probability.
 *
 * 1-bit codes in index pages are scanned differently (fast scan, below):
 * 4-bit tables quantised to uint8 and looked up 32 at a time with pshufb.
 */
#include "index/quantizer_int.h"

#include "kernels/distance.h"

#include <math.h>
#include <string.h>

/* scale search: geometric coarse grid, then a linear refinement */
#define RQ_COARSE_STEPS 24
#define RQ_FINE_STEPS 12

int
rq_padded_dim(int dim)
{
	int			d = 64;

	while (d < dim)
		d <<= 1;
	return d;
}

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void
rq_make_signs(Quantizer *q)
{
	uint64_t	state = q->seed;
	uint64_t	word = 0;
	int			i;

	for (i = 0; i < 3 * q->rq_dim; i++)
	{
		if ((i & 63) == 0)
			word = splitmix64(&state);
		q->rq_signs[i] = ((word >> (i & 63)) & 1) ? -1.0f : 1.0f;
	}
}

static void
fwht_scalar(float *v, int n, int hmax)
{
	int			h;
	int			i;
	int			j;

	for (h = 1; h < n && h < hmax; h <<= 1)
		for (i = 0; i < n; i += 2 * h)
			for (j = i; j < i + h; j++)
			{
				float		a = v[j];
				float		b = v[j + h];

				v[j] = a + b;
				v[j + h] = a - b;
			}
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/*
 * The same butterflies, eight at a time from stride 8 on: each output is
 * the same single add or subtract as in the scalar order, so both paths
 * give bit-identical results.
 */
__attribute__((target("avx2"))) static inline __m256
fwht8_avx2(__m256 x)
{
	__m256		a;
	__m256		b;

	/* stride 1: (x0 + x1, x0 - x1, x2 + x3, x2 - x3, ...) */
	a = _mm256_shuffle_ps(x, x, _MM_SHUFFLE(2, 2, 0, 0));
	b = _mm256_shuffle_ps(x, x, _MM_SHUFFLE(3, 3, 1, 1));
	x = _mm256_blend_ps(_mm256_add_ps(a, b), _mm256_sub_ps(a, b), 0xAA);
	/* stride 2: (x0 + x2, x1 + x3, x0 - x2, x1 - x3, ...) */
	a = _mm256_shuffle_ps(x, x, _MM_SHUFFLE(1, 0, 1, 0));
	b = _mm256_shuffle_ps(x, x, _MM_SHUFFLE(3, 2, 3, 2));
	x = _mm256_blend_ps(_mm256_add_ps(a, b), _mm256_sub_ps(a, b), 0xCC);
	/* stride 4: (lo + hi, lo - hi) */
	a = _mm256_permute2f128_ps(x, x, 0x00);
	b = _mm256_permute2f128_ps(x, x, 0x11);
	return _mm256_blend_ps(_mm256_add_ps(a, b), _mm256_sub_ps(a, b), 0xF0);
}

__attribute__((target("avx2"))) static void
fwht_avx2(float *v, int n)
{
	int			h;
	int			i;
	int			j;

	/* strides 1, 2 and 4 stay within blocks of eight: in registers */
	for (i = 0; i < n; i += 8)
		_mm256_storeu_ps(v + i, fwht8_avx2(_mm256_loadu_ps(v + i)));
	for (h = 8; h < n; h <<= 1)
		for (i = 0; i < n; i += 2 * h)
			for (j = i; j < i + h; j += 8)
			{
				__m256		a = _mm256_loadu_ps(v + j);
				__m256		b = _mm256_loadu_ps(v + j + h);

				_mm256_storeu_ps(v + j, _mm256_add_ps(a, b));
				_mm256_storeu_ps(v + j + h, _mm256_sub_ps(a, b));
			}
}
#endif

/* the AVX2 forms of the transforms are in use */
static inline bool
rq_use_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return lance_kernels_avx2() != NULL && lance_kernels == lance_kernels_avx2();
#else
	return false;
#endif
}

/* Walsh-Hadamard transform in place (n a power of two, >= 64). */
static void
fwht(float *v, int n)
{
#if defined(__x86_64__) || defined(__i386__)
	if (rq_use_avx2())
	{
		fwht_avx2(v, n);
		return;
	}
#endif
	fwht_scalar(v, n, n);
}

#if defined(__x86_64__) || defined(__i386__)
/* rq_rotate with the same single multiplies, eight at a time */
__attribute__((target("avx2"))) static void
rq_rotate_avx2(const Quantizer *q, float *v)
{
	int			d = q->rq_dim;
	__m256		scale = _mm256_set1_ps(1.0f / sqrtf((float) d));
	int			r;
	int			i;

	for (r = 0; r < 3; r++)
	{
		const float *s = q->rq_signs + (size_t) r * d;

		for (i = 0; i < d; i += 8)
			_mm256_storeu_ps(v + i, _mm256_mul_ps(_mm256_loadu_ps(v + i),
												  _mm256_loadu_ps(s + i)));
		fwht_avx2(v, d);
		for (i = 0; i < d; i += 8)
			_mm256_storeu_ps(v + i, _mm256_mul_ps(_mm256_loadu_ps(v + i), scale));
	}
}
#endif

/* v (D floats) := R v */
static void
rq_rotate(const Quantizer *q, float *v)
{
	int			d = q->rq_dim;
	float		scale = 1.0f / sqrtf((float) d);
	int			r;
	int			i;

#if defined(__x86_64__) || defined(__i386__)
	if (rq_use_avx2())
	{
		rq_rotate_avx2(q, v);
		return;
	}
#endif
	for (r = 0; r < 3; r++)
	{
		const float *s = q->rq_signs + (size_t) r * d;

		for (i = 0; i < d; i++)
			v[i] *= s[i];
		fwht(v, d);
		for (i = 0; i < d; i++)
			v[i] *= scale;
	}
}

/* v (D floats) := R^T v */
static void
rq_unrotate(const Quantizer *q, float *v)
{
	int			d = q->rq_dim;
	float		scale = 1.0f / sqrtf((float) d);
	int			r;
	int			i;

	for (r = 2; r >= 0; r--)
	{
		const float *s = q->rq_signs + (size_t) r * d;

		fwht(v, d);
		for (i = 0; i < d; i++)
			v[i] *= scale * s[i];
	}
}

/*
 * Level of s on the half-integer grid {-lim, .., lim}: floor(s) + 1/2,
 * clamped.  Clamping first keeps s + 256 positive, so truncation is floor
 * (floorf is a libm call at the portable -O2).
 */
static inline float
rq_level(float s, float lim)
{
	float		y;

	s = s > lim ? lim : (s < -lim ? -lim : s);
	y = (float) ((int) (s + 256.0f) - 256) + 0.5f;
	return y > lim ? lim : y;
}

/* cos(y, v) of unit vector v rounded onto the grid at scale t */
static float
rq_grid_cosine(const float *v, int d, int bits, float t)
{
	float		lim = (float) ((1 << bits) - 1) / 2.0f;
	float		ip[4] = {0.0f, 0.0f, 0.0f, 0.0f};
	float		nn[4] = {0.0f, 0.0f, 0.0f, 0.0f};
	int			i;
	int			k;

	/* four partial sums: d is a multiple of 64; no long add chain */
	for (i = 0; i < d; i += 4)
		for (k = 0; k < 4; k++)
		{
			float		y = rq_level(t * v[i + k], lim);

			ip[k] += y * v[i + k];
			nn[k] += y * y;
		}
	return ((ip[0] + ip[1]) + (ip[2] + ip[3])) /
		sqrtf((nn[0] + nn[1]) + (nn[2] + nn[3]));
}

/*
 * Levels u_i = y_i + lim at scale t; returns cos(y, v) and <y, v> (in
 * double: these become the stored correction terms).
 */
static double
rq_grid_levels(const float *v, int d, int bits, float t, uint8_t *u,
			   double *yv)
{
	float		lim = (float) ((1 << bits) - 1) / 2.0f;
	double		ip = 0.0;
	double		nn = 0.0;
	int			i;

	for (i = 0; i < d; i++)
	{
		float		y = rq_level(t * v[i], lim);

		ip += (double) y * v[i];
		nn += (double) y * y;
		u[i] = (uint8_t) (y + lim);
	}
	*yv = ip;
	return ip / sqrt(nn);
}

/*
 * Scale with the best cosine.  Below t = 1 / max|v_i| every level is
 * +-1/2 (the 1-bit code); far above 2^(B-1) / max|v_i| clipping dominates.
 * The cosine is piecewise constant in t, so a geometric grid followed by a
 * finer pass around the best point finds a near-optimal scale cheaply.
 */
static float
rq_best_scale(const float *v, int d, int bits)
{
	double		vmax = 0.0;
	double		lo;
	double		hi;
	double		ratio;
	double		best_t;
	double		best_c = -2.0;
	double		a;
	double		b;
	int			i;

	for (i = 0; i < d; i++)
		vmax = fabsf(v[i]) > vmax ? fabsf(v[i]) : vmax;
	lo = 1.0 / vmax;
	hi = 4.0 * (double) (1 << (bits - 1)) / vmax;
	ratio = pow(hi / lo, 1.0 / (RQ_COARSE_STEPS - 1));
	best_t = lo;
	for (i = 0; i < RQ_COARSE_STEPS; i++)
	{
		double		t = lo * pow(ratio, i);
		double		c = rq_grid_cosine(v, d, bits, (float) t);

		if (c > best_c)
		{
			best_c = c;
			best_t = t;
		}
	}
	a = best_t / ratio;
	b = best_t * ratio;
	for (i = 1; i < RQ_FINE_STEPS; i++)
	{
		double		t = a + (b - a) * i / RQ_FINE_STEPS;
		double		c = rq_grid_cosine(v, d, bits, (float) t);

		if (c > best_c)
		{
			best_c = c;
			best_t = t;
		}
	}
	return (float) best_t;
}

void
rq_encode(const Quantizer *q, const float *x, uint8_t *code, float *aux)
{
	int			d = q->rq_dim;
	int			bits = q->num_bits;
	size_t		plane = (size_t) d / 8;
	double		norm = 0.0;
	double		yv;
	double		cosine;
	float	   *v;
	uint8_t    *u;
	int			i;
	int			j;

	memset(code, 0, q->code_size);
	for (i = 0; i < q->dim; i++)
		norm += (double) x[i] * x[i];
	norm = sqrt(norm);
	if (!(norm > 0.0) || !isfinite(norm))
	{
		/* zero (or unusable) residual: the estimate degenerates to exact */
		aux[0] = 0.0f;
		aux[1] = 0.0f;
		aux[2] = 0.0f;
		return;
	}

	v = quant_alloc(q, (size_t) d * (sizeof(float) + 1));
	u = (uint8_t *) (v + d);
	for (i = 0; i < q->dim; i++)
		v[i] = (float) (x[i] / norm);
	for (; i < d; i++)
		v[i] = 0.0f;
	rq_rotate(q, v);

	cosine = rq_grid_levels(v, d, bits,
							bits == 1 ? 1.0f : rq_best_scale(v, d, bits),
							u, &yv);

	/* branch-free packing: the bits are data, not predictable */
	for (j = 0; j < bits; j++)
		for (i = 0; i < d; i += 8)
		{
			unsigned	byte = 0;
			int			b;

			for (b = 0; b < 8; b++)
				byte |= (unsigned) ((u[i + b] >> j) & 1) << b;
			code[j * plane + (i >> 3)] = (uint8_t) byte;
		}

	aux[0] = (float) norm;
	aux[1] = (float) (1.0 / yv);
	if (cosine >= 1.0)
		aux[2] = 0.0f;
	else
		aux[2] = (float) (sqrt(1.0 - cosine * cosine) /
						  (cosine * sqrt((double) d - 1.0)));
	quant_release(q, v);
}

/* ||o_r|| times the grid direction, rotated back: a point of the right norm */
void
rq_decode(const Quantizer *q, const uint8_t *code, const float *aux,
		  float *out)
{
	int			d = q->rq_dim;
	int			bits = q->num_bits;
	size_t		plane = (size_t) d / 8;
	double		lim = ((1 << bits) - 1) / 2.0;
	double		nn = 0.0;
	float	   *v;
	float		scale;
	int			i;
	int			j;

	if (!(aux[0] > 0.0f))
	{
		memset(out, 0, (size_t) q->dim * sizeof(float));
		return;
	}
	v = quant_alloc(q, (size_t) d * sizeof(float));
	for (i = 0; i < d; i++)
	{
		int			level = 0;

		for (j = 0; j < bits; j++)
			level |= ((code[j * plane + (i >> 3)] >> (i & 7)) & 1) << j;
		v[i] = (float) (level - lim);
		nn += (double) v[i] * v[i];
	}
	scale = (float) (aux[0] / sqrt(nn));
	rq_unrotate(q, v);
	for (i = 0; i < q->dim; i++)
		out[i] = v[i] * scale;
	quant_release(q, v);
}

/*
 * The per-byte tables from the rotated query direction v (D floats):
 * T_k[b] = sum of v[8k + i] over the bits i set in b.  Built as the sum of
 * a high-nibble and a low-nibble table, 16 x 16 additions per byte that
 * vectorise; both paths add the same two numbers for every entry.
 */
static void
rq_build_tables_scalar(float *table, const float *v, int d)
{
	int			k;

	for (k = 0; k < d / 8; k++)
	{
		float	   *t = table + (size_t) k * 256;
		const float *w = v + 8 * k;
		float		lo[16];
		float		hi[16];
		int			b;

		lo[0] = hi[0] = 0.0f;
		for (b = 1; b < 16; b++)
		{
			lo[b] = lo[b & (b - 1)] + w[__builtin_ctz(b)];
			hi[b] = hi[b & (b - 1)] + w[4 + __builtin_ctz(b)];
		}
		for (b = 0; b < 256; b++)
			t[b] = hi[b >> 4] + lo[b & 15];
	}
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) static void
rq_build_tables_avx2(float *table, const float *v, int d)
{
	int			k;

	for (k = 0; k < d / 8; k++)
	{
		float	   *t = table + (size_t) k * 256;
		const float *w = v + 8 * k;
		float		lo[16];
		float		hi[16];
		__m256		l0;
		__m256		l1;
		int			b;

		lo[0] = hi[0] = 0.0f;
		for (b = 1; b < 16; b++)
		{
			lo[b] = lo[b & (b - 1)] + w[__builtin_ctz(b)];
			hi[b] = hi[b & (b - 1)] + w[4 + __builtin_ctz(b)];
		}
		l0 = _mm256_loadu_ps(lo);
		l1 = _mm256_loadu_ps(lo + 8);
		for (b = 0; b < 16; b++)
		{
			__m256		h = _mm256_set1_ps(hi[b]);

			_mm256_storeu_ps(t + 16 * b, _mm256_add_ps(h, l0));
			_mm256_storeu_ps(t + 16 * b + 8, _mm256_add_ps(h, l1));
		}
	}
}
#endif

static void
rq_build_float_tables(QuantQuery *qq, const float *v, int d)
{
#if defined(__x86_64__) || defined(__i386__)
	if (qq->use_avx2)
	{
		rq_build_tables_avx2(qq->table, v, d);
		return;
	}
#endif
	rq_build_tables_scalar(qq->table, v, d);
}

/*
 * Fast-scan tables (1 bit): table j holds the 16 partial sums of v over
 * dimensions 4j..4j+3 (nibble j of a code: the low nibble of code byte
 * j / 2 for even j, the high one for odd j).  Each is shifted by its
 * minimum and all are rounded to multiples of one delta = largest range /
 * 255, so every entry fits a uint8 and <b, v> = sum of minimums + delta *
 * (sum of entries) up to delta / 2 per table.
 *
 * Kernel order: the tables of code bytes 2p and 2p + 1 take 64 bytes at
 * 64 p: low nibble of byte 2p, of byte 2p + 1, high nibble of byte 2p, of
 * byte 2p + 1; so one 32-byte load gives the low-nibble tables of the two
 * bytes that one 32-byte load of a group's codes holds (see below).
 *
 * The scalar and AVX2 builders produce the same tables and both kernels
 * sum them exactly as integers, so both paths give identical estimates.
 */
static void
rq_lut_finish(QuantQuery *qq, const float *mins, float range, int ntab)
{
	double		base = 0.0;
	double		planes = (double) ((1 << qq->q->num_bits) - 1);
	int			j;

	for (j = 0; j < ntab; j++)
		base += mins[j];
	qq->rq_lut_delta = range / 255.0f;

	/*
	 * B bit planes, plane j weighted 2^j, all through the same tables:
	 * <u, q'> = (2^B - 1) * sum of minimums + delta * sum_j 2^j acc_j, and
	 * <y, q'> = <u, q'> - (2^B - 1) / 2 * sum q' (1 bit: <b, q'> - sum/2).
	 */
	qq->rq_lut_base = (float) (planes * base - planes / 2.0 * qq->qsum);
	/* rounding: at most delta / 2 per table and plane, with room for float rounding */
	qq->rq_lut_err_max = (float) planes * 0.501f * qq->rq_lut_delta * (float) ntab;

	/*
	 * The bound is RaBitQ's, which already holds only with high probability
	 * (RQ_EPS0 standard deviations).  A code picks one entry per table, whose
	 * rounding errors are spread evenly over +-delta / 2 (variance delta^2 /
	 * 12) and independent across tables, so their sum stays within RQ_EPS0
	 * of its standard deviations as often; planes may pick the same entries,
	 * so their weights add up linearly.  Plus the float rounding room.
	 */
	qq->rq_lut_err = fminf(qq->rq_lut_err_max,
						   (float) planes * qq->rq_lut_delta *
						   (RQ_EPS0 * sqrtf((float) ntab / 12.0f) + 0.001f * (float) ntab));
}

/* where table j goes in kernel order */
static inline uint8_t *
rq_lut_slot(uint8_t *lut, int j)
{
	int			k = j >> 1;

	return lut + 64 * (k >> 1) + 16 * (k & 1) + 32 * (j & 1);
}

/*
 * Entry b of a table is (((0 + [b&1] w0) + [b&2] w1) + [b&4] w2) + [b&8] w3
 * in this order in both builders, so both give the same tables.
 */
static void
rq_build_lut_scalar(QuantQuery *qq, const float *v, int d)
{
	int			ntab = d / 4;
	float	   *ent = qq->table;	/* scratch: 16 per table, then minimums */
	float	   *mins = ent + (size_t) 16 * ntab;
	float		range = 0.0f;
	float		inv;
	int			j;
	int			b;

	for (j = 0; j < ntab; j++)
	{
		const float *w = v + 4 * j;
		float	   *t = ent + 16 * j;
		float		mn = 0.0f;
		float		mx = 0.0f;

		for (b = 0; b < 16; b++)
		{
			float		e = 0.0f;

			e += (b & 1) ? w[0] : 0.0f;
			e += (b & 2) ? w[1] : 0.0f;
			e += (b & 4) ? w[2] : 0.0f;
			e += (b & 8) ? w[3] : 0.0f;
			t[b] = e;
			mn = e < mn ? e : mn;
			mx = e > mx ? e : mx;
		}
		mins[j] = mn;
		range = mx - mn > range ? mx - mn : range;
	}
	inv = range > 0.0f ? 255.0f / range : 0.0f;
	for (j = 0; j < ntab; j++)
	{
		uint8_t    *out = rq_lut_slot(qq->rq_lut, j);
		const float *t = ent + 16 * j;

		for (b = 0; b < 16; b++)
		{
			int			c = (int) ((t[b] - mins[j]) * inv + 0.5f);

			out[b] = (uint8_t) (c > 255 ? 255 : c);
		}
	}
	rq_lut_finish(qq, mins, range, ntab);
}

#if defined(__x86_64__) || defined(__i386__)
/* horizontal min and max of the 16 floats in a and b */
__attribute__((target("avx2"))) static inline void
rq_minmax16(__m256 a, __m256 b, float *mn, float *mx)
{
	__m256		lo = _mm256_min_ps(a, b);
	__m256		hi = _mm256_max_ps(a, b);
	__m128		l = _mm_min_ps(_mm256_castps256_ps128(lo), _mm256_extractf128_ps(lo, 1));
	__m128		h = _mm_max_ps(_mm256_castps256_ps128(hi), _mm256_extractf128_ps(hi, 1));

	l = _mm_min_ps(l, _mm_movehl_ps(l, l));
	h = _mm_max_ps(h, _mm_movehl_ps(h, h));
	l = _mm_min_ss(l, _mm_shuffle_ps(l, l, 1));
	h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
	*mn = _mm_cvtss_f32(l);
	*mx = _mm_cvtss_f32(h);
}

__attribute__((target("avx2"))) static void
rq_build_lut_avx2(QuantQuery *qq, const float *v, int d)
{
	int			ntab = d / 4;
	float	   *ent = qq->table;
	float	   *mins = ent + (size_t) 16 * ntab;
	float		range = 0.0f;
	__m256		m[4][2];
	__m256		vmn;
	__m256		vinv;
	__m256		half = _mm256_set1_ps(0.5f);
	int			j;
	int			i;
	int			b;

	/* m[i][h]: all ones where bit i of entry 8h + lane is set */
	for (i = 0; i < 4; i++)
		for (b = 0; b < 2; b++)
		{
			int32_t		bits[8];
			int			l;

			for (l = 0; l < 8; l++)
				bits[l] = ((8 * b + l) >> i) & 1 ? -1 : 0;
			m[i][b] = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *) bits));
		}
	for (j = 0; j < ntab; j++)
	{
		__m256		t0 = _mm256_setzero_ps();
		__m256		t1 = _mm256_setzero_ps();
		float		mn;
		float		mx;

		for (i = 0; i < 4; i++)
		{
			__m256		w = _mm256_set1_ps(v[4 * j + i]);

			t0 = _mm256_add_ps(t0, _mm256_and_ps(m[i][0], w));
			t1 = _mm256_add_ps(t1, _mm256_and_ps(m[i][1], w));
		}
		_mm256_storeu_ps(ent + 16 * j, t0);
		_mm256_storeu_ps(ent + 16 * j + 8, t1);
		rq_minmax16(t0, t1, &mn, &mx);
		mins[j] = mn;
		range = mx - mn > range ? mx - mn : range;
	}
	vinv = _mm256_set1_ps(range > 0.0f ? 255.0f / range : 0.0f);
	for (j = 0; j < ntab; j++)
	{
		__m256i		c0;
		__m256i		c1;
		__m256i		p;

		vmn = _mm256_set1_ps(mins[j]);
		c0 = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(ent + 16 * j), vmn), vinv), half));
		c1 = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(ent + 16 * j + 8), vmn), vinv), half));
		/* saturating packs clamp at 255 like the scalar code */
		p = _mm256_permute4x64_epi64(_mm256_packus_epi32(c0, c1), 0xD8);
		_mm_storeu_si128((__m128i *) rq_lut_slot(qq->rq_lut, j),
						 _mm_packus_epi16(_mm256_castsi256_si128(p),
										  _mm256_extracti128_si256(p, 1)));
	}
	rq_lut_finish(qq, mins, range, ntab);
}
#endif

static void
rq_build_lut(QuantQuery *qq, const float *v, int d)
{
#if defined(__x86_64__) || defined(__i386__)
	if (qq->use_avx2)
	{
		rq_build_lut_avx2(qq, v, d);
		return;
	}
#endif
	rq_build_lut_scalar(qq, v, d);
}

#if defined(__x86_64__) || defined(__i386__)
/*
 * AVX2 forms of the per-list preparation below (1024 dimensions: a large
 * share of a probe).  Each double lane k accumulates the entries i = k
 * mod 4 in the same order as the scalar partial sums p[k], the products
 * of two floats are exact in double, and no step is fused, so the results
 * are bit-identical to the scalar code's.
 */

/* p[k] = sum of v[i] over i = k mod 4 (d a multiple of 4) */
__attribute__((target("avx2"))) static void
rq_sum4_avx2(const float *v, int d, double *p)
{
	__m256d		acc = _mm256_setzero_pd();
	int			i;

	for (i = 0; i < d; i += 4)
		acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm_loadu_ps(v + i)));
	_mm256_storeu_pd(p, acc);
}

/*
 * v := a - b (the query's residual to a list centroid), then rq_normalize
 * (v, d), in one pass over the inputs.
 */
__attribute__((target("avx2"))) static double
rq_normalize_avx2(float *v, const float *a, const float *b, int d)
{
	__m256d		acc = _mm256_setzero_pd();
	double		p[4];
	double		norm;
	double		inv;
	__m256d		vinv;
	int			i;

	for (i = 0; i + 4 <= d; i += 4)
	{
		__m128		x4 = _mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
		__m256d		x = _mm256_cvtps_pd(x4);

		_mm_storeu_ps(v + i, x4);
		acc = _mm256_add_pd(acc, _mm256_mul_pd(x, x));
	}
	_mm256_storeu_pd(p, acc);
	for (; i < d; i++)
	{
		v[i] = a[i] - b[i];
		p[0] += (double) v[i] * v[i];
	}
	norm = sqrt((p[0] + p[1]) + (p[2] + p[3]));
	if (!(norm > 0.0) || !isfinite(norm))
		norm = 0.0;
	inv = norm > 0.0 ? 1.0 / norm : 0.0;
	vinv = _mm256_set1_pd(inv);
	for (i = 0; i + 4 <= d; i += 4)
		_mm_storeu_ps(v + i, _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(v + i)),
															vinv)));
	for (; i < d; i++)
		v[i] = (float) (v[i] * inv);
	return norm;
}
#endif

static void
rq_build_tables(QuantQuery *qq, const float *v, int d)
{
	double		p[4] = {0.0, 0.0, 0.0, 0.0};
	int			i;

	/* d is a multiple of 64; four partial sums as in rq_normalize */
#if defined(__x86_64__) || defined(__i386__)
	if (qq->use_avx2)
		rq_sum4_avx2(v, d, p);
	else
#endif
		for (i = 0; i < d; i += 4)
		{
			p[0] += v[i];
			p[1] += v[i + 1];
			p[2] += v[i + 2];
			p[3] += v[i + 3];
		}
	qq->qsum = (float) ((p[0] + p[1]) + (p[2] + p[3]));
	if (RQ_FASTSCAN(qq->q))
	{
		/* the float tables cost more than a list scan: only on demand */
		memcpy(qq->rq_dir, v, (size_t) d * sizeof(float));
		qq->rq_table_valid = false;
		rq_build_lut(qq, v, d);
		return;
	}
	rq_build_float_tables(qq, v, d);
}

/* v (D floats) := v / ||v|| (first n entries used), 0 for a zero vector */
static double
rq_normalize(float *v, int d)
{
	double		p[4] = {0.0, 0.0, 0.0, 0.0};
	double		norm;
	double		inv;
	int			i;

	/* four partial sums: no long chain of dependent adds */
	for (i = 0; i + 4 <= d; i += 4)
	{
		p[0] += (double) v[i] * v[i];
		p[1] += (double) v[i + 1] * v[i + 1];
		p[2] += (double) v[i + 2] * v[i + 2];
		p[3] += (double) v[i + 3] * v[i + 3];
	}
	for (; i < d; i++)
		p[0] += (double) v[i] * v[i];
	norm = sqrt((p[0] + p[1]) + (p[2] + p[3]));
	if (!(norm > 0.0) || !isfinite(norm))
		norm = 0.0;
	/* per probed list: a multiply, not a division, per coordinate */
	inv = norm > 0.0 ? 1.0 / norm : 0.0;
	for (i = 0; i < d; i++)
		v[i] = (float) (v[i] * inv);
	return norm;
}

void
rq_query_reset(QuantQuery *qq, const float *centroid)
{
	const Quantizer *q = qq->q;
	int			d = q->rq_dim;
	float	   *v = qq->work;
	double		norm;
	int			i;

	/*
	 * L2: rotate the query's residual q - c.  IP: <q, x> = <q, c> + <q,
	 * o_r>, so rotate q itself and keep -<q, c> as a constant.
	 */
	for (i = 0; i < q->dim; i++)
		v[i] = (q->metric != QMETRIC_IP && centroid) ?
			qq->query[i] - centroid[i] : qq->query[i];
	if (q->metric == QMETRIC_IP && centroid)
		qq->constant = -lance_kernels->dot_f32(qq->query, centroid,
											   (size_t) q->dim);
	norm = rq_normalize(v, q->dim);
	for (i = q->dim; i < d; i++)
		v[i] = 0.0f;
	if (norm > 0.0)
		rq_rotate(q, v);
	qq->qnorm = (float) norm;
	rq_build_tables(qq, v, d);
}

/* out (D floats) := R (x padded with zeros) */
void
rq_rotate_padded(const Quantizer *q, const float *x, float *out)
{
	memcpy(out, x, (size_t) q->dim * sizeof(float));
	memset(out + q->dim, 0, (size_t) (q->rq_dim - q->dim) * sizeof(float));
	rq_rotate(q, out);
}

/*
 * Per query: rotate it once.  Rotation is linear and orthogonal, so per
 * list R(q - c) / ||q - c|| = (Rq - Rc) / ||Rq - Rc|| with Rc precomputed
 * (quantizer_attach_centroids): no transform per list.
 */
void
rq_query_begin(QuantQuery *qq)
{
	const Quantizer *q = qq->q;

	if (qq->rq_qrot == NULL)
		qq->rq_qrot = quant_alloc(q, (size_t) q->rq_dim * sizeof(float));
	rq_rotate_padded(q, qq->query, qq->rq_qrot);
	if (q->metric == QMETRIC_IP)
	{
		/* the direction is the same for every list: tables once */
		float	   *v = qq->work;

		memcpy(v, qq->rq_qrot, (size_t) q->rq_dim * sizeof(float));
		qq->qnorm = (float) rq_normalize(v, q->rq_dim);
		rq_build_tables(qq, v, q->rq_dim);
	}
}

void
rq_query_list(QuantQuery *qq, int list)
{
	const Quantizer *q = qq->q;
	int			d = q->rq_dim;
	const float *rc = q->rq_rot_centroids + (size_t) list * d;
	float	   *v = qq->work;
	int			i;

	if (q->metric == QMETRIC_IP)
	{
		/* <q, c> = <Rq, Rc> */
		qq->constant = -lance_kernels->dot_f32(qq->rq_qrot, rc, (size_t) d);
		return;
	}
#if defined(__x86_64__) || defined(__i386__)
	if (qq->use_avx2)
		qq->qnorm = (float) rq_normalize_avx2(v, qq->rq_qrot, rc, d);
	else
#endif
	{
		const float *qr = qq->rq_qrot;

		for (i = 0; i < d; i++)
			v[i] = qr[i] - rc[i];
		qq->qnorm = (float) rq_normalize(v, d);
	}
	rq_build_tables(qq, v, d);
}

/* sum over byte positions of T_k[p[k]]; nbytes is a multiple of 8 */
static inline float
rq_plane_sum(const float *t, const uint8_t *p, int nbytes)
{
	float		s0 = 0.0f;
	float		s1 = 0.0f;
	float		s2 = 0.0f;
	float		s3 = 0.0f;
	int			k;

	for (k = 0; k < nbytes; k += 4)
	{
		s0 += t[(k + 0) * 256 + p[k + 0]];
		s1 += t[(k + 1) * 256 + p[k + 1]];
		s2 += t[(k + 2) * 256 + p[k + 2]];
		s3 += t[(k + 3) * 256 + p[k + 3]];
	}
	return (s0 + s1) + (s2 + s3);
}

/*
 * Distance and lower bound from yq ~ <y, q'> for one entry; `slack` bounds
 * the error of the resulting <o', q'> with high probability.
 */
static inline void
rq_finish(float yq, float slack, const float *a, float qn, float constant,
		  bool ip_metric, float *est, float *lower)
{
	float		on = a[0];
	float		ip = yq * a[1];
	float		hi;
	float		e;
	float		l;

	/* both unit vectors: clamp; the bound side never below the estimate */
	ip = ip > 1.0f ? 1.0f : (ip < -1.0f ? -1.0f : ip);
	hi = ip + slack;
	hi = hi > 1.0f ? 1.0f : hi;

	if (ip_metric)
	{
		float		prod = on * qn;

		e = constant - prod * ip;
		l = constant - prod * hi;
	}
	else
	{
		float		base = on * on + qn * qn;
		float		prod = 2.0f * on * qn;

		e = base - prod * ip;
		l = base - prod * hi;
		e = e > 0.0f ? e : 0.0f;
		l = l > 0.0f ? l : 0.0f;
	}
	*est = e;
	*lower = l;
}

void
rq_estimate(const QuantQuery *qq, const uint8_t *codes, const float *aux,
			int n, float *est, float *lower)
{
	const Quantizer *q = qq->q;
	const float *table;
	size_t		code_size = q->code_size;
	int			bits = q->num_bits;
	int			nbytes = q->rq_dim / 8;
	float		offset = (float) ((1 << bits) - 1) / 2.0f * qq->qsum;
	float		qn = qq->qnorm;
	float		constant = qq->constant;
	bool		ip_metric = q->metric == QMETRIC_IP;
	int			i;

	if (RQ_FASTSCAN(q) && !qq->rq_table_valid)
	{
		/* a cache inside the query state, filled on first use */
		QuantQuery *mq = (QuantQuery *) qq;

		rq_build_float_tables(mq, qq->rq_dir, q->rq_dim);
		mq->rq_table_valid = true;
	}
	/* locals: stores to est[] could alias qq's float fields otherwise */
	table = qq->table;

	for (i = 0; i < n; i++)
	{
		const uint8_t *c = codes + (size_t) i * code_size;
		const float *a = aux + (size_t) i * 3;
		float		acc;
		int			j;

		acc = rq_plane_sum(table, c, nbytes);
		for (j = 1; j < bits; j++)
			acc += (float) (1 << j) *
				rq_plane_sum(table, c + (size_t) j * nbytes, nbytes);
		rq_finish(acc - offset, RQ_EPS0 * a[2], a, qn, constant, ip_metric,
				  est + i, lower + i);
	}
}

/*
 * ---- 1-bit fast scan ----
 *
 * Code area: groups of RQ_FS_GROUP = 16 slots, each group code_size * 16
 * bytes, byte k of slot s at group + 16 k + s (the group's codes
 * transposed).  So 32 bytes at group + 16 k hold bytes k and k + 1 of all
 * 16 slots: with the tables in kernel order (rq_build_lut), pshufb of the
 * low nibbles gives byte k's low-nibble entries in the lower lane and byte
 * k + 1's in the upper one, the high nibbles likewise.  Groups of 16
 * rather than 32 waste less of a page on padding (dim 784: 48 entries per
 * page instead of 32; contiguous codes: 55).
 */
size_t
rq_fs_area_size(const Quantizer *q, int capacity)
{
	return (size_t) ((capacity + RQ_FS_GROUP - 1) / RQ_FS_GROUP) *
		RQ_FS_GROUP * q->code_size;
}

void
rq_fs_put(const Quantizer *q, uint8_t *area, int slot, const uint8_t *code)
{
	size_t		cs = q->code_size;
	uint8_t    *g = area + (size_t) (slot / RQ_FS_GROUP) * RQ_FS_GROUP * cs +
		slot % RQ_FS_GROUP;
	size_t		k;

	for (k = 0; k < cs; k++)
		g[RQ_FS_GROUP * k] = code[k];
}

void
rq_fs_get(const Quantizer *q, const uint8_t *area, int slot, uint8_t *code)
{
	size_t		cs = q->code_size;
	const uint8_t *g = area + (size_t) (slot / RQ_FS_GROUP) * RQ_FS_GROUP * cs +
		slot % RQ_FS_GROUP;
	size_t		k;

	for (k = 0; k < cs; k++)
		code[k] = g[RQ_FS_GROUP * k];
}

void
rq_fs_move(const Quantizer *q, uint8_t *area, int from, int to)
{
	size_t		cs = q->code_size;
	const uint8_t *f = area + (size_t) (from / RQ_FS_GROUP) * RQ_FS_GROUP * cs +
		from % RQ_FS_GROUP;
	uint8_t    *t = area + (size_t) (to / RQ_FS_GROUP) * RQ_FS_GROUP * cs +
		to % RQ_FS_GROUP;
	size_t		k;

	for (k = 0; k < cs; k++)
		t[RQ_FS_GROUP * k] = f[RQ_FS_GROUP * k];
}

static void
rq_fs_accumulate_scalar(const uint8_t *lut, const uint8_t *group,
						int code_size, uint32_t *acc)
{
	int			k;
	int			s;

	for (s = 0; s < RQ_FS_GROUP; s++)
		acc[s] = 0;
	for (k = 0; k < code_size; k++)
	{
		const uint8_t *lo = lut + 64 * (k >> 1) + 16 * (k & 1);
		const uint8_t *hi = lo + 32;
		const uint8_t *c = group + RQ_FS_GROUP * k;

		for (s = 0; s < RQ_FS_GROUP; s++)
			acc[s] += (uint32_t) lo[c[s] & 15] + hi[c[s] >> 4];
	}
}

#if defined(__x86_64__) || defined(__i386__)
/*
 * 16-bit lanes: the entry of slot 2i is the low byte of lane i, of slot
 * 2i + 1 the high byte.  `all` adds whole lanes (even + 256 odd, modulo
 * 2^16), `odd` the high bytes alone; even = all - 256 odd is then exact
 * modulo 2^16, hence exact while the even sums stay below 2^16.  Each
 * lane adds two entries of at most 255 per pair of code bytes, so chunks
 * of 256 code bytes (D = 2048) cannot overflow; sums over chunks are
 * 32-bit.
 */
#define RQ_FS_CHUNK 256

__attribute__((target("avx2"))) static void
rq_fs_accumulate_avx2(const uint8_t *lut, const uint8_t *group,
					  int code_size, uint32_t *acc)
{
	const __m256i nib = _mm256_set1_epi8(0x0f);
	__m256i		even = _mm256_setzero_si256();	/* 32-bit sums, slots 0, 2.. */
	__m256i		odd = _mm256_setzero_si256();
	__m256i		lo;
	__m256i		hi;
	int			k0;
	int			k;

	for (k0 = 0; k0 < code_size; k0 += RQ_FS_CHUNK)
	{
		int			kend = k0 + RQ_FS_CHUNK < code_size ? k0 + RQ_FS_CHUNK : code_size;
		__m256i		a16 = _mm256_setzero_si256();
		__m256i		o16 = _mm256_setzero_si256();
		__m256i		e16;

		for (k = k0; k < kend; k += 2)
		{
			__m256i		c = _mm256_loadu_si256((const __m256i *) (group + RQ_FS_GROUP * k));
			__m256i		tl = _mm256_loadu_si256((const __m256i *) (lut + 32 * k));
			__m256i		th = _mm256_loadu_si256((const __m256i *) (lut + 32 * k + 32));
			__m256i		rl = _mm256_shuffle_epi8(tl, _mm256_and_si256(c, nib));
			__m256i		rh = _mm256_shuffle_epi8(th, _mm256_and_si256(_mm256_srli_epi16(c, 4), nib));

			a16 = _mm256_add_epi16(a16, _mm256_add_epi16(rl, rh));
			o16 = _mm256_add_epi16(o16, _mm256_add_epi16(_mm256_srli_epi16(rl, 8),
														 _mm256_srli_epi16(rh, 8)));
		}
		e16 = _mm256_sub_epi16(a16, _mm256_slli_epi16(o16, 8));
		/* the two lanes hold the same slots (bytes k and k + 1): add them */
		even = _mm256_add_epi32(even,
								_mm256_add_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(e16)),
												 _mm256_cvtepu16_epi32(_mm256_extracti128_si256(e16, 1))));
		odd = _mm256_add_epi32(odd,
							   _mm256_add_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(o16)),
												_mm256_cvtepu16_epi32(_mm256_extracti128_si256(o16, 1))));
	}
	/* interleave: per lane, unpacklo gives slots 0-3 | 8-11, unpackhi 4-7 | 12-15 */
	lo = _mm256_unpacklo_epi32(even, odd);
	hi = _mm256_unpackhi_epi32(even, odd);
	_mm256_storeu_si256((__m256i *) acc, _mm256_permute2x128_si256(lo, hi, 0x20));
	_mm256_storeu_si256((__m256i *) (acc + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
}

/*
 * Two adjacent groups (group_bytes apart) at once: each table load serves
 * 32 slots.  The same sums as two calls of rq_fs_accumulate_avx2.
 */
__attribute__((target("avx2"))) static void
rq_fs_accumulate2_avx2(const uint8_t *lut, const uint8_t *group,
					   size_t group_bytes, int code_size, uint32_t *acc)
{
	const __m256i nib = _mm256_set1_epi8(0x0f);
	const uint8_t *group2 = group + group_bytes;
	__m256i		even[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
	__m256i		odd[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
	int			k0;
	int			k;
	int			h;

	for (k0 = 0; k0 < code_size; k0 += RQ_FS_CHUNK)
	{
		int			kend = k0 + RQ_FS_CHUNK < code_size ? k0 + RQ_FS_CHUNK : code_size;
		__m256i		a16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
		__m256i		o16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};

		for (k = k0; k < kend; k += 2)
		{
			__m256i		tl = _mm256_loadu_si256((const __m256i *) (lut + 32 * k));
			__m256i		th = _mm256_loadu_si256((const __m256i *) (lut + 32 * k + 32));
			__m256i		c0 = _mm256_loadu_si256((const __m256i *) (group + RQ_FS_GROUP * k));
			__m256i		c1 = _mm256_loadu_si256((const __m256i *) (group2 + RQ_FS_GROUP * k));
			__m256i		rl0 = _mm256_shuffle_epi8(tl, _mm256_and_si256(c0, nib));
			__m256i		rh0 = _mm256_shuffle_epi8(th, _mm256_and_si256(_mm256_srli_epi16(c0, 4), nib));
			__m256i		rl1 = _mm256_shuffle_epi8(tl, _mm256_and_si256(c1, nib));
			__m256i		rh1 = _mm256_shuffle_epi8(th, _mm256_and_si256(_mm256_srli_epi16(c1, 4), nib));

			a16[0] = _mm256_add_epi16(a16[0], _mm256_add_epi16(rl0, rh0));
			o16[0] = _mm256_add_epi16(o16[0], _mm256_add_epi16(_mm256_srli_epi16(rl0, 8),
															   _mm256_srli_epi16(rh0, 8)));
			a16[1] = _mm256_add_epi16(a16[1], _mm256_add_epi16(rl1, rh1));
			o16[1] = _mm256_add_epi16(o16[1], _mm256_add_epi16(_mm256_srli_epi16(rl1, 8),
															   _mm256_srli_epi16(rh1, 8)));
		}
		for (h = 0; h < 2; h++)
		{
			__m256i		e16 = _mm256_sub_epi16(a16[h], _mm256_slli_epi16(o16[h], 8));

			even[h] = _mm256_add_epi32(even[h],
									   _mm256_add_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(e16)),
														_mm256_cvtepu16_epi32(_mm256_extracti128_si256(e16, 1))));
			odd[h] = _mm256_add_epi32(odd[h],
									  _mm256_add_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(o16[h])),
													   _mm256_cvtepu16_epi32(_mm256_extracti128_si256(o16[h], 1))));
		}
	}
	for (h = 0; h < 2; h++)
	{
		__m256i		lo = _mm256_unpacklo_epi32(even[h], odd[h]);
		__m256i		hi = _mm256_unpackhi_epi32(even[h], odd[h]);

		_mm256_storeu_si256((__m256i *) (acc + 16 * h), _mm256_permute2x128_si256(lo, hi, 0x20));
		_mm256_storeu_si256((__m256i *) (acc + 16 * h + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
	}
}
#endif

void
rq_fs_accumulate(const uint8_t *lut, const uint8_t *group, int code_size,
				 bool use_avx2, uint32_t *acc)
{
#if defined(__x86_64__) || defined(__i386__)
	if (use_avx2)
	{
		rq_fs_accumulate_avx2(lut, group, code_size, acc);
		return;
	}
#endif
	rq_fs_accumulate_scalar(lut, group, code_size, acc);
}

/*
 * Sums of one group over all bit planes: plane j holds bytes j P .. (j + 1)
 * P - 1 of each code (P = D / 8) and goes through the same tables; its
 * sums count 2^j times.
 */
static void
rq_fs_accumulate_planes_scalar(const Quantizer *q, const uint8_t *lut,
							   const uint8_t *group, uint32_t *acc)
{
	int			p = q->rq_dim / 8;
	uint32_t	part[RQ_FS_GROUP];
	int			j;
	int			s;

	rq_fs_accumulate_scalar(lut, group, p, acc);
	for (j = 1; j < q->num_bits; j++)
	{
		rq_fs_accumulate_scalar(lut, group + (size_t) RQ_FS_GROUP * p * j, p, part);
		for (s = 0; s < RQ_FS_GROUP; s++)
			acc[s] += part[s] << j;
	}
}

#if defined(__x86_64__) || defined(__i386__)
/* The same for m slots (two groups when m > 16). */
__attribute__((target("avx2"))) static void
rq_fs_accumulate_planes_avx2(const Quantizer *q, const uint8_t *lut,
							 const uint8_t *group, int m, uint32_t *acc)
{
	int			p = q->rq_dim / 8;
	size_t		group_bytes = (size_t) RQ_FS_GROUP * q->code_size;
	uint32_t	part[2 * RQ_FS_GROUP];
	int			j;
	int			s;

	for (j = 0; j < q->num_bits; j++)
	{
		const uint8_t *plane = group + (size_t) RQ_FS_GROUP * p * j;
		uint32_t   *dst = j == 0 ? acc : part;

		/* a second group only where the area has one */
		if (m > RQ_FS_GROUP)
			rq_fs_accumulate2_avx2(lut, plane, group_bytes, p, dst);
		else
			rq_fs_accumulate_avx2(lut, plane, p, dst);
		if (j > 0)
		{
			__m128i		sh = _mm_cvtsi32_si128(j);

			/* the same integer sums as acc[s] += part[s] << j */
			for (s = 0; s < (m > RQ_FS_GROUP ? 2 : 1) * RQ_FS_GROUP; s += 8)
			{
				__m256i		a = _mm256_loadu_si256((const __m256i *) (acc + s));
				__m256i		b = _mm256_loadu_si256((const __m256i *) (part + s));

				_mm256_storeu_si256((__m256i *) (acc + s),
									_mm256_add_epi32(a, _mm256_sll_epi32(b, sh)));
			}
		}
	}
}
#endif

/*
 * The fused select of an ordered scan (rq_fs_select): an entry's key is
 * est (by_est) or min(lower, est), the one ivfscan.c ranks by.  Entries
 * whose key is at most the threshold are written out (slot and key); of
 * the others only the smallest key is kept.  A NaN key compares false
 * both ways: never selected, never the minimum (the caller defers it).
 */
typedef struct RqSelect
{
	bool		by_est;
	float		threshold;
	int		   *slots;
	float	   *keys;
	int			m;				/* entries written so far */
	float		min_out;		/* smallest key left out */
} RqSelect;

static inline void
rq_select1(RqSelect *sel, int slot, float e, float l)
{
	float		key = sel->by_est ? e : (l < e ? l : e);

	if (key <= sel->threshold)
	{
		sel->slots[sel->m] = slot;
		sel->keys[sel->m] = key;
		sel->m++;
	}
	else if (key < sel->min_out)
		sel->min_out = key;
}

/*
 * One entry of a fast-scan block: its distance and bound from the table
 * sum acc (the tables' rounding error widens the bound), then selected
 * (sel) or stored.
 */
static inline void
rq_fs_finish1(const QuantQuery *qq, const float *aux, uint32_t acc, int slot,
			  RqSelect *sel, float *est, float *lower)
{
	const float *a = aux + (size_t) slot * 3;
	float		e;
	float		l;

	rq_finish(qq->rq_lut_base + qq->rq_lut_delta * (float) acc,
			  RQ_EPS0 * a[2] + qq->rq_lut_err * a[1], a, qq->qnorm,
			  qq->constant, qq->q->metric == QMETRIC_IP, &e, &l);
	if (sel)
		rq_select1(sel, slot, e, l);
	else
	{
		est[slot] = e;
		lower[slot] = l;
	}
}

#if defined(__x86_64__) || defined(__i386__)
/*
 * rq_finish for 8 entries (aux at a, 3 floats each), with the same
 * operations in the same order, so the results are the scalar ones.
 */
__attribute__((target("avx2"), always_inline)) static inline void
rq_finish8(__m256 yq, __m256 err, const float *a, __m256 qn,
		   __m256 constant, bool ip_metric, __m256 *est, __m256 *lower)
{
	const __m256 one = _mm256_set1_ps(1.0f);
	const __m256 zero = _mm256_setzero_ps();
	__m256		x0 = _mm256_loadu_ps(a);
	__m256		x1 = _mm256_loadu_ps(a + 8);
	__m256		x2 = _mm256_loadu_ps(a + 16);
	__m256		on;
	__m256		a1;
	__m256		a2;
	__m256		ip;
	__m256		slack;
	__m256		hi;
	__m256		e;
	__m256		l;

	/*
	 * Deinterleave a[3i + f]: blend so that position p holds an element of
	 * field f, then permute them into order.
	 */
	on = _mm256_blend_ps(_mm256_blend_ps(x0, x1, 0x92), x2, 0x24);
	a1 = _mm256_blend_ps(_mm256_blend_ps(x0, x1, 0x24), x2, 0x49);
	a2 = _mm256_blend_ps(_mm256_blend_ps(x0, x1, 0x49), x2, 0x92);
	on = _mm256_permutevar8x32_ps(on, _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5));
	a1 = _mm256_permutevar8x32_ps(a1, _mm256_setr_epi32(1, 4, 7, 2, 5, 0, 3, 6));
	a2 = _mm256_permutevar8x32_ps(a2, _mm256_setr_epi32(2, 5, 0, 3, 6, 1, 4, 7));

	ip = _mm256_mul_ps(yq, a1);
	slack = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(RQ_EPS0), a2),
						  _mm256_mul_ps(err, a1));
	ip = _mm256_max_ps(_mm256_min_ps(ip, one), _mm256_set1_ps(-1.0f));
	hi = _mm256_min_ps(_mm256_add_ps(ip, slack), one);
	if (ip_metric)
	{
		__m256		prod = _mm256_mul_ps(on, qn);

		e = _mm256_sub_ps(constant, _mm256_mul_ps(prod, ip));
		l = _mm256_sub_ps(constant, _mm256_mul_ps(prod, hi));
	}
	else
	{
		__m256		base = _mm256_add_ps(_mm256_mul_ps(on, on), _mm256_mul_ps(qn, qn));
		__m256		prod = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f), on), qn);

		e = _mm256_max_ps(_mm256_sub_ps(base, _mm256_mul_ps(prod, ip)), zero);
		l = _mm256_max_ps(_mm256_sub_ps(base, _mm256_mul_ps(prod, hi)), zero);
	}
	*est = e;
	*lower = l;
}

/*
 * The select of 8 keys in registers: one compare and a movemask, and the
 * few selected written one by one (with a threshold near the R-th key of
 * the reserve most octets select none).  min_ps(x, acc) is acc when x is
 * NaN, and min_ps(l, e) is l < e ? l : e: rq_select1's keys and minimum.
 */
__attribute__((target("avx2"), always_inline)) static inline void
rq_select8(RqSelect *sel, int slot, __m256 e, __m256 l, __m256 vt,
		   __m256 *vmin)
{
	const __m256 inf = _mm256_set1_ps(INFINITY);
	__m256		key = sel->by_est ? e : _mm256_min_ps(l, e);
	__m256		le = _mm256_cmp_ps(key, vt, _CMP_LE_OQ);
	unsigned	mask = (unsigned) _mm256_movemask_ps(le);

	*vmin = _mm256_min_ps(_mm256_blendv_ps(key, inf, le), *vmin);
	if (mask != 0)
	{
		float		kv[8];
		int			m = sel->m;

		_mm256_storeu_ps(kv, key);
		do
		{
			int			j = __builtin_ctz(mask);

			sel->slots[m] = slot + j;
			sel->keys[m] = kv[j];
			m++;
			mask &= mask - 1;
		} while (mask != 0);
		sel->m = m;
	}
}

/*
 * One body for the estimating kernel (sel NULL: write est and lower) and
 * the fused select (write only what sel asks for); always inlined into
 * both, so each is compiled for its own case.
 */
__attribute__((target("avx2"), always_inline)) static inline void
rq_fs_estimate_avx2_body(const QuantQuery *qq, const uint8_t *area,
						 const float *aux, int n, float *est, float *lower,
						 const char *ahead, size_t ahead_bytes,
						 RqSelect *sel)
{
	const Quantizer *q = qq->q;
	int			cs = (int) q->code_size;
	const uint8_t *lut = qq->rq_lut;
	float		base = qq->rq_lut_base;
	float		delta = qq->rq_lut_delta;
	float		err = qq->rq_lut_err;
	float		qn = qq->qnorm;
	float		constant = qq->constant;
	bool		ip_metric = q->metric == QMETRIC_IP;
	__m256		vbase = _mm256_set1_ps(base);
	__m256		vdelta = _mm256_set1_ps(delta);
	__m256		verr = _mm256_set1_ps(err);
	__m256		vqn = _mm256_set1_ps(qn);
	__m256		vconst = _mm256_set1_ps(constant);
	__m256		vt = _mm256_set1_ps(sel ? sel->threshold : 0.0f);
	__m256		vmin = _mm256_set1_ps(INFINITY);
	uint32_t	acc[2 * RQ_FS_GROUP];
	size_t		ahead_lines = (ahead_bytes + 63) / 64;
	size_t		nblocks = (size_t) (n + 2 * RQ_FS_GROUP - 1) / (2 * RQ_FS_GROUP);
	size_t		pf = 0;
	int			g;
	int			i;

	for (g = 0; g < n; g += 2 * RQ_FS_GROUP)
	{
		int			m = n - g < 2 * RQ_FS_GROUP ? n - g : 2 * RQ_FS_GROUP;
		size_t		pf_end = ahead_lines * (size_t) (g / (2 * RQ_FS_GROUP) + 1) / nblocks;

		/* this block's share of the lines asked for ahead */
		for (; pf < pf_end; pf++)
			_mm_prefetch(ahead + 64 * pf, _MM_HINT_T0);
		rq_fs_accumulate_planes_avx2(q, lut, area + (size_t) g * cs, m, acc);
		/* whole octets only: aux past entry n - 1 may be out of bounds */
		for (i = 0; i + 8 <= m; i += 8)
		{
			__m256		yq = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *) (acc + i)));
			__m256		e;
			__m256		l;

			rq_finish8(_mm256_add_ps(vbase, _mm256_mul_ps(vdelta, yq)), verr,
					   aux + (size_t) (g + i) * 3, vqn, vconst, ip_metric,
					   &e, &l);
			if (sel)
				rq_select8(sel, g + i, e, l, vt, &vmin);
			else
			{
				_mm256_storeu_ps(est + g + i, e);
				_mm256_storeu_ps(lower + g + i, l);
			}
		}
		for (; i < m; i++)
			rq_fs_finish1(qq, aux, acc[i], g + i, sel, est, lower);
	}
	if (sel)
	{
		float		lanes[8];

		/* no lane is NaN (see rq_select8): any order gives the minimum */
		_mm256_storeu_ps(lanes, vmin);
		for (i = 0; i < 8; i++)
			if (lanes[i] < sel->min_out)
				sel->min_out = lanes[i];
	}
}

__attribute__((target("avx2"))) static void
rq_fs_estimate_avx2(const QuantQuery *qq, const uint8_t *area,
					const float *aux, int n, float *est, float *lower,
					const char *ahead, size_t ahead_bytes)
{
	rq_fs_estimate_avx2_body(qq, area, aux, n, est, lower, ahead, ahead_bytes,
							 NULL);
}

__attribute__((target("avx2"))) static void
rq_fs_select_avx2(const QuantQuery *qq, const uint8_t *area,
				  const float *aux, int n, const char *ahead,
				  size_t ahead_bytes, RqSelect *sel)
{
	rq_fs_estimate_avx2_body(qq, area, aux, n, NULL, NULL, ahead, ahead_bytes,
							 sel);
}
#endif

/* The portable kernel, both cases (see rq_fs_estimate_avx2_body). */
static inline void
rq_fs_estimate_scalar_body(const QuantQuery *qq, const uint8_t *area,
						   const float *aux, int n, float *est, float *lower,
						   const void *ahead, size_t ahead_bytes,
						   RqSelect *sel)
{
	const Quantizer *q = qq->q;
	int			cs = (int) q->code_size;
	const uint8_t *lut = qq->rq_lut;
	uint32_t	acc[RQ_FS_GROUP];
	int			g;
	int			i;

	for (g = 0; g < n; g += RQ_FS_GROUP)
	{
		int			m = n - g < RQ_FS_GROUP ? n - g : RQ_FS_GROUP;
		size_t		from = ahead_bytes * (size_t) g / (size_t) n;
		size_t		to = ahead_bytes * (size_t) (g + m) / (size_t) n;

		for (size_t off = from & ~(size_t) 63; off < to; off += 64)
			__builtin_prefetch((const char *) ahead + off);

		rq_fs_accumulate_planes_scalar(q, lut, area + (size_t) g * cs, acc);
		for (i = 0; i < m; i++)
			rq_fs_finish1(qq, aux, acc[i], g + i, sel, est, lower);
	}
}

void
rq_fs_estimate(const QuantQuery *qq, const uint8_t *area, const float *aux,
			   int n, float *est, float *lower, const void *ahead,
			   size_t ahead_bytes)
{
#if defined(__x86_64__) || defined(__i386__)
	if (qq->use_avx2)
	{
		rq_fs_estimate_avx2(qq, area, aux, n, est, lower,
							(const char *) ahead, n > 0 ? ahead_bytes : 0);
		return;
	}
#endif
	rq_fs_estimate_scalar_body(qq, area, aux, n, est, lower, ahead,
							   ahead_bytes, NULL);
}

int
rq_fs_select(const QuantQuery *qq, const uint8_t *area, const float *aux,
			 int n, bool by_est, float threshold, int *slots, float *keys,
			 float *min_out, const void *ahead, size_t ahead_bytes)
{
	RqSelect	sel;

	sel.by_est = by_est;
	sel.threshold = threshold;
	sel.slots = slots;
	sel.keys = keys;
	sel.m = 0;
	sel.min_out = INFINITY;
#if defined(__x86_64__) || defined(__i386__)
	if (qq->use_avx2)
		rq_fs_select_avx2(qq, area, aux, n, (const char *) ahead,
						  n > 0 ? ahead_bytes : 0, &sel);
	else
#endif
		rq_fs_estimate_scalar_body(qq, area, aux, n, NULL, NULL, ahead,
								   ahead_bytes, &sel);
	*min_out = sel.min_out;
	return sel.m;
}
