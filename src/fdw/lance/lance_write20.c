/*
 * lance_write20.c
 *	  Encoding data files of Lance format 2.0 (file footer 0.3) from the
 *	  buffered rows of lance_write.c, in the grammar LanceDB writes for 2.0.
 *
 * A 2.0 file has one column per field, parents included, each page an
 * ArrayEncoding tree (lance_file20.c reads it):
 *   - fixed width (ints, floats, bools at 1 bit, dates, timestamps,
 *     decimals, fixed binaries): nullable{no_nulls | some_nulls{validity
 *     bitmap, flat}}, the null slots zeroed;
 *   - vectors: the same around fixed_size_list{dim, nullable{no_nulls{flat}}};
 *   - strings and binaries: binary{u64 end offsets, bytes}, a null row's
 *     end moved up by null_adjustment = page bytes + 1;
 *   - a list: its own column of u64 end offsets per page (relative to the
 *     page's first item, a null list moved up by num_items + 1), the items
 *     in the next column(s);
 *   - a struct: a column of struct{} pages without buffers, then its
 *     members.  2.0 keeps no struct validity, so a NULL struct is refused
 *     rather than silently read back as a struct of NULL members.
 * A column without rows (the items of only empty lists) gets one empty
 * all_nulls page, as LanceDB writes it.  No compression or dictionaries.
 */
#include "lance_write.h"

#include "lance_pb.h"

#define ARRAY_ENCODING_URL	"/lance.encodings.ArrayEncoding"

/* Value bytes of one page before the next page starts. */
#define PAGE_TARGET_BYTES	(UINT64_C(8) << 20)
/* Bytes buffered before they go to the file (a multiple of 64). */
#define SINK_BYTES	(UINT64_C(16) << 20)

/* RepDefLayer values of lance_write.c's column buffers (lance.encodings21). */
#define L_ALL_VALID_ITEM	1
#define L_NULL_AND_EMPTY_LIST	6

/* Where the file goes: the buffer, flushed to fd (if >= 0) as it grows. */
typedef struct Sink
{
	LanceBuf   *file;
	int			fd;
	const char *path;
	uint64_t	base;			/* file offset of file->data[0] */
} Sink;

typedef struct Column
{
	LancePageOut *pages;
	int			npages;
	int			cap;
} Column;

/* ---- small helpers ---- */

static bool
pad(LanceBuf *b, uint64_t align, LanceError *err)
{
	return lance_buf_zero(b, (align - b->len % align) % align, err);
}

static bool
put_u64(LanceBuf *b, uint64_t v, LanceError *err)
{
	return lance_buf_append(b, &v, 8, err);
}

static bool
sink_flush(Sink *s, LanceError *err)
{
	return lance_sink_flush(s->file, s->fd, &s->base, s->path, err);
}

/* Appends a page buffer (64-byte aligned); *off gets its file offset. */
static bool
sink_buffer(Sink *s, const void *p, uint64_t n, uint64_t *off, LanceError *err)
{
	if (!pad(s->file, 64, err))
		return false;
	if (s->fd >= 0 && s->file->len >= SINK_BYTES && !sink_flush(s, err))
		return false;
	*off = s->base + s->file->len;
	return lance_buf_append(s->file, p, n, err);
}

static LancePageOut *
new_page(Column *col, LanceError *err)
{
	if (col->npages == col->cap)
	{
		int			cap = col->cap ? col->cap * 2 : 4;
		LancePageOut *p = lance_realloc(col->pages, sizeof(LancePageOut) * cap, err);

		if (p == NULL)
			return NULL;
		col->pages = p;
		col->cap = cap;
	}
	memset(&col->pages[col->npages], 0, sizeof(LancePageOut));
	return &col->pages[col->npages++];
}

static void
free_column(Column *col)
{
	int			i;

	for (i = 0; i < col->npages; i++)
		lance_buf_free(&col->pages[i].enc);
	lance_free(col->pages);
	memset(col, 0, sizeof(*col));
}

