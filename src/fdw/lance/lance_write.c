/*
 * lance_write.c
 *	  Encoding data files of Lance format 2.1 / 2.2 from buffered rows.
 *
 * Every leaf column becomes mini-block pages with plain encodings that
 * LanceDB reads: flat values (1 bit for bools), `variable` with u32 offsets
 * for strings and binaries, `fixed_size_list` of flat items for vectors.
 * Nulls are u16 definition levels (0 valid, 1 null) in pages that have any;
 * null slots keep zeroed values.  No compression: the writer favours
 * simplicity and speed over size.
 *
 * File: data buffers (64-byte aligned) | global buffer 0 = FileDescriptor
 * (schema of the written fields, row count) | ColumnMetadata x ncols |
 * column metadata offset table | global buffer offset table | 40-byte footer.
 */
#include "lance_write.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lance_file.h"
#include "lance_pb.h"

#define PAGE_LAYOUT_URL "/lance.encodings21.PageLayout"
#define COLUMN_ENCODING_URL "/lance.encodings.ColumnEncoding"

/* Rows per mini-block chunk: a power of two up to this. */
#define MAX_CHUNK_LOG	12
/* Bytes of one page's chunk data before a new page starts. */
#define PAGE_TARGET_BYTES	(UINT64_C(8) << 20)

#define LAYER_ALL_VALID_ITEM	1
#define LAYER_NULLABLE_ITEM		3
#define LANCE_LAYER_EMPTYABLE_LIST		5
#define LANCE_LAYER_NULL_AND_EMPTY_LIST	6

/* ---- byte buffers ---- */

bool
lance_buf_reserve(LanceBuf *b, uint64_t extra, LanceError *err)
{
	uint64_t	need;
	uint64_t	cap;
	uint8_t    *p;

	if (!lance_add_u64(b->len, extra, &need))
		return lance_fail(err, "buffer size overflow");
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > (UINT64_MAX >> 1) ? need : cap * 2;
	p = lance_realloc(b->data, cap, err);
	if (p == NULL)
		return false;
	b->data = p;
	b->cap = cap;
	return true;
}

bool
lance_buf_append(LanceBuf *b, const void *p, uint64_t n, LanceError *err)
{
	if (!lance_buf_reserve(b, n, err))
		return false;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return true;
}

bool
lance_buf_zero(LanceBuf *b, uint64_t n, LanceError *err)
{
	if (!lance_buf_reserve(b, n, err))
		return false;
	memset(b->data + b->len, 0, n);
	b->len += n;
	return true;
}

void
lance_buf_free(LanceBuf *b)
{
	if (b->data)
		lance_free(b->data);
	memset(b, 0, sizeof(*b));
}

static bool
buf_pad(LanceBuf *b, uint64_t align, uint8_t fill, LanceError *err)
{
	uint64_t	n = (align - b->len % align) % align;

	if (!lance_buf_reserve(b, n, err))
		return false;
	memset(b->data + b->len, fill, n);
	b->len += n;
	return true;
}

static bool
buf_u16(LanceBuf *b, uint16_t v, LanceError *err)
{
	uint8_t		x[2] = {(uint8_t) v, (uint8_t) (v >> 8)};

	return lance_buf_append(b, x, 2, err);
}

static bool
buf_u32(LanceBuf *b, uint32_t v, LanceError *err)
{
	return lance_buf_append(b, &v, 4, err);
}

static bool
buf_u64(LanceBuf *b, uint64_t v, LanceError *err)
{
	return lance_buf_append(b, &v, 8, err);
}

bool
lance_buf_pb(LanceBuf *b, const ProtobufCMessage *msg, LanceError *err)
{
	size_t		n = protobuf_c_message_get_packed_size(msg);

	if (!lance_buf_reserve(b, n, err))
		return false;
	protobuf_c_message_pack(msg, b->data + b->len);
	b->len += n;
	return true;
}

/* ---- column buffers ---- */

bool
lance_colbuf_init(LanceColBuf *c, const LanceManifest *m, int field, LanceError *err)
{
	const LanceField *f = &m->fields[field];
	uint32_t	w;

	if (field < 0 || field >= m->nfields)
		return lance_fail(err, "bad field index %d", field);

	memset(c, 0, sizeof(*c));
	c->field = field;
	c->type = f->type;
	switch (f->type.kind)
	{
		case LANCE_T_BOOL:
			c->width = 1;
			break;
		case LANCE_T_STRING:
		case LANCE_T_LARGE_STRING:
		case LANCE_T_BINARY:
		case LANCE_T_LARGE_BINARY:
			c->width = 0;
			break;
		case LANCE_T_FIXED_BINARY:
			c->width = f->type.width;
			break;
		case LANCE_T_FSL:
			w = lance_type_fixed_width(f->type.elem);
			if (w == 0 || f->type.width == 0 || f->type.width > (1u << 20))
				return lance_fail(err, "field \"%s\" of type \"%s\" cannot be written",
								  f->name, f->logical_type);
			c->width = w * f->type.width;
			break;
		case LANCE_T_TIMESTAMP:
		case LANCE_T_DATE32:
		case LANCE_T_DATE64:
		case LANCE_T_DECIMAL128:
		default:
			w = lance_type_fixed_width(f->type.kind);
			if (w == 0)
				return lance_fail(err, "field \"%s\" of type \"%s\" cannot be written yet",
								  f->name, f->logical_type);
			c->width = w;
			break;
	}
	if (f->nchildren > 0 && f->type.kind != LANCE_T_FSL)
		return lance_fail(err, "field \"%s\" of type \"%s\" cannot be written yet",
						  f->name, f->logical_type);
	if (c->width == 0)
	{
		uint64_t	zero = 0;

		return lance_buf_append(&c->offsets, &zero, 8, err);
	}
	return true;
}

static bool
is_list_kind(const LanceField *f)
{
	return f->type.kind == LANCE_T_LIST || f->type.kind == LANCE_T_LARGE_LIST;
}

/*
 * Definition levels (layers innermost first, each nullable or emptyable
 * layer taking the next values: a null leaf, a null struct, then a null
 * list and an empty list).  layer_base is the first value of layer k.
 */
static uint16_t
layer_base(const LanceColBuf *c, int k)
{
	uint16_t	base = 1;
	int			j;

	for (j = 0; j < k; j++)
		base += c->layers[j] == LANCE_LAYER_NULL_AND_EMPTY_LIST ? 2 :
			(c->layers[j] == LAYER_ALL_VALID_ITEM ? 0 : 1);
	return base;
}

