/*
 * lance_arrow_write.c
 *	  Small deletion files as LanceDB writes them: an Arrow IPC file holding
 *	  one record batch of a single non-nullable UInt32 column "row_id" (the
 *	  deleted row offsets, ascending), uncompressed.
 *
 * File: "ARROW1" + 2 pad | Schema message | RecordBatch message + body |
 * end-of-stream marker | Footer flatbuffer | i32 footer size | "ARROW1".
 * Messages are framed as 0xFFFFFFFF, i32 metadata size, flatbuffer padded
 * to 8 bytes.  The flatbuffers are laid out front to back (a table's
 * vtable just before it, children after their parent), which the format
 * allows: offsets to children are unsigned and point forward.
 */
#include "lance_write.h"

#define ARROW_V5			4	/* MetadataVersion.V5 */
#define HDR_SCHEMA			1	/* MessageHeader.Schema */
#define HDR_RECORD_BATCH	3	/* MessageHeader.RecordBatch */
#define TYPE_INT			2	/* Type.Int */

/* A flatbuffer being built front to back. */
typedef struct Fbb
{
	LanceBuf	b;
	bool		ok;
	LanceError *err;
} Fbb;

static void
fbb_pad(Fbb *f, uint64_t align)
{
	uint64_t	n = (align - f->b.len % align) % align;

	if (f->ok && n > 0)
		f->ok = lance_buf_zero(&f->b, n, f->err);
}

static uint64_t
fbb_put(Fbb *f, const void *p, uint64_t n)
{
	uint64_t	at = f->b.len;

	if (f->ok)
		f->ok = lance_buf_append(&f->b, p, n, f->err);
	return at;
}

/* Makes the u32 offset at `field` point at `target` (which lies after it). */
static void
fbb_link(Fbb *f, uint64_t field, uint64_t target)
{
	uint32_t	v = (uint32_t) (target - field);

	if (f->ok)
		memcpy(f->b.data + field, &v, 4);
}

/*
 * A table of `nslots` fields whose inline part (after the 4-byte vtable
 * offset) is `body` (blen bytes, field i at offs[i], 0 = absent).  Tables
 * with 8-byte fields are 8-aligned.  Returns the table's position.
 */
static uint64_t
fbb_table(Fbb *f, int nslots, const uint16_t *offs, const uint8_t *body, uint16_t blen, int align)
{
	uint16_t	vt[2 + 8];
	uint64_t	vtpos,
				tpos;
	int32_t		soff;
	int			i;

	vt[0] = (uint16_t) (4 + 2 * nslots);
	vt[1] = (uint16_t) (4 + blen);
	for (i = 0; i < nslots; i++)
		vt[2 + i] = offs[i];
	fbb_pad(f, 2);
	/* the table (vtable size later) must land on `align` */
	while (f->ok && (f->b.len + vt[0] + 3) / 4 * 4 % align != 0)
		fbb_put(f, "\0\0", 2);
	vtpos = fbb_put(f, vt, vt[0]);
	fbb_pad(f, 4);
	tpos = f->b.len;
	soff = (int32_t) (tpos - vtpos);
	fbb_put(f, &soff, 4);
	fbb_put(f, body, blen);
	return tpos;
}

/* A vector of `n` items of `elsize` bytes aligned to `align`; returns its position. */
static uint64_t
fbb_vector(Fbb *f, const void *items, uint32_t n, uint64_t elsize, int align)
{
	uint64_t	at;

	fbb_pad(f, 4);
	while (f->ok && (f->b.len + 4) % align != 0)
		fbb_put(f, "\0\0\0\0", 4);
	at = fbb_put(f, &n, 4);
	fbb_put(f, items, n * elsize);
	return at;
}

/* Schema{fields: [Field{name "row_id", nullable false, type Int{32, unsigned}, children []}]} */
static uint64_t
fbb_schema(Fbb *f)
{
	uint8_t		body[16];
	uint16_t	offs[7];
	uint64_t	schema,
				fields,
				field,
				name,
				inttab,
				children;
	uint32_t	zero = 0;
	uint8_t		tt = TYPE_INT;
	int32_t		bits = 32;

	/* Schema: slot 1 fields (offset at body 0) */
	memset(body, 0, sizeof(body));
	offs[0] = 0;
	offs[1] = 4;
	schema = fbb_table(f, 2, offs, body, 4, 4);
	fields = fbb_vector(f, &zero, 1, 4, 4);
	fbb_link(f, schema + 4, fields);
	/* Field: name (0), nullable (1, default false), type_type (2), type (3), dictionary (4), children (5) */
	memset(body, 0, sizeof(body));
	memcpy(body + 8, &tt, 1);
	offs[0] = 4;
	offs[1] = 0;
	offs[2] = 12;
	offs[3] = 8;
	offs[4] = 0;
	offs[5] = 16 - 4 + 4;		/* children offset at body 12 -> table offset 16 */
	field = fbb_table(f, 6, offs, body, 16, 4);
	fbb_link(f, fields + 4, field);
	name = fbb_vector(f, "row_id\0", 6, 1, 4);
	fbb_put(f, "\0", 1);
	fbb_link(f, field + 4, name);
	memset(body, 0, sizeof(body));
	memcpy(body, &bits, 4);
	offs[0] = 4;
	offs[1] = 0;
	inttab = fbb_table(f, 2, offs, body, 4, 4);
	fbb_link(f, field + 8, inttab);
	children = fbb_vector(f, NULL, 0, 4, 4);
	fbb_link(f, field + 16, children);
	return schema;
}

