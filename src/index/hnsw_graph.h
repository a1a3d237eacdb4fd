/*
 * hnsw_graph.h
 *	  HNSW (hierarchical navigable small world) graphs: the layer search,
 *	  heuristic neighbour selection and level generation shared by the
 *	  in-memory build graph and the on-disk graph of lance_hnsw, plus the
 *	  in-memory graph itself.
 *
 * Plain C over plain buffers (no PostgreSQL headers).  The search is
 * written against callbacks (HnswSearchOps) so one implementation walks
 * nodes in memory (keys are node numbers) and elements in index pages
 * (keys are packed item pointers).
 *
 * Distances are "internal": squared L2 (cosine callers normalise, so L2 on
 * unit vectors), or negative inner product.  Smaller is closer.
 */
#ifndef LANCE_INDEX_HNSW_GRAPH_H
#define LANCE_INDEX_HNSW_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index/quantizer.h"

#define HNSW_MAX_LEVEL		15	/* levels 0..15; P(level > 15) ~ m^-16 */
#define HNSW_MAX_M			100

typedef uint64_t HnswKey;

typedef struct HnswCandidate
{
	HnswKey		key;
	float		dist;
	bool		deleted;		/* traversed but never a result */
} HnswCandidate;

typedef struct HnswSearchOps
{
	/*
	 * Mark key visited; true if it was not visited before.
	 */
	bool		(*visit) (void *arg, HnswKey key);

	/*
	 * Neighbours of key on level into out (at most cap); returns how many.
	 */
	int			(*neighbors) (void *arg, HnswKey key, int level,
							  HnswKey *out, int cap);

	/*
	 * Distances of the query to n nodes; deleted[i] flags tombstones.
	 * Batched so page-based callers can prefetch.
	 */
	void		(*distances) (void *arg, const HnswKey *keys, int n,
							  float *dist, bool *deleted);
	void	   *arg;
	void	   *(*alloc) (size_t size);	/* must not return NULL */
	void		(*release) (void *ptr);
	void		(*interrupt) (void *arg);	/* may be NULL */
	int			max_degree;		/* largest neighbour list of any level */
} HnswSearchOps;

/*
 * Best-first search of one level from the entries (with their distances).
 * Writes at most ef live nodes to out in ascending distance and returns
 * their number; tombstones are expanded but take no result slot.  The
 * caller resets the visited state between searches; entries must already
 * be marked visited.  *expanded (if not NULL) counts nodes expanded.
 */
extern int	hnsw_search_layer(const HnswSearchOps *ops,
							  const HnswCandidate *entries, int nentries,
							  int ef, int level, HnswCandidate *out,
							  int64_t *expanded);

/*
 * The heuristic of the HNSW paper (Malkov & Yashunin, algorithm 4): scan
 * cands in ascending distance to the base node and keep one only if it is
 * closer to the base than to every node kept so far, up to m.  pair(a, b)
 * gives the distance between two candidates.  cands is sorted in place;
 * returns the number kept (at the front of cands).
 */
extern int	hnsw_select_neighbors(HnswCandidate *cands, int n, int m,
								  float (*pair) (void *arg, HnswKey a, HnswKey b),
								  void *arg);

extern void hnsw_sort_candidates(HnswCandidate *c, int n);
extern void hnsw_shuffle_ties(HnswCandidate *c, int n);

/* Level of a new node: floor(-ln(U) / ln(m)), capped; u uniform in (0,1]. */
extern int	hnsw_random_level(double u, int m);

/* Neighbour-list capacity on a level: 2m on level 0, m above. */
static inline int
hnsw_level_capacity(int m, int level)
{
	return level == 0 ? 2 * m : m;
}

/* Total neighbour slots of a node of the given top level. */
static inline int
hnsw_total_slots(int m, int level)
{
	return 2 * m + level * m;
}

/* First slot of a level within a node's slots. */
static inline int
hnsw_level_offset(int m, int level)
{
	return level == 0 ? 0 : 2 * m + (level - 1) * m;
}

/* ---- the in-memory graph of a build ---- */

