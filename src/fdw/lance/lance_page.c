/*
 * lance_page.c
 *	  Decoding of Lance 2.1 / 2.2 pages (PageLayout): mini-block, full-zip and
 *	  constant layouts and the CompressiveEncoding tree inside them.
 *
 * Mini-block pages: buffer 0 holds one metadata word per chunk (u16 in 2.1,
 * u32 with has_large_chunk in 2.2) = ((chunk_bytes/8 - 1) << 4) | log2(values);
 * the last chunk's log2 is 0 and it holds the remaining items.  Buffer 1
 * holds the chunks; a chunk is a header (u16 levels, [u16 rep bytes],
 * [u16 def bytes], one size per value buffer), then rep, def and value
 * buffers, each starting 8-byte aligned.  With a dictionary, buffer 2 holds
 * the dictionary items and chunk values are indices.
 */
#include "lance_page.h"
#include "lance_pb.h"

#define MAX_CE_DEPTH	16
/* more values than this in one page is corruption, not data */
#define MAX_PAGE_ITEMS	(UINT64_C(1) << 32)

typedef struct Buf
{
	const uint8_t *p;
	uint64_t	len;
} Buf;

/* ---- value buffers ---- */

bool
lance_values_init(LanceValues *v, uint32_t width, LanceError *err)
{
	memset(v, 0, sizeof(*v));
	v->width = width;
	if (width == 0)
	{
		v->offcap = 64;
		v->off = lance_alloc_array(v->offcap, sizeof(uint64_t), err);
		if (v->off == NULL)
			return false;
		v->off[0] = 0;
	}
	return true;
}

void
lance_values_free(LanceValues *v)
{
	lance_free(v->data);
	lance_free(v->off);
	lance_free(v->itemnull);
	memset(v, 0, sizeof(*v));
}

void
lance_leaf_free(LanceLeaf *l)
{
	lance_free(l->rep);
	lance_free(l->def);
	lance_values_free(&l->v);
	l->rep = l->def = NULL;
	l->nlev = l->levcap = 0;
}

static bool
reserve_bytes(LanceValues *v, uint64_t more, LanceError *err)
{
	uint64_t	need;

	if (!lance_add_u64(v->len, more, &need))
		return lance_fail(err, "value buffer overflow");
	/* always allocate, so that callers may form data + len even for 0 */
	if (need > v->cap || v->data == NULL)
	{
		uint64_t	ncap = v->cap ? v->cap : 256;
		uint8_t    *nd;

		while (ncap < need)
		{
			if (ncap > UINT64_MAX / 2)
				return lance_fail(err, "value buffer overflow");
			ncap *= 2;
		}
		nd = lance_realloc(v->data, ncap, err);
		if (nd == NULL)
			return false;
		v->data = nd;
		v->cap = ncap;
	}
	return true;
}

static bool
reserve_offsets(LanceValues *v, uint64_t more, LanceError *err)
{
	uint64_t	need = v->n + more + 1;

	if (more > MAX_PAGE_ITEMS || need > v->offcap)
	{
		uint64_t	ncap = v->offcap;
		uint64_t   *no;

		if (more > MAX_PAGE_ITEMS)
			return lance_fail(err, "too many values");
		while (ncap < need)
			ncap *= 2;
		no = lance_realloc(v->off, ncap * sizeof(uint64_t), err);
		if (no == NULL)
			return false;
		v->off = no;
		v->offcap = ncap;
	}
	return true;
}

static bool
push_var(LanceValues *v, const uint8_t *p, uint64_t len, LanceError *err)
{
	if (!reserve_bytes(v, len, err) || !reserve_offsets(v, 1, err))
		return false;
	if (len)
		memcpy(v->data + v->len, p, len);
	v->len += len;
	v->n++;
	v->off[v->n] = v->len;
	return true;
}

bool
lance_leaf_width(const LanceType *t, uint32_t *width, LanceError *err)
{
	switch (t->kind)
	{
		case LANCE_T_BOOL:
			*width = 1;
			return true;
		case LANCE_T_STRING:
		case LANCE_T_LARGE_STRING:
		case LANCE_T_BINARY:
		case LANCE_T_LARGE_BINARY:
			*width = 0;
			return true;
		case LANCE_T_FIXED_BINARY:
			*width = t->width;
			return true;
		case LANCE_T_FSL:
			if (t->elem == LANCE_T_BOOL)
				return lance_fail(err, "fixed_size_list of bool is not supported");
			*width = t->width * lance_type_fixed_width(t->elem);
			return true;
		default:
			*width = lance_type_fixed_width(t->kind);
			if (*width == 0)
				return lance_fail(err, "type %s is not a leaf type", lance_type_name(t->kind));
			return true;
	}
}

/* ---- fixed-width values ---- */

static bool decode_fixed(const Lancepb__CompressiveEncoding *ce, Buf *bufs, int nbufs, int *bi,
						 uint64_t n, uint32_t bits, bool to_bool, LanceValues *out,
						 int depth, LanceError *err);

static void
store_uint(uint8_t *dst, uint64_t v, uint32_t bits)
{
	switch (bits)
	{
		case 8:
			*dst = (uint8_t) v;
			break;
		case 16:
			{
				uint16_t	x = (uint16_t) v;

				memcpy(dst, &x, 2);
				break;
			}
		case 32:
			{
				uint32_t	x = (uint32_t) v;

				memcpy(dst, &x, 4);
				break;
			}
		default:
			memcpy(dst, &v, 8);
			break;
	}
}

static bool
take_buf(Buf *bufs, int nbufs, int *bi, Buf *b, LanceError *err)
{
	if (*bi >= nbufs)
		return lance_fail(err, "encoding needs more buffers than the chunk has");
	*b = bufs[(*bi)++];
	return true;
}

/*
 * A general-compression wrapper (LZ4/ZSTD around an inner encoding): check
 * it and decompress buffer b into *one.  The caller decodes *one with the
 * inner encoding and frees one->p with lance_free.
 */
static bool
decompress_general(const Lancepb__CompressiveEncoding *ce, Buf b, Buf *one,
				   LanceError *err)
{
	uint64_t	rawlen = 0;
	uint8_t    *raw;

	if (ce->general->compression == NULL || ce->general->values == NULL)
		return lance_fail(err, "invalid general compression encoding");
	lance_census_note(ce->general->compression->scheme == 1 ? "general lz4" : "general zstd");
	raw = lance_decompress(ce->general->compression->scheme, b.p, b.len, &rawlen, err);
	if (raw == NULL)
		return false;
	one->p = raw;
	one->len = rawlen;
	return true;
}

/*
 * Bit-packed values in FastLanes blocks of 1024.  Inline: each block starts
 * with a T-bit word holding its bit width and is always padded to 1024.
 * Out-of-line: the width is fixed by the encoding; full blocks are packed,
 * the tail is packed (padded) or raw, whichever the writer found smaller, so
 * the buffer size tells which.
 */