/* Serializes e as the page's Any{ArrayEncoding}. */
static bool
page_encoding(LancePageOut *pg, const Lancepb__E20ArrayEncoding *e, LanceError *err)
{
	LanceBuf	inner = {0};
	Lancepb__Any any;
	bool		ok;

	if (!lance_buf_pb(&inner, &e->base, err))
		return false;
	lancepb__any__init(&any);
	any.type_url = ARRAY_ENCODING_URL;
	any.value.data = inner.data;
	any.value.len = inner.len;
	ok = lance_buf_pb(&pg->enc, &any.base, err);
	lance_buf_free(&inner);
	return ok;
}

/* Adds buffer p[0..n) to the page; returns its index. */
static int
page_buffer(Sink *s, LancePageOut *pg, const void *p, uint64_t n, LanceError *err)
{
	int			i = pg->nbufs;

	if (!sink_buffer(s, p, n, &pg->offsets[i], err))
		return -1;
	pg->sizes[i] = n;
	pg->nbufs++;
	return i;
}

/* Nodes of an encoding tree, allocated by the caller. */
typedef struct Nodes
{
	Lancepb__E20ArrayEncoding e[8];
	Lancepb__E20Flat flat[3];
	Lancepb__E20Buffer buf[3];
	Lancepb__E20Nullable nullable[2];
	Lancepb__E20NoNull nonull[2];
	Lancepb__E20SomeNull somenull;
	Lancepb__E20AllNull allnull;
	Lancepb__E20FixedSizeList fsl;
	Lancepb__E20Binary binary;
	Lancepb__E20List list;
	Lancepb__E20Struct st;
	int			ne,
				nflat,
				nnull;
} Nodes;

static Lancepb__E20ArrayEncoding *
node(Nodes *t)
{
	Lancepb__E20ArrayEncoding *e = &t->e[t->ne++];

	lancepb__e20_array_encoding__init(e);
	return e;
}

static Lancepb__E20ArrayEncoding *
flat(Nodes *t, uint64_t bits, int bufidx)
{
	Lancepb__E20ArrayEncoding *e = node(t);
	Lancepb__E20Flat *f = &t->flat[t->nflat];
	Lancepb__E20Buffer *b = &t->buf[t->nflat++];

	lancepb__e20_buffer__init(b);
	b->buffer_index = (uint64_t) bufidx;
	lancepb__e20_flat__init(f);
	f->bits_per_value = bits;
	f->buffer = b;
	e->array_encoding_case = LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_FLAT;
	e->flat = f;
	return e;
}

/* nullable{no_nulls{values}} or, with a validity node, nullable{some_nulls}. */
static Lancepb__E20ArrayEncoding *
nullable(Nodes *t, Lancepb__E20ArrayEncoding *values, Lancepb__E20ArrayEncoding *validity)
{
	Lancepb__E20ArrayEncoding *e = node(t);
	Lancepb__E20Nullable *nu = &t->nullable[t->nnull];

	lancepb__e20_nullable__init(nu);
	if (validity == NULL)
	{
		Lancepb__E20NoNull *nn = &t->nonull[t->nnull];

		lancepb__e20_no_null__init(nn);
		nn->values = values;
		nu->nullability_case = LANCEPB__E20_NULLABLE__NULLABILITY_NO_NULLS;
		nu->no_nulls = nn;
	}
	else
	{
		lancepb__e20_some_null__init(&t->somenull);
		t->somenull.validity = validity;
		t->somenull.values = values;
		nu->nullability_case = LANCEPB__E20_NULLABLE__NULLABILITY_SOME_NULLS;
		nu->some_nulls = &t->somenull;
	}
	t->nnull++;
	e->array_encoding_case = LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_NULLABLE;
	e->nullable = nu;
	return e;
}

/* ---- leaf columns ---- */

