/*
 * lance_fdw_compact.c
 *	  lancedb.lance_compact(): LanceDB's compact_files for a lance_fdw
 *	  table's dataset.
 *
 * The plan (lance_compact_plan) picks runs of small fragments, or of
 * fragments with many deleted rows; each run is read batch by batch,
 * skipping deleted rows, into column buffers that become new data files of
 * the dataset's format every target_rows rows.  The files are then
 * committed as one version with a Rewrite transaction (lance_commit_rewrite),
 * which puts the new fragments where the old ones were, keeps stable row
 * ids, and rebases over concurrent appends.  On any error, conflict
 * included, the files written so far are removed.
 */
#include "postgres.h"

#include <malloc.h>
#include <unistd.h>

#include "fdw/lance/lance_file.h"
#include "fdw/lance/lance_write.h"
#include "fdw/lance_fdw.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

/* Rows decoded at a time from a source fragment. */
#define COMPACT_BATCH_ROWS	65536
/* Buffered bytes that end a new fragment early (data files are built in memory). */
#define COMPACT_FLUSH_BYTES	(UINT64CONST(768) << 20)

typedef struct CompactState
{
	const char *dataset;
	LanceManifest *m;
	uint16		minor;
	int			ncols;
	LanceColBuf *cols;			/* leaves: a struct has one per member */
	int			nfields;		/* top-level fields, read one vector each */
	int		   *ftop;			/* their manifest field indices */
	int		   *fcol;			/* their first column */
	int		   *fncols;			/* their columns */
	bool		stable;			/* stable row ids: keep them */
	uint64	   *ids;			/* row ids of the buffered rows */
	uint64		nids;
	uint64		idcap;
	List	   *written;		/* char * paths, removed on error */
	List	   *frags;			/* LanceNewFragment * of the current bin */
	uint64		target_rows;
	MemoryContext bufcxt;		/* column buffers, row ids */
	MemoryContext batchcxt;		/* decoded source rows */
	MemoryContext writecxt;		/* encoding a new file */
} CompactState;

static uint64
buffered_bytes(CompactState *cs)
{
	uint64		n = 0;
	int			i;

	for (i = 0; i < cs->ncols; i++)
		n += cs->cols[i].data.len + cs->cols[i].offsets.len;
	return n;
}

/* The manifest field indices of the top-level fields, as the writer orders them. */
static void
init_columns(CompactState *cs)
{
	LanceManifest *m = cs->m;
	int			i;

	cs->cols = palloc0(sizeof(LanceColBuf) * Max(m->nfields, 1));
	cs->ftop = palloc0(sizeof(int) * Max(m->nfields, 1));
	cs->fcol = palloc0(sizeof(int) * Max(m->nfields, 1));
	cs->fncols = palloc0(sizeof(int) * Max(m->nfields, 1));
	cs->ncols = 0;
	cs->nfields = 0;
	for (i = 0; i < m->nfields; i++)
	{
		LanceError	err = {0};
		int			n;

		if (m->fields[i].parent_id != -1)
			continue;
		n = lance_colbuf_init_field(&cs->cols[cs->ncols], m, i, &err);
		if (n < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot compact Lance dataset \"%s\": %s", cs->dataset, err.msg),
					 errdetail("lance_fdw does not write this type yet.")));
		cs->ftop[cs->nfields] = i;
		cs->fcol[cs->nfields] = cs->ncols;
		cs->fncols[cs->nfields] = n;
		cs->nfields++;
		cs->ncols += n;
	}
}