static bool
decode_bitpacked(Buf b, uint64_t n, uint32_t tbits, int fixed_w, uint8_t *dst, LanceError *err)
{
	uint64_t	vals[1024];
	uint64_t	pos = 0;
	uint64_t	done = 0;
	uint32_t	tbytes = tbits / 8;

	while (done < n)
	{
		uint64_t	cnt = n - done < 1024 ? n - done : 1024;
		int			w = fixed_w;
		uint64_t	packed;
		uint64_t	i;

		if (w < 0)
		{
			if (!lance_range_ok(pos, tbytes, b.len))
				return lance_fail(err, "bit-packed buffer truncated");
			w = (int) (tbits == 8 ? b.p[pos] : tbits == 16 ? lance_le16(b.p + pos) :
					   tbits == 32 ? lance_le32(b.p + pos) : lance_le64(b.p + pos));
			if (w < 0 || (uint32_t) w > tbits)
				return lance_fail(err, "bit width %d exceeds %u", w, tbits);
			pos += tbytes;
		}
		packed = (uint64_t) w * 128;
		if (fixed_w >= 0 && cnt < 1024 && b.len - pos != packed)
		{
			/* an out-of-line tail stored raw */
			if (b.len - pos < cnt * tbytes)
				return lance_fail(err, "bit-packed tail truncated");
			memcpy(dst + done * tbytes, b.p + pos, cnt * tbytes);
			return true;
		}
		if (!lance_range_ok(pos, packed, b.len))
			return lance_fail(err, "bit-packed buffer truncated");
		lance_fastlanes_unpack(b.p + pos, (int) tbits, w, vals);
		for (i = 0; i < cnt; i++)
			store_uint(dst + (done + i) * tbytes, vals[i], tbits);
		pos += packed;
		done += cnt;
	}
	return true;
}

/*
 * Notes which of the n fixed_size_list values about to be appended to out
 * have a NULL among their dim items (bitmap b, one bit per item).
 */
static bool
mark_item_nulls(LanceValues *out, Buf b, uint64_t n, uint64_t dim, LanceError *err)
{
	uint64_t	base = out->len / out->width;
	uint64_t	i,
				k;

	if (b.len < (n * dim + 7) / 8)
		return lance_fail(err, "item validity truncated");
	for (i = 0; i < n; i++)
	{
		bool		anynull = false;

		for (k = 0; k < dim && !anynull; k++)
		{
			uint64_t	bit = i * dim + k;

			anynull = !((b.p[bit >> 3] >> (bit & 7)) & 1);
		}
		if (!anynull)
			continue;
		if (base + i >= out->itemnull_cap)
		{
			uint64_t	ncap = out->itemnull_cap ? out->itemnull_cap : 1024;
			uint8_t    *nb;

			while (ncap <= base + i)
				ncap *= 2;
			nb = lance_realloc(out->itemnull, ncap / 8, err);
			if (nb == NULL)
				return false;
			memset(nb + out->itemnull_cap / 8, 0, (ncap - out->itemnull_cap) / 8);
			out->itemnull = nb;
			out->itemnull_cap = ncap;
		}
		out->itemnull[(base + i) >> 3] |= (uint8_t) (1 << ((base + i) & 7));
	}
	return true;
}

static bool
decode_fixed(const Lancepb__CompressiveEncoding *ce, Buf *bufs, int nbufs, int *bi,
			 uint64_t n, uint32_t bits, bool to_bool, LanceValues *out,
			 int depth, LanceError *err)
{
	Buf			b;
	uint64_t	nbytes;
	uint8_t    *dst;

	if (depth > MAX_CE_DEPTH)
		return lance_fail(err, "encoding nested too deeply");
	if (n > MAX_PAGE_ITEMS)
		return lance_fail(err, "too many values (%llu)", (unsigned long long) n);
	if (to_bool)
		nbytes = n;
	else if (bits % 8 != 0 || !lance_mul_u64(n, bits / 8, &nbytes))
		return lance_fail(err, "unsupported value width %u bits", bits);

	switch (ce->compression_case)
	{
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FLAT:
			{
				uint64_t	fb = ce->flat->bits_per_value;

				lance_census_note(to_bool && fb == 1 ? "flat bitmap" : "flat");

				if (ce->flat->data != NULL)
					return lance_fail(err, "compressed flat buffers are not supported");
				if (!take_buf(bufs, nbufs, bi, &b, err))
					return false;
				if (to_bool && fb == 1)
				{
					uint64_t	i;

					if (b.len < (n + 7) / 8)
						return lance_fail(err, "bool buffer truncated");
					if (!reserve_bytes(out, n, err))
						return false;
					for (i = 0; i < n; i++)
						out->data[out->len + i] = (b.p[i >> 3] >> (i & 7)) & 1;
					out->len += n;
					return true;
				}
				if (fb != bits || to_bool)
					return lance_fail(err, "flat encoding has %llu bits per value, expected %u",
									  (unsigned long long) fb, bits);
				if (b.len < nbytes)
					return lance_fail(err, "flat buffer truncated (%llu < %llu bytes)",
									  (unsigned long long) b.len, (unsigned long long) nbytes);
				if (!reserve_bytes(out, nbytes, err))
					return false;
				memcpy(out->data + out->len, b.p, nbytes);
				out->len += nbytes;
				return true;
			}
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_INLINE_BITPACKING:
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_OUT_OF_LINE_BITPACKING:
			{
				bool		inl = ce->compression_case == LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_INLINE_BITPACKING;
				uint64_t	tb = inl ? ce->inline_bitpacking->uncompressed_bits_per_value :
					ce->out_of_line_bitpacking->uncompressed_bits_per_value;
				int			w = -1;

				lance_census_note(inl ? "inline bit-packing" : "out-of-line bit-packing");

				if (tb != bits || to_bool)
					return lance_fail(err, "bit-packing of %llu-bit values where %u bits are expected",
									  (unsigned long long) tb, bits);
				if (tb != 8 && tb != 16 && tb != 32 && tb != 64)
					return lance_fail(err, "bit-packing of %llu-bit values is not supported",
									  (unsigned long long) tb);
				if (inl && ce->inline_bitpacking->values != NULL)
					return lance_fail(err, "compressed bit-packed buffers are not supported");
				if (!inl)
				{
					const Lancepb__CompressiveEncoding *v = ce->out_of_line_bitpacking->values;

					if (v == NULL || v->compression_case != LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FLAT ||
						v->flat->bits_per_value > tb)
						return lance_fail(err, "unsupported out-of-line bit-packing");
					w = (int) v->flat->bits_per_value;
				}
				if (!take_buf(bufs, nbufs, bi, &b, err) || !reserve_bytes(out, nbytes, err))
					return false;
				if (!decode_bitpacked(b, n, (uint32_t) tb, w, out->data + out->len, err))
					return false;
				out->len += nbytes;
				return true;
			}
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FIXED_SIZE_LIST:
			{
				uint64_t	dim = ce->fixed_size_list->items_per_value;
				uint64_t	total;
				Buf			vb = {NULL, 0};

				lance_census_note(ce->fixed_size_list->has_validity ? "fixed_size_list item validity" :
								  "fixed_size_list");

				if (dim == 0 || bits % dim != 0 || to_bool || ce->fixed_size_list->values == NULL ||
					!lance_mul_u64(n, dim, &total))
					return lance_fail(err, "invalid fixed_size_list encoding");
				/* item validity: a bitmap buffer (1 = valid) before the items */
				if (ce->fixed_size_list->has_validity &&
					(out->width == 0 || out->width * 8 != bits || !take_buf(bufs, nbufs, bi, &vb, err) ||
					 !mark_item_nulls(out, vb, n, dim, err)))
					return lance_fail(err, "invalid fixed_size_list item validity");
				return decode_fixed(ce->fixed_size_list->values, bufs, nbufs, bi, total,
									(uint32_t) (bits / dim), false, out, depth + 1, err);
			}
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_PACKED_STRUCT:
			{
				/* children zipped row by row: the rows are the values */
				uint64_t	sum = 0;
				size_t		k;

				lance_census_note("packed_struct");
				for (k = 0; k < ce->packed_struct->n_bits_per_value; k++)
				{
					uint64_t	cb = ce->packed_struct->bits_per_value[k];

					if (cb % 8 != 0 || cb > bits)
						return lance_fail(err, "invalid packed struct member width %llu",
										  (unsigned long long) cb);
					sum += cb;
				}
				if (sum != bits || to_bool || ce->packed_struct->values == NULL)
					return lance_fail(err, "packed struct of %llu bits where %u are expected",
									  (unsigned long long) sum, bits);
				return decode_fixed(ce->packed_struct->values, bufs, nbufs, bi, n, bits, false, out,
									depth + 1, err);
			}
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_RLE:
			{
				/* two buffers: run values, then run lengths */
				LanceValues rv,
							rl;
				int			vb = 0;
				uint64_t	nruns;
				uint64_t	i,
							total = 0;
				uint32_t	vbytes = to_bool ? 1 : bits / 8;
				const Lancepb__CompressiveEncoding *lenc = ce->rle->run_lengths;
				Buf			two[2];
				bool		ok;

				lance_census_note("rle");

				if (ce->rle->values == NULL || lenc == NULL ||
					lenc->compression_case != LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FLAT ||
					(lenc->flat->bits_per_value != 8 && lenc->flat->bits_per_value != 16 &&
					 lenc->flat->bits_per_value != 32))
					return lance_fail(err, "unsupported RLE encoding");
				if (nbufs - *bi == 1)
				{
					/*
					 * Alone in one buffer (levels, dictionaries): a u64 size
					 * of the values part, the values, then the run lengths.
					 */
					Buf			one = bufs[(*bi)++];
					uint64_t	vlen;

					if (one.len < 8 || (vlen = lance_le64(one.p)) > one.len - 8)
						return lance_fail(err, "invalid RLE buffer");
					two[0].p = one.p + 8;
					two[0].len = vlen;
					two[1].p = one.p + 8 + vlen;
					two[1].len = one.len - 8 - vlen;
				}
				else if (!take_buf(bufs, nbufs, bi, &two[0], err) || !take_buf(bufs, nbufs, bi, &two[1], err))
					return false;
				nruns = two[1].len / (lenc->flat->bits_per_value / 8);
				if (!lance_values_init(&rv, vbytes, err) || !lance_values_init(&rl, 0, err))
					return false;
				ok = decode_fixed(ce->rle->values, two, 2, &vb, nruns, bits, to_bool, &rv, depth + 1, err) &&
					decode_fixed(lenc, two, 2, &vb, nruns, (uint32_t) lenc->flat->bits_per_value, false, &rl,
								 depth + 1, err) &&
					reserve_bytes(out, nbytes, err);
				for (i = 0; ok && i < nruns; i++)
				{
					uint64_t	run = lenc->flat->bits_per_value == 8 ? rl.data[i] :
						lenc->flat->bits_per_value == 16 ? lance_le16(rl.data + 2 * i) : lance_le32(rl.data + 4 * i);
					uint64_t	k;

					if (run > n - total)
					{
						ok = lance_fail(err, "RLE runs exceed the value count");
						break;
					}
					for (k = 0; k < run; k++)
						memcpy(out->data + out->len + (total + k) * vbytes, rv.data + i * vbytes, vbytes);
					total += run;
				}
				if (ok && total != n)
					ok = lance_fail(err, "RLE runs cover %llu of %llu values",
									(unsigned long long) total, (unsigned long long) n);
				if (ok)
					out->len += nbytes;
				lance_values_free(&rv);
				lance_values_free(&rl);
				return ok;
			}
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_BYTE_STREAM_SPLIT:
			{
				/* byte k of every value is stored together, stream after stream */
				uint32_t	w = bits / 8;
				LanceValues tmp;
				uint64_t	i;
				uint32_t	k;

				lance_census_note("byte_stream_split");

				if (ce->byte_stream_split->values == NULL || to_bool)
					return lance_fail(err, "invalid byte_stream_split encoding");
				if (!lance_values_init(&tmp, w, err))
					return false;
				if (!decode_fixed(ce->byte_stream_split->values, bufs, nbufs, bi, n, bits, false, &tmp,
								  depth + 1, err) || !reserve_bytes(out, nbytes, err))
				{
					lance_values_free(&tmp);
					return false;
				}
				dst = out->data + out->len;
				for (i = 0; i < n; i++)
					for (k = 0; k < w; k++)
						dst[i * w + k] = tmp.data[k * n + i];
				out->len += nbytes;
				lance_values_free(&tmp);
				return true;
			}
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_GENERAL:
			{
				Buf			one;
				int			zb = 0;
				bool		ok;

				if (!take_buf(bufs, nbufs, bi, &b, err) ||
					!decompress_general(ce, b, &one, err))
					return false;
				ok = decode_fixed(ce->general->values, &one, 1, &zb, n, bits, to_bool, out, depth + 1, err);
				lance_free((void *) one.p);
				return ok;
			}
		default:
			return lance_fail(err, "unsupported value encoding %d for fixed-width data",
							  (int) ce->compression_case);
	}
}

