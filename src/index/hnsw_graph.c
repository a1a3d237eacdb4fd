/*
 * hnsw_graph.c
 *	  HNSW layer search, neighbour selection, level generation, and the
 *	  in-memory graph a lance_hnsw build links its nodes in before writing
 *	  them to index pages in one pass.
 *
 * The in-memory graph keeps float vectors (normalised for cosine by the
 * caller) or SQ codes of them (see hnsw_graph.h); neighbour slots live in
 * a bump arena, and the memory used is known exactly (hnsw_graph_memory).
 */
#include "index/hnsw_graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/hugepages.h"
#include "kernels/distance.h"

/* ---- binary heaps of candidates ---- */

typedef struct CandHeap
{
	HnswCandidate *a;
	int			n;
	int			cap;
	bool		max;			/* max-heap (results) or min-heap (frontier) */
} CandHeap;

static inline bool
heap_before(const CandHeap *h, const HnswCandidate *x, const HnswCandidate *y)
{
	return h->max ? x->dist > y->dist : x->dist < y->dist;
}

static void
heap_push(const HnswSearchOps *ops, CandHeap *h, HnswCandidate c)
{
	int			i;

	if (h->n == h->cap)
	{
		int			ncap = h->cap * 2;
		HnswCandidate *na = ops->alloc(sizeof(HnswCandidate) * ncap);

		memcpy(na, h->a, sizeof(HnswCandidate) * h->n);
		ops->release(h->a);
		h->a = na;
		h->cap = ncap;
	}
	i = h->n++;
	h->a[i] = c;
	while (i > 0)
	{
		int			p = (i - 1) / 2;

		if (!heap_before(h, &h->a[i], &h->a[p]))
			break;
		c = h->a[i];
		h->a[i] = h->a[p];
		h->a[p] = c;
		i = p;
	}
}

static HnswCandidate
heap_pop(CandHeap *h)
{
	HnswCandidate top = h->a[0];
	int			i = 0;

	h->a[0] = h->a[--h->n];
	for (;;)
	{
		int			l = 2 * i + 1;
		int			r = l + 1;
		int			b = i;
		HnswCandidate t;

		if (l < h->n && heap_before(h, &h->a[l], &h->a[b]))
			b = l;
		if (r < h->n && heap_before(h, &h->a[r], &h->a[b]))
			b = r;
		if (b == i)
			break;
		t = h->a[i];
		h->a[i] = h->a[b];
		h->a[b] = t;
		i = b;
	}
	return top;
}

static int
cand_cmp(const void *a, const void *b)
{
	const HnswCandidate *x = a;
	const HnswCandidate *y = b;

	if (x->dist < y->dist)
		return -1;
	if (x->dist > y->dist)
		return 1;
	return x->key < y->key ? -1 : x->key > y->key ? 1 : 0;
}

void
hnsw_sort_candidates(HnswCandidate *c, int n)
{
	if (n > 1)
		qsort(c, n, sizeof(HnswCandidate), cand_cmp);
}

int
hnsw_search_layer(const HnswSearchOps *ops, const HnswCandidate *entries,
				  int nentries, int ef, int level, HnswCandidate *out,
				  int64_t *expanded)
{
	CandHeap	frontier = {NULL, 0, 64, false};
	CandHeap	results = {NULL, 0, 0, true};
	int			maxdeg = ops->max_degree;
	HnswKey    *nbrs = ops->alloc(sizeof(HnswKey) * maxdeg);
	HnswKey    *fresh = ops->alloc(sizeof(HnswKey) * maxdeg);
	float	   *dist = ops->alloc(sizeof(float) * maxdeg);
	bool	   *del = ops->alloc(sizeof(bool) * maxdeg);
	int64_t		nexp = 0;
	int			n;

	if (ef < 1)
		ef = 1;
	frontier.a = ops->alloc(sizeof(HnswCandidate) * frontier.cap);
	results.cap = ef + 1;
	results.a = ops->alloc(sizeof(HnswCandidate) * results.cap);

	for (int i = 0; i < nentries; i++)
	{
		heap_push(ops, &frontier, entries[i]);
		if (!entries[i].deleted)
		{
			heap_push(ops, &results, entries[i]);
			if (results.n > ef)
				heap_pop(&results);
		}
	}

	while (frontier.n > 0)
	{
		HnswCandidate c = heap_pop(&frontier);
		int			nn;
		int			nf = 0;

		if (results.n >= ef && c.dist > results.a[0].dist)
			break;
		if (ops->interrupt && (nexp & 255) == 0)
			ops->interrupt(ops->arg);
		nexp++;
		nn = ops->neighbors(ops->arg, c.key, level, nbrs, maxdeg);
		for (int i = 0; i < nn; i++)
			if (ops->visit(ops->arg, nbrs[i]))
				fresh[nf++] = nbrs[i];
		if (nf == 0)
			continue;
		ops->distances(ops->arg, fresh, nf, dist, del);
		for (int i = 0; i < nf; i++)
		{
			HnswCandidate e = {fresh[i], dist[i], del[i]};

			if (isnan(e.dist))
				continue;		/* unreadable element: skip it */
			if (results.n < ef || e.dist < results.a[0].dist)
			{
				heap_push(ops, &frontier, e);
				if (!e.deleted)
				{
					heap_push(ops, &results, e);
					if (results.n > ef)
						heap_pop(&results);
				}
			}
		}
	}

	n = results.n;
	memcpy(out, results.a, sizeof(HnswCandidate) * n);
	hnsw_sort_candidates(out, n);
	if (expanded)
		*expanded += nexp;
	ops->release(frontier.a);
	ops->release(results.a);
	ops->release(nbrs);
	ops->release(fresh);
	ops->release(dist);
	ops->release(del);
	return n;
}