/* Value bytes of slots [s, s + n) of a leaf. */
static uint64_t
slot_bytes(const LanceColBuf *c, uint64_t s, uint64_t n)
{
	const uint64_t *off = (const uint64_t *) c->offsets.data;

	if (c->width == 0)
		return 8 * n + (off[s + n] - off[s]);
	if (c->type.kind == LANCE_T_BOOL)
		return (n + 7) / 8;
	return n * c->width;
}

/* Slots [s0, s1) of a leaf as one page. */
static bool
leaf_page(Sink *s, Column *col, const LanceColBuf *c, uint64_t s0, uint64_t s1, LanceError *err)
{
	const uint8_t *valid = c->valid.data;
	uint64_t	n = s1 - s0;
	bool		nulls = false;
	LanceBuf	tmp = {0};
	Nodes		t;
	Lancepb__E20ArrayEncoding *vals;
	Lancepb__E20ArrayEncoding *validity = NULL;
	LancePageOut *pg = new_page(col, err);
	uint64_t	i;
	int			vb = 0;
	bool		ok = false;

	if (pg == NULL)
		return false;
	memset(&t, 0, sizeof(t));
	pg->nrows = n;
	if (n == 0)
	{
		/* no values at all: LanceDB's empty page */
		Lancepb__E20ArrayEncoding *e = node(&t);

		lancepb__e20_nullable__init(&t.nullable[0]);
		lancepb__e20_all_null__init(&t.allnull);
		t.nullable[0].nullability_case = LANCEPB__E20_NULLABLE__NULLABILITY_ALL_NULLS;
		t.nullable[0].all_nulls = &t.allnull;
		e->array_encoding_case = LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_NULLABLE;
		e->nullable = &t.nullable[0];
		return page_encoding(pg, e, err);
	}
	for (i = s0; i < s1 && !nulls; i++)
		nulls = valid[i] == 0;
	/* strings keep their nulls in the offsets */
	if (nulls && c->width > 0)
	{
		/* validity bitmap, LSB first */
		if (!lance_buf_zero(&tmp, (n + 7) / 8, err))
			goto done;
		for (i = 0; i < n; i++)
			if (valid[s0 + i])
				tmp.data[i >> 3] |= (uint8_t) (1 << (i & 7));
		if ((vb = page_buffer(s, pg, tmp.data, tmp.len, err)) < 0)
			goto done;
		validity = flat(&t, 1, vb);
		tmp.len = 0;
	}
	if (c->width == 0)
	{
		const uint64_t *off = (const uint64_t *) c->offsets.data;
		uint64_t	bytes = off[s1] - off[s0];
		uint64_t	adj = bytes + 1;
		int			ib,
					bb;

		/* end offsets, a null's moved up by adj */
		if (!lance_buf_reserve(&tmp, 8 * n, err))
			goto done;
		for (i = 0; i < n; i++)
		{
			uint64_t	end = off[s0 + i + 1] - off[s0];

			if (!valid[s0 + i])
				end += adj;
			memcpy(tmp.data + 8 * i, &end, 8);
		}
		tmp.len = 8 * n;
		if ((ib = page_buffer(s, pg, tmp.data, tmp.len, err)) < 0 ||
			(bb = page_buffer(s, pg, c->data.data + off[s0], bytes, err)) < 0)
			goto done;
		lancepb__e20_binary__init(&t.binary);
		t.binary.indices = nullable(&t, flat(&t, 64, ib), NULL);
		t.binary.bytes = flat(&t, 8, bb);
		t.binary.null_adjustment = adj;
		vals = node(&t);
		vals->array_encoding_case = LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_BINARY;
		vals->binary = &t.binary;
		/* the validity is in the offsets: no nullable wrapper */
		ok = page_encoding(pg, vals, err);
		goto done;
	}
	if (c->type.kind == LANCE_T_BOOL)
	{
		if (!lance_buf_zero(&tmp, (n + 7) / 8, err))
			goto done;
		for (i = 0; i < n; i++)
			if (c->data.data[s0 + i])
				tmp.data[i >> 3] |= (uint8_t) (1 << (i & 7));
		if ((vb = page_buffer(s, pg, tmp.data, tmp.len, err)) < 0)
			goto done;
		vals = flat(&t, 1, vb);
	}
	else
	{
		if ((vb = page_buffer(s, pg, c->data.data + s0 * c->width, n * c->width, err)) < 0)
			goto done;
		if (c->type.kind == LANCE_T_FSL)
		{
			uint32_t	ew = lance_type_fixed_width(c->type.elem);

			lancepb__e20_fixed_size_list__init(&t.fsl);
			t.fsl.dimension = c->type.width;
			t.fsl.items = nullable(&t, flat(&t, 8 * (uint64_t) ew, vb), NULL);
			vals = node(&t);
			vals->array_encoding_case = LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_FIXED_SIZE_LIST;
			vals->fixed_size_list = &t.fsl;
		}
		else
			vals = flat(&t, 8 * (uint64_t) c->width, vb);
	}
	ok = page_encoding(pg, nullable(&t, vals, validity), err);
done:
	lance_buf_free(&tmp);
	return ok;
}

