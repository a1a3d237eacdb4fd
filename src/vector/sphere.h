/*
 * sphere.h
 *	  lancedb.sphere: a query vector with a distance range [lower, upper),
 *	  the right operand of the indexable range operators (<<->>, <<#>>,
 *	  <<=>>): LanceDB's distance_range, answered through the index.
 */
#ifndef LANCEDB_SPHERE_H
#define LANCEDB_SPHERE_H

#include "postgres.h"

#include "fmgr.h"
#include "vector/vector.h"

typedef struct VectorSphere
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int32		unused;
	float8		lower;			/* inclusive */
	float8		upper;			/* exclusive */
	Vector		center;			/* a complete vector datum (flexible) */
} VectorSphere;

#define DatumGetVectorSphere(x)		((VectorSphere *) PG_DETOAST_DATUM(x))
#define PG_GETARG_SPHERE_P(x)		DatumGetVectorSphere(PG_GETARG_DATUM(x))

#endif							/* LANCEDB_SPHERE_H */
