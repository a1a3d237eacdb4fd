/*
 * lance_file20.c
 *	  Lance file format 2.0: pages encoded as an ArrayEncoding tree.
 *
 * Unlike 2.1+, a 2.0 file has one column per field, parents included: a
 * list column holds per-page offsets (the items are the child's column), a
 * struct column holds nothing (2.0 does not store struct validity).  Each
 * page of a leaf column decodes to a whole Arrow-like array, so the reader
 * builds LanceVectors directly, with no repetition/definition levels.
 *
 * Encodings read: flat (bit widths 1 and whole bytes, optionally ZSTD/LZ4),
 * nullable (no/some/all nulls), fixed_size_list, list, struct, binary
 * (u32/u64 end offsets with a null adjustment), dictionary (index 0 = null,
 * items 1-based), FSST, fixed_size_binary and constant.  Anything else is an
 * error naming the encoding, never a guess.
 */
#include "lance_file.h"
#include "lance_page.h"
#include "lance_pb.h"

#define MAX_DEPTH	32			/* encoding tree nesting */
#define MAX1(a)		((a) > 0 ? (a) : 1)

/* What the caller of a decode wants out of an encoding node. */
typedef enum WantKind
{
	WANT_BITS,					/* a validity bitmap: n bits in values */
	WANT_FIXED,					/* n values of `width` bytes (bools: bytes) */
	WANT_VAR,					/* n variable-width values with offsets */
	WANT_U64					/* n unsigned integers widened to u64 */
} WantKind;

typedef struct Want
{
	WantKind	kind;
	uint32_t	width;
	bool		isbool;
} Want;

typedef struct Page20
{
	LanceFileReader *f;
	const LanceColumn *col;
	int			nbufs;
	const uint8_t *const *bufs;
	const uint64_t *lens;
	uint8_t    *colbufs[16];	/* column buffers read on demand */
	uint64_t	collens[16];
} Page20;

static bool decode(Page20 *pg, const Lancepb__E20ArrayEncoding *e, uint64_t n, Want w,
				   LanceVector *out, int depth, LanceError *err);
static bool decode_node(Page20 *pg, const Lancepb__E20ArrayEncoding *e, uint64_t n, Want w,
						LanceVector *out, int depth, LanceError *err);

static bool
get_buffer(Page20 *pg, const Lancepb__E20Buffer *b, const uint8_t **data, uint64_t *len,
		   LanceError *err)
{
	if (b == NULL)
		return lance_fail(err, "flat encoding without a buffer");
	if (b->buffer_type == 0)
	{
		if (b->buffer_index >= (uint64_t) pg->nbufs)
			return lance_fail(err, "page buffer %llu of %d", (unsigned long long) b->buffer_index,
							  pg->nbufs);
		*data = pg->bufs[b->buffer_index];
		*len = pg->lens[b->buffer_index];
		return true;
	}
	if (b->buffer_type == 1 && pg->col != NULL && pg->f != NULL)
	{
		Lancepb__ColumnMetadata *cm = (Lancepb__ColumnMetadata *) pg->col->pb;
		uint64_t	i = b->buffer_index;

		if (cm == NULL || i >= cm->n_buffer_offsets || i >= cm->n_buffer_sizes || i >= 16)
			return lance_fail(err, "column buffer %llu does not exist", (unsigned long long) i);
		if (pg->colbufs[i] == NULL)
		{
			if (!lance_range_ok(cm->buffer_offsets[i], cm->buffer_sizes[i], pg->f->r.size))
				return lance_fail(err, "column buffer %llu lies outside the file", (unsigned long long) i);
			pg->colbufs[i] = lance_reader_read_alloc(&pg->f->r, cm->buffer_offsets[i],
													 cm->buffer_sizes[i], err);
			if (pg->colbufs[i] == NULL)
				return false;
			pg->collens[i] = cm->buffer_sizes[i];
		}
		*data = pg->colbufs[i];
		*len = pg->collens[i];
		return true;
	}
	return lance_fail(err, "buffer type %d is not supported", b->buffer_type);
}

/* An all-zero array of n values with every row null. */
static bool
all_null(uint64_t n, Want w, LanceVector *out, LanceError *err)
{
	uint64_t	bytes;

	memset(out, 0, sizeof(*out));
	out->n = n;
	if (w.kind == WANT_BITS)
	{
		out->values = lance_alloc0((n + 7) / 8, err);
		return out->values != NULL;
	}
	out->validity = lance_alloc0((n + 7) / 8, err);
	if (out->validity == NULL)
		return false;
	if (w.kind == WANT_VAR)
	{
		out->offsets = lance_alloc0((n + 1) * sizeof(uint64_t), err);
		return out->offsets != NULL;
	}
	out->width = w.kind == WANT_U64 ? 8 : w.width;
	if (!lance_mul_u64(n, out->width, &bytes))
		return lance_fail(err, "%llu null values overflow", (unsigned long long) n);
	out->values = lance_alloc0(bytes, err);
	out->values_len = bytes;
	return out->values != NULL;
}