/* Writes the buffered rows as one new data file of the current bin. */
static void
flush_new_fragment(CompactState *cs)
{
	LanceNewFragment *nf;
	char		hex[33];
	char	   *path;
	uint64		size = 0;
	LanceError	err = {0};
	MemoryContext old;
	bool		ok;
	int			i;

	if (cs->ncols == 0 || lance_colbuf_rows(&cs->cols[0]) == 0)
		return;
	CHECK_FOR_INTERRUPTS();
	lance_random_hex(hex, 16);
	nf = palloc0(sizeof(LanceNewFragment));
	nf->file = psprintf("%s.lance", hex);
	nf->nrows = lance_colbuf_rows(&cs->cols[0]);
	if (cs->minor == 0)
	{
		/* 2.0: a column per field, list and struct parents included */
		nf->field_ids = palloc(sizeof(int32) * Max(cs->m->nfields, 1));
		nf->nfields = lance_file20_field_ids(cs->m, cs->cols, cs->ncols, nf->field_ids);
	}
	else
	{
		nf->nfields = cs->ncols;
		nf->field_ids = palloc(sizeof(int32) * cs->ncols);
		for (i = 0; i < cs->ncols; i++)
			nf->field_ids[i] = cs->m->fields[cs->cols[i].field].id;
	}
	nf->major = 2;
	nf->minor = cs->minor;
	if (cs->stable)
	{
		uint8	   *buf;
		uint64		len;

		if (!lance_row_ids_encode(cs->ids, cs->nids, &buf, &len, &err))
			lance_fdw_reader_error(&err, cs->dataset);
		nf->row_ids = buf;
		nf->row_ids_len = len;
		cs->nids = 0;
	}
	path = psprintf("%s/data/%s", cs->dataset, nf->file);
	/* recorded first: an error below still removes a partial file */
	cs->written = lappend(cs->written, path);
	old = MemoryContextSwitchTo(cs->writecxt);
	ok = lance_write_data_file(path, cs->m, cs->cols, cs->ncols, 2, cs->minor, &size, &err);
	MemoryContextSwitchTo(old);
	MemoryContextReset(cs->writecxt);
	if (!ok)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write Lance data file: %s", err.msg),
				 errcontext("Lance dataset \"%s\"", cs->dataset)));
	nf->size_bytes = size;
	cs->frags = lappend(cs->frags, nf);
	for (i = 0; i < cs->ncols; i++)
		lance_colbuf_reset(&cs->cols[i]);
}

/*
 * Value idx of leaf vector v for column c into *p and *len (bools through
 * *b); false if it is NULL.
 */
static bool
leaf_value(CompactState *cs, const LanceColBuf *c, const LanceVector *v, uint64 idx,
		   const void **p, uint64 *len, uint8 *b)
{
	if (v == NULL || idx >= v->n || !lance_vector_is_valid(v, idx))
	{
		if (v != NULL && idx >= v->n)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("Lance field \"%s\" has fewer values than its rows",
							cs->m->fields[c->field].name)));
		*p = NULL;
		*len = 0;
		return false;
	}
	if (c->width == 0)
	{
		if (v->offsets == NULL || v->offsets[idx + 1] < v->offsets[idx] ||
			v->offsets[idx + 1] > v->values_len)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid offsets in Lance field \"%s\"", cs->m->fields[c->field].name)));
		*p = v->values + v->offsets[idx];
		*len = v->offsets[idx + 1] - v->offsets[idx];
	}
	else if (c->type.kind == LANCE_T_BOOL)
	{
		*b = v->values[idx] ? 1 : 0;
		*p = b;
		*len = 1;
	}
	else
	{
		if (v->width != c->width || (idx + 1) * v->width > v->values_len)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("Lance field \"%s\" has values of %u bytes, expected %u",
							cs->m->fields[c->field].name, v->width, c->width)));
		*p = v->values + idx * v->width;
		*len = c->width;
	}
	return true;
}

/* Appends value idx of v (or NULL) to column c. */
static void
push_value(CompactState *cs, LanceColBuf *c, const LanceVector *v, uint64 idx)
{
	LanceError	err = {0};
	const void *p;
	uint64		len;
	uint8		b;
	bool		valid = leaf_value(cs, c, v, idx, &p, &len, &b);

	if (!valid && !cs->m->fields[c->field].nullable)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("non-nullable Lance field \"%s\" has a null value",
						cs->m->fields[c->field].name),
				 errcontext("Lance dataset \"%s\"", cs->dataset)));
	if (!lance_colbuf_push(c, p, len, !valid, &err))
		lance_fdw_reader_error(&err, cs->dataset);
}