/* Slots [0, n) of a leaf, in pages of about PAGE_TARGET_BYTES. */
static bool
leaf_column(Sink *s, Column *col, const LanceColBuf *c, uint64_t n, LanceError *err)
{
	uint64_t	s0 = 0;

	if (n == 0)
		return leaf_page(s, col, c, 0, 0, err);
	while (s0 < n)
	{
		uint64_t	s1;

		if (c->width > 0)
		{
			uint64_t	per = c->type.kind == LANCE_T_BOOL ? PAGE_TARGET_BYTES * 8 :
				PAGE_TARGET_BYTES / c->width;

			s1 = n - s0 > per ? s0 + (per > 0 ? per : 1) : n;
		}
		else
		{
			/* whole values; at least one per page */
			s1 = s0 + 1;
			while (s1 < n && slot_bytes(c, s0, s1 + 1 - s0) <= PAGE_TARGET_BYTES)
				s1++;
		}
		if (!leaf_page(s, col, c, s0, s1, err))
			return false;
		s0 = s1;
	}
	return true;
}

/* ---- lists and structs ---- */

/* The first definition level of layer k (lance_write.c's numbering). */
static uint16_t
layer_base(const LanceColBuf *c, int k)
{
	uint16_t	base = 1;
	int			j;

	for (j = 0; j < k; j++)
		base += c->layers[j] == L_NULL_AND_EMPTY_LIST ? 2 :
			(c->layers[j] == L_ALL_VALID_ITEM ? 0 : 1);
	return base;
}

static int	top_field(const LanceManifest *m, const LanceColBuf *c);

static bool
struct_null_error(const LanceManifest *m, const LanceColBuf *c, LanceError *err)
{
	return lance_fail(err, "a NULL struct in field \"%s\" cannot be stored in a Lance 2.0 data file (format 2.0 keeps no struct validity)",
					  m->fields[top_field(m, c)].name);
}

/*
 * From a list leaf's levels: per row the end of its items (relative to the
 * first) and whether the list is NULL.  A NULL struct item is refused.
 */
static bool
list_rows(const LanceManifest *m, const LanceColBuf *c, uint64_t *ends, uint8_t *isnull,
		  LanceError *err)
{
	const uint16_t *rep = (const uint16_t *) c->rep.data;
	const uint16_t *def = (const uint16_t *) c->def.data;
	uint64_t	nlev = c->def.len / 2;
	int			top = c->nlayers - 1;
	uint16_t	lbase = layer_base(c, top);
	uint16_t	sbase = c->nlayers == 3 ? layer_base(c, 1) : lbase;
	bool		nullable_list = c->layers[top] == L_NULL_AND_EMPTY_LIST;
	uint64_t	items = 0;
	int64_t		row = -1;
	uint64_t	l;

	if (c->rep.len / 2 != nlev)
		return lance_fail(err, "list levels of different lengths");
	for (l = 0; l < nlev; l++)
	{
		if (rep[l] == 1)
		{
			if ((uint64_t) ++row >= c->nrows)
				return lance_fail(err, "more list rows than buffered");
			isnull[row] = 0;
		}
		else if (row < 0)
			return lance_fail(err, "list levels start inside a row");
		if (def[l] < lbase)
		{
			if (def[l] >= sbase)
				return struct_null_error(m, c, err);
			items++;
		}
		else if (def[l] == lbase && nullable_list)
			isnull[row] = 1;
		ends[row] = items;
	}
	if ((uint64_t) (row + 1) != c->nrows || items != c->n)
		return lance_fail(err, "list levels do not match the buffered rows");
	return true;
}

