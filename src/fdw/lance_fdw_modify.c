/*
 * lance_fdw_modify.c
 *	  INSERT and COPY FROM into lance_fdw foreign tables.
 *
 * Rows are converted to the Lance schema as they arrive (types, vector
 * dimensions and non-nullable fields are checked here, with errors naming
 * the column) and buffered per field; every `rows_per_fragment` rows (or
 * LANCE_FLUSH_BYTES of buffered data) become one data file in the dataset's
 * data storage version.  Nothing is visible to other readers until the
 * PostgreSQL transaction commits: at XACT_EVENT_PRE_COMMIT all the data
 * files a transaction wrote to a dataset are committed as one new version
 * (lance_commit_append, which rebases over concurrent commits); on abort,
 * or on the abort of the subtransaction that wrote them, the files are
 * removed, so a rolled-back transaction leaves neither a version nor files.
 *
 * DELETE and UPDATE find rows by the hidden _rowaddr column (fragment id <<
 * 32 | offset, from the version the scan read); the addresses are kept until
 * commit, merged with each fragment's deletion file into a new one, and
 * committed in the same version as any appended rows (UPDATE = delete +
 * append).  A concurrent change to the same fragments is a serialization
 * failure.
 */
#include "postgres.h"

#include <unistd.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "fdw/lance/lance_write.h"
#include "fdw/lance_fdw.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "utils/acl.h"
#include "common/int.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "vector/halfvec.h"
#include "vector/vector.h"

/* buffered bytes that force a fragment out before rows_per_fragment */
#define LANCE_FLUSH_BYTES		(UINT64CONST(256) << 20)
#define LANCE_DEFAULT_ROWS_PER_FRAGMENT	1048576

/* Writer feature flags whose datasets this writer may append to. */
#define LANCE_WRITABLE_FLAGS \
	(LANCE_FLAG_DELETION_FILES | LANCE_FLAG_STABLE_ROW_IDS | \
	 LANCE_FLAG_V2_DEPRECATED | LANCE_FLAG_TABLE_CONFIG)

#define EPOCH_DIFF_DAYS		(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)
#define EPOCH_DIFF_USECS	((int64) EPOCH_DIFF_DAYS * USECS_PER_DAY)

/* ---- files written by the current transaction ---- */

typedef struct PendingFile
{
	char	   *path;			/* absolute, for removal on abort */
	LanceNewFragment frag;
	SubTransactionId subid;
} PendingFile;

/* Row addresses deleted by one statement (DELETE, or UPDATE's old rows). */
typedef struct PendingDeletes
{
	SubTransactionId subid;
	uint64		n;
	uint64	   *addrs;			/* fragment id << 32 | offset */
} PendingDeletes;

typedef struct PendingDataset
{
	char	   *dataset;
	uint64		read_version;
	List	   *files;			/* PendingFile * */
	List	   *deletes;		/* PendingDeletes * */
} PendingDataset;

static List *pending = NIL;		/* PendingDataset *, in TopTransactionContext */
static bool callbacks_registered = false;

static void
remove_files(List *files, SubTransactionId subid)
{
	ListCell   *lc;

	foreach(lc, files)
	{
		PendingFile *f = lfirst(lc);

		if (subid == InvalidSubTransactionId || f->subid == subid)
			(void) unlink(f->path);
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a,
				y = *(const uint64 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* The deletions of a dataset grouped by fragment, duplicates removed. */
static LanceFragmentDeletes *
group_deletes(List *deletes, int *ndels)
{
	uint64		total = 0,
				n = 0,
				i;
	uint64	   *all;
	uint32	   *offs;
	LanceFragmentDeletes *out;
	ListCell   *lc;
	int			k = 0;

	foreach(lc, deletes)
		total += ((PendingDeletes *) lfirst(lc))->n;
	*ndels = 0;
	if (total == 0)
		return NULL;
	all = palloc_extended(sizeof(uint64) * total, MCXT_ALLOC_HUGE);
	foreach(lc, deletes)
	{
		PendingDeletes *pd = lfirst(lc);

		memcpy(all + n, pd->addrs, sizeof(uint64) * pd->n);
		n += pd->n;
	}
	qsort(all, total, sizeof(uint64), cmp_u64);
	offs = palloc_extended(sizeof(uint32) * total, MCXT_ALLOC_HUGE);
	out = palloc0(sizeof(LanceFragmentDeletes) * total);
	n = 0;
	for (i = 0; i < total; i++)
	{
		uint64		frag = all[i] >> 32;

		if (i > 0 && all[i] == all[i - 1])
			continue;
		if (k == 0 || out[k - 1].fragment_id != frag)
		{
			out[k].fragment_id = frag;
			out[k].offsets = offs + n;
			k++;
		}
		offs[n++] = (uint32) all[i];
		out[k - 1].n++;
	}
	*ndels = k;
	return out;
}

static void
lance_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			foreach(lc, pending)
			{
				PendingDataset *d = lfirst(lc);
				LanceNewFragment *frags;
				LanceCommitResult res;
				LanceError	err = {0};
				bool		conflict = false;
				ListCell   *fc;
				int			n = 0;

				LanceFragmentDeletes *dels;
				int			ndels;

				dels = group_deletes(d->deletes, &ndels);
				if (d->files == NIL && ndels == 0)
					continue;
				frags = palloc(sizeof(LanceNewFragment) * Max(list_length(d->files), 1));
				foreach(fc, d->files)
					frags[n++] = ((PendingFile *) lfirst(fc))->frag;
				if (!lance_commit_change(d->dataset, d->read_version, frags, n, dels, ndels,
										 LANCE_WRITER_LIBRARY, LANCE_WRITER_VERSION,
										 &res, &conflict, &err))
				{
					if (conflict)
						ereport(ERROR,
								(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
								 errmsg("could not commit to Lance dataset \"%s\": %s",
										d->dataset, err.msg),
								 errhint("Retry the transaction.")));
					lance_fdw_reader_error(&err, d->dataset);
				}
				/* committed: these files belong to the dataset now */
				d->files = NIL;
				d->deletes = NIL;
			}
			pending = NIL;
			break;
		case XACT_EVENT_PRE_PREPARE:
			foreach(lc, pending)
				if (((PendingDataset *) lfirst(lc))->files != NIL)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot PREPARE a transaction that wrote to a Lance dataset")));
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			foreach(lc, pending)
				remove_files(((PendingDataset *) lfirst(lc))->files, InvalidSubTransactionId);
			pending = NIL;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			pending = NIL;
			break;
		default:
			break;
	}
}

static void
lance_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	foreach(lc, pending)
	{
		PendingDataset *d = lfirst(lc);
		ListCell   *fc;

		if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			List	   *keep = NIL;
			List	   *keepd = NIL;

			foreach(fc, d->deletes)
				if (((PendingDeletes *) lfirst(fc))->subid != mySubid)
					keepd = lappend(keepd, lfirst(fc));
			d->deletes = keepd;

			remove_files(d->files, mySubid);
			foreach(fc, d->files)
				if (((PendingFile *) lfirst(fc))->subid != mySubid)
					keep = lappend(keep, lfirst(fc));
			d->files = keep;
		}
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			foreach(fc, d->files)
				if (((PendingFile *) lfirst(fc))->subid == mySubid)
				((PendingFile *) lfirst(fc))->subid = parentSubid;
			foreach(fc, d->deletes)
				if (((PendingDeletes *) lfirst(fc))->subid == mySubid)
				((PendingDeletes *) lfirst(fc))->subid = parentSubid;
		}
	}
}

