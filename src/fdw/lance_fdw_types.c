/*
 * lance_fdw_types.c
 *	  Lance logical types to SQL types: the default mapping used by IMPORT
 *	  FOREIGN SCHEMA, the check that a declared column can hold a Lance
 *	  field, and the conversion of decoded values to datums.
 *
 * Mapping (docs: sql-surface.md): int8/int16/uint8 -> smallint, int32/uint16
 * -> integer, int64/uint32 -> bigint, uint64 -> numeric; halffloat/float ->
 * real, double -> double precision; bool; string -> text; binary -> bytea;
 * fixed_size_list<float> -> vector(n), <halffloat> -> halfvec(n), of other
 * numbers -> T[]; list<T> -> T[] (list<struct> -> jsonb[]), a list of
 * lists -> jsonb (arrays do not nest raggedly); timestamp -> timestamp, or
 * timestamptz when the field has a zone; date32/date64 -> date; decimal ->
 * numeric(p,s); struct -> jsonb.  A declared column may also use a wider SQL
 * type, and jsonb holds any list.
 */
#include "fdw/lance_fdw.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "kernels/distance.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "vector/halfvec.h"
#include "vector/vector.h"
#include "vector/vector_common.h"

/* Microseconds and days between the Unix and PostgreSQL epochs. */
#define EPOCH_DIFF_DAYS		(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)
#define EPOCH_DIFF_USECS	((int64) EPOCH_DIFF_DAYS * USECS_PER_DAY)

static bool
kind_is_int(LanceTypeKind k)
{
	return k >= LANCE_T_INT8 && k <= LANCE_T_UINT64;
}

static bool
kind_is_float(LanceTypeKind k)
{
	return k == LANCE_T_HALF || k == LANCE_T_FLOAT || k == LANCE_T_DOUBLE;
}

/* ---- the extension's own types ---- */

static Oid
extension_schema(Oid extoid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp;
}

/*
 * OID of the extension's type `typname` (vector, halfvec), looked up in the
 * extension's schema each time: the extension may have been recreated.
 */
Oid
lance_fdw_ext_type(const char *typname)
{
	Oid			extoid = get_extension_oid("lancedb", true);
	Oid			nsp;

	if (!OidIsValid(extoid))
		return InvalidOid;
	nsp = extension_schema(extoid);
	if (!OidIsValid(nsp))
		return InvalidOid;
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						   CStringGetDatum(typname), ObjectIdGetDatum(nsp));
}

/* ---- default mapping ---- */

static bool
default_type(const LanceManifest *m, int field, const LanceType *t, Oid *typid, int32 *typmod)
{
	*typmod = -1;
	switch (t->kind)
	{
		case LANCE_T_BOOL:
			*typid = BOOLOID;
			return true;
		case LANCE_T_INT8:
		case LANCE_T_INT16:
		case LANCE_T_UINT8:
			*typid = INT2OID;
			return true;
		case LANCE_T_INT32:
		case LANCE_T_UINT16:
			*typid = INT4OID;
			return true;
		case LANCE_T_INT64:
		case LANCE_T_UINT32:
			*typid = INT8OID;
			return true;
		case LANCE_T_UINT64:
			*typid = NUMERICOID;
			return true;
		case LANCE_T_HALF:
		case LANCE_T_FLOAT:
			*typid = FLOAT4OID;
			return true;
		case LANCE_T_DOUBLE:
			*typid = FLOAT8OID;
			return true;
		case LANCE_T_STRING:
		case LANCE_T_LARGE_STRING:
			*typid = TEXTOID;
			return true;
		case LANCE_T_BINARY:
		case LANCE_T_LARGE_BINARY:
		case LANCE_T_FIXED_BINARY:
			*typid = BYTEAOID;
			return true;
		case LANCE_T_TIMESTAMP:
			*typid = t->tz[0] ? TIMESTAMPTZOID : TIMESTAMPOID;
			return true;
		case LANCE_T_DATE32:
		case LANCE_T_DATE64:
			*typid = DATEOID;
			return true;
		case LANCE_T_DECIMAL128:
		case LANCE_T_DECIMAL256:
			*typid = NUMERICOID;
			/* numeric's typmod: ((precision << 16) | scale) + VARHDRSZ */
			if (t->precision >= 1 && t->precision <= NUMERIC_MAX_PRECISION &&
				t->scale >= 0 && t->scale <= t->precision)
				*typmod = ((t->precision << 16) | t->scale) + VARHDRSZ;
			return true;
		case LANCE_T_STRUCT:
			*typid = JSONBOID;
			return true;
		case LANCE_T_FSL:
			{
				LanceType	e;
				Oid			elemtyp;
				int32		elemmod;

				if ((t->elem == LANCE_T_FLOAT || t->elem == LANCE_T_HALF) &&
					t->width <= VECTOR_MAX_DIM)
				{
					*typid = lance_fdw_ext_type(t->elem == LANCE_T_FLOAT ? "vector" : "halfvec");
					*typmod = (int32) t->width;
					if (OidIsValid(*typid))
						return true;
					*typmod = -1;
				}
				if (!kind_is_int(t->elem) && !kind_is_float(t->elem))
					return false;
				memset(&e, 0, sizeof(e));
				e.kind = t->elem;
				if (!default_type(m, -1, &e, &elemtyp, &elemmod))
					return false;
				*typid = get_array_type(elemtyp);
				return OidIsValid(*typid);
			}
		case LANCE_T_LIST:
		case LANCE_T_LARGE_LIST:
			{
				int			child;
				Oid			elemtyp;

				if (field < 0 || m->fields[field].nchildren != 1)
					return false;
				child = m->fields[field].children[0];
				if (!default_type(m, child, &m->fields[child].type, &elemtyp, typmod))
					return false;
				if (type_is_array(elemtyp))
				{
					/* PostgreSQL arrays do not nest raggedly: a JSON array */
					*typid = JSONBOID;
					*typmod = -1;
					return true;
				}
				*typid = get_array_type(elemtyp);
				return OidIsValid(*typid);
			}
		default:
			return false;
	}
}