/* A list column from per-row ends and nulls, in pages of offsets. */
static bool
list_column(Sink *s, Column *col, const uint64_t *ends, const uint8_t *isnull, uint64_t nrows,
			LanceError *err)
{
	uint64_t	per = PAGE_TARGET_BYTES / 8;
	uint64_t	r0 = 0;
	LanceBuf	tmp = {0};
	bool		ok = false;

	do
	{
		uint64_t	r1 = nrows - r0 > per ? r0 + per : nrows;
		uint64_t	first = r0 > 0 ? ends[r0 - 1] : 0;
		uint64_t	nitems = (r1 > r0 ? ends[r1 - 1] : first) - first;
		uint64_t	i;
		Nodes		t;
		Lancepb__E20ArrayEncoding *e;
		LancePageOut *pg = new_page(col, err);
		int			b;

		if (pg == NULL)
			goto done;
		memset(&t, 0, sizeof(t));
		pg->nrows = r1 - r0;
		tmp.len = 0;
		if (!lance_buf_reserve(&tmp, 8 * (r1 - r0) + 8, err))
			goto done;
		for (i = r0; i < r1; i++)
		{
			uint64_t	end = ends[i] - first + (isnull[i] ? nitems + 1 : 0);

			memcpy(tmp.data + 8 * (i - r0), &end, 8);
		}
		tmp.len = 8 * (r1 - r0);
		if ((b = page_buffer(s, pg, tmp.data, tmp.len, err)) < 0)
			goto done;
		lancepb__e20_list__init(&t.list);
		t.list.offsets = nullable(&t, flat(&t, 64, b), NULL);
		t.list.null_offset_adjustment = nitems + 1;
		t.list.num_items = nitems;
		e = node(&t);
		e->array_encoding_case = LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_LIST;
		e->list = &t.list;
		if (!page_encoding(pg, e, err))
			goto done;
		r0 = r1;
	} while (r0 < nrows);
	ok = true;
done:
	lance_buf_free(&tmp);
	return ok;
}

/* A struct column: one page of n rows without buffers. */
static bool
struct_column(Column *col, uint64_t n, LanceError *err)
{
	Nodes		t;
	Lancepb__E20ArrayEncoding *e;
	LancePageOut *pg = new_page(col, err);

	if (pg == NULL)
		return false;
	memset(&t, 0, sizeof(t));
	pg->nrows = n;
	lancepb__e20_struct__init(&t.st);
	e = node(&t);
	e->array_encoding_case = LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_STRUCT_;
	e->struct_ = &t.st;
	return page_encoding(pg, e, err);
}

/* The top-level field whose leaf column buffer c is. */
static int
top_field(const LanceManifest *m, const LanceColBuf *c)
{
	int			f = c->field;
	int			guard = 0;

	while (m->fields[f].parent >= 0 && guard++ < 8)
		f = m->fields[f].parent;
	return f;
}

bool
lance_write20_supports(const LanceManifest *m, const LanceColBuf *cols, int ncols,
					   LanceError *err)
{
	for (int i = 0; i < ncols; i++)
	{
		const LanceField *top = &m->fields[top_field(m, &cols[i])];

		if (!lance_colbuf_simple_shape(&cols[i], m))
			return lance_fail(err, "field \"%s\" nests lists and structs deeper than lance_fdw writes to Lance 2.0 data files "
							  "(a list, a struct or a list of structs of leaves)", top->name);
		if (cols[i].type.kind == LANCE_T_DECIMAL256)
			return lance_fail(err, "decimal256 field \"%s\" cannot be written to Lance 2.0 data files by lance_fdw",
							  top->name);
	}
	return true;
}