uint16_t
lance_colbuf_def(const LanceColBuf *c, int j, bool empty)
{
	int			k = c->depth - j;	/* the layer of path node j */
	uint16_t	base = layer_base(c, k);

	if (empty && c->layers[k] == LANCE_LAYER_NULL_AND_EMPTY_LIST)
		return base + 1;
	return base;
}

bool
lance_colbuf_node_nullable(const LanceColBuf *c, int j)
{
	int			k = c->depth - j;

	return c->layers[k] == LAYER_NULLABLE_ITEM || c->layers[k] == LANCE_LAYER_NULL_AND_EMPTY_LIST;
}

bool
lance_colbuf_init_leaf(LanceColBuf *c, const LanceManifest *m, int leaf, LanceError *err)
{
	int			chain[LANCE_WRITE_MAX_DEPTH];
	int			n = 0;
	int			a,
				j,
				k;

	if (leaf < 0 || leaf >= m->nfields)
		return lance_fail(err, "bad field index %d", leaf);
	for (a = leaf; a >= 0; a = m->fields[a].parent)
	{
		if (n == LANCE_WRITE_MAX_DEPTH)
			return lance_fail(err, "field \"%s\" is nested more than %d levels deep",
							  m->fields[leaf].name, LANCE_WRITE_MAX_DEPTH);
		if (a >= m->nfields)
			return lance_fail(err, "bad field index %d", a);
		chain[n++] = a;
	}
	if (!lance_colbuf_init(c, m, leaf, err))
		return false;
	c->depth = n - 1;
	c->nlayers = n;
	c->nlists = 0;
	for (j = 0; j < n; j++)
	{
		const LanceField *f = &m->fields[chain[n - 1 - j]];

		c->path[j] = chain[n - 1 - j];
		k = n - 1 - j;
		if (j < n - 1 && is_list_kind(f))
		{
			if (f->nchildren != 1 || f->children[0] != chain[n - 2 - j])
				return lance_fail(err, "list field \"%s\" has no item field", f->name);
			c->layers[k] = f->nullable ? LANCE_LAYER_NULL_AND_EMPTY_LIST : LANCE_LAYER_EMPTYABLE_LIST;
			c->nlists++;
		}
		else if (j < n - 1 && f->type.kind != LANCE_T_STRUCT)
			return lance_fail(err, "field \"%s\" of type \"%s\" cannot be written yet",
							  f->name, f->logical_type);
		else
			c->layers[k] = f->nullable ? LAYER_NULLABLE_ITEM : LAYER_ALL_VALID_ITEM;
	}
	c->repeated = c->nlists > 0;
	/* a level hides the leaf's slot from the innermost list outwards */
	c->max_slot_def = UINT16_MAX;
	for (k = 0; k < n; k++)
		if (c->layers[k] == LANCE_LAYER_NULL_AND_EMPTY_LIST || c->layers[k] == LANCE_LAYER_EMPTYABLE_LIST)
		{
			c->max_slot_def = layer_base(c, k) - 1;
			break;
		}
	return true;
}

bool
lance_colbuf_level(LanceColBuf *c, uint16_t rep, uint16_t def, const void *value, uint64_t len,
				   LanceError *err)
{
	if ((c->repeated && !lance_buf_append(&c->rep, &rep, 2, err)) ||
		!lance_buf_append(&c->def, &def, 2, err))
		return false;
	if (def <= c->max_slot_def && !lance_colbuf_push(c, value, len, def != 0, err))
		return false;
	if (!c->repeated || rep == c->nlists)
		c->nrows++;
	return true;
}

bool
lance_colbuf_simple_shape(const LanceColBuf *c, const LanceManifest *m)
{
	if (c->nlayers == 0)
		return true;
	if (c->depth == 1)
		return true;
	return c->depth == 2 && is_list_kind(&m->fields[c->path[0]]) &&
		m->fields[c->path[1]].type.kind == LANCE_T_STRUCT;
}

/* The layout of the older, fixed-shape initializers: the same as init_leaf. */
bool
lance_colbuf_init_list(LanceColBuf *c, const LanceManifest *m, int field, LanceError *err)
{
	const LanceField *f;
	const LanceField *item;

	if (field < 0 || field >= m->nfields)
		return lance_fail(err, "bad field index %d", field);
	f = &m->fields[field];
	if (!is_list_kind(f) || f->nchildren != 1)
		return lance_fail(err, "field \"%s\" is not a list", f->name);
	item = &m->fields[f->children[0]];
	if (item->nchildren > 0 && item->type.kind != LANCE_T_FSL)
		return lance_fail(err, "field \"%s\" is not a list of leaves", f->name);
	return lance_colbuf_init_leaf(c, m, f->children[0], err);
}

bool
lance_colbuf_init_list_member(LanceColBuf *c, const LanceManifest *m, int field, int child,
							  LanceError *err)
{
	const LanceField *f;
	const LanceField *item;

	if (field < 0 || field >= m->nfields)
		return lance_fail(err, "bad field index %d", field);
	f = &m->fields[field];
	if (!is_list_kind(f) || f->nchildren != 1)
		return lance_fail(err, "field \"%s\" is not a list", f->name);
	item = &m->fields[f->children[0]];
	if (item->type.kind != LANCE_T_STRUCT || child < 0 || child >= item->nchildren)
		return lance_fail(err, "field \"%s\" is not a list of structs", f->name);
	return lance_colbuf_init_leaf(c, m, item->children[child], err);
}

bool
lance_colbuf_init_struct_child(LanceColBuf *c, const LanceManifest *m, int field, int child,
							   LanceError *err)
{
	const LanceField *f;

	if (field < 0 || field >= m->nfields)
		return lance_fail(err, "bad field index %d", field);
	f = &m->fields[field];
	if (f->type.kind != LANCE_T_STRUCT || child < 0 || child >= f->nchildren)
		return lance_fail(err, "field \"%s\" is not a struct", f->name);
	return lance_colbuf_init_leaf(c, m, f->children[child], err);
}

/*
 * The fixed-shape pushes: a leaf (layer 0) under one struct (layer 1) and
 * at most one list (the outermost layer).
 */
static bool
push_member(LanceColBuf *c, int rep, bool struct_null, const void *value, uint64_t len,
			bool isnull, LanceError *err)
{
	uint16_t	def = 0;

	if (struct_null)
	{
		if (c->layers[1] != LAYER_NULLABLE_ITEM)
			return lance_fail(err, "null value for a non-nullable struct");
		def = layer_base(c, 1);
	}
	else if (isnull)
	{
		if (c->layers[0] != LAYER_NULLABLE_ITEM)
			return lance_fail(err, "null value for a non-nullable struct member");
		def = 1;
	}
	return lance_colbuf_level(c, (uint16_t) (rep < 0 ? 0 : rep), def, value, len, err);
}

