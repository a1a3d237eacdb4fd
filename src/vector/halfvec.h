/*
 * halfvec.h
 *	  The float16 `halfvec` type (IEEE binary16 elements), pgvector's layout.
 */
#ifndef LANCEDB_HALFVEC_H
#define LANCEDB_HALFVEC_H

#include "postgres.h"

#include "fmgr.h"

#define HALFVEC_MAX_DIM 16000

typedef uint16 half;

typedef struct HalfVector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of elements */
	int16		unused;			/* reserved, always 0 */
	half		x[FLEXIBLE_ARRAY_MEMBER];
} HalfVector;

#define HALFVEC_SIZE(_dim)		(offsetof(HalfVector, x) + sizeof(half) * (_dim))
#define DatumGetHalfVector(x)	((HalfVector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_HALFVEC_P(x)	DatumGetHalfVector(PG_GETARG_DATUM(x))
#define PG_RETURN_HALFVEC_P(x)	PG_RETURN_POINTER(x)

extern HalfVector *InitHalfVector(int dim);
extern half FloatToHalfChecked(float value);

#endif							/* LANCEDB_HALFVEC_H */