/*
 * Appends row idx of a struct or list field (its vector v, NULL when the
 * file lacks the field) to its leaf columns cols[0..ncols), at any depth.
 */
static void
push_nested(CompactState *cs, LanceColBuf *cols, int ncols, const LanceVector *v, uint64 idx)
{
	LanceError	err = {0};
	int			k;

	for (k = 0; k < ncols; k++)
		if (!lance_colbuf_push_vector(&cols[k], cs->m, v, idx, &err))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("cannot compact Lance dataset \"%s\": %s", cs->dataset, err.msg)));
}

/*
 * Appends values [idx, idx + n) of v to column c: fixed-width values
 * without nulls in one copy, the rest value by value.
 */
static void
push_run(CompactState *cs, LanceColBuf *c, const LanceVector *v, uint64 idx, uint64 n)
{
	LanceError	err = {0};
	uint64		i;

	if (v != NULL && v->validity == NULL && c->width > 0 && c->type.kind != LANCE_T_BOOL &&
		v->width == c->width && (idx + n) * v->width <= v->values_len)
	{
		if (!lance_buf_append(&c->data, v->values + idx * v->width, n * v->width, &err) ||
			!lance_buf_reserve(&c->valid, n, &err))
			lance_fdw_reader_error(&err, cs->dataset);
		memset(c->valid.data + c->valid.len, 1, n);
		c->valid.len += n;
		c->n += n;
		return;
	}
	for (i = 0; i < n; i++)
		push_value(cs, c, v, v ? idx + i : 0);
}