/* ---- variable-width values ---- */

/*
 * `variable` in a mini-block chunk: n+1 offsets (u32 or u64) measured from
 * the start of the buffer, followed by the bytes.
 */
static bool
decode_variable_raw(const Lancepb__CeVariable *var, Buf b, uint64_t n, LanceValues *out,
					const LanceFsst *fsst, LanceError *err)
{
	uint32_t	ob;
	uint64_t	i;
	uint64_t	prev;
	uint8_t    *tmp = NULL;
	uint64_t	tmpcap = 0;

	if (var->values != NULL)
		return lance_fail(err, "compressed variable-width buffers are not supported");
	if (var->offsets == NULL || var->offsets->compression_case != LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FLAT ||
		(var->offsets->flat->bits_per_value != 32 && var->offsets->flat->bits_per_value != 64))
		return lance_fail(err, "unsupported offsets encoding for variable-width data");
	ob = (uint32_t) var->offsets->flat->bits_per_value / 8;
	if (n >= b.len / ob)
		return lance_fail(err, "variable-width buffer truncated");
	prev = ob == 4 ? lance_le32(b.p) : lance_le64(b.p);
	if (prev < (n + 1) * ob || prev > b.len)
		return lance_fail(err, "invalid variable-width offsets");
	for (i = 0; i < n; i++)
	{
		uint64_t	next = ob == 4 ? lance_le32(b.p + (i + 1) * ob) : lance_le64(b.p + (i + 1) * ob);

		if (next < prev || next > b.len)
		{
			lance_free(tmp);
			return lance_fail(err, "invalid variable-width offsets");
		}
		if (fsst)
		{
			/* a symbol expands to at most 8 bytes */
			uint64_t	need = (next - prev) * 8;
			uint64_t	olen = 0;

			if (need > tmpcap)
			{
				uint8_t    *nt = lance_realloc(tmp, need, err);

				if (nt == NULL)
				{
					lance_free(tmp);
					return false;
				}
				tmp = nt;
				tmpcap = need;
			}
			if (!lance_fsst_decode(fsst, b.p + prev, next - prev, tmp, tmpcap, &olen))
			{
				lance_free(tmp);
				return lance_fail(err, "corrupt FSST string");
			}
			if (!push_var(out, tmp, olen, err))
			{
				lance_free(tmp);
				return false;
			}
		}
		else if (!push_var(out, b.p + prev, next - prev, err))
			return false;
		prev = next;
	}
	lance_free(tmp);
	return true;
}