static bool
decode_flat(Page20 *pg, const Lancepb__E20Flat *fl, uint64_t n, Want w, LanceVector *out,
			LanceError *err)
{
	const uint8_t *data = NULL;
	uint64_t	len = 0;
	uint8_t    *owned = NULL;
	uint64_t	bits = fl->bits_per_value;
	uint64_t	need;
	uint64_t	i;
	bool		ok = true;

	if (!get_buffer(pg, fl->buffer, &data, &len, err))
		return false;
	if (fl->compression != NULL && fl->compression->scheme != NULL &&
		fl->compression->scheme[0] != '\0')
	{
		int			scheme;

		if (strcmp(fl->compression->scheme, "zstd") == 0)
			scheme = 2;
		else if (strcmp(fl->compression->scheme, "lz4") == 0)
			scheme = 1;
		else
			return lance_fail(err, "unknown compression scheme \"%.32s\"", fl->compression->scheme);
		owned = lance_decompress(scheme, data, len, &len, err);
		if (owned == NULL)
			return false;
		data = owned;
	}
	memset(out, 0, sizeof(*out));
	out->n = n;
	if (bits == 0 || bits > 256 || (bits != 1 && bits % 8 != 0))
		ok = lance_fail(err, "flat encoding with %llu bits per value", (unsigned long long) bits);
	else if (!lance_mul_u64(n, bits, &need))
		ok = lance_fail(err, "flat encoding of %llu values overflows", (unsigned long long) n);
	else if ((need + 7) / 8 > len)
		ok = lance_fail(err, "flat buffer of %llu bytes holds fewer than %llu values of %llu bits",
						(unsigned long long) len, (unsigned long long) n, (unsigned long long) bits);
	else if (w.kind == WANT_BITS || (w.kind == WANT_FIXED && w.isbool))
	{
		if (bits != 1)
			ok = lance_fail(err, "a bitmap is encoded with %llu bits per value", (unsigned long long) bits);
		else if (w.kind == WANT_BITS)
		{
			out->values = lance_alloc((n + 7) / 8, err);
			if ((ok = out->values != NULL))
				memcpy(out->values, data, (n + 7) / 8);
		}
		else
		{
			out->width = 1;
			out->values = lance_alloc(n, err);
			out->values_len = n;
			if ((ok = out->values != NULL))
				for (i = 0; i < n; i++)
					out->values[i] = (data[i >> 3] >> (i & 7)) & 1;
		}
	}
	else if (w.kind == WANT_FIXED)
	{
		if (bits != (uint64_t) w.width * 8)
			ok = lance_fail(err, "flat encoding has %llu bits per value, the type needs %u",
							(unsigned long long) bits, w.width * 8);
		else
		{
			out->width = w.width;
			out->values_len = need / 8;
			out->values = lance_alloc(MAX1(need / 8), err);
			if ((ok = out->values != NULL))
				memcpy(out->values, data, need / 8);
		}
	}
	else if (w.kind == WANT_U64)
	{
		uint64_t   *v;

		if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
			ok = lance_fail(err, "offsets or indices of %llu bits", (unsigned long long) bits);
		else if ((v = lance_alloc_array(MAX1(n), sizeof(uint64_t), err)) == NULL)
			ok = false;
		else
		{
			for (i = 0; i < n; i++)
				v[i] = bits == 8 ? data[i] : bits == 16 ? lance_le16(data + 2 * i) :
					bits == 32 ? lance_le32(data + 4 * i) : lance_le64(data + 8 * i);
			out->width = 8;
			out->values = (uint8_t *) v;
			out->values_len = n * 8;
		}
	}
	else
		ok = lance_fail(err, "a variable-width type is encoded as flat values");
	lance_free(owned);
	return ok;
}

/*
 * bitpacked_for_non_neg: blocks of 1024 values of the uncompressed width
 * T, each FastLanes-packed at w bits (128 * w bytes), the last block
 * zero-padded.
 */
static bool
decode_bitpacked_nonneg(Page20 *pg, const Lancepb__E20BitpackedForNonNeg *bp, uint64_t n, Want w,
						LanceVector *out, LanceError *err)
{
	uint64_t	tb = bp->uncompressed_bits_per_value;
	uint64_t	cw = bp->compressed_bits_per_value;
	const uint8_t *data;
	uint64_t	len;
	uint64_t	nblocks = (n + 1023) / 1024;
	uint64_t	blk,
				i;
	uint64_t	vals[1024];
	uint32_t	vb;

	if (tb != 8 && tb != 16 && tb != 32 && tb != 64)
		return lance_fail(err, "bit-packing of %llu-bit values", (unsigned long long) tb);
	if (cw == 0 || cw > tb)
		return lance_fail(err, "bit-packing at %llu bits of %llu-bit values", (unsigned long long) cw,
						  (unsigned long long) tb);
	if (w.kind == WANT_FIXED && !w.isbool && w.width * 8 == tb)
		vb = w.width;
	else if (w.kind == WANT_U64)
		vb = 8;
	else
		return lance_fail(err, "bit-packed %llu-bit values do not match the type", (unsigned long long) tb);
	if (!get_buffer(pg, bp->buffer, &data, &len, err))
		return false;
	if (nblocks > len / (128 * cw))
		return lance_fail(err, "bit-packed buffer of %llu bytes holds fewer than %llu values",
						  (unsigned long long) len, (unsigned long long) n);
	out->n = n;
	out->width = vb;
	out->values_len = n * vb;
	out->values = lance_alloc(MAX1(n * vb), err);
	if (out->values == NULL)
		return false;
	for (blk = 0; blk < nblocks; blk++)
	{
		uint64_t	cnt = n - blk * 1024 < 1024 ? n - blk * 1024 : 1024;

		lance_fastlanes_unpack(data + blk * 128 * cw, (int) tb, (int) cw, vals);
		for (i = 0; i < cnt; i++)
		{
			uint64_t	v = vals[i];
			uint8_t    *dst = out->values + (blk * 1024 + i) * vb;
			uint32_t	k;

			/* little-endian, as every value buffer */
			for (k = 0; k < vb; k++)
				dst[k] = (uint8_t) (v >> (8 * k));
		}
	}
	return true;
}

