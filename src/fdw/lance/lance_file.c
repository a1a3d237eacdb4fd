/*
 * lance_file.c
 *	  Lance v2 data files: footer, column metadata, pages, and assembly of
 *	  decoded leaf columns into vectors (lists and structs from rep/def
 *	  levels).
 *
 * File layout (all little-endian):
 *	 data buffers | global buffers | column metadata | column metadata
 *	 offset table (u64 pos, u64 len) x ncols | global buffer offset table
 *	 (u64 pos, u64 len) x nglobal | 40-byte footer: u64 column meta start,
 *	 u64 cmo table, u64 gbo table, u32 nglobal, u32 ncols, u16 major,
 *	 u16 minor, "LANC".  Global buffer 0 is the FileDescriptor (schema and
 *	 row count).
 */
#include "lance_file.h"
#include "lance_page.h"
#include "lance_pb.h"

#define FOOTER_LEN	40
#define PAGE_LAYOUT_URL "/lance.encodings21.PageLayout"
#define ARRAY_ENCODING_URL "/lance.encodings.ArrayEncoding"

void
lance_vector_free(LanceVector *v)
{
	int			i;

	if (v == NULL)
		return;
	lance_free(v->validity);
	lance_free(v->values);
	lance_free(v->offsets);
	for (i = 0; i < v->nchildren; i++)
		lance_vector_free(&v->children[i]);
	lance_free(v->children);
	memset(v, 0, sizeof(*v));
}

static void
free_column(LanceColumn *c)
{
	int			i;

	for (i = 0; i < c->npages; i++)
		if (c->pages[i].encoding_owner)
			lancepb__any__free_unpacked(c->pages[i].encoding_owner, &lance_pb_allocator);
	lance_free(c->pages);
	if (c->pb)
		lancepb__column_metadata__free_unpacked(c->pb, &lance_pb_allocator);
	memset(c, 0, sizeof(*c));
}

void
lance_file_close(LanceFileReader *f)
{
	uint32_t	i;

	if (f->columns)
		for (i = 0; i < f->ncolumns; i++)
			free_column(&f->columns[i]);
	lance_free(f->columns);
	f->columns = NULL;
	lance_free(f->batch_start);
	f->batch_start = NULL;
	lance_reader_close(&f->r);
}

static bool
load_column(LanceFileReader *f, uint32_t idx, uint64_t pos, uint64_t len, LanceError *err)
{
	LanceColumn *c = &f->columns[idx];
	Lancepb__ColumnMetadata *cm;
	uint8_t    *raw;
	size_t		i;
	uint64_t	row = 0;

	if (len > LANCE_MAX_PB_BYTES)
		return lance_fail(err, "column %u metadata is too large", idx);
	raw = lance_reader_read_alloc(&f->r, pos, len, err);
	if (raw == NULL)
		return false;
	cm = lancepb__column_metadata__unpack(&lance_pb_allocator, len, raw);
	lance_free(raw);
	if (cm == NULL)
		return lance_fail(err, "file \"%s\": invalid metadata of column %u", f->r.name, idx);
	c->pb = cm;
	c->npages = (int) cm->n_pages;
	c->pages = lance_alloc_array(cm->n_pages, sizeof(LancePage), err);
	if (c->pages == NULL)
		return false;
	for (i = 0; i < cm->n_pages; i++)
	{
		Lancepb__Page *pg = cm->pages[i];
		LancePage  *p = &c->pages[i];
		Lancepb__Any *any;
		size_t		b;

		if (pg->n_buffer_offsets != pg->n_buffer_sizes || pg->n_buffer_offsets > 16)
			return lance_fail(err, "file \"%s\": column %u page %zu has an invalid buffer table",
							  f->r.name, idx, i);
		for (b = 0; b < pg->n_buffer_offsets; b++)
			if (!lance_range_ok(pg->buffer_offsets[b], pg->buffer_sizes[b], f->r.size))
				return lance_fail(err, "file \"%s\": column %u page %zu buffer %zu lies outside the file",
								  f->r.name, idx, i, b);
		if (pg->length > (UINT64_C(1) << 32) || !lance_add_u64(row, pg->length, &p->first_row))
			return lance_fail(err, "file \"%s\": column %u page %zu has %llu rows",
							  f->r.name, idx, i, (unsigned long long) pg->length);
		p->first_row = row;
		p->nrows = pg->length;
		row += pg->length;
		p->nbuffers = (int) pg->n_buffer_offsets;
		p->buf_offsets = pg->buffer_offsets;
		p->buf_sizes = pg->buffer_sizes;
		if (pg->encoding == NULL || pg->encoding->location_case != LANCEPB__COLUMN_ENCODING__LOCATION_DIRECT)
			return lance_fail(err, "file \"%s\": column %u page %zu has no direct encoding",
							  f->r.name, idx, i);
		any = lancepb__any__unpack(&lance_pb_allocator, pg->encoding->direct->encoding.len,
								   pg->encoding->direct->encoding.data);
		if (any == NULL)
			return lance_fail(err, "file \"%s\": column %u page %zu has an invalid encoding",
							  f->r.name, idx, i);
		p->encoding_owner = any;
		p->encoding = any->value.data;
		p->encoding_len = any->value.len;
		if (strcmp(any->type_url, PAGE_LAYOUT_URL) == 0)
			p->layout21 = true;
		else if (strcmp(any->type_url, ARRAY_ENCODING_URL) != 0)
			return lance_fail(err, "file \"%s\": unknown page encoding \"%s\"", f->r.name, any->type_url);
	}
	return true;
}

