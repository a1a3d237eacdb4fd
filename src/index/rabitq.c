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
__attribute__((target("avx2"))) static void
fwht_avx2(float *v, int n)
{
	int			h;
	int			i;
	int			j;

	fwht_scalar(v, n, 8);
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

/* Walsh-Hadamard transform in place (n a power of two, >= 64). */
static void
fwht(float *v, int n)
{
#if defined(__x86_64__) || defined(__i386__)
	if (lance_kernels_avx2() != NULL && lance_kernels == lance_kernels_avx2())
	{
		fwht_avx2(v, n);
		return;
	}
#endif
	fwht_scalar(v, n, n);
}

/* v (D floats) := R v */
static void
rq_rotate(const Quantizer *q, float *v)
{
	int			d = q->rq_dim;
	float		scale = 1.0f / sqrtf((float) d);
	int			r;
	int			i;

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
rq_build_tables(QuantQuery *qq, const float *v, int d)
{
	double		sum = 0.0;
	int			i;

	for (i = 0; i < d; i++)
		sum += v[i];
	qq->qsum = (float) sum;
#if defined(__x86_64__) || defined(__i386__)
	if (qq->use_avx2)
	{
		rq_build_tables_avx2(qq->table, v, d);
		return;
	}
#endif
	rq_build_tables_scalar(qq->table, v, d);
}

/* v (D floats) := v / ||v|| (first n entries used), 0 for a zero vector */
static double
rq_normalize(float *v, int d)
{
	double		norm = 0.0;
	int			i;

	for (i = 0; i < d; i++)
		norm += (double) v[i] * v[i];
	norm = sqrt(norm);
	if (!(norm > 0.0) || !isfinite(norm))
		norm = 0.0;
	for (i = 0; i < d; i++)
		v[i] = norm > 0.0 ? (float) (v[i] / norm) : 0.0f;
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
	for (i = 0; i < d; i++)
		v[i] = qq->rq_qrot[i] - rc[i];
	qq->qnorm = (float) rq_normalize(v, d);
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

void
rq_estimate(const QuantQuery *qq, const uint8_t *codes, const float *aux,
			int n, float *est, float *lower)
{
	const Quantizer *q = qq->q;
	/* locals: stores to est[] could alias qq's float fields otherwise */
	const float *table = qq->table;
	size_t		code_size = q->code_size;
	int			bits = q->num_bits;
	int			nbytes = q->rq_dim / 8;
	float		offset = (float) ((1 << bits) - 1) / 2.0f * qq->qsum;
	float		qn = qq->qnorm;
	float		constant = qq->constant;
	bool		ip_metric = q->metric == QMETRIC_IP;
	int			i;

	for (i = 0; i < n; i++)
	{
		const uint8_t *c = codes + (size_t) i * code_size;
		const float *a = aux + (size_t) i * 3;
		float		on = a[0];
		float		acc;
		float		ip;
		float		hi;
		float		e;
		float		l;
		int			j;

		acc = rq_plane_sum(table, c, nbytes);
		for (j = 1; j < bits; j++)
			acc += (float) (1 << j) *
				rq_plane_sum(table, c + (size_t) j * nbytes, nbytes);
		ip = (acc - offset) * a[1];

		/* both unit vectors: clamp; the bound side never below the estimate */
		ip = ip > 1.0f ? 1.0f : (ip < -1.0f ? -1.0f : ip);
		hi = ip + RQ_EPS0 * a[2];
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
		est[i] = e;
		lower[i] = l;
	}
}