bool
lance_colbuf_list_member(LanceColBuf *c, bool first, bool struct_null, const void *value,
						 uint64_t len, bool isnull, LanceError *err)
{
	return push_member(c, first ? 1 : 0, struct_null, value, len, isnull, err);
}

bool
lance_colbuf_struct_push(LanceColBuf *c, bool struct_null, const void *value, uint64_t len,
						 bool isnull, LanceError *err)
{
	return push_member(c, -1, struct_null, value, len, isnull, err);
}

bool
lance_colbuf_list_row(LanceColBuf *c, bool isnull, LanceError *err)
{
	if (isnull && c->layers[c->nlayers - 1] != LANCE_LAYER_NULL_AND_EMPTY_LIST)
		return lance_fail(err, "null value for a non-nullable list");
	return lance_colbuf_level(c, (uint16_t) c->nlists, lance_colbuf_def(c, 0, !isnull), NULL, 0, err);
}

bool
lance_colbuf_list_item(LanceColBuf *c, bool first, const void *value, uint64_t len,
					   bool isnull, LanceError *err)
{
	if (isnull && c->layers[0] != LAYER_NULLABLE_ITEM)
		return lance_fail(err, "null item in a list of non-nullable items");
	return lance_colbuf_level(c, first ? 1 : 0, isnull ? 1 : 0, value, len, err);
}

/* ---- nested rows from decoded vectors ---- */

/* Level(s) of node j of c's path for value i of vector v (NULL: absent). */
static bool
push_vector_node(LanceColBuf *c, const LanceManifest *m, int j, const LanceVector *v,
				 uint64_t i, uint16_t rep, LanceError *err)
{
	const LanceField *f = &m->fields[c->path[j]];

	if (v != NULL && i >= v->n)
		return lance_fail(err, "Lance field \"%s\" has fewer values than its parent", f->name);
	if (v == NULL || !lance_vector_is_valid(v, i))
	{
		if (!lance_colbuf_node_nullable(c, j))
			return lance_fail(err, "non-nullable Lance field \"%s\" has a null value", f->name);
		return lance_colbuf_level(c, rep, lance_colbuf_def(c, j, false), NULL, 0, err);
	}
	if (j == c->depth)
	{
		uint8_t		b;
		const void *p;
		uint64_t	len;

		if (c->width == 0)
		{
			if (v->offsets == NULL || v->offsets[i + 1] < v->offsets[i] ||
				v->offsets[i + 1] > v->values_len)
				return lance_fail(err, "invalid offsets in Lance field \"%s\"", f->name);
			p = v->values + v->offsets[i];
			len = v->offsets[i + 1] - v->offsets[i];
		}
		else if (c->type.kind == LANCE_T_BOOL)
		{
			b = v->values[i] ? 1 : 0;
			p = &b;
			len = 1;
		}
		else
		{
			if (v->width != c->width || (i + 1) * v->width > v->values_len)
				return lance_fail(err, "Lance field \"%s\" has values of %u bytes, expected %u",
								  f->name, v->width, c->width);
			p = v->values + i * v->width;
			len = c->width;
		}
		return lance_colbuf_level(c, rep, 0, p, len, err);
	}
	if (is_list_kind(f))
	{
		uint64_t	b,
					e,
					k;
		int			lists_to_here = 0;
		int			q;

		if (v->offsets == NULL || v->nchildren != 1 || v->offsets[i] > v->offsets[i + 1] ||
			v->offsets[i + 1] > v->children[0].n)
			return lance_fail(err, "invalid list offsets in Lance field \"%s\"", f->name);
		b = v->offsets[i];
		e = v->offsets[i + 1];
		if (b == e)
			return lance_colbuf_level(c, rep, lance_colbuf_def(c, j, true), NULL, 0, err);
		for (q = 0; q <= j; q++)
			lists_to_here += is_list_kind(&m->fields[c->path[q]]);
		for (k = b; k < e; k++)
			if (!push_vector_node(c, m, j + 1, &v->children[0], k,
								  k == b ? rep : (uint16_t) (c->nlists - lists_to_here), err))
				return false;
		return true;
	}
	/* a struct: the member on the path */
	{
		int			k;

		for (k = 0; k < f->nchildren; k++)
			if (f->children[k] == c->path[j + 1])
				break;
		return push_vector_node(c, m, j + 1, k < v->nchildren ? &v->children[k] : NULL, i, rep, err);
	}
}

bool
lance_colbuf_push_vector(LanceColBuf *c, const LanceManifest *m, const LanceVector *top,
						 uint64_t row, LanceError *err)
{
	return push_vector_node(c, m, 0, top, row, (uint16_t) c->nlists, err);
}

/* Leaves below field idx, depth first, into cols; -1 on error. */
static int
init_leaves(LanceColBuf *cols, int ncols, const LanceManifest *m, int idx, LanceError *err)
{
	const LanceField *f = &m->fields[idx];
	int			k;

	if ((is_list_kind(f) || f->type.kind == LANCE_T_STRUCT) && f->nchildren == 0)
	{
		lance_fail(err, "field \"%s\" is an empty %s", f->name,
				   is_list_kind(f) ? "list" : "struct");
		return -1;
	}
	if (!is_list_kind(f) && f->type.kind != LANCE_T_STRUCT)
	{
		if (ncols >= m->nfields)
		{
			lance_fail(err, "too many leaves");
			return -1;
		}
		return lance_colbuf_init_leaf(&cols[ncols], m, idx, err) ? ncols + 1 : -1;
	}
	for (k = 0; k < f->nchildren; k++)
	{
		if (f->children[k] < 0 || f->children[k] >= m->nfields)
		{
			lance_fail(err, "bad field index %d", f->children[k]);
			return -1;
		}
		ncols = init_leaves(cols, ncols, m, f->children[k], err);
		if (ncols < 0)
			return -1;
	}
	return ncols;
}

int
lance_colbuf_init_field(LanceColBuf *cols, const LanceManifest *m, int field, LanceError *err)
{
	const LanceField *f;

	if (field < 0 || field >= m->nfields)
	{
		lance_fail(err, "bad field index %d", field);
		return -1;
	}
	f = &m->fields[field];
	if (is_list_kind(f) || f->type.kind == LANCE_T_STRUCT)
		return init_leaves(cols, 0, m, field, err);
	return lance_colbuf_init(&cols[0], m, field, err) ? 1 : -1;
}

void
lance_colbuf_reset(LanceColBuf *c)
{
	uint64_t	zero = 0;

	c->n = 0;
	c->nrows = 0;
	c->rep.len = 0;
	c->def.len = 0;
	c->any_null = false;
	c->valid.len = 0;
	c->data.len = 0;
	c->offsets.len = 0;
	if (c->width == 0)
		(void) lance_buf_append(&c->offsets, &zero, 8, NULL);
}