/*
 * Put each run of candidates at exactly equal distance in random order.
 * Such runs are copies of one vector (rows with identical embeddings).  The
 * heuristic keeps copies (no copy is nearer to another than to a copy that
 * owns the list), so a copy's list keeps the first copies in sort order;
 * ordered by key, every list kept the same oldest copies and later ones had
 * no in-links, so no query found them.  In random order each copy is kept by
 * about as many lists as it keeps.
 */
void
hnsw_shuffle_ties(HnswCandidate *c, int n)
{
	static uint64_t state = 0x9E3779B97F4A7C15ull;

	for (int i = 0; i < n;)
	{
		int			j = i + 1;

		while (j < n && c[j].dist == c[i].dist)
			j++;
		for (int k = j - 1; k > i; k--)
		{
			int			r;
			HnswCandidate t;

			/* xorshift64* */
			state ^= state >> 12;
			state ^= state << 25;
			state ^= state >> 27;
			r = i + (int) (((state * 0x2545F4914F6CDD1Dull) >> 33) % (uint64_t) (k - i + 1));
			t = c[k];
			c[k] = c[r];
			c[r] = t;
		}
		i = j;
	}
}

int
hnsw_select_neighbors(HnswCandidate *cands, int n, int m,
					  float (*pair) (void *arg, HnswKey a, HnswKey b),
					  void *arg)
{
	int			kept = 0;
	int			tie_cap = m / 2 > 1 ? m / 2 : 1;
	int			tie_kept = 0;

	hnsw_sort_candidates(cands, n);
	hnsw_shuffle_ties(cands, n);
	for (int i = 0; i < n && kept < m; i++)
	{
		bool		good = true;

		/*
		 * Copies keep each other (see hnsw_shuffle_ties): with more copies
		 * of one vector than a list holds, a copy's list would hold nothing
		 * else, and a search reaching them would be trapped among them.
		 * Half the list at most goes to candidates at one exact distance.
		 */
		if (kept > 0 && cands[i].dist == cands[kept - 1].dist)
		{
			if (tie_kept >= tie_cap)
				continue;
		}
		else
			tie_kept = 0;
		for (int j = 0; j < kept; j++)
		{
			if (pair(arg, cands[i].key, cands[j].key) < cands[i].dist)
			{
				good = false;
				break;
			}
		}
		if (good)
		{
			HnswCandidate t = cands[kept];

			cands[kept] = cands[i];
			cands[i] = t;
			kept++;
			tie_kept++;
		}
	}
	return kept;
}

int
hnsw_random_level(double u, int m)
{
	double		ml = 1.0 / log((double) (m < 2 ? 2 : m));
	double		l;

	if (u <= 0)
		u = 1e-300;
	l = floor(-log(u) * ml);
	return l > HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : (int) l;
}

/* ---- the in-memory graph ---- */

/*
 * Level-0 neighbour lists (2m slots) sit in one array indexed by node
 * number, their unused slots -1, so a search reads them without the node
 * record; the lists of upper levels (m slots each) are carved from the
 * arena.  count[] holds every level's length.
 */
typedef struct GraphNode
{
	uint32_t	slots;			/* upper levels: offset in the arena, in
								 * int32 units */
	uint8_t		level;
	uint8_t		count[HNSW_MAX_LEVEL + 1];
} GraphNode;

