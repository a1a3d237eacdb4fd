/*
 * halfvec.c
 *	  The float16 `halfvec` type: the same surface as `vector` with half the
 *	  storage.  Elements are converted through the SIMD kernels; arithmetic
 *	  happens in float32 and is rounded back, refusing overflow.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "kernels/distance.h"
#include "lancedb.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/varbit.h"
#include "vector/distmemo.h"
#include "vector/halfvec.h"
#include "vector/vector.h"
#include "vector/vector_common.h"
#include "vector/vector_parse.h"

#define TYPNAME "halfvec"

HalfVector *
InitHalfVector(int dim)
{
	HalfVector *v = palloc0(HALFVEC_SIZE(dim));

	SET_VARSIZE(v, HALFVEC_SIZE(dim));
	v->dim = dim;
	return v;
}

half
FloatToHalfChecked(float value)
{
	half		h = lance_f32_to_f16(value);

	if (isinf(lance_f16_to_f32(h)) && !isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%g\" is out of range for type halfvec", value)));
	return h;
}

/* Round floats to a new halfvec; values beyond +-65504 are an error. */
static HalfVector *
HalfVectorFromFloats(const float *x, int dim)
{
	HalfVector *v = InitHalfVector(dim);

	lance_kernels->f32_to_f16(x, v->x, dim);
	for (int i = 0; i < dim; i++)
		if ((v->x[i] & 0x7fff) == 0x7c00)	/* inf: only from overflow */
			FloatToHalfChecked(x[i]);
	return v;
}

static float *
HalfVectorToFloats(const HalfVector *v)
{
	float	   *x = palloc(sizeof(float) * v->dim);

	lance_kernels->f16_to_f32(v->x, x, v->dim);
	return x;
}

/* ---- I/O ---- */

LANCEDB_FUNCTION(halfvec_in);
Datum
halfvec_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	float	   *x = palloc(sizeof(float) * HALFVEC_MAX_DIM);
	int			dim = ParseVectorText(lit, TYPNAME, x, HALFVEC_MAX_DIM);

	CheckTypmodDim(typmod, dim);
	PG_RETURN_HALFVEC_P(HalfVectorFromFloats(x, dim));
}

LANCEDB_FUNCTION(halfvec_out);
Datum
halfvec_out(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	StringInfoData buf;

	initStringInfo(&buf);
	AppendVectorText(&buf, HalfVectorToFloats(v), v->dim);
	PG_RETURN_CSTRING(buf.data);
}

LANCEDB_FUNCTION(halfvec_typmod_in);
Datum
halfvec_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(DimTypmodIn(PG_GETARG_ARRAYTYPE_P(0), HALFVEC_MAX_DIM,
								TYPNAME));
}

/* Binary form: int16 dim, int16 unused, dim x binary16, network order. */
LANCEDB_FUNCTION(halfvec_recv);
Datum
halfvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int16		dim = pq_getmsgint(buf, sizeof(int16));
	int16		unused = pq_getmsgint(buf, sizeof(int16));
	HalfVector *v;

	CheckDimRange(dim, HALFVEC_MAX_DIM, TYPNAME);
	CheckTypmodDim(typmod, dim);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));
	if (buf->len - buf->cursor < (int) sizeof(half) * dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("insufficient data left in message")));

	v = InitHalfVector(dim);
	for (int i = 0; i < dim; i++)
	{
		v->x[i] = (half) pq_getmsgint(buf, sizeof(half));
		CheckElementFinite(lance_f16_to_f32(v->x[i]), TYPNAME);
	}
	PG_RETURN_HALFVEC_P(v);
}