/* The SQL type IMPORT FOREIGN SCHEMA gives field `field`; false if none. */
bool
lance_fdw_default_type(const LanceManifest *m, int field, Oid *typid, int32 *typmod)
{
	return default_type(m, field, &m->fields[field].type, typid, typmod);
}

/* ---- checking a declared column ---- */

static bool build(const LanceManifest *m, int field, const LanceType *t, Oid typid,
				  int32 typmod, const char *colname, LanceConv *c);

/* Element converter of a fixed_size_list (a plain number). */
static bool
build_fsl_elem(const LanceType *t, Oid elemtyp, const char *colname, LanceConv *c)
{
	LanceType	e;
	int32		mod;

	if (!kind_is_int(t->elem) && !kind_is_float(t->elem))
		return false;
	memset(&e, 0, sizeof(e));
	e.kind = t->elem;
	if (!OidIsValid(elemtyp) && !default_type(NULL, -1, &e, &elemtyp, &mod))
		return false;
	c->elem = palloc0(sizeof(LanceConv));
	if (!build(NULL, -1, &e, elemtyp, -1, colname, c->elem))
		return false;
	get_typlenbyvalalign(elemtyp, &c->elmlen, &c->elmbyval, &c->elmalign);
	return true;
}

static bool
build(const LanceManifest *m, int field, const LanceType *t, Oid typid, int32 typmod,
	  const char *colname, LanceConv *c)
{
	memset(c, 0, sizeof(*c));
	c->src = *t;
	c->typid = typid;
	c->typmod = typmod;
	c->colname = colname;

	if (kind_is_int(t->kind))
	{
		c->kind = LCONV_INT;
		return typid == INT2OID || typid == INT4OID || typid == INT8OID || typid == NUMERICOID;
	}
	if (kind_is_float(t->kind))
	{
		c->kind = LCONV_FLOAT;
		return typid == FLOAT8OID || (typid == FLOAT4OID && t->kind != LANCE_T_DOUBLE);
	}
	switch (t->kind)
	{
		case LANCE_T_BOOL:
			c->kind = LCONV_BOOL;
			return typid == BOOLOID;
		case LANCE_T_STRING:
		case LANCE_T_LARGE_STRING:
			c->kind = LCONV_TEXT;
			/* varchar(n) would need its length enforced: only plain varchar */
			return typid == TEXTOID || (typid == VARCHAROID && typmod < 0);
		case LANCE_T_BINARY:
		case LANCE_T_LARGE_BINARY:
		case LANCE_T_FIXED_BINARY:
			c->kind = LCONV_BYTEA;
			return typid == BYTEAOID;
		case LANCE_T_TIMESTAMP:
			c->kind = LCONV_TIMESTAMP;
			return (typid == TIMESTAMPOID || typid == TIMESTAMPTZOID) && typmod < 0;
		case LANCE_T_DATE32:
		case LANCE_T_DATE64:
			c->kind = LCONV_DATE;
			return typid == DATEOID;
		case LANCE_T_DECIMAL128:
		case LANCE_T_DECIMAL256:
			c->kind = LCONV_NUMERIC;
			return typid == NUMERICOID;
		case LANCE_T_STRUCT:
			{
				const LanceField *f;
				int			k;

				c->kind = LCONV_JSONB;
				if (typid != JSONBOID || m == NULL || field < 0)
					return false;
				f = &m->fields[field];
				c->nchildren = f->nchildren;
				c->names = palloc0(sizeof(char *) * Max(f->nchildren, 1));
				c->children = palloc0(sizeof(LanceConv) * Max(f->nchildren, 1));
				for (k = 0; k < f->nchildren; k++)
				{
					int			child = f->children[k];
					Oid			ctyp;
					int32		cmod;

					c->names[k] = pstrdup(m->fields[child].name);
					if (!lance_fdw_default_type(m, child, &ctyp, &cmod) ||
						!build(m, child, &m->fields[child].type, ctyp, cmod, colname,
							   &c->children[k]))
						return false;
				}
				return true;
			}
		case LANCE_T_FSL:
			{
				Oid			vectyp = lance_fdw_ext_type("vector");
				Oid			halftyp = lance_fdw_ext_type("halfvec");
				bool		dim_ok = typmod < 0 || typmod == (int32) t->width;

				if (OidIsValid(typid) && typid == vectyp)
				{
					c->kind = LCONV_VECTOR;
					if (t->elem != LANCE_T_FLOAT || !dim_ok || t->width > VECTOR_MAX_DIM)
						return false;
					/* an element converter too, for vectors inside structs */
					return build_fsl_elem(t, InvalidOid, colname, c);
				}
				if (OidIsValid(typid) && typid == halftyp)
				{
					c->kind = LCONV_HALFVEC;
					if (t->elem != LANCE_T_HALF || !dim_ok || t->width > HALFVEC_MAX_DIM)
						return false;
					return build_fsl_elem(t, InvalidOid, colname, c);
				}
				c->kind = LCONV_ARRAY;
				if (!type_is_array(typid))
					return false;
				return build_fsl_elem(t, get_element_type(typid), colname, c);
			}
		case LANCE_T_LIST:
		case LANCE_T_LARGE_LIST:
			{
				Oid			elemtyp;
				int			child;

				c->kind = LCONV_ARRAY;
				if (m == NULL || field < 0 || m->fields[field].nchildren != 1)
					return false;
				child = m->fields[field].children[0];
				if (typid == JSONBOID)
				{
					int32		emod;

					/* any list as a JSON array, its items as their own columns would be */
					c->kind = LCONV_JSONB;
					c->elem = palloc0(sizeof(LanceConv));
					return lance_fdw_default_type(m, child, &elemtyp, &emod) &&
						build(m, child, &m->fields[child].type, elemtyp, emod, colname, c->elem);
				}
				if (!type_is_array(typid))
					return false;
				elemtyp = get_element_type(typid);
				c->elem = palloc0(sizeof(LanceConv));
				/*
				 * An array column's typmod belongs to its elements; a list of
				 * lists is another dimension of the same (rectangular) array.
				 */
				if (m->fields[child].type.kind == LANCE_T_LIST ||
					m->fields[child].type.kind == LANCE_T_LARGE_LIST)
				{
					if (!build(m, child, &m->fields[child].type, typid, typmod, colname, c->elem))
						return false;
				}
				else if (!build(m, child, &m->fields[child].type, elemtyp, typmod, colname, c->elem))
					return false;
				get_typlenbyvalalign(elemtyp, &c->elmlen, &c->elmbyval, &c->elmalign);
				return true;
			}
		default:
			return false;
	}
}

