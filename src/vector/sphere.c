/*
 * sphere.c
 *	  The lancedb.sphere type and the range operators that use it.  Text
 *	  form: ([1,2,3],lower,upper).
 */
#include "postgres.h"

#include <math.h>

#include "kernels/distance.h"
#include "lancedb.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "vector/halfvec.h"
#include "vector/sphere.h"
#include "vector/vector_common.h"
#include "vector/vector_parse.h"

static VectorSphere *
MakeSphere(const Vector *center, double lower, double upper)
{
	Size		size = offsetof(VectorSphere, center) + VARSIZE(center);
	VectorSphere *s;

	if (isnan(lower) || isnan(upper))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("sphere bounds must not be NaN")));
	if (lower > upper)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("sphere lower bound %g is above its upper bound %g",
						lower, upper)));
	s = palloc0(size);
	SET_VARSIZE(s, size);
	s->lower = lower;
	s->upper = upper;
	memcpy(&s->center, center, VARSIZE(center));
	return s;
}

LANCEDB_FUNCTION(sphere_in);
Datum
sphere_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	char	   *p = lit;
	char	   *close;
	char	   *vtext;
	float	   *x = palloc(sizeof(float) * VECTOR_MAX_DIM);
	int			dim;
	Vector	   *center;
	double		lower,
				upper;
	char	   *end;

	while (isspace((unsigned char) *p))
		p++;
	if (*p != '(' || (close = strchr(p, ']')) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type sphere: \"%s\"", lit),
				 errdetail("Expected ([...],lower,upper).")));
	vtext = pnstrdup(p + 1, close - p);
	dim = ParseVectorText(vtext, "vector", x, VECTOR_MAX_DIM);
	center = InitVector(dim);
	memcpy(center->x, x, sizeof(float) * dim);

	p = close + 1;
	while (isspace((unsigned char) *p))
		p++;
	if (*p++ != ',')
		goto bad;
	lower = float8in_internal(p, &end, "sphere", lit);
	p = end;
	while (isspace((unsigned char) *p))
		p++;
	if (*p++ != ',')
		goto bad;
	upper = float8in_internal(p, &end, "sphere", lit);
	p = end;
	while (isspace((unsigned char) *p))
		p++;
	if (*p++ != ')')
		goto bad;
	while (isspace((unsigned char) *p))
		p++;
	if (*p != '\0')
		goto bad;
	PG_RETURN_POINTER(MakeSphere(center, lower, upper));

bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type sphere: \"%s\"", lit),
			 errdetail("Expected ([...],lower,upper).")));
	PG_RETURN_NULL();
}

LANCEDB_FUNCTION(sphere_out);
Datum
sphere_out(PG_FUNCTION_ARGS)
{
	VectorSphere *s = PG_GETARG_SPHERE_P(0);
	StringInfoData buf;
	char	   *lo = float8out_internal(s->lower);
	char	   *hi = float8out_internal(s->upper);

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '(');
	AppendVectorText(&buf, s->center.x, s->center.dim);
	appendStringInfo(&buf, ",%s,%s)", lo, hi);
	PG_RETURN_CSTRING(buf.data);
}

/* lancedb.sphere(center, upper) = (-inf, upper); (center, lower, upper) */
LANCEDB_FUNCTION(sphere_make);
Datum
sphere_make(PG_FUNCTION_ARGS)
{
	Vector	   *c = PG_GETARG_VECTOR_P(0);

	if (PG_NARGS() == 2)
		PG_RETURN_POINTER(MakeSphere(c, -get_float8_infinity(), PG_GETARG_FLOAT8(1)));
	PG_RETURN_POINTER(MakeSphere(c, PG_GETARG_FLOAT8(1), PG_GETARG_FLOAT8(2)));
}

LANCEDB_FUNCTION(sphere_center);
Datum
sphere_center(PG_FUNCTION_ARGS)
{
	VectorSphere *s = PG_GETARG_SPHERE_P(0);
	Vector	   *c = palloc(VARSIZE(&s->center));

	memcpy(c, &s->center, VARSIZE(&s->center));
	PG_RETURN_POINTER(c);
}

/* ---- range predicates: lower <= distance(v, center) < upper ---- */

static inline bool
InRange(const VectorSphere *s, double d)
{
	return d >= s->lower && d < s->upper;
}

static void
SphereCheckDims(const VectorSphere *s, int dim)
{
	CheckSameDims(dim, s->center.dim);
}

typedef enum
{
	RANGE_L2,
	RANGE_IP,
	RANGE_COSINE
} RangeMetric;

static double
RangeDistance(const float *x, const float *c, int dim, RangeMetric m)
{
	float		dot,
				na,
				nb;

	switch (m)
	{
		case RANGE_L2:
			return sqrt((double) lance_kernels->l2sq_f32(x, c, dim));
		case RANGE_IP:
			return -(double) lance_kernels->dot_f32(x, c, dim);
		case RANGE_COSINE:
			lance_kernels->cosine_f32(x, c, dim, &dot, &na, &nb);
			return CosineDistanceFromParts(dot, na, nb);
	}
	return 0;
}

#define VECTOR_RANGE_FUNC(fname, metric) \
LANCEDB_FUNCTION(fname); \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	Vector	   *v = PG_GETARG_VECTOR_P(0); \
	VectorSphere *s = PG_GETARG_SPHERE_P(1); \
	SphereCheckDims(s, v->dim); \
	PG_RETURN_BOOL(InRange(s, RangeDistance(v->x, s->center.x, v->dim, metric))); \
}

#define HALFVEC_RANGE_FUNC(fname, metric) \
LANCEDB_FUNCTION(fname); \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	HalfVector *h = PG_GETARG_HALFVEC_P(0); \
	VectorSphere *s = PG_GETARG_SPHERE_P(1); \
	float	   *x = palloc(sizeof(float) * h->dim); \
	SphereCheckDims(s, h->dim); \
	lance_kernels->f16_to_f32(h->x, x, h->dim); \
	PG_RETURN_BOOL(InRange(s, RangeDistance(x, s->center.x, h->dim, metric))); \
}

VECTOR_RANGE_FUNC(vector_l2_within, RANGE_L2)
VECTOR_RANGE_FUNC(vector_ip_within, RANGE_IP)
VECTOR_RANGE_FUNC(vector_cosine_within, RANGE_COSINE)
HALFVEC_RANGE_FUNC(halfvec_l2_within, RANGE_L2)
HALFVEC_RANGE_FUNC(halfvec_ip_within, RANGE_IP)
HALFVEC_RANGE_FUNC(halfvec_cosine_within, RANGE_COSINE)
