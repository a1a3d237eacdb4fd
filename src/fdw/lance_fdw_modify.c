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
#include "optimizer/optimizer.h"
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
	AttrNumber *ret_junk;		/* DELETE RETURNING: per column, its value in
								 * the plan's output (0: not fetched) */
	uint64		scan_version;	/* the version the addresses come from */
	uint64	   *addrs;
	uint64		naddrs;
	uint64		addrcap;
} LanceModifyState;

#define ROWADDR_JUNK	"lance_rowaddr"
#define RETURNING_JUNK	"lance_ret_%d"

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
	if (st->minor == 0 && op != CMD_DELETE)
	{
		LanceError	err = {0};

		if (!lance_write20_supports(m, st->cols, st->ncols, &err))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot write to Lance dataset \"%s\": %s", st->dataset, err.msg),
					 errdetail("The dataset has data storage version 2.0; lance_fdw writes these fields to 2.1 and 2.2 datasets.")));
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
 * A numeric as a decimal128 or decimal256 of the field's precision and
 * scale: rounded to the scale (as a numeric(p, s) column would), then its
 * digits as a scaled two's complement integer (little-endian 64-bit limbs);
 * more than `precision` digits is out of range, and so are NaN and the
 * infinities.
 */
static void
numeric_to_decimal(const LanceWriteField *wf, Datum d, uint8 *out)
{
	const LanceType *t = &wf->field->type;
	int			nlimbs = t->kind == LANCE_T_DECIMAL256 ? 4 : 2;
	int			maxprec = t->kind == LANCE_T_DECIMAL256 ? 76 : 38;
	uint64		limb[4] = {0, 0, 0, 0};
	char	   *str;
	const char *q;
	bool		neg = false;
	int			digits = 0;
	int			frac = -1;
	int			k;

	if ((t->kind != LANCE_T_DECIMAL128 && t->kind != LANCE_T_DECIMAL256) ||
		t->scale < 0 || t->scale > maxprec || t->precision < 1 || t->precision > maxprec)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("writing Lance type \"%s\" (column \"%s\") is not supported",
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
	for (;; q++)
	{
		unsigned	digit;
		unsigned __int128 carry;

		if (*q == '.')
		{
			frac = 0;
			continue;
		}
		if (*q == '\0')
		{
			/* pad to the scale with zeros */
			if (frac < 0)
				frac = 0;
			if (frac >= t->scale)
				break;
			digit = 0;
		}
		else if (*q < '0' || *q > '9')
			out_of_range(wf);
		else
			digit = (unsigned) (*q - '0');
		if (frac >= 0)
			frac++;
		carry = digit;
		for (k = 0; k < nlimbs; k++)
		{
			unsigned __int128 x = (unsigned __int128) limb[k] * 10 + carry;

			limb[k] = (uint64) x;
			carry = x >> 64;
		}
		if (digits > 0 || limb[0] != 0 || limb[1] != 0 || limb[2] != 0 || limb[3] != 0)
			digits++;
		if (digits > t->precision)
			out_of_range(wf);
		if (*q == '\0')
			q--;				/* stay on the terminator */
	}
	if (neg)
	{
		uint64		c = 1;

		for (k = 0; k < nlimbs; k++)
		{
			limb[k] = ~limb[k] + c;
			c = c && limb[k] == 0;
		}
	}
	memcpy(out, limb, 8 * nlimbs);
	pfree(str);
}

/*
 * Converts one non-null datum of field wf to the bytes the Lance column
 * stores: *p and *len (fixed holds up to 32 bytes; larger values palloc).
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
			numeric_to_decimal(wf, d, fixed);
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

/* ---- nested fields: any nesting of lists and structs ---- */

/* A PostgreSQL array flattened: its elements and dimensions. */
typedef struct ArrayView
{
	Datum	   *elems;
	bool	   *nulls;
	int			ndim;
	int			dims[MAXDIM];
	Oid			elemtype;
} ArrayView;

/* A value met on the path of a nested leaf. */
typedef enum NestedKind
{
	NV_NULL,
	NV_JSON,					/* jv: a JSON scalar or container */
	NV_ARRAY,					/* dimensions dim.. of arr, from element offset */
	NV_DATUM					/* d of type typid */
} NestedKind;

typedef struct NestedVal
{
	NestedKind	kind;
	JsonbValue	jv;
	const ArrayView *arr;
	int			dim;
	int			offset;
	Datum		d;
	Oid			typid;
} NestedVal;

/* One leaf column being filled from a row's value. */
typedef struct NestedWalk
{
	LanceModifyState *st;
	const LanceWriteField *wf;
	LanceColBuf *col;
} NestedWalk;

static void
walk_level(NestedWalk *w, uint16 rep, uint16 def, const void *p, uint64 len)
{
	LanceError	err = {0};
	MemoryContext old = MemoryContextSwitchTo(w->st->cxt);
	bool		ok = lance_colbuf_level(w->col, rep, def, p, len, &err);

	MemoryContextSwitchTo(old);
	if (!ok)
		lance_fdw_reader_error(&err, w->st->dataset);
}

/* Lists from path node j down that one PostgreSQL array of type typid spans. */
static int
nested_array_dims(NestedWalk *w, int j, const LanceConv *conv)
{
	const LanceManifest *m = w->st->m;
	int			n = 0;

	while (j < w->col->depth &&
		   (m->fields[w->col->path[j]].type.kind == LANCE_T_LIST ||
			m->fields[w->col->path[j]].type.kind == LANCE_T_LARGE_LIST) &&
		   conv->kind == LCONV_ARRAY)
	{
		n++;
		if (conv->elem == NULL || conv->elem->typid != conv->typid)
			break;
		conv = conv->elem;
		j++;
	}
	return n;
}

static pg_attribute_noreturn() void
bad_dims(NestedWalk *w, const LanceField *f, int want)
{
	ereport(ERROR,
			(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
			 errmsg("array for column \"%s\" (Lance type \"%s\") must have %s",
					w->wf->conv.colname, f->logical_type,
					want == 1 ? "one dimension" : psprintf("%d dimensions", want))));
}

/* A datum of a list or struct as JSON or an array view (a JSON null: NULL). */
static void
nested_normalize(NestedWalk *w, int j, const LanceConv *conv, NestedVal *v)
{
	const LanceField *f = &w->st->m->fields[w->col->path[j]];

	if (v->kind == NV_DATUM && v->typid == JSONBOID)
	{
		Jsonb	   *jb = DatumGetJsonbP(v->d);

		if (JB_ROOT_IS_SCALAR(jb))
		{
			if (!JsonbExtractScalar(&jb->root, &v->jv))
				elog(ERROR, "lance_fdw: bad jsonb scalar");
		}
		else
		{
			v->jv.type = jbvBinary;
			v->jv.val.binary.data = &jb->root;
			v->jv.val.binary.len = VARSIZE(jb) - VARHDRSZ;
		}
		v->kind = NV_JSON;
	}
	else if (v->kind == NV_DATUM && type_is_array(v->typid) && j < w->col->depth)
	{
		ArrayType  *arr = DatumGetArrayTypeP(v->d);
		ArrayView  *av = palloc0(sizeof(ArrayView));
		int			want = nested_array_dims(w, j, conv);
		int			n,
					k;

		if (ARR_NDIM(arr) != 0 && ARR_NDIM(arr) != want)
			bad_dims(w, f, Max(want, 1));
		av->ndim = ARR_NDIM(arr);
		for (k = 0; k < av->ndim; k++)
			av->dims[k] = ARR_DIMS(arr)[k];
		av->elemtype = ARR_ELEMTYPE(arr);
		deconstruct_array(arr, av->elemtype, conv->elmlen, conv->elmbyval, conv->elmalign,
						  &av->elems, &av->nulls, &n);
		v->kind = NV_ARRAY;
		v->arr = av;
		v->dim = 0;
		v->offset = 0;
	}
	if (v->kind == NV_JSON && v->jv.type == jbvNull)
		v->kind = NV_NULL;
}

static void walk_node(NestedWalk *w, int j, const LanceConv *conv, NestedVal *v, uint16 rep);

/* The items of a list value at path node j. */
static void
walk_list(NestedWalk *w, int j, const LanceConv *conv, NestedVal *v, uint16 rep)
{
	const LanceManifest *m = w->st->m;
	const LanceField *f = &m->fields[w->col->path[j]];
	uint16		itemrep;
	int			lists = 0,
				q;
	int			n = 0;
	NestedVal	item;

	for (q = 0; q <= j; q++)
		lists += m->fields[w->col->path[q]].type.kind == LANCE_T_LIST ||
			m->fields[w->col->path[q]].type.kind == LANCE_T_LARGE_LIST;
	itemrep = (uint16) (w->col->nlists - lists);
	if (conv->elem == NULL)
		elog(ERROR, "lance_fdw: list conversion without an item");
	memset(&item, 0, sizeof(item));
	if (v->kind == NV_JSON && v->jv.type == jbvBinary && JsonContainerIsArray(v->jv.val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->jv.val.binary.data);
		JsonbValue	e;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			item.kind = NV_JSON;
			item.jv = e;
			walk_node(w, j + 1, conv->elem, &item, n == 0 ? rep : itemrep);
			n++;
		}
	}
	else if (v->kind == NV_ARRAY)
	{
		const ArrayView *av = v->arr;
		int			stride = 1;
		int			k;

		if (av->ndim > 0 && v->dim >= av->ndim)
			bad_dims(w, &m->fields[w->col->path[0]], av->ndim + 1);
		for (k = v->dim + 1; k < av->ndim; k++)
			stride *= av->dims[k];
		n = av->ndim == 0 ? 0 : av->dims[v->dim];
		for (k = 0; k < n; k++)
		{
			if (v->dim + 1 < av->ndim)
			{
				item.kind = NV_ARRAY;
				item.arr = av;
				item.dim = v->dim + 1;
				item.offset = v->offset + k * stride;
			}
			else if (av->nulls[v->offset + k])
				item.kind = NV_NULL;
			else
			{
				item.kind = NV_DATUM;
				item.d = av->elems[v->offset + k];
				item.typid = av->elemtype;
			}
			walk_node(w, j + 1, conv->elem, &item, k == 0 ? rep : itemrep);
		}
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value for column \"%s\" (Lance list \"%s\") must be a JSON array",
						w->wf->conv.colname, f->name)));
	if (n == 0)
		walk_level(w, rep, lance_colbuf_def(w->col, j, true), NULL, 0);
}