/* Message{version, header_type, header, bodyLength}: root of its own flatbuffer. */
static uint64_t
fbb_message(Fbb *f, uint8_t type, int64_t body_len, uint64_t *header_field)
{
	uint8_t		body[20];
	uint16_t	offs[4];
	int16_t		v = ARROW_V5;
	uint64_t	msg;

	memset(body, 0, sizeof(body));
	/* table offsets: soffset 0..3, bodyLength 8..15, header 16..19, version 20..21, type 22 */
	memcpy(body + 4, &body_len, 8);
	memcpy(body + 16, &v, 2);
	body[18] = type;
	offs[0] = 20;
	offs[1] = 22;
	offs[2] = 16;
	offs[3] = 8;
	fbb_put(f, "\0\0\0\0", 4);	/* root offset */
	msg = fbb_table(f, 4, offs, body, 20, 8);
	fbb_link(f, 0, msg);
	*header_field = msg + 16;
	return msg;
}

/* Frames a finished flatbuffer as an IPC message onto out; returns its metadata size. */
static bool
frame(LanceBuf *out, Fbb *f, uint32_t *metalen, LanceError *err)
{
	uint32_t	cont = 0xFFFFFFFFU;
	uint32_t	len;

	fbb_pad(f, 8);
	if (!f->ok)
		return false;
	len = (uint32_t) f->b.len;
	*metalen = 8 + len;
	return lance_buf_append(out, &cont, 4, err) && lance_buf_append(out, &len, 4, err) &&
		lance_buf_append(out, f->b.data, f->b.len, err);
}

bool
lance_arrow_deletion_encode(const uint32_t *offsets, uint32_t n, LanceBuf *out, LanceError *err)
{
	Fbb			f = {{0}, true, err};
	uint64_t	hdr,
				rb,
				nodes,
				bufs,
				batch_pos,
				footer,
				fschema,
				blocks;
	uint32_t	schema_len,
				batch_len;
	int64_t		body_len = (int64_t) ((4 * (uint64_t) n + 7) & ~UINT64_C(7));
	int64_t		node[2] = {n, 0};
	int64_t		buf[4] = {0, 0, 0, 4 * (int64_t) n};
	uint8_t		body[24];
	uint16_t	offs[4];
	uint32_t	eos[2] = {0xFFFFFFFFU, 0};
	int64_t		block[3];
	int16_t		v = ARROW_V5;
	bool		ok;

	if (!lance_buf_append(out, "ARROW1\0\0", 8, err))
		return false;

	/* schema message */
	fbb_message(&f, HDR_SCHEMA, 0, &hdr);
	fbb_link(&f, hdr, fbb_schema(&f));
	if (!frame(out, &f, &schema_len, err))
		goto fail;
	lance_buf_free(&f.b);

	/* record batch message + body */
	fbb_message(&f, HDR_RECORD_BATCH, body_len, &hdr);
	/* RecordBatch: length (0) at 8, nodes (1) at 4, buffers (2) at 16 */
	memset(body, 0, sizeof(body));
	memcpy(body + 4, &node[0], 8);
	offs[0] = 8;
	offs[1] = 4;
	offs[2] = 16;
	rb = fbb_table(&f, 3, offs, body, 16, 8);
	fbb_link(&f, hdr, rb);
	nodes = fbb_vector(&f, node, 1, 16, 8);
	fbb_link(&f, rb + 4, nodes);
	bufs = fbb_vector(&f, buf, 2, 16, 8);
	fbb_link(&f, rb + 16, bufs);
	batch_pos = out->len;
	if (!frame(out, &f, &batch_len, err) ||
		!lance_buf_append(out, offsets, 4 * (uint64_t) n, err) ||
		!lance_buf_zero(out, (uint64_t) body_len - 4 * (uint64_t) n, err) ||
		!lance_buf_append(out, eos, 8, err))
		goto fail;
	lance_buf_free(&f.b);

	/* footer: version (0) at 16, schema (1) at 4, dictionaries (2) absent, recordBatches (3) at 8 */
	f.ok = true;
	fbb_put(&f, "\0\0\0\0", 4);
	memset(body, 0, sizeof(body));
	memcpy(body + 12, &v, 2);
	offs[0] = 16;
	offs[1] = 4;
	offs[2] = 0;
	offs[3] = 8;
	footer = fbb_table(&f, 4, offs, body, 16, 4);
	fbb_link(&f, 0, footer);
	fschema = fbb_schema(&f);
	fbb_link(&f, footer + 4, fschema);
	block[0] = (int64_t) batch_pos;
	block[1] = (int64_t) batch_len;	/* i32 metaDataLength + 4 pad */
	block[2] = body_len;
	blocks = fbb_vector(&f, block, 1, 24, 8);
	fbb_link(&f, footer + 8, blocks);
	fbb_pad(&f, 8);
	if (!f.ok)
		goto fail;
	{
		uint32_t	flen = (uint32_t) f.b.len;

		ok = lance_buf_append(out, f.b.data, f.b.len, err) &&
			lance_buf_append(out, &flen, 4, err) &&
			lance_buf_append(out, "ARROW1", 6, err);
	}
	lance_buf_free(&f.b);
	(void) schema_len;
	return ok;
fail:
	lance_buf_free(&f.b);
	return false;
}