/*
 * The graph lives in one region (header, node array, vectors or codes,
 * per-node payload, neighbour-slot arena) addressed by offsets, so the same
 * code runs on private memory (serial build; the region grows by copying up
 * to the memory limit) and on shared memory attached at different addresses
 * by parallel workers (fixed size).  With lock callbacks set, several
 * processes add nodes concurrently: a node's neighbour lists are read and
 * written under its own lock, the entry point under lock -1, and no code
 * path holds two locks at once.
 *
 * Nodes hold float vectors, or, with a quantizer (SQ), its codes and aux
 * floats: the build is bound by memory traffic, and an SQ code is a quarter
 * of a float32 vector.  A node being added searches with its exact vector
 * against the codes; neighbour selection compares codes with codes.
 */
typedef struct HnswGraph HnswGraph;

typedef struct HnswGraphOptions
{
	int			dim;
	int			m;
	int			ef_construction;
	bool		inner_product;	/* else squared L2 */
	size_t		memory_limit;	/* bytes; adding fails beyond it */
	size_t		payload_size;	/* caller bytes per node (heap TID) */
	uint64_t	seed;
	const Quantizer *quant;		/* NULL: float vectors; else SQ codes (its
								 * metric decides the distance) */
	void	   *(*alloc) (size_t size);	/* must not return NULL */
	void		(*release) (void *ptr);
	void		(*interrupt) (void *arg);
	void	   *interrupt_arg;
	/* shared graphs: lock node (-1: the entry point) shared or exclusive */
	void		(*lock) (void *arg, int64_t node, bool exclusive);
	void		(*unlock) (void *arg, int64_t node);
	void	   *lock_arg;
} HnswGraphOptions;

/* A private graph sized for about expected_nodes (it grows to the limit). */
extern HnswGraph *hnsw_graph_create(const HnswGraphOptions *opts,
									int64_t expected_nodes);

/* Shared graphs: bytes of a region for capacity nodes, its set-up, and a
 * per-process handle on it (attach: alloc/lock/interrupt of this process). */
extern size_t hnsw_graph_region_size(const HnswGraphOptions *opts,
									 int64_t capacity);
extern void hnsw_graph_region_init(void *region, size_t size,
								   const HnswGraphOptions *opts);
extern HnswGraph *hnsw_graph_attach(void *region, const HnswGraphOptions *opts);
extern void hnsw_graph_free(HnswGraph *g);	/* the handle (and a private region) */

/* Nodes a region of this size holds at most. */
extern int64_t hnsw_graph_region_capacity(const HnswGraphOptions *opts,
										  size_t size);

/*
 * Estimated bytes one node of a graph takes (vector or code, expected
 * neighbour slots, bookkeeping, one process's visited mark): the build
 * memory formula of docs/tuning.md.
 */
extern size_t hnsw_graph_node_bytes(const HnswGraphOptions *opts);

/*
 * Add a node with the given vector (and payload) and link it into the
 * graph; with a quantizer the node keeps x's code.  Returns its number, or
 * -1 (graph unchanged) when the region is full (private graphs: when
 * growing would pass the memory limit).
 */
extern int64_t hnsw_graph_add(HnswGraph *g, const float *x, const void *payload);

extern int64_t hnsw_graph_size(const HnswGraph *g);
extern bool hnsw_graph_full(const HnswGraph *g);
extern size_t hnsw_graph_memory(const HnswGraph *g);
extern int64_t hnsw_graph_entry(const HnswGraph *g);
extern int	hnsw_graph_node_level(const HnswGraph *g, int64_t node);
/* float graphs: the vector; quantized graphs: the code and its aux floats */
extern const float *hnsw_graph_vector(const HnswGraph *g, int64_t node);
extern const uint8_t *hnsw_graph_code(const HnswGraph *g, int64_t node);
extern const float *hnsw_graph_aux(const HnswGraph *g, int64_t node);
extern const void *hnsw_graph_payload(const HnswGraph *g, int64_t node);

/* Neighbours of node on level (no locking: for the single-process write
 * pass); returns their count, *nbrs points inside g. */
extern int	hnsw_graph_neighbors(const HnswGraph *g, int64_t node, int level,
								 const int32_t **nbrs);

/* Distances from node to its n neighbours nbrs (as the graph measures). */
extern void hnsw_graph_neighbor_distances(HnswGraph *g, int64_t node,
										  const int32_t *nbrs, int n,
										  float *out);

/* k nearest nodes to x with search width ef (tests and benchmarks). */
extern int	hnsw_graph_search(HnswGraph *g, const float *x, int k, int ef,
							  HnswCandidate *out);

#endif							/* LANCE_INDEX_HNSW_GRAPH_H */