/* The member on the path of a struct value at path node j. */
static void
walk_struct(NestedWalk *w, int j, const LanceConv *conv, NestedVal *v, uint16 rep)
{
	const LanceManifest *m = w->st->m;
	const LanceField *f = &m->fields[w->col->path[j]];
	JsonbContainer *obj;
	JsonbIterator *it;
	JsonbValue	kv;
	JsonbValue *mv;
	JsonbIteratorToken tok;
	NestedVal	member;
	int			k,
				q;

	if (v->kind != NV_JSON || v->jv.type != jbvBinary || !JsonContainerIsObject(v->jv.val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value for column \"%s\" (Lance struct \"%s\") must be a JSON object",
						w->wf->conv.colname, f->name)));
	obj = v->jv.val.binary.data;
	if (conv->kind != LCONV_JSONB || conv->nchildren != f->nchildren)
		elog(ERROR, "lance_fdw: struct conversion does not match field \"%s\"", f->name);
	/* every key names a member: nothing is silently dropped */
	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &kv, true)) != WJB_DONE)
		if (tok == WJB_KEY)
		{
			for (q = 0; q < conv->nchildren; q++)
				if ((int) strlen(conv->names[q]) == kv.val.string.len &&
					memcmp(conv->names[q], kv.val.string.val, kv.val.string.len) == 0)
					break;
			if (q == conv->nchildren)
				bad_member(w->wf, pnstrdup(kv.val.string.val, kv.val.string.len),
						   "the struct has no member");
		}
	for (k = 0; k < f->nchildren; k++)
		if (f->children[k] == w->col->path[j + 1])
			break;
	if (k == f->nchildren)
		elog(ERROR, "lance_fdw: leaf path leaves struct \"%s\"", f->name);
	memset(&member, 0, sizeof(member));
	mv = getKeyJsonValueFromContainer(obj, conv->names[k], strlen(conv->names[k]), NULL);
	if (mv == NULL)
		member.kind = NV_NULL;
	else
	{
		member.kind = NV_JSON;
		member.jv = *mv;
	}
	walk_node(w, j + 1, &conv->children[k], &member, rep);
}

