/*
 * vector.c
 *	  The float32 `vector` type: I/O (text and binary, pgvector-compatible),
 *	  typmod, casts, distance functions, arithmetic, ordering, hashing and
 *	  aggregates.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "kernels/distance.h"
#include "lancedb.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/varbit.h"
#include "vector/distmemo.h"
#include "vector/vector.h"
#include "vector/vector_common.h"
#include "vector/vector_parse.h"

#define TYPNAME "vector"

Vector *
InitVector(int dim)
{
	Vector	   *v = palloc0(VECTOR_SIZE(dim));

	SET_VARSIZE(v, VECTOR_SIZE(dim));
	v->dim = dim;
	return v;
}

static Vector *
VectorFromFloats(const float *x, int dim)
{
	Vector	   *v = InitVector(dim);

	memcpy(v->x, x, sizeof(float) * dim);
	return v;
}

/* ---- I/O ---- */

LANCEDB_FUNCTION(vector_in);
Datum
vector_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	float	   *x = palloc(sizeof(float) * VECTOR_MAX_DIM);
	int			dim = ParseVectorText(lit, TYPNAME, x, VECTOR_MAX_DIM);

	CheckTypmodDim(typmod, dim);
	PG_RETURN_VECTOR_P(VectorFromFloats(x, dim));
}

LANCEDB_FUNCTION(vector_out);
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	initStringInfo(&buf);
	AppendVectorText(&buf, v->x, v->dim);
	PG_RETURN_CSTRING(buf.data);
}

LANCEDB_FUNCTION(vector_typmod_in);
Datum
vector_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(DimTypmodIn(PG_GETARG_ARRAYTYPE_P(0), VECTOR_MAX_DIM,
								TYPNAME));
}

LANCEDB_FUNCTION(vector_typmod_out);
Datum
vector_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	PG_RETURN_CSTRING(typmod < 0 ? pstrdup("") : psprintf("(%d)", typmod));
}

/* Binary form: int16 dim, int16 unused, dim x float4, network order. */
LANCEDB_FUNCTION(vector_recv);
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int16		dim = pq_getmsgint(buf, sizeof(int16));
	int16		unused = pq_getmsgint(buf, sizeof(int16));
	Vector	   *v;

	CheckDimRange(dim, VECTOR_MAX_DIM, TYPNAME);
	CheckTypmodDim(typmod, dim);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));
	/* refuse a short message before allocating for it */
	if (buf->len - buf->cursor < (int) sizeof(float) * dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("insufficient data left in message")));

	v = InitVector(dim);
	for (int i = 0; i < dim; i++)
	{
		v->x[i] = pq_getmsgfloat4(buf);
		CheckElementFinite(v->x[i], TYPNAME);
	}
	PG_RETURN_VECTOR_P(v);
}

