/*
 * bench_distance.c
 *	  Nanoseconds per distance for every kernel path, and the avx2/scalar
 *	  speedup measured in the same run.
 *
 * Usage: bench_distance [ms_per_cell [working_set_kib]]
 *		(defaults 50 and 32)
 *
 * Each cell cycles over at most 1000 vector pairs whose f32 data fits the
 * working set (but at least one pair), so with the default the numbers show
 * the arithmetic rather than the memory system; pass e.g. 1024 to see
 * L2-resident data instead.  Each cell is timed as the best of
 * three runs that together take about ms_per_cell, which damps noise from
 * other tenants of the machine.
 */
#include "kernels/distance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PAIRS 1000
#define RUNS 3

typedef enum
{
	K_L2SQ_F32,
	K_DOT_F32,
	K_COSINE_F32,
	K_L1_F32,
	K_L2SQ_F16,
	K_DOT_F16,
	K_HAMMING,
	K_COUNT
} KernelId;

static const char *const kernel_names[K_COUNT] = {
	"l2sq_f32", "dot_f32", "cosine_f32", "l1_f32",
	"l2sq_f16", "dot_f16", "hamming"
};

static const size_t dims[] = {
	32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 4096
};

/* keeps every result observable so no call can be dropped */
static volatile float sink_f;
static volatile uint64_t sink_u;

static float *fa;
static float *fb;
static uint16_t *ha;
static uint16_t *hb;
static uint8_t *ba;
static uint8_t *bb;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

/* One pass: a distance for each of npairs pairs of dim elements. */
static void
run_pass(const LanceKernels *k, KernelId id, size_t dim, size_t npairs)
{
	float		acc = 0.0f;
	uint64_t	bits = 0;
	size_t		i;

	switch (id)
	{
		case K_L2SQ_F32:
			for (i = 0; i < npairs; i++)
				acc += k->l2sq_f32(fa + i * dim, fb + i * dim, dim);
			break;
		case K_DOT_F32:
			for (i = 0; i < npairs; i++)
				acc += k->dot_f32(fa + i * dim, fb + i * dim, dim);
			break;
		case K_COSINE_F32:
			for (i = 0; i < npairs; i++)
			{
				float		d,
							na,
							nb;

				k->cosine_f32(fa + i * dim, fb + i * dim, dim, &d, &na, &nb);
				acc += d + na + nb;
			}
			break;
		case K_L1_F32:
			for (i = 0; i < npairs; i++)
				acc += k->l1_f32(fa + i * dim, fb + i * dim, dim);
			break;
		case K_L2SQ_F16:
			for (i = 0; i < npairs; i++)
				acc += k->l2sq_f16(ha + i * dim, hb + i * dim, dim);
			break;
		case K_DOT_F16:
			for (i = 0; i < npairs; i++)
				acc += k->dot_f16(ha + i * dim, hb + i * dim, dim);
			break;
		case K_HAMMING:
			/* dim bits = dim / 8 bytes per vector */
			for (i = 0; i < npairs; i++)
				bits += k->hamming(ba + i * (dim / 8), bb + i * (dim / 8),
								   dim / 8);
			break;
		case K_COUNT:
			break;
	}
	sink_f = acc;
	sink_u = bits;
}

/* ns per distance: best of RUNS runs sized to fill cell_ms together */
static double
measure(const LanceKernels *k, KernelId id, size_t dim, size_t npairs,
		double cell_ms)
{
	double		t0;
	double		pass_ns;
	double		best = 0.0;
	long		passes = 0;
	long		per_run;
	int			r;

	/* warm up and estimate the cost of one pass over ~5 ms */
	t0 = now_ns();
	do
	{
		run_pass(k, id, dim, npairs);
		passes++;
	} while (now_ns() - t0 < 5e6);
	pass_ns = (now_ns() - t0) / (double) passes;
	per_run = (long) (cell_ms * 1e6 / RUNS / pass_ns);
	if (per_run < 1)
		per_run = 1;

	for (r = 0; r < RUNS; r++)
	{
		long		p;
		double		ns;

		t0 = now_ns();
		for (p = 0; p < per_run; p++)
			run_pass(k, id, dim, npairs);
		ns = (now_ns() - t0) / ((double) per_run * (double) npairs);
		if (r == 0 || ns < best)
			best = ns;
	}
	return best;
}

static void *
xmalloc(size_t size)
{
	void	   *p = malloc(size);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

int
main(int argc, char **argv)
{
	const LanceKernels *scalar = &lance_kernels_scalar;
	const LanceKernels *avx2 = lance_kernels_avx2();
	double		cell_ms = argc > 1 ? atof(argv[1]) : 50.0;
	size_t		ws_bytes = (size_t) (argc > 2 ? atof(argv[2]) : 32.0) * 1024;
	size_t		max_dim = dims[sizeof(dims) / sizeof(dims[0]) - 1];
	size_t		total = MAX_PAIRS * max_dim;
	size_t		i;
	int			id;

	if (cell_ms <= 0)
		cell_ms = 50.0;
	if (ws_bytes == 0)
		ws_bytes = 32 * 1024;

	fa = xmalloc(total * sizeof(float));
	fb = xmalloc(total * sizeof(float));
	ha = xmalloc(total * sizeof(uint16_t));
	hb = xmalloc(total * sizeof(uint16_t));
	ba = xmalloc(total / 8);
	bb = xmalloc(total / 8);

	srand(42);
	for (i = 0; i < total; i++)
	{
		fa[i] = (float) rand() / (float) RAND_MAX * 2.0f - 1.0f;
		fb[i] = (float) rand() / (float) RAND_MAX * 2.0f - 1.0f;
	}
	scalar->f32_to_f16(fa, ha, total);
	scalar->f32_to_f16(fb, hb, total);
	for (i = 0; i < total / 8; i++)
	{
		ba[i] = (uint8_t) rand();
		bb[i] = (uint8_t) rand();
	}

	printf("lancedb distance kernels: ns per distance (lower is better)\n");
	printf("paths: scalar%s\n",
		   avx2 ? ", avx2" : " (avx2 not supported by this CPU)");
	printf("pairs cycled per cell: as many as fit %zu KiB of f32 data "
		   "(1 .. %d); best of %d runs, ~%.0f ms per cell\n",
		   ws_bytes / 1024, MAX_PAIRS, RUNS, cell_ms);
	printf("hamming compares dim-bit vectors (dim/8 bytes)\n\n");
	printf("%-11s %5s %6s %12s %12s %9s\n",
		   "kernel", "dim", "pairs", "scalar ns", "avx2 ns", "speedup");

	for (id = 0; id < K_COUNT; id++)
	{
		size_t		d;

		for (d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
		{
			size_t		dim = dims[d];
			size_t		npairs = ws_bytes / (2 * dim * sizeof(float));
			double		s_ns;

			if (npairs > MAX_PAIRS)
				npairs = MAX_PAIRS;
			if (npairs < 1)
				npairs = 1;

			s_ns = measure(scalar, (KernelId) id, dim, npairs, cell_ms);
			if (avx2)
			{
				double		v_ns = measure(avx2, (KernelId) id, dim, npairs,
										   cell_ms);

				printf("%-11s %5zu %6zu %12.2f %12.2f %8.2fx\n",
					   kernel_names[id], dim, npairs, s_ns, v_ns, s_ns / v_ns);
			}
			else
				printf("%-11s %5zu %6zu %12.2f %12s %9s\n",
					   kernel_names[id], dim, npairs, s_ns, "-", "-");
			fflush(stdout);
		}
		if (id + 1 < K_COUNT)
			printf("\n");
	}
	return 0;
}