/* ANDs validity bitmap `bits` (n bits) into out->validity. */
static bool
and_validity(LanceVector *out, const uint8_t *bits, uint64_t n, LanceError *err)
{
	uint64_t	i;

	if (out->validity == NULL)
	{
		out->validity = lance_alloc((n + 7) / 8, err);
		if (out->validity == NULL)
			return false;
		memcpy(out->validity, bits, (n + 7) / 8);
		return true;
	}
	for (i = 0; i < (n + 7) / 8; i++)
		out->validity[i] &= bits[i];
	return true;
}

static bool
decode_binary(Page20 *pg, const Lancepb__E20Binary *b, uint64_t n, LanceVector *out,
			  int depth, LanceError *err)
{
	LanceVector idx = {0};
	LanceVector bytes = {0};
	const uint64_t *ends;
	uint64_t	adj = b->null_adjustment;
	uint64_t	base = 0;
	uint64_t	i;
	bool		ok;

	memset(out, 0, sizeof(*out));
	if (b->indices == NULL || b->bytes == NULL)
		return lance_fail(err, "binary encoding without indices or bytes");
	if (!decode(pg, b->indices, n, (Want) {WANT_U64, 8, false}, &idx, depth + 1, err))
		return false;
	ends = (const uint64_t *) idx.values;
	out->n = n;
	out->offsets = lance_alloc_array(n + 1, sizeof(uint64_t), err);
	ok = out->offsets != NULL;
	if (ok && idx.validity)
	{
		out->validity = idx.validity;
		idx.validity = NULL;
	}
	for (i = 0; ok && i < n; i++)
	{
		uint64_t	end = ends[i];

		out->offsets[i] = base;
		if (adj > 0 && end >= adj)
		{
			end -= adj;
			if (out->validity == NULL)
			{
				out->validity = lance_alloc((n + 7) / 8, err);
				if (out->validity == NULL)
				{
					ok = false;
					break;
				}
				memset(out->validity, 0xff, (n + 7) / 8);
			}
			out->validity[i >> 3] &= (uint8_t) ~(1 << (i & 7));
		}
		if (end < base || (adj > 0 && end >= adj))
			ok = lance_fail(err, "binary offset %llu of row %llu is out of order",
							(unsigned long long) ends[i], (unsigned long long) i);
		else if (out->validity && !lance_vector_is_valid(out, i) && end != base)
			ok = lance_fail(err, "null binary value of row %llu has bytes", (unsigned long long) i);
		base = end;
	}
	lance_vector_free(&idx);
	if (!ok)
		return false;
	out->offsets[n] = base;
	if (!decode(pg, b->bytes, base, (Want) {WANT_FIXED, 1, false}, &bytes, depth + 1, err))
		return false;
	out->values = bytes.values;
	out->values_len = base;
	bytes.values = NULL;
	lance_vector_free(&bytes);
	return true;
}

static bool
decode_dictionary(Page20 *pg, const Lancepb__E20Dictionary *d, uint64_t n, Want w,
				  LanceVector *out, int depth, LanceError *err)
{
	LanceVector idx = {0};
	LanceVector items = {0};
	const uint64_t *ix;
	uint64_t	ndict = d->num_dictionary_items;
	uint64_t	i;
	uint64_t	total = 0;
	bool		ok = true;

	memset(out, 0, sizeof(*out));
	if (d->indices == NULL || d->items == NULL || w.kind == WANT_BITS || w.kind == WANT_U64)
		return lance_fail(err, "invalid dictionary encoding");
	if (ndict > (UINT64_C(1) << 32))
		return lance_fail(err, "dictionary of %llu items", (unsigned long long) ndict);
	if (!decode(pg, d->indices, n, (Want) {WANT_U64, 8, false}, &idx, depth + 1, err))
		return false;
	if (!decode(pg, d->items, ndict, w, &items, depth + 1, err))
	{
		lance_vector_free(&idx);
		return false;
	}
	ix = (const uint64_t *) idx.values;
	out->n = n;
	out->validity = lance_alloc((n + 7) / 8, err);
	if (out->validity == NULL)
		ok = false;
	else
		memset(out->validity, 0xff, (n + 7) / 8);
	/* index 0 is a null row, k > 0 is item k-1 */
	for (i = 0; ok && i < n; i++)
	{
		uint64_t	k = ix[i];

		if (k > ndict)
			ok = lance_fail(err, "dictionary index %llu of %llu items",
							(unsigned long long) k, (unsigned long long) ndict);
		else if (k == 0 || !lance_vector_is_valid(&items, k - 1) || !lance_vector_is_valid(&idx, i))
			out->validity[i >> 3] &= (uint8_t) ~(1 << (i & 7));
		else if (w.kind == WANT_VAR)
			total += items.offsets[k] - items.offsets[k - 1];
	}
	if (ok && w.kind == WANT_VAR)
	{
		uint64_t	pos = 0;

		out->offsets = lance_alloc_array(n + 1, sizeof(uint64_t), err);
		out->values = lance_alloc(MAX1(total), err);
		ok = out->offsets != NULL && out->values != NULL;
		for (i = 0; ok && i < n; i++)
		{
			out->offsets[i] = pos;
			if (lance_vector_is_valid(out, i))
			{
				uint64_t	s = items.offsets[ix[i] - 1];
				uint64_t	l = items.offsets[ix[i]] - s;

				memcpy(out->values + pos, items.values + s, l);
				pos += l;
			}
		}
		if (ok)
		{
			out->offsets[n] = pos;
			out->values_len = pos;
		}
	}
	else if (ok)
	{
		uint32_t	wd = items.width;

		out->width = wd;
		if (!lance_mul_u64(n, wd, &out->values_len))
			ok = lance_fail(err, "dictionary values overflow");
		else
			ok = (out->values = lance_alloc0(MAX1(out->values_len), err)) != NULL;
		for (i = 0; ok && i < n; i++)
			if (lance_vector_is_valid(out, i))
				memcpy(out->values + i * wd, items.values + (ix[i] - 1) * wd, wd);
	}
	lance_vector_free(&idx);
	lance_vector_free(&items);
	return ok;
}