/*
 * Prepares the conversion of field `field` to a column of type typid/typmod;
 * false if that column cannot hold the field.
 */
bool
lance_fdw_conv_build(const LanceManifest *m, int field, Oid typid, int32 typmod,
					 const char *colname, LanceConv *conv)
{
	return build(m, field, &m->fields[field].type, typid, typmod, colname, conv);
}

/* ---- values ---- */

static pg_attribute_noreturn() void
out_of_range(const LanceConv *c, const char *value)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value %s in column \"%s\" is out of range for type %s",
					value, c->colname, format_type_with_typemod(c->typid, c->typmod))));
}

static Datum
numeric_from_cstring(const LanceConv *c, const char *s)
{
	return DirectFunctionCall3(numeric_in, CStringGetDatum(s),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(c->typmod));
}

static Datum
int_datum(const LanceConv *c, const uint8 *p)
{
	int64		v;

	switch (c->src.kind)
	{
		case LANCE_T_INT8:
			v = (int8) p[0];
			break;
		case LANCE_T_UINT8:
			v = p[0];
			break;
		case LANCE_T_INT16:
			v = (int16) lance_le16(p);
			break;
		case LANCE_T_UINT16:
			v = lance_le16(p);
			break;
		case LANCE_T_INT32:
			v = (int32) lance_le32(p);
			break;
		case LANCE_T_UINT32:
			v = lance_le32(p);
			break;
		case LANCE_T_INT64:
			v = (int64) lance_le64(p);
			break;
		default:
			{
				uint64		u = lance_le64(p);

				if (u > (uint64) PG_INT64_MAX)
				{
					char	   *s = psprintf(UINT64_FORMAT, u);

					if (c->typid != NUMERICOID)
						out_of_range(c, s);
					return numeric_from_cstring(c, s);
				}
				v = (int64) u;
				break;
			}
	}
	switch (c->typid)
	{
		case INT2OID:
			if (v < PG_INT16_MIN || v > PG_INT16_MAX)
				out_of_range(c, psprintf(INT64_FORMAT, v));
			return Int16GetDatum((int16) v);
		case INT4OID:
			if (v < PG_INT32_MIN || v > PG_INT32_MAX)
				out_of_range(c, psprintf(INT64_FORMAT, v));
			return Int32GetDatum((int32) v);
		case INT8OID:
			return Int64GetDatum(v);
		default:
			if (c->typmod < 0)
				return NumericGetDatum(int64_to_numeric(v));
			return numeric_from_cstring(c, psprintf(INT64_FORMAT, v));
	}
}