int
lance_file20_field_ids(const LanceManifest *m, const LanceColBuf *cols, int ncols,
					   int32_t *ids)
{
	int			n = 0;
	int			i = 0;

	/* per top-level field: itself, then (depth first) its list/struct descendants */
	while (i < ncols)
	{
		int			top = top_field(m, &cols[i]);
		int			j;

		ids[n++] = m->fields[top].id;
		for (j = top + 1; j < m->nfields; j++)
		{
			int			a = m->fields[j].parent;

			while (a >= 0 && a != top)
				a = m->fields[a].parent;
			if (a != top)
				break;
			if (m->fields[m->fields[j].parent].type.kind == LANCE_T_FSL)
				continue;
			ids[n++] = m->fields[j].id;
		}
		while (i < ncols && top_field(m, &cols[i]) == top)
			i++;
	}
	return n;
}

/* The columns of one top-level field from its column buffers cols[0..k). */
static bool
field_columns(Sink *s, const LanceManifest *m, LanceColBuf *cols, int k, Column *out, int *nout,
			  LanceError *err)
{
	const LanceColBuf *c = &cols[0];
	int			i;

	if (c->nlayers == 0)
	{
		*nout = 1;
		return leaf_column(s, &out[0], c, c->n, err);
	}
	if (!c->repeated)
	{
		/* a struct's members: one slot per row */
		uint16_t	sbase = layer_base(c, 1);

		for (i = 0; i < k; i++)
		{
			const uint16_t *def = (const uint16_t *) cols[i].def.data;
			uint64_t	l;

			for (l = 0; l < cols[i].def.len / 2; l++)
				if (def[l] >= sbase)
					return struct_null_error(m, &cols[i], err);
		}
		*nout = 1 + k;
		if (!struct_column(&out[0], c->n, err))
			return false;
		for (i = 0; i < k; i++)
			if (!leaf_column(s, &out[1 + i], &cols[i], cols[i].n, err))
				return false;
		return true;
	}
	else
	{
		/* a list: offsets from the first buffer's levels (its members share them) */
		uint64_t   *ends = lance_alloc_array(c->nrows + 1, sizeof(uint64_t), err);
		uint8_t    *isnull = lance_alloc0(c->nrows + 1, err);
		bool		ok;
		int			o = 0;

		if (ends == NULL || isnull == NULL)
			return false;
		ok = list_rows(m, c, ends, isnull, err) &&
			list_column(s, &out[o++], ends, isnull, c->nrows, err);
		lance_free(ends);
		lance_free(isnull);
		if (ok && c->nlayers == 3)
			ok = struct_column(&out[o++], c->n, err);
		for (i = 0; ok && i < k; i++)
			ok = leaf_column(s, &out[o++], &cols[i], cols[i].n, err);
		*nout = o;
		return ok;
	}
}

/* Global buffer 0: FileDescriptor with the file's fields (by id) and row count. */
static bool
file_descriptor(LanceBuf *out, const LanceManifest *m, const int32_t *ids, int nids,
				uint64_t nrows, LanceError *err)
{
	int		   *fidx = lance_alloc_array(nids + 1, sizeof(int), err);
	bool		ok = fidx != NULL;

	for (int i = 0; ok && i < nids; i++)
	{
		int			j;

		for (j = 0; j < m->nfields && m->fields[j].id != ids[i]; j++)
			;
		if (j == m->nfields)
			ok = lance_fail(err, "field id %d is not in the schema", ids[i]);
		else
			fidx[i] = j;
	}
	if (ok)
		ok = lance_file_descriptor(out, m, fidx, nids, nrows, err);
	lance_free(fidx);
	return ok;
}