/* At the start of the region; all offsets from the region start. */
typedef struct GraphHeader
{
	uint64_t	size;			/* region bytes */
	int64_t		capacity;		/* nodes */
	uint64_t	nodes_off;
	uint64_t	vecs_off;		/* vectors or codes, data_size bytes each */
	uint64_t	aux_off;		/* codes' aux floats, num_aux each */
	uint64_t	payload_off;
	uint64_t	l0_off;			/* 2m int32 slots per node */
	uint64_t	arena_off;
	uint64_t	arena_words;	/* int32 slots the arena holds */
	uint64_t	n;				/* nodes claimed (atomic) */
	uint64_t	arena_used;		/* words (atomic) */
	int64_t		entry;			/* under lock -1 */
	int32_t		max_level;
	int32_t		full;			/* an add found no room */
	int32_t		dim;
	int32_t		m;
	uint64_t	payload_size;
	uint64_t	data_size;
	int32_t		num_aux;
} GraphHeader;

struct HnswGraph
{
	HnswGraphOptions opts;
	char	   *region;
	bool		private_region;
	GraphHeader *h;
	uint32_t   *vtags;			/* this process's visited marks */
	int64_t		vtags_cap;
	uint32_t	vtag;
	uint64_t	rng;
	const float *query;			/* of the running search */
	/* quantized graphs: the running search's query, and pair distances */
	QuantQuery *qq;
	QuantQuery *pq;				/* scratch of pair distances */
	/* the search pool (see mem_search) */
	struct PoolEnt *pool;
	int			pool_cap;
};

#define ALIGN8(x)	(((x) + 7) & ~(uint64_t) 7)

/* expected upper-level slots per node: m per level, 1/(m-1) levels */
static double
expected_upper_slots(int m)
{
	return m > 1 ? (double) m / (m - 1) : 1.0;
}

#define ALIGN64(x)	(((x) + 63) & ~(uint64_t) 63)

static uint64_t
data_size(const HnswGraphOptions *o)
{
	return o->quant ? quantizer_code_size(o->quant) : sizeof(float) * (uint64_t) o->dim;
}

static int
num_aux(const HnswGraphOptions *o)
{
	return o->quant ? quantizer_num_aux(o->quant) : 0;
}

static void
layout(GraphHeader *h, const HnswGraphOptions *o, int64_t capacity)
{
	uint64_t	off = ALIGN64(sizeof(GraphHeader));
	int			m = o->m;
	size_t		payload = o->payload_size;

	h->capacity = capacity;
	h->dim = o->dim;
	h->m = m;
	h->payload_size = payload;
	h->data_size = data_size(o);
	h->num_aux = num_aux(o);
	h->nodes_off = off;
	off = ALIGN64(off + sizeof(GraphNode) * (uint64_t) capacity);
	h->vecs_off = off;
	off = ALIGN64(off + h->data_size * capacity);
	h->aux_off = off;
	off = ALIGN8(off + sizeof(float) * (uint64_t) h->num_aux * capacity);
	h->payload_off = off;
	off = ALIGN64(off + payload * (uint64_t) capacity);
	h->l0_off = off;
	off = ALIGN64(off + sizeof(int32_t) * 2 * (uint64_t) m * capacity);
	h->arena_off = off;
	/* 50% more upper slots than expected: levels are random */
	h->arena_words = (uint64_t) (expected_upper_slots(m) * 1.5 * capacity) + 4 * (uint64_t) m * (HNSW_MAX_LEVEL + 2);
	h->size = off + sizeof(int32_t) * h->arena_words;
}

size_t
hnsw_graph_region_size(const HnswGraphOptions *opts, int64_t capacity)
{
	GraphHeader h;

	layout(&h, opts, capacity);
	return (size_t) h.size;
}

int64_t
hnsw_graph_region_capacity(const HnswGraphOptions *opts, size_t size)
{
	int64_t		lo = 0,
				hi = (int64_t) (size / (data_size(opts) + sizeof(GraphNode))) + 1;

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo + 1) / 2;

		if (hnsw_graph_region_size(opts, mid) <= size)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

size_t
hnsw_graph_node_bytes(const HnswGraphOptions *opts)
{
	return (size_t) data_size(opts) + sizeof(float) * num_aux(opts) +
		sizeof(GraphNode) + opts->payload_size +
		sizeof(int32_t) * 2 * opts->m +
		(size_t) (expected_upper_slots(opts->m) * 1.5 * sizeof(int32_t)) + sizeof(uint32_t);
}

static inline GraphNode *
gnode(const HnswGraph *g, int64_t i)
{
	return (GraphNode *) (g->region + g->h->nodes_off) + i;
}

static inline int32_t *
level0_slots(const HnswGraph *g, int64_t id)
{
	return (int32_t *) (g->region + g->h->l0_off) + (size_t) id * 2 * g->h->m;
}

/* The slots of node id (record nd) on level. */
static inline int32_t *
gslots(const HnswGraph *g, int64_t id, const GraphNode *nd, int level)
{
	if (level == 0)
		return level0_slots(g, id);
	return (int32_t *) (g->region + g->h->arena_off) + nd->slots +
		(size_t) (level - 1) * g->h->m;
}