/* Appends the live rows of fragment fr to the column buffers. */
static void
copy_fragment(CompactState *cs, const LanceFragment *fr, LanceCompactStats *stats)
{
	LanceManifest *m = cs->m;
	LanceFileReader *files = palloc0(sizeof(LanceFileReader) * Max(fr->nfiles, 1));
	bool	   *isopen = palloc0(sizeof(bool) * Max(fr->nfiles, 1));
	uint8	   *deleted = NULL;
	uint64	   *rowids = NULL;
	LanceVector *vecs = palloc0(sizeof(LanceVector) * Max(cs->nfields, 1));
	uint64	   *spans = palloc0(sizeof(uint64) * Max(cs->nfields, 1));
	bool	   *present = palloc0(sizeof(bool) * Max(cs->nfields, 1));
	LanceError	err = {0};
	uint64		r = 0;
	int			i;

	if (fr->deletion.present)
	{
		deleted = lance_deletion_load(cs->dataset, fr->id, &fr->deletion, fr->physical_rows, &err);
		if (deleted == NULL)
			lance_fdw_reader_error(&err, cs->dataset);
	}
	if (cs->stable)
	{
		if (fr->row_ids == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("fragment " UINT64_FORMAT " of Lance dataset \"%s\" has %s row ids, which lance_fdw cannot read",
							fr->id, cs->dataset, fr->external_row_ids ? "external" : "no")));
		rowids = palloc_extended(sizeof(uint64) * Max(fr->physical_rows, 1), MCXT_ALLOC_HUGE);
		if (!lance_row_ids_decode(fr->row_ids, fr->row_ids_len, fr->physical_rows, rowids, &err))
			lance_fdw_reader_error(&err, cs->dataset);
	}
	while (r < fr->physical_rows)
	{
		uint64		end = Min(fr->physical_rows, r + COMPACT_BATCH_ROWS);
		uint64		row;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(cs->batchcxt);
		for (i = 0; i < cs->nfields; i++)
		{
			int			field = cs->ftop[i];
			const LanceDataFile *df = lance_fdw_field_file(m, fr, field);
			int			fi;

			present[i] = df != NULL;
			if (df == NULL)
				continue;
			fi = (int) (df - fr->files);
			if (df->major != 2 || df->minor > 2)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("data file \"%s/data/%s\" uses Lance file format %u.%u, which lance_fdw cannot read yet",
								cs->dataset, df->path, df->major, df->minor)));
			if (!isopen[fi])
			{
				char	   *path = psprintf("%s/data/%s", cs->dataset, df->path);

				/* file handles live in the caller's context, not the batch's */
				MemoryContextSwitchTo(old);
				if (!lance_file_open(&files[fi], path, &err))
					lance_fdw_reader_error(&err, cs->dataset);
				isopen[fi] = true;
				MemoryContextSwitchTo(cs->batchcxt);
				if (files[fi].nrows != fr->physical_rows)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("data file \"%s\" has " UINT64_FORMAT " rows, but its fragment has " UINT64_FORMAT,
									path, files[fi].nrows, fr->physical_rows)));
			}
			memset(&vecs[i], 0, sizeof(LanceVector));
			if (!lance_read_field_range(&files[fi], m, df, field, r, end, &vecs[i], &spans[i], &err))
				lance_fdw_reader_error(&err, cs->dataset);
			if (spans[i] > r || spans[i] + vecs[i].n < end)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("Lance reader returned a short range for field \"%s\"",
								m->fields[field].name)));
		}
		MemoryContextSwitchTo(old);
		row = r;
		while (row < end)
		{
			uint64		run = 1;
			uint64		room;

			if (deleted && (deleted[row >> 3] >> (row & 7)) & 1)
			{
				stats->deleted_rows++;
				row++;
				continue;
			}
			/* a run of live rows that fits in the current new fragment */
			room = cs->target_rows - lance_colbuf_rows(&cs->cols[0]);
			while (row + run < end && run < room &&
				   !(deleted && (deleted[(row + run) >> 3] >> ((row + run) & 7)) & 1))
				run++;
			old = MemoryContextSwitchTo(cs->bufcxt);
			for (i = 0; i < cs->nfields; i++)
			{
				LanceColBuf *c = &cs->cols[cs->fcol[i]];
				uint64		q;

				if (cs->fncols[i] == 1 && c->nlayers == 0)
					push_run(cs, c, present[i] ? &vecs[i] : NULL,
							 present[i] ? row - spans[i] : 0, run);
				else
					for (q = 0; q < run; q++)
						push_nested(cs, c, cs->fncols[i], present[i] ? &vecs[i] : NULL,
									present[i] ? row + q - spans[i] : 0);
			}
			MemoryContextSwitchTo(old);
			if (cs->stable)
			{
				while (cs->nids + run > cs->idcap)
				{
					cs->idcap = cs->idcap ? cs->idcap * 2 : 65536;
					cs->ids = cs->ids ? repalloc_huge(cs->ids, sizeof(uint64) * cs->idcap)
						: MemoryContextAllocHuge(cs->bufcxt, sizeof(uint64) * cs->idcap);
				}
				memcpy(cs->ids + cs->nids, rowids + row, sizeof(uint64) * run);
				cs->nids += run;
			}
			stats->rows += run;
			row += run;
			if (lance_colbuf_rows(&cs->cols[0]) >= cs->target_rows ||
				buffered_bytes(cs) >= COMPACT_FLUSH_BYTES)
				flush_new_fragment(cs);
		}
		/* batch vectors are rebuilt next round */
		MemoryContextReset(cs->batchcxt);
		r = end;
	}
	for (i = 0; i < fr->nfiles; i++)
		if (isopen[i])
			lance_file_close(&files[i]);
}

/*
 * Sizes the column buffers for the rows to come at once: growing them by
 * doubling copied them again and again and faulted in fresh pages.
 */
static void
presize(CompactState *cs, uint64 rows)
{
	MemoryContext old = MemoryContextSwitchTo(cs->bufcxt);
	LanceError	err = {0};
	int			i;

	for (i = 0; i < cs->ncols; i++)
	{
		LanceColBuf *c = &cs->cols[i];
		uint64		bytes = rows * c->width;

		if (!lance_buf_reserve(&c->valid, rows, &err) ||
			(c->width > 0 && bytes <= COMPACT_FLUSH_BYTES &&
			 !lance_buf_reserve(&c->data, bytes, &err)))
			lance_fdw_reader_error(&err, cs->dataset);
	}
	MemoryContextSwitchTo(old);
}