bool
lance_encode_file20(LanceBuf *file, int fd, const char *path, const LanceManifest *m,
					LanceColBuf *cols, int ncols, LanceError *err)
{
	Sink		s = {file, fd, path, 0};
	uint64_t	nrows = ncols > 0 ? lance_colbuf_rows(&cols[0]) : 0;
	int32_t    *ids;
	int			nids;
	Column	   *columns;
	LanceBuf   *metas;
	int			ncolumns = 0;
	int			maxcols;
	uint64_t	gb_pos,
				gb_len,
				cm_start,
				cmo,
				gbo;
	uint64_t   *cm_pos;
	int			i;
	bool		ok = false;

	for (i = 0; i < ncols; i++)
		if (lance_colbuf_rows(&cols[i]) != nrows)
			return lance_fail(err, "columns of different lengths");
	if (!lance_write20_supports(m, cols, ncols, err))
		return false;
	ids = lance_alloc_array(m->nfields + 1, sizeof(int32_t), err);
	if (ids == NULL)
		return false;
	nids = lance_file20_field_ids(m, cols, ncols, ids);
	/* room for what field_columns makes before the count is checked */
	maxcols = nids + 2 * ncols + 1;
	columns = lance_alloc0(sizeof(Column) * maxcols, err);
	metas = lance_alloc0(sizeof(LanceBuf) * maxcols, err);
	cm_pos = lance_alloc_array(maxcols, sizeof(uint64_t), err);
	if (columns == NULL || metas == NULL || cm_pos == NULL)
		return false;

	/* data pages, field by field in the order of the field ids */
	i = 0;
	while (i < ncols)
	{
		int			top = top_field(m, &cols[i]);
		int			k = 0;
		int			nout = 0;

		while (i + k < ncols && top_field(m, &cols[i + k]) == top)
			k++;
		if (!field_columns(&s, m, &cols[i], k, &columns[ncolumns], &nout, err))
			goto done;
		ncolumns += nout;
		if (ncolumns > nids)
		{
			lance_fail(err, "more columns than fields");
			goto done;
		}
		i += k;
	}
	if (ncolumns != nids)
	{
		lance_fail(err, "%d columns for %d fields (a field type the 2.0 writer cannot handle)",
				   ncolumns, nids);
		goto done;
	}
	for (i = 0; i < ncolumns; i++)
		if (!lance_column_metadata(&metas[i], columns[i].pages, columns[i].npages, err))
			goto done;

	if (!pad(file, 64, err))
		goto done;
	gb_pos = s.base + file->len;
	if (!file_descriptor(file, m, ids, nids, nrows, err))
		goto done;
	gb_len = s.base + file->len - gb_pos;
	cm_start = s.base + file->len;
	for (i = 0; i < ncolumns; i++)
	{
		cm_pos[i] = s.base + file->len;
		if (!lance_buf_append(file, metas[i].data, metas[i].len, err))
			goto done;
	}
	cmo = s.base + file->len;
	for (i = 0; i < ncolumns; i++)
		if (!put_u64(file, cm_pos[i], err) || !put_u64(file, metas[i].len, err))
			goto done;
	gbo = s.base + file->len;
	if (!put_u64(file, gb_pos, err) || !put_u64(file, gb_len, err) ||
		!put_u64(file, cm_start, err) || !put_u64(file, cmo, err) || !put_u64(file, gbo, err))
		goto done;
	{
		uint32_t	u32[2] = {1, (uint32_t) ncolumns};
		/* format 2.0 files carry footer version 0.3 */
		uint16_t	ver[2] = {0, 3};

		if (!lance_buf_append(file, u32, 8, err) || !lance_buf_append(file, ver, 4, err) ||
			!lance_buf_append(file, "LANC", 4, err))
			goto done;
	}
	ok = true;
done:
	for (i = 0; i < maxcols; i++)
	{
		free_column(&columns[i]);
		lance_buf_free(&metas[i]);
	}
	lance_free(columns);
	lance_free(metas);
	lance_free(cm_pos);
	lance_free(ids);
	return ok;
}
