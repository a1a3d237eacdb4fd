/*
 * multivector.c
 *	  MaxSim over vector[] values (see multivector.h) and its SQL functions:
 *
 *	  lancedb.max_sim(vector[], vector[])  sum over query vectors of the best
 *	                                       cosine similarity (LanceDB's MaxSim)
 *	  vector[] <=> vector[]                multivector cosine distance
 *	                                       = sum over query vectors of the
 *	                                       smallest cosine distance
 *	                                       = |Q| - MaxSim (smaller = closer)
 *	  vector[] <=> vector                  the same for one query vector
 */
#include "postgres.h"

#include <math.h>

#include "kernels/distance.h"
#include "lancedb.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "vector/multivector.h"
#include "vector/vector.h"
#include "vector/vector_common.h"

float *
MultivectorUnitRows(ArrayType *a, int *n, int *dim)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	float	   *rows = NULL;

	*n = 0;
	*dim = 0;
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("a multivector must be a one-dimensional array")));
	get_typlenbyvalalign(ARR_ELEMTYPE(a), &typlen, &typbyval, &typalign);
	deconstruct_array(a, ARR_ELEMTYPE(a), typlen, typbyval, typalign,
					  &elems, &nulls, &nelems);
	for (int i = 0; i < nelems; i++)
	{
		Vector	   *v;
		float	   *row;
		double		s = 0;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a multivector cannot contain NULL vectors")));
		v = DatumGetVector(elems[i]);
		if (rows == NULL)
		{
			*dim = v->dim;
			rows = palloc(sizeof(float) * (Size) nelems * v->dim);
		}
		else
			CheckSameDims(*dim, v->dim);
		row = rows + (Size) i * *dim;
		for (int j = 0; j < *dim; j++)
			s += (double) v->x[j] * v->x[j];
		s = sqrt(s);
		for (int j = 0; j < *dim; j++)
			row[j] = s > 0 ? (float) (v->x[j] / s) : 0.0f;
	}
	*n = nelems;
	return rows;
}

double
MultivectorMaxSim(const float *q, int nq, const float *d, int nd, int dim)
{
	double		total = 0;

	for (int i = 0; i < nq; i++)
	{
		const float *qi = q + (Size) i * dim;
		float		best = -INFINITY;

		for (int j = 0; j < nd; j++)
		{
			float		s = lance_kernels->dot_f32(qi, d + (Size) j * dim, dim);

			if (s > best)
				best = s;
		}
		total += best;
	}
	return total;
}

/*
 * MaxSim of two arrays; false when either is empty (the SQL functions
 * return NULL then: there is nothing to compare).
 */
static bool
max_sim_arrays(ArrayType *qa, ArrayType *da, double *result, int *nq)
{
	int			nd,
				qdim,
				ddim;
	float	   *q = MultivectorUnitRows(qa, nq, &qdim);
	float	   *d = MultivectorUnitRows(da, &nd, &ddim);

	if (*nq == 0 || nd == 0)
		return false;
	CheckSameDims(ddim, qdim);
	*result = MultivectorMaxSim(q, *nq, d, nd, qdim);
	return true;
}

LANCEDB_FUNCTION(multivector_max_sim);
Datum
multivector_max_sim(PG_FUNCTION_ARGS)
{
	ArrayType  *doc = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *query = PG_GETARG_ARRAYTYPE_P(1);
	double		s;
	int			nq;

	if (!max_sim_arrays(query, doc, &s, &nq))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(s);
}

LANCEDB_FUNCTION(multivector_cosine_distance);
Datum
multivector_cosine_distance(PG_FUNCTION_ARGS)
{
	ArrayType  *doc = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *query = PG_GETARG_ARRAYTYPE_P(1);
	double		s;
	int			nq;

	if (!max_sim_arrays(query, doc, &s, &nq))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(Max((double) nq - s, 0.0));
}

LANCEDB_FUNCTION(multivector_vector_cosine_distance);
Datum
multivector_vector_cosine_distance(PG_FUNCTION_ARGS)
{
	ArrayType  *doc = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *qv = PG_GETARG_VECTOR_P(1);
	int			nd,
				ddim;
	float	   *d = MultivectorUnitRows(doc, &nd, &ddim);
	float	   *q;
	double		s = 0;

	if (nd == 0)
		PG_RETURN_NULL();
	CheckSameDims(ddim, qv->dim);
	q = palloc(sizeof(float) * qv->dim);
	for (int j = 0; j < qv->dim; j++)
		s += (double) qv->x[j] * qv->x[j];
	s = sqrt(s);
	for (int j = 0; j < qv->dim; j++)
		q[j] = s > 0 ? (float) (qv->x[j] / s) : 0.0f;
	PG_RETURN_FLOAT8(Max(1.0 - MultivectorMaxSim(q, 1, d, nd, ddim), 0.0));
}
