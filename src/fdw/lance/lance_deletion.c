/*
 * lance_deletion.c
 *	  Deletion files: an Arrow IPC file with one UInt32 column of deleted row
 *	  offsets (body buffers optionally ZSTD/LZ4 compressed), or a roaring
 *	  bitmap in the portable format for larger deletions.
 *
 * The Arrow file is read through its footer (a flatbuffer listing the record
 * batch blocks) with a minimal bounds-checked flatbuffer reader.
 */
#include "lance_file.h"

#include <inttypes.h>
#include <roaring/roaring.h>
#include <stdio.h>

#define MAX_DELETION_FILE	(UINT64_C(1) << 30)

/* ---- minimal flatbuffer access ---- */

typedef struct Fb
{
	const uint8_t *p;
	uint64_t	len;
} Fb;

/* Position of table field `i`, 0 if absent or out of bounds. */
static uint64_t
fb_field(Fb fb, uint64_t table, int i)
{
	int64_t		vt;
	uint16_t	vtsize;
	uint16_t	off;

	if (!lance_range_ok(table, 4, fb.len))
		return 0;
	vt = (int64_t) table - (int32_t) lance_le32(fb.p + table);
	if (vt < 0 || !lance_range_ok((uint64_t) vt, 4, fb.len))
		return 0;
	vtsize = lance_le16(fb.p + vt);
	if ((uint64_t) (4 + 2 * i + 2) > vtsize || !lance_range_ok((uint64_t) vt, vtsize, fb.len))
		return 0;
	off = lance_le16(fb.p + vt + 4 + 2 * i);
	if (off == 0 || !lance_range_ok(table, (uint64_t) off + 1, fb.len))
		return 0;
	return table + off;
}

/* Follows a u32 offset field; 0 on error. */
static uint64_t
fb_deref(Fb fb, uint64_t pos)
{
	uint64_t	t;

	if (pos == 0 || !lance_range_ok(pos, 4, fb.len))
		return 0;
	t = pos + lance_le32(fb.p + pos);
	return t < fb.len ? t : 0;
}

/* The root table: a u32 offset at the start of the buffer. */
static uint64_t
fb_root(Fb fb)
{
	uint64_t	t;

	if (fb.len < 8)
		return 0;
	t = lance_le32(fb.p);
	return t < fb.len ? t : 0;
}

static bool
fb_i64(Fb fb, uint64_t pos, int64_t *v)
{
	if (pos == 0 || !lance_range_ok(pos, 8, fb.len))
		return false;
	*v = (int64_t) lance_le64(fb.p + pos);
	return true;
}

/* Vector of structs of `elsize` bytes: position of element 0 and count. */
static bool
fb_vector(Fb fb, uint64_t field, uint64_t elsize, uint64_t *start, uint64_t *n)
{
	uint64_t	v = fb_deref(fb, field);

	if (v == 0 || !lance_range_ok(v, 4, fb.len))
		return false;
	*n = lance_le32(fb.p + v);
	*start = v + 4;
	return *n <= fb.len / elsize && lance_range_ok(*start, *n * elsize, fb.len);
}

/* ---- Arrow IPC ---- */

static bool
set_deleted(uint8_t *bits, uint64_t nrows, uint64_t off, const char *name, LanceError *err)
{
	if (off >= nrows)
		return lance_fail(err, "deletion file \"%s\" deletes row %" PRIu64 " of a %" PRIu64 "-row fragment",
						  name, off, nrows);
	bits[off >> 3] |= (uint8_t) (1 << (off & 7));
	return true;
}

