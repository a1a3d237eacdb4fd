/*
 * test_hnsw_graph.c
 *	  The in-memory HNSW graph: recall@10 against brute force on clustered
 *	  data, memory limit, level distribution, neighbour selection.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/hnsw_graph.h"
#include "kernels/distance.h"

static int	passed,
			failed,
			payload_bad;

#define CHECK(cond, ...) \
	do { if (cond) passed++; else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static uint64_t rng = 42;
static double
urand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) ((rng >> 11) + 1) / 9007199254740993.0;
}

static double
gauss(void)
{
	return sqrt(-2 * log(urand())) * cos(2 * M_PI * urand());
}

static void *
xalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

static int
cmpf(const void *a, const void *b)
{
	float		x = *(const float *) a,
				y = *(const float *) b;

	return x < y ? -1 : x > y;
}

static double
recall_at_10(int n, int dim, bool ip, bool sq, int ef, size_t limit, int64_t *added)
{
	float	   *data = xalloc(sizeof(float) * n * dim);
	float	   *cent = xalloc(sizeof(float) * 20 * dim);
	HnswGraphOptions o = {.dim = dim, .m = 16, .ef_construction = 64, .inner_product = ip,
	.memory_limit = limit, .payload_size = sizeof(int), .seed = 7, .alloc = xalloc, .release = free};
	HnswGraph  *g;
	int			hits = 0,
				total = 0;

	for (int i = 0; i < 20 * dim; i++)
		cent[i] = 3 * gauss();
	for (int i = 0; i < n; i++)
	{
		int			c = (int) (urand() * 20) % 20;

		for (int d = 0; d < dim; d++)
			data[i * dim + d] = cent[c * dim + d] + gauss() / (1 + d % 5);
	}
	if (sq)
	{
		/* the graph on SQ codes trained from the first fifth of the rows */
		QuantOptions qo = {.kind = QUANT_SQ, .metric = ip ? QMETRIC_IP : QMETRIC_L2,
		.dim = dim, .num_bits = 8, .seed = 1, .alloc = xalloc, .release = free};

		o.quant = quantizer_train(&qo, data, n / 5);
		CHECK(o.quant != NULL, "sq training failed");
	}
	g = hnsw_graph_create(&o, 100);
	*added = 0;
	for (int i = 0; i < n; i++)
	{
		if (hnsw_graph_add(g, data + i * dim, &i) < 0)
			break;
		if (*(const int *) hnsw_graph_payload(g, *added) != i)
			payload_bad++;
		(*added)++;
	}
	for (int qi = 0; qi < 50; qi++)
	{
		float		q[64];
		float	   *d = xalloc(sizeof(float) * *added);
		float	   *ds = xalloc(sizeof(float) * *added);
		HnswCandidate out[10];
		int			k;

		for (int j = 0; j < dim; j++)
			q[j] = data[(qi * 37 % *added) * dim + j] + 0.3f * gauss();
		for (int64_t i = 0; i < *added; i++)
			d[i] = ds[i] = ip ? -lance_kernels->dot_f32(q, data + i * dim, dim) :
				lance_kernels->l2sq_f32(q, data + i * dim, dim);
		qsort(ds, *added, sizeof(float), cmpf);
		k = hnsw_graph_search(g, q, 10, ef, out);
		for (int i = 0; i < k; i++)
		{
			int64_t		id = *(const int *) hnsw_graph_payload(g, (int64_t) out[i].key);

			/* the exact distance of what was found (codes only estimate it) */
			if (d[id] <= ds[9] * (ds[9] >= 0 ? 1.0001f : 0.9999f))
				hits++;
		}
		total += 10;
		free(d);
		free(ds);
	}
	hnsw_graph_free(g);
	if (o.quant)
		quantizer_free((Quantizer *) o.quant);
	free(data);
	free(cent);
	return (double) hits / total;
}

static float
pair_1d(void *arg, HnswKey a, HnswKey b)
{
	const float *x = arg;

	return fabsf(x[a] - x[b]);
}

/* ---- shared graph, several threads, per-node rwlocks ---- */
#include <pthread.h>

static pthread_rwlock_t *locks;

static void
t_lock(void *arg, int64_t node, bool exclusive)
{
	pthread_rwlock_t *l = &locks[node + 1];

	(void) arg;
	if (exclusive)
		pthread_rwlock_wrlock(l);
	else
		pthread_rwlock_rdlock(l);
}

static void
t_unlock(void *arg, int64_t node)
{
	(void) arg;
	pthread_rwlock_unlock(&locks[node + 1]);
}

typedef struct ThreadArg
{
	void	   *region;
	HnswGraphOptions o;
	const float *data;
	int			from,
				to,
				dim;
	int			failed;
} ThreadArg;

static void *
t_add(void *p)
{
	ThreadArg  *a = p;
	HnswGraph  *g = hnsw_graph_attach(a->region, &a->o);

	for (int i = a->from; i < a->to; i++)
		if (hnsw_graph_add(g, a->data + (size_t) i * a->dim, &i) < 0)
			a->failed++;
	hnsw_graph_free(g);
	return NULL;
}