static PendingDataset *
pending_dataset(const char *dataset, uint64 read_version)
{
	MemoryContext old;
	PendingDataset *d;
	ListCell   *lc;

	if (!callbacks_registered)
	{
		RegisterXactCallback(lance_xact_callback, NULL);
		RegisterSubXactCallback(lance_subxact_callback, NULL);
		callbacks_registered = true;
	}
	foreach(lc, pending)
	{
		d = lfirst(lc);
		if (strcmp(d->dataset, dataset) == 0)
		{
			/* conflicts are checked from the oldest version the transaction read */
			d->read_version = Min(d->read_version, read_version);
			return d;
		}
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	d = palloc0(sizeof(PendingDataset));
	d->dataset = pstrdup(dataset);
	d->read_version = read_version;
	pending = lappend(pending, d);
	MemoryContextSwitchTo(old);
	return d;
}

/* ---- per-statement state ---- */

typedef struct LanceWriteField
{
	int			attno;			/* 0-based tuple attribute, -1: none (NULL) */
	LanceConv	conv;			/* when attno >= 0 */
	const LanceField *field;
	int			col;			/* its first column buffer */
	int			ncols;			/* one, or a struct's members */
} LanceWriteField;

typedef struct LanceModifyState
{
	Relation	rel;
	char	   *dataset;
	LanceManifest *m;
	uint16		minor;
	int			nfields;
	LanceWriteField *fields;
	int			ncols;
	LanceColBuf *cols;			/* leaves: a struct has one per member */
	int			nextra;			/* table columns with no Lance field */
	int		   *extra;			/* their attnos, which must stay NULL */
	uint64		rows_per_fragment;
	uint64		rows;			/* rows inserted by this statement */
	MemoryContext cxt;			/* buffers */
	MemoryContext rowcxt;		/* per-row conversions */
	/* DELETE / UPDATE */
	CmdType		operation;
	AttrNumber	junkno;			/* the row address in the plan's output */
	uint64		scan_version;	/* the version the addresses come from */
	uint64	   *addrs;
	uint64		naddrs;
	uint64		addrcap;
} LanceModifyState;

#define ROWADDR_JUNK	"lance_rowaddr"

/* Hidden columns of the read path: never written, their values ignored. */
static bool
is_hidden_name(const char *name)
{
	return strcmp(name, "_rowaddr") == 0 || strcmp(name, "_rowid") == 0;
}

/* The Lance name of a column (its column_name option, else its name). */
static const char *
lance_column_name(Relation rel, Form_pg_attribute attr)
{
	List	   *colopts = GetForeignColumnOptions(RelationGetRelid(rel), attr->attnum);
	ListCell   *oc;

	foreach(oc, colopts)
		if (strcmp(((DefElem *) lfirst(oc))->defname, "column_name") == 0)
			return defGetString((DefElem *) lfirst(oc));
	return NameStr(attr->attname);
}

static void
check_write_privilege(Relation rel)
{
	if (!has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to write to Lance dataset of foreign table \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("Only superusers and roles with privileges of the pg_write_server_files role may write Lance datasets.")));
}

static uint64
rows_per_fragment_option(Oid relid)
{
	ForeignTable *table = GetForeignTable(relid);
	ListCell   *lc;

	foreach(lc, table->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "rows_per_fragment") == 0)
			return strtou64(defGetString(def), NULL, 10);
	}
	return LANCE_DEFAULT_ROWS_PER_FRAGMENT;
}

/*
 * State of an INSERT, COPY, UPDATE or DELETE.  A DELETE writes deletion
 * files only, which do not depend on the data storage version or the
 * field types: it needs no column buffers.
 */