void
lance_colbuf_free(LanceColBuf *c)
{
	lance_buf_free(&c->valid);
	lance_buf_free(&c->data);
	lance_buf_free(&c->offsets);
	lance_buf_free(&c->rep);
	lance_buf_free(&c->def);
}

bool
lance_colbuf_push(LanceColBuf *c, const void *value, uint64_t len, bool isnull,
				  LanceError *err)
{
	uint8_t		v = isnull ? 0 : 1;

	if (!lance_buf_append(&c->valid, &v, 1, err))
		return false;
	if (isnull)
		c->any_null = true;
	if (c->width > 0)
	{
		if (isnull)
		{
			if (!lance_buf_zero(&c->data, c->width, err))
				return false;
		}
		else
		{
			if (len != c->width)
				return lance_fail(err, "value of %llu bytes for a field of %u bytes",
								  (unsigned long long) len, c->width);
			if (!lance_buf_append(&c->data, value, len, err))
				return false;
		}
	}
	else
	{
		uint64_t	end;

		if (!isnull && !lance_buf_append(&c->data, value, len, err))
			return false;
		end = c->data.len;
		if (!lance_buf_append(&c->offsets, &end, 8, err))
			return false;
	}
	c->n++;
	return true;
}

/* ---- mini-block pages ---- */

typedef struct ChunkShape
{
	bool		v22;			/* 2.2: u32 metadata words and buffer sizes */
	bool		def;			/* definition levels present */
} ChunkShape;

static uint64_t
pad8(uint64_t n)
{
	return (n + 7) & ~UINT64_C(7);
}

static uint64_t
value_bytes(const LanceColBuf *c, uint64_t row, uint64_t cnt)
{
	const uint64_t *off = (const uint64_t *) c->offsets.data;

	/* variable: u32 offsets, bytes, padded to the offset width (2.2 checks it) */
	if (c->width == 0)
		return (4 * (cnt + 1) + (off[row + cnt] - off[row]) + 3) & ~UINT64_C(3);
	if (c->type.kind == LANCE_T_BOOL)
		return (cnt + 7) / 8;
	return cnt * c->width;
}

static uint64_t
chunk_bytes(const LanceColBuf *c, const ChunkShape *s, uint64_t row, uint64_t cnt,
			uint64_t *vbytes)
{
	uint64_t	hdr = 2 + (s->def ? 2 : 0) + (s->v22 ? 4 : 2);

	*vbytes = value_bytes(c, row, cnt);
	return pad8(hdr) + (s->def ? pad8(2 * cnt) : 0) + pad8(*vbytes);
}

static bool write_values(LanceBuf *data, const LanceColBuf *c, uint64_t row, uint64_t cnt,
						 uint64_t vbytes, LanceError *err);

/* Appends one chunk of rows [row, row+cnt) to data. */
static bool
write_chunk(LanceBuf *data, const LanceColBuf *c, const ChunkShape *s, uint64_t row,
			uint64_t cnt, uint64_t vbytes, LanceError *err)
{
	const uint8_t *valid = c->valid.data;
	uint64_t	i;

	if (!buf_u16(data, s->def ? (uint16_t) cnt : 0, err))
		return false;
	if (s->def && !buf_u16(data, (uint16_t) (2 * cnt), err))
		return false;
	if (s->v22 ? !buf_u32(data, (uint32_t) vbytes, err) : !buf_u16(data, (uint16_t) vbytes, err))
		return false;
	if (!buf_pad(data, 8, 0, err))
		return false;
	if (s->def)
	{
		for (i = 0; i < cnt; i++)
			if (!buf_u16(data, valid[row + i] ? 0 : 1, err))
				return false;
		if (!buf_pad(data, 8, 0, err))
			return false;
	}
	return write_values(data, c, row, cnt, vbytes, err);
}

/* Appends the values of slots [row, row+cnt), padded to 8 bytes. */
static bool
write_values(LanceBuf *data, const LanceColBuf *c, uint64_t row, uint64_t cnt, uint64_t vbytes,
			 LanceError *err)
{
	uint64_t	i;

	if (c->width == 0)
	{
		const uint64_t *off = (const uint64_t *) c->offsets.data;
		uint32_t	base = (uint32_t) (4 * (cnt + 1));

		for (i = 0; i <= cnt; i++)
			if (!buf_u32(data, base + (uint32_t) (off[row + i] - off[row]), err))
				return false;
		if (!lance_buf_append(data, c->data.data + off[row], off[row + cnt] - off[row], err) ||
			!buf_pad(data, 4, 0, err))
			return false;
	}
	else if (c->type.kind == LANCE_T_BOOL)
	{
		uint64_t	start = data->len;

		if (!lance_buf_zero(data, vbytes, err))
			return false;
		for (i = 0; i < cnt; i++)
			if (c->data.data[row + i])
				data->data[start + i / 8] |= (uint8_t) (1 << (i % 8));
	}
	else if (!lance_buf_append(data, c->data.data + row * c->width, cnt * c->width, err))
		return false;
	return buf_pad(data, 8, 0, err);
}

static Lancepb__CompressiveEncoding *
flat_encoding(Lancepb__CompressiveEncoding *ce, Lancepb__CeFlat *flat, uint64_t bits)
{
	lancepb__ce_flat__init(flat);
	flat->bits_per_value = bits;
	lancepb__compressive_encoding__init(ce);
	ce->compression_case = LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FLAT;
	ce->flat = flat;
	return ce;
}

static bool page_encoding_levels(LanceBuf *out, const LanceColBuf *c, bool def, bool rep,
								 const int32_t *layers, int nlayers, bool v22, uint64_t nitems,
								 LanceError *err);

/* Serialized Any{PageLayout{mini_block_layout}} of one page. */
static bool
page_encoding(LanceBuf *out, const LanceColBuf *c, bool def, bool v22, uint64_t nrows,
			  LanceError *err)
{
	int32_t		layer = def ? LAYER_NULLABLE_ITEM : LAYER_ALL_VALID_ITEM;

	return page_encoding_levels(out, c, def, false, &layer, 1, v22, nrows, err);
}

/*
 * The same with repetition levels (and then a repetition index of depth 1)
 * and the given layers.
 */
