/*
 * quantizer_int.h
 *	  Private definitions shared by quantizer.c (dispatch, serialisation,
 *	  flat) and the per-kind modules sq.c, pq.c and rabitq.c.
 *
 * Not for callers: the index code sees only quantizer.h.
 */
#ifndef LANCE_INDEX_QUANTIZER_INT_H
#define LANCE_INDEX_QUANTIZER_INT_H

#include "index/quantizer.h"

#define QUANT_MAX_DIM 16000

/*
 * Width of RaBitQ's error bound in units of the estimator's standard
 * deviation.  The paper's 1.9 is a two-sided ~94% interval; the lower bound
 * is one-sided, and 1.9 measured 2.6-3.0% violations (test_quantizer.c),
 * 2.6 measured 0.3-0.8% (normal tail: 0.47%).
 */
#define RQ_EPS0 2.6f

/*
 * 1-bit RaBitQ codes are scanned with 4-bit look-up tables (fast scan):
 * code areas hold them in groups of RQ_FS_GROUP slots, byte-transposed.
 */
#define RQ_FS_GROUP 16
/* RaBitQ codes in index pages are scanned with 4-bit tables (every bit width) */
#define RQ_FASTSCAN(q) ((q)->kind == QUANT_RQ)

struct Quantizer
{
	QuantKind	kind;
	QuantMetric metric;
	int			dim;
	int			num_bits;
	int			num_sub_vectors;
	uint64_t	seed;
	size_t		code_size;
	int			num_aux;
	void	   *(*alloc) (size_t size);
	void		(*release) (void *ptr);

	/* SQ: code c of dimension i decodes to sq_min[i] + c * sq_step[i] */
	float	   *sq_min;
	float	   *sq_step;

	/*
	 * PQ: sub-vector m covers dimensions [pq_offset[m], pq_offset[m + 1]);
	 * its ksub centroids are stored row-major at pq_codebooks + ksub *
	 * pq_offset[m], so all codebooks together hold ksub * dim floats.
	 */
	int			pq_ksub;
	int		   *pq_offset;
	float	   *pq_codebooks;
	/* same, each sub-space transposed (dimension-major): not serialised */
	float	   *pq_codebooks_t;

	/*
	 * RQ: rotation in rq_dim = D (power of two >= dim, at least 64 so every
	 * bit plane is whole 64-bit words); 3 rounds of sign flip + Hadamard,
	 * signs (+1/-1, 3 * D of them) derived from seed.
	 */
	int			rq_dim;
	float	   *rq_signs;

	/* attached list centroids (not owned), and RQ's rotated copies (owned) */
	const float *centroids;
	int			nlists;
	float	   *rq_rot_centroids;	/* nlists x D */
};

struct QuantQuery
{
	const Quantizer *q;
	bool		use_avx2;		/* SIMD path chosen at creation */
	float	   *query;			/* copy of the query, dim floats */
	float	   *work;			/* scratch, max(dim, D) floats */
	float	   *table;			/* per-kind look-up data, see below */
	float	   *table2;
	float		constant;		/* term added to every estimate */
	float		slack;			/* SQ: absolute float-rounding allowance */
	float		qnorm;			/* SQ: ||q||; RQ: norm of the rotated query */
	float		qsum;			/* RQ: sum of the rotated query's coordinates */
	float		dmax;			/* SQ: bound on the norm of any decoded vector */
	float	   *rq_qrot;		/* RQ: rotated query (begin/list path), D floats */

	/*
	 * 1-bit RQ fast scan: D/4 uint8 tables (kernel order, see rabitq.c)
	 * with <y, q'> ~ lut_base + lut_delta * (sum of entries), within
	 * lut_err_max always and within lut_err but for RQ_EPS0 standard
	 * deviations of the tables' rounding (what the bounds use).  The float
	 * table is then built only if quantizer_estimate needs it, from rq_dir
	 * (the query direction q').
	 */
	uint8_t    *rq_lut;
	float		rq_lut_base;
	float		rq_lut_delta;
	float		rq_lut_err;
	float		rq_lut_err_max;
	float	   *rq_dir;
	bool		rq_table_valid;