static LanceModifyState *
begin_insert(Relation rel, CmdType op)
{
	LanceModifyState *st = palloc0(sizeof(LanceModifyState));
	TupleDesc	desc = RelationGetDescr(rel);
	LanceFdwTarget target;
	LanceManifest *m;
	bool	   *used;
	int			i,
				k;

	check_write_privilege(rel);
	lance_fdw_get_target(RelationGetRelid(rel), &target);
	if (target.version != 0 || target.tag != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("foreign table \"%s\" is pinned to a Lance %s and cannot be written",
						RelationGetRelationName(rel), target.tag ? "tag" : "version"),
				 errhint("Drop the \"version\" or \"tag\" option to write the latest version.")));
	st->cxt = AllocSetContextCreate(CurrentMemoryContext, "lance_fdw insert",
									ALLOCSET_DEFAULT_SIZES);
	st->rowcxt = AllocSetContextCreate(CurrentMemoryContext, "lance_fdw insert row",
									   ALLOCSET_DEFAULT_SIZES);
	st->rel = rel;
	st->dataset = target.dataset;
	m = lance_fdw_load_manifest(&target);
	st->m = m;
	st->rows_per_fragment = rows_per_fragment_option(RelationGetRelid(rel));

	if (strcmp(m->format_version, "2.0") == 0)
		st->minor = 0;
	else if (strcmp(m->format_version, "2.1") == 0)
		st->minor = 1;
	else if (strcmp(m->format_version, "2.2") == 0)
		st->minor = 2;
	else if (op != CMD_DELETE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("writing to Lance datasets of data storage version \"%s\" is not supported",
						m->format_version),
				 errdetail("lance_fdw writes data files of data storage versions 2.0, 2.1 and 2.2; it can delete rows from any version."),
				 errcontext("Lance dataset \"%s\"", st->dataset)));
	if (m->writer_flags & ~LANCE_WRITABLE_FLAGS)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("Lance dataset \"%s\" uses writer features lance_fdw does not implement (flags 0x%llx)",
						st->dataset, (unsigned long long) (m->writer_flags & ~LANCE_WRITABLE_FLAGS))));

	/* every top-level Lance field gets a column buffer */
	used = palloc0(sizeof(bool) * Max(desc->natts, 1));
	st->fields = palloc0(sizeof(LanceWriteField) * Max(m->nfields, 1));
	st->cols = palloc0(sizeof(LanceColBuf) * Max(m->nfields, 1));
	for (i = 0; i < m->nfields && op != CMD_DELETE; i++)
	{
		LanceWriteField *wf;
		LanceError	err = {0};
		MemoryContext old;
		bool		ok;

		if (m->fields[i].parent_id != -1)
			continue;
		wf = &st->fields[st->nfields];
		wf->field = &m->fields[i];
		wf->attno = -1;
		for (k = 0; k < desc->natts; k++)
		{
			Form_pg_attribute attr = TupleDescAttr(desc, k);
			const char *name = NameStr(attr->attname);
			List	   *colopts;
			ListCell   *oc;

			if (attr->attisdropped)
				continue;
			colopts = GetForeignColumnOptions(RelationGetRelid(rel), attr->attnum);
			foreach(oc, colopts)
				if (strcmp(((DefElem *) lfirst(oc))->defname, "column_name") == 0)
					name = defGetString((DefElem *) lfirst(oc));
			if (strcmp(name, m->fields[i].name) == 0)
			{
				wf->attno = k;
				used[k] = true;
				if (!lance_fdw_conv_build(m, i, attr->atttypid, attr->atttypmod,
										  NameStr(attr->attname), &wf->conv))
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
							 errmsg("column \"%s\" of foreign table \"%s\" has type %s, which cannot hold Lance field \"%s\" of type \"%s\"",
									NameStr(attr->attname), RelationGetRelationName(rel),
									format_type_with_typemod(attr->atttypid, attr->atttypmod),
									m->fields[i].name, m->fields[i].logical_type)));
				break;
			}
		}
		old = MemoryContextSwitchTo(st->cxt);
		wf->col = st->ncols;
		wf->ncols = lance_colbuf_init_field(&st->cols[st->ncols], m, i, &err);
		ok = wf->ncols > 0;
		MemoryContextSwitchTo(old);
		if (ok && m->fields[i].type.kind == LANCE_T_STRUCT && wf->attno >= 0 &&
			wf->conv.kind != LCONV_JSONB)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("writing Lance struct field \"%s\" from a column of type %s is not supported",
							m->fields[i].name,
							format_type_be(TupleDescAttr(desc, wf->attno)->atttypid)),
					 errhint("Declare the column as jsonb.")));
		if (ok && st->cols[st->ncols].nlayers > 0 && st->cols[st->ncols].repeated &&
			wf->attno >= 0 && wf->conv.kind != LCONV_ARRAY && wf->conv.kind != LCONV_JSONB)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("writing Lance list field \"%s\" from a column of type %s is not supported yet",
							m->fields[i].name,
							format_type_be(TupleDescAttr(desc, wf->attno)->atttypid)),
					 errhint("Declare the column as an array or as jsonb.")));
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot write to Lance dataset \"%s\": %s", st->dataset, err.msg)));
		st->ncols += wf->ncols;
		st->nfields++;
	}
	st->extra = palloc0(sizeof(int) * Max(desc->natts, 1));
	for (k = 0; k < desc->natts; k++)
		if (!used[k] && !TupleDescAttr(desc, k)->attisdropped &&
			!is_hidden_name(lance_column_name(rel, TupleDescAttr(desc, k))))
			st->extra[st->nextra++] = k;
	return st;
}

/* ---- datum conversion ---- */

static pg_attribute_noreturn() void
out_of_range(const LanceWriteField *wf)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value for column \"%s\" is out of range for Lance type \"%s\"",
					wf->conv.colname, wf->field->logical_type)));
}

/* An integer datum of SQL type typid as int64. */
static int64
datum_int64(Datum d, Oid typid)
{
	switch (typid)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return DatumGetInt64(d);
		case NUMERICOID:
			return DatumGetInt64(DirectFunctionCall1(numeric_int8, d));
		case FLOAT4OID:
		case FLOAT8OID:
		default:
			elog(ERROR, "lance_fdw: unexpected integer type %u", typid);
	}
	return 0;
}

/* Stores an integer of Lance kind `kind` at out; false if out of range. */
static bool
put_int(LanceTypeKind kind, int64 v, uint8 *out, bool is_u64_source)
{
	switch (kind)
	{
		case LANCE_T_INT8:
			if (v < PG_INT8_MIN || v > PG_INT8_MAX)
				return false;
			out[0] = (uint8) (int8) v;
			return true;
		case LANCE_T_UINT8:
			if (v < 0 || v > PG_UINT8_MAX)
				return false;
			out[0] = (uint8) v;
			return true;
		case LANCE_T_INT16:
			if (v < PG_INT16_MIN || v > PG_INT16_MAX)
				return false;
			*(int16 *) out = (int16) v;
			return true;
		case LANCE_T_UINT16:
			if (v < 0 || v > PG_UINT16_MAX)
				return false;
			*(uint16 *) out = (uint16) v;
			return true;
		case LANCE_T_INT32:
			if (v < PG_INT32_MIN || v > PG_INT32_MAX)
				return false;
			*(int32 *) out = (int32) v;
			return true;
		case LANCE_T_UINT32:
			if (v < 0 || v > (int64) PG_UINT32_MAX)
				return false;
			*(uint32 *) out = (uint32) v;
			return true;
		case LANCE_T_INT64:
			memcpy(out, &v, 8);
			return true;
		case LANCE_T_UINT64:
			if (v < 0)
				return false;
			memcpy(out, &v, 8);
			return true;
		default:
			return false;
	}
}

/* A float or double datum into Lance kind (half/float/double) at out. */
static void
put_float(LanceTypeKind kind, double d, uint8 *out)
{
	if (kind == LANCE_T_DOUBLE)
		memcpy(out, &d, 8);
	else if (kind == LANCE_T_FLOAT)
	{
		float		f = (float) d;

		memcpy(out, &f, 4);
	}
	else
	{
		uint16		h = lance_f32_to_f16((float) d);

		memcpy(out, &h, 2);
	}
}

