/*
 * vector.h
 *	  The float32 `vector` type: on-disk layout identical to pgvector's, so a
 *	  pg_upgrade'd or dumped pgvector column reads the same bytes.
 */
#ifndef LANCEDB_VECTOR_H
#define LANCEDB_VECTOR_H

#include "postgres.h"

#include "fmgr.h"

#define VECTOR_MAX_DIM 16000

typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of elements */
	int16		unused;			/* reserved, always 0 */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vector;

#define VECTOR_SIZE(_dim)		(offsetof(Vector, x) + sizeof(float) * (_dim))
#define DatumGetVector(x)		((Vector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_VECTOR_P(x)	DatumGetVector(PG_GETARG_DATUM(x))
#define PG_RETURN_VECTOR_P(x)	PG_RETURN_POINTER(x)

extern Vector *InitVector(int dim);

#endif							/* LANCEDB_VECTOR_H */