static bool
open_common(LanceFileReader *f, LanceError *err)
{
	uint8_t		foot[FOOTER_LEN];
	uint64_t	cmo,
				gbo;
	uint32_t	ngb,
				ncols;
	uint8_t    *tab = NULL;
	uint32_t	i;
	bool		ok = true;

	if (f->r.size < FOOTER_LEN)
		return lance_fail(err, "file \"%s\" is too short to be a Lance file", f->r.name);
	if (!lance_reader_read(&f->r, f->r.size - FOOTER_LEN, FOOTER_LEN, foot, err))
		return false;
	if (memcmp(foot + 36, "LANC", 4) != 0)
		return lance_fail(err, "file \"%s\" is not a Lance file (no LANC magic)", f->r.name);
	cmo = lance_le64(foot + 8);
	gbo = lance_le64(foot + 16);
	ngb = lance_le32(foot + 24);
	ncols = lance_le32(foot + 28);
	f->major = lance_le16(foot + 32);
	f->minor = lance_le16(foot + 34);
	/* legacy files: a 16-byte footer, [u64 metadata position][0][0.1/0.2] */
	if (f->major == 0 && f->minor < 3)
		return lance_legacy_open(f, lance_le64(foot + 24), err);
	/* format 2.0 files carry footer version 0.3 */
	if (f->major == 0 && f->minor == 3)
	{
		f->major = 2;
		f->minor = 0;
	}
	if (f->major != 2 || f->minor > 2)
		return lance_fail(err, "file \"%s\": unsupported Lance file format version %u.%u",
						  f->r.name, f->major, f->minor);
	/* both tables must fit between the data and the footer */
	if (!lance_range_ok(cmo, (uint64_t) ncols * 16, f->r.size - FOOTER_LEN) ||
		!lance_range_ok(gbo, (uint64_t) ngb * 16, f->r.size - FOOTER_LEN) || ngb == 0)
		return lance_fail(err, "file \"%s\": corrupt footer", f->r.name);

	/* FileDescriptor in global buffer 0: the row count */
	{
		uint8_t		ent[16];
		uint8_t    *raw;
		Lancepb__FileDescriptor *fd;
		uint64_t	pos,
					len;

		if (!lance_reader_read(&f->r, gbo, 16, ent, err))
			return false;
		pos = lance_le64(ent);
		len = lance_le64(ent + 8);
		if (len > LANCE_MAX_PB_BYTES)
			return lance_fail(err, "file \"%s\": file descriptor too large", f->r.name);
		raw = lance_reader_read_alloc(&f->r, pos, len, err);
		if (raw == NULL)
			return false;
		fd = lancepb__file_descriptor__unpack(&lance_pb_allocator, len, raw);
		lance_free(raw);
		if (fd == NULL)
			return lance_fail(err, "file \"%s\": invalid file descriptor", f->r.name);
		f->nrows = fd->length;
		lancepb__file_descriptor__free_unpacked(fd, &lance_pb_allocator);
	}

	f->ncolumns = ncols;
	f->columns = lance_alloc_array(ncols, sizeof(LanceColumn), err);
	if (f->columns == NULL)
		return false;
	tab = lance_reader_read_alloc(&f->r, cmo, (uint64_t) ncols * 16, err);
	if (tab == NULL)
		return false;
	for (i = 0; ok && i < ncols; i++)
		ok = load_column(f, i, lance_le64(tab + 16 * i), lance_le64(tab + 16 * i + 8), err);
	lance_free(tab);
	return ok;
}

bool
lance_file_open(LanceFileReader *f, const char *path, LanceError *err)
{
	memset(f, 0, sizeof(*f));
	if (!lance_reader_open(&f->r, path, err) || !open_common(f, err))
	{
		lance_file_close(f);
		return false;
	}
	return true;
}

bool
lance_file_open_mem(LanceFileReader *f, const uint8_t *data, uint64_t size, const char *name,
					LanceError *err)
{
	memset(f, 0, sizeof(*f));
	if (!lance_reader_open_mem(&f->r, data, size, name, err) || !open_common(f, err))
	{
		lance_file_close(f);
		return false;
	}
	return true;
}