static Datum
float_datum(const LanceConv *c, const uint8 *p)
{
	double		d;

	if (c->src.kind == LANCE_T_DOUBLE)
		memcpy(&d, p, sizeof(d));
	else
	{
		float		f;

		if (c->src.kind == LANCE_T_HALF)
			f = lance_f16_to_f32(lance_le16(p));
		else
			memcpy(&f, p, sizeof(f));
		if (c->typid == FLOAT4OID)
			return Float4GetDatum(f);
		d = f;
	}
	return Float8GetDatum(d);
}

static Datum
timestamp_datum(const LanceConv *c, const uint8 *p)
{
	int64		raw = (int64) lance_le64(p);
	int64		us = raw;
	Timestamp	ts;
	bool		overflow = false;

	switch (c->src.unit)
	{
		case 0:
			overflow = pg_mul_s64_overflow(raw, USECS_PER_SEC, &us);
			break;
		case 1:
			overflow = pg_mul_s64_overflow(raw, 1000, &us);
			break;
		case 3:
			/* nanoseconds: round towards minus infinity, as date_trunc would */
			us = raw / 1000 - ((raw % 1000) < 0 ? 1 : 0);
			break;
		default:
			break;
	}
	if (overflow || pg_sub_s64_overflow(us, EPOCH_DIFF_USECS, &ts) || !IS_VALID_TIMESTAMP(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp in column \"%s\" is out of range", c->colname)));
	return TimestampGetDatum(ts);
}

static Datum
date_datum(const LanceConv *c, const uint8 *p)
{
	int64		days;

	if (c->src.kind == LANCE_T_DATE32)
		days = (int32) lance_le32(p);
	else
	{
		int64		ms = (int64) lance_le64(p);

		int64		ms_per_day = INT64CONST(86400000);

		days = ms / ms_per_day - ((ms % ms_per_day) < 0 ? 1 : 0);
	}
	days -= EPOCH_DIFF_DAYS;
	if (days < PG_INT32_MIN || days > PG_INT32_MAX || !IS_VALID_DATE((DateADT) days))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("date in column \"%s\" is out of range", c->colname)));
	return DateADTGetDatum((DateADT) days);
}

/*
 * A little-endian two's complement decimal of nbytes (16 or 32) with
 * `scale` as text: long division by 10^9 over 32-bit limbs.
 */