static bool
page_encoding_levels(LanceBuf *out, const LanceColBuf *c, bool def, bool rep,
					 const int32_t *layers, int nlayers, bool v22, uint64_t nitems,
					 LanceError *err)
{
	Lancepb__CeFlat dflat,
				rflat,
				vflat;
	Lancepb__CompressiveEncoding dce,
				rce,
				vce,
				ice;
	Lancepb__CeVariable var;
	Lancepb__CeFixedSizeList fsl;
	Lancepb__MiniBlockLayout mb;
	Lancepb__PageLayout pl;
	Lancepb__Any any;
	LanceBuf	inner = {0};
	bool		ok;

	lancepb__mini_block_layout__init(&mb);
	if (def)
		mb.def_compression = flat_encoding(&dce, &dflat, 16);
	if (rep)
	{
		mb.rep_compression = flat_encoding(&rce, &rflat, 16);
		mb.repetition_index_depth = 1;
	}
	if (c->width == 0)
	{
		lancepb__ce_variable__init(&var);
		var.offsets = flat_encoding(&ice, &vflat, 32);
		lancepb__compressive_encoding__init(&vce);
		vce.compression_case = LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_VARIABLE;
		vce.variable = &var;
	}
	else if (c->type.kind == LANCE_T_FSL)
	{
		lancepb__ce_fixed_size_list__init(&fsl);
		fsl.items_per_value = c->type.width;
		fsl.values = flat_encoding(&ice, &vflat, 8 * (uint64_t) lance_type_fixed_width(c->type.elem));
		lancepb__compressive_encoding__init(&vce);
		vce.compression_case = LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FIXED_SIZE_LIST;
		vce.fixed_size_list = &fsl;
	}
	else
		flat_encoding(&vce, &vflat, c->type.kind == LANCE_T_BOOL ? 1 : 8 * (uint64_t) c->width);
	mb.value_compression = &vce;
	mb.n_layers = nlayers;
	mb.layers = (int32_t *) layers;
	mb.num_buffers = 1;
	mb.num_items = nitems;
	mb.has_large_chunk = v22;
	lancepb__page_layout__init(&pl);
	pl.layout_case = LANCEPB__PAGE_LAYOUT__LAYOUT_MINI_BLOCK_LAYOUT;
	pl.mini_block_layout = &mb;
	if (!lance_buf_pb(&inner, &pl.base, err))
		return false;
	lancepb__any__init(&any);
	any.type_url = PAGE_LAYOUT_URL;
	any.value.data = inner.data;
	any.value.len = inner.len;
	ok = lance_buf_pb(out, &any.base, err);
	lance_buf_free(&inner);
	return ok;
}

/* Appends a page's buffers to the file, each 64-byte aligned, recording where. */
static bool
page_buffers(LanceBuf *file, uint64_t base, LancePageOut *pg, const LanceBuf *bufs, int nbufs,
			 LanceError *err)
{
	int			i;

	pg->nbufs = nbufs;
	for (i = 0; i < nbufs; i++)
	{
		if (!buf_pad(file, 64, 0, err))
			return false;
		pg->offsets[i] = base + file->len;
		pg->sizes[i] = bufs[i].len;
		if (!lance_buf_append(file, bufs[i].data, bufs[i].len, err))
			return false;
	}
	return true;
}

/*
 * Encodes rows [r0, r1) of a column as one page appended to the file, and
 * returns in *next the row where the page stopped (pages are cut near
 * PAGE_TARGET_BYTES).
 */
static bool
write_page(LanceBuf *file, uint64_t base, const LanceColBuf *c, bool v22, uint64_t r0,
		   uint64_t r1, LancePageOut *pg, uint64_t *next, LanceError *err)
{
	LanceBuf	bufs[2] = {{0}};
	LanceBuf   *meta = &bufs[0];
	LanceBuf   *data = &bufs[1];
	ChunkShape	s;
	uint64_t	limit = v22 ? (UINT64_C(1) << 20) : UINT64_C(32768);
	uint64_t	vlimit = v22 ? UINT32_MAX : UINT16_MAX;
	uint64_t	row = r0;
	uint64_t	i;
	bool		ok = false;

	s.v22 = v22;
	s.def = false;
	/* definition levels only if this page holds a null: scan ahead a page's worth */
	for (i = r0; i < r1 && !s.def; i++)
		s.def = c->valid.data[i] == 0;

	while (row < r1 && data->len < PAGE_TARGET_BYTES)
	{
		uint64_t	remaining = r1 - row;
		uint64_t	cnt = 0,
					bytes = 0,
					vbytes = 0;
		int			log;
		bool		last = false;
		uint64_t	word;

		for (log = MAX_CHUNK_LOG; log >= 0; log--)
		{
			uint64_t	k = UINT64_C(1) << log;

			cnt = remaining < k ? remaining : k;
			bytes = chunk_bytes(c, &s, row, cnt, &vbytes);
			if (bytes <= limit && vbytes <= vlimit)
				break;
		}
		if (log < 0)
		{
			lance_fail(err, "a value of %llu bytes is too large for a Lance %s mini-block",
					   (unsigned long long) vbytes, v22 ? "2.2" : "2.1");
			goto done;
		}
		last = cnt == remaining;
		if (!write_chunk(data, c, &s, row, cnt, vbytes, err))
			goto done;
		word = ((bytes / 8 - 1) << 4) | (last ? 0 : (uint64_t) log);
		if (v22 ? !buf_u32(meta, (uint32_t) word, err) : !buf_u16(meta, (uint16_t) word, err))
			goto done;
		row += cnt;
		/* a page ends on a whole chunk; only the last chunk may be short */
		if (!last && data->len >= PAGE_TARGET_BYTES)
			break;
	}
	/* the page stopped early: its last chunk was full-sized, so it is not "last" */
	if (row < r1)
	{
		/* rewrite the final metadata word with log 0 (remainder chunk) */
		uint64_t	n = v22 ? meta->len / 4 : meta->len / 2;
		uint64_t	w = v22 ? lance_le32(meta->data + 4 * (n - 1)) : lance_le16(meta->data + 2 * (n - 1));

		w &= ~UINT64_C(15);
		if (v22)
			memcpy(meta->data + 4 * (n - 1), &(uint32_t) {(uint32_t) w}, 4);
		else
			memcpy(meta->data + 2 * (n - 1), &(uint16_t) {(uint16_t) w}, 2);
	}

	pg->first_row = r0;
	pg->nrows = row - r0;
	memset(&pg->enc, 0, sizeof(pg->enc));
	if (!page_buffers(file, base, pg, bufs, 2, err) ||
		!page_encoding(&pg->enc, c, s.def, v22, pg->nrows, err))
		goto done;
	*next = row;
	ok = true;
done:
	lance_buf_free(meta);
	lance_buf_free(data);
	return ok;
}

/*
 * Levels from `lev` up to and including the cnt-th level with a value slot
 * (items and null items; null and empty lists have none).
 */