static bool
decode_var(const Lancepb__CompressiveEncoding *ce, Buf *bufs, int nbufs, int *bi, uint64_t n,
		   LanceValues *out, int depth, LanceError *err)
{
	Buf			b;

	if (depth > MAX_CE_DEPTH)
		return lance_fail(err, "encoding nested too deeply");
	switch (ce->compression_case)
	{
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_VARIABLE:
			if (!take_buf(bufs, nbufs, bi, &b, err))
				return false;
			lance_census_note("variable");
			return decode_variable_raw(ce->variable, b, n, out, NULL, err);
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FSST:
			{
				LanceFsst	fsst;
				const Lancepb__CompressiveEncoding *inner = ce->fsst->values;

				if (inner == NULL || inner->compression_case != LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_VARIABLE)
					return lance_fail(err, "unsupported FSST inner encoding");
				lance_census_note("fsst");
				if (!lance_fsst_parse(ce->fsst->symbol_table.data, ce->fsst->symbol_table.len, &fsst, err))
					return false;
				if (!take_buf(bufs, nbufs, bi, &b, err))
					return false;
				return decode_variable_raw(inner->variable, b, n, out, &fsst, err);
			}
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_GENERAL:
			{
				Buf			one;
				int			zb = 0;
				bool		ok;

				if (!take_buf(bufs, nbufs, bi, &b, err) ||
					!decompress_general(ce, b, &one, err))
					return false;
				ok = decode_var(ce->general->values, &one, 1, &zb, n, out, depth + 1, err);
				lance_free((void *) one.p);
				return ok;
			}
		default:
			return lance_fail(err, "unsupported value encoding %d for variable-width data",
							  (int) ce->compression_case);
	}
}

/*
 * Dictionary items are written by the block compressor: for variable width,
 * [u32 bits per offset = 32][u32 start of bytes][n+1 u32 offsets relative to
 * that start][bytes]; for fixed width, the raw values.
 */
static bool
decode_dictionary(const Lancepb__CompressiveEncoding *ce, Buf b, uint64_t n, uint32_t width,
				  bool to_bool, LanceValues *out, int depth, LanceError *err)
{
	if (depth > MAX_CE_DEPTH)
		return lance_fail(err, "encoding nested too deeply");
	if (ce->compression_case == LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_GENERAL)
	{
		Buf			one;
		bool		ok;

		if (!decompress_general(ce, b, &one, err))
			return false;
		ok = decode_dictionary(ce->general->values, one, n, width, to_bool, out, depth + 1, err);
		lance_free((void *) one.p);
		return ok;
	}
	if (width == 0)
	{
		uint64_t	start;
		uint64_t	i;

		if (ce->compression_case != LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_VARIABLE)
			return lance_fail(err, "unsupported dictionary encoding %d", (int) ce->compression_case);
		if (b.len < 8 || lance_le32(b.p) != 32)
			return lance_fail(err, "unsupported dictionary block");
		start = lance_le32(b.p + 4);
		if (start > b.len || n >= (b.len - 8) / 4 || 8 + (n + 1) * 4 > start)
			return lance_fail(err, "invalid dictionary block");
		for (i = 0; i < n; i++)
		{
			uint64_t	s = lance_le32(b.p + 8 + 4 * i);
			uint64_t	e = lance_le32(b.p + 12 + 4 * i);

			if (s > e || e > b.len - start)
				return lance_fail(err, "invalid dictionary offsets");
			if (!push_var(out, b.p + start + s, e - s, err))
				return false;
		}
		return true;
	}
	else
	{
		int			bi = 0;

		return decode_fixed(ce, &b, 1, &bi, n, to_bool ? 1 : width * 8, to_bool, out, depth + 1, err);
	}
}

/* ---- layouts ---- */

static bool
reserve_levels(LanceLeaf *leaf, uint64_t more, bool rep, bool def, LanceError *err)
{
	uint64_t	need;

	if (!lance_add_u64(leaf->nlev, more, &need) || need > MAX_PAGE_ITEMS * 4)
		return lance_fail(err, "too many levels");
	if (need > leaf->levcap || (rep && !leaf->rep) || (def && !leaf->def))
	{
		uint64_t	ncap = leaf->levcap ? leaf->levcap : 1024;

		while (ncap < need)
			ncap *= 2;
		/* levels are kept for every level once any page has them */
		if (rep || leaf->rep)
		{
			uint16_t   *n = leaf->rep ? lance_realloc(leaf->rep, ncap * 2, err) : lance_alloc0(ncap * 2, err);

			if (n == NULL)
				return false;
			leaf->rep = n;
		}
		if (def || leaf->def)
		{
			uint16_t   *n;

			if (leaf->def)
				n = lance_realloc(leaf->def, ncap * 2, err);
			else
				n = lance_alloc0(ncap * 2, err);
			if (n == NULL)
				return false;
			leaf->def = n;
		}
		leaf->levcap = ncap;
	}
	return true;
}

/* Appends `nlev` levels; rep/def NULL mean all zero. */
static bool
append_levels(LanceLeaf *leaf, uint64_t nlev, const uint16_t *rep, const uint16_t *def, LanceError *err)
{
	bool		had_rep = leaf->rep != NULL;
	bool		had_def = leaf->def != NULL;

	if (!reserve_levels(leaf, nlev, rep != NULL, def != NULL, err))
		return false;
	/* a page that first brings levels: earlier levels were all zero */
	if (leaf->rep && !had_rep)
		memset(leaf->rep, 0, leaf->nlev * 2);
	if (leaf->def && !had_def)
		memset(leaf->def, 0, leaf->nlev * 2);
	if (leaf->rep)
	{
		if (rep)
			memcpy(leaf->rep + leaf->nlev, rep, nlev * 2);
		else
			memset(leaf->rep + leaf->nlev, 0, nlev * 2);
	}
	if (leaf->def)
	{
		if (def)
			memcpy(leaf->def + leaf->nlev, def, nlev * 2);
		else
			memset(leaf->def + leaf->nlev, 0, nlev * 2);
	}
	leaf->nlev += nlev;
	return true;
}

static bool
is_list_layer(int layer)
{
	return layer != LANCE_LAYER_ALL_VALID_ITEM && layer != LANCE_LAYER_NULLABLE_ITEM;
}

static bool
set_layers(LanceLeaf *leaf, const int32_t *layers, size_t n, LanceError *err)
{
	size_t		i;

	if (n == 0 || n > LANCE_MAX_LAYERS)
		return lance_fail(err, "page has %zu rep/def layers", n);
	for (i = 0; i < n; i++)
		if (layers[i] < LANCE_LAYER_ALL_VALID_ITEM || layers[i] > LANCE_LAYER_NULL_AND_EMPTY_LIST)
			return lance_fail(err, "unknown rep/def layer %d", layers[i]);
	if (leaf->nlayers == 0)
	{
		leaf->nlayers = (int) n;
		for (i = 0; i < n; i++)
			leaf->layers[i] = layers[i];
		return true;
	}
	/*
	 * Pages of one column may differ in nullability (a page without nulls
	 * says ALL_VALID); def levels are stored in a page-independent form, so
	 * only the nesting has to agree.
	 */
	if ((int) n != leaf->nlayers)
		return lance_fail(err, "pages of one column disagree on nesting");
	for (i = 0; i < n; i++)
		if (is_list_layer(layers[i]) != is_list_layer(leaf->layers[i]))
			return lance_fail(err, "pages of one column disagree on nesting");
	return true;
}

/*
 * Rewrites a page's def levels into the page-independent form of
 * LanceLeaf.def: 0 = valid, else 1 + 2 * layer + (1 if an empty list, 0 if
 * null).  In a page, def values count the nullable/emptyable slots of its
 * layers from the innermost outwards (NULL_AND_EMPTY_LIST: null, then empty).
 */
