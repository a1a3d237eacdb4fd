/*
 * distance.h
 *	  Distance kernels shared by every part of lancedb: the SQL operators,
 *	  the IVF and HNSW indexes, k-means and the Lance FDW's top-k scan.
 *
 * Plain C over plain buffers (no PostgreSQL headers) so the kernels can be
 * unit-tested and benchmarked outside a backend.  Each instruction-set path
 * fills one LanceKernels table; lance_kernels_init() picks the best table
 * the running CPU supports, so a default (portable) build is safe on any
 * x86-64 and fast where AVX2/FMA/F16C exist.
 */
#ifndef LANCE_KERNELS_DISTANCE_H
#define LANCE_KERNELS_DISTANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct LanceKernels
{
	const char *name;			/* "scalar", "avx2" */

	/* float32 vectors of n elements */
	float		(*l2sq_f32) (const float *a, const float *b, size_t n);
	float		(*dot_f32) (const float *a, const float *b, size_t n);
	float		(*l1_f32) (const float *a, const float *b, size_t n);
	/* dot product and both squared norms in one pass (cosine) */
	void		(*cosine_f32) (const float *a, const float *b, size_t n,
							   float *dot, float *norm_a, float *norm_b);

	/* IEEE binary16 vectors (stored as uint16_t bit patterns) */
	float		(*l2sq_f16) (const uint16_t *a, const uint16_t *b, size_t n);
	float		(*dot_f16) (const uint16_t *a, const uint16_t *b, size_t n);
	float		(*l1_f16) (const uint16_t *a, const uint16_t *b, size_t n);
	void		(*cosine_f16) (const uint16_t *a, const uint16_t *b, size_t n,
							   float *dot, float *norm_a, float *norm_b);

	/* conversions; f32_to_f16 rounds to nearest even, overflow gives inf */
	void		(*f16_to_f32) (const uint16_t *src, float *dst, size_t n);
	void		(*f32_to_f16) (const float *src, uint16_t *dst, size_t n);

	/*
	 * Dot products of an int16 vector with nrows int8 rows of n elements
	 * (row r at b + r * n), exactly, into out[r]; the caller keeps
	 * n * 127 * max|a| below 2^31.  For coarse, 4x smaller copies of
	 * centroids (index/coarse.h).
	 */
	void		(*dot_i16_i8_rows) (const int16_t *a, const int8_t *b, size_t n,
									size_t nrows, int32_t *out);

	/* bit vectors of nbytes bytes */
	uint64_t	(*hamming) (const uint8_t *a, const uint8_t *b, size_t nbytes);
	/* popcount of a AND b, and of a OR b (Jaccard) */
	void		(*and_or_count) (const uint8_t *a, const uint8_t *b, size_t nbytes,
								 uint64_t *and_count, uint64_t *or_count);
} LanceKernels;

/* The table in use.  Valid after lance_kernels_init(). */
extern const LanceKernels *lance_kernels;

/* Portable C path; always available. */
extern const LanceKernels lance_kernels_scalar;

/* AVX2 + FMA + F16C + POPCNT path, or NULL when the CPU lacks them. */
extern const LanceKernels *lance_kernels_avx2(void);

/*
 * Select the best path the CPU supports.  Idempotent.  Returns the table
 * chosen.
 */
extern const LanceKernels *lance_kernels_init(void);

/*
 * Select a path by name ("auto", "scalar", "avx2").  Returns false (and
 * changes nothing) if the name is unknown or the CPU lacks the path.
 */
extern bool lance_kernels_use(const char *name);

/* Scalar float16 helpers, exact IEEE semantics (used by every path's tail). */
extern float lance_f16_to_f32(uint16_t h);
extern uint16_t lance_f32_to_f16(float f);

#endif							/* LANCE_KERNELS_DISTANCE_H */