static uint64_t
levels_for(const LanceColBuf *c, uint64_t lev, uint64_t cnt)
{
	const uint16_t *def = (const uint16_t *) c->def.data;
	uint64_t	l = lev;

	while (cnt > 0)
	{
		if (def[l] <= c->max_slot_def)
			cnt--;
		l++;
	}
	return l - lev;
}

/* Where the next page of a nested column starts. */
typedef struct NestPos
{
	uint64_t	lev;
	uint64_t	slot;
	uint64_t	row;
} NestPos;

/*
 * Levels without a slot (null or empty lists) in a row before a page is cut
 * at the next row start: a chunk holds the levels before its slots, so a
 * long run of such rows must not meet a chunk that cannot hold it (2.1
 * chunks are at most 32 KiB, ~8000 levels with rep and def).
 */
#define PAGE_CUT_RUN	4096

/*
 * The end of the page starting at *from: the row start where the values
 * reach PAGE_TARGET_BYTES or a run of slotless levels reaches PAGE_CUT_RUN
 * (else the end of the column).  *to gets the end position.
 */
static void
nested_page_end(const LanceColBuf *c, const NestPos *from, NestPos *to)
{
	const uint16_t *rep = (const uint16_t *) c->rep.data;
	const uint16_t *def = (const uint16_t *) c->def.data;
	const uint64_t *off = (const uint64_t *) c->offsets.data;
	uint64_t	total = c->def.len / 2;
	uint64_t	l = from->lev;
	uint64_t	slot = from->slot;
	uint64_t	row = from->row;
	uint64_t	run = 0;

	for (; l < total; l++)
	{
		bool		start = !c->repeated || rep[l] == c->nlists;

		if (start && l > from->lev)
		{
			uint64_t	vb = c->width ? (slot - from->slot) * c->width : off[slot] - off[from->slot];

			if (run >= PAGE_CUT_RUN || vb >= PAGE_TARGET_BYTES)
				break;
		}
		if (start)
			row++;
		if (def[l] <= c->max_slot_def)
		{
			slot++;
			run = 0;
		}
		else
			run++;
	}
	to->lev = l;
	to->slot = slot;
	to->row = row;
}

/*
 * Encodes the next page of a nested leaf (lists and structs above it) from
 * *pos, which moves on: chunks of 2^k value slots carry the levels up to
 * their last slot (the last chunk the rest), and, with lists, the
 * repetition index gives per chunk the rows that end in it and the levels
 * left over after the last row start, as LanceDB computes them.
 */
static bool
write_nested_page(LanceBuf *file, uint64_t base, const LanceColBuf *c, bool v22, NestPos *pos,
				  LancePageOut *pg, LanceError *err)
{
	LanceBuf	bufs[3] = {{0}};
	LanceBuf   *meta = &bufs[0];
	LanceBuf   *data = &bufs[1];
	LanceBuf   *rindex = &bufs[2];
	const uint16_t *rep = (const uint16_t *) c->rep.data;
	const uint16_t *def = (const uint16_t *) c->def.data;
	uint16_t	max_rep = (uint16_t) c->nlists;
	NestPos		end;
	uint64_t	limit = v22 ? (UINT64_C(1) << 20) : UINT64_C(32768);
	uint64_t	vlimit = v22 ? UINT32_MAX : UINT16_MAX;
	uint64_t	slot = pos->slot,
				lev = pos->lev;
	bool		ok = false;
	bool		last = false;

	nested_page_end(c, pos, &end);
	if (end.lev == pos->lev)
		return lance_fail(err, "column of field %d has fewer levels than rows", c->field);
	while (!last)
	{
		uint64_t	remaining = end.slot - slot;
		uint64_t	cnt = 0,
					nl = 0,
					bytes = 0,
					vbytes = 0;
		uint64_t	rows,
					left,
					i,
					word;
		int			log;

		for (log = MAX_CHUNK_LOG; log >= 0; log--)
		{
			uint64_t	k = UINT64_C(1) << log;

			cnt = remaining < k ? remaining : k;
			last = cnt == remaining;
			/* without lists every level has its slot */
			nl = last ? end.lev - lev : (c->repeated ? levels_for(c, lev, cnt) : cnt);
			vbytes = cnt > 0 ? value_bytes(c, slot, cnt) : (c->width == 0 ? 4 : 0);
			bytes = pad8(2 + (c->repeated ? 2 : 0) + 2 + (v22 ? 4 : 2)) +
				(c->repeated ? 2 : 1) * pad8(2 * nl) + pad8(vbytes);
			if (bytes <= limit && vbytes <= vlimit && nl <= 32767)
				break;
		}
		if (log < 0)
		{
			lance_fail(err, "a row with too many levels (null or empty lists) for a Lance %s mini-block chunk",
					   v22 ? "2.2" : "2.1");
			goto done;
		}
		/* header, rep, def, values */
		if (!buf_u16(data, (uint16_t) nl, err) ||
			(c->repeated && !buf_u16(data, (uint16_t) (2 * nl), err)) ||
			!buf_u16(data, (uint16_t) (2 * nl), err) ||
			(v22 ? !buf_u32(data, (uint32_t) vbytes, err) : !buf_u16(data, (uint16_t) vbytes, err)) ||
			!buf_pad(data, 8, 0, err) ||
			(c->repeated && (!lance_buf_append(data, rep + lev, 2 * nl, err) || !buf_pad(data, 8, 0, err))) ||
			!lance_buf_append(data, def + lev, 2 * nl, err) || !buf_pad(data, 8, 0, err))
			goto done;
		if (cnt > 0)
		{
			if (!write_values(data, c, slot, cnt, vbytes, err))
				goto done;
		}
		else if (c->width == 0)
		{
			/* no values: the offsets buffer still has its one offset */
			if (!buf_u32(data, 4, err) || !buf_pad(data, 8, 0, err))
				goto done;
		}
		word = ((bytes / 8 - 1) << 4) | (last ? 0 : (uint64_t) log);
		if (v22 ? !buf_u32(meta, (uint32_t) word, err) : !buf_u16(meta, (uint16_t) word, err))
			goto done;

		slot += cnt;
		if (!c->repeated)
		{
			lev += nl;
			continue;
		}
		/* repetition index: rows ending here, levels after the last row start */
		rows = 0;
		for (i = 1; i < nl; i++)
			rows += rep[lev + i] == max_rep;
		left = 0;
		if (!last)
		{
			for (i = nl; i > 0 && rep[lev + i - 1] != max_rep; i--)
				;
			left = i > 0 ? nl - (i - 1) : nl;
		}
		if (rindex->len >= 16 && nl > 0 && rep[lev] == max_rep)
		{
			uint64_t   *prev = (uint64_t *) (rindex->data + rindex->len - 16);

			if (prev[1] != 0)
			{
				prev[0]++;
				prev[1] = 0;
			}
		}
		if (last)
			rows++;
		if (!buf_u64(rindex, rows, err) || !buf_u64(rindex, left, err))
			goto done;
		lev += nl;
	}

	/* buffers: chunk metadata, chunks, repetition index (with lists) */
	pg->first_row = pos->row;
	pg->nrows = end.row - pos->row;
	memset(&pg->enc, 0, sizeof(pg->enc));
	if (!page_buffers(file, base, pg, bufs, c->repeated ? 3 : 2, err) ||
		!page_encoding_levels(&pg->enc, c, true, c->repeated, c->layers, c->nlayers, v22,
							  end.slot - pos->slot, err))
		goto done;
	*pos = end;
	ok = true;
done:
	lance_buf_free(meta);
	lance_buf_free(data);
	lance_buf_free(rindex);
	return ok;
}