static inline const char *
gdata(const HnswGraph *g, int64_t i)
{
	return g->region + g->h->vecs_off + (size_t) i * g->h->data_size;
}

const float *
hnsw_graph_vector(const HnswGraph *g, int64_t i)
{
	return (const float *) gdata(g, i);
}

const uint8_t *
hnsw_graph_code(const HnswGraph *g, int64_t i)
{
	return (const uint8_t *) gdata(g, i);
}

const float *
hnsw_graph_aux(const HnswGraph *g, int64_t i)
{
	return (const float *) (g->region + g->h->aux_off) + (size_t) i * g->h->num_aux;
}

const void *
hnsw_graph_payload(const HnswGraph *g, int64_t i)
{
	return g->region + g->h->payload_off + (size_t) i * g->h->payload_size;
}

static inline void
glock(HnswGraph *g, int64_t node, bool exclusive)
{
	if (g->opts.lock)
		g->opts.lock(g->opts.lock_arg, node, exclusive);
}

static inline void
gunlock(HnswGraph *g, int64_t node)
{
	if (g->opts.unlock)
		g->opts.unlock(g->opts.lock_arg, node);
}

#ifndef HNSW_PREFETCH_AHEAD
#define HNSW_PREFETCH_AHEAD	4
#endif

static inline void
prefetch_bytes(const void *p, size_t n)
{
	for (size_t o = 0; o < n; o += 64)
		__builtin_prefetch((const char *) p + o);
}

static inline float
vdist(const HnswGraph *g, const float *a, const float *b)
{
	if (g->opts.inner_product)
		return -lance_kernels->dot_f32(a, b, (size_t) g->opts.dim);
	return lance_kernels->l2sq_f32(a, b, (size_t) g->opts.dim);
}

/* The running search's query to a node. */
static inline float
qdist(const HnswGraph *g, int64_t node)
{
	if (g->qq)
		return quantizer_estimate_one(g->qq, hnsw_graph_code(g, node), NULL);
	return vdist(g, g->query, hnsw_graph_vector(g, node));
}

/* Node a to node b. */
static inline float
pdist(HnswGraph *g, int64_t a, int64_t b)
{
	if (g->pq)
		return quantizer_code_distance(g->pq, hnsw_graph_code(g, a),
									   hnsw_graph_aux(g, a),
									   hnsw_graph_code(g, b),
									   hnsw_graph_aux(g, b));
	return vdist(g, hnsw_graph_vector(g, a), hnsw_graph_vector(g, b));
}

void
hnsw_graph_neighbor_distances(HnswGraph *g, int64_t node, const int32_t *nbrs,
							  int n, float *out)
{
	for (int i = 0; i < n; i++)
		out[i] = pdist(g, node, nbrs[i]);
}

void
hnsw_graph_region_init(void *region, size_t size, const HnswGraphOptions *opts)
{
	GraphHeader *h = region;
	int64_t		cap = hnsw_graph_region_capacity(opts, size);

	memset(h, 0, sizeof(*h));
	layout(h, opts, cap);
	h->entry = -1;
	h->max_level = -1;
}

static HnswGraph *
new_handle(const HnswGraphOptions *opts, char *region)
{
	HnswGraph  *g = opts->alloc(sizeof(HnswGraph));

	memset(g, 0, sizeof(*g));
	g->opts = *opts;
	g->region = region;
	g->h = (GraphHeader *) region;
	g->vtags_cap = g->h->capacity;
	g->vtags = opts->alloc(sizeof(uint32_t) * (size_t) (g->vtags_cap > 0 ? g->vtags_cap : 1));
	memset(g->vtags, 0, sizeof(uint32_t) * (size_t) (g->vtags_cap > 0 ? g->vtags_cap : 1));
	g->rng = opts->seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	if (opts->quant)
	{
		g->qq = quantizer_query_new(opts->quant);
		g->pq = quantizer_query_new(opts->quant);
#ifndef HNSW_GRAPH_EXACT_SQ
		/* integer estimates: the graph tolerates their coarser rounding */
		quantizer_query_build_mode(g->qq);
		quantizer_query_build_mode(g->pq);
#endif
	}
	return g;
}

HnswGraph *
hnsw_graph_attach(void *region, const HnswGraphOptions *opts)
{
	return new_handle(opts, region);
}

HnswGraph *
hnsw_graph_create(const HnswGraphOptions *opts, int64_t expected_nodes)
{
	int64_t		cap = expected_nodes > 1024 ? expected_nodes : 1024;
	int64_t		maxcap = hnsw_graph_region_capacity(opts, opts->memory_limit);
	size_t		size;
	char	   *region;

	if (cap > maxcap)
		cap = maxcap > 1 ? maxcap : 1;
	size = hnsw_graph_region_size(opts, cap);
	region = opts->alloc(size);
	/* the search touches nodes at random: a TLB miss per node on 4 kB pages */
	lance_advise_huge(region, size);
	hnsw_graph_region_init(region, size, opts);
	{
		HnswGraph  *g = new_handle(opts, region);

		g->private_region = true;
		return g;
	}
}