/*
 * Whether lance_compact can rewrite this dataset: format 2.0, 2.1 or 2.2, writer
 * features it knows, fields it can write (maintenance skips the others
 * rather than failing every round).
 */
bool
lance_fdw_compactable(const LanceManifest *m)
{
	int			i;
	bool		v20 = strcmp(m->format_version, "2.0") == 0;

	if (!v20 && strcmp(m->format_version, "2.1") != 0 && strcmp(m->format_version, "2.2") != 0)
		return false;
	if (m->writer_flags & ~(LANCE_FLAG_DELETION_FILES | LANCE_FLAG_STABLE_ROW_IDS |
							LANCE_FLAG_V2_DEPRECATED | LANCE_FLAG_TABLE_CONFIG))
		return false;
	for (i = 0; i < m->nfields; i++)
	{
		LanceColBuf *c;
		LanceError	err = {0};
		int			n,
					k;
		bool		ok;

		if (m->fields[i].parent_id != -1)
			continue;
		c = palloc0(sizeof(LanceColBuf) * Max(m->nfields, 1));
		n = lance_colbuf_init_field(c, m, i, &err);
		ok = n >= 0 && (!v20 || lance_write20_supports(m, c, n, &err));
		for (k = 0; k < n; k++)
			lance_colbuf_free(&c[k]);
		pfree(c);
		if (!ok)
			return false;
	}
	return true;
}

/* Rewrites the bins and commits them; the caller removes cs->written on error. */
static void
compact_bins(CompactState *cs, LanceCompactBin *bins, int nbins, LanceCompactStats *stats)
{
	LanceRewriteGroup *groups = palloc0(sizeof(LanceRewriteGroup) * nbins);
	LanceCommitResult res;
	LanceError	err = {0};
	bool		conflict = false;
	int			b,
				k;

	for (b = 0; b < nbins; b++)
	{
		uint64	   *old_ids = palloc(sizeof(uint64) * bins[b].n);
		LanceNewFragment *nf;
		ListCell   *lc;

		cs->frags = NIL;
		presize(cs, Min(bins[b].live_rows, cs->target_rows));
		for (k = 0; k < bins[b].n; k++)
		{
			const LanceFragment *fr = &cs->m->fragments[bins[b].first + k];

			old_ids[k] = fr->id;
			copy_fragment(cs, fr, stats);
		}
		flush_new_fragment(cs);
		nf = palloc0(sizeof(LanceNewFragment) * Max(list_length(cs->frags), 1));
		k = 0;
		foreach(lc, cs->frags)
			nf[k++] = *(LanceNewFragment *) lfirst(lc);
		groups[b].nold = bins[b].n;
		groups[b].old_ids = old_ids;
		groups[b].nnew = k;
		groups[b].new_frags = nf;
		stats->fragments_removed += bins[b].n;
		stats->fragments_added += k;
		stats->files += k;
	}
	lance_fdw_commit_delay(cs->dataset, cs->m->version);
	if (!lance_commit_rewrite(cs->dataset, cs->m->version, groups, nbins,
							  LANCE_WRITER_LIBRARY, LANCE_WRITER_VERSION,
							  &res, &stats->indices_dropped, &conflict, &err))
	{
		if (conflict)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not compact Lance dataset \"%s\": %s", cs->dataset, err.msg),
					 errhint("Run the compaction again.")));
		lance_fdw_reader_error(&err, cs->dataset);
	}
	stats->version = res.version;
}