bool
lance_column_metadata(LanceBuf *out, const LancePageOut *pages, int npages, LanceError *err)
{
	static const uint8_t empty_values[] = {0x0a, 0x00};
	Lancepb__Any cany;
	LanceBuf	cenc = {0};
	Lancepb__EncodingDirect cdirect;
	Lancepb__ColumnEncoding colenc;
	Lancepb__ColumnMetadata cm;
	Lancepb__Page *pgs;
	Lancepb__Page **pgp;
	Lancepb__EncodingDirect *pdirect;
	Lancepb__ColumnEncoding *penc;
	int			i;
	bool		ok;

	/* column encoding: ColumnEncoding{values: {}}, as LanceDB writes it */
	lancepb__any__init(&cany);
	cany.type_url = COLUMN_ENCODING_URL;
	cany.value.data = (uint8_t *) empty_values;
	cany.value.len = sizeof(empty_values);
	if (!lance_buf_pb(&cenc, &cany.base, err))
		return false;
	lancepb__encoding_direct__init(&cdirect);
	cdirect.encoding.data = cenc.data;
	cdirect.encoding.len = cenc.len;
	lancepb__column_encoding__init(&colenc);
	colenc.location_case = LANCEPB__COLUMN_ENCODING__LOCATION_DIRECT;
	colenc.direct = &cdirect;

	pgs = lance_alloc_array(npages + 1, sizeof(Lancepb__Page), err);
	pgp = lance_alloc_array(npages + 1, sizeof(Lancepb__Page *), err);
	pdirect = lance_alloc_array(npages + 1, sizeof(Lancepb__EncodingDirect), err);
	penc = lance_alloc_array(npages + 1, sizeof(Lancepb__ColumnEncoding), err);
	if (!pgs || !pgp || !pdirect || !penc)
		return false;
	for (i = 0; i < npages; i++)
	{
		lancepb__page__init(&pgs[i]);
		pgs[i].n_buffer_offsets = pages[i].nbufs;
		pgs[i].buffer_offsets = (uint64_t *) pages[i].offsets;
		pgs[i].n_buffer_sizes = pages[i].nbufs;
		pgs[i].buffer_sizes = (uint64_t *) pages[i].sizes;
		pgs[i].length = pages[i].nrows;
		pgs[i].priority = pages[i].first_row;
		lancepb__encoding_direct__init(&pdirect[i]);
		pdirect[i].encoding.data = pages[i].enc.data;
		pdirect[i].encoding.len = pages[i].enc.len;
		lancepb__column_encoding__init(&penc[i]);
		penc[i].location_case = LANCEPB__COLUMN_ENCODING__LOCATION_DIRECT;
		penc[i].direct = &pdirect[i];
		pgs[i].encoding = &penc[i];
		pgp[i] = &pgs[i];
	}
	lancepb__column_metadata__init(&cm);
	cm.encoding = &colenc;
	cm.n_pages = npages;
	cm.pages = pgp;
	ok = lance_buf_pb(out, &cm.base, err);
	lance_free(pgs);
	lance_free(pgp);
	lance_free(pdirect);
	lance_free(penc);
	lance_buf_free(&cenc);
	return ok;
}

bool
lance_file_descriptor(LanceBuf *out, const LanceManifest *m, const int *fidx, int n,
					  uint64_t nrows, LanceError *err)
{
	Lancepb__Manifest *mpb = (Lancepb__Manifest *) m->pb;
	Lancepb__Field **fields;
	Lancepb__Schema schema;
	Lancepb__FileDescriptor fd;
	bool		ok;

	fields = lance_alloc_array(n + 1, sizeof(Lancepb__Field *), err);
	if (fields == NULL)
		return false;
	for (int i = 0; i < n; i++)
	{
		if (fidx[i] < 0 || (size_t) fidx[i] >= mpb->n_fields)
		{
			lance_free(fields);
			return lance_fail(err, "bad field index %d", fidx[i]);
		}
		fields[i] = mpb->fields[fidx[i]];
	}
	lancepb__schema__init(&schema);
	schema.n_fields = n;
	schema.fields = fields;
	lancepb__file_descriptor__init(&fd);
	fd.schema = &schema;
	fd.length = nrows;
	ok = lance_buf_pb(out, &fd.base, err);
	lance_free(fields);
	return ok;
}

/*
 * The FileDescriptor of a 2.1+ file: the written leaves, each after its
 * list and struct ancestors (each once).
 */
static bool
file_descriptor(LanceBuf *out, const LanceManifest *m, LanceColBuf *cols, int ncols,
				uint64_t nrows, LanceError *err)
{
	int		   *fidx = lance_alloc_array(m->nfields + ncols + 1, sizeof(int), err);
	bool	   *seen = lance_alloc0(m->nfields + 1, err);
	int			nf = 0;
	bool		ok = fidx != NULL && seen != NULL;

	for (int i = 0; ok && i < ncols; i++)
	{
		int			chain[LANCE_WRITE_MAX_DEPTH];
		int			nchain = 0;
		int			a = cols[i].field;

		if (a < 0 || a >= m->nfields)
		{
			ok = lance_fail(err, "bad field index %d", a);
			break;
		}
		while (cols[i].nlayers > 0 && m->fields[a].parent >= 0 &&
			   m->fields[a].parent < m->nfields && nchain < LANCE_WRITE_MAX_DEPTH)
			chain[nchain++] = a = m->fields[a].parent;
		while (nchain > 0)
		{
			a = chain[--nchain];
			if (!seen[a])
				fidx[nf++] = a;
			seen[a] = true;
		}
		fidx[nf++] = cols[i].field;
	}
	if (ok)
		ok = lance_file_descriptor(out, m, fidx, nf, nrows, err);
	lance_free(seen);
	lance_free(fidx);
	return ok;
}