/* Levels of path node j (conversion conv) for value v. */
static void
walk_node(NestedWalk *w, int j, const LanceConv *conv, NestedVal *v, uint16 rep)
{
	const LanceManifest *m = w->st->m;
	LanceColBuf *col = w->col;
	const LanceField *f = &m->fields[col->path[j]];

	check_stack_depth();
	nested_normalize(w, j, conv, v);
	if (v->kind == NV_NULL)
	{
		if (!lance_colbuf_node_nullable(col, j))
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value for non-nullable Lance field \"%s\" in column \"%s\"",
							f->name, w->wf->conv.colname)));
		walk_level(w, rep, lance_colbuf_def(col, j, false), NULL, 0);
		return;
	}
	if (j == col->depth)
	{
		LanceWriteField iw;
		uint8		fixed[32];
		const void *p = NULL;
		uint64		len = 0;
		Datum		d;

		iw.attno = w->wf->attno;
		iw.field = f;
		iw.col = w->wf->col;
		iw.ncols = 1;
		iw.conv = *conv;
		if (v->kind == NV_ARRAY)
			bad_dims(w, &m->fields[col->path[0]], v->dim);
		if (v->kind == NV_JSON)
			d = json_value(&iw, w->wf, j > 0 && m->fields[col->path[j - 1]].type.kind == LANCE_T_STRUCT
						   ? "member" : "item of", f->name, &v->jv);
		else
			d = v->d;
		convert_value(&iw, col->width, d, fixed, &p, &len);
		walk_level(w, rep, 0, p, len);
		return;
	}
	if (f->type.kind == LANCE_T_STRUCT)
		walk_struct(w, j, conv, v, rep);
	else
		walk_list(w, j, conv, v, rep);
}

