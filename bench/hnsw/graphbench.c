/*
 * graphbench.c
 *	  The in-memory HNSW build graph alone (src/index/hnsw_graph.c), outside
 *	  PostgreSQL: CPU time of linking the rows of an ivfbench data file
 *	  (float vectors or SQ codes), and recall@10 of a search at ef over it
 *	  with an exact re-rank, as a lance_hnsw scan does.  CPU time, not wall
 *	  time: other work shares this machine's CPUs.
 *
 *   make -C bench/hnsw graphbench
 *   bench/hnsw/graphbench BASE.f32 QUERIES.f32 GT.bin {float|sq} [m efc ef n]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index/hnsw_graph.h"
#include "kernels/distance.h"

static void *
xalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

/* ivfbench vector file: "IVFBVEC1", int64 rows, int32 dim, int32 0, floats */
static float *
read_vecs(const char *path, int64_t *n, int *dim)
{
	FILE	   *f = fopen(path, "rb");
	char		magic[8];
	int32_t		hdr[2];
	float	   *x;

	if (!f || fread(magic, 1, 8, f) != 8 || memcmp(magic, "IVFBVEC1", 8) != 0 ||
		fread(n, sizeof(int64_t), 1, f) != 1 || fread(hdr, sizeof(hdr), 1, f) != 1)
	{
		fprintf(stderr, "%s: not an ivfbench vector file\n", path);
		exit(1);
	}
	*dim = hdr[0];
	x = xalloc(sizeof(float) * (size_t) *n * *dim);
	if (fread(x, sizeof(float) * *dim, *n, f) != (size_t) *n)
	{
		fprintf(stderr, "%s: short file\n", path);
		exit(1);
	}
	fclose(f);
	return x;
}

static double
cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	int64_t		n,
				nq;
	int			dim,
				qdim;
	float	   *base,
			   *queries;
	int32_t    *gt;
	int32_t		gthdr[2];
	FILE	   *f;
	HnswGraphOptions o;
	HnswGraph  *g;
	double		t0,
				t1;
	int			ef;
	int64_t		hits = 0;

	if (argc < 5)
	{
		fprintf(stderr, "usage: graphbench BASE QUERIES GT {float|sq} [m efc ef n]\n");
		return 2;
	}
	lance_kernels_init();
	base = read_vecs(argv[1], &n, &dim);
	queries = read_vecs(argv[2], &nq, &qdim);
	f = fopen(argv[3], "rb");
	if (!f || fseek(f, 8, SEEK_SET) != 0 || fread(gthdr, sizeof(gthdr), 1, f) != 1)
		return 1;
	gt = xalloc(sizeof(int32_t) * gthdr[0] * gthdr[1]);
	if (fread(gt, sizeof(int32_t) * gthdr[1], gthdr[0], f) != (size_t) gthdr[0])
		return 1;
	fclose(f);
	if (nq > gthdr[0])
		nq = gthdr[0];

	memset(&o, 0, sizeof(o));
	o.dim = dim;
	o.m = argc > 5 ? atoi(argv[5]) : 20;
	o.ef_construction = argc > 6 ? atoi(argv[6]) : 64;
	ef = argc > 7 ? atoi(argv[7]) : 40;
	if (argc > 8 && atoll(argv[8]) < n)
		n = atoll(argv[8]);
	o.memory_limit = (size_t) 16 << 30;
	o.payload_size = sizeof(int32_t);
	o.seed = 0x5EED;
	o.alloc = xalloc;
	o.release = free;

	t0 = cpu_seconds();
	if (strcmp(argv[4], "sq") == 0)
	{
		QuantOptions qo = {.kind = QUANT_SQ, .metric = QMETRIC_L2, .dim = dim,
		.num_bits = 8, .seed = 1, .alloc = xalloc, .release = free};

		/* as the index build: trained on a sample (every 16th row here) */
		int64_t		ns = n < 65536 ? n : 65536;
		float	   *s = xalloc(sizeof(float) * ns * dim);

		for (int64_t i = 0; i < ns; i++)
			memcpy(s + i * dim, base + (i * n / ns) * dim, sizeof(float) * dim);
		o.quant = quantizer_train(&qo, s, ns);
		free(s);
	}
	g = hnsw_graph_create(&o, n);
	for (int64_t i = 0; i < n; i++)
	{
		int32_t		id = (int32_t) i;

		if (hnsw_graph_add(g, base + i * dim, &id) < 0)
		{
			fprintf(stderr, "graph full at %ld\n", (long) i);
			return 1;
		}
	}
	t1 = cpu_seconds();

	for (int64_t qi = 0; qi < nq; qi++)
	{
		HnswCandidate *out = xalloc(sizeof(HnswCandidate) * ef);
		const float *q = queries + qi * dim;
		int			k = hnsw_graph_search(g, q, ef, ef, out);

		/* exact re-rank of what the search found */
		for (int i = 0; i < k; i++)
		{
			int32_t		id = *(const int32_t *) hnsw_graph_payload(g, (int64_t) out[i].key);

			out[i].key = (HnswKey) id;
			out[i].dist = lance_kernels->l2sq_f32(q, base + (int64_t) id * dim, dim);
		}
		hnsw_sort_candidates(out, k);
		for (int i = 0; i < k && i < 10; i++)
			for (int j = 0; j < 10; j++)
				if (gt[qi * gthdr[1] + j] == (int32_t) out[i].key)
					hits++;
		free(out);
	}
	printf("%s n %ld m %d efc %d: build %.2f s CPU, %.1f MB; recall@10 at ef %d: %.4f\n",
		   argv[4], (long) n, o.m, o.ef_construction, t1 - t0,
		   hnsw_graph_memory(g) / 1048576.0, ef, (double) hits / (nq * 10));
	hnsw_graph_free(g);
	return 0;
}