static double
datum_double(Datum d, Oid typid)
{
	if (typid == FLOAT4OID)
		return DatumGetFloat4(d);
	if (typid == FLOAT8OID)
		return DatumGetFloat8(d);
	return (double) datum_int64(d, typid);
}

/* A fixed_size_list from an SQL array: exactly `dim` non-null elements. */
static void
array_to_fsl(const LanceWriteField *wf, Datum d, uint8 *out)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	const LanceType *t = &wf->field->type;
	uint32		ew = lance_type_fixed_width(t->elem);
	Oid			et = ARR_ELEMTYPE(arr);
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;

	get_typlenbyvalalign(et, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(arr, et, elmlen, elmbyval, elmalign, &elems, &nulls, &n);
	if ((uint32) n != t->width)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %u elements for column \"%s\" (Lance type \"%s\"), not %d",
						t->width, wf->conv.colname, wf->field->logical_type, n)));
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("array for column \"%s\" must not contain NULLs", wf->conv.colname)));
		if (t->elem == LANCE_T_HALF || t->elem == LANCE_T_FLOAT || t->elem == LANCE_T_DOUBLE)
			put_float(t->elem, datum_double(elems[i], et), out + (size_t) i * ew);
		else if (et == FLOAT4OID || et == FLOAT8OID ||
				 !put_int(t->elem, datum_int64(elems[i], et), out + (size_t) i * ew, false))
			out_of_range(wf);
	}
}

/*
 * A numeric as a decimal128 of the field's precision and scale: rounded to
 * the scale (as a numeric(p, s) column would), then its digits as a scaled
 * two's complement integer; more than `precision` digits is out of range.
 */
static void
numeric_to_decimal128(const LanceWriteField *wf, Datum d, uint8 *out)
{
	const LanceType *t = &wf->field->type;
	char	   *str;
	const char *q;
	bool		neg = false;
	int			digits = 0;
	int			frac = -1;
	unsigned __int128 v = 0;
	__int128	sv;

	if (t->kind != LANCE_T_DECIMAL128 || t->scale < 0 || t->scale > 38 ||
		t->precision < 1 || t->precision > 38)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("writing Lance type \"%s\" (column \"%s\") is not supported yet",
						wf->field->logical_type, wf->conv.colname)));
	if (numeric_is_nan(DatumGetNumeric(d)) || numeric_is_inf(DatumGetNumeric(d)))
		out_of_range(wf);
	d = DirectFunctionCall2(numeric_round, d, Int32GetDatum(t->scale));
	str = DatumGetCString(DirectFunctionCall1(numeric_out, d));
	q = str;
	if (*q == '-')
	{
		neg = true;
		q++;
	}
	for (; *q; q++)
	{
		if (*q == '.')
		{
			frac = 0;
			continue;
		}
		if (*q < '0' || *q > '9')
			out_of_range(wf);
		if (frac >= 0)
			frac++;
		v = v * 10 + (unsigned) (*q - '0');
		if (v > 0)
			digits++;
		if (digits > 38)
			out_of_range(wf);
	}
	for (frac = frac < 0 ? 0 : frac; frac < t->scale; frac++)
	{
		v *= 10;
		if (v > 0)
			digits++;
	}
	if (digits > t->precision)
		out_of_range(wf);
	sv = neg ? -(__int128) v : (__int128) v;
	memcpy(out, &sv, 16);
	pfree(str);
}

/*
 * Converts one non-null datum of field wf to the bytes the Lance column
 * stores: *p and *len (fixed holds up to 16 bytes; larger values palloc).
 */
static void
convert_value(const LanceWriteField *wf, uint32 width, Datum d, uint8 *fixed,
			  const void **pp, uint64 *lenp)
{
	const LanceConv *c = &wf->conv;
	const LanceType *t = &wf->field->type;
	const void *p = fixed;
	uint64		len = width;

	switch (c->kind)
	{
		case LCONV_INT:
			if (!put_int(t->kind, datum_int64(d, c->typid), fixed, false))
				out_of_range(wf);
			break;
		case LCONV_FLOAT:
			put_float(t->kind, datum_double(d, c->typid), fixed);
			break;
		case LCONV_BOOL:
			fixed[0] = DatumGetBool(d) ? 1 : 0;
			break;
		case LCONV_TEXT:
		case LCONV_BYTEA:
			{
				struct varlena *v = PG_DETOAST_DATUM_PACKED(d);

				p = VARDATA_ANY(v);
				len = VARSIZE_ANY_EXHDR(v);
				if (t->kind == LANCE_T_FIXED_BINARY && len != t->width)
					ereport(ERROR,
							(errcode(ERRCODE_STRING_DATA_LENGTH_MISMATCH),
							 errmsg("value for column \"%s\" must have exactly %u bytes (Lance type \"%s\")",
									c->colname, t->width, wf->field->logical_type)));
				break;
			}
		case LCONV_VECTOR:
			{
				Vector	   *v = DatumGetVector(d);

				if ((uint32) v->dim != t->width)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_EXCEPTION),
							 errmsg("expected %u dimensions for column \"%s\", not %d",
									t->width, c->colname, v->dim)));
				p = v->x;
				break;
			}
		case LCONV_HALFVEC:
			{
				HalfVector *v = DatumGetHalfVector(d);

				if ((uint32) v->dim != t->width)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_EXCEPTION),
							 errmsg("expected %u dimensions for column \"%s\", not %d",
									t->width, c->colname, v->dim)));
				p = v->x;
				break;
			}
		case LCONV_ARRAY:
			if (t->kind != LANCE_T_FSL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("writing Lance type \"%s\" (column \"%s\") is not supported yet",
								wf->field->logical_type, c->colname)));
			p = palloc(width);
			array_to_fsl(wf, d, (uint8 *) p);
			break;
		case LCONV_NUMERIC:
			numeric_to_decimal128(wf, d, fixed);
			break;
		case LCONV_TIMESTAMP:
			{
				int64		us;
				int64		v;
				bool		overflow = false;

				if (TIMESTAMP_NOT_FINITE(DatumGetTimestamp(d)) ||
					pg_add_s64_overflow(DatumGetTimestamp(d), EPOCH_DIFF_USECS, &us))
					out_of_range(wf);
				switch (t->unit)
				{
					case 0:
						v = us / USECS_PER_SEC - ((us % USECS_PER_SEC) < 0 ? 1 : 0);
						break;
					case 1:
						v = us / 1000 - ((us % 1000) < 0 ? 1 : 0);
						break;
					case 3:
						overflow = pg_mul_s64_overflow(us, 1000, &v);
						break;
					default:
						v = us;
						break;
				}
				if (overflow)
					out_of_range(wf);
				memcpy(fixed, &v, 8);
				break;
			}
		case LCONV_DATE:
			{
				DateADT		dd = DatumGetDateADT(d);
				int64		days;

				if (DATE_NOT_FINITE(dd))
					out_of_range(wf);
				days = (int64) dd + EPOCH_DIFF_DAYS;
				if (t->kind == LANCE_T_DATE32)
				{
					int32		d32 = (int32) days;

					memcpy(fixed, &d32, 4);
				}
				else
				{
					int64		ms = days * INT64CONST(86400000);

					memcpy(fixed, &ms, 8);
				}
				break;
			}
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("writing Lance type \"%s\" (column \"%s\") is not supported yet",
							wf->field->logical_type, c->colname)));
	}
	*pp = p;
	*lenp = len;
}