LANCEDB_FUNCTION(halfvec_send);
Datum
halfvec_send(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, v->unused);
	for (int i = 0; i < v->dim; i++)
		pq_sendint16(&buf, v->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

LANCEDB_FUNCTION(halfvec);
Datum
halfvec(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);

	CheckTypmodDim(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_HALFVEC_P(v);
}

/* ---- casts ---- */

LANCEDB_FUNCTION(array_to_halfvec);
Datum
array_to_halfvec(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *x = ArrayToFloats(PG_GETARG_ARRAYTYPE_P(0), &dim,
								  HALFVEC_MAX_DIM, TYPNAME);

	CheckTypmodDim(PG_GETARG_INT32(1), dim);
	PG_RETURN_HALFVEC_P(HalfVectorFromFloats(x, dim));
}

LANCEDB_FUNCTION(halfvec_to_float4);
Datum
halfvec_to_float4(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	float	   *x = HalfVectorToFloats(v);
	Datum	   *d = palloc(sizeof(Datum) * v->dim);

	for (int i = 0; i < v->dim; i++)
		d[i] = Float4GetDatum(x[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, v->dim, FLOAT4OID, 4, true,
										  TYPALIGN_INT));
}

LANCEDB_FUNCTION(vector_to_halfvec);
Datum
vector_to_halfvec(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	CheckTypmodDim(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_HALFVEC_P(HalfVectorFromFloats(v->x, v->dim));
}

LANCEDB_FUNCTION(halfvec_to_vector);
Datum
halfvec_to_vector(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	Vector	   *r;

	CheckTypmodDim(PG_GETARG_INT32(1), v->dim);
	r = InitVector(v->dim);
	lance_kernels->f16_to_f32(v->x, r->x, v->dim);
	PG_RETURN_VECTOR_P(r);
}

/* ---- distances ---- */

#define GET_TWO_HALFVECS(a, b) \
	HalfVector *a = PG_GETARG_HALFVEC_P(0); \
	HalfVector *b = PG_GETARG_HALFVEC_P(1); \
	CheckSameDims(a->dim, b->dim)

/*
 * The ORDER BY distances of the operator classes: an index scan may have
 * left this call's result in vector/distmemo.h (checked before detoasting)
 */
#define GET_TWO_HALFVECS_MEMO(a, b) \
	HalfVector *a; \
	HalfVector *b; \
	LANCE_DISTMEMO_RETURN(fcinfo); \
	a = PG_GETARG_HALFVEC_P(0); \
	b = PG_GETARG_HALFVEC_P(1); \
	CheckSameDims(a->dim, b->dim)

LANCEDB_FUNCTION(halfvec_l2_distance);
Datum
halfvec_l2_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_HALFVECS_MEMO(a, b);
	return DistanceResult(sqrt((double) lance_kernels->l2sq_f16(a->x, b->x, a->dim)));
}

LANCEDB_FUNCTION(halfvec_l2_squared_distance);
Datum
halfvec_l2_squared_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_HALFVECS(a, b);
	return DistanceResult((double) lance_kernels->l2sq_f16(a->x, b->x, a->dim));
}

LANCEDB_FUNCTION(halfvec_inner_product);
Datum
halfvec_inner_product(PG_FUNCTION_ARGS)
{
	GET_TWO_HALFVECS(a, b);
	return DistanceResult((double) lance_kernels->dot_f16(a->x, b->x, a->dim));
}

LANCEDB_FUNCTION(halfvec_negative_inner_product);
Datum
halfvec_negative_inner_product(PG_FUNCTION_ARGS)
{
	GET_TWO_HALFVECS_MEMO(a, b);
	return DistanceResult(-(double) lance_kernels->dot_f16(a->x, b->x, a->dim));
}

LANCEDB_FUNCTION(halfvec_cosine_distance);
Datum
halfvec_cosine_distance(PG_FUNCTION_ARGS)
{
	float		dot,
				na,
				nb;

	GET_TWO_HALFVECS_MEMO(a, b);
	lance_kernels->cosine_f16(a->x, b->x, a->dim, &dot, &na, &nb);
	PG_RETURN_FLOAT8(CosineDistanceFromParts(dot, na, nb));
}

LANCEDB_FUNCTION(halfvec_l1_distance);
Datum
halfvec_l1_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_HALFVECS(a, b);
	return DistanceResult((double) lance_kernels->l1_f16(a->x, b->x, a->dim));
}

/* ---- properties and element-wise functions ---- */

LANCEDB_FUNCTION(halfvec_vector_dims);
Datum
halfvec_vector_dims(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_HALFVEC_P(0)->dim);
}

LANCEDB_FUNCTION(halfvec_l2_norm);
Datum
halfvec_l2_norm(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	float	   *x = HalfVectorToFloats(v);
	double		s = 0;

	for (int i = 0; i < v->dim; i++)
		s += (double) x[i] * x[i];
	PG_RETURN_FLOAT8(sqrt(s));
}

LANCEDB_FUNCTION(halfvec_l2_normalize);
Datum
halfvec_l2_normalize(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	float	   *x = HalfVectorToFloats(v);
	double		s = 0;

	for (int i = 0; i < v->dim; i++)
		s += (double) x[i] * x[i];
	if (s > 0)
	{
		double		norm = sqrt(s);

		for (int i = 0; i < v->dim; i++)
			x[i] = (float) (x[i] / norm);
	}
	PG_RETURN_HALFVEC_P(HalfVectorFromFloats(x, v->dim));
}

LANCEDB_FUNCTION(halfvec_subvector);
Datum
halfvec_subvector(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	HalfVector *r;
	int			first,
				n;

	SubvectorRange(v->dim, PG_GETARG_INT32(1), PG_GETARG_INT32(2), &first, &n);
	r = InitHalfVector(n);
	memcpy(r->x, v->x + first, sizeof(half) * n);
	PG_RETURN_HALFVEC_P(r);
}

typedef enum
{
	HALF_ADD,
	HALF_SUB,
	HALF_MUL
} HalfOp;