static bool
decode_fsst(Page20 *pg, const Lancepb__E20Fsst *fs, uint64_t n, LanceVector *out, int depth,
			LanceError *err)
{
	LanceVector raw = {0};
	LanceFsst	sym;
	uint64_t	i;
	uint64_t	cap,
				pos = 0;
	bool		ok = true;

	memset(out, 0, sizeof(*out));
	if (fs->binary == NULL)
		return lance_fail(err, "FSST encoding without values");
	if (!lance_fsst_parse(fs->symbol_table.data, fs->symbol_table.len, &sym, err))
		return false;
	if (!decode(pg, fs->binary, n, (Want) {WANT_VAR, 0, false}, &raw, depth + 1, err))
		return false;
	/* a symbol expands to at most 8 bytes */
	if (!lance_mul_u64(raw.values_len, 8, &cap))
		ok = lance_fail(err, "FSST values overflow");
	out->n = n;
	if (ok)
	{
		out->values = lance_alloc(MAX1(cap), err);
		out->offsets = lance_alloc_array(n + 1, sizeof(uint64_t), err);
		ok = out->values != NULL && out->offsets != NULL;
	}
	for (i = 0; ok && i < n; i++)
	{
		uint64_t	l;

		out->offsets[i] = pos;
		if (!lance_fsst_decode(&sym, raw.values + raw.offsets[i], raw.offsets[i + 1] - raw.offsets[i],
							   out->values + pos, cap - pos, &l))
			ok = lance_fail(err, "corrupt FSST string in row %llu", (unsigned long long) i);
		pos += l;
	}
	if (ok)
	{
		out->offsets[n] = pos;
		out->values_len = pos;
		out->validity = raw.validity;
		raw.validity = NULL;
	}
	lance_vector_free(&raw);
	return ok;
}

/* The encoding census (lance_file.h) of one 2.0 node. */
static void
note_encoding(const Lancepb__E20ArrayEncoding *e)
{
	static const char *const names[] = {
		NULL, "2.0 flat", "2.0 nullable", "2.0 fixed_size_list", "2.0 list", "2.0 struct",
		"2.0 binary", "2.0 dictionary", "2.0 fsst", "2.0 packed_struct", "2.0 bitpacked",
		"2.0 fixed_size_binary", "2.0 bitpacked_for_non_neg", "2.0 constant"
	};
	int			c = (int) e->array_encoding_case;

	if (c == LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_NULLABLE)
		lance_census_note(e->nullable->nullability_case == LANCEPB__E20_NULLABLE__NULLABILITY_SOME_NULLS ?
						  "2.0 nullable some_nulls" :
						  e->nullable->nullability_case == LANCEPB__E20_NULLABLE__NULLABILITY_ALL_NULLS ?
						  "2.0 nullable all_nulls" : "2.0 nullable no_nulls");
	else if (c == LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_FLAT && e->flat->compression != NULL &&
			 e->flat->compression->scheme != NULL && e->flat->compression->scheme[0] != '\0')
		lance_census_note(strcmp(e->flat->compression->scheme, "zstd") == 0 ? "2.0 flat zstd" :
						  "2.0 flat lz4 (or other)");
	else if (c > 0 && c < (int) (sizeof(names) / sizeof(names[0])))
		lance_census_note(names[c]);
}