/* An SQL array into a Lance list: its items (NULLs allowed), in order. */
static void
push_list(LanceModifyState *st, const LanceWriteField *wf, LanceColBuf *col, Datum d)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	LanceWriteField iw;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;
	LanceError	err = {0};
	MemoryContext old;
	bool		ok = true;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("array for column \"%s\" (Lance type \"%s\") must have one dimension",
						wf->conv.colname, wf->field->logical_type)));
	iw.attno = wf->attno;
	iw.conv = *wf->conv.elem;
	iw.field = &st->m->fields[col->field];
	deconstruct_array(arr, ARR_ELEMTYPE(arr), wf->conv.elmlen, wf->conv.elmbyval,
					  wf->conv.elmalign, &elems, &nulls, &n);
	if (n == 0)
	{
		old = MemoryContextSwitchTo(st->cxt);
		ok = lance_colbuf_list_row(col, false, &err);
		MemoryContextSwitchTo(old);
	}
	for (i = 0; ok && i < n; i++)
	{
		uint8		fixed[16];
		const void *p = NULL;
		uint64		len = 0;

		if (nulls[i] && !iw.field->nullable)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("array for column \"%s\" must not contain NULLs (Lance field \"%s\" has non-nullable items)",
							wf->conv.colname, wf->field->name)));
		if (!nulls[i])
			convert_value(&iw, col->width, elems[i], fixed, &p, &len);
		old = MemoryContextSwitchTo(st->cxt);
		ok = lance_colbuf_list_item(col, i == 0, p, len, nulls[i], &err);
		MemoryContextSwitchTo(old);
	}
	if (!ok)
		lance_fdw_reader_error(&err, st->dataset);
}

static pg_attribute_noreturn() void
bad_member(const LanceWriteField *wf, const char *member, const char *what)
{
	/* what: "the struct has no member", "wrong JSON type for member", ... */
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("value for column \"%s\" (Lance field \"%s\"): %s \"%s\"",
					wf->conv.colname, wf->field->name, what, member)));
}

/*
 * A JSON value (not null) of a struct member or list item, as the datum
 * convert_value takes for iw (whose conv.typid it may change): values as
 * the read path prints them.
 */
static Datum
json_value(LanceWriteField *iw, const LanceWriteField *wf, const char *what, const char *name,
		   JsonbValue *v)
{
	LanceConvKind kind = iw->conv.kind;

	if (v->type == jbvNumeric && kind == LCONV_INT)
	{
		Datum		i8 = DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric));

		if (!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(v->val.numeric),
											  NumericGetDatum(int64_to_numeric(DatumGetInt64(i8))))))
			bad_member(wf, name, psprintf("not an integer for %s", what));
		iw->conv.typid = INT8OID;
		return i8;
	}
	if (v->type == jbvNumeric && kind == LCONV_FLOAT)
	{
		iw->conv.typid = FLOAT8OID;
		return DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric));
	}
	if (v->type == jbvNumeric && kind == LCONV_NUMERIC)
		return NumericGetDatum(v->val.numeric);
	if (v->type == jbvBool && kind == LCONV_BOOL)
		return BoolGetDatum(v->val.boolean);
	if (v->type == jbvString && kind == LCONV_TEXT)
		return PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
	if ((v->type == jbvString && kind != LCONV_INT && kind != LCONV_BOOL && kind != LCONV_ARRAY) ||
		(v->type == jbvBinary && (kind == LCONV_VECTOR || kind == LCONV_HALFVEC)))
	{
		/* hex bytea, ISO dates, "NaN", vectors as [x, y] (or their text) */
		char	   *text = v->type == jbvString
			? pnstrdup(v->val.string.val, v->val.string.len)
			: JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
		Oid			in,
					ioparam;

		getTypeInputInfo(iw->conv.typid, &in, &ioparam);
		return OidInputFunctionCall(in, text, ioparam, iw->conv.typmod);
	}
	bad_member(wf, name, psprintf("wrong JSON type for %s", what));
}

/* A list field declared jsonb: a JSON array (JSON null: a NULL list). */
static void
push_list_json(LanceModifyState *st, const LanceWriteField *wf, LanceColBuf *col, Datum d)
{
	Jsonb	   *jb = DatumGetJsonbP(d);
	LanceWriteField iw;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	uint64		n = 0;
	LanceError	err = {0};
	MemoryContext old;
	bool		ok = true;

	if (JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &v) && v.type == jbvNull)
	{
		old = MemoryContextSwitchTo(st->cxt);
		ok = lance_colbuf_list_row(col, true, &err);
		MemoryContextSwitchTo(old);
		if (!ok)
			lance_fdw_reader_error(&err, st->dataset);
		return;
	}
	if (JB_ROOT_IS_SCALAR(jb) || !JB_ROOT_IS_ARRAY(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value for column \"%s\" (Lance list \"%s\") must be a JSON array",
						wf->conv.colname, wf->field->name)));
	iw.attno = wf->attno;
	iw.field = &st->m->fields[col->field];
	iw.col = wf->col;
	iw.ncols = 1;
	it = JsonbIteratorInit(&jb->root);
	while (ok && (tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		uint8		fixed[16];
		const void *p = NULL;
		uint64		len = 0;
		bool		isnull = v.type == jbvNull;

		if (tok != WJB_ELEM)
			continue;
		if (isnull && !iw.field->nullable)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("JSON array for column \"%s\" must not contain nulls (Lance field \"%s\" has non-nullable items)",
							wf->conv.colname, wf->field->name)));
		if (!isnull)
		{
			Datum		item;

			iw.conv = *wf->conv.elem;
			item = json_value(&iw, wf, "item of", wf->field->name, &v);
			convert_value(&iw, col->width, item, fixed, &p, &len);
		}
		old = MemoryContextSwitchTo(st->cxt);
		ok = lance_colbuf_list_item(col, n == 0, p, len, isnull, &err);
		MemoryContextSwitchTo(old);
		n++;
	}
	if (ok && n == 0)
	{
		old = MemoryContextSwitchTo(st->cxt);
		ok = lance_colbuf_list_row(col, false, &err);
		MemoryContextSwitchTo(old);
	}
	if (!ok)
		lance_fdw_reader_error(&err, st->dataset);
}

