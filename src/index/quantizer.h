/*
 * quantizer.h
 *	  Vector quantizers shared by the IVF and HNSW indexes: flat (exact
 *	  float32), SQ (8-bit scalar), PQ (product, 4 or 8 bits per sub-vector)
 *	  and RQ (RaBitQ: random rotation, 1..8 bits per dimension with an
 *	  error bound).
 *
 * Plain C over plain buffers (no PostgreSQL headers).  A quantizer is
 * trained once, serialised into index pages (quantizer_serialize), and
 * rebuilt at scan time (quantizer_deserialize, which validates every length
 * read from disk).  Codes are fixed-size per index: code_size bytes plus
 * num_aux floats of per-vector correction terms.
 *
 * Distances: squared L2 for QMETRIC_L2 and QMETRIC_COSINE (the caller
 * normalises data and queries, so cosine distance = L2^2 / 2), negative
 * inner product for QMETRIC_IP.
 * Each estimate comes with a lower bound of the true distance: exact for
 * flat, guaranteed for SQ (triangle inequality with the stored residual
 * norm), probabilistic for RQ (RaBitQ's error bound), and equal to the
 * estimate for PQ (no bound: callers re-rank refine_factor x k).
 */
#ifndef LANCE_INDEX_QUANTIZER_H
#define LANCE_INDEX_QUANTIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum QuantKind
{
	QUANT_FLAT = 0,
	QUANT_SQ = 1,
	QUANT_PQ = 2,
	QUANT_RQ = 3,
	QUANT_BINARY = 4			/* bit vectors: 1 bit per dimension, Hamming */
} QuantKind;

typedef enum QuantMetric
{
	QMETRIC_L2 = 0,				/* squared Euclidean */
	QMETRIC_IP = 1,				/* negative inner product */
	QMETRIC_COSINE = 2			/* caller normalises: L2 on unit vectors */
} QuantMetric;

typedef struct QuantOptions
{
	QuantKind	kind;
	QuantMetric metric;
	int			dim;
	int			num_sub_vectors;	/* PQ: M (dim % M == 0 not required) */
	int			num_bits;		/* PQ: 4 or 8; RQ: 1..8; SQ: 8 */
	int			max_iterations; /* PQ codebook k-means */
	uint64_t	seed;
	void		(*interrupt_hook) (void *arg);
	void	   *interrupt_arg;
	void	   *(*alloc) (size_t size);	/* must not return NULL */
	void		(*release) (void *ptr);
} QuantOptions;

typedef struct Quantizer Quantizer;		/* opaque */
typedef struct QuantQuery QuantQuery;	/* opaque per-query state */

/*
 * Train on n sample vectors.  When the index encodes residuals against a
 * centroid (IVF), the caller passes residuals (x - centroid) here and to
 * quantizer_encode; flat and SQ ignore centroids entirely and are trained
 * on raw vectors (quantizer_wants_residuals tells which).
 */
extern Quantizer *quantizer_train(const QuantOptions *opts,
								  const float *sample, int64_t n);
extern bool quantizer_wants_residuals(const Quantizer *q);
extern void quantizer_free(Quantizer *q);

extern size_t quantizer_code_size(const Quantizer *q);	/* bytes per vector */

/*
 * True when lower bounds are too loose to order the re-ranking by (PQ:
 * the triangle bound on its reconstruction error): scans then go by the
 * estimate (LanceDB's refine_factor semantics) and use the bound only
 * where it must be sound, e.g. to prune range searches.
 */
extern bool quantizer_rank_by_estimate(const Quantizer *q);
extern int	quantizer_num_aux(const Quantizer *q);	/* floats per vector */
extern QuantKind quantizer_kind(const Quantizer *q);
extern int	quantizer_dim(const Quantizer *q);

/* Encode one vector (or residual) into code (code_size bytes) and aux. */
extern void quantizer_encode(const Quantizer *q, const float *x,
							 uint8_t *code, float *aux);

/* Serialised form: self-describing, versioned, little-endian. */
extern size_t quantizer_serialized_size(const Quantizer *q);
extern void quantizer_serialize(const Quantizer *q, uint8_t *out);
/* Returns NULL and sets *err (static string) on malformed input. */
extern Quantizer *quantizer_deserialize(const uint8_t *buf, size_t len,
										const QuantOptions *alloc_opts,
										const char **err);

/*
 * Per-query state.  quantizer_query_reset prepares it for one query vector
 * and, when the index encodes residuals (IVF), one list centroid (NULL
 * otherwise); estimates are then full distances of the query to the
 * encoded vectors (centroid + residual), in the metric's distance space.
 * Resetting per probed list must be cheap next to scanning the list.
 */
extern QuantQuery *quantizer_query_new(const Quantizer *q);
extern void quantizer_query_reset(QuantQuery *qq, const float *query,
								  const float *centroid);
extern void quantizer_query_free(QuantQuery *qq);

/*
 * IVF fast path.  quantizer_attach_centroids registers the list centroids
 * once (they must outlive the quantizer; it derives what it can ahead of
 * time, e.g. RaBitQ's rotated centroids); then per query
 * quantizer_query_begin, and per probed list quantizer_query_list, which
 * is equivalent to quantizer_query_reset(qq, query, centroids[list]) for
 * residual quantizers (and does nothing for the others) but far cheaper.
 */