void
hnsw_graph_free(HnswGraph *g)
{
	if (g->private_region)
		g->opts.release(g->region);
	if (g->pool)
		g->opts.release(g->pool);
	if (g->qq)
		quantizer_query_free(g->qq);
	if (g->pq)
		quantizer_query_free(g->pq);
	g->opts.release(g->vtags);
	g->opts.release(g);
}

int64_t
hnsw_graph_size(const HnswGraph *g)
{
	uint64_t	n = __atomic_load_n(&g->h->n, __ATOMIC_ACQUIRE);

	return (int64_t) n < g->h->capacity ? (int64_t) n : g->h->capacity;
}

bool
hnsw_graph_full(const HnswGraph *g)
{
	return __atomic_load_n(&g->h->full, __ATOMIC_ACQUIRE) != 0;
}

size_t
hnsw_graph_memory(const HnswGraph *g)
{
	return (size_t) g->h->size + sizeof(uint32_t) * (size_t) g->vtags_cap;
}

int64_t
hnsw_graph_entry(const HnswGraph *g)
{
	return g->h->entry;
}

int
hnsw_graph_node_level(const HnswGraph *g, int64_t node)
{
	return gnode(g, node)->level;
}

int
hnsw_graph_neighbors(const HnswGraph *g, int64_t node, int level,
					 const int32_t **nbrs)
{
	const GraphNode *nd = gnode(g, node);

	if (level > nd->level)
		return 0;
	*nbrs = gslots(g, node, nd, level);
	return nd->count[level];
}

static uint64_t
graph_rand(HnswGraph *g)
{
	/* xorshift64* */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545F4914F6CDD1DULL;
}

/*
 * Private graphs: move to a region twice as large (within the limit).
 * Offsets stay valid; only the sections move.
 */
static bool
grow(HnswGraph *g)
{
	GraphHeader *old = g->h;
	int64_t		maxcap = hnsw_graph_region_capacity(&g->opts, g->opts.memory_limit);
	int64_t		cap = old->capacity * 2;
	GraphHeader nh;
	char	   *region;

	if (!g->private_region || old->capacity >= maxcap)
		return false;
	if (cap > maxcap)
		cap = maxcap;
	layout(&nh, &g->opts, cap);
	region = g->opts.alloc(nh.size);
	lance_advise_huge(region, nh.size);
	memcpy(region + nh.nodes_off, g->region + old->nodes_off, sizeof(GraphNode) * old->n);
	memcpy(region + nh.vecs_off, g->region + old->vecs_off, old->data_size * old->n);
	memcpy(region + nh.aux_off, g->region + old->aux_off, sizeof(float) * old->num_aux * old->n);
	memcpy(region + nh.l0_off, g->region + old->l0_off, sizeof(int32_t) * 2 * old->m * old->n);
	memcpy(region + nh.payload_off, g->region + old->payload_off, old->payload_size * old->n);
	memcpy(region + nh.arena_off, g->region + old->arena_off, sizeof(int32_t) * old->arena_used);
	nh.n = old->n;
	nh.arena_used = old->arena_used;
	nh.entry = old->entry;
	nh.max_level = old->max_level;
	nh.full = 0;
	memcpy(region, &nh, sizeof(nh));
	g->opts.release(g->region);
	g->region = region;
	g->h = (GraphHeader *) region;
	{
		uint32_t   *vt = g->opts.alloc(sizeof(uint32_t) * (size_t) cap);

		memset(vt, 0, sizeof(uint32_t) * (size_t) cap);
		g->opts.release(g->vtags);
		g->vtags = vt;
		g->vtags_cap = cap;
		g->vtag = 0;
	}
	return true;
}

/* search callbacks over the in-memory graph */
static bool
mem_visit(void *arg, HnswKey key)
{
	HnswGraph  *g = arg;

	if (g->vtags[key] == g->vtag)
		return false;
	g->vtags[key] = g->vtag;
	return true;
}

static float
mem_pair(void *arg, HnswKey a, HnswKey b)
{
	return pdist((HnswGraph *) arg, (int64_t) a, (int64_t) b);
}

/*
 * The search pool: the best ef nodes found so far in ascending distance,
 * each flagged once expanded.  The next node to expand is the first
 * unexpanded one, and the search ends when the pool holds no unexpanded
 * node, which is hnsw_search_layer's stopping rule (the nearest frontier
 * node is farther than the ef-th result) without its two heaps or
 * callbacks: the build graph has no tombstones and is searched millions
 * of times.
 */