LANCEDB_FUNCTION(vector_send);
Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, v->unused);
	for (int i = 0; i < v->dim; i++)
		pq_sendfloat4(&buf, v->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Length coercion: vector -> vector(n). */
LANCEDB_FUNCTION(vector);
Datum
vector(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	CheckTypmodDim(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_VECTOR_P(v);
}

/* ---- casts to and from arrays ---- */

LANCEDB_FUNCTION(array_to_vector);
Datum
array_to_vector(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *x = ArrayToFloats(PG_GETARG_ARRAYTYPE_P(0), &dim,
								  VECTOR_MAX_DIM, TYPNAME);

	CheckTypmodDim(PG_GETARG_INT32(1), dim);
	PG_RETURN_VECTOR_P(VectorFromFloats(x, dim));
}

static ArrayType *
FloatsToArray(const float *x, int dim, Oid elemtype)
{
	Datum	   *d = palloc(sizeof(Datum) * dim);

	for (int i = 0; i < dim; i++)
	{
		switch (elemtype)
		{
			case FLOAT4OID:
				d[i] = Float4GetDatum(x[i]);
				break;
			case FLOAT8OID:
				d[i] = Float8GetDatum((double) x[i]);
				break;
			case INT4OID:
				/* round like real::integer, with its range check */
				d[i] = DirectFunctionCall1(ftoi4, Float4GetDatum(x[i]));
				break;
			case NUMERICOID:
				d[i] = DirectFunctionCall1(float4_numeric, Float4GetDatum(x[i]));
				break;
			default:
				elog(ERROR, "unexpected array element type %u", elemtype);
		}
	}
	if (elemtype == NUMERICOID)
		return construct_array(d, dim, NUMERICOID, -1, false, TYPALIGN_INT);
	if (elemtype == FLOAT8OID)
		return construct_array(d, dim, FLOAT8OID, sizeof(float8),
							   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	return construct_array(d, dim, elemtype, 4, true, TYPALIGN_INT);
}

#define VECTOR_TO_ARRAY(fname, oid) \
LANCEDB_FUNCTION(fname); \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	Vector	   *v = PG_GETARG_VECTOR_P(0); \
	PG_RETURN_ARRAYTYPE_P(FloatsToArray(v->x, v->dim, oid)); \
}

VECTOR_TO_ARRAY(vector_to_float4, FLOAT4OID)
VECTOR_TO_ARRAY(vector_to_float8, FLOAT8OID)
VECTOR_TO_ARRAY(vector_to_int4, INT4OID)
VECTOR_TO_ARRAY(vector_to_numeric, NUMERICOID)

/* ---- distances ---- */

#define GET_TWO_VECTORS(a, b) \
	Vector	   *a = PG_GETARG_VECTOR_P(0); \
	Vector	   *b = PG_GETARG_VECTOR_P(1); \
	CheckSameDims(a->dim, b->dim)

/*
 * The ORDER BY distances of the operator classes: an index scan may have
 * left this call's result in vector/distmemo.h (checked before detoasting)
 */
#define GET_TWO_VECTORS_MEMO(a, b) \
	Vector	   *a; \
	Vector	   *b; \
	LANCE_DISTMEMO_RETURN(fcinfo); \
	a = PG_GETARG_VECTOR_P(0); \
	b = PG_GETARG_VECTOR_P(1); \
	CheckSameDims(a->dim, b->dim)

LANCEDB_FUNCTION(l2_distance);
Datum
l2_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS_MEMO(a, b);
	return DistanceResult(sqrt((double) lance_kernels->l2sq_f32(a->x, b->x, a->dim)));
}

LANCEDB_FUNCTION(vector_l2_squared_distance);
Datum
vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	return DistanceResult((double) lance_kernels->l2sq_f32(a->x, b->x, a->dim));
}

LANCEDB_FUNCTION(inner_product);
Datum
inner_product(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	return DistanceResult((double) lance_kernels->dot_f32(a->x, b->x, a->dim));
}

LANCEDB_FUNCTION(vector_negative_inner_product);
Datum
vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS_MEMO(a, b);
	return DistanceResult(-(double) lance_kernels->dot_f32(a->x, b->x, a->dim));
}

LANCEDB_FUNCTION(cosine_distance);
Datum
cosine_distance(PG_FUNCTION_ARGS)
{
	float		dot,
				na,
				nb;

	GET_TWO_VECTORS_MEMO(a, b);
	lance_kernels->cosine_f32(a->x, b->x, a->dim, &dot, &na, &nb);
	if (isinf(dot) || isinf(na) || isinf(nb))
		DistanceResult(INFINITY);
	PG_RETURN_FLOAT8(CosineDistanceFromParts(dot, na, nb));
}

LANCEDB_FUNCTION(l1_distance);
Datum
l1_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	return DistanceResult((double) lance_kernels->l1_f32(a->x, b->x, a->dim));
}

/* ---- properties and element-wise functions ---- */

LANCEDB_FUNCTION(vector_dims);
Datum
vector_dims(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_VECTOR_P(0)->dim);
}

/* Accumulate in double: a float sum of squares overflows for large values. */
static double
NormOfFloats(const float *x, int dim)
{
	double		s = 0;

	for (int i = 0; i < dim; i++)
		s += (double) x[i] * (double) x[i];
	return sqrt(s);
}

LANCEDB_FUNCTION(vector_norm);
Datum
vector_norm(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	PG_RETURN_FLOAT8(NormOfFloats(v->x, v->dim));
}

LANCEDB_FUNCTION(l2_normalize);
Datum
l2_normalize(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	double		norm = NormOfFloats(v->x, v->dim);
	Vector	   *r = InitVector(v->dim);

	/* the zero vector stays zero */
	if (norm > 0)
		for (int i = 0; i < v->dim; i++)
			r->x[i] = (float) (v->x[i] / norm);
	PG_RETURN_VECTOR_P(r);
}

LANCEDB_FUNCTION(subvector);
Datum
subvector(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	int			first,
				n;

	SubvectorRange(v->dim, PG_GETARG_INT32(1), PG_GETARG_INT32(2), &first, &n);
	PG_RETURN_VECTOR_P(VectorFromFloats(v->x + first, n));
}