	/*
	 * SQ build mode (quantizer_query_build_mode): the query rounded to
	 * whole code units and the weights step^2 as 7-bit integers, so
	 * estimates are integer dot products (sq_wscale per unit).
	 */
	bool		sq_fast;
	int16_t    *sq_qi;
	int16_t    *sq_wi;
	float		sq_wscale;
};

/* quantizer.c */
extern void *quant_alloc(const Quantizer *q, size_t size);
extern void quant_release(const Quantizer *q, void *ptr);

/* sq.c */
extern bool sq_train(Quantizer *q, const float *sample, int64_t n,
					 const QuantOptions *opts);
extern void sq_encode(const Quantizer *q, const float *x, uint8_t *code,
					  float *aux);
extern void sq_decode(const Quantizer *q, const uint8_t *code, float *out);
extern void sq_query_reset(QuantQuery *qq);
extern void sq_estimate(const QuantQuery *qq, const uint8_t *codes,
						const float *aux, int n, float *est, float *lower);
extern float sq_estimate_one(const QuantQuery *qq, const uint8_t *code);
extern void sq_query_reset_code(QuantQuery *qq, const uint8_t *code);
extern float sq_code_l2(const QuantQuery *qq, const uint8_t *a, const uint8_t *b);
extern bool sq_build_mode(QuantQuery *qq);

/* pq.c */
extern void pq_layout(Quantizer *q);
extern void pq_prepare(Quantizer *q);
extern bool pq_train(Quantizer *q, const float *sample, int64_t n,
					 const QuantOptions *opts);
extern void pq_encode(const Quantizer *q, const float *x, uint8_t *code,
					  float *aux);
extern void pq_decode(const Quantizer *q, const uint8_t *code, float *out);
extern void pq_query_reset(QuantQuery *qq, const float *centroid);
extern void pq_estimate(const QuantQuery *qq, const uint8_t *codes,
						const float *aux, int n, float *est, float *lower);

/* rabitq.c */
extern int	rq_padded_dim(int dim);
extern void rq_make_signs(Quantizer *q);
extern void rq_encode(const Quantizer *q, const float *x, uint8_t *code,
					  float *aux);
extern void rq_decode(const Quantizer *q, const uint8_t *code,
					  const float *aux, float *out);
extern void rq_query_reset(QuantQuery *qq, const float *centroid);
extern void rq_rotate_padded(const Quantizer *q, const float *x, float *out);
extern void rq_query_begin(QuantQuery *qq);
extern void rq_query_list(QuantQuery *qq, int list);
extern void rq_estimate(const QuantQuery *qq, const uint8_t *codes,
						const float *aux, int n, float *est, float *lower);
extern size_t rq_fs_area_size(const Quantizer *q, int capacity);
extern void rq_fs_put(const Quantizer *q, uint8_t *area, int slot,
					  const uint8_t *code);
extern void rq_fs_get(const Quantizer *q, const uint8_t *area, int slot,
					  uint8_t *code);
extern void rq_fs_move(const Quantizer *q, uint8_t *area, int from, int to);
extern void rq_fs_estimate(const QuantQuery *qq, const uint8_t *area,
						   const float *aux, int n, float *est, float *lower,
						   const void *ahead, size_t ahead_bytes);
extern int	rq_fs_select(const QuantQuery *qq, const uint8_t *area,
						 const float *aux, int n, bool by_est, float threshold,
						 int *slots, float *keys, float *min_out,
						 const void *ahead, size_t ahead_bytes);
/* exposed for tests: one group's table sums, the scalar or the AVX2 kernel */
extern void rq_fs_accumulate(const uint8_t *lut, const uint8_t *group,
							 int code_size, bool use_avx2, uint32_t *acc);

#endif							/* LANCE_INDEX_QUANTIZER_INT_H */