static char *
decimal_cstring(const uint8 *p, int nbytes, int scale)
{
	uint32		limbs[8];
	int			nlimbs = nbytes / 4;
	bool		neg = (p[nbytes - 1] & 0x80) != 0;
	char		digits[96];
	int			nd = 0;
	StringInfoData s;
	int			k;

	for (k = 0; k < nlimbs; k++)
		limbs[k] = lance_le32(p + 4 * k);
	if (neg)
	{
		uint64		carry = 1;

		for (k = 0; k < nlimbs; k++)
		{
			uint64		x = (uint64) (uint32) ~limbs[k] + carry;

			limbs[k] = (uint32) x;
			carry = x >> 32;
		}
	}
	for (;;)
	{
		uint64		rem = 0;
		bool		zero = true;
		int			j;

		for (k = nlimbs - 1; k >= 0; k--)
		{
			uint64		cur = (rem << 32) | limbs[k];

			limbs[k] = (uint32) (cur / 1000000000);
			rem = cur % 1000000000;
			if (limbs[k] != 0)
				zero = false;
		}
		for (j = 0; j < 9; j++)
		{
			digits[nd++] = (char) ('0' + rem % 10);
			rem /= 10;
		}
		if (zero)
			break;
	}
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;

	/* digits[] is least significant first */
	initStringInfo(&s);
	if (neg)
		appendStringInfoChar(&s, '-');
	if (scale <= 0)
	{
		for (k = nd - 1; k >= 0; k--)
			appendStringInfoChar(&s, digits[k]);
		for (k = 0; k < -scale; k++)
			appendStringInfoChar(&s, '0');
	}
	else
	{
		if (nd <= scale)
			appendStringInfoChar(&s, '0');
		for (k = nd - 1; k >= scale; k--)
			appendStringInfoChar(&s, digits[k]);
		appendStringInfoChar(&s, '.');
		for (k = scale - 1; k >= 0; k--)
			appendStringInfoChar(&s, k < nd ? digits[k] : '0');
	}
	return s.data;
}

static Datum
text_datum(const uint8 *p, uint64 len)
{
	char	   *s;
	text	   *t;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("Lance string of " UINT64_FORMAT " bytes is too long", len)));
	if (len == 0)
		return PointerGetDatum(cstring_to_text_with_len("", 0));
	/* LanceDB strings are UTF-8: validate, and convert to the server encoding */
	s = pg_any_to_server((const char *) p, (int) len, PG_UTF8);
	if (s == (const char *) p)
		return PointerGetDatum(cstring_to_text_with_len(s, (int) len));
	t = cstring_to_text(s);
	pfree(s);
	return PointerGetDatum(t);
}

static Datum
bytea_datum(const uint8 *p, uint64 len)
{
	bytea	   *b;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("Lance binary value of " UINT64_FORMAT " bytes is too long", len)));
	b = palloc(VARHDRSZ + len);
	SET_VARSIZE(b, VARHDRSZ + len);
	if (len > 0)
		memcpy(VARDATA(b), p, len);
	return PointerGetDatum(b);
}

/* Value of a fixed-width scalar at p. */
static Datum
scalar_datum(const LanceConv *c, const uint8 *p)
{
	switch (c->kind)
	{
		case LCONV_INT:
			return int_datum(c, p);
		case LCONV_FLOAT:
			return float_datum(c, p);
		case LCONV_BOOL:
			return BoolGetDatum(p[0] != 0);
		case LCONV_TIMESTAMP:
			return timestamp_datum(c, p);
		case LCONV_DATE:
			return date_datum(c, p);
		case LCONV_NUMERIC:
			return numeric_from_cstring(c, decimal_cstring(p, c->src.kind == LANCE_T_DECIMAL256 ? 32 : 16,
														   c->src.scale));
		default:
			elog(ERROR, "lance_fdw: conversion %d is not a scalar", (int) c->kind);
	}
	return (Datum) 0;
}

static pg_attribute_noreturn() void
bad_vector(const LanceConv *c, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("decoded Lance column \"%s\" is inconsistent: %s", c->colname, what)));
}

/* Bytes of variable-width value i (string, binary) or fixed binary. */
static const uint8 *
var_value(const LanceConv *c, const LanceVector *v, uint64 i, uint64 *len)
{
	uint64		start,
				end;

	if (v->offsets == NULL)
	{
		if (v->width == 0 || (i + 1) * v->width > v->values_len)
			bad_vector(c, "fixed-width value beyond its buffer");
		*len = v->width;
		return v->values + i * v->width;
	}
	start = v->offsets[i];
	end = v->offsets[i + 1];
	if (start > end || end > v->values_len)
		bad_vector(c, "offsets out of order");
	*len = end - start;
	return v->values ? v->values + start : (const uint8 *) "";
}