/* ---- reading a leaf column ---- */

/* Column of field id `id` in data file `df`, -1 if the file lacks it. */
int
lance_column_of(const LanceDataFile *df, int32_t id)
{
	int			j;

	for (j = 0; j < df->nfields; j++)
		if (df->fields[j] == id)
			return df->column_indices ? df->column_indices[j] : j;
	return -1;
}

/*
 * Decodes the pages of a leaf column that overlap rows [start, end) into
 * `leaf`; [*pstart, *pend) receives the rows those whole pages hold.
 */
bool
lance_read_leaf(LanceFileReader *f, const LanceDataFile *df, const LanceField *fld,
				uint64_t start, uint64_t end, LanceLeaf *leaf, bool *absent,
				uint64_t *pstart, uint64_t *pend, LanceError *err)
{
	int			col = lance_column_of(df, fld->id);
	uint32_t	width;
	LanceColumn *c;
	int			p;

	memset(leaf, 0, sizeof(*leaf));
	*absent = false;
	*pstart = start;
	*pend = end;
	if (fld->type.kind == LANCE_T_UNSUPPORTED)
		return lance_fail(err, "column \"%s\" has unsupported type \"%s\"", fld->name, fld->logical_type);
	if (!lance_leaf_width(&fld->type, &width, err))
		return false;
	if (!lance_values_init(&leaf->v, width, err))
		return false;
	if (col < 0)
	{
		*absent = true;
		return true;
	}
	if ((uint32_t) col >= f->ncolumns)
		return lance_fail(err, "file \"%s\": field \"%s\" maps to column %d of %u",
						  f->r.name, fld->name, col, f->ncolumns);
	c = &f->columns[col];
	*pstart = *pend = start;
	for (p = 0; p < c->npages; p++)
	{
		LancePage  *pg = &c->pages[p];
		const uint8_t *bufs[16];
		uint64_t	lens[16];
		uint8_t    *owned[16];
		int			b;
		bool		ok = true;

		/* only the pages overlapping the range */
		if (pg->nrows == 0 || pg->first_row + pg->nrows <= start)
			continue;
		if (pg->first_row >= end)
			break;
		if (leaf->nlev == 0 && *pend == start)
			*pstart = pg->first_row;
		if (pg->first_row != *pend && *pend != start)
			return lance_fail(err, "file \"%s\": pages of column %d are not contiguous", f->r.name, col);
		*pend = pg->first_row + pg->nrows;
		if (!pg->layout21)
			return lance_fail(err, "file \"%s\": column %d uses the 2.0 encoding inside a %u.%u file",
							  f->r.name, col, f->major, f->minor);
		memset(owned, 0, sizeof(owned));
		for (b = 0; ok && b < pg->nbuffers; b++)
		{
			owned[b] = lance_reader_read_alloc(&f->r, pg->buf_offsets[b], pg->buf_sizes[b], err);
			ok = owned[b] != NULL;
			bufs[b] = owned[b];
			lens[b] = pg->buf_sizes[b];
		}
		if (ok)
			ok = lance_page_decode(pg->encoding, pg->encoding_len, bufs, lens, pg->nbuffers,
								   pg->nrows, &fld->type, leaf, err);
		for (b = 0; b < pg->nbuffers; b++)
			lance_free(owned[b]);
		if (!ok)
		{
			if (err && err->set && strstr(err->msg, f->r.name) == NULL)
				lance_error_prefix(err, "file \"%s\", column \"%s\", page %d: ",
								   f->r.name, fld->name, p);
			return false;
		}
	}
	return true;
}

/* Layer (0 = item) made null or empty by a canonical def level, -1 if valid. */
static inline int
def_layer(uint16_t d)
{
	return d ? (d - 1) / 2 : -1;
}

static inline bool
def_empty(uint16_t d)
{
	return d && ((d - 1) & 1);
}

/*
 * Mark row i of v (n rows) NULL, allocating an all-valid bitmap on first
 * use.
 */
bool
lance_vector_set_null(LanceVector *v, uint64_t i, uint64_t n, LanceError *err)
{
	if (v->validity == NULL)
	{
		v->validity = lance_alloc((n + 7) / 8, err);
		if (v->validity == NULL)
			return false;
		memset(v->validity, 0xff, (n + 7) / 8);
	}
	v->validity[i >> 3] &= (uint8_t) ~(1 << (i & 7));
	return true;
}

static int
field_depth(const LanceManifest *m, int idx)
{
	int			d = 0;

	for (idx = m->fields[idx].parent; idx >= 0; idx = m->fields[idx].parent)
		d++;
	return d;
}