static bool
read_batch(const uint8_t *data, uint64_t len, uint64_t msg, uint8_t *bits, uint64_t nrows,
		   const char *name, LanceError *err)
{
	uint64_t	p = msg;
	uint32_t	metalen;
	Fb			fb;
	uint64_t	root,
				header,
				bufs,
				nbufs,
				body,
				comp;
	int64_t		body_len,
				length;
	int			codec = -1;
	uint64_t	i;

	/* [0xFFFFFFFF][i32 metadata length][Message flatbuffer][body] */
	if (!lance_range_ok(p, 8, len))
		return lance_fail(err, "deletion file \"%s\": truncated message", name);
	if (lance_le32(data + p) == 0xFFFFFFFFU)
		p += 4;
	metalen = lance_le32(data + p);
	p += 4;
	if (!lance_range_ok(p, metalen, len))
		return lance_fail(err, "deletion file \"%s\": truncated message", name);
	fb.p = data + p;
	fb.len = metalen;
	body = p + metalen;
	root = fb_root(fb);
	if (root == 0 || !lance_range_ok(fb_field(fb, root, 1), 1, fb.len) ||
		fb.p[fb_field(fb, root, 1)] != 3)
		return lance_fail(err, "deletion file \"%s\": expected a record batch", name);
	if (!fb_i64(fb, fb_field(fb, root, 3), &body_len) || body_len < 0 ||
		!lance_range_ok(body, (uint64_t) body_len, len))
		return lance_fail(err, "deletion file \"%s\": invalid body length", name);
	header = fb_deref(fb, fb_field(fb, root, 2));
	if (header == 0 || !fb_i64(fb, fb_field(fb, header, 0), &length) || length < 0)
		return lance_fail(err, "deletion file \"%s\": invalid record batch", name);
	comp = fb_deref(fb, fb_field(fb, header, 3));
	if (comp != 0)
	{
		uint64_t	c = fb_field(fb, comp, 0);

		/* absent codec field = its default, LZ4_FRAME (0) */
		codec = c ? fb.p[c] : 0;
	}
	if (!fb_vector(fb, fb_field(fb, header, 2), 16, &bufs, &nbufs) || nbufs != 2)
		return lance_fail(err, "deletion file \"%s\": expected one UInt32 column", name);
	/* buffer 0: validity (row ids are never null); buffer 1: values */
	{
		int64_t		boff = (int64_t) lance_le64(fb.p + bufs + 16);
		int64_t		blen = (int64_t) lance_le64(fb.p + bufs + 24);
		const uint8_t *vals;
		uint8_t    *raw = NULL;
		uint64_t	vlen;
		bool		ok = true;

		if (boff < 0 || blen < 0 || !lance_range_ok((uint64_t) boff, (uint64_t) blen, (uint64_t) body_len))
			return lance_fail(err, "deletion file \"%s\": buffer outside the body", name);
		vals = data + body + boff;
		vlen = (uint64_t) blen;
		if (codec >= 0 && vlen > 0)
		{
			int64_t		ulen;

			/* i64 uncompressed length, -1 = stored uncompressed */
			if (vlen < 8)
				return lance_fail(err, "deletion file \"%s\": truncated compressed buffer", name);
			ulen = (int64_t) lance_le64(vals);
			if (ulen == -1)
			{
				vals += 8;
				vlen -= 8;
			}
			else if (codec == 1)
			{
				uint64_t	outlen = 0;

				raw = lance_decompress(2, vals + 8, vlen - 8, &outlen, err);
				if (raw == NULL)
					return false;
				if (ulen < 0 || outlen != (uint64_t) ulen)
				{
					lance_free(raw);
					return lance_fail(err, "deletion file \"%s\": bad compressed size", name);
				}
				vals = raw;
				vlen = outlen;
			}
			else
				return lance_fail(err, "deletion file \"%s\": LZ4-frame compression is not supported", name);
		}
		if ((uint64_t) length > vlen / 4)
			ok = lance_fail(err, "deletion file \"%s\": values buffer too short", name);
		for (i = 0; ok && i < (uint64_t) length; i++)
			ok = set_deleted(bits, nrows, lance_le32(vals + 4 * i), name, err);
		lance_free(raw);
		return ok;
	}
}