static void
test_shared(void)
{
	int			n = 6000,
				dim = 24,
				nthreads = 3;
	float	   *data = xalloc(sizeof(float) * n * dim);
	HnswGraphOptions o = {.dim = dim, .m = 12, .ef_construction = 48,
		.payload_size = sizeof(int), .seed = 3, .alloc = xalloc, .release = free,
	.lock = t_lock, .unlock = t_unlock};
	size_t		size = hnsw_graph_region_size(&o, n);
	void	   *region = xalloc(size);
	pthread_t	th[3];
	ThreadArg	ta[3];
	HnswGraph  *g;
	int			hits = 0;
	bool	   *seen = calloc(n, 1);
	int			dup = 0;

	for (int i = 0; i < n * dim; i++)
		data[i] = (float) gauss() + (i / dim % 7) * 2.0f;
	locks = xalloc(sizeof(pthread_rwlock_t) * (n + 1));
	for (int i = 0; i <= n; i++)
		pthread_rwlock_init(&locks[i], NULL);
	hnsw_graph_region_init(region, size, &o);
	for (int t = 0; t < nthreads; t++)
	{
		ta[t].region = region;
		ta[t].o = o;
		ta[t].o.seed = 100 + t;
		ta[t].data = data;
		ta[t].from = n * t / nthreads;
		ta[t].to = n * (t + 1) / nthreads;
		ta[t].dim = dim;
		ta[t].failed = 0;
		pthread_create(&th[t], NULL, t_add, &ta[t]);
	}
	for (int t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	g = hnsw_graph_attach(region, &o);
	CHECK(hnsw_graph_size(g) == n, "shared graph holds %ld of %d", (long) hnsw_graph_size(g), n);
	CHECK(ta[0].failed + ta[1].failed + ta[2].failed == 0, "adds failed");
	for (int64_t i = 0; i < hnsw_graph_size(g); i++)
	{
		int			p = *(const int *) hnsw_graph_payload(g, i);

		if (p < 0 || p >= n || seen[p])
			dup++;
		else
			seen[p] = true;
	}
	CHECK(dup == 0, "%d bad payloads", dup);
	/* every node finds itself */
	for (int i = 0; i < n; i += 7)
	{
		HnswCandidate out[1];

		if (hnsw_graph_search(g, data + (size_t) i * dim, 1, 32, out) == 1 && out[0].dist == 0)
			hits++;
	}
	CHECK(hits >= (n / 7) * 0.98, "self found %d of %d", hits, n / 7 + 1);
	/* a full region refuses more */
	{
		float		extra[24] = {0};

		CHECK(hnsw_graph_add(g, extra, &n) == -1 && hnsw_graph_full(g), "full region accepted a node");
	}
	hnsw_graph_free(g);
	free(region);
	free(data);
	free(locks);
	free(seen);
}

int
main(void)
{
	int64_t		added;
	double		r;
	int			hist[HNSW_MAX_LEVEL + 1] = {0};

	lance_kernels_init();

	r = recall_at_10(5000, 32, false, false, 64, (size_t) 1 << 30, &added);
	CHECK(added == 5000, "added %ld", (long) added);
	CHECK(r >= 0.95, "l2 recall@10 %.3f", r);
	printf("l2 recall@10 ef 64: %.3f\n", r);
	r = recall_at_10(5000, 32, true, false, 64, (size_t) 1 << 30, &added);
	CHECK(r >= 0.90, "ip recall@10 %.3f", r);
	printf("ip recall@10 ef 64: %.3f\n", r);

	/* graphs linked on SQ codes find nearly the same neighbours */
	r = recall_at_10(5000, 32, false, true, 64, (size_t) 1 << 30, &added);
	CHECK(added == 5000, "added %ld", (long) added);
	CHECK(r >= 0.93, "sq l2 recall@10 %.3f", r);
	printf("sq l2 recall@10 ef 64: %.3f\n", r);
	r = recall_at_10(5000, 32, true, true, 64, (size_t) 1 << 30, &added);
	CHECK(r >= 0.88, "sq ip recall@10 %.3f", r);
	printf("sq ip recall@10 ef 64: %.3f\n", r);

	/* the memory limit stops adding, the graph stays searchable */
	r = recall_at_10(5000, 32, false, false, 64, 512 * 1024, &added);
	CHECK(added > 100 && added < 5000, "limited graph took %ld nodes", (long) added);
	CHECK(r >= 0.9, "recall of limited graph %.3f", r);

	/* levels: P(level >= 1) = 1/m */
	for (int i = 0; i < 100000; i++)
		hist[hnsw_random_level(urand(), 16)]++;
	CHECK(hist[0] > 92000 && hist[0] < 95500, "level 0 share %d", hist[0]);
	CHECK(hist[1] > 5000 && hist[1] < 7000, "level 1 share %d", hist[1]);
	CHECK(hnsw_random_level(0.0, 16) <= HNSW_MAX_LEVEL, "capped");

	/* heuristic: on a line, from base 0 only the nearest on each side stays */
	{
		float		xs[6] = {0, 1, 2, 3, -1, -2};
		HnswCandidate c[5];
		int			k;

		for (int i = 0; i < 5; i++)
		{
			c[i].key = i + 1;
			c[i].dist = fabsf(xs[i + 1]);
			c[i].deleted = false;
		}
		k = hnsw_select_neighbors(c, 5, 4, pair_1d, xs);
		CHECK(k == 2, "kept %d", k);
		CHECK((c[0].key == 1 && c[1].key == 4) || (c[0].key == 4 && c[1].key == 1),
			  "kept %lu %lu", (unsigned long) c[0].key, (unsigned long) c[1].key);
	}
	CHECK(payload_bad == 0, "%d payloads wrong", payload_bad);
	test_shared();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