/* Moves decoded values into a vector (fixed or variable width). */
static void
take_values(LanceVector *out, LanceLeaf *leaf, const LanceType *t)
{
	out->type = *t;
	out->width = leaf->v.width;
	out->n = leaf->v.width ? leaf->v.len / leaf->v.width : leaf->v.n;
	out->values = leaf->v.data;
	out->values_len = leaf->v.len;
	out->offsets = leaf->v.width ? NULL : leaf->v.off;
	leaf->v.data = NULL;
	if (!leaf->v.width)
		leaf->v.off = NULL;
}

/* An all-null vector of n rows (a field missing from this data file). */
bool
lance_null_vector(const LanceManifest *m, int idx, uint64_t n, LanceVector *out, LanceError *err)
{
	const LanceField *fld = &m->fields[idx];
	int			i;

	memset(out, 0, sizeof(*out));
	out->type = fld->type;
	out->n = n;
	out->validity = lance_alloc0((n + 7) / 8, err);
	if (out->validity == NULL)
		return false;
	if (fld->type.kind == LANCE_T_STRUCT || fld->type.kind == LANCE_T_LIST ||
		fld->type.kind == LANCE_T_LARGE_LIST)
	{
		if (fld->type.kind != LANCE_T_STRUCT)
		{
			out->offsets = lance_alloc_array(n + 1, sizeof(uint64_t), err);
			if (out->offsets == NULL)
				return false;
		}
		out->nchildren = fld->nchildren;
		out->children = lance_alloc_array(fld->nchildren, sizeof(LanceVector), err);
		if (out->children == NULL)
			return false;
		for (i = 0; i < fld->nchildren; i++)
			if (!lance_null_vector(m, fld->children[i], fld->type.kind == LANCE_T_STRUCT ? n : 0,
							 &out->children[i], err))
				return false;
		return true;
	}
	if (!lance_leaf_width(&fld->type, &out->width, err))
		return false;
	if (out->width)
	{
		out->values = lance_alloc_array(n, out->width, err);
		out->values_len = n * out->width;
		return out->values != NULL;
	}
	out->offsets = lance_alloc_array(n + 1, sizeof(uint64_t), err);
	return out->offsets != NULL;
}

/* Number of list layers between a leaf and the top. */
static int
list_ancestors(const LanceManifest *m, int idx)
{
	int			n = 0;

	for (idx = m->fields[idx].parent; idx >= 0; idx = m->fields[idx].parent)
		if (m->fields[idx].type.kind == LANCE_T_LIST || m->fields[idx].type.kind == LANCE_T_LARGE_LIST)
			n++;
	return n;
}

static bool
check_layers(const LanceManifest *m, int leaf_idx, const LanceLeaf *leaf, LanceError *err)
{
	int			depth = field_depth(m, leaf_idx);

	if (leaf->nlayers != 0 && leaf->nlayers != depth + 1)
		return lance_fail(err, "column \"%s\" has %d rep/def layers for nesting depth %d",
						  m->fields[leaf_idx].name, leaf->nlayers, depth);
	return true;
}

/* A leaf that is not inside a list: one level per row. */
static bool
assemble_flat_leaf(const LanceManifest *m, int idx, LanceLeaf *leaf, uint64_t nrows,
				   LanceVector *out, LanceError *err)
{
	uint64_t	i;

	if (!check_layers(m, idx, leaf, err))
		return false;
	if (leaf->rep)
		return lance_fail(err, "column \"%s\" has repetition levels outside a list", m->fields[idx].name);
	take_values(out, leaf, &m->fields[idx].type);
	if (leaf->nlev != nrows || out->n != nrows)
		return lance_fail(err, "column \"%s\" has %llu levels and %llu values for %llu rows",
						  m->fields[idx].name, (unsigned long long) leaf->nlev,
						  (unsigned long long) out->n, (unsigned long long) nrows);
	/* a vector with a NULL item reads as NULL (docs/sql-reference.md) */
	for (i = 0; i < nrows; i++)
		if ((leaf->def && leaf->def[i] != 0) || lance_values_itemnull(&leaf->v, i))
		{
			if (!lance_vector_set_null(out, i, nrows, err))
				return false;
		}
	return true;
}

/* The fixed-width rows of a packed struct's leaf; def != 0 = a null struct. */
static bool
assemble_packed_rows(LanceLeaf *leaf, uint64_t nrows, LanceVector *out, const char *name,
					 LanceError *err)
{
	uint64_t	i;

	if (leaf->rep)
		return lance_fail(err, "packed struct \"%s\" has repetition levels", name);
	out->width = leaf->v.width;
	out->n = leaf->v.width ? leaf->v.len / leaf->v.width : 0;
	out->values = leaf->v.data;
	out->values_len = leaf->v.len;
	leaf->v.data = NULL;
	if (leaf->nlev != nrows || out->n != nrows)
		return lance_fail(err, "packed struct \"%s\" has %llu levels and %llu rows for %llu",
						  name, (unsigned long long) leaf->nlev, (unsigned long long) out->n,
						  (unsigned long long) nrows);
	for (i = 0; i < nrows; i++)
		if (leaf->def && leaf->def[i] != 0 && !lance_vector_set_null(out, i, nrows, err))
			return false;
	return true;
}