static bool
decode_node(Page20 *pg, const Lancepb__E20ArrayEncoding *e, uint64_t n, Want w, LanceVector *out,
			int depth, LanceError *err)
{
	if (depth > MAX_DEPTH)
		return lance_fail(err, "encoding nested too deeply");
	if (e == NULL)
		return lance_fail(err, "missing array encoding");
	note_encoding(e);
	switch (e->array_encoding_case)
	{
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_FLAT:
			return decode_flat(pg, e->flat, n, w, out, err);
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_NULLABLE:
			{
				const Lancepb__E20Nullable *nu = e->nullable;

				switch (nu->nullability_case)
				{
					case LANCEPB__E20_NULLABLE__NULLABILITY_NO_NULLS:
						/* a vector with NULL items is already marked null */
						return decode(pg, nu->no_nulls->values, n, w, out, depth + 1, err);
					case LANCEPB__E20_NULLABLE__NULLABILITY_ALL_NULLS:
						return all_null(n, w, out, err);
					case LANCEPB__E20_NULLABLE__NULLABILITY_SOME_NULLS:
						{
							LanceVector val = {0};
							bool		ok;

							if (w.kind == WANT_BITS)
								return lance_fail(err, "a nullable validity bitmap");
							if (!decode(pg, nu->some_nulls->validity, n, (Want) {WANT_BITS, 0, false},
										&val, depth + 1, err))
								return false;
							ok = decode(pg, nu->some_nulls->values, n, w, out, depth + 1, err);
							ok = ok && and_validity(out, val.values, n, err);
							lance_vector_free(&val);
							return ok;
						}
					default:
						return lance_fail(err, "nullable encoding without a case");
				}
			}
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_FIXED_SIZE_LIST:
			{
				uint64_t	dim = e->fixed_size_list->dimension;
				uint64_t	total;
				LanceVector items = {0};
				uint64_t	i;

				if (w.kind != WANT_FIXED || w.isbool || dim == 0 || w.width % dim != 0 ||
					!lance_mul_u64(n, dim, &total))
					return lance_fail(err, "fixed_size_list encoding does not match the type");
				if (!decode(pg, e->fixed_size_list->items, total,
							(Want) {WANT_FIXED, (uint32_t) (w.width / dim), false}, &items, depth + 1, err))
					return false;
				/*
				 * A vector with a NULL item cannot be represented: it reads
				 * as NULL (docs/sql-reference.md), as in 2.1+ files.
				 */
				if (items.validity)
					for (i = 0; i < total; i++)
						if (!lance_vector_is_valid(&items, i))
						{
							if (out->validity == NULL)
							{
								out->validity = lance_alloc((n + 7) / 8, err);
								if (out->validity == NULL)
								{
									lance_vector_free(&items);
									return false;
								}
								memset(out->validity, 0xff, (n + 7) / 8);
							}
							out->validity[(i / dim) >> 3] &= (uint8_t) ~(1 << ((i / dim) & 7));
						}
				out->n = n;
				out->width = w.width;
				out->values = items.values;
				out->values_len = items.values_len;
				items.values = NULL;
				lance_vector_free(&items);
				return true;
			}
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_BINARY:
			if (w.kind != WANT_VAR)
				return lance_fail(err, "binary encoding for a fixed-width type");
			return decode_binary(pg, e->binary, n, out, depth, err);
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_DICTIONARY:
			return decode_dictionary(pg, e->dictionary, n, w, out, depth, err);
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_FSST:
			if (w.kind != WANT_VAR)
				return lance_fail(err, "FSST encoding for a fixed-width type");
			return decode_fsst(pg, e->fsst, n, out, depth, err);
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_FIXED_SIZE_BINARY:
			{
				uint64_t	bw = e->fixed_size_binary->byte_width;
				uint64_t	total;
				LanceVector bytes = {0};

				if (w.kind != WANT_FIXED || w.isbool || bw != w.width || !lance_mul_u64(n, bw, &total))
					return lance_fail(err, "fixed_size_binary encoding does not match the type");
				if (!decode(pg, e->fixed_size_binary->bytes, total, (Want) {WANT_FIXED, 1, false},
							&bytes, depth + 1, err))
					return false;
				out->n = n;
				out->width = w.width;
				out->values = bytes.values;
				out->values_len = total;
				out->validity = NULL;
				bytes.values = NULL;
				lance_vector_free(&bytes);
				return true;
			}
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_CONSTANT:
			{
				const ProtobufCBinaryData *v = &e->constant->value;
				uint64_t	total;
				uint64_t	i;

				if (w.kind == WANT_BITS || w.kind == WANT_U64 ||
					(w.kind == WANT_FIXED && v->len != w.width) ||
					!lance_mul_u64(n, v->len, &total))
					return lance_fail(err, "constant of %zu bytes does not match the type", v->len);
				out->n = n;
				out->values = lance_alloc(MAX1(total), err);
				out->values_len = total;
				if (out->values == NULL)
					return false;
				for (i = 0; i < n; i++)
					memcpy(out->values + i * v->len, v->data, v->len);
				if (w.kind == WANT_FIXED)
				{
					out->width = w.width;
					return true;
				}
				out->offsets = lance_alloc_array(n + 1, sizeof(uint64_t), err);
				if (out->offsets == NULL)
					return false;
				for (i = 0; i <= n; i++)
					out->offsets[i] = i * v->len;
				return true;
			}
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_BITPACKED_FOR_NON_NEG:
			return decode_bitpacked_nonneg(pg, e->bitpacked_for_non_neg, n, w, out, err);
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_PACKED_STRUCT:
			{
				/* rows of the children's bytes, read as one fixed-width value */
				const uint8_t *data;
				uint64_t	len;
				uint64_t	total;

				if (w.kind != WANT_FIXED || w.isbool || !lance_mul_u64(n, w.width, &total))
					return lance_fail(err, "packed struct encoding does not match the type");
				if (!get_buffer(pg, e->packed_struct->buffer, &data, &len, err))
					return false;
				if (len < total)
					return lance_fail(err, "packed struct buffer of %llu bytes holds fewer than %llu rows",
									  (unsigned long long) len, (unsigned long long) n);
				out->n = n;
				out->width = w.width;
				out->values = lance_alloc(MAX1(total), err);
				if (out->values == NULL)
					return false;
				memcpy(out->values, data, total);
				out->values_len = total;
				return true;
			}
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_LIST:
		case LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_STRUCT_:
			return lance_fail(err, "list or struct encoding in a leaf column");
		default:
			return lance_fail(err, "2.0 array encoding %d is not supported", (int) e->array_encoding_case);
	}
}