extern bool quantizer_attach_centroids(Quantizer *q, const float *centroids,
									   int nlists);
extern void quantizer_query_begin(QuantQuery *qq, const float *query);
extern void quantizer_query_list(QuantQuery *qq, int list);

/*
 * Estimate the distance of the query to n encoded vectors stored as
 * codes[i * code_size] and aux[i * num_aux]; write est[i] and lower[i]
 * (lower <= true distance, see the header comment).
 */
extern void quantizer_estimate(const QuantQuery *qq, const uint8_t *codes,
							   const float *aux, int n,
							   float *est, float *lower);

/*
 * Code areas: how an index page stores the codes of `capacity` entries.
 * Most quantizers use the contiguous layout above (slot i at area + i *
 * code_size, and quantizer_estimate_area is quantizer_estimate); 1-bit RQ
 * interleaves the codes of groups of 16 slots for its
 * fast-scan kernel (see rabitq.c).  Callers therefore only reach the
 * codes through these functions.  Slots of an area that were never put
 * hold arbitrary bytes; their estimates are simply not computed.
 */
extern size_t quantizer_code_area_size(const Quantizer *q, int capacity);
extern void quantizer_code_put(const Quantizer *q, uint8_t *area, int slot,
							   const uint8_t *code);
extern void quantizer_code_get(const Quantizer *q, const uint8_t *area,
							   int slot, uint8_t *code);
/* slot `to` := slot `from` (from != to) */
extern void quantizer_code_move(const Quantizer *q, uint8_t *area, int from,
								int to);

/*
 * quantizer_estimate over the slots 0..n-1 of an area (aux as for
 * quantizer_estimate, entry-major).  For 1-bit RQ the estimates use
 * 8-bit quantised look-up tables: they differ slightly from
 * quantizer_estimate's, and the lower bounds are widened by the
 * tables' rounding error so that they stay bounds.
 */
extern void quantizer_estimate_area(const QuantQuery *qq, const uint8_t *area,
									const float *aux, int n,
									float *est, float *lower);

/*
 * The same, and meanwhile bring `ahead_bytes` at `ahead` (what the caller
 * reads next, e.g. the next list page) into the cache: the prefetches are
 * spread over the area's blocks, so that they overlap the arithmetic
 * without filling the core's miss queue at once.  Only a hint (nothing
 * is read there, any address may be given); the results are exactly
 * quantizer_estimate_area's.
 */
extern void quantizer_estimate_area_ahead(const QuantQuery *qq,
										  const uint8_t *area,
										  const float *aux, int n,
										  float *est, float *lower,
										  const void *ahead,
										  size_t ahead_bytes);

/*
 * Estimate and select in one pass, for ordered scans that only want the
 * entries that may rank near the top: with key = est (by_est) or
 * min(lower, est), the keys quantizer_estimate_area's results give bit for
 * bit, write the slots (ascending) whose key is <= threshold to slots[]
 * and their keys to keys[], and return how many; *min_out gets the
 * smallest key above the threshold (+inf if none).  A NaN key is neither
 * selected nor the minimum.  Only where quantizer_can_select (the 1-bit RQ
 * fast scan, whose kernel has the keys in registers; -1 elsewhere);
 * prefetches as quantizer_estimate_area_ahead.
 */
extern bool quantizer_can_select(const Quantizer *q);
extern int	quantizer_estimate_area_select(const QuantQuery *qq,
										   const uint8_t *area,
										   const float *aux, int n,
										   bool by_est, float threshold,
										   int *slots, float *keys,
										   float *min_out,
										   const void *ahead,
										   size_t ahead_bytes);

/*
 * Graph builds (lance_hnsw links its build graph on SQ codes) compare one
 * vector with many codes, and codes with each other, millions of times:
 * quantizer_estimate_one is quantizer_estimate's estimate for one code,
 * without the lower bound or any per-call set-up (aux may be NULL for SQ,
 * whose estimate does not use it); quantizer_query_reset_code prepares qq
 * for the vector a code decodes to (SQ: exactly, with no decoding).
 */
extern float quantizer_estimate_one(const QuantQuery *qq, const uint8_t *code,
									const float *aux);
extern void quantizer_query_reset_code(QuantQuery *qq, const uint8_t *code,
									   const float *aux);
/*
 * Faster, coarser estimates for graph builds: SQ with L2 or cosine on an
 * AVX2 CPU and at most 2048 dimensions rounds the query to whole code
 * units and the per-dimension weights to 7 bits, and estimates with
 * 16-bit integer arithmetic (quantizer_estimate_one and
 * quantizer_code_distance only; call before quantizer_query_reset).
 * Returns false, changing nothing, where it does not apply.
 */
extern bool quantizer_query_build_mode(QuantQuery *qq);

/* The distance between the vectors two codes decode to; qq is scratch
 * (whatever query it held is lost).  SQ L2/cosine: straight from the codes. */
extern float quantizer_code_distance(QuantQuery *qq, const uint8_t *a,
									 const float *aux_a, const uint8_t *b,
									 const float *aux_b);

/* Decode (approximately) one code back to a vector, for tests and HNSW. */
extern void quantizer_decode(const Quantizer *q, const uint8_t *code,
							 const float *aux, float *out);

#endif							/* LANCE_INDEX_QUANTIZER_H */