/* list<leaf>: rep 1 starts a row; def says null item, null/empty list. */
static bool
assemble_list(const LanceManifest *m, int list_idx, LanceLeaf *leaf, uint64_t nrows,
			  LanceVector *out, LanceError *err)
{
	int			item_idx = m->fields[list_idx].children[0];
	uint64_t	i;
	uint64_t	row = 0;
	uint64_t	item = 0;
	uint64_t	nvals;
	LanceVector *child;

	if (!check_layers(m, item_idx, leaf, err))
		return false;
	memset(out, 0, sizeof(*out));
	out->type = m->fields[list_idx].type;
	out->n = nrows;
	out->offsets = lance_alloc_array(nrows + 1, sizeof(uint64_t), err);
	out->children = lance_alloc_array(1, sizeof(LanceVector), err);
	if (out->offsets == NULL || out->children == NULL)
		return false;
	out->nchildren = 1;
	child = &out->children[0];
	nvals = leaf->v.width ? leaf->v.len / leaf->v.width : leaf->v.n;
	for (i = 0; i < leaf->nlev; i++)
	{
		uint16_t	d = leaf->def ? leaf->def[i] : 0;
		uint16_t	r = leaf->rep ? leaf->rep[i] : 1;
		int			layer;

		if (def_layer(d) >= leaf->nlayers)
			return lance_fail(err, "column \"%s\": definition level %u out of range",
							  m->fields[item_idx].name, d);
		if (r > 1)
			return lance_fail(err, "column \"%s\": repetition level %u out of range",
							  m->fields[item_idx].name, r);
		if (r == 1 || i == 0)
		{
			if (r != 1 || row >= nrows)
				return lance_fail(err, "column \"%s\": levels do not match %llu rows",
								  m->fields[item_idx].name, (unsigned long long) nrows);
			out->offsets[row] = item;
			row++;
		}
		layer = def_layer(d);
		if (layer >= 1)
		{
			/* null or empty list (or a null ancestor): no item */
			if ((layer > 1 || !def_empty(d)) && !lance_vector_set_null(out, row - 1, nrows, err))
				return false;
			continue;
		}
		if (item >= nvals)
			return lance_fail(err, "column \"%s\": more items than values", m->fields[item_idx].name);
		if ((layer == 0 || lance_values_itemnull(&leaf->v, item)) &&
			!lance_vector_set_null(child, item, nvals, err))
			return false;
		item++;
	}
	if (row != nrows || item != nvals)
		return lance_fail(err, "column \"%s\": %llu rows / %llu items decoded, expected %llu / %llu",
						  m->fields[item_idx].name, (unsigned long long) row, (unsigned long long) item,
						  (unsigned long long) nrows, (unsigned long long) nvals);
	out->offsets[nrows] = item;
	{
		uint8_t    *val = child->validity;

		take_values(child, leaf, &m->fields[item_idx].type);
		child->validity = val;
	}
	return true;
}

/*
 * Whether field idx (not inside a list) needs the general assembly from
 * levels: a list whose item is not a leaf, or a struct holding a list
 * anywhere below.  Plain leaves, list<leaf> and structs of those take the
 * page-at-a-time paths here.
 */
static bool
has_list_below(const LanceManifest *m, int idx)
{
	const LanceField *fld = &m->fields[idx];
	int			i;

	if (fld->type.kind != LANCE_T_STRUCT && fld->type.kind != LANCE_T_LIST &&
		fld->type.kind != LANCE_T_LARGE_LIST)
		return false;
	if (fld->type.kind != LANCE_T_STRUCT)
		return true;
	for (i = 0; i < fld->nchildren; i++)
		if (has_list_below(m, fld->children[i]))
			return true;
	return false;
}

static bool
needs_levels(const LanceManifest *m, int idx)
{
	const LanceField *fld = &m->fields[idx];

	if (list_ancestors(m, idx) > 0)
		return true;
	if (fld->type.kind == LANCE_T_LIST || fld->type.kind == LANCE_T_LARGE_LIST)
		return fld->nchildren == 1 && (m->fields[fld->children[0]].type.kind == LANCE_T_STRUCT ||
									   has_list_below(m, fld->children[0]));
	return fld->type.kind == LANCE_T_STRUCT && has_list_below(m, idx);
}