/* Writes out what the buffer holds (a multiple of 64 bytes): *base moves on. */
bool
lance_sink_flush(LanceBuf *file, int fd, uint64_t *base, const char *path, LanceError *err)
{
	uint64_t	done = 0;

	while (done < file->len)
	{
		ssize_t		w = write(fd, file->data + done, file->len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return lance_fail(err, "could not write \"%s\": %s", path, strerror(errno));
		done += (uint64_t) w;
	}
#ifdef SYNC_FILE_RANGE_WRITE
	/* start the writeback now, so the final fsync has little left to wait for */
	(void) sync_file_range(fd, (off_t) *base, (off_t) file->len, SYNC_FILE_RANGE_WRITE);
#endif
	*base += file->len;
	file->len = 0;
	return true;
}

/* Bytes buffered before they go to the file. */
#define SINK_BYTES	(UINT64_C(16) << 20)

/*
 * Encodes the file into `file`; with fd >= 0 the bytes go to fd as they
 * are produced (whole 64-byte units, so alignment is the same) and only the
 * tail stays in `file`, which the caller writes last.
 */
static bool
encode_file(LanceBuf *file, int fd, const char *path, const LanceManifest *m,
			LanceColBuf *cols, int ncols, uint16_t major, uint16_t minor, LanceError *err)
{
	uint64_t	base = 0;
	bool		v22;
	uint64_t	nrows = ncols > 0 ? lance_colbuf_rows(&cols[0]) : 0;
	uint64_t   *cm_pos,
			   *cm_len;
	uint64_t	gb_pos,
				gb_len,
				cm_start,
				cmo,
				gbo;
	int			i;

	if (major == 2 && minor == 0)
		return lance_encode_file20(file, fd, path, m, cols, ncols, err);
	if (major != 2 || (minor != 1 && minor != 2))
		return lance_fail(err, "writing Lance data files of format %u.%u is not supported (2.0, 2.1 and 2.2 are)",
						  major, minor);
	v22 = minor >= 2;
	for (i = 0; i < ncols; i++)
		if (lance_colbuf_rows(&cols[i]) != nrows)
			return lance_fail(err, "columns of different lengths");
	cm_pos = lance_alloc_array(ncols + 1, sizeof(uint64_t), err);
	cm_len = lance_alloc_array(ncols + 1, sizeof(uint64_t), err);
	if (!cm_pos || !cm_len)
		return false;

	/* data pages, then each column's metadata kept aside */
	{
		LanceBuf   *metas = lance_alloc0(sizeof(LanceBuf) * (ncols + 1), err);

		if (metas == NULL)
			return false;
		for (i = 0; i < ncols; i++)
		{
			LancePageOut    *pages = NULL;
			int			npages = 0,
						cap = 0;
			uint64_t	row = 0;
			NestPos		npos = {0, 0, 0};
			int			p;

			while (row < nrows || (nrows == 0 && npages == 0))
			{
				if (npages == cap)
				{
					cap = cap ? cap * 2 : 8;
					pages = lance_realloc(pages, sizeof(LancePageOut) * cap, err);
					if (pages == NULL)
						return false;
				}
				if (nrows == 0)
					break;
				if (cols[i].nlayers > 0)
				{
					if (!write_nested_page(file, base, &cols[i], v22, &npos, &pages[npages], err))
						return false;
					row = npos.row;
				}
				else if (!write_page(file, base, &cols[i], v22, row, nrows, &pages[npages], &row, err))
					return false;
				npages++;
				if (fd >= 0 && file->len >= SINK_BYTES &&
					(!buf_pad(file, 64, 0, err) || !lance_sink_flush(file, fd, &base, path, err)))
					return false;
			}
			if (!lance_column_metadata(&metas[i], pages, npages, err))
				return false;
			for (p = 0; p < npages; p++)
				lance_buf_free(&pages[p].enc);
			lance_free(pages);
		}
		if (!buf_pad(file, 64, 0, err))
			return false;
		gb_pos = base + file->len;
		if (!file_descriptor(file, m, cols, ncols, nrows, err))
			return false;
		gb_len = base + file->len - gb_pos;
		cm_start = base + file->len;
		for (i = 0; i < ncols; i++)
		{
			cm_pos[i] = base + file->len;
			cm_len[i] = metas[i].len;
			if (!lance_buf_append(file, metas[i].data, metas[i].len, err))
				return false;
			lance_buf_free(&metas[i]);
		}
		lance_free(metas);
	}
	cmo = base + file->len;
	for (i = 0; i < ncols; i++)
		if (!buf_u64(file, cm_pos[i], err) || !buf_u64(file, cm_len[i], err))
			return false;
	gbo = base + file->len;
	if (!buf_u64(file, gb_pos, err) || !buf_u64(file, gb_len, err))
		return false;
	if (!buf_u64(file, cm_start, err) || !buf_u64(file, cmo, err) || !buf_u64(file, gbo, err) ||
		!buf_u32(file, 1, err) || !buf_u32(file, (uint32_t) ncols, err) ||
		!buf_u16(file, major, err) || !buf_u16(file, minor, err) ||
		!lance_buf_append(file, "LANC", 4, err))
		return false;
	lance_free(cm_pos);
	lance_free(cm_len);
	return true;
}

bool
lance_encode_data_file(LanceBuf *file, const LanceManifest *m, LanceColBuf *cols, int ncols,
					   uint16_t major, uint16_t minor, LanceError *err)
{
	return encode_file(file, -1, NULL, m, cols, ncols, major, minor, err);
}

bool
lance_write_data_file(const char *path, const LanceManifest *m, LanceColBuf *cols, int ncols,
					  uint16_t major, uint16_t minor, uint64_t *size_out, LanceError *err)
{
	LanceBuf	file = {0};
	int			fd;
	uint64_t	written = 0;
	struct stat st;
	bool		ok = false;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return lance_fail(err, "could not create \"%s\": %s", path, strerror(errno));
	if (!encode_file(&file, fd, path, m, cols, ncols, major, minor, err) ||
		!lance_sink_flush(&file, fd, &written, path, err))
		goto out;
	if (fsync(fd) != 0)
	{
		lance_fail(err, "could not fsync \"%s\": %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0)
	{
		lance_fail(err, "could not stat \"%s\": %s", path, strerror(errno));
		goto out;
	}
	*size_out = (uint64_t) st.st_size;
	ok = true;
out:
	close(fd);
	lance_buf_free(&file);
	return ok;
}