void
lance_fdw_compact_dataset(const char *dataset, const LanceCompactOptions *opt,
						  LanceCompactStats *stats)
{
	LanceFdwTarget target = {(char *) dataset, 0, NULL};
	CompactState cs;
	LanceCompactBin *bins;
	LanceError	err = {0};
	int			nbins;

	memset(stats, 0, sizeof(*stats));
	memset(&cs, 0, sizeof(cs));
	lance_fdw_init_reader();
	/* big decode buffers from the heap, reused batch after batch (as scans do) */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
	cs.dataset = dataset;
	cs.m = lance_fdw_load_manifest(&target);
	cs.target_rows = opt->target_rows;
	stats->read_version = cs.m->version;
	nbins = lance_compact_plan(cs.m, opt, &bins, &err);
	if (nbins < 0)
		lance_fdw_reader_error(&err, dataset);
	if (nbins == 0)
		return;
	if (strcmp(cs.m->format_version, "2.0") == 0)
		cs.minor = 0;
	else if (strcmp(cs.m->format_version, "2.1") == 0)
		cs.minor = 1;
	else if (strcmp(cs.m->format_version, "2.2") == 0)
		cs.minor = 2;
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("compacting Lance datasets of data storage version \"%s\" is not supported",
						cs.m->format_version),
				 errdetail("lance_fdw writes data storage versions 2.0, 2.1 and 2.2."),
				 errcontext("Lance dataset \"%s\"", dataset)));
	if (cs.m->writer_flags & ~(LANCE_FLAG_DELETION_FILES | LANCE_FLAG_STABLE_ROW_IDS |
							   LANCE_FLAG_V2_DEPRECATED | LANCE_FLAG_TABLE_CONFIG))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("Lance dataset \"%s\" uses writer features lance_fdw does not implement (flags 0x%llx)",
						dataset, (unsigned long long) cs.m->writer_flags)));
	cs.stable = (cs.m->reader_flags & LANCE_FLAG_STABLE_ROW_IDS) != 0;
	cs.bufcxt = AllocSetContextCreate(CurrentMemoryContext, "lance_compact buffers",
									  ALLOCSET_DEFAULT_SIZES);
	cs.batchcxt = AllocSetContextCreate(CurrentMemoryContext, "lance_compact batch",
										ALLOCSET_DEFAULT_SIZES);
	cs.writecxt = AllocSetContextCreate(CurrentMemoryContext, "lance_compact write",
										ALLOCSET_DEFAULT_SIZES);
	{
		MemoryContext old = MemoryContextSwitchTo(cs.bufcxt);

		init_columns(&cs);
		MemoryContextSwitchTo(old);
	}
	if (cs.minor == 0)
	{
		LanceError	err = {0};

		if (!lance_write20_supports(cs.m, cs.cols, cs.ncols, &err))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot compact Lance dataset \"%s\": %s", dataset, err.msg),
					 errdetail("The dataset has data storage version 2.0; lance_fdw writes these fields to 2.1 and 2.2 datasets.")));
	}
	PG_TRY();
	{
		compact_bins(&cs, bins, nbins, stats);
	}
	PG_CATCH();
	{
		ListCell   *lc;

		/* a failed or conflicting compaction leaves no files behind */
		foreach(lc, cs.written)
			(void) unlink((char *) lfirst(lc));
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextDelete(cs.bufcxt);
	MemoryContextDelete(cs.batchcxt);
	MemoryContextDelete(cs.writecxt);
}

LANCEDB_FUNCTION(lance_fdw_compact);
Datum
lance_fdw_compact(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int32		target = PG_GETARG_INT32(1);
	bool		materialize = PG_GETARG_BOOL(2);
	char	   *dataset;
	LanceCompactOptions opt;
	LanceCompactStats st;
	char	   *json;

	if (target < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target_rows_per_fragment must be at least 1")));
	dataset = lance_fdw_writable_dataset(relid);
	opt.target_rows = (uint64) target;
	opt.materialize_deletions = materialize;
	opt.deletion_threshold = lance_compact_deleted_fraction;
	lance_fdw_compact_dataset(dataset, &opt, &st);
	json = psprintf("{\"fragments_removed\": %d, \"fragments_added\": %d, \"rows\": " UINT64_FORMAT
					", \"deleted_rows\": " UINT64_FORMAT ", \"files\": %d, \"indices_dropped\": %d"
					", \"read_version\": " UINT64_FORMAT ", \"version\": " UINT64_FORMAT "}",
					st.fragments_removed, st.fragments_added, st.rows, st.deleted_rows, st.files,
					st.indices_dropped, st.read_version,
					st.version ? st.version : st.read_version);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}