/* Decodes one node into `out`; on failure `out` holds nothing. */
static bool
decode(Page20 *pg, const Lancepb__E20ArrayEncoding *e, uint64_t n, Want w, LanceVector *out,
	   int depth, LanceError *err)
{
	memset(out, 0, sizeof(*out));
	if (decode_node(pg, e, n, w, out, depth, err))
		return true;
	lance_vector_free(out);
	return false;
}

/* ---- columns ---- */

/* Appends array `b` (n rows) to `a`; both fixed of one width or both variable. */
static bool
append_vector(LanceVector *a, LanceVector *b, LanceError *err)
{
	uint64_t	n;
	uint64_t	i;

	if (a->n == 0 && a->values == NULL && a->offsets == NULL)
	{
		LanceType	t = a->type;

		*a = *b;
		a->type = t;
		memset(b, 0, sizeof(*b));
		return true;
	}
	if (a->width != b->width || (a->offsets == NULL) != (b->offsets == NULL))
		return lance_fail(err, "pages of one column decode to different layouts");
	if (!lance_add_u64(a->n, b->n, &n))
		return lance_fail(err, "too many rows");
	if (a->validity || b->validity)
	{
		uint8_t    *v = lance_alloc((n + 7) / 8, err);

		if (v == NULL)
			return false;
		for (i = 0; i < n; i++)
		{
			bool		ok = i < a->n ? lance_vector_is_valid(a, i) : lance_vector_is_valid(b, i - a->n);

			if (ok)
				v[i >> 3] |= (uint8_t) (1 << (i & 7));
			else
				v[i >> 3] &= (uint8_t) ~(1 << (i & 7));
		}
		lance_free(a->validity);
		a->validity = v;
	}
	if (b->values_len > 0)
	{
		uint8_t    *nv = lance_realloc(a->values, a->values_len + b->values_len, err);

		if (nv == NULL)
			return false;
		memcpy(nv + a->values_len, b->values, b->values_len);
		a->values = nv;
	}
	if (a->offsets)
	{
		uint64_t   *no = lance_realloc(a->offsets, (n + 1) * sizeof(uint64_t), err);

		if (no == NULL)
			return false;
		for (i = 0; i <= b->n; i++)
			no[a->n + i] = a->values_len + b->offsets[i];
		a->offsets = no;
	}
	a->values_len += b->values_len;
	a->n = n;
	lance_vector_free(b);
	return true;
}

/*
 * Unpacks a page's encoding and reads its buffers (unless encoding_only);
 * the caller frees both.
 */
static bool
open_page(LanceFileReader *f, const LancePage *p, uint8_t **owned, Lancepb__E20ArrayEncoding **enc,
		  bool encoding_only, LanceError *err)
{
	int			b;

	*enc = NULL;
	memset(owned, 0, sizeof(uint8_t *) * 16);
	if (p->layout21)
		return lance_fail(err, "a 2.1 page layout inside a 2.0 file");
	if (!lance_pb_depth_ok(p->encoding, p->encoding_len, MAX_DEPTH * 3))
		return lance_fail(err, "page encoding nested too deeply");
	*enc = lancepb__e20_array_encoding__unpack(&lance_pb_allocator, p->encoding_len, p->encoding);
	if (*enc == NULL)
		return lance_fail(err, "invalid 2.0 page encoding");
	for (b = 0; b < p->nbuffers && !encoding_only; b++)
	{
		owned[b] = lance_reader_read_alloc(&f->r, p->buf_offsets[b], p->buf_sizes[b], err);
		if (owned[b] == NULL)
			return false;
	}
	return true;
}

static void
close_page(Page20 *pg, uint8_t **owned, Lancepb__E20ArrayEncoding *enc)
{
	int			b;

	for (b = 0; b < 16; b++)
	{
		lance_free(owned[b]);
		lance_free(pg->colbufs[b]);
		pg->colbufs[b] = NULL;
	}
	if (enc)
		lancepb__e20_array_encoding__free_unpacked(enc, &lance_pb_allocator);
}

static bool read_field(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df,
					   int idx, uint64_t start, uint64_t end, LanceVector *out,
					   uint64_t *span, LanceError *err);

/* The column of a field, or -1 when the file lacks it. */
static bool
field_column(LanceFileReader *f, const LanceDataFile *df, const LanceField *fld, int *col,
			 LanceError *err)
{
	*col = lance_column_of(df, fld->id);
	if (*col >= 0 && (uint32_t) *col >= f->ncolumns)
		return lance_fail(err, "field \"%s\" maps to column %d of %u", fld->name, *col, f->ncolumns);
	return true;
}

static bool
check_rows(const LanceField *fld, const LanceColumn *c, uint64_t end, LanceError *err)
{
	uint64_t	total = 0;
	int			p;

	for (p = 0; p < c->npages; p++)
		total += c->pages[p].nrows;
	if (total < end)
		return lance_fail(err, "column \"%s\" has %llu rows in its pages, row %llu was asked for",
						  fld->name, (unsigned long long) total, (unsigned long long) end - 1);
	return true;
}

/* Whether page p of a column holds some of rows [start, end). */
static inline bool
page_in_range(const LancePage *pg, uint64_t start, uint64_t end)
{
	return pg->nrows > 0 && pg->first_row < end && pg->first_row + pg->nrows > start;
}