static bool read_field_rows(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df,
							int idx, uint64_t start, uint64_t end, LanceVector *out,
							uint64_t *span, LanceError *err);

/*
 * Validity of struct `idx` (rows [start, end) in `out`) from the def levels
 * of its first leaf.
 */
static bool
struct_validity(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df, int idx,
				uint64_t start, uint64_t end, LanceVector *out, LanceError *err)
{
	int			leaf_idx = idx;
	LanceLeaf	leaf;
	bool		absent;
	int			k;
	uint64_t	i,
				row,
				ps,
				pe;
	uint64_t	nrows = end - start;
	bool		ok = true;

	while (m->fields[leaf_idx].type.kind == LANCE_T_STRUCT ||
		   m->fields[leaf_idx].type.kind == LANCE_T_LIST ||
		   m->fields[leaf_idx].type.kind == LANCE_T_LARGE_LIST)
	{
		if (m->fields[leaf_idx].nchildren == 0)
			return true;		/* an empty struct: all valid */
		leaf_idx = m->fields[leaf_idx].children[0];
	}
	if (!lance_read_leaf(f, df, &m->fields[leaf_idx], start, end, &leaf, &absent, &ps, &pe, err))
	{
		lance_leaf_free(&leaf);
		return false;
	}
	if (absent || leaf.def == NULL)
	{
		lance_leaf_free(&leaf);
		return true;
	}
	ok = check_layers(m, leaf_idx, &leaf, err);
	k = field_depth(m, leaf_idx) - field_depth(m, idx);
	row = ps;
	for (i = 0; ok && i < leaf.nlev; i++)
	{
		uint16_t	d = leaf.def[i];

		/* only the first level of each row describes the struct */
		if (leaf.rep && leaf.rep[i] == 0 && i > 0)
			continue;
		if (def_layer(d) >= leaf.nlayers || row >= pe)
		{
			ok = lance_fail(err, "column \"%s\": invalid levels", m->fields[leaf_idx].name);
			break;
		}
		if (d != 0 && def_layer(d) >= k && row >= start && row < end)
			ok = lance_vector_set_null(out, row - start, nrows, err);
		row++;
	}
	if (ok && row != pe)
		ok = lance_fail(err, "column \"%s\": %llu rows of levels, expected %llu",
						m->fields[leaf_idx].name, (unsigned long long) (row - ps),
						(unsigned long long) (pe - ps));
	lance_leaf_free(&leaf);
	return ok;
}

bool
lance_struct_is_packed(const LanceManifest *m, const LanceDataFile *df, int idx)
{
	const LanceField *fld = &m->fields[idx];

	return fld->type.kind == LANCE_T_STRUCT && fld->nchildren > 0 &&
		lance_column_of(df, fld->id) >= 0 &&
		lance_column_of(df, m->fields[fld->children[0]].id) < 0;
}

bool
lance_packed_width(const LanceManifest *m, int idx, uint32_t *width, LanceError *err)
{
	const LanceField *fld = &m->fields[idx];
	uint64_t	sum = 0;
	int			i;

	for (i = 0; i < fld->nchildren; i++)
	{
		const LanceField *c = &m->fields[fld->children[i]];
		uint32_t	w;

		if (c->type.kind == LANCE_T_BOOL || c->type.kind == LANCE_T_STRUCT ||
			!lance_leaf_width(&c->type, &w, err) || w == 0)
			return lance_fail(err, "packed struct \"%s\": member \"%s\" is not fixed-width",
							  fld->name, c->name);
		sum += w;
	}
	if (sum == 0 || sum > (1u << 20))
		return lance_fail(err, "packed struct \"%s\" of %llu bytes per row", fld->name,
						  (unsigned long long) sum);
	*width = (uint32_t) sum;
	return true;
}

bool
lance_packed_split(const LanceManifest *m, int idx, const LanceVector *rows, LanceVector *out,
				   LanceError *err)
{
	const LanceField *fld = &m->fields[idx];
	uint32_t	w;
	uint32_t	off = 0;
	uint64_t	n = rows->n;
	int			i;

	if (!lance_packed_width(m, idx, &w, err))
		return false;
	if (rows->width != w || rows->values_len < n * (uint64_t) w)
		return lance_fail(err, "packed struct \"%s\": rows of %u bytes, expected %u",
						  fld->name, rows->width, w);
	memset(out, 0, sizeof(*out));
	out->type = fld->type;
	out->n = n;
	out->children = lance_alloc_array(fld->nchildren, sizeof(LanceVector), err);
	if (out->children == NULL)
		return false;
	out->nchildren = fld->nchildren;
	if (rows->validity)
	{
		out->validity = lance_alloc((n + 7) / 8, err);
		if (out->validity == NULL)
			return false;
		memcpy(out->validity, rows->validity, (n + 7) / 8);
	}
	for (i = 0; i < fld->nchildren; i++)
	{
		LanceVector *c = &out->children[i];
		uint32_t	cw;
		uint64_t	r;

		(void) lance_leaf_width(&m->fields[fld->children[i]].type, &cw, err);
		c->type = m->fields[fld->children[i]].type;
		c->n = n;
		c->width = cw;
		c->values = lance_alloc(n > 0 && cw > 0 ? n * cw : 1, err);
		if (c->values == NULL)
			return false;
		c->values_len = n * cw;
		for (r = 0; r < n; r++)
			memcpy(c->values + r * cw, rows->values + r * w + off, cw);
		off += cw;
	}
	return true;
}