static bool
parse_arrow(const uint8_t *data, uint64_t len, uint8_t *bits, uint64_t nrows, const char *name,
			LanceError *err)
{
	Fb			fb;
	uint32_t	flen;
	uint64_t	root,
				blocks,
				nblocks,
				i;

	/* "ARROW1" + pad ... footer flatbuffer, i32 footer length, "ARROW1" */
	if (len < 16 || memcmp(data, "ARROW1", 6) != 0 || memcmp(data + len - 6, "ARROW1", 6) != 0)
		return lance_fail(err, "deletion file \"%s\" is not an Arrow IPC file", name);
	flen = lance_le32(data + len - 10);
	if (flen > len - 16)
		return lance_fail(err, "deletion file \"%s\": invalid footer length", name);
	fb.p = data + len - 10 - flen;
	fb.len = flen;
	root = fb_root(fb);
	if (root == 0)
		return lance_fail(err, "deletion file \"%s\": invalid footer", name);
	if (!fb_vector(fb, fb_field(fb, root, 3), 24, &blocks, &nblocks))
		return lance_fail(err, "deletion file \"%s\": no record batches", name);
	for (i = 0; i < nblocks; i++)
	{
		int64_t		off = (int64_t) lance_le64(fb.p + blocks + 24 * i);

		if (off < 0 || (uint64_t) off >= len)
			return lance_fail(err, "deletion file \"%s\": invalid block offset", name);
		if (!read_batch(data, len, (uint64_t) off, bits, nrows, name, err))
			return false;
	}
	return true;
}

/* ---- roaring ---- */

typedef struct RoaringCtx
{
	uint8_t    *bits;
	uint64_t	nrows;
	bool		bad;
} RoaringCtx;

static bool
roaring_cb(uint32_t value, void *arg)
{
	RoaringCtx *c = arg;

	if (value >= c->nrows)
	{
		c->bad = true;
		return false;
	}
	c->bits[value >> 3] |= (uint8_t) (1 << (value & 7));
	return true;
}

uint8_t *
lance_deletion_parse(const uint8_t *data, uint64_t len, int file_type, uint64_t nrows,
					 const char *name, LanceError *err)
{
	uint8_t    *bits;
	bool		ok;

	if (nrows > (UINT64_C(1) << 32))
	{
		lance_fail(err, "fragment too large");
		return NULL;
	}
	bits = lance_alloc0((nrows + 7) / 8, err);
	if (bits == NULL)
		return NULL;
	if (file_type == LANCE_DELETION_ARROW)
		ok = parse_arrow(data, len, bits, nrows, name, err);
	else if (file_type == LANCE_DELETION_BITMAP)
	{
		roaring_bitmap_t *rb = roaring_bitmap_portable_deserialize_safe((const char *) data, len);
		RoaringCtx	ctx = {bits, nrows, false};

		if (rb == NULL)
			ok = lance_fail(err, "deletion file \"%s\" is not a valid roaring bitmap", name);
		else
		{
			roaring_iterate(rb, roaring_cb, &ctx);
			roaring_bitmap_free(rb);
			ok = !ctx.bad || lance_fail(err, "deletion file \"%s\" deletes rows beyond the fragment", name);
		}
	}
	else
		ok = lance_fail(err, "unknown deletion file type %d", file_type);
	if (!ok)
	{
		lance_free(bits);
		return NULL;
	}
	return bits;
}

uint8_t *
lance_deletion_load(const char *dataset, uint64_t fragment_id, const LanceDeletion *d,
					uint64_t nrows, LanceError *err)
{
	char		path[4096];
	uint8_t    *data;
	uint8_t    *bits;
	uint64_t	len = 0;

	if (snprintf(path, sizeof(path), "%s/_deletions/%" PRIu64 "-%" PRIu64 "-%" PRIu64 ".%s",
				 dataset, fragment_id, d->read_version, d->id,
				 d->file_type == LANCE_DELETION_ARROW ? "arrow" : "bin") >= (int) sizeof(path))
	{
		lance_fail(err, "dataset path too long");
		return NULL;
	}
	data = lance_read_file(path, MAX_DELETION_FILE, &len, err);
	if (data == NULL)
		return NULL;
	bits = lance_deletion_parse(data, len, d->file_type, nrows, path, err);
	lance_free(data);
	return bits;
}