/*
 * Member k (struct conversion sc) of struct object obj, converted for
 * column col into *p and *len (fixed holds up to 16 bytes); false if NULL.  Every
 * key of obj must name a member (checked with k = 0): nothing is silently
 * dropped.
 */
static bool
struct_member(LanceModifyState *st, const LanceWriteField *wf, const LanceConv *sc, int k,
			  LanceColBuf *col, JsonbContainer *obj, uint8 *fixed, const void **p, uint64 *len)
{
	LanceWriteField iw;
	JsonbValue *v;

	if (k == 0)
	{
		JsonbIterator *it = JsonbIteratorInit(obj);
		JsonbValue	kv;
		JsonbIteratorToken tok;
		int			j;

		while ((tok = JsonbIteratorNext(&it, &kv, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				char	   *key = pnstrdup(kv.val.string.val, kv.val.string.len);

				for (j = 0; j < sc->nchildren; j++)
					if (strcmp(sc->names[j], key) == 0)
						break;
				if (j == sc->nchildren)
					bad_member(wf, key, "the struct has no member");
			}
		}
	}
	iw.attno = wf->attno;
	iw.field = &st->m->fields[col->field];
	iw.col = wf->col + k;
	iw.ncols = 1;
	iw.conv = sc->children[k];
	v = getKeyJsonValueFromContainer(obj, sc->names[k], strlen(sc->names[k]), NULL);
	if (v == NULL || v->type == jbvNull)
	{
		if (!iw.field->nullable)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value for non-nullable member \"%s\" of Lance field \"%s\"",
							iw.field->name, wf->field->name)));
		*p = NULL;
		*len = 0;
		return false;
	}
	convert_value(&iw, col->width, json_value(&iw, wf, "member", sc->names[k], v), fixed, p, len);
	return true;
}

/*
 * Appends a row of a struct field to its members' buffers (NULL: all NULL;
 * without a column for the field, wf->conv is not built and obj is NULL).
 */
static void
push_struct_row(LanceModifyState *st, const LanceWriteField *wf, JsonbContainer *obj)
{
	int			k;

	for (k = 0; k < wf->ncols; k++)
	{
		LanceColBuf *col = &st->cols[wf->col + k];
		uint8		fixed[16];
		const void *p = NULL;
		uint64		len = 0;
		bool		valid = false;
		LanceError	err = {0};
		MemoryContext old;
		bool		ok;

		if (obj != NULL)
			valid = struct_member(st, wf, &wf->conv, k, col, obj, fixed, &p, &len);
		old = MemoryContextSwitchTo(st->cxt);
		ok = lance_colbuf_struct_push(col, obj == NULL, p, len, !valid, &err);
		MemoryContextSwitchTo(old);
		if (!ok)
			lance_fdw_reader_error(&err, st->dataset);
	}
}

static pg_attribute_noreturn() void
bad_item(const LanceWriteField *wf)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("items of column \"%s\" (Lance list \"%s\" of structs) must be JSON objects",
					wf->conv.colname, wf->field->name)));
}

/* The JSON object of a struct item (NULL for JSON null). */
static JsonbContainer *
struct_item(const LanceWriteField *wf, JsonbValue *v)
{
	if (v->type == jbvNull)
		return NULL;
	if (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
		return v->val.binary.data;
	bad_item(wf);
}

/*
 * A list of structs from jsonb[] (one object per item) or jsonb (an array
 * of objects): per member column, each item's member (a NULL item: NULL
 * struct), or the row's NULL or empty list.
 */
static void
push_list_struct(LanceModifyState *st, const LanceWriteField *wf, Datum d)
{
	const LanceConv *sc = wf->conv.elem;
	JsonbContainer **items = NULL;
	int			n = 0,
				j,
				k;
	bool		listnull = false;

	if (wf->conv.kind == LCONV_ARRAY)
	{
		ArrayType  *arr = DatumGetArrayTypeP(d);
		Datum	   *elems;
		bool	   *nulls;

		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("array for column \"%s\" (Lance type \"%s\") must have one dimension",
							wf->conv.colname, wf->field->logical_type)));
		deconstruct_array(arr, ARR_ELEMTYPE(arr), wf->conv.elmlen, wf->conv.elmbyval,
						  wf->conv.elmalign, &elems, &nulls, &n);
		items = palloc0(sizeof(JsonbContainer *) * Max(n, 1));
		for (j = 0; j < n; j++)
		{
			Jsonb	   *jb;
			JsonbValue	v;

			if (nulls[j])
				continue;
			jb = DatumGetJsonbP(elems[j]);
			if (JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &v) && v.type == jbvNull)
				continue;
			if (!JB_ROOT_IS_OBJECT(jb))
				bad_item(wf);
			items[j] = &jb->root;
		}
	}
	else
	{
		Jsonb	   *jb = DatumGetJsonbP(d);
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;

		if (JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &v) && v.type == jbvNull)
			listnull = true;
		else if (JB_ROOT_IS_SCALAR(jb) || !JB_ROOT_IS_ARRAY(jb))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("value for column \"%s\" (Lance list \"%s\") must be a JSON array",
							wf->conv.colname, wf->field->name)));
		else
		{
			items = palloc0(sizeof(JsonbContainer *) * Max(JsonContainerSize(&jb->root), 1));
			it = JsonbIteratorInit(&jb->root);
			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
				if (tok == WJB_ELEM)
					items[n++] = struct_item(wf, &v);
		}
	}
	for (k = 0; k < wf->ncols; k++)
	{
		LanceColBuf *col = &st->cols[wf->col + k];
		LanceError	err = {0};
		MemoryContext old;
		bool		ok = true;

		if (listnull || n == 0)
		{
			old = MemoryContextSwitchTo(st->cxt);
			ok = lance_colbuf_list_row(col, listnull, &err);
			MemoryContextSwitchTo(old);
		}
		for (j = 0; ok && j < n; j++)
		{
			uint8		fixed[16];
			const void *p = NULL;
			uint64		len = 0;
			bool		valid = false;

			if (items[j] != NULL)
				valid = struct_member(st, wf, sc, k, col, items[j], fixed, &p, &len);
			old = MemoryContextSwitchTo(st->cxt);
			ok = lance_colbuf_list_member(col, j == 0, items[j] == NULL, p, len, !valid, &err);
			MemoryContextSwitchTo(old);
		}
		if (!ok)
			lance_fdw_reader_error(&err, st->dataset);
	}
}