static HalfVector *
HalfVectorArith(FunctionCallInfo fcinfo, HalfOp op)
{
	float	   *x,
			   *y;
	HalfVector *r;

	GET_TWO_HALFVECS(a, b);
	x = HalfVectorToFloats(a);
	y = HalfVectorToFloats(b);
	for (int i = 0; i < a->dim; i++)
	{
		float		z = op == HALF_ADD ? x[i] + y[i] :
			op == HALF_SUB ? x[i] - y[i] : x[i] * y[i];

		CheckedOpResult(z, op != HALF_MUL || z != 0 || x[i] == 0 || y[i] == 0);
		x[i] = z;
	}
	r = InitHalfVector(a->dim);
	lance_kernels->f32_to_f16(x, r->x, a->dim);
	for (int i = 0; i < a->dim; i++)
	{
		if ((r->x[i] & 0x7fff) == 0x7c00)
			CheckedOpResult(INFINITY, true);
		/* a product that rounds to zero in half precision underflowed */
		if (op == HALF_MUL && (r->x[i] & 0x7fff) == 0 && x[i] != 0)
			CheckedOpResult(0, false);
	}
	return r;
}

LANCEDB_FUNCTION(halfvec_add);
Datum
halfvec_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(HalfVectorArith(fcinfo, HALF_ADD));
}

LANCEDB_FUNCTION(halfvec_sub);
Datum
halfvec_sub(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(HalfVectorArith(fcinfo, HALF_SUB));
}

LANCEDB_FUNCTION(halfvec_mul);
Datum
halfvec_mul(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(HalfVectorArith(fcinfo, HALF_MUL));
}

LANCEDB_FUNCTION(halfvec_concat);
Datum
halfvec_concat(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	HalfVector *r;

	CheckDimRange(a->dim + b->dim, HALFVEC_MAX_DIM, TYPNAME);
	r = InitHalfVector(a->dim + b->dim);
	memcpy(r->x, a->x, sizeof(half) * a->dim);
	memcpy(r->x + a->dim, b->x, sizeof(half) * b->dim);
	PG_RETURN_HALFVEC_P(r);
}

LANCEDB_FUNCTION(halfvec_binary_quantize);
Datum
halfvec_binary_quantize(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	VarBit	   *r = palloc0(VARBITTOTALLEN(v->dim));

	SET_VARSIZE(r, VARBITTOTALLEN(v->dim));
	VARBITLEN(r) = v->dim;
	for (int i = 0; i < v->dim; i++)
	{
		/* positive: sign bit clear and not +0 */
		if ((v->x[i] & 0x8000) == 0 && v->x[i] != 0)
			VARBITS(r)[i / 8] |= (bits8) (0x80 >> (i % 8));
	}
	PG_RETURN_VARBIT_P(r);
}

/* ---- ordering and hashing ---- */

static int
halfvec_cmp_internal(FunctionCallInfo fcinfo)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	return CompareFloats(HalfVectorToFloats(a), a->dim,
						 HalfVectorToFloats(b), b->dim);
}

#define HALFVEC_CMP_FUNC(fname, expr) \
LANCEDB_FUNCTION(fname); \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	int			c = halfvec_cmp_internal(fcinfo); \
	PG_RETURN_BOOL(expr); \
}

HALFVEC_CMP_FUNC(halfvec_lt, c < 0)
HALFVEC_CMP_FUNC(halfvec_le, c <= 0)
HALFVEC_CMP_FUNC(halfvec_eq, c == 0)
HALFVEC_CMP_FUNC(halfvec_ne, c != 0)
HALFVEC_CMP_FUNC(halfvec_ge, c >= 0)
HALFVEC_CMP_FUNC(halfvec_gt, c > 0)

LANCEDB_FUNCTION(halfvec_cmp);
Datum
halfvec_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(halfvec_cmp_internal(fcinfo));
}

LANCEDB_FUNCTION(halfvec_hash);
Datum
halfvec_hash(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);

	PG_RETURN_INT32((int32) HashFloats(HalfVectorToFloats(v), v->dim, 0));
}

LANCEDB_FUNCTION(halfvec_hash_extended);
Datum
halfvec_hash_extended(PG_FUNCTION_ARGS)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);

	PG_RETURN_INT64((int64) HashFloats(HalfVectorToFloats(v), v->dim,
									   PG_GETARG_INT64(1)));
}

/* ---- aggregates ---- */

LANCEDB_FUNCTION(halfvec_accum);
Datum
halfvec_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	HalfVector *v = PG_GETARG_HALFVEC_P(1);

	PG_RETURN_ARRAYTYPE_P(AccumFloats(fcinfo, state, HalfVectorToFloats(v),
									  v->dim));
}

LANCEDB_FUNCTION(halfvec_avg);
Datum
halfvec_avg(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *x = StateAverage(PG_GETARG_ARRAYTYPE_P(0), &dim);

	if (x == NULL)
		PG_RETURN_NULL();
	PG_RETURN_HALFVEC_P(HalfVectorFromFloats(x, dim));
}
