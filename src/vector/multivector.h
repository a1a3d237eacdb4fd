/*
 * multivector.h
 *	  Multivectors (late interaction, ColBERT/ColPali): a `vector[]` value is
 *	  one row's set of token vectors, compared by MaxSim as LanceDB does
 *	  (cosine only).
 */
#ifndef LANCEDB_MULTIVECTOR_H
#define LANCEDB_MULTIVECTOR_H

#include "postgres.h"

#include "utils/array.h"

/*
 * The elements of a vector[] as unit-length float rows (zero vectors stay
 * zero): *n rows of *dim floats, palloc'd.  NULL elements and mixed
 * dimensions are errors; an empty array gives *n = 0.
 */
extern float *MultivectorUnitRows(ArrayType *a, int *n, int *dim);

/*
 * Sum over the query rows of the best cosine similarity among the document
 * rows (MaxSim); both sets of unit rows, nd > 0.
 */
extern double MultivectorMaxSim(const float *q, int nq, const float *d, int nd,
								int dim);

#endif							/* LANCEDB_MULTIVECTOR_H */
