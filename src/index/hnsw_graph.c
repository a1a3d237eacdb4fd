/*
 * hnsw_graph.c
 *	  HNSW layer search, neighbour selection, level generation, and the
 *	  in-memory graph a lance_hnsw build links its nodes in before writing
 *	  them to index pages in one pass.
 *
 * The in-memory graph keeps exact float vectors (normalised for cosine by
 * the caller), so the graph is built on exact distances whatever the
 * index stores; scans then traverse it on codes.  Nodes live in chunks and
 * their neighbour slots in a bump arena, so growing never copies vectors
 * and the memory used is known exactly (hnsw_graph_memory).
 */
#include "index/hnsw_graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int
hnsw_select_neighbors(HnswCandidate *cands, int n, int m,
					  float (*pair) (void *arg, HnswKey a, HnswKey b),
					  void *arg)
{
	int			kept = 0;

	hnsw_sort_candidates(cands, n);
	for (int i = 0; i < n && kept < m; i++)
	{
		bool		good = true;

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

#define CHUNK_NODES		1024
#define ARENA_BYTES		(256 * 1024)

typedef struct GraphNode
{
	int32_t    *slots;			/* hnsw_total_slots(m, level) */
	uint32_t	vtag;			/* visited in search number vtag */
	uint8_t		level;
	uint8_t		count[HNSW_MAX_LEVEL + 1];
} GraphNode;

typedef struct ArenaBlock
{
	struct ArenaBlock *next;
	size_t		used;
	size_t		size;
	char		data[];
} ArenaBlock;

struct HnswGraph
{
	HnswGraphOptions opts;
	int64_t		n;
	int64_t		nchunks;
	int64_t		chunk_cap;
	GraphNode **nodes;			/* chunks of CHUNK_NODES */
	float	  **vecs;			/* chunks of CHUNK_NODES x dim */
	ArenaBlock *arena;
	size_t		memory;
	int64_t		entry;
	int			max_level;
	uint32_t	vtag;
	uint64_t	rng;
	const float *query;			/* of the running search */
};

static inline GraphNode *
gnode(const HnswGraph *g, int64_t i)
{
	return &g->nodes[i / CHUNK_NODES][i % CHUNK_NODES];
}

const float *
hnsw_graph_vector(const HnswGraph *g, int64_t i)
{
	return g->vecs[i / CHUNK_NODES] + (size_t) (i % CHUNK_NODES) * g->opts.dim;
}

static inline float
vdist(const HnswGraph *g, const float *a, const float *b)
{
	if (g->opts.inner_product)
		return -lance_kernels->dot_f32(a, b, (size_t) g->opts.dim);
	return lance_kernels->l2sq_f32(a, b, (size_t) g->opts.dim);
}

float
hnsw_graph_distance(const HnswGraph *g, const float *x, int64_t node)
{
	return vdist(g, x, hnsw_graph_vector(g, node));
}

size_t
hnsw_graph_node_bytes(int dim, int m)
{
	/* vector, node header, level-0 slots plus expected upper slots m/(m-1) */
	double		upper = m > 1 ? (double) m / (m - 1) - 1.0 : 1.0;

	return (size_t) dim * sizeof(float) + sizeof(GraphNode) +
		(size_t) ((2 * m + upper * m) * sizeof(int32_t)) + 8;
}

HnswGraph *
hnsw_graph_create(const HnswGraphOptions *opts)
{
	HnswGraph  *g = opts->alloc(sizeof(HnswGraph));

	memset(g, 0, sizeof(*g));
	g->opts = *opts;
	g->entry = -1;
	g->max_level = -1;
	g->chunk_cap = 16;
	g->nodes = opts->alloc(sizeof(GraphNode *) * g->chunk_cap);
	g->vecs = opts->alloc(sizeof(float *) * g->chunk_cap);
	g->rng = opts->seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	g->memory = sizeof(HnswGraph) + 2 * sizeof(void *) * g->chunk_cap;
	return g;
}

void
hnsw_graph_free(HnswGraph *g)
{
	ArenaBlock *b = g->arena;

	while (b)
	{
		ArenaBlock *next = b->next;

		g->opts.release(b);
		b = next;
	}
	for (int64_t c = 0; c < g->nchunks; c++)
	{
		g->opts.release(g->nodes[c]);
		g->opts.release(g->vecs[c]);
	}
	g->opts.release(g->nodes);
	g->opts.release(g->vecs);
	g->opts.release(g);
}

int64_t
hnsw_graph_size(const HnswGraph *g)
{
	return g->n;
}

size_t
hnsw_graph_memory(const HnswGraph *g)
{
	return g->memory;
}

int64_t
hnsw_graph_entry(const HnswGraph *g)
{
	return g->entry;
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
	*nbrs = nd->slots + hnsw_level_offset(g->opts.m, level);
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

/* Bump allocation of neighbour slots; NULL-free since alloc never fails. */
static int32_t *
arena_alloc(HnswGraph *g, size_t size)
{
	ArenaBlock *b = g->arena;

	size = (size + 7) & ~(size_t) 7;
	if (b == NULL || b->size - b->used < size)
	{
		size_t		bs = size > ARENA_BYTES ? size : ARENA_BYTES;

		b = g->opts.alloc(sizeof(ArenaBlock) + bs);
		b->next = g->arena;
		b->used = 0;
		b->size = bs;
		g->arena = b;
		g->memory += sizeof(ArenaBlock) + bs;
	}
	b->used += size;
	return (int32_t *) (b->data + b->used - size);
}

/* search callbacks over the in-memory graph */
static bool
mem_visit(void *arg, HnswKey key)
{
	HnswGraph  *g = arg;
	GraphNode  *nd = gnode(g, (int64_t) key);

	if (nd->vtag == g->vtag)
		return false;
	nd->vtag = g->vtag;
	return true;
}

static int
mem_neighbors(void *arg, HnswKey key, int level, HnswKey *out, int cap)
{
	HnswGraph  *g = arg;
	const int32_t *nb;
	int			n = hnsw_graph_neighbors(g, (int64_t) key, level, &nb);

	if (n > cap)
		n = cap;
	for (int i = 0; i < n; i++)
		out[i] = (HnswKey) nb[i];
	return n;
}

static void
mem_distances(void *arg, const HnswKey *keys, int n, float *dist, bool *deleted)
{
	HnswGraph  *g = arg;

	for (int i = 0; i < n; i++)
	{
		if (i + 2 < n)
			__builtin_prefetch(hnsw_graph_vector(g, (int64_t) keys[i + 2]));
		dist[i] = vdist(g, g->query, hnsw_graph_vector(g, (int64_t) keys[i]));
		deleted[i] = false;
	}
}

static float
mem_pair(void *arg, HnswKey a, HnswKey b)
{
	HnswGraph  *g = arg;

	return vdist(g, hnsw_graph_vector(g, (int64_t) a),
				 hnsw_graph_vector(g, (int64_t) b));
}

static void
mem_ops(HnswGraph *g, HnswSearchOps *ops)
{
	ops->visit = mem_visit;
	ops->neighbors = mem_neighbors;
	ops->distances = mem_distances;
	ops->arg = g;
	ops->alloc = g->opts.alloc;
	ops->release = g->opts.release;
	ops->interrupt = NULL;
	ops->max_degree = 2 * g->opts.m;
}

static void
new_search(HnswGraph *g, const float *q)
{
	g->query = q;
	if (++g->vtag == 0)
	{
		/* wrapped: clear every tag once */
		for (int64_t i = 0; i < g->n; i++)
			gnode(g, i)->vtag = 0;
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
	int32_t    *slots = t->slots + hnsw_level_offset(g->opts.m, level);
	const float *tv = hnsw_graph_vector(g, to);
	int			n;

	for (int i = 0; i < t->count[level]; i++)
		if (slots[i] == node)
			return;
	if (t->count[level] < cap)
	{
		slots[t->count[level]++] = (int32_t) node;
		return;
	}
	for (int i = 0; i < cap; i++)
	{
		scratch[i].key = (HnswKey) slots[i];
		scratch[i].dist = vdist(g, tv, hnsw_graph_vector(g, slots[i]));
		scratch[i].deleted = false;
	}
	scratch[cap].key = (HnswKey) node;
	scratch[cap].dist = vdist(g, tv, hnsw_graph_vector(g, node));
	scratch[cap].deleted = false;
	n = hnsw_select_neighbors(scratch, cap + 1, cap, mem_pair, g);
	for (int i = 0; i < n; i++)
		slots[i] = (int32_t) scratch[i].key;
	t->count[level] = (uint8_t) n;
}

int64_t
hnsw_graph_add(HnswGraph *g, const float *x)
{
	int			m = g->opts.m;
	int			dim = g->opts.dim;
	int64_t		id = g->n;
	int			level;
	size_t		slot_bytes;
	size_t		need;
	GraphNode  *nd;
	HnswSearchOps ops;
	HnswCandidate *w;
	HnswCandidate *scratch;
	HnswCandidate ep;
	int			nep;
	int			efc = g->opts.ef_construction;
	int			wcap;

	level = hnsw_random_level((double) ((graph_rand(g) >> 11) + 1) / 9007199254740992.0, m);
	slot_bytes = sizeof(int32_t) * (size_t) hnsw_total_slots(m, level);
	need = slot_bytes + 8;
	if (id % CHUNK_NODES == 0)
		need += (sizeof(GraphNode) + sizeof(float) * (size_t) dim) * CHUNK_NODES;
	if (g->memory + need > g->opts.memory_limit && g->n > 0)
		return -1;

	if (id % CHUNK_NODES == 0)
	{
		if (g->nchunks == g->chunk_cap)
		{
			int64_t		ncap = g->chunk_cap * 2;
			GraphNode **nn = g->opts.alloc(sizeof(GraphNode *) * ncap);
			float	  **nv = g->opts.alloc(sizeof(float *) * ncap);

			memcpy(nn, g->nodes, sizeof(GraphNode *) * g->nchunks);
			memcpy(nv, g->vecs, sizeof(float *) * g->nchunks);
			g->opts.release(g->nodes);
			g->opts.release(g->vecs);
			g->nodes = nn;
			g->vecs = nv;
			g->memory += 2 * sizeof(void *) * (ncap - g->chunk_cap);
			g->chunk_cap = ncap;
		}
		g->nodes[g->nchunks] = g->opts.alloc(sizeof(GraphNode) * CHUNK_NODES);
		memset(g->nodes[g->nchunks], 0, sizeof(GraphNode) * CHUNK_NODES);
		g->vecs[g->nchunks] = g->opts.alloc(sizeof(float) * (size_t) dim * CHUNK_NODES);
		g->nchunks++;
		g->memory += (sizeof(GraphNode) + sizeof(float) * (size_t) dim) * CHUNK_NODES;
	}
	nd = gnode(g, id);
	memset(nd, 0, sizeof(*nd));
	nd->level = (uint8_t) level;
	nd->slots = arena_alloc(g, slot_bytes);
	memcpy((float *) hnsw_graph_vector(g, id), x, sizeof(float) * dim);
	g->n++;

	if (g->entry < 0)
	{
		g->entry = id;
		g->max_level = level;
		return id;
	}

	mem_ops(g, &ops);
	ops.interrupt = g->opts.interrupt;
	ops.arg = g;
	wcap = efc > 2 * m + 1 ? efc : 2 * m + 1;
	w = g->opts.alloc(sizeof(HnswCandidate) * wcap);
	scratch = g->opts.alloc(sizeof(HnswCandidate) * (2 * m + 1));
	x = hnsw_graph_vector(g, id);

	new_search(g, x);
	mem_visit(g, (HnswKey) id);
	ep.key = (HnswKey) g->entry;
	ep.dist = vdist(g, x, hnsw_graph_vector(g, g->entry));
	ep.deleted = false;
	mem_visit(g, ep.key);
	memcpy(w, &ep, sizeof(ep));
	nep = 1;

	/* greedy descent through the levels above the new node's */
	for (int lc = g->max_level; lc > level; lc--)
	{
		HnswCandidate best;

		hnsw_search_layer(&ops, w, nep, 1, lc, &best, NULL);
		new_search(g, x);
		mem_visit(g, (HnswKey) id);
		mem_visit(g, best.key);
		w[0] = best;
		nep = 1;
	}

	for (int lc = (level < g->max_level ? level : g->max_level); lc >= 0; lc--)
	{
		int			nw;
		int			nsel;
		int32_t    *slots = nd->slots + hnsw_level_offset(m, lc);
		HnswCandidate *sel = g->opts.alloc(sizeof(HnswCandidate) * wcap);

		nw = hnsw_search_layer(&ops, w, nep, efc, lc, w, NULL);
		memcpy(sel, w, sizeof(HnswCandidate) * nw);
		nsel = hnsw_select_neighbors(sel, nw, m, mem_pair, g);
		for (int i = 0; i < nsel; i++)
			slots[i] = (int32_t) sel[i].key;
		nd->count[lc] = (uint8_t) nsel;
		for (int i = 0; i < nsel; i++)
			link_back(g, (int64_t) sel[i].key, id, lc, scratch);
		g->opts.release(sel);

		/* the next level starts from everything found on this one */
		new_search(g, x);
		mem_visit(g, (HnswKey) id);
		for (int i = 0; i < nw; i++)
			mem_visit(g, w[i].key);
		nep = nw;
	}
	if (level > g->max_level)
	{
		g->max_level = level;
		g->entry = id;
	}
	g->opts.release(w);
	g->opts.release(scratch);
	return id;
}

int
hnsw_graph_search(HnswGraph *g, const float *x, int k, int ef,
				  HnswCandidate *out)
{
	HnswSearchOps ops;
	HnswCandidate ep;
	HnswCandidate *w;
	int			n;

	if (g->entry < 0)
		return 0;
	if (ef < k)
		ef = k;
	mem_ops(g, &ops);
	w = g->opts.alloc(sizeof(HnswCandidate) * ef);
	new_search(g, x);
	ep.key = (HnswKey) g->entry;
	ep.dist = vdist(g, x, hnsw_graph_vector(g, g->entry));
	ep.deleted = false;
	mem_visit(g, ep.key);
	for (int lc = g->max_level; lc > 0; lc--)
	{
		HnswCandidate best;

		hnsw_search_layer(&ops, &ep, 1, 1, lc, &best, NULL);
		ep = best;
		new_search(g, x);
		mem_visit(g, ep.key);
	}
	n = hnsw_search_layer(&ops, &ep, 1, ef, 0, w, NULL);
	if (n > k)
		n = k;
	memcpy(out, w, sizeof(HnswCandidate) * n);
	g->opts.release(w);
	return n;
}
