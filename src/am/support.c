/*
 * support.c
 *	  Operator-class support shared by the vector index AMs: what the
 *	  indexed type is (vector, halfvec, bit) and how its metric maps onto
 *	  the quantizers.  Each opclass names one type and one metric support
 *	  function; they return pointers to static descriptions.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "utils/catcache.h"
#include "utils/syscache.h"
#include "am/ivf.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/varbit.h"
#include "vector/halfvec.h"
#include "vector/vector.h"

static const LanceTypeSupport vector_type = {LANCE_ELEM_VECTOR, VECTOR_MAX_DIM};
static const LanceTypeSupport halfvec_type = {LANCE_ELEM_HALFVEC, HALFVEC_MAX_DIM};
static const LanceTypeSupport bit_type = {LANCE_ELEM_BIT, 64000};
static const LanceTypeSupport multivector_type = {LANCE_ELEM_VECTOR, VECTOR_MAX_DIM, true};

static const LanceMetricSupport l2_metric = {QMETRIC_L2, false, false, "l2"};
static const LanceMetricSupport ip_metric = {QMETRIC_IP, false, false, "inner_product"};
static const LanceMetricSupport cosine_metric = {QMETRIC_COSINE, true, false, "cosine"};
static const LanceMetricSupport hamming_metric = {QMETRIC_L2, false, true, "hamming"};

#define SUPPORT_FUNC(fname, ptr) \
LANCEDB_FUNCTION(fname); \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_POINTER(ptr); \
}

SUPPORT_FUNC(lancedb_vector_type_support, &vector_type)
SUPPORT_FUNC(lancedb_halfvec_type_support, &halfvec_type)
SUPPORT_FUNC(lancedb_bit_type_support, &bit_type)
SUPPORT_FUNC(lancedb_multivector_type_support, &multivector_type)
SUPPORT_FUNC(lancedb_l2_metric_support, &l2_metric)
SUPPORT_FUNC(lancedb_ip_metric_support, &ip_metric)
SUPPORT_FUNC(lancedb_cosine_metric_support, &cosine_metric)
SUPPORT_FUNC(lancedb_hamming_metric_support, &hamming_metric)

const LanceTypeSupport *
LanceGetTypeSupport(Relation index, uint16 procnum)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, procnum);

	return (const LanceTypeSupport *) DatumGetPointer(FunctionCall1(proc, PointerGetDatum(NULL)));
}

const LanceMetricSupport *
LanceGetMetricSupport(Relation index, uint16 procnum)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, procnum);

	return (const LanceMetricSupport *) DatumGetPointer(FunctionCall1(proc, PointerGetDatum(NULL)));
}

/*
 * The value as float32 elements (bit vectors as 0/1 floats: squared L2 on
 * them is the Hamming distance).  Allocated in the current context.
 */
float *
LanceDatumToFloats(Datum value, const LanceTypeSupport *type, int *dim)
{
	float	   *x;

	switch (type->elemtype)
	{
		case LANCE_ELEM_VECTOR:
			{
				Vector	   *v = DatumGetVector(value);

				x = palloc(sizeof(float) * v->dim);
				memcpy(x, v->x, sizeof(float) * v->dim);
				*dim = v->dim;
				break;
			}
		case LANCE_ELEM_HALFVEC:
			{
				HalfVector *v = DatumGetHalfVector(value);

				x = palloc(sizeof(float) * v->dim);
				lance_kernels->f16_to_f32(v->x, x, v->dim);
				*dim = v->dim;
				break;
			}
		case LANCE_ELEM_BIT:
			{
				VarBit	   *v = DatumGetVarBitP(value);
				int			n = VARBITLEN(v);

				x = palloc(sizeof(float) * Max(n, 1));
				for (int i = 0; i < n; i++)
					x[i] = (VARBITS(v)[i / 8] >> (7 - i % 8)) & 1;
				*dim = n;
				break;
			}
		default:
			elog(ERROR, "unknown lancedb element type %d", type->elemtype);
			x = NULL;			/* keep compiler quiet */
	}
	return x;
}

/* Scale to unit norm; a zero vector stays zero (cosine's defined result). */
void
LanceNormalize(float *x, int dim)
{
	double		s = 0;

	for (int i = 0; i < dim; i++)
		s += (double) x[i] * x[i];
	if (s > 0)
	{
		float		inv = (float) (1.0 / sqrt(s));

		for (int i = 0; i < dim; i++)
			x[i] *= inv;
	}
}

/* Allocation and interrupt hooks handed to the plain-C index modules. */
void *
LanceQuantAlloc(size_t size)
{
	return MemoryContextAllocHuge(CurrentMemoryContext, size);
}

void
LanceQuantFree(void *ptr)
{
	if (ptr)
		pfree(ptr);
}

void
LanceInterruptHook(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

/*
 * The value as rows of float32 elements: one row, or for a multivector
 * (vector[]) one row per element (none for an empty array).  Rows are
 * contiguous, *dim floats each, allocated in the current context.
 */
float *
LanceDatumToRows(Datum value, const LanceTypeSupport *type, int *dim, int *nrows)
{
	ArrayType  *a;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	float	   *rows = NULL;

	if (!type->multi)
	{
		*nrows = 1;
		return LanceDatumToFloats(value, type, dim);
	}
	a = DatumGetArrayTypeP(value);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("a multivector must be a one-dimensional array")));
	get_typlenbyvalalign(ARR_ELEMTYPE(a), &typlen, &typbyval, &typalign);
	deconstruct_array(a, ARR_ELEMTYPE(a), typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	*dim = 0;
	for (int i = 0; i < n; i++)
	{
		int			d;
		float	   *x;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a multivector cannot contain NULL vectors")));
		x = LanceDatumToFloats(elems[i], type, &d);
		if (i == 0)
		{
			*dim = d;
			rows = palloc(sizeof(float) * (Size) n * d);
		}
		else if (d != *dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different vector dimensions %d and %d", *dim, d)));
		memcpy(rows + (Size) i * d, x, sizeof(float) * d);
		pfree(x);
	}
	*nrows = n;
	return rows;
}

/*
 * amvalidate of the vector AMs: every support function number of the
 * opclass's family must be one the AM knows (1..maxproc).
 */
bool
LanceValidateOpclass(Oid opclassoid, const char *amname, int maxproc)
{
	HeapTuple	classtup;
	Form_pg_opclass classform;
	bool		result = true;
	CatCList   *proclist;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(classform->opcfamily));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (procform->amprocnum < 1 || procform->amprocnum > maxproc)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("%s operator family contains support function number %d, which is out of range",
							amname, procform->amprocnum)));
			result = false;
		}
	}
	ReleaseCatCacheList(proclist);
	ReleaseSysCache(classtup);
	return result;
}

/*
 * The datum the distance support function takes for this index's type,
 * from a range query's (float32) center.
 */
Datum
LanceQueryDatumFromCenter(const LanceTypeSupport *type, const Vector *center)
{
	if (type->elemtype == LANCE_ELEM_HALFVEC)
	{
		HalfVector *h = InitHalfVector(center->dim);

		for (int i = 0; i < center->dim; i++)
			h->x[i] = FloatToHalfChecked(center->x[i]);
		return PointerGetDatum(h);
	}
	return PointerGetDatum(center);
}