/* Reads rows [start, end) of field idx exactly (no extra rows). */
static bool
read_field_exact(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df,
				 int idx, uint64_t start, uint64_t end, LanceVector *out, LanceError *err)
{
	uint64_t	span;

	if (!read_field_rows(f, m, df, idx, start, end, out, &span, err))
		return false;
	if (span == start && out->n == end - start)
		return true;
	return lance_vector_slice(out, start - span, end - start, err);
}

/*
 * Reads field idx for rows [start, end) into `out`, which may hold more
 * rows, as whole pages decode: *span is the row out's first entry stands for.
 */
static bool
read_field_rows(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df,
				int idx, uint64_t start, uint64_t end, LanceVector *out,
				uint64_t *span, LanceError *err)
{
	const LanceField *fld = &m->fields[idx];
	LanceLeaf	leaf;
	bool		absent;
	bool		ok;
	int			i;
	uint64_t	ps,
				pe;

	memset(out, 0, sizeof(*out));
	*span = start;
	if (needs_levels(m, idx))
		return lance_read_nested(f, m, df, idx, start, end, out, span, err);
	if (lance_struct_is_packed(m, df, idx))
	{
		LanceField	rows = *fld;

		/* one leaf column of the children's bytes zipped row by row */
		if (!lance_packed_width(m, idx, &rows.type.width, err))
			return false;
		rows.type.kind = LANCE_T_FIXED_BINARY;
		if (!lance_read_leaf(f, df, &rows, start, end, &leaf, &absent, &ps, &pe, err))
		{
			lance_leaf_free(&leaf);
			return false;
		}
		if (absent || ps > start || pe < end)
			ok = lance_fail(err, "file \"%s\": column \"%s\" has fewer rows than the file",
							f->r.name, fld->name);
		else
		{
			LanceVector packed = {0};

			ok = assemble_packed_rows(&leaf, pe - ps, &packed, fld->name, err) &&
				lance_packed_split(m, idx, &packed, out, err);
			lance_vector_free(&packed);
			*span = ps;
		}
		lance_leaf_free(&leaf);
		return ok;
	}
	if (fld->type.kind == LANCE_T_STRUCT)
	{
		out->type = fld->type;
		out->n = end - start;
		out->children = lance_alloc_array(fld->nchildren, sizeof(LanceVector), err);
		if (out->children == NULL)
			return false;
		out->nchildren = fld->nchildren;
		/* children's pages split apart: each is cut to the exact rows */
		for (i = 0; i < fld->nchildren; i++)
			if (!read_field_exact(f, m, df, fld->children[i], start, end, &out->children[i], err))
				return false;
		return struct_validity(f, m, df, idx, start, end, out, err);
	}
	if (fld->type.kind == LANCE_T_LIST || fld->type.kind == LANCE_T_LARGE_LIST)
	{
		int			item;

		if (fld->nchildren != 1)
			return lance_fail(err, "list column \"%s\" has %d children", fld->name, fld->nchildren);
		item = fld->children[0];
		if (!lance_read_leaf(f, df, &m->fields[item], start, end, &leaf, &absent, &ps, &pe, err))
		{
			lance_leaf_free(&leaf);
			return false;
		}
		if (absent)
			ok = lance_null_vector(m, idx, end - start, out, err);
		else if (ps > start || pe < end)
			ok = lance_fail(err, "file \"%s\": column \"%s\" has fewer rows than the file",
							f->r.name, fld->name);
		else
		{
			ok = assemble_list(m, idx, &leaf, pe - ps, out, err);
			*span = ps;
		}
		lance_leaf_free(&leaf);
		return ok;
	}
	if (!lance_read_leaf(f, df, fld, start, end, &leaf, &absent, &ps, &pe, err))
	{
		lance_leaf_free(&leaf);
		return false;
	}
	if (absent)
		ok = lance_null_vector(m, idx, end - start, out, err);
	else if (ps > start || pe < end)
		ok = lance_fail(err, "file \"%s\": column \"%s\" has fewer rows than the file",
						f->r.name, fld->name);
	else
	{
		ok = assemble_flat_leaf(m, idx, &leaf, pe - ps, out, err);
		*span = ps;
	}
	lance_leaf_free(&leaf);
	return ok;
}