static bool
canon_defs(const int32_t *layers, size_t nlayers, uint16_t *def, uint64_t n, LanceError *err)
{
	uint16_t	map[2 * LANCE_MAX_LAYERS + 1];
	int			nmap = 1;
	size_t		i;
	uint64_t	k;

	map[0] = 0;
	for (i = 0; i < nlayers; i++)
	{
		uint16_t	base = (uint16_t) (1 + 2 * i);

		switch (layers[i])
		{
			case LANCE_LAYER_NULLABLE_ITEM:
			case LANCE_LAYER_NULLABLE_LIST:
				map[nmap++] = base;
				break;
			case LANCE_LAYER_EMPTYABLE_LIST:
				map[nmap++] = base + 1;
				break;
			case LANCE_LAYER_NULL_AND_EMPTY_LIST:
				map[nmap++] = base;
				map[nmap++] = base + 1;
				break;
			default:
				break;
		}
	}
	for (k = 0; k < n; k++)
	{
		if (def[k] >= nmap)
			return lance_fail(err, "definition level %u out of range", def[k]);
		def[k] = map[def[k]];
	}
	return true;
}

static bool
decode_levels(const Lancepb__CompressiveEncoding *ce, Buf b, uint64_t n, uint16_t *out, LanceError *err)
{
	LanceValues tmp;
	int			bi = 0;
	bool		ok;

	if (!lance_values_init(&tmp, 2, err))
		return false;
	/* levels count as one entry, not as the value encodings they use */
	lance_census_note("rep/def levels");
	lance_census_mute(true);
	ok = decode_fixed(ce, &b, 1, &bi, n, 16, false, &tmp, 0, err);
	lance_census_mute(false);
	if (ok)
		memcpy(out, tmp.data, n * 2);
	lance_values_free(&tmp);
	return ok;
}

static uint64_t
align8(uint64_t x)
{
	return (x + 7) & ~UINT64_C(7);
}

static bool
decode_values(const Lancepb__CompressiveEncoding *ce, Buf *bufs, int nbufs, uint64_t n,
			  const LanceType *t, LanceValues *out, LanceError *err)
{
	int			bi = 0;

	if (ce == NULL)
		return lance_fail(err, "page has no value encoding");
	if (out->width == 0)
		return decode_var(ce, bufs, nbufs, &bi, n, out, 0, err);
	if (t->kind == LANCE_T_BOOL)
		return decode_fixed(ce, bufs, nbufs, &bi, n, 1, true, out, 0, err);
	return decode_fixed(ce, bufs, nbufs, &bi, n, out->width * 8, false, out, 0, err);
}

/* Appends dictionary items idx[0..n) (u8/u16/u32/u64 by ib bytes). */
static bool
expand_dictionary(const LanceValues *dict, const uint8_t *idx, uint32_t ib, uint64_t n,
				  LanceValues *out, LanceError *err)
{
	uint64_t	i;

	for (i = 0; i < n; i++)
	{
		uint64_t	k = ib == 1 ? idx[i] : ib == 2 ? lance_le16(idx + 2 * i) :
			ib == 4 ? lance_le32(idx + 4 * i) : lance_le64(idx + 8 * i);

		if (k >= dict->n)
			return lance_fail(err, "dictionary index %llu out of range (%llu items)",
							  (unsigned long long) k, (unsigned long long) dict->n);
		if (out->width == 0)
		{
			if (!push_var(out, dict->data + dict->off[k], dict->off[k + 1] - dict->off[k], err))
				return false;
		}
		else
		{
			if (!reserve_bytes(out, out->width, err))
				return false;
			memcpy(out->data + out->len, dict->data + k * out->width, out->width);
			out->len += out->width;
			out->n++;
		}
	}
	return true;
}

static uint32_t
natural_bits(const Lancepb__CompressiveEncoding *ce)
{
	if (ce == NULL)
		return 0;
	switch (ce->compression_case)
	{
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FLAT:
			return (uint32_t) ce->flat->bits_per_value;
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_INLINE_BITPACKING:
			return (uint32_t) ce->inline_bitpacking->uncompressed_bits_per_value;
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_OUT_OF_LINE_BITPACKING:
			return (uint32_t) ce->out_of_line_bitpacking->uncompressed_bits_per_value;
		case LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_GENERAL:
			return ce->general->values ? natural_bits(ce->general->values) : 0;
		default:
			return 0;
	}
}

static bool
decode_miniblock(const Lancepb__MiniBlockLayout *mb, Buf *pbufs, int npbufs,
				 const LanceType *t, LanceLeaf *leaf, LanceError *err)
{
	uint32_t	wsz = mb->has_large_chunk ? 4 : 2;
	Buf			meta,
				data;
	uint64_t	nchunks;
	uint64_t	c;
	uint64_t	pos = 0;
	uint64_t	left = mb->num_items;
	bool		has_rep = mb->rep_compression != NULL;
	bool		has_def = mb->def_compression != NULL;
	LanceValues dict;
	bool		use_dict = mb->dictionary != NULL;
	uint32_t	ibits = 0;
	uint16_t   *rep = NULL,
			   *def = NULL;
	bool		ok = true;

	if (npbufs < 2)
		return lance_fail(err, "mini-block page has %d buffers", npbufs);
	if (mb->num_buffers == 0 || mb->num_buffers > 8)
		return lance_fail(err, "mini-block page with %llu value buffers", (unsigned long long) mb->num_buffers);
	if (mb->num_items > MAX_PAGE_ITEMS)
		return lance_fail(err, "mini-block page with %llu items", (unsigned long long) mb->num_items);
	if (!set_layers(leaf, mb->layers, mb->n_layers, err))
		return false;
	meta = pbufs[0];
	data = pbufs[1];
	nchunks = meta.len / wsz;
	if (meta.len % wsz)
		return lance_fail(err, "mini-block metadata has a partial word");
	memset(&dict, 0, sizeof(dict));
	if (use_dict)
	{
		if (npbufs < 3 || mb->num_dictionary_items > MAX_PAGE_ITEMS)
			return lance_fail(err, "dictionary page without a dictionary buffer");
		ibits = natural_bits(mb->value_compression);
		if (ibits != 8 && ibits != 16 && ibits != 32 && ibits != 64)
			return lance_fail(err, "unsupported dictionary index width %u", ibits);
		if (!lance_values_init(&dict, leaf->v.width, err))
			return false;
		if (!decode_dictionary(mb->dictionary, pbufs[2], mb->num_dictionary_items, leaf->v.width,
							   t->kind == LANCE_T_BOOL, &dict, 0, err))
		{
			lance_values_free(&dict);
			return false;
		}
		dict.n = mb->num_dictionary_items;
	}

	for (c = 0; ok && c < nchunks; c++)
	{
		uint64_t	word = wsz == 2 ? lance_le16(meta.p + c * 2) : lance_le32(meta.p + c * 4);
		uint64_t	cbytes = ((word >> 4) + 1) * 8;
		uint64_t	nvals = (c == nchunks - 1) ? left : (UINT64_C(1) << (word & 15));
		const uint8_t *cp;
		uint64_t	h = 0;
		uint64_t	nlev,
					rep_size = 0,
					def_size = 0;
		Buf			vb[8];
		uint64_t	o;
		uint64_t	k;

		if (nvals > left || !lance_range_ok(pos, cbytes, data.len))
		{
			ok = lance_fail(err, "mini-block chunk %llu is out of bounds", (unsigned long long) c);
			break;
		}
		cp = data.p + pos;
		/* header: u16 levels, [u16 rep bytes], [u16 def bytes], buffer sizes */
		if (2 + (has_rep ? 2 : 0) + (has_def ? 2 : 0) + mb->num_buffers * wsz > cbytes)
		{
			ok = lance_fail(err, "mini-block chunk header truncated");
			break;
		}
		nlev = lance_le16(cp);
		h = 2;
		if (has_rep)
		{
			rep_size = lance_le16(cp + h);
			h += 2;
		}
		if (has_def)
		{
			def_size = lance_le16(cp + h);
			h += 2;
		}
		for (k = 0; k < mb->num_buffers; k++)
		{
			vb[k].len = wsz == 2 ? lance_le16(cp + h) : lance_le32(cp + h);
			h += wsz;
		}
		o = align8(h);
		if (nlev == 0)
			nlev = nvals;
		if (nlev < nvals)
		{
			ok = lance_fail(err, "mini-block chunk has fewer levels than values");
			break;
		}
		rep = lance_realloc(rep, nlev * 2, err);
		def = lance_realloc(def, nlev * 2, err);
		if (rep == NULL || def == NULL)
		{
			ok = false;
			break;
		}
		if (has_rep)
		{
			Buf			rb = {cp + o, rep_size};

			if (rep_size == 0)
				memset(rep, 0, nlev * 2);
			else if (!lance_range_ok(o, rep_size, cbytes) || !decode_levels(mb->rep_compression, rb, nlev, rep, err))
			{
				ok = lance_fail(err, "bad repetition levels in chunk %llu", (unsigned long long) c);
				break;
			}
			o = align8(o + rep_size);
		}
		if (has_def)
		{
			Buf			db = {cp + o, def_size};

			if (def_size == 0)
				memset(def, 0, nlev * 2);
			else if (!lance_range_ok(o, def_size, cbytes) || !decode_levels(mb->def_compression, db, nlev, def, err))
			{
				ok = lance_fail(err, "bad definition levels in chunk %llu", (unsigned long long) c);
				break;
			}
			o = align8(o + def_size);
		}
		for (k = 0; k < mb->num_buffers; k++)
		{
			if (!lance_range_ok(o, vb[k].len, cbytes))
			{
				ok = lance_fail(err, "mini-block buffer out of bounds in chunk %llu", (unsigned long long) c);
				break;
			}
			vb[k].p = cp + o;
			o = align8(o + vb[k].len);
		}
		if (!ok)
			break;
		if ((has_def && !canon_defs(mb->layers, mb->n_layers, def, nlev, err)) ||
			!append_levels(leaf, nlev, has_rep ? rep : NULL, has_def ? def : NULL, err))
		{
			ok = false;
			break;
		}
		if (use_dict)
		{
			LanceValues idx;
			int			bi = 0;

			if (!lance_values_init(&idx, ibits / 8, err))
			{
				ok = false;
				break;
			}
			ok = decode_fixed(mb->value_compression, vb, (int) mb->num_buffers, &bi, nvals, ibits, false,
							  &idx, 0, err) &&
				expand_dictionary(&dict, idx.data, ibits / 8, nvals, &leaf->v, err);
			lance_values_free(&idx);
		}
		else
		{
			uint64_t	before = leaf->v.width ? leaf->v.len / leaf->v.width : leaf->v.n;

			ok = decode_values(mb->value_compression, vb, (int) mb->num_buffers, nvals, t, &leaf->v, err);
			if (ok && leaf->v.width)
				leaf->v.n = before + nvals;
		}
		left -= nvals;
		pos += cbytes;
	}
	if (ok && left != 0)
		ok = lance_fail(err, "mini-block chunks hold %llu fewer items than the page",
						(unsigned long long) left);
	lance_free(rep);
	lance_free(def);
	lance_values_free(&dict);
	return ok;
}