typedef struct PoolEnt
{
	float		dist;
	uint32_t	id;				/* | POOL_DONE once expanded */
} PoolEnt;

#define POOL_DONE	0x80000000u

/* Insert (dist, id) into the pool of *n (at most cap) entries; its position. */
static inline int
pool_insert(PoolEnt *pool, int *n, int cap, float dist, uint32_t id)
{
	int			lo = 0,
				hi = *n;

	while (lo < hi)
	{
		int			mid = (lo + hi) >> 1;

		if (pool[mid].dist <= dist)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= cap)
		return cap;
	if (*n == cap)
		(*n)--;
	for (int j = *n; j > lo; j--)
		pool[j] = pool[j - 1];
	pool[lo].dist = dist;
	pool[lo].id = id;
	(*n)++;
	return lo;
}

static inline void
prefetch_lists(const HnswGraph *g, int64_t id, int level)
{
	if (level == 0)
	{
		const char *p = (const char *) level0_slots(g, id);

		__builtin_prefetch(p);
		__builtin_prefetch(p + 64);
		__builtin_prefetch(p + 2 * g->h->m * sizeof(int32_t) - 1);
	}
}

/*
 * Search one level of the in-memory graph from entries (already marked
 * visited) for the ef nodes nearest the running query; writes them to out
 * in ascending distance and returns their number.
 */
static int
mem_search(HnswGraph *g, const HnswCandidate *entries, int nentries, int ef,
		   int level, HnswCandidate *out)
{
	int			maxdeg = 2 * g->h->m;
	int32_t		nbrs[2 * HNSW_MAX_M];
	int32_t		fresh[2 * HNSW_MAX_M];
	size_t		vbytes = g->h->data_size;
	PoolEnt    *pool;
	int			n = 0;
	int			cur;
	int64_t		nexp = 0;

	if (ef < 1)
		ef = 1;
	if (g->pool_cap < ef + 1)
	{
		if (g->pool)
			g->opts.release(g->pool);
		g->pool_cap = ef + 1 > 256 ? ef + 1 : 256;
		g->pool = g->opts.alloc(sizeof(PoolEnt) * g->pool_cap);
	}
	pool = g->pool;
	for (int i = 0; i < nentries; i++)
		pool_insert(pool, &n, ef, entries[i].dist, (uint32_t) entries[i].key);

	cur = 0;
	while (cur < n)
	{
		int64_t		id = pool[cur].id;
		int			nn = 0;
		int			nf = 0;
		int			best = n;

		pool[cur].id |= POOL_DONE;
		/* the next node to expand, unless this one finds a better one */
		for (int j = cur + 1; j < n; j++)
			if (!(pool[j].id & POOL_DONE))
			{
				prefetch_lists(g, pool[j].id, level);
				break;
			}
		if (g->opts.interrupt && (++nexp & 255) == 0)
			g->opts.interrupt(g->opts.interrupt_arg);

		/*
		 * Read without the node's lock: a slot is one aligned word that
		 * holds a node already complete when it was linked, so a list read
		 * while a writer rewrites it is a mix of two valid lists, which a
		 * search tolerates (duplicates are caught by the visited marks).
		 */
		if (level == 0)
		{
			const int32_t *sl = level0_slots(g, id);
			int32_t		k;

			while (nn < maxdeg && (k = __atomic_load_n(&sl[nn], __ATOMIC_ACQUIRE)) >= 0)
				nbrs[nn++] = k;
		}
		else if (level <= gnode(g, id)->level)	/* levels never change */
		{
			const GraphNode *nd = gnode(g, id);
			const int32_t *sl = gslots(g, id, nd, level);
			int			cnt = __atomic_load_n(&nd->count[level], __ATOMIC_ACQUIRE);

			for (int i = 0; i < cnt && i < g->h->m; i++)
			{
				int32_t		k = __atomic_load_n(&sl[i], __ATOMIC_RELAXED);

				if (k >= 0)
					nbrs[nn++] = k;
			}
		}
		for (int i = 0; i < nn; i++)
			__builtin_prefetch(&g->vtags[nbrs[i]]);
		for (int i = 0; i < nn; i++)
		{
			int32_t		k = nbrs[i];

			if (g->vtags[k] != g->vtag)
			{
				g->vtags[k] = g->vtag;
				fresh[nf++] = k;
			}
		}
		for (int i = 0; i < nf && i < HNSW_PREFETCH_AHEAD; i++)
			prefetch_bytes(gdata(g, fresh[i]), vbytes);
		for (int i = 0; i < nf; i++)
		{
			float		d;

			if (i + HNSW_PREFETCH_AHEAD < nf)
				prefetch_bytes(gdata(g, fresh[i + HNSW_PREFETCH_AHEAD]), vbytes);
			d = qdist(g, fresh[i]);
			if (n < ef || d < pool[n - 1].dist)
			{
				int			at = pool_insert(pool, &n, ef, d, (uint32_t) fresh[i]);

				if (at < best)
					best = at;
			}
		}
		/* the first node not yet expanded */
		cur = best < cur + 1 ? best : cur + 1;
		while (cur < n && (pool[cur].id & POOL_DONE))
			cur++;
	}
	for (int i = 0; i < n; i++)
	{
		out[i].key = (HnswKey) (pool[i].id & ~POOL_DONE);
		out[i].dist = pool[i].dist;
		out[i].deleted = false;
	}
	return n;
}