/* A jsonb object into a struct's members (JSON null: a NULL struct). */
static void
push_struct(LanceModifyState *st, const LanceWriteField *wf, Datum d)
{
	Jsonb	   *jb = DatumGetJsonbP(d);

	if (JB_ROOT_IS_SCALAR(jb))
	{
		JsonbValue	v;

		if (JsonbExtractScalar(&jb->root, &v) && v.type == jbvNull)
		{
			push_struct_row(st, wf, NULL);
			return;
		}
	}
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value for column \"%s\" (Lance struct \"%s\") must be a JSON object",
						wf->conv.colname, wf->field->name)));
	push_struct_row(st, wf, &jb->root);
}

/* Converts one non-null datum of field wf and appends it to col. */
static void
push_datum(LanceModifyState *st, const LanceWriteField *wf, LanceColBuf *col, Datum d)
{
	uint8		fixed[16];
	const void *p;
	uint64		len;
	LanceError	err = {0};
	MemoryContext old;
	bool		ok;

	if (wf->field->type.kind == LANCE_T_STRUCT)
	{
		push_struct(st, wf, d);
		return;
	}
	if (col->nlayers == 3)
	{
		push_list_struct(st, wf, d);
		return;
	}
	if (col->nlayers > 0)
	{
		if (wf->conv.kind == LCONV_JSONB)
			push_list_json(st, wf, col, d);
		else
			push_list(st, wf, col, d);
		return;
	}
	convert_value(wf, col->width, d, fixed, &p, &len);
	old = MemoryContextSwitchTo(st->cxt);
	ok = lance_colbuf_push(col, p, len, false, &err);
	MemoryContextSwitchTo(old);
	if (!ok)
		lance_fdw_reader_error(&err, st->dataset);
}

/* Writes the buffered rows as one data file and records it for commit. */
static void
flush_fragment(LanceModifyState *st)
{
	PendingDataset *d;
	PendingFile *pf;
	MemoryContext old;
	char		hex[33];
	char	   *name;
	uint64		size = 0;
	LanceError	err = {0};
	bool		ok;
	int			i;

	if (st->ncols == 0 || lance_colbuf_rows(&st->cols[0]) == 0)
		return;
	d = pending_dataset(st->dataset, st->m->version);
	lance_random_hex(hex, 16);
	old = MemoryContextSwitchTo(TopTransactionContext);
	name = psprintf("%s.lance", hex);
	pf = palloc0(sizeof(PendingFile));
	pf->path = psprintf("%s/data/%s", st->dataset, name);
	pf->subid = GetCurrentSubTransactionId();
	pf->frag.file = name;
	pf->frag.nrows = lance_colbuf_rows(&st->cols[0]);
	if (st->minor == 0)
	{
		/* 2.0: a column per field, list and struct parents included */
		pf->frag.field_ids = palloc(sizeof(int32) * Max(st->m->nfields, 1));
		pf->frag.nfields = lance_file20_field_ids(st->m, st->cols, st->ncols,
												  pf->frag.field_ids);
	}
	else
	{
		pf->frag.nfields = st->ncols;
		pf->frag.field_ids = palloc(sizeof(int32) * st->ncols);
		for (i = 0; i < st->ncols; i++)
			pf->frag.field_ids[i] = st->m->fields[st->cols[i].field].id;
	}
	pf->frag.major = 2;
	pf->frag.minor = st->minor;
	/* recorded before the file exists, so an error below still removes it */
	d->files = lappend(d->files, pf);
	MemoryContextSwitchTo(st->rowcxt);
	ok = lance_write_data_file(pf->path, st->m, st->cols, st->ncols, 2, st->minor, &size, &err);
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->rowcxt);
	if (!ok)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write Lance data file: %s", err.msg),
				 errcontext("Lance dataset \"%s\"", st->dataset)));
	pf->frag.size_bytes = size;
	for (i = 0; i < st->ncols; i++)
		lance_colbuf_reset(&st->cols[i]);
}

static void
insert_row(LanceModifyState *st, TupleTableSlot *slot)
{
	uint64		buffered = 0;
	MemoryContext old;
	int			i;

	slot_getallattrs(slot);
	for (i = 0; i < st->nextra; i++)
		if (!slot->tts_isnull[st->extra[i]])
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of foreign table \"%s\" is not a field of the Lance dataset and can only be NULL",
							NameStr(TupleDescAttr(slot->tts_tupleDescriptor, st->extra[i])->attname),
							RelationGetRelationName(st->rel))));
	old = MemoryContextSwitchTo(st->rowcxt);
	for (i = 0; i < st->nfields; i++)
	{
		LanceWriteField *wf = &st->fields[i];
		bool		isnull = wf->attno < 0 || slot->tts_isnull[wf->attno];
		int			k;

		if (isnull)
		{
			LanceError	err = {0};
			bool		ok;

			if (!wf->field->nullable)
				ereport(ERROR,
						(errcode(ERRCODE_NOT_NULL_VIOLATION),
						 errmsg("null value for non-nullable Lance field \"%s\" of foreign table \"%s\"",
								wf->field->name, RelationGetRelationName(st->rel))));
			if (wf->field->type.kind == LANCE_T_STRUCT)
				push_struct_row(st, wf, NULL);
			else
			{
				MemoryContextSwitchTo(st->cxt);
				ok = true;
				for (k = 0; k < wf->ncols && ok; k++)
				{
					if (st->cols[wf->col + k].nlayers > 0)
						ok = lance_colbuf_list_row(&st->cols[wf->col + k], true, &err);
					else
						ok = lance_colbuf_push(&st->cols[wf->col + k], NULL, 0, true, &err);
				}
				MemoryContextSwitchTo(st->rowcxt);
				if (!ok)
					lance_fdw_reader_error(&err, st->dataset);
			}
		}
		else
			push_datum(st, wf, &st->cols[wf->col], slot->tts_values[wf->attno]);
		for (k = 0; k < wf->ncols; k++)
			buffered += st->cols[wf->col + k].data.len;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->rowcxt);
	st->rows++;
	if (lance_colbuf_rows(&st->cols[0]) >= st->rows_per_fragment || buffered >= LANCE_FLUSH_BYTES)
		flush_fragment(st);
}