static Datum
fsl_array(const LanceConv *c, const uint8 *p)
{
	uint32		dim = c->src.width;
	uint32		ew = lance_type_fixed_width(c->src.elem);
	Datum	   *datums = palloc(sizeof(Datum) * dim);
	int			dims[1] = {(int) dim};
	int			lbs[1] = {1};
	uint32		k;

	for (k = 0; k < dim; k++)
		datums[k] = scalar_datum(c->elem, p + (uint64) k * ew);
	return PointerGetDatum(construct_md_array(datums, NULL, 1, dims, lbs, c->elem->typid,
											  c->elmlen, c->elmbyval, c->elmalign));
}

/* Whether c's items are lists shown as further dimensions of its array. */
static bool
is_multidim(const LanceConv *c)
{
	return c->elem != NULL && c->elem->kind == LCONV_ARRAY && c->elem->typid == c->typid &&
		(c->elem->src.kind == LANCE_T_LIST || c->elem->src.kind == LANCE_T_LARGE_LIST);
}

static pg_attribute_noreturn() void
not_rectangular(const LanceConv *c, int ndim)
{
	ereport(ERROR,
			(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
			 errmsg("nested list in column \"%s\" is not rectangular (a NULL or empty inner list, or lists of different lengths), which an array of %d dimensions cannot hold",
					c->colname, Max(ndim, 2)),
			 errhint("Declare the column as jsonb.")));
}

/*
 * Gathers list i of v (dimension d) into datums/nulls of a multi-dimensional
 * array: every list of a dimension must have the same, non-zero length.
 */
static void
gather_dims(const LanceConv *c, const LanceVector *v, uint64 i, int d, int *dims, int ndim,
			Datum *datums, bool *nulls, int *n)
{
	const LanceVector *child;
	uint64		start,
				end,
				k;

	if (v->nchildren != 1 || v->offsets == NULL)
		bad_vector(c, "list without items");
	child = &v->children[0];
	start = v->offsets[i];
	end = v->offsets[i + 1];
	if (start > end || end > child->n)
		bad_vector(c, "list offsets out of order");
	if (end - start != (uint64) dims[d] || (d > 0 && !lance_vector_is_valid(v, i)))
		not_rectangular(c, ndim);
	for (k = start; k < end; k++)
	{
		if (d + 1 < ndim)
		{
			if (!lance_vector_is_valid(child, k))
				not_rectangular(c, ndim);
			gather_dims(c->elem, child, k, d + 1, dims, ndim, datums, nulls, n);
		}
		else
		{
			datums[*n] = lance_fdw_conv_datum(c->elem, child, k, &nulls[*n]);
			(*n)++;
		}
	}
}

/* List i of v as an array of as many dimensions as lists are nested. */
static Datum
multidim_array(const LanceConv *c, const LanceVector *v, uint64 i)
{
	const LanceConv *leaf = c;
	const LanceVector *lv = v;
	uint64		li = i;
	int			dims[MAXDIM];
	int			lbs[MAXDIM];
	int			ndim = 0;
	int64		total = 1;
	Datum	   *datums;
	bool	   *nulls;
	int			n = 0;

	/* dimensions from the first list at each depth */
	for (;;)
	{
		uint64		len;

		if (ndim == MAXDIM)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("list in column \"%s\" is nested more than %d deep", c->colname, MAXDIM)));
		if (lv->nchildren != 1 || lv->offsets == NULL || li >= lv->n)
			bad_vector(c, "list without items");
		len = lv->offsets[li + 1] - lv->offsets[li];
		if (len == 0 && ndim == 0)
			return PointerGetDatum(construct_empty_array(get_element_type(c->typid)));
		if (len == 0 || (ndim > 0 && !lance_vector_is_valid(lv, li)))
			not_rectangular(c, ndim);
		dims[ndim] = (int) Min(len, (uint64) MaxArraySize);
		lbs[ndim] = 1;
		total *= Max(len, 1);
		if (total > (int64) MaxArraySize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("list in column \"%s\" has too many items", c->colname)));
		ndim++;
		if (!is_multidim(leaf))
			break;
		li = lv->offsets[li];
		lv = &lv->children[0];
		leaf = leaf->elem;
	}
	datums = palloc(sizeof(Datum) * Max(total, 1));
	nulls = palloc(sizeof(bool) * Max(total, 1));
	gather_dims(c, v, i, 0, dims, ndim, datums, nulls, &n);
	return PointerGetDatum(construct_md_array(datums, nulls, ndim, dims, lbs, leaf->elem->typid,
											  leaf->elmlen, leaf->elmbyval, leaf->elmalign));
}