/* Rows [start, end) of field idx exactly. */
static bool
read_field_exact(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df, int idx,
				 uint64_t start, uint64_t end, LanceVector *out, LanceError *err)
{
	uint64_t	span;

	if (!read_field(f, m, df, idx, start, end, out, &span, err))
		return false;
	if (span == start && out->n == end - start)
		return true;
	return lance_vector_slice(out, start - span, end - start, err);
}

/*
 * A list column: per page, offsets relative to the page's first item (and
 * num_items items); the items are the child column's rows in order.
 */
static bool
read_list(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df, int idx,
		  const LanceColumn *c, uint64_t start, uint64_t end, LanceVector *out,
		  uint64_t *span, LanceError *err)
{
	const LanceField *fld = &m->fields[idx];
	uint64_t	items = 0;		/* items of the pages before the current one */
	uint64_t	first_item = 0; /* of the first page in the range */
	uint64_t	row = 0;
	uint64_t	nrows = 0;
	bool		started = false;
	int			p;

	if (fld->nchildren != 1)
		return lance_fail(err, "list column \"%s\" has %d children", fld->name, fld->nchildren);
	for (p = 0; p < c->npages; p++)
		if (page_in_range(&c->pages[p], start, end))
		{
			if (!started)
				*span = c->pages[p].first_row;
			started = true;
			nrows = c->pages[p].first_row + c->pages[p].nrows - *span;
		}
	out->n = nrows;
	out->offsets = lance_alloc_array(nrows + 1, sizeof(uint64_t), err);
	out->children = lance_alloc0(sizeof(LanceVector), err);
	if (out->offsets == NULL || out->children == NULL)
		return false;
	out->nchildren = 1;
	started = false;
	for (p = 0; p < c->npages; p++)
	{
		const LancePage *pg = &c->pages[p];
		uint8_t    *owned[16];
		Lancepb__E20ArrayEncoding *enc;
		Page20		ctx = {.f = f, .col = c, .nbufs = pg->nbuffers,
		.bufs = (const uint8_t *const *) owned, .lens = pg->buf_sizes};
		LanceVector off = {0};
		bool		in_range = page_in_range(pg, start, end);
		bool		ok;
		uint64_t	base = 0;
		uint64_t	i;

		if (pg->first_row >= end)
			break;
		/* pages before the range only count their items */
		ok = open_page(f, pg, owned, &enc, !in_range, err);
		if (ok && enc->array_encoding_case != LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_LIST)
			ok = lance_fail(err, "list column \"%s\" has a page that is not a list", fld->name);
		if (ok)
			lance_census_note("2.0 list");
		if (ok && in_range && !started)
		{
			started = true;
			first_item = items;
		}
		if (ok && in_range)
			ok = decode(&ctx, enc->list->offsets, pg->nrows, (Want) {WANT_U64, 8, false}, &off, 1, err);
		for (i = 0; ok && in_range && i < pg->nrows; i++)
		{
			uint64_t	e = ((const uint64_t *) off.values)[i];
			uint64_t	adj = enc->list->null_offset_adjustment;

			out->offsets[row] = items - first_item + base;
			if (adj > 0 && e >= adj)
			{
				e -= adj;
				if (out->validity == NULL)
				{
					if ((out->validity = lance_alloc((nrows + 7) / 8, err)) == NULL)
					{
						ok = false;
						break;
					}
					memset(out->validity, 0xff, (nrows + 7) / 8);
				}
				out->validity[row >> 3] &= (uint8_t) ~(1 << (row & 7));
			}
			if (e < base || e > enc->list->num_items)
				ok = lance_fail(err, "list offset %llu of row %llu is out of range",
								(unsigned long long) ((const uint64_t *) off.values)[i],
								(unsigned long long) (*span + row));
			base = e;
			row++;
		}
		if (ok && in_range && base != enc->list->num_items)
			ok = lance_fail(err, "list page references %llu items but says %llu",
							(unsigned long long) base, (unsigned long long) enc->list->num_items);
		if (ok && !lance_add_u64(items, enc->list->num_items, &items))
			ok = lance_fail(err, "too many list items");
		lance_vector_free(&off);
		close_page(&ctx, owned, enc);
		if (!ok)
		{
			lance_error_prefix(err, "page %d: ", p);
			return false;
		}
	}
	if (row != nrows)
		return lance_fail(err, "list column \"%s\": %llu of %llu rows decoded", fld->name,
						  (unsigned long long) row, (unsigned long long) nrows);
	out->offsets[nrows] = items - first_item;
	return read_field_exact(f, m, df, fld->children[0], first_item, items, &out->children[0], err);
}