/*
 * Full-zip: values (>= 256 bytes or long strings) stored row by row, each
 * preceded by a control word of rep and def bits when there are any.
 * Fixed width keeps the full stride for null rows; variable width stores a
 * length and the bytes only for valid items.
 */
static bool
decode_fullzip(const Lancepb__FullZipLayout *fz, Buf *pbufs, int npbufs,
			   const LanceType *t, LanceLeaf *leaf, LanceError *err)
{
	uint64_t	cbits = fz->bits_rep + fz->bits_def;
	uint64_t	cbytes = (cbits + 7) / 8;
	uint64_t	n = fz->num_items;
	Buf			b;
	uint64_t	pos = 0;
	uint64_t	i;
	uint16_t   *rep = NULL,
			   *def = NULL;
	bool		ok = true;
	LanceFsst	fsst;
	bool		use_fsst = false;
	const Lancepb__CompressiveEncoding *ce = fz->value_compression;
	uint8_t    *tmp = NULL;

	if (npbufs < 1 || ce == NULL)
		return lance_fail(err, "invalid full-zip page");
	if (n > MAX_PAGE_ITEMS || cbits > 16 || fz->bits_rep > 15 || fz->bits_def > 15)
		return lance_fail(err, "invalid full-zip page header");
	if (!set_layers(leaf, fz->layers, fz->n_layers, err))
		return false;
	b = pbufs[0];
	if (cbits)
	{
		rep = lance_alloc_array(n, 2, err);
		def = lance_alloc_array(n, 2, err);
		if (rep == NULL || def == NULL)
		{
			lance_free(rep);
			lance_free(def);
			return false;
		}
	}
	if (fz->details_case == LANCEPB__FULL_ZIP_LAYOUT__DETAILS_BITS_PER_VALUE)
	{
		uint64_t	bpv = fz->bits_per_value;
		uint64_t	vbytes = bpv / 8;
		uint64_t	stride = cbytes + vbytes;
		uint64_t	total;
		uint32_t	tb = leaf->v.width;
		uint64_t	dim = 0;
		uint64_t	vmap = 0;	/* bytes of item validity before each value */

		/*
		 * The value bytes are raw flat / fixed_size_list data; a
		 * fixed_size_list with item validity zips each value's item bitmap
		 * (ceil(dim / 8) bytes, 1 = valid) in front of its items.
		 */
		if (ce->compression_case == LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FIXED_SIZE_LIST &&
			ce->fixed_size_list->has_validity)
		{
			dim = ce->fixed_size_list->items_per_value;
			vmap = (dim + 7) / 8;
			lance_census_note("full-zip fixed_size_list item validity");
			if (dim == 0 || ce->fixed_size_list->values == NULL ||
				ce->fixed_size_list->values->compression_case != LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FLAT ||
				!lance_mul_u64(ce->fixed_size_list->values->flat->bits_per_value, dim, &total) ||
				total != (uint64_t) tb * 8)
				ok = lance_fail(err, "invalid full-zip fixed_size_list item validity");
		}
		if (!ok)
			;
		else if (bpv % 8 || vbytes != tb + vmap || t->kind == LANCE_T_BOOL)
			ok = lance_fail(err, "full-zip value width %llu bits does not match the column",
							(unsigned long long) bpv);
		else if (ce->compression_case != LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FLAT &&
				 ce->compression_case != LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FIXED_SIZE_LIST)
			ok = lance_fail(err, "unsupported full-zip value encoding %d", (int) ce->compression_case);
		else if (!lance_mul_u64(n, stride, &total) || total > b.len)
			ok = lance_fail(err, "full-zip buffer truncated");
		else if (!reserve_bytes(&leaf->v, n * tb, err))
			ok = false;
		for (i = 0; ok && i < n; i++)
		{
			const uint8_t *p = b.p + i * stride;

			if (cbits)
			{
				uint32_t	ctl = cbytes == 1 ? p[0] : lance_le16(p);

				def[i] = (uint16_t) (ctl & ((1u << fz->bits_def) - 1));
				rep[i] = (uint16_t) (ctl >> fz->bits_def);
			}
			if (vmap && !mark_item_nulls(&leaf->v, (Buf) {p + cbytes, vmap}, 1, dim, err))
			{
				ok = false;
				break;
			}
			memcpy(leaf->v.data + leaf->v.len, p + cbytes + vmap, tb);
			leaf->v.len += tb;
			leaf->v.n++;
		}
	}
	else if (fz->details_case == LANCEPB__FULL_ZIP_LAYOUT__DETAILS_BITS_PER_OFFSET)
	{
		uint64_t	ob = fz->bits_per_offset / 8;

		if (leaf->v.width != 0 || (ob != 4 && ob != 8))
			ok = lance_fail(err, "invalid variable-width full-zip page");
		else if (ce->compression_case == LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_FSST)
		{
			if (ce->fsst->values == NULL ||
				ce->fsst->values->compression_case != LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_VARIABLE)
				ok = lance_fail(err, "unsupported FSST inner encoding");
			else
				ok = lance_fsst_parse(ce->fsst->symbol_table.data, ce->fsst->symbol_table.len, &fsst, err);
			use_fsst = true;
			lance_census_note("fsst");
		}
		else if (ce->compression_case != LANCEPB__COMPRESSIVE_ENCODING__COMPRESSION_VARIABLE)
			ok = lance_fail(err, "unsupported full-zip value encoding %d", (int) ce->compression_case);
		for (i = 0; ok && i < n; i++)
		{
			uint32_t	ctl = 0;
			uint64_t	len;

			if (cbits)
			{
				if (!lance_range_ok(pos, cbytes, b.len))
				{
					ok = lance_fail(err, "full-zip buffer truncated");
					break;
				}
				ctl = cbytes == 1 ? b.p[pos] : lance_le16(b.p + pos);
				pos += cbytes;
				def[i] = (uint16_t) (ctl & ((1u << fz->bits_def) - 1));
				rep[i] = (uint16_t) (ctl >> fz->bits_def);
			}
			if (cbits && def[i] != 0)
			{
				/* null item or null/empty list: no length, no bytes */
				ok = push_var(&leaf->v, NULL, 0, err);
				continue;
			}
			if (!lance_range_ok(pos, ob, b.len))
			{
				ok = lance_fail(err, "full-zip buffer truncated");
				break;
			}
			len = ob == 4 ? lance_le32(b.p + pos) : lance_le64(b.p + pos);
			pos += ob;
			if (!lance_range_ok(pos, len, b.len))
			{
				ok = lance_fail(err, "full-zip value exceeds the buffer");
				break;
			}
			if (use_fsst)
			{
				uint64_t	olen = 0;

				tmp = lance_realloc(tmp, len * 8 + 1, err);
				if (tmp == NULL)
					ok = false;
				else if (!lance_fsst_decode(&fsst, b.p + pos, len, tmp, len * 8, &olen))
					ok = lance_fail(err, "corrupt FSST string");
				else
					ok = push_var(&leaf->v, tmp, olen, err);
			}
			else
				ok = push_var(&leaf->v, b.p + pos, len, err);
			pos += len;
		}
	}
	else
		ok = lance_fail(err, "full-zip page without a value width");
	if (ok && cbits && fz->bits_def)
		ok = canon_defs(fz->layers, fz->n_layers, def, n, err);
	if (ok)
		ok = append_levels(leaf, n, cbits && fz->bits_rep ? rep : NULL, cbits && fz->bits_def ? def : NULL, err);
	lance_free(tmp);
	lance_free(rep);
	lance_free(def);
	return ok;
}