/* Keeps rows [off, off + n) of v (recursively for lists and structs). */
bool
lance_vector_slice(LanceVector *v, uint64_t off, uint64_t n, LanceError *err)
{
	uint64_t	i;

	if (off > v->n || n > v->n - off)
		return lance_fail(err, "slice [%llu, +%llu) of %llu rows", (unsigned long long) off,
						  (unsigned long long) n, (unsigned long long) v->n);
	if (v->validity && off > 0)
	{
		for (i = 0; i < n; i++)
		{
			uint64_t	j = off + i;
			bool		valid = (v->validity[j >> 3] >> (j & 7)) & 1;

			if (valid)
				v->validity[i >> 3] |= (uint8_t) (1 << (i & 7));
			else
				v->validity[i >> 3] &= (uint8_t) ~(1 << (i & 7));
		}
	}
	if (v->type.kind == LANCE_T_STRUCT)
	{
		for (i = 0; i < (uint64_t) v->nchildren; i++)
			if (!lance_vector_slice(&v->children[i], off, n, err))
				return false;
	}
	else if (v->offsets)
	{
		uint64_t	base = v->offsets[off];
		uint64_t	last = v->offsets[off + n];

		if (base > last)
			return lance_fail(err, "offsets out of order");
		for (i = 0; i <= n; i++)
			v->offsets[i] = v->offsets[off + i] - base;
		if (v->nchildren == 1)
		{
			if (!lance_vector_slice(&v->children[0], base, last - base, err))
				return false;
		}
		else if (v->values)
		{
			if (last > v->values_len)
				return lance_fail(err, "offsets beyond the values");
			memmove(v->values, v->values + base, last - base);
			v->values_len = last - base;
		}
	}
	else if (v->width && v->values)
	{
		memmove(v->values, v->values + off * v->width, n * v->width);
		v->values_len = n * v->width;
	}
	v->n = n;
	return true;
}

bool
lance_read_field_range(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df,
					   int field_index, uint64_t start, uint64_t end, LanceVector *out,
					   uint64_t *span, LanceError *err)
{
	bool		ok;

	memset(out, 0, sizeof(*out));
	*span = start;
	if (field_index < 0 || field_index >= m->nfields)
		return lance_fail(err, "invalid field index %d", field_index);
	if (f->major == 0 && df->major == 0 && df->minor < 3)
		return lance_read_legacy_field(f, m, df, field_index, start, end, out, span, err);
	if (df->major != f->major || df->minor != f->minor)
		return lance_fail(err, "file \"%s\" is format %u.%u but the manifest says %u.%u",
						  f->r.name, f->major, f->minor, df->major, df->minor);
	if (start > end || end > f->nrows)
		return lance_fail(err, "file \"%s\" has %llu rows, rows [%llu, %llu) were asked for",
						  f->r.name, (unsigned long long) f->nrows, (unsigned long long) start,
						  (unsigned long long) end);
	if (f->minor == 0)
		ok = lance_read20_field(f, m, df, field_index, start, end, out, span, err);
	else
		ok = read_field_rows(f, m, df, field_index, start, end, out, span, err);
	if (ok && (*span > start || out->n < end - *span))
		ok = lance_fail(err, "file \"%s\": rows [%llu, %llu) decoded for [%llu, %llu)", f->r.name,
						(unsigned long long) *span, (unsigned long long) (*span + out->n),
						(unsigned long long) start, (unsigned long long) end);
	if (!ok)
		lance_vector_free(out);
	return ok;
}

bool
lance_read_field(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df,
				 int field_index, LanceVector *out, LanceError *err)
{
	uint64_t	span;

	if (!lance_read_field_range(f, m, df, field_index, 0, f->nrows, out, &span, err))
		return false;
	if (span != 0 || out->n != f->nrows)
	{
		lance_fail(err, "file \"%s\": %llu rows decoded of %llu", f->r.name,
				   (unsigned long long) out->n, (unsigned long long) f->nrows);
		lance_vector_free(out);
		return false;
	}
	return true;
}

bool
lance_fuzz_decode_page(const uint8_t *layout, uint64_t layout_len,
					   const uint8_t *const *bufs, const uint64_t *buf_lens,
					   int nbufs, uint64_t nrows, const LanceType *t, LanceError *err)
{
	LanceLeaf	leaf;
	uint32_t	width;
	bool		ok;

	memset(&leaf, 0, sizeof(leaf));
	if (!lance_leaf_width(t, &width, err) || !lance_values_init(&leaf.v, width, err))
		return false;
	ok = lance_page_decode(layout, layout_len, bufs, buf_lens, nbufs, nrows, t, &leaf, err);
	lance_leaf_free(&leaf);
	return ok;
}