static void
new_search(HnswGraph *g, const float *q)
{
	g->query = q;
	if (++g->vtag == 0)
	{
		/* wrapped: clear every mark once */
		memset(g->vtags, 0, sizeof(uint32_t) * (size_t) g->vtags_cap);
		g->vtag = 1;
	}
}

/* Add `node` to the list of `to` on level, pruning by the heuristic. */
static void
link_back(HnswGraph *g, int64_t to, int64_t node, int level,
		  HnswCandidate *scratch)
{
	GraphNode  *t = gnode(g, to);
	int			cap = hnsw_level_capacity(g->opts.m, level);
	int32_t    *slots;
	int			n;

	glock(g, to, true);
	slots = gslots(g, to, t, level);
	for (int i = 0; i < t->count[level]; i++)
		if (slots[i] == node)
		{
			gunlock(g, to);
			return;
		}
	if (t->count[level] < cap)
	{
		slots[t->count[level]] = (int32_t) node;
		t->count[level]++;
		gunlock(g, to);
		return;
	}
	for (int i = 0; i < cap; i++)
	{
		scratch[i].key = (HnswKey) slots[i];
		scratch[i].dist = pdist(g, to, slots[i]);
		scratch[i].deleted = false;
	}
	scratch[cap].key = (HnswKey) node;
	scratch[cap].dist = pdist(g, to, node);
	scratch[cap].deleted = false;
	n = hnsw_select_neighbors(scratch, cap + 1, cap, mem_pair, g);
	for (int i = 0; i < n; i++)
		slots[i] = (int32_t) scratch[i].key;
	for (int i = n; i < cap; i++)
		slots[i] = -1;
	t->count[level] = (uint8_t) n;
	gunlock(g, to);
}

/* Claim a node and its slots; -1 when the region is full. */
static int64_t
claim_node(HnswGraph *g, int level)
{
	GraphHeader *h = g->h;
	uint64_t	words = (uint64_t) h->m * level;	/* upper levels */
	uint64_t	at;
	uint64_t	id;

	for (;;)
	{
		h = g->h;
		if (!__atomic_load_n(&h->full, __ATOMIC_ACQUIRE))
		{
			at = __atomic_fetch_add(&h->arena_used, words, __ATOMIC_ACQ_REL);
			if (at + words <= h->arena_words)
			{
				id = __atomic_fetch_add(&h->n, 1, __ATOMIC_ACQ_REL);
				if ((int64_t) id < h->capacity)
				{
					GraphNode  *nd = gnode(g, (int64_t) id);

					memset(nd, 0, sizeof(*nd));
					nd->level = (uint8_t) level;
					nd->slots = (uint32_t) at;
					memset(level0_slots(g, (int64_t) id), 0xFF,
						   sizeof(int32_t) * 2 * h->m);
					return (int64_t) id;
				}
				__atomic_fetch_sub(&h->n, 1, __ATOMIC_ACQ_REL);
			}
			__atomic_fetch_sub(&h->arena_used, words, __ATOMIC_ACQ_REL);
		}
		/* private graphs grow (single process: nothing raced with us) */
		if (!g->private_region || !grow(g))
		{
			__atomic_store_n(&g->h->full, 1, __ATOMIC_RELEASE);
			return -1;
		}
	}
}