static Datum
list_array(const LanceConv *c, const LanceVector *v, uint64 i)
{
	const LanceVector *child;
	uint64		start,
				end,
				n,
				k;
	Datum	   *datums;
	bool	   *nulls;
	int			dims[1];
	int			lbs[1] = {1};

	if (is_multidim(c))
		return multidim_array(c, v, i);
	if (v->nchildren != 1 || v->offsets == NULL)
		bad_vector(c, "list without items");
	child = &v->children[0];
	start = v->offsets[i];
	end = v->offsets[i + 1];
	if (start > end || end > child->n)
		bad_vector(c, "list offsets out of order");
	n = end - start;
	if (n == 0)
		return PointerGetDatum(construct_empty_array(c->elem->typid));
	if (n > MaxArraySize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("list in column \"%s\" has too many items", c->colname)));
	datums = palloc(sizeof(Datum) * n);
	nulls = palloc(sizeof(bool) * n);
	for (k = 0; k < n; k++)
		datums[k] = lance_fdw_conv_datum(c->elem, child, start + k, &nulls[k]);
	dims[0] = (int) n;
	return PointerGetDatum(construct_md_array(datums, nulls, 1, dims, lbs, c->elem->typid,
											  c->elmlen, c->elmbyval, c->elmalign));
}

/* ---- structs as jsonb ---- */

static void
json_string(JsonbValue *jv, char *s, int len)
{
	jv->type = jbvString;
	jv->val.string.val = s;
	jv->val.string.len = len;
}