/*
 * A row of a list or struct field (isnull: NULL) into each of its leaf
 * columns.
 */
static void
push_nested(LanceModifyState *st, const LanceWriteField *wf, Datum d, bool isnull)
{
	int			k;

	for (k = 0; k < wf->ncols; k++)
	{
		NestedWalk	w;
		NestedVal	v;

		w.st = st;
		w.wf = wf;
		w.col = &st->cols[wf->col + k];
		memset(&v, 0, sizeof(v));
		v.kind = isnull ? NV_NULL : NV_DATUM;
		v.d = d;
		v.typid = wf->conv.typid;
		walk_node(&w, 0, &wf->conv, &v, (uint16) w.col->nlists);
	}
}

/* Converts one non-null datum of field wf and appends it to col. */
static void
push_datum(LanceModifyState *st, const LanceWriteField *wf, LanceColBuf *col, Datum d)
{
	uint8		fixed[32];
	const void *p;
	uint64		len;
	LanceError	err = {0};
	MemoryContext old;
	bool		ok;

	if (col->nlayers > 0)
	{
		push_nested(st, wf, d, false);
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
			if (st->cols[wf->col].nlayers > 0)
				push_nested(st, wf, (Datum) 0, true);
			else
			{
				MemoryContextSwitchTo(st->cxt);
				ok = lance_colbuf_push(&st->cols[wf->col], NULL, 0, true, &err);
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

/*
 * DELETE ... RETURNING: the executor projects RETURNING from the slot
 * ExecForeignDelete returns, which the FDW fills with the deleted row; the
 * rows are only marked deleted (deletion files at commit), so the scan
 * fetches the columns RETURNING needs as extra junk columns.
 */
static void
AddReturningTargets(PlannerInfo *root, Index rtindex, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Bitmapset  *attrs = NULL;
	bool		whole;
	int			k;

	if (root->parse->commandType != CMD_DELETE || root->parse->returningList == NIL)
		return;
	pull_varattnos((Node *) root->parse->returningList, rtindex, &attrs);
	whole = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);
	for (k = 0; k < desc->natts; k++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, k);
		char		name[NAMEDATALEN];

		if (attr->attisdropped ||
			(!whole && !bms_is_member(attr->attnum - FirstLowInvalidHeapAttributeNumber, attrs)))
			continue;
		snprintf(name, sizeof(name), RETURNING_JUNK, attr->attnum);
		add_row_identity_var(root,
							 makeVar(rtindex, attr->attnum, attr->atttypid, attr->atttypmod,
									 attr->attcollation, 0),
							 rtindex, name);
	}
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
			AddReturningTargets(root, rtindex, target_relation);
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
		/* (ri_projectReturning is set up only after this callback) */
		if (op == CMD_DELETE && ((ModifyTable *) mtstate->ps.plan)->returningLists != NIL)
		{
			TupleDesc	desc = RelationGetDescr(rinfo->ri_RelationDesc);

			st->ret_junk = MemoryContextAllocZero(st->cxt, sizeof(AttrNumber) * desc->natts);
			for (int k = 0; k < desc->natts; k++)
			{
				char		name[NAMEDATALEN];

				snprintf(name, sizeof(name), RETURNING_JUNK, k + 1);
				st->ret_junk[k] = ExecFindJunkAttributeInTlist(subplan->targetlist, name);
			}
		}
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
	LanceModifyState *st = (LanceModifyState *) rinfo->ri_FdwState;

	record_delete(st, planSlot);
	if (st->ret_junk)
	{
		/* the deleted row, for RETURNING (see AddReturningTargets) */
		ExecClearTuple(slot);
		for (int k = 0; k < slot->tts_tupleDescriptor->natts; k++)
		{
			if (AttributeNumberIsValid(st->ret_junk[k]))
				slot->tts_values[k] = ExecGetJunkAttribute(planSlot, st->ret_junk[k],
														   &slot->tts_isnull[k]);
			else
			{
				slot->tts_values[k] = (Datum) 0;
				slot->tts_isnull[k] = true;
			}
		}
		ExecStoreVirtualTuple(slot);
	}
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