/*
 * A constant value is stored as a one-row Arrow-like array: u32 buffer
 * count, one u32 size per buffer, then the buffers (fixed: the value;
 * variable: two offsets then the bytes).  A value of exactly the column's
 * width is taken as the raw value.
 */
static bool
constant_value(const uint8_t *p, uint64_t len, uint32_t width, const uint8_t **val,
			   uint64_t *vlen, LanceError *err)
{
	uint32_t	nb;
	uint64_t	sizes[4];
	uint64_t	o;
	uint32_t	i;

	if (width != 0 && len == width)
	{
		*val = p;
		*vlen = len;
		return true;
	}
	if (len < 4)
		return lance_fail(err, "invalid constant value");
	nb = lance_le32(p);
	if (nb == 0 || nb > 4 || len < 4 + 4 * (uint64_t) nb)
		return lance_fail(err, "invalid constant value");
	o = 4 + 4 * (uint64_t) nb;
	for (i = 0; i < nb; i++)
		sizes[i] = lance_le32(p + 4 + 4 * i);
	if (width != 0)
	{
		if (nb != 1 || sizes[0] != width || !lance_range_ok(o, width, len))
			return lance_fail(err, "invalid fixed-width constant value");
		*val = p + o;
		*vlen = width;
		return true;
	}
	if (nb != 2 || (sizes[0] != 8 && sizes[0] != 16) || !lance_range_ok(o, sizes[0], len) ||
		!lance_range_ok(o + sizes[0], sizes[1], len))
		return lance_fail(err, "invalid variable-width constant value");
	{
		uint64_t	s = sizes[0] == 8 ? lance_le32(p + o) : lance_le64(p + o);
		uint64_t	e = sizes[0] == 8 ? lance_le32(p + o + 4) : lance_le64(p + o + 8);

		if (s > e || e > sizes[1])
			return lance_fail(err, "invalid variable-width constant value");
		*val = p + o + sizes[0] + s;
		*vlen = e - s;
	}
	return true;
}

/*
 * Raw u16 levels of a constant page (an empty buffer: no such levels);
 * *lev stays NULL then.
 */
static bool
constant_levels(const Lancepb__CompressiveEncoding *ce, uint64_t count, Buf b, uint16_t **lev,
				uint64_t *n, LanceError *err)
{
	uint64_t	i;

	*lev = NULL;
	*n = 0;
	if (b.len == 0)
		return true;
	if (ce != NULL)
	{
		/* 2.2: levels compressed as a block of count u16 values */
		if (count == 0)
			return lance_fail(err, "constant page with compressed levels but no count");
		*n = count;
		*lev = lance_alloc_array(count, 2, err);
		return *lev != NULL && decode_levels(ce, b, count, *lev, err);
	}
	if (b.len % 2 || b.len / 2 > MAX_PAGE_ITEMS)
		return lance_fail(err, "constant page with a bad level buffer (%llu bytes)",
						  (unsigned long long) b.len);
	*n = b.len / 2;
	*lev = lance_alloc_array(*n, 2, err);
	if (*lev == NULL)
		return false;
	for (i = 0; i < *n; i++)
		(*lev)[i] = lance_le16(b.p + i * 2);
	return true;
}

/*
 * A page whose non-null values are all one value.  Its buffers are told
 * apart by their count: with an inline value, none or [rep, def]; without,
 * [value] or [value, rep, def], or [rep, def] when every item is null.
 * The levels (raw u16, or in 2.2 compressed, an empty buffer when absent)
 * may be those of a nested column, and the value then repeats for
 * every level that is an item (valid or null, not a null or empty list);
 * e.g. 2.2 stores a member of list<struct> whose only non-null value is 1
 * this way.
 */