/* The pages of a leaf column that overlap [start, end), appended. */
static bool
read_leaf(LanceFileReader *f, const LanceField *fld, const LanceColumn *c, uint64_t start,
		  uint64_t end, LanceVector *out, uint64_t *span, LanceError *err)
{
	Want		w = {WANT_FIXED, 0, fld->type.kind == LANCE_T_BOOL};
	bool		started = false;
	int			p;

	if (!lance_leaf_width(&fld->type, &w.width, err))
		return false;
	if (w.width == 0)
		w.kind = WANT_VAR;
	for (p = 0; p < c->npages; p++)
	{
		const LancePage *pg = &c->pages[p];
		uint8_t    *owned[16];
		Lancepb__E20ArrayEncoding *enc;
		Page20		ctx = {.f = f, .col = c, .nbufs = pg->nbuffers,
		.bufs = (const uint8_t *const *) owned, .lens = pg->buf_sizes};
		LanceVector v = {0};
		bool		ok;

		if (!page_in_range(pg, start, end))
			continue;
		if (!started)
			*span = pg->first_row;
		started = true;
		ok = open_page(f, pg, owned, &enc, false, err);
		if (ok)
			ok = decode(&ctx, enc, pg->nrows, w, &v, 0, err);
		if (ok && v.n != pg->nrows)
			ok = lance_fail(err, "page decoded to %llu of %llu rows", (unsigned long long) v.n,
							(unsigned long long) pg->nrows);
		if (ok)
			ok = append_vector(out, &v, err);
		lance_vector_free(&v);
		close_page(&ctx, owned, enc);
		if (!ok)
		{
			lance_error_prefix(err, "page %d: ", p);
			return false;
		}
	}
	if (out->values == NULL && out->offsets == NULL)
	{
		/* nothing asked for, or no page: an empty array of the type */
		LanceVector v = {0};

		if (start < end)
			return lance_fail(err, "column \"%s\" has no pages for its rows", fld->name);
		*span = start;
		return all_null(0, w, &v, err) && append_vector(out, &v, err);
	}
	return true;
}

static bool
read_field(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df, int idx,
		   uint64_t start, uint64_t end, LanceVector *out, uint64_t *span, LanceError *err)
{
	const LanceField *fld = &m->fields[idx];
	int			col;
	int			i;

	memset(out, 0, sizeof(*out));
	out->type = fld->type;
	*span = start;
	if (fld->type.kind == LANCE_T_UNSUPPORTED)
		return lance_fail(err, "column \"%s\" has unsupported type \"%s\"", fld->name, fld->logical_type);
	if (!field_column(f, df, fld, &col, err))
		return false;
	if (col < 0)
		return lance_null_vector(m, idx, end - start, out, err);
	if (!check_rows(fld, &f->columns[col], end, err))
		return false;
	if (fld->type.kind == LANCE_T_STRUCT && lance_struct_is_packed(m, df, idx))
	{
		LanceField	rows = *fld;
		LanceVector packed = {0};
		bool		ok;

		/* one column of the children's bytes zipped row by row */
		if (!lance_packed_width(m, idx, &rows.type.width, err))
			return false;
		rows.type.kind = LANCE_T_FIXED_BINARY;
		ok = read_leaf(f, &rows, &f->columns[col], start, end, &packed, span, err) &&
			lance_packed_split(m, idx, &packed, out, err);
		lance_vector_free(&packed);
		return ok;
	}
	if (fld->type.kind == LANCE_T_STRUCT)
	{
		/* 2.0 stores no struct validity: the struct column has no data */
		out->n = end - start;
		out->children = lance_alloc_array(MAX1(fld->nchildren), sizeof(LanceVector), err);
		if (out->children == NULL)
			return false;
		out->nchildren = fld->nchildren;
		for (i = 0; i < fld->nchildren; i++)
			if (!read_field_exact(f, m, df, fld->children[i], start, end, &out->children[i], err))
				return false;
		return true;
	}
	if (fld->type.kind == LANCE_T_LIST || fld->type.kind == LANCE_T_LARGE_LIST)
		return read_list(f, m, df, idx, &f->columns[col], start, end, out, span, err);
	if (!read_leaf(f, fld, &f->columns[col], start, end, out, span, err))
	{
		if (err && err->set && strstr(err->msg, fld->name) == NULL)
			lance_error_prefix(err, "column \"%s\", ", fld->name);
		return false;
	}
	out->type = fld->type;
	return true;
}

bool
lance_read20_field(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df,
				   int idx, uint64_t start, uint64_t end, LanceVector *out, uint64_t *span,
				   LanceError *err)
{
	return read_field(f, m, df, idx, start, end, out, span, err);
}

bool
lance_fuzz_decode_page20(const uint8_t *encoding, uint64_t len, const uint8_t *const *bufs,
						 const uint64_t *buf_lens, int nbufs, uint64_t nrows, const LanceType *t,
						 LanceError *err)
{
	LanceVector v = {0};
	bool		ok = lance_decode_page20(encoding, len, bufs, buf_lens, nbufs, nrows, t, &v, err);

	lance_vector_free(&v);
	return ok;
}

bool
lance_decode_page20(const uint8_t *encoding, uint64_t len, const uint8_t *const *bufs,
					const uint64_t *buf_lens, int nbufs, uint64_t nrows, const LanceType *t,
					LanceVector *out, LanceError *err)
{
	Lancepb__E20ArrayEncoding *enc;
	Page20		ctx = {.nbufs = nbufs, .bufs = bufs, .lens = buf_lens};
	Want		w = {WANT_FIXED, 0, t->kind == LANCE_T_BOOL};
	LanceVector v = {0};
	bool		ok;

	memset(out, 0, sizeof(*out));

	if (!lance_leaf_width(t, &w.width, err))
		return false;
	if (w.width == 0)
		w.kind = WANT_VAR;
	if (!lance_pb_depth_ok(encoding, len, MAX_DEPTH * 3))
		return lance_fail(err, "page encoding nested too deeply");
	enc = lancepb__e20_array_encoding__unpack(&lance_pb_allocator, len, encoding);
	if (enc == NULL)
		return lance_fail(err, "invalid 2.0 page encoding");
	ok = decode(&ctx, enc, nrows, w, &v, 0, err);
	if (ok)
		*out = v;
	else
		lance_vector_free(&v);
	lancepb__e20_array_encoding__free_unpacked(enc, &lance_pb_allocator);
	return ok;
}