LANCEDB_FUNCTION(vector_add);
Datum
vector_add(PG_FUNCTION_ARGS)
{
	Vector	   *r;

	GET_TWO_VECTORS(a, b);
	r = InitVector(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] + b->x[i];
	for (int i = 0; i < a->dim; i++)
		CheckedOpResult(r->x[i], true);
	PG_RETURN_VECTOR_P(r);
}

LANCEDB_FUNCTION(vector_sub);
Datum
vector_sub(PG_FUNCTION_ARGS)
{
	Vector	   *r;

	GET_TWO_VECTORS(a, b);
	r = InitVector(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] - b->x[i];
	for (int i = 0; i < a->dim; i++)
		CheckedOpResult(r->x[i], true);
	PG_RETURN_VECTOR_P(r);
}

LANCEDB_FUNCTION(vector_mul);
Datum
vector_mul(PG_FUNCTION_ARGS)
{
	Vector	   *r;

	GET_TWO_VECTORS(a, b);
	r = InitVector(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] * b->x[i];
	for (int i = 0; i < a->dim; i++)
		CheckedOpResult(r->x[i],
						r->x[i] != 0 || a->x[i] == 0 || b->x[i] == 0);
	PG_RETURN_VECTOR_P(r);
}

LANCEDB_FUNCTION(vector_concat);
Datum
vector_concat(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *r;

	CheckDimRange(a->dim + b->dim, VECTOR_MAX_DIM, TYPNAME);
	r = InitVector(a->dim + b->dim);
	memcpy(r->x, a->x, sizeof(float) * a->dim);
	memcpy(r->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_VECTOR_P(r);
}

LANCEDB_FUNCTION(binary_quantize);
Datum
binary_quantize(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	VarBit	   *r = palloc0(VARBITTOTALLEN(v->dim));

	SET_VARSIZE(r, VARBITTOTALLEN(v->dim));
	VARBITLEN(r) = v->dim;
	for (int i = 0; i < v->dim; i++)
		if (v->x[i] > 0)
			VARBITS(r)[i / 8] |= (bits8) (0x80 >> (i % 8));
	PG_RETURN_VARBIT_P(r);
}

/* ---- ordering and hashing (btree and hash operator classes) ---- */

static int
vector_cmp_internal(FunctionCallInfo fcinfo)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	return CompareFloats(a->x, a->dim, b->x, b->dim);
}

#define VECTOR_CMP_FUNC(fname, expr) \
LANCEDB_FUNCTION(fname); \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	int			c = vector_cmp_internal(fcinfo); \
	PG_RETURN_BOOL(expr); \
}

VECTOR_CMP_FUNC(vector_lt, c < 0)
VECTOR_CMP_FUNC(vector_le, c <= 0)
VECTOR_CMP_FUNC(vector_eq, c == 0)
VECTOR_CMP_FUNC(vector_ne, c != 0)
VECTOR_CMP_FUNC(vector_ge, c >= 0)
VECTOR_CMP_FUNC(vector_gt, c > 0)

LANCEDB_FUNCTION(vector_cmp);
Datum
vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(vector_cmp_internal(fcinfo));
}

LANCEDB_FUNCTION(vector_hash);
Datum
vector_hash(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT32((int32) HashFloats(v->x, v->dim, 0));
}

LANCEDB_FUNCTION(vector_hash_extended);
Datum
vector_hash_extended(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT64((int64) HashFloats(v->x, v->dim, PG_GETARG_INT64(1)));
}

/* ---- aggregates: sum uses vector_add; avg accumulates in float8[] ---- */

LANCEDB_FUNCTION(vector_accum);
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *v = PG_GETARG_VECTOR_P(1);

	PG_RETURN_ARRAYTYPE_P(AccumFloats(fcinfo, state, v->x, v->dim));
}

LANCEDB_FUNCTION(vector_combine);
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(CombineStates(PG_GETARG_ARRAYTYPE_P(0),
										PG_GETARG_ARRAYTYPE_P(1)));
}

LANCEDB_FUNCTION(vector_avg);
Datum
vector_avg(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *x = StateAverage(PG_GETARG_ARRAYTYPE_P(0), &dim);

	if (x == NULL)
		PG_RETURN_NULL();
	PG_RETURN_VECTOR_P(VectorFromFloats(x, dim));
}