static bool
decode_constant(const Lancepb__ConstantLayout *cl, Buf *pbufs, int npbufs, uint64_t nrows,
				const LanceType *t, LanceLeaf *leaf, LanceError *err)
{
	const uint8_t *val = NULL;
	uint64_t	vlen = 0;
	uint64_t	i;
	bool		has_inline = cl->_inline_value_case == LANCEPB__CONSTANT_LAYOUT___INLINE_VALUE_INLINE_VALUE;
	bool		has_value = true;
	int			vbuf = -1,
				lbuf = -1;
	uint16_t   *rep = NULL,
			   *def = NULL;
	uint64_t	nrep = 0,
				ndef = 0,
				nlev = nrows,
				nitems = nrows;
	size_t		nlists = 0,
				firstlist = cl->n_layers;
	bool		ok = true;

	if (!set_layers(leaf, cl->layers, cl->n_layers, err))
		return false;
	if ((cl->rep_compression && cl->num_rep_values > MAX_PAGE_ITEMS) ||
		(cl->def_compression && cl->num_def_values > MAX_PAGE_ITEMS))
		return lance_fail(err, "constant page with too many levels");
	if (nrows > MAX_PAGE_ITEMS)
		return lance_fail(err, "constant page with %llu rows", (unsigned long long) nrows);
	for (i = cl->n_layers; i-- > 0;)
		if (is_list_layer(cl->layers[i]))
		{
			nlists++;
			firstlist = i;
		}
	if (has_inline && (npbufs == 0 || npbufs == 2))
		lbuf = npbufs == 2 ? 0 : -1;
	else if (!has_inline && (npbufs == 1 || npbufs == 3))
	{
		vbuf = 0;
		lbuf = npbufs == 3 ? 1 : -1;
	}
	else if (!has_inline && npbufs == 2)
	{
		/* no value, only levels (2.1 all-null pages of nested columns) */
		has_value = false;
		lbuf = 0;
	}
	else if (!has_inline && npbufs == 0)
	{
		/* no value: every row is null, which the layer must allow */
		has_value = false;
		if (cl->layers[0] != LANCE_LAYER_NULLABLE_ITEM)
			return lance_fail(err, "constant page without a value for a non-nullable column");
	}
	else
		return lance_fail(err, "constant page with %d buffers%s", npbufs,
						  has_inline ? " and an inline value" : "");
	if (has_inline &&
		!constant_value(cl->inline_value.data, cl->inline_value.len, leaf->v.width, &val, &vlen, err))
		return false;
	if (vbuf >= 0 && !constant_value(pbufs[vbuf].p, pbufs[vbuf].len, leaf->v.width, &val, &vlen, err))
		return false;
	if (has_value && t->kind == LANCE_T_BOOL && vlen == 1 && val[0] > 1)
		return lance_fail(err, "invalid bool constant");

	if (lbuf >= 0 &&
		(!constant_levels(cl->rep_compression, cl->num_rep_values, pbufs[lbuf], &rep, &nrep, err) ||
		 !constant_levels(cl->def_compression, cl->num_def_values, pbufs[lbuf + 1], &def, &ndef, err)))
		ok = false;
	if (ok && (rep || def))
	{
		uint64_t	rows = 0;

		lance_census_note("rep/def levels");
		nlev = rep ? nrep : ndef;
		if (rep && def && nrep != ndef)
			ok = lance_fail(err, "constant page with %llu repetition and %llu definition levels",
							(unsigned long long) nrep, (unsigned long long) ndef);
		for (i = 0; ok && rep && i < nlev; i++)
		{
			if (rep[i] > nlists || (i == 0 && rep[i] != nlists))
				ok = lance_fail(err, "constant page: repetition level %u out of range", rep[i]);
			rows += rep[i] == nlists;
		}
		if (ok && (rep ? rows : nlev) != nrows)
			ok = lance_fail(err, "constant page levels hold %llu rows, %llu expected",
							(unsigned long long) (rep ? rows : nlev), (unsigned long long) nrows);
		if (ok && def)
			ok = canon_defs(cl->layers, cl->n_layers, def, ndef, err);
		/* lists without repetition levels: every level starts a row */
		if (ok && !rep && nlists > 0)
		{
			rep = lance_alloc_array(nlev, 2, err);
			ok = rep != NULL;
			for (i = 0; ok && i < nlev; i++)
				rep[i] = (uint16_t) nlists;
		}
		/* without a value no item may be valid */
		for (i = 0; ok && !has_value && i < nlev; i++)
			if (def == NULL || def[i] == 0)
				ok = lance_fail(err, "constant page without a value has a valid item");
		/* items: levels valid or null below the innermost list */
		nitems = 0;
		for (i = 0; ok && i < nlev; i++)
			nitems += !def || def[i] == 0 || (size_t) ((def[i] - 1) / 2) < firstlist;
		if (ok)
			ok = append_levels(leaf, nlev, rep, def, err);
	}
	else if (ok && has_value)
		ok = append_levels(leaf, nrows, NULL, NULL, err);
	else if (ok)
	{
		def = lance_alloc_array(nrows, 2, err);
		ok = def != NULL;
		for (i = 0; ok && i < nrows; i++)
			def[i] = 1;
		if (ok)
			ok = append_levels(leaf, nrows, NULL, def, err);
	}
	lance_free(rep);
	lance_free(def);
	if (!ok)
		return false;
	for (i = 0; i < nitems; i++)
	{
		if (leaf->v.width == 0)
		{
			if (!push_var(&leaf->v, val, has_value ? vlen : 0, err))
				return false;
		}
		else
		{
			if (!reserve_bytes(&leaf->v, leaf->v.width, err))
				return false;
			if (has_value)
				memcpy(leaf->v.data + leaf->v.len, val, leaf->v.width);
			else
				memset(leaf->v.data + leaf->v.len, 0, leaf->v.width);
			leaf->v.len += leaf->v.width;
			leaf->v.n++;
		}
	}
	return true;
}

bool
lance_page_decode(const uint8_t *layout, uint64_t layout_len,
				  const uint8_t *const *bufs, const uint64_t *buf_lens,
				  int nbufs, uint64_t nrows, const LanceType *t,
				  LanceLeaf *leaf, LanceError *err)
{
	Lancepb__PageLayout *pl;
	Buf			pb[16];
	int			i;
	bool		ok;

	if (nbufs > 16)
		return lance_fail(err, "page has %d buffers", nbufs);
	for (i = 0; i < nbufs; i++)
	{
		pb[i].p = bufs[i];
		pb[i].len = buf_lens[i];
	}
	/* protobuf-c would recurse as deep as a hostile layout nests */
	if (!lance_pb_depth_ok(layout, layout_len, 96))
		return lance_fail(err, "PageLayout nested too deeply");
	pl = lancepb__page_layout__unpack(&lance_pb_allocator, layout_len, layout);
	if (pl == NULL)
		return lance_fail(err, "invalid PageLayout protobuf");
	switch (pl->layout_case)
	{
		case LANCEPB__PAGE_LAYOUT__LAYOUT_MINI_BLOCK_LAYOUT:
			lance_census_note(pl->mini_block_layout->dictionary ? "mini-block dictionary" : "mini-block");
			if (pl->mini_block_layout->has_large_chunk)
				lance_census_note("mini-block u32 chunk sizes (2.2)");
			ok = decode_miniblock(pl->mini_block_layout, pb, nbufs, t, leaf, err);
			break;
		case LANCEPB__PAGE_LAYOUT__LAYOUT_FULL_ZIP_LAYOUT:
			lance_census_note(pl->full_zip_layout->details_case == LANCEPB__FULL_ZIP_LAYOUT__DETAILS_BITS_PER_OFFSET ?
							  "full-zip variable" : "full-zip fixed");
			ok = decode_fullzip(pl->full_zip_layout, pb, nbufs, t, leaf, err);
			break;
		case LANCEPB__PAGE_LAYOUT__LAYOUT_CONSTANT_LAYOUT:
			lance_census_note("constant layout");
			ok = decode_constant(pl->constant_layout, pb, nbufs, nrows, t, leaf, err);
			break;
		default:
			ok = lance_fail(err, "unsupported page layout (blob or newer)");
			break;
	}
	lancepb__page_layout__free_unpacked(pl, &lance_pb_allocator);
	return ok;
}