int64_t
hnsw_graph_add(HnswGraph *g, const float *x, const void *payload)
{
	int			m = g->opts.m;
	int			dim = g->opts.dim;
	int64_t		id;
	int			level;
	GraphNode  *nd;
	HnswCandidate *w;
	HnswCandidate *sel;
	HnswCandidate *scratch;
	HnswCandidate ep;
	int			nep;
	int			efc = g->opts.ef_construction;
	int			wcap;
	int64_t		entry;
	int			max_level;

	level = hnsw_random_level((double) ((graph_rand(g) >> 11) + 1) / 9007199254740992.0, m);
	id = claim_node(g, level);
	if (id < 0)
		return -1;
	nd = gnode(g, id);
	if (g->qq)
	{
		quantizer_encode(g->opts.quant, x, (uint8_t *) gdata(g, id),
						 (float *) hnsw_graph_aux(g, id));
		quantizer_query_reset(g->qq, x, NULL);
	}
	else
	{
		memcpy((float *) hnsw_graph_vector(g, id), x, sizeof(float) * dim);
		x = hnsw_graph_vector(g, id);
	}
	if (g->h->payload_size)
		memcpy((char *) hnsw_graph_payload(g, id), payload, g->h->payload_size);
	__atomic_thread_fence(__ATOMIC_RELEASE);

	glock(g, -1, false);
	entry = g->h->entry;
	max_level = g->h->max_level;
	gunlock(g, -1);
	if (entry < 0)
	{
		glock(g, -1, true);
		if (g->h->entry < 0)
		{
			g->h->entry = id;
			g->h->max_level = level;
			gunlock(g, -1);
			return id;
		}
		entry = g->h->entry;
		max_level = g->h->max_level;
		gunlock(g, -1);
	}

	wcap = efc > 2 * m + 1 ? efc : 2 * m + 1;
	w = g->opts.alloc(sizeof(HnswCandidate) * wcap);
	sel = g->opts.alloc(sizeof(HnswCandidate) * wcap);
	scratch = g->opts.alloc(sizeof(HnswCandidate) * (2 * m + 1));

	new_search(g, x);
	mem_visit(g, (HnswKey) id);
	ep.key = (HnswKey) entry;
	ep.dist = qdist(g, entry);
	ep.deleted = false;
	mem_visit(g, ep.key);
	w[0] = ep;
	nep = 1;

	/* greedy descent through the levels above the new node's */
	for (int lc = max_level; lc > level; lc--)
	{
		HnswCandidate best;

		mem_search(g, w, nep, 1, lc, &best);
		new_search(g, x);
		mem_visit(g, (HnswKey) id);
		mem_visit(g, best.key);
		w[0] = best;
		nep = 1;
	}

	for (int lc = (level < max_level ? level : max_level); lc >= 0; lc--)
	{
		int			nw;
		int			nsel;
		int32_t    *slots;

		nw = mem_search(g, w, nep, efc, lc, w);
		memcpy(sel, w, sizeof(HnswCandidate) * nw);
		nsel = hnsw_select_neighbors(sel, nw, m, mem_pair, g);
		glock(g, id, true);
		slots = gslots(g, id, nd, lc);
		/* back links of concurrent inserts may already be there: merge */
		{
			int			have = nd->count[lc];
			int			cap = hnsw_level_capacity(m, lc);

			for (int i = 0; i < nsel && have < cap; i++)
			{
				bool		dup = false;

				for (int j = 0; j < have && !dup; j++)
					dup = slots[j] == (int32_t) sel[i].key;
				if (!dup)
					slots[have++] = (int32_t) sel[i].key;
			}
			nd->count[lc] = (uint8_t) have;
		}
		gunlock(g, id);
		for (int i = 0; i < nsel; i++)
			link_back(g, (int64_t) sel[i].key, id, lc, scratch);

		/* the next level starts from everything found on this one */
		new_search(g, x);
		mem_visit(g, (HnswKey) id);
		for (int i = 0; i < nw; i++)
			mem_visit(g, w[i].key);
		nep = nw;
	}
	if (level > max_level)
	{
		glock(g, -1, true);
		if (level > g->h->max_level)
		{
			g->h->max_level = level;
			g->h->entry = id;
		}
		gunlock(g, -1);
	}
	g->opts.release(w);
	g->opts.release(sel);
	g->opts.release(scratch);
	return id;
}

int
hnsw_graph_search(HnswGraph *g, const float *x, int k, int ef,
				  HnswCandidate *out)
{
	HnswCandidate ep;
	HnswCandidate *w;
	int			n;

	if (g->h->entry < 0)
		return 0;
	if (ef < k)
		ef = k;
	w = g->opts.alloc(sizeof(HnswCandidate) * ef);
	new_search(g, x);
	if (g->qq)
		quantizer_query_reset(g->qq, x, NULL);
	ep.key = (HnswKey) g->h->entry;
	ep.dist = qdist(g, g->h->entry);
	ep.deleted = false;
	mem_visit(g, ep.key);
	for (int lc = g->h->max_level; lc > 0; lc--)
	{
		HnswCandidate best;

		mem_search(g, &ep, 1, 1, lc, &best);
		ep = best;
		new_search(g, x);
		mem_visit(g, ep.key);
	}
	n = mem_search(g, &ep, 1, ef, 0, w);
	if (n > k)
		n = k;
	memcpy(out, w, sizeof(HnswCandidate) * n);
	g->opts.release(w);
	return n;
}