/* ---- FDW callbacks ---- */

static int
lanceIsForeignRelUpdatable(Relation rel)
{
	return (1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE);
}

/* DELETE and UPDATE identify rows by the hidden _rowaddr column. */
static void
lanceAddForeignUpdateTargets(PlannerInfo *root, Index rtindex, RangeTblEntry *target_rte,
							 Relation target_relation)
{
	TupleDesc	desc = RelationGetDescr(target_relation);
	int			k;

	for (k = 0; k < desc->natts; k++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, k);

		if (!attr->attisdropped &&
			strcmp(lance_column_name(target_relation, attr), "_rowaddr") == 0 &&
			attr->atttypid == INT8OID)
		{
			Var		   *var = makeVar(rtindex, attr->attnum, INT8OID, -1, InvalidOid, 0);

			add_row_identity_var(root, var, rtindex, ROWADDR_JUNK);
			return;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("UPDATE and DELETE on foreign table \"%s\" need a column \"_rowaddr\" of type bigint",
					RelationGetRelationName(target_relation)),
			 errhint("Add it with ALTER FOREIGN TABLE ... ADD COLUMN _rowaddr bigint; it reads Lance's row addresses.")));
}

static List *
lancePlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					   int subplan_index)
{
	if (plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("INSERT with ON CONFLICT is not supported by lance_fdw")));
	return NIL;
}

static void
lanceBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo, List *fdw_private,
						int subplan_index, int eflags)
{
	LanceModifyState *st;
	CmdType		op = mtstate->operation;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	st = begin_insert(rinfo->ri_RelationDesc, op);
	st->operation = op;
	if (op == CMD_UPDATE || op == CMD_DELETE)
	{
		Plan	   *subplan = outerPlanState(mtstate)->plan;

		st->junkno = ExecFindJunkAttributeInTlist(subplan->targetlist, ROWADDR_JUNK);
		if (!AttributeNumberIsValid(st->junkno))
			elog(ERROR, "lance_fdw: row address junk column not found");
		/* an UPDATE rewrites whole rows: every Lance field needs a column */
		if (op == CMD_UPDATE)
		{
			int			i;

			for (i = 0; i < st->nfields; i++)
				if (st->fields[i].attno < 0)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("UPDATE of foreign table \"%s\" needs a column for every Lance field, and \"%s\" has none",
									RelationGetRelationName(rinfo->ri_RelationDesc),
									st->fields[i].field->name),
							 errdetail("An update rewrites whole rows; the missing fields would become NULL.")));
		}
		st->scan_version = lance_fdw_scan_version(outerPlanState(mtstate),
												  RelationGetRelid(rinfo->ri_RelationDesc));
		if (st->scan_version == 0)
			st->scan_version = st->m->version;
	}
	rinfo->ri_FdwState = st;
}

/* Records the row address of the plan's current row for deletion. */
static void
record_delete(LanceModifyState *st, TupleTableSlot *planSlot)
{
	bool		isnull;
	Datum		d = ExecGetJunkAttribute(planSlot, st->junkno, &isnull);

	if (isnull)
		elog(ERROR, "lance_fdw: row address is NULL");
	if (st->naddrs == st->addrcap)
	{
		st->addrcap = st->addrcap ? st->addrcap * 2 : 1024;
		st->addrs = st->addrs
			? repalloc_huge(st->addrs, sizeof(uint64) * st->addrcap)
			: MemoryContextAllocHuge(st->cxt, sizeof(uint64) * st->addrcap);
	}
	st->addrs[st->naddrs++] = (uint64) DatumGetInt64(d);
}

static TupleTableSlot *
lanceExecForeignDelete(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					   TupleTableSlot *planSlot)
{
	record_delete((LanceModifyState *) rinfo->ri_FdwState, planSlot);
	return slot;
}

/* UPDATE = the old row deleted + the new row appended, in one version. */
static TupleTableSlot *
lanceExecForeignUpdate(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					   TupleTableSlot *planSlot)
{
	LanceModifyState *st = rinfo->ri_FdwState;

	record_delete(st, planSlot);
	insert_row(st, slot);
	return slot;
}

/* Hands the statement's deletions to the transaction. */
static void
flush_deletes(LanceModifyState *st)
{
	PendingDataset *d;
	PendingDeletes *pd;
	MemoryContext old;

	if (st->naddrs == 0)
		return;
	d = pending_dataset(st->dataset, st->scan_version);
	old = MemoryContextSwitchTo(TopTransactionContext);
	pd = palloc0(sizeof(PendingDeletes));
	pd->subid = GetCurrentSubTransactionId();
	pd->n = st->naddrs;
	pd->addrs = MemoryContextAllocHuge(TopTransactionContext, sizeof(uint64) * st->naddrs);
	memcpy(pd->addrs, st->addrs, sizeof(uint64) * st->naddrs);
	d->deletes = lappend(d->deletes, pd);
	MemoryContextSwitchTo(old);
}

static TupleTableSlot *
lanceExecForeignInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					   TupleTableSlot *planSlot)
{
	insert_row((LanceModifyState *) rinfo->ri_FdwState, slot);
	return slot;
}

static void
lanceEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	LanceModifyState *st = rinfo->ri_FdwState;

	if (st == NULL)
		return;
	flush_fragment(st);
	flush_deletes(st);
	MemoryContextDelete(st->cxt);
	MemoryContextDelete(st->rowcxt);
	rinfo->ri_FdwState = NULL;
}

static void
lanceBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	rinfo->ri_FdwState = begin_insert(rinfo->ri_RelationDesc, CMD_INSERT);
}

void
lance_fdw_modify_routine(FdwRoutine *routine)
{
	routine->IsForeignRelUpdatable = lanceIsForeignRelUpdatable;
	routine->AddForeignUpdateTargets = lanceAddForeignUpdateTargets;
	routine->ExecForeignUpdate = lanceExecForeignUpdate;
	routine->ExecForeignDelete = lanceExecForeignDelete;
	routine->PlanForeignModify = lancePlanForeignModify;
	routine->BeginForeignModify = lanceBeginForeignModify;
	routine->ExecForeignInsert = lanceExecForeignInsert;
	routine->EndForeignModify = lanceEndForeignModify;
	routine->BeginForeignInsert = lanceBeginForeignInsert;
	routine->EndForeignInsert = lanceEndForeignModify;
}
