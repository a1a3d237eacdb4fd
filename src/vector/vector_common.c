/*
 * vector_common.c
 *	  Dimension and value checks, array casts and aggregate states shared by
 *	  vector and halfvec.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "vector/vector_common.h"

void
CheckDimRange(int dim, int maxdim, const char *typname)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", typname)));
	if (dim > maxdim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s cannot have more than %d dimensions", typname, maxdim)));
}

void
CheckSameDims(int a, int b)
{
	if (a != b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", a, b)));
}

void
CheckTypmodDim(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

int32
DimTypmodIn(ArrayType *ta, int maxdim, const char *typname)
{
	int32	   *mods;
	int			n;

	mods = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier")));
	if (mods[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type %s must be at least 1", typname)));
	if (mods[0] > maxdim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type %s cannot exceed %d", typname, maxdim)));
	return mods[0];
}

void
CheckElementFinite(float value, const char *typname)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in %s", typname)));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in %s", typname)));
}

float
CheckedOpResult(float value, bool underflow_ok)
{
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: overflow")));
	if (!underflow_ok)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: underflow")));
	return value;
}

Datum
DistanceResult(double value)
{
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: overflow")));
	return Float8GetDatum(value);
}

float *
ArrayToFloats(ArrayType *array, int *dim, int maxdim, const char *typname)
{
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	float	   *out;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));
	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	CheckDimRange(n, maxdim, typname);

	out = palloc(sizeof(float) * n);
	for (int i = 0; i < n; i++)
	{
		double		v;

		switch (elemtype)
		{
			case INT4OID:
				v = DatumGetInt32(elems[i]);
				break;
			case FLOAT4OID:
				v = DatumGetFloat4(elems[i]);
				break;
			case FLOAT8OID:
				v = DatumGetFloat8(elems[i]);
				break;
			case NUMERICOID:
				v = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
													   elems[i]));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("unsupported array element type %s",
								format_type_be(elemtype))));
				v = 0;			/* keep compiler quiet */
		}
		/* NaN/Inf are refused as in the text form; overflow to float too */
		if (isnan(v) || isinf(v))
			CheckElementFinite((float) v, typname);
		if (fabs(v) > FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%g\" is out of range for type %s", v, typname)));
		out[i] = (float) v;
	}
	*dim = n;
	return out;
}

/* ---- aggregate states: float8[] {count, sum_1 .. sum_dim} ---- */

static ArrayType *
NewState(const double *values, int n)
{
	Datum	   *datums = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		datums[i] = Float8GetDatum(values[i]);
	return construct_array(datums, n, FLOAT8OID, sizeof(float8),
						   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

static double *
StateValues(ArrayType *state, int *n)
{
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] < 1 ||
		ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID)
		elog(ERROR, "vector aggregate state is not a float8 array");
	*n = ARR_DIMS(state)[0];
	return (double *) ARR_DATA_PTR(state);
}

ArrayType *
AccumFloats(FunctionCallInfo fcinfo, ArrayType *state, const float *x, int dim)
{
	int			n;
	double	   *s = StateValues(state, &n);
	double	   *values;

	if (n == 1)
	{
		/* first row: the state grows from {0} to {count, sums} */
		values = palloc(sizeof(double) * (dim + 1));
		values[0] = s[0] + 1;
		for (int i = 0; i < dim; i++)
			values[i + 1] = x[i];
		return NewState(values, dim + 1);
	}

	CheckSameDims(n - 1, dim);
	/* inside an aggregate the state is ours to update in place */
	if (AggCheckCallContext(fcinfo, NULL))
	{
		s[0] += 1;
		for (int i = 0; i < dim; i++)
			s[i + 1] += x[i];
		return state;
	}
	values = palloc(sizeof(double) * n);
	values[0] = s[0] + 1;
	for (int i = 0; i < dim; i++)
		values[i + 1] = s[i + 1] + x[i];
	return NewState(values, n);
}

ArrayType *
CombineStates(ArrayType *a, ArrayType *b)
{
	int			na,
				nb;
	double	   *sa = StateValues(a, &na);
	double	   *sb = StateValues(b, &nb);
	double	   *values;

	if (sa[0] == 0)
		return b;
	if (sb[0] == 0)
		return a;
	CheckSameDims(na - 1, nb - 1);
	values = palloc(sizeof(double) * na);
	for (int i = 0; i < na; i++)
		values[i] = sa[i] + sb[i];
	return NewState(values, na);
}

float *
StateAverage(ArrayType *state, int *dim)
{
	int			n;
	double	   *s = StateValues(state, &n);
	float	   *out;

	if (s[0] == 0)
		return NULL;
	out = palloc(sizeof(float) * (n - 1));
	for (int i = 1; i < n; i++)
		out[i - 1] = CheckedOpResult((float) (s[i] / s[0]), true);
	*dim = n - 1;
	return out;
}

/* ---- helpers of the SQL functions of both element types ---- */

/*
 * 1 - cos(a, b), clamped to [0, 2].  A zero vector has no direction: the
 * result is NaN, as in pgvector, so such rows sort last.
 */
double
CosineDistanceFromParts(float dot, float norm_a, float norm_b)
{
	double		sim = (double) dot / sqrt((double) norm_a * (double) norm_b);

	if (isnan(sim))
		return get_float8_nan();
	if (sim > 1)
		sim = 1;
	else if (sim < -1)
		sim = -1;
	return 1 - sim;
}

/*
 * Elements [start, start + count) with 1-based start, like substring():
 * the part of the range inside the vector is returned.
 */
void
SubvectorRange(int dim, int32 start, int32 count, int *first, int *n)
{
	int64		end = (int64) start + count;

	if (start < 1)
		start = 1;
	if (end > (int64) dim + 1)
		end = (int64) dim + 1;
	if (count < 1 || end <= start)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));
	*first = start - 1;
	*n = (int) (end - start);
}

/* Element by element, then the shorter vector first. */
int
CompareFloats(const float *a, int na, const float *b, int nb)
{
	int			n = Min(na, nb);

	for (int i = 0; i < n; i++)
	{
		if (a[i] < b[i])
			return -1;
		if (a[i] > b[i])
			return 1;
	}
	return (na > nb) - (na < nb);
}

/*
 * Equal vectors must hash alike: -0 equals 0, so hash the canonical bits.
 * (NaN cannot occur: it is refused on input.)
 */
uint64
HashFloats(const float *x, int dim, uint64 seed)
{
	uint32	   *bits = palloc(sizeof(uint32) * dim);
	uint64		h;

	for (int i = 0; i < dim; i++)
	{
		float		f = x[i] == 0 ? 0.0f : x[i];

		memcpy(&bits[i], &f, sizeof(uint32));
	}
	h = DatumGetUInt64(hash_any_extended((unsigned char *) bits,
										 sizeof(uint32) * dim, seed));
	pfree(bits);
	return h;
}