/* A SQL scalar of a struct member as a JSON scalar. */
static void
json_scalar(JsonbValue *jv, Oid typid, Datum d)
{
	switch (typid)
	{
		case INT2OID:
			jv->type = jbvNumeric;
			jv->val.numeric = int64_to_numeric(DatumGetInt16(d));
			break;
		case INT4OID:
			jv->type = jbvNumeric;
			jv->val.numeric = int64_to_numeric(DatumGetInt32(d));
			break;
		case INT8OID:
			jv->type = jbvNumeric;
			jv->val.numeric = int64_to_numeric(DatumGetInt64(d));
			break;
		case NUMERICOID:
			jv->type = jbvNumeric;
			jv->val.numeric = DatumGetNumeric(d);
			break;
		case FLOAT4OID:
		case FLOAT8OID:
			{
				double		x = typid == FLOAT4OID ? DatumGetFloat4(d) : DatumGetFloat8(d);

				/* JSON has no NaN or infinities: spell them as strings */
				if (isnan(x))
					json_string(jv, "NaN", 3);
				else if (isinf(x))
					json_string(jv, x > 0 ? "Infinity" : "-Infinity", x > 0 ? 8 : 9);
				else
				{
					jv->type = jbvNumeric;
					jv->val.numeric = DatumGetNumeric(typid == FLOAT4OID ?
													  DirectFunctionCall1(float4_numeric, d) :
													  DirectFunctionCall1(float8_numeric, d));
				}
				break;
			}
		case BOOLOID:
			jv->type = jbvBool;
			jv->val.boolean = DatumGetBool(d);
			break;
		case TEXTOID:
			{
				text	   *t = DatumGetTextPP(d);

				json_string(jv, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				break;
			}
		case BYTEAOID:
			{
				bytea	   *b = DatumGetByteaPP(d);
				int			len = VARSIZE_ANY_EXHDR(b);
				const uint8 *src = (const uint8 *) VARDATA_ANY(b);
				char	   *s = palloc(2 * len + 3);
				int			k;

				/* bytea's hex form, whatever bytea_output says */
				s[0] = '\\';
				s[1] = 'x';
				for (k = 0; k < len; k++)
				{
					s[2 + 2 * k] = "0123456789abcdef"[src[k] >> 4];
					s[3 + 2 * k] = "0123456789abcdef"[src[k] & 15];
				}
				s[2 + 2 * len] = '\0';
				json_string(jv, s, 2 + 2 * len);
				break;
			}
		default:
			{
				/* dates and timestamps: ISO 8601, as to_jsonb writes them */
				char	   *s = JsonEncodeDateTime(NULL, d, typid, NULL);

				json_string(jv, s, strlen(s));
				break;
			}
	}
}

static JsonbValue *
json_push(JsonbParseState **st, JsonbIteratorToken tok, const LanceConv *c,
		  const LanceVector *v, uint64 i)
{
	JsonbValue	jv;
	bool		isnull;
	Datum		d;
	uint64		k;

	check_stack_depth();
	if (!lance_vector_is_valid(v, i))
	{
		jv.type = jbvNull;
		return pushJsonbValue(st, tok, &jv);
	}
	switch (c->src.kind)
	{
		case LANCE_T_STRUCT:
			if (v->nchildren != c->nchildren)
				bad_vector(c, "struct member count");
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			for (k = 0; k < (uint64) c->nchildren; k++)
			{
				json_string(&jv, c->names[k], strlen(c->names[k]));
				pushJsonbValue(st, WJB_KEY, &jv);
				json_push(st, WJB_VALUE, &c->children[k], &v->children[k], i);
			}
			return pushJsonbValue(st, WJB_END_OBJECT, NULL);
		case LANCE_T_LIST:
		case LANCE_T_LARGE_LIST:
			{
				uint64		start,
							end;

				if (v->nchildren != 1 || v->offsets == NULL)
					bad_vector(c, "list without items");
				start = v->offsets[i];
				end = v->offsets[i + 1];
				if (start > end || end > v->children[0].n)
					bad_vector(c, "list offsets out of order");
				pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
				for (k = start; k < end; k++)
					json_push(st, WJB_ELEM, c->elem, &v->children[0], k);
				return pushJsonbValue(st, WJB_END_ARRAY, NULL);
			}
		case LANCE_T_FSL:
			{
				uint32		ew = lance_type_fixed_width(c->src.elem);
				const uint8 *p;

				if ((i + 1) * v->width > v->values_len)
					bad_vector(c, "fixed-size list beyond its buffer");
				p = v->values + i * v->width;
				pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
				for (k = 0; k < c->src.width; k++)
				{
					json_scalar(&jv, c->elem->typid, scalar_datum(c->elem, p + k * ew));
					pushJsonbValue(st, WJB_ELEM, &jv);
				}
				return pushJsonbValue(st, WJB_END_ARRAY, NULL);
			}
		default:
			d = lance_fdw_conv_datum(c, v, i, &isnull);
			json_scalar(&jv, c->typid, d);
			return pushJsonbValue(st, tok, &jv);
	}
}

/*
 * Datum of row i of decoded vector v for the column `c` describes; the
 * result is allocated in the current memory context.
 */
Datum
lance_fdw_conv_datum(const LanceConv *c, const LanceVector *v, uint64 i, bool *isnull)
{
	const uint8 *p;
	uint64		len;

	if (i >= v->n)
		bad_vector(c, "row beyond the decoded rows");
	if (!lance_vector_is_valid(v, i))
	{
		*isnull = true;
		return (Datum) 0;
	}
	*isnull = false;
	switch (c->kind)
	{
		case LCONV_TEXT:
			p = var_value(c, v, i, &len);
			return text_datum(p, len);
		case LCONV_BYTEA:
			p = var_value(c, v, i, &len);
			return bytea_datum(p, len);
		case LCONV_VECTOR:
		case LCONV_HALFVEC:
		case LCONV_ARRAY:
			if (c->src.kind == LANCE_T_LIST || c->src.kind == LANCE_T_LARGE_LIST)
				return list_array(c, v, i);
			if (v->width == 0 || (i + 1) * v->width > v->values_len)
				bad_vector(c, "fixed-size list beyond its buffer");
			p = v->values + i * v->width;
			if (c->kind == LCONV_VECTOR)
			{
				Vector	   *vec = InitVector((int) c->src.width);
				uint32		k;

				/* the reader, like the file, is little-endian */
				memcpy(vec->x, p, sizeof(float) * c->src.width);
				for (k = 0; k < c->src.width; k++)
					CheckElementFinite(vec->x[k], "vector");
				return PointerGetDatum(vec);
			}
			if (c->kind == LCONV_HALFVEC)
			{
				HalfVector *vec = InitHalfVector((int) c->src.width);
				uint32		k;

				memcpy(vec->x, p, sizeof(half) * c->src.width);
				for (k = 0; k < c->src.width; k++)
					CheckElementFinite(lance_f16_to_f32(vec->x[k]), "halfvec");
				return PointerGetDatum(vec);
			}
			return fsl_array(c, p);
		case LCONV_JSONB:
			{
				JsonbParseState *st = NULL;

				return JsonbPGetDatum(JsonbValueToJsonb(json_push(&st, WJB_VALUE, c, v, i)));
			}
		default:
			if (v->width == 0 || (i + 1) * v->width > v->values_len)
				bad_vector(c, "value beyond its buffer");
			return scalar_datum(c, v->values + i * v->width);
	}
}
