/*
 * test_kernels.c
 *	  Standalone checks of the distance kernels (no PostgreSQL needed).
 *
 * Every available SIMD path is compared against the scalar reference:
 * float kernels within a tolerance scaled by the magnitude of the terms
 * (summation order differs), conversions and bit counts exactly.  The last
 * line of output is "N passed, M failed"; the exit status is non-zero on
 * any failure.
 */
#include "kernels/distance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_N 16000
#define PAD 4					/* room for the 1..3 element misalignment */

static int	n_passed = 0;
static int	n_failed = 0;

/* Print only the first few failures of each check; count them all. */
static void
check(bool ok, const char *what, const char *path, size_t n, int offset,
	  double got, double want)
{
	if (ok)
	{
		n_passed++;
		return;
	}
	n_failed++;
	if (n_failed <= 50)
		printf("not ok - %s [%s] n=%zu off=%d: got %.9g want %.9g\n",
			   what, path, n, offset, got, want);
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

/* uniform in [-1, 1) */
static float
rng_float(void)
{
	return (float) ((double) (rng_next() >> 11) / 4503599627370496.0 - 1.0);
}

static uint32_t
f2u(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static float
u2f(uint32_t u)
{
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static bool
is_nan_half(uint16_t h)
{
	return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
}

static bool
close_enough(float got, float want, double scale)
{
	return fabs((double) got - (double) want) <= 1e-5 * scale + 1e-6;
}

/* a and b each with PAD spare elements, so a + off stays in bounds */
static float fa[MAX_N + PAD];
static float fb[MAX_N + PAD];
static uint16_t ha[MAX_N + PAD];
static uint16_t hb[MAX_N + PAD];
static uint8_t ba[MAX_N + PAD];
static uint8_t bb[MAX_N + PAD];

static void
fill_random(void)
{
	size_t		i;

	for (i = 0; i < MAX_N + PAD; i++)
	{
		fa[i] = rng_float();
		fb[i] = rng_float();
		ha[i] = lance_f32_to_f16(rng_float() * 4.0f);
		hb[i] = lance_f32_to_f16(rng_float() * 4.0f);
		ba[i] = (uint8_t) rng_next();
		bb[i] = (uint8_t) rng_next();
	}
}

/* Compare one path's kernels with the scalar ones for length n. */
static void
check_lengths(const LanceKernels *k, size_t n, int off)
{
	const LanceKernels *s = &lance_kernels_scalar;
	const float *a = fa + off;
	const float *b = fb + off;
	const uint16_t *x = ha + off;
	const uint16_t *y = hb + off;
	double		sc_l2 = 0;
	double		sc_dot = 0;
	double		sc_l1 = 0;
	double		sc_aa = 0;
	double		sc_bb = 0;
	double		hc_l2 = 0;
	double		hc_dot = 0;
	double		hc_l1 = 0;
	double		hc_aa = 0;
	double		hc_bb = 0;
	float		d1,
				n1a,
				n1b,
				d2,
				n2a,
				n2b;
	uint64_t	and1,
				or1,
				and2,
				or2;
	size_t		i;
	size_t		nbytes = n;
	static float fconv1[MAX_N];
	static float fconv2[MAX_N];
	static uint16_t hconv1[MAX_N];
	static uint16_t hconv2[MAX_N];

	/* magnitude scales: the sum of the absolute terms */
	for (i = 0; i < n; i++)
	{
		double		p = a[i],
					q = b[i];
		double		hp = lance_f16_to_f32(x[i]),
					hq = lance_f16_to_f32(y[i]);

		sc_l2 += (p - q) * (p - q);
		sc_dot += fabs(p * q);
		sc_l1 += fabs(p - q);
		sc_aa += p * p;
		sc_bb += q * q;
		hc_l2 += (hp - hq) * (hp - hq);
		hc_dot += fabs(hp * hq);
		hc_l1 += fabs(hp - hq);
		hc_aa += hp * hp;
		hc_bb += hq * hq;
	}

#define CHECK_F(what, got, want, scale) \
	do { \
		float		g_ = (got); \
		float		w_ = (want); \
		check(close_enough(g_, w_, (scale)), what, k->name, n, off, g_, w_); \
	} while (0)

	CHECK_F("l2sq_f32", k->l2sq_f32(a, b, n), s->l2sq_f32(a, b, n), sc_l2);
	CHECK_F("dot_f32", k->dot_f32(a, b, n), s->dot_f32(a, b, n), sc_dot);
	CHECK_F("l1_f32", k->l1_f32(a, b, n), s->l1_f32(a, b, n), sc_l1);
	k->cosine_f32(a, b, n, &d1, &n1a, &n1b);
	s->cosine_f32(a, b, n, &d2, &n2a, &n2b);
	CHECK_F("cosine_f32.dot", d1, d2, sc_dot);
	CHECK_F("cosine_f32.norm_a", n1a, n2a, sc_aa);
	CHECK_F("cosine_f32.norm_b", n1b, n2b, sc_bb);

	CHECK_F("l2sq_f16", k->l2sq_f16(x, y, n), s->l2sq_f16(x, y, n), hc_l2);
	CHECK_F("dot_f16", k->dot_f16(x, y, n), s->dot_f16(x, y, n), hc_dot);
	CHECK_F("l1_f16", k->l1_f16(x, y, n), s->l1_f16(x, y, n), hc_l1);
	k->cosine_f16(x, y, n, &d1, &n1a, &n1b);
	s->cosine_f16(x, y, n, &d2, &n2a, &n2b);
	CHECK_F("cosine_f16.dot", d1, d2, hc_dot);
	CHECK_F("cosine_f16.norm_a", n1a, n2a, hc_aa);
	CHECK_F("cosine_f16.norm_b", n1b, n2b, hc_bb);

	/* the reference itself must agree with a double-precision sum */
	if (k == s)
	{
		double		ref = 0;

		for (i = 0; i < n; i++)
			ref += (double) a[i] * b[i];
		CHECK_F("dot_f32 vs double", s->dot_f32(a, b, n), (float) ref, sc_dot);
	}

	/* conversions of length n exercise the vector body and the tail */
	k->f16_to_f32(x, fconv1, n);
	s->f16_to_f32(x, fconv2, n);
	check(memcmp(fconv1, fconv2, n * sizeof(float)) == 0,
		  "f16_to_f32 array", k->name, n, off, 0, 0);
	for (i = 0; i < n; i++)
		fconv1[i] = a[i] * 70000.0f;	/* some overflow to inf */
	k->f32_to_f16(fconv1, hconv1, n);
	s->f32_to_f16(fconv1, hconv2, n);
	check(memcmp(hconv1, hconv2, n * sizeof(uint16_t)) == 0,
		  "f32_to_f16 array", k->name, n, off, 0, 0);

	/* bit vectors: n bytes, offsets in bytes */
	check(k->hamming(ba + off, bb + off, nbytes) ==
		  s->hamming(ba + off, bb + off, nbytes),
		  "hamming", k->name, nbytes, off,
		  (double) k->hamming(ba + off, bb + off, nbytes),
		  (double) s->hamming(ba + off, bb + off, nbytes));
	k->and_or_count(ba + off, bb + off, nbytes, &and1, &or1);
	s->and_or_count(ba + off, bb + off, nbytes, &and2, &or2);
	check(and1 == and2, "and_count", k->name, nbytes, off, (double) and1, (double) and2);
	check(or1 == or2, "or_count", k->name, nbytes, off, (double) or1, (double) or2);
}

/* Reference hamming via bit-by-bit counting, for the scalar path. */
static void
check_bits_naive(size_t nbytes, int off)
{
	uint64_t	ham = 0,
				nand = 0,
				nor = 0,
				gand,
				gor;
	size_t		i;
	int			bit;

	for (i = 0; i < nbytes; i++)
		for (bit = 0; bit < 8; bit++)
		{
			int			p = (ba[off + i] >> bit) & 1;
			int			q = (bb[off + i] >> bit) & 1;

			ham += (uint64_t) (p ^ q);
			nand += (uint64_t) (p & q);
			nor += (uint64_t) (p | q);
		}
	lance_kernels_scalar.and_or_count(ba + off, bb + off, nbytes, &gand, &gor);
	check(lance_kernels_scalar.hamming(ba + off, bb + off, nbytes) == ham &&
		  gand == nand && gor == nor,
		  "bit counts vs naive", "scalar", nbytes, off, (double) ham, 0);
}

static void
check_hand_values(const LanceKernels *k)
{
	const float a[3] = {1, 2, 3};
	const float b[3] = {4, 5, 6};
	uint16_t	x[3],
				y[3];
	float		dot,
				na,
				nb;
	const uint8_t p[2] = {0xff, 0x0f};
	const uint8_t q[2] = {0x0f, 0x0f};
	uint64_t	nand,
				nor;

	k->f32_to_f16(a, x, 3);
	k->f32_to_f16(b, y, 3);
	check(k->l2sq_f32(a, b, 3) == 27.0f, "hand l2sq", k->name, 3, 0,
		  k->l2sq_f32(a, b, 3), 27);
	check(k->dot_f32(a, b, 3) == 32.0f, "hand dot", k->name, 3, 0,
		  k->dot_f32(a, b, 3), 32);
	check(k->l1_f32(a, b, 3) == 9.0f, "hand l1", k->name, 3, 0,
		  k->l1_f32(a, b, 3), 9);
	k->cosine_f32(a, b, 3, &dot, &na, &nb);
	check(dot == 32.0f && na == 14.0f && nb == 77.0f, "hand cosine",
		  k->name, 3, 0, dot, 32);
	check(k->l2sq_f16(x, y, 3) == 27.0f, "hand l2sq_f16", k->name, 3, 0,
		  k->l2sq_f16(x, y, 3), 27);
	check(k->dot_f16(x, y, 3) == 32.0f, "hand dot_f16", k->name, 3, 0,
		  k->dot_f16(x, y, 3), 32);
	check(k->l1_f16(x, y, 3) == 9.0f, "hand l1_f16", k->name, 3, 0,
		  k->l1_f16(x, y, 3), 9);
	k->cosine_f16(x, y, 3, &dot, &na, &nb);
	check(dot == 32.0f && na == 14.0f && nb == 77.0f, "hand cosine_f16",
		  k->name, 3, 0, dot, 32);
	check(k->hamming(p, q, 2) == 4, "hand hamming", k->name, 2, 0,
		  (double) k->hamming(p, q, 2), 4);
	k->and_or_count(p, q, 2, &nand, &nor);
	check(nand == 8 && nor == 12, "hand and_or", k->name, 2, 0,
		  (double) nand, 8);
	check(k->l2sq_f32(a, b, 0) == 0.0f && k->hamming(p, q, 0) == 0,
		  "empty vectors", k->name, 0, 0, 0, 0);
}

/* Known binary16 encodings, checked on the scalar helpers. */
static void
check_f16_hand(void)
{
	static const struct
	{
		float		f;
		uint16_t	h;
	}			cases[] = {
		{0.0f, 0x0000},
		{-0.0f, 0x8000},
		{1.0f, 0x3c00},
		{-2.0f, 0xc000},
		{65504.0f, 0x7bff},		/* largest finite */
		{65519.99f, 0x7bff},	/* just under the tie: stays finite */
		{65520.0f, 0x7c00},		/* tie to even overflows */
		{1e10f, 0x7c00},
		{-1e10f, 0xfc00},
		{6.103515625e-05f, 0x0400}, /* smallest normal, 2^-14 */
		{5.9604644775390625e-08f, 0x0001},	/* smallest subnormal, 2^-24 */
		{2.98023223876953125e-08f, 0x0000}, /* 2^-25: tie goes to even 0 */
		{4.4703483581542969e-08f, 0x0001},	/* 1.5 * 2^-25 rounds up */
		{8.9406967163085938e-08f, 0x0002},	/* 1.5 * 2^-24: tie to even 2 */
		{1e-30f, 0x0000},
		{1.00048828125f, 0x3c00},	/* 1 + 2^-11: tie to even 1 */
		{1.00146484375f, 0x3c02},	/* 1 + 3 * 2^-11: tie to even */
		{0.333333343f, 0x3555},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(lance_f32_to_f16(cases[i].f) == cases[i].h, "f32_to_f16 hand",
			  "scalar", i, 0, lance_f32_to_f16(cases[i].f), cases[i].h);
	check(f2u(lance_f16_to_f32(0x0001)) == f2u(5.9604644775390625e-08f),
		  "f16_to_f32 subnormal", "scalar", 1, 0, 0, 0);
	check(isinf(lance_f16_to_f32(0x7c00)) && lance_f16_to_f32(0xfc00) < 0,
		  "f16_to_f32 inf", "scalar", 0, 0, 0, 0);
	check(isnan(lance_f16_to_f32(0x7e00)) && isnan(lance_f16_to_f32(0x7c01)),
		  "f16_to_f32 nan", "scalar", 0, 0, 0, 0);
	check(is_nan_half(lance_f32_to_f16(NAN)) &&
		  is_nan_half(lance_f32_to_f16(u2f(0x7f800001))),
		  "f32_to_f16 nan", "scalar", 0, 0, 0, 0);
}

/*
 * Every half round-trips f16 -> f32 -> f16 (NaN stays NaN), and the path's
 * array conversion agrees bit for bit with the scalar helper.
 */
static void
check_f16_exhaustive(const LanceKernels *k)
{
	static uint16_t all[65536];
	static float f_path[65536];
	static uint16_t back[65536];
	uint32_t	i;
	int			bad = 0;

	for (i = 0; i < 65536; i++)
		all[i] = (uint16_t) i;
	k->f16_to_f32(all, f_path, 65536);
	k->f32_to_f16(f_path, back, 65536);
	for (i = 0; i < 65536; i++)
	{
		float		ref = lance_f16_to_f32((uint16_t) i);

		if (is_nan_half((uint16_t) i))
		{
			if (!isnan(f_path[i]) || !isnan(ref) || !is_nan_half(back[i]))
				bad++;
		}
		else if (f2u(f_path[i]) != f2u(ref) || back[i] != i ||
				 lance_f32_to_f16(ref) != i)
		{
			if (bad < 5)
				printf("# half 0x%04x: f32 %08x ref %08x back %04x\n",
					   i, f2u(f_path[i]), f2u(ref), back[i]);
			bad++;
		}
	}
	check(bad == 0, "f16 round trip (all 65536)", k->name, 65536, 0, bad, 0);
}

/* Compare a batch of floats through path k against the scalar helper. */
static int
compare_f32_to_f16(const LanceKernels *k, const float *src, size_t n)
{
	static uint16_t out[1 << 16];
	size_t		i;
	int			bad = 0;

	k->f32_to_f16(src, out, n);
	for (i = 0; i < n; i++)
	{
		uint16_t	ref = lance_f32_to_f16(src[i]);

		if (isnan(src[i]) ? !(is_nan_half(out[i]) && is_nan_half(ref))
			: out[i] != ref)
		{
			if (bad < 5)
				printf("# f32 %08x (%.9g): %s %04x scalar %04x\n",
					   f2u(src[i]), src[i], k->name, out[i], ref);
			bad++;
		}
	}
	return bad;
}

/*
 * f32 -> f16 at every rounding boundary: each half's value, the exact
 * midpoint to the next half, and one float ulp either side of it; then a
 * million random floats concentrated on the half range's exponents.
 */
static void
check_f32_to_f16(const LanceKernels *k)
{
	static float buf[1 << 16];
	size_t		n = 0;
	uint32_t	h;
	int			bad = 0;
	int			round;

	for (h = 0; h < 0x7c00; h++)
	{
		double		lo = lance_f16_to_f32((uint16_t) h);
		double		hi = h == 0x7bff ? 65536.0 :
			lance_f16_to_f32((uint16_t) (h + 1));

		/* the midpoint has 12 significant bits: exact in a float */
		uint32_t	mid = f2u((float) ((lo + hi) / 2));
		float		vals[4] = {(float) lo, u2f(mid), u2f(mid - 1), u2f(mid + 1)};
		int			j,
					s;

		for (j = 0; j < 4; j++)
			for (s = 0; s < 2; s++)
			{
				buf[n++] = s ? -vals[j] : vals[j];
				if (n == sizeof(buf) / sizeof(buf[0]))
				{
					bad += compare_f32_to_f16(k, buf, n);
					n = 0;
				}
			}
	}
	/* specials and the overflow edge */
	buf[n++] = INFINITY;
	buf[n++] = -INFINITY;
	buf[n++] = NAN;
	buf[n++] = u2f(0x7f800001);		/* signalling NaN */
	buf[n++] = u2f(0xffc12345);
	buf[n++] = 65520.0f;
	buf[n++] = u2f(f2u(65520.0f) - 1);
	buf[n++] = 3.4028235e38f;
	buf[n++] = u2f(1);				/* float subnormals */
	buf[n++] = u2f(0x807fffff);
	bad += compare_f32_to_f16(k, buf, n);
	check(bad == 0, "f32_to_f16 boundaries", k->name, 0x7c00, 0, bad, 0);

	/* 16 rounds of 65536 random floats: exponents 2^-30 .. 2^18, any bits */
	bad = 0;
	for (round = 0; round < 16; round++)
	{
		size_t		i;

		for (i = 0; i < sizeof(buf) / sizeof(buf[0]); i++)
		{
			uint64_t	r = rng_next();
			uint32_t	bits;

			if ((r & 15) == 0)
				bits = (uint32_t) (r >> 32);	/* any pattern at all */
			else
			{
				uint32_t	exp = 127 - 30 + (uint32_t) ((r >> 8) % 49);

				bits = (uint32_t) ((r >> 32) & 0x807fffff) | (exp << 23);
			}
			buf[i] = u2f(bits);
		}
		bad += compare_f32_to_f16(k, buf, sizeof(buf) / sizeof(buf[0]));
	}
	check(bad == 0, "f32_to_f16 random (1M)", k->name, 1 << 20, 0, bad, 0);
}

static void
check_selection(void)
{
	const LanceKernels *best = lance_kernels_avx2() ? lance_kernels_avx2()
		: &lance_kernels_scalar;

	check(lance_kernels != NULL, "lance_kernels set before init", "-", 0, 0, 0, 0);
	check(lance_kernels_init() == best && lance_kernels == best,
		  "init picks best", best->name, 0, 0, 0, 0);
	check(lance_kernels_use("scalar") && lance_kernels == &lance_kernels_scalar,
		  "use scalar", "-", 0, 0, 0, 0);
	check(!lance_kernels_use("avx512") && lance_kernels == &lance_kernels_scalar,
		  "use unknown leaves choice", "-", 0, 0, 0, 0);
	check(lance_kernels_use("avx2") == (lance_kernels_avx2() != NULL),
		  "use avx2 iff supported", "-", 0, 0, 0, 0);
	check(lance_kernels_use("auto") && lance_kernels == best,
		  "use auto", best->name, 0, 0, 0, 0);
}

/*
 * int16 x int8 rows: every row count (the 4-row blocks and the rest) and
 * length (the 16-lane body and the tail), exactly equal to a 64-bit sum,
 * at the largest magnitudes the callers allow.
 */
static void
check_dot_i8(const LanceKernels *k)
{
	static int16_t a[300];
	static int8_t b[9 * 300];
	int32_t		got[9];
	uint64_t	seed = 12345;

	for (int i = 0; i < 300; i++)
	{
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		a[i] = (int16_t) ((int64_t) (seed >> 33) % 65535 - 32767);
	}
	for (int i = 0; i < 9 * 300; i++)
	{
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		b[i] = (int8_t) ((int64_t) (seed >> 33) % 255 - 127);
	}
	a[0] = -32767;
	b[0] = -127;
	for (size_t n = 1; n <= 300; n += (n < 40 ? 1 : 37))
		for (size_t rows = 0; rows <= 9; rows++)
		{
			k->dot_i16_i8_rows(a, b, n, rows, got);
			for (size_t r = 0; r < rows; r++)
			{
				int64_t		ref = 0;

				for (size_t i = 0; i < n; i++)
					ref += (int64_t) a[i] * b[r * n + i];
				check(got[r] == ref, "dot_i16_i8_rows", k->name, n, (int) r,
					  (double) got[r], (double) ref);
			}
		}
}

int
main(void)
{
	const LanceKernels *paths[2];
	int			npaths = 0;
	int			p;
	static const size_t big[] = {511, 768, 1024, 1536, 4096, 16000};

	check_selection();
	paths[npaths++] = &lance_kernels_scalar;
	if (lance_kernels_avx2())
		paths[npaths++] = lance_kernels_avx2();
	else
		printf("# avx2 path not available on this CPU: scalar only\n");

	fill_random();
	check_f16_hand();

	for (p = 0; p < npaths; p++)
	{
		const LanceKernels *k = paths[p];
		size_t		n;
		size_t		j;
		int			off;

		printf("# path %s\n", k->name);
		check_hand_values(k);
		for (off = 0; off < PAD; off++)
		{
			for (n = 1; n <= 300; n++)
				check_lengths(k, n, off);
			for (j = 0; j < sizeof(big) / sizeof(big[0]); j++)
				check_lengths(k, big[j], off);
		}
		check_f16_exhaustive(k);
		check_f32_to_f16(k);
		check_dot_i8(k);
	}

	for (p = 0; p < PAD; p++)
	{
		size_t		n;

		for (n = 0; n <= 70; n++)
			check_bits_naive(n, p);
	}

	printf("%d passed, %d failed\n", n_passed, n_failed);
	return n_failed == 0 ? 0 : 1;
}
