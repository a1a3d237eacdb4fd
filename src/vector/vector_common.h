/*
 * vector_common.h
 *	  Checks and helpers shared by the vector, halfvec and bit functions, so
 *	  both element types give the same errors (pgvector's texts and codes).
 */
#ifndef LANCEDB_VECTOR_COMMON_H
#define LANCEDB_VECTOR_COMMON_H

#include "postgres.h"

#include "utils/array.h"

extern void CheckDimRange(int dim, int maxdim, const char *typname);
extern void CheckSameDims(int a, int b);
extern void CheckTypmodDim(int32 typmod, int dim);
extern int32 DimTypmodIn(ArrayType *ta, int maxdim, const char *typname);
extern void CheckElementFinite(float value, const char *typname);
extern float CheckedOpResult(float value, bool underflow_ok);
extern Datum DistanceResult(double value);

/* float8[] -> floats (for casts); errors on nulls, multi-D and bad values */
extern float *ArrayToFloats(ArrayType *array, int *dim, int maxdim,
							const char *typname);

/* Aggregate state: float8[] {count, sum_1 .. sum_dim} */
extern ArrayType *AccumFloats(FunctionCallInfo fcinfo, ArrayType *state,
							  const float *x, int dim);
extern ArrayType *CombineStates(ArrayType *a, ArrayType *b);
extern float *StateAverage(ArrayType *state, int *dim);

/* 1 - cosine similarity from a dot product and squared norms */
extern double CosineDistanceFromParts(float dot, float norm_a, float norm_b);
extern void SubvectorRange(int dim, int32 start, int32 count,
						   int *first, int *n);
extern int	CompareFloats(const float *a, int na, const float *b, int nb);
extern uint64 HashFloats(const float *x, int dim, uint64 seed);

#endif							/* LANCEDB_VECTOR_COMMON_H */
