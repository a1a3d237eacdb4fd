/*
 * postings.c
 *	  Block posting-list encoder and iterator (format in postings.h).
 *
 * Decoding a block unpacks all 128 doc gaps and tfs at once through a
 * routine specialised per bit width (constant shifts and masks, eight
 * values per 8*w/8 bytes), reading 64-bit words.  Those loads may run up
 * to 8 bytes past the packed array, so a block near the end of the stream
 * is first copied into a zero-padded stack buffer.  Positions are
 * unpacked only for the doc asked for: fixed widths make value j of the
 * block's position array addressable directly, so a phrase query pays
 * only for the docs it checks.
 */
#include "postings.h"

#include <stdlib.h>

/* Allocation through the caller's hooks, malloc/free without them. */
static void *
pl_alloc(const PostingHooks *hooks, size_t size)
{
	if (size == 0)
		size = 1;
	if (hooks != NULL && hooks->alloc != NULL)
		return hooks->alloc(size);
	return malloc(size);
}

static void
pl_free(const PostingHooks *hooks, void *ptr)
{
	if (ptr == NULL)
		return;
	if (hooks != NULL && hooks->alloc != NULL)
	{
		/* an allocator without a release function owns its memory */
		if (hooks->release != NULL)
			hooks->release(ptr);
	}
	else
		free(ptr);
}

static inline void
pl_interrupt(const PostingHooks *hooks)
{
	if (hooks != NULL && hooks->interrupt != NULL)
		hooks->interrupt(hooks->interrupt_arg);
}

static inline uint32_t
bit_width(uint32_t v)
{
	return v == 0 ? 0 : 32 - (uint32_t) __builtin_clz(v);
}

static inline void
store32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

static inline uint64_t
load64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline size_t
packed_bytes(uint64_t count, uint32_t width)
{
	return (size_t) ((count * width + 7) / 8);
}

/* ---------- bit packing ---------- */

typedef struct BitWriter
{
	uint8_t    *out;
	uint64_t	acc;
	uint32_t	fill;
} BitWriter;

static inline void
bw_put(BitWriter *bw, uint32_t v, uint32_t w)
{
	/* fill < 8 on entry, so acc never holds more than 39 bits */
	bw->acc |= (uint64_t) v << bw->fill;
	bw->fill += w;
	while (bw->fill >= 8)
	{
		*bw->out++ = (uint8_t) bw->acc;
		bw->acc >>= 8;
		bw->fill -= 8;
	}
}

/* pad the array to a byte boundary */
static inline void
bw_flush(BitWriter *bw)
{
	if (bw->fill > 0)
		*bw->out++ = (uint8_t) bw->acc;
	bw->acc = 0;
	bw->fill = 0;
}

/*
 * Unpack 128 values of constant width w: eight values span exactly w
 * bytes, so each group's loads use constant offsets and shifts.
 */
#define UNPACK_ONE(k) \
	out[k] = (uint32_t) ((load64(in + (((k) * w) >> 3)) >> (((k) * w) & 7)) & mask)

static inline __attribute__((always_inline)) void
unpack128_const(const uint8_t *in, uint32_t *out, const uint32_t w)
{
	const uint64_t mask = (UINT64_C(1) << w) - 1;
	int			g;

	for (g = 0; g < POSTING_BLOCK_SIZE / 8; g++)
	{
		UNPACK_ONE(0);
		UNPACK_ONE(1);
		UNPACK_ONE(2);
		UNPACK_ONE(3);
		UNPACK_ONE(4);
		UNPACK_ONE(5);
		UNPACK_ONE(6);
		UNPACK_ONE(7);
		in += w;
		out += 8;
	}
}

#define UNPACK_CASE(w) case w: unpack128_const(in, out, w); break

/* needs 16 * w + 8 readable bytes at in */
static void
unpack128(const uint8_t *in, uint32_t *out, uint32_t w)
{
	switch (w)
	{
		case 0:
			memset(out, 0, POSTING_BLOCK_SIZE * sizeof(uint32_t));
			break;
			UNPACK_CASE(1); UNPACK_CASE(2); UNPACK_CASE(3); UNPACK_CASE(4);
			UNPACK_CASE(5); UNPACK_CASE(6); UNPACK_CASE(7); UNPACK_CASE(8);
			UNPACK_CASE(9); UNPACK_CASE(10); UNPACK_CASE(11); UNPACK_CASE(12);
			UNPACK_CASE(13); UNPACK_CASE(14); UNPACK_CASE(15); UNPACK_CASE(16);
			UNPACK_CASE(17); UNPACK_CASE(18); UNPACK_CASE(19); UNPACK_CASE(20);
			UNPACK_CASE(21); UNPACK_CASE(22); UNPACK_CASE(23); UNPACK_CASE(24);
			UNPACK_CASE(25); UNPACK_CASE(26); UNPACK_CASE(27); UNPACK_CASE(28);
			UNPACK_CASE(29); UNPACK_CASE(30); UNPACK_CASE(31); UNPACK_CASE(32);
		default:
			break;				/* widths are validated before */
	}
}

/*
 * Unpack the first count (<= 128) values of width w from in, whose array
 * occupies packed_bytes(count, w) bytes and is followed by avail - that
 * many bytes of the stream.
 */
static void
unpack_block_array(const uint8_t *in, size_t avail, uint32_t count,
				   uint32_t w, uint32_t *out)
{
	uint8_t		pad[POSTING_BLOCK_SIZE / 8 * 32 + 8];

	if (avail >= (size_t) 16 * w + 8)
		unpack128(in, out, w);
	else
	{
		size_t		need = packed_bytes(count, w);

		memcpy(pad, in, need);
		memset(pad + need, 0, sizeof(pad) - need);
		unpack128(pad, out, w);
	}
}

/* count values of width w from index first of an array of nbytes bytes */
static void
unpack_range(const uint8_t *base, size_t nbytes, uint64_t first,
			 uint32_t count, uint32_t w, uint32_t *out)
{
	const uint64_t mask = (UINT64_C(1) << w) - 1;
	uint32_t	i;

	if (w == 0)
	{
		memset(out, 0, (size_t) count * sizeof(uint32_t));
		return;
	}
	for (i = 0; i < count; i++)
	{
		uint64_t	bit = (first + i) * w;
		size_t		byte = (size_t) (bit >> 3);
		uint64_t	word;

		if (byte + 8 <= nbytes)
			word = load64(base + byte);
		else
		{
			size_t		j;

			word = 0;
			for (j = 0; byte + j < nbytes && j < 8; j++)
				word |= (uint64_t) base[byte + j] << (8 * j);
		}
		out[i] = (uint32_t) ((word >> (bit & 7)) & mask);
	}
}

/* ---------- encoder ---------- */

/* Widths of block b; false on invalid input. */
static bool
block_widths(const uint32_t *docs, const uint32_t *tfs,
			 const uint32_t *positions, uint64_t pos_first,
			 uint32_t start, uint32_t count,
			 uint32_t *dw, uint32_t *tw, uint32_t *pw, uint64_t *npos)
{
	uint32_t	maxgap = 0,
				maxtf = 0,
				maxpos = 0;
	uint64_t	p = pos_first;
	uint32_t	i;

	for (i = start; i < start + count; i++)
	{
		uint32_t	gap;

		if (docs[i] >= POSTING_END || tfs[i] == 0)
			return false;
		if (i > 0 && docs[i] <= docs[i - 1])
			return false;
		/* the block's first gap is a varint, outside the packed array */
		gap = i > start ? docs[i] - docs[i - 1] - 1 : 0;
		if (gap > maxgap)
			maxgap = gap;
		if (tfs[i] - 1 > maxtf)
			maxtf = tfs[i] - 1;
		if (positions != NULL)
		{
			uint32_t	j;

			if (positions[p] > maxpos)
				maxpos = positions[p];
			for (j = 1; j < tfs[i]; j++)
			{
				if (positions[p + j] <= positions[p + j - 1])
					return false;
				if (positions[p + j] - positions[p + j - 1] > maxpos)
					maxpos = positions[p + j] - positions[p + j - 1];
			}
			p += tfs[i];
		}
	}
	*dw = bit_width(maxgap);
	*tw = bit_width(maxtf);
	*pw = bit_width(maxpos);
	*npos = p - pos_first;
	return true;
}

static uint32_t
varint_size(uint32_t v)
{
	uint32_t	size = 0;

	do
	{
		size++;
		v >>= 7;
	} while (v != 0);
	return size;
}

static uint8_t *
varint_put(uint8_t *p, uint32_t v)
{
	while (v >= 0x80)
	{
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	return p;
}

/* LEB128 u32 from [*p, end); NULL if truncated or overlong */
static const uint8_t *
varint_get(const uint8_t *p, const uint8_t *end, uint32_t *out)
{
	uint32_t	v = 0;
	uint32_t	shift = 0;

	for (;;)
	{
		uint8_t		c;

		if (p >= end || shift > 28)
			return NULL;
		c = *p++;
		if (shift == 28 && (c & 0xf0) != 0)
			return NULL;
		v |= (uint32_t) (c & 0x7f) << shift;
		shift += 7;
		if ((c & 0x80) == 0)
			break;
	}
	*out = v;
	return p;
}

/* gap of the first doc of the block starting at docs[start] */
static inline uint32_t
first_gap(const uint32_t *docs, uint32_t start)
{
	return start == 0 ? docs[0] : docs[start] - docs[start - 1] - 1;
}

size_t
posting_encoded_size(const uint32_t *docs, const uint32_t *tfs,
					 const uint32_t *positions, uint32_t n)
{
	uint32_t	nblocks = (n + POSTING_BLOCK_SIZE - 1) / POSTING_BLOCK_SIZE;
	uint64_t	size = 0;
	uint64_t	pos_first = 0;
	uint32_t	b;

	for (b = 0; b < nblocks; b++)
	{
		uint32_t	start = b * POSTING_BLOCK_SIZE;
		uint32_t	count = n - start < POSTING_BLOCK_SIZE ? n - start : POSTING_BLOCK_SIZE;
		uint32_t	dw,
					tw,
					pw;
		uint64_t	npos;

		if (!block_widths(docs, tfs, positions, pos_first, start, count,
						  &dw, &tw, &pw, &npos))
			return 0;
		size += 2 + varint_size(first_gap(docs, start)) +
			packed_bytes(count - 1, dw) + packed_bytes(count, tw);
		if (positions != NULL)
			size += 1 + packed_bytes(npos, pw);
		pos_first += npos;
	}
	/* block end offsets are u32 */
	if (size > UINT32_MAX)
		return 0;
	return (size_t) (size + 1 + varint_size(n) + (uint64_t) nblocks * POSTING_SKIP_ENTRY);
}

int
posting_encode(const uint32_t *docs, const uint32_t *tfs,
			   const uint32_t *doclens, const uint32_t *positions,
			   uint32_t n, const PostingHooks *hooks,
			   uint8_t **out, size_t *out_len)
{
	uint32_t	nblocks = (n + POSTING_BLOCK_SIZE - 1) / POSTING_BLOCK_SIZE;
	size_t		size;
	uint8_t    *buf;
	uint8_t    *p;
	uint8_t    *skip;
	uint8_t    *blocks;
	uint64_t	pos_first = 0;
	uint32_t	b;

	*out = NULL;
	*out_len = 0;
	size = posting_encoded_size(docs, tfs, positions, n);
	if (size == 0)
		return POSTING_ERR_INPUT;
	buf = pl_alloc(hooks, size);
	if (buf == NULL)
		return POSTING_ERR_NOMEM;

	p = buf;
	*p++ = POSTING_FORMAT_V1 | (positions != NULL ? POSTING_FLAG_POSITIONS : 0);
	p = varint_put(p, n);
	skip = p;
	blocks = skip + (size_t) nblocks * POSTING_SKIP_ENTRY;
	p = blocks;

	for (b = 0; b < nblocks; b++)
	{
		uint32_t	start = b * POSTING_BLOCK_SIZE;
		uint32_t	count = n - start < POSTING_BLOCK_SIZE ? n - start : POSTING_BLOCK_SIZE;
		uint32_t	dw,
					tw,
					pw;
		uint64_t	npos;
		uint32_t	maxtf = 0;
		uint32_t	mindl = UINT32_MAX;
		uint32_t	i;
		BitWriter	bw;

		if ((b & 63) == 63)
			pl_interrupt(hooks);
		/* validated by posting_encoded_size */
		(void) block_widths(docs, tfs, positions, pos_first, start, count,
							&dw, &tw, &pw, &npos);
		*p++ = (uint8_t) dw;
		*p++ = (uint8_t) tw;
		p = varint_put(p, first_gap(docs, start));
		bw.out = p;
		bw.acc = 0;
		bw.fill = 0;
		for (i = start + 1; i < start + count; i++)
			bw_put(&bw, docs[i] - docs[i - 1] - 1, dw);
		bw_flush(&bw);
		for (i = start; i < start + count; i++)
		{
			bw_put(&bw, tfs[i] - 1, tw);
			if (tfs[i] > maxtf)
				maxtf = tfs[i];
			if (doclens == NULL)
				mindl = 0;
			else if (doclens[i] < mindl)
				mindl = doclens[i];
		}
		bw_flush(&bw);
		if (positions != NULL)
		{
			const uint32_t *pos = positions + pos_first;

			*bw.out++ = (uint8_t) pw;
			for (i = start; i < start + count; i++)
			{
				uint32_t	j;

				bw_put(&bw, pos[0], pw);
				for (j = 1; j < tfs[i]; j++)
					bw_put(&bw, pos[j] - pos[j - 1], pw);
				pos += tfs[i];
			}
			bw_flush(&bw);
			pos_first += npos;
		}
		p = bw.out;

		store32(skip + (size_t) b * POSTING_SKIP_ENTRY, docs[start + count - 1]);
		store32(skip + (size_t) b * POSTING_SKIP_ENTRY + 4, (uint32_t) (p - blocks));
		store32(skip + (size_t) b * POSTING_SKIP_ENTRY + 8, maxtf);
		store32(skip + (size_t) b * POSTING_SKIP_ENTRY + 12, mindl);
	}
	/* the size pass and the writing pass must agree */
	if ((size_t) (p - buf) != size)
	{
		pl_free(hooks, buf);
		return POSTING_ERR_INPUT;
	}
	*out = buf;
	*out_len = size;
	return POSTING_OK;
}

/* ---------- iterator ---------- */

static inline uint32_t
block_end(const PostingIter *it, uint32_t b)
{
	return posting_load32(it->skip + (size_t) b * POSTING_SKIP_ENTRY + 4);
}

static uint32_t
iter_fail(PostingIter *it, int error)
{
	if (it->error == POSTING_OK)
		it->error = error;
	it->block = it->nblocks;
	it->count = 0;
	it->idx = 0;
	it->doc = POSTING_END;
	return POSTING_END;
}

static uint32_t
iter_exhaust(PostingIter *it)
{
	it->block = it->nblocks;
	it->count = 0;
	it->idx = 0;
	it->doc = POSTING_END;
	return POSTING_END;
}

/* Decode block b and stand on its first doc. */
static uint32_t
decode_block(PostingIter *it, uint32_t b)
{
	uint32_t	start = b == 0 ? 0 : block_end(it, b - 1);
	uint32_t	end = block_end(it, b);
	const uint8_t *p = it->blocks + start;
	const uint8_t *stop = it->blocks + end;
	uint32_t	count;
	uint32_t	dw,
				tw;
	uint32_t	gap0;
	size_t		dbytes,
				tbytes;
	uint64_t	acc;
	uint32_t	gaps[POSTING_BLOCK_SIZE];
	uint32_t	maxtf = 0;
	uint32_t	i;

	count = b + 1 < it->nblocks ? POSTING_BLOCK_SIZE :
		it->ndocs - b * POSTING_BLOCK_SIZE;
	/* init checked 3 <= end - start (4 with positions) */
	dw = p[0];
	tw = p[1];
	if (dw > 32 || tw > 32)
		return iter_fail(it, POSTING_ERR_CORRUPT);
	p = varint_get(p + 2, stop, &gap0);
	if (p == NULL)
		return iter_fail(it, POSTING_ERR_CORRUPT);
	dbytes = packed_bytes(count - 1, dw);
	tbytes = packed_bytes(count, tw);
	if ((size_t) (stop - p) < dbytes + tbytes + (it->has_positions ? 1 : 0))
		return iter_fail(it, POSTING_ERR_CORRUPT);

	unpack_block_array(p, it->blocks_len - (size_t) (p - it->blocks), count - 1, dw, gaps);
	p += dbytes;
	unpack_block_array(p, it->blocks_len - (size_t) (p - it->blocks), count, tw, it->tfs);
	p += tbytes;

	/* 64-bit sums cannot wrap; ending on the skip table's last doc proves
	 * every doc fits and the gaps are consistent with it */
	acc = (b == 0 ? 0 : (uint64_t) posting_block_last_doc(it, b - 1) + 1) + gap0;
	it->docs[0] = (uint32_t) acc;
	for (i = 1; i < count; i++)
	{
		acc += (uint64_t) gaps[i - 1] + 1;
		it->docs[i] = (uint32_t) acc;
	}
	if (acc != posting_block_last_doc(it, b))
		return iter_fail(it, POSTING_ERR_CORRUPT);

	for (i = 0; i < count; i++)
	{
		if (it->tfs[i] == UINT32_MAX)
			return iter_fail(it, POSTING_ERR_CORRUPT);
		it->tfs[i]++;
		if (it->tfs[i] > maxtf)
			maxtf = it->tfs[i];
	}
	/* block-max pruning relies on the stored max tf */
	if (maxtf != posting_block_max_tf(it, b))
		return iter_fail(it, POSTING_ERR_CORRUPT);

	if (it->has_positions)
	{
		uint32_t	pw = *p++;
		uint64_t	npos = 0;

		if (pw > 32)
			return iter_fail(it, POSTING_ERR_CORRUPT);
		it->pos_start[0] = 0;
		for (i = 0; i < count; i++)
		{
			npos += it->tfs[i];
			it->pos_start[i + 1] = npos;
		}
		/*
		 * Width 0 fits only "every tf is 1 at position 0"; otherwise the
		 * array's size bounds the number of positions by 8 per byte, which
		 * bounds the positions buffer by the stream size.
		 */
		if (packed_bytes(npos, pw) != (size_t) (stop - p) ||
			(pw == 0 && npos != count))
			return iter_fail(it, POSTING_ERR_CORRUPT);
		it->pos_data = p;
		it->pos_bytes = (size_t) (stop - p);
		it->pos_width = pw;
		p = stop;
	}
	if (p != stop)
		return iter_fail(it, POSTING_ERR_CORRUPT);

	it->block = b;
	it->count = count;
	it->idx = 0;
	it->pos_idx = UINT32_MAX;
	it->doc = it->docs[0];
	if (it->shallow < b)
		it->shallow = b;
	return it->doc;
}

int
posting_iter_init(PostingIter *it, const uint8_t *data, size_t len,
				  const PostingHooks *hooks)
{
	const uint8_t *p;
	size_t		off;
	uint32_t	ndocs = 0;
	uint32_t	min_block;
	uint32_t	prev_end = 0;
	uint32_t	b;

	memset(it, 0, offsetof(PostingIter, pos_start));
	it->hooks = hooks;
	it->pos_idx = UINT32_MAX;
	it->doc = POSTING_END;

	if (data == NULL || len < 2)
		return it->error = POSTING_ERR_CORRUPT;
	if (data[0] != POSTING_FORMAT_V1 &&
		data[0] != (POSTING_FORMAT_V1 | POSTING_FLAG_POSITIONS))
		return it->error = POSTING_ERR_CORRUPT;
	it->has_positions = (data[0] & POSTING_FLAG_POSITIONS) != 0;
	p = varint_get(data + 1, data + len, &ndocs);
	if (p == NULL)
		return it->error = POSTING_ERR_CORRUPT;
	off = (size_t) (p - data);
	it->ndocs = ndocs;
	it->nblocks = (uint32_t) (((uint64_t) ndocs + POSTING_BLOCK_SIZE - 1) / POSTING_BLOCK_SIZE);
	if ((uint64_t) it->nblocks * POSTING_SKIP_ENTRY > len - off)
		return it->error = POSTING_ERR_CORRUPT;
	it->skip = data + off;
	it->blocks = it->skip + (size_t) it->nblocks * POSTING_SKIP_ENTRY;
	it->blocks_len = len - off - (size_t) it->nblocks * POSTING_SKIP_ENTRY;

	/* the in-place skip table is trusted by the search: check it once */
	min_block = it->has_positions ? 4 : 3;
	for (b = 0; b < it->nblocks; b++)
	{
		uint32_t	last = posting_block_last_doc(it, b);
		uint32_t	end = block_end(it, b);

		if (last >= POSTING_END ||
			(b > 0 && last <= posting_block_last_doc(it, b - 1)) ||
			end < prev_end || end - prev_end < min_block ||
			posting_block_max_tf(it, b) == 0)
			return it->error = POSTING_ERR_CORRUPT;
		prev_end = end;
	}
	if (prev_end != it->blocks_len)
		return it->error = POSTING_ERR_CORRUPT;

	if (it->nblocks == 0)
	{
		iter_exhaust(it);
		return POSTING_OK;
	}
	decode_block(it, 0);
	return it->error;
}

void
posting_iter_free(PostingIter *it)
{
	pl_free(it->hooks, it->pos_buf);
	it->pos_buf = NULL;
	it->pos_cap = 0;
	it->pos_idx = UINT32_MAX;
}

uint32_t
posting_iter_next(PostingIter *it)
{
	if (it->doc == POSTING_END)
		return POSTING_END;
	if (++it->idx < it->count)
		return it->doc = it->docs[it->idx];
	if (it->block + 1 >= it->nblocks)
		return iter_exhaust(it);
	return decode_block(it, it->block + 1);
}

/* First block at or after from whose last doc is >= target (galloping). */
static uint32_t
find_block(const PostingIter *it, uint32_t from, uint32_t target)
{
	uint32_t	lo = from;
	uint32_t	step = 1;
	uint32_t	hi;

	if (lo >= it->nblocks || posting_block_last_doc(it, lo) >= target)
		return lo;
	/* invariant: last_doc(lo) < target */
	for (;;)
	{
		hi = lo + step;
		if (hi >= it->nblocks)
		{
			hi = it->nblocks;
			break;
		}
		if (posting_block_last_doc(it, hi) >= target)
			break;
		lo = hi;
		step *= 2;
	}
	/* last_doc(lo) < target <= last_doc(hi) (hi == nblocks: past end) */
	while (hi - lo > 1)
	{
		uint32_t	mid = lo + (hi - lo) / 2;

		if (posting_block_last_doc(it, mid) >= target)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

uint32_t
posting_iter_advance(PostingIter *it, uint32_t target)
{
	uint32_t	lo,
				hi;

	if (it->doc >= target)
		return it->doc;			/* also covers POSTING_END */
	if (target == POSTING_END)
		return iter_exhaust(it);
	if (it->docs[it->count - 1] < target)
	{
		uint32_t	b = find_block(it, it->block + 1, target);

		if (b >= it->nblocks)
			return iter_exhaust(it);
		if (decode_block(it, b) == POSTING_END)
			return POSTING_END;
		if (it->doc >= target)
			return it->doc;
	}
	/*
	 * docs[idx] < target <= docs[count - 1].  Query loops mostly advance
	 * a few docs ahead: try the next ones before a binary search.
	 */
	lo = it->idx;
	for (hi = lo + 1; hi < it->count && hi <= lo + 4; hi++)
	{
		if (it->docs[hi] >= target)
		{
			it->idx = hi;
			return it->doc = it->docs[hi];
		}
	}
	lo = hi - 1;
	hi = it->count - 1;
	while (hi - lo > 1)
	{
		uint32_t	mid = lo + (hi - lo) / 2;

		if (it->docs[mid] >= target)
			hi = mid;
		else
			lo = mid;
	}
	it->idx = hi;
	return it->doc = it->docs[hi];
}

uint32_t
posting_iter_shallow_advance(PostingIter *it, uint32_t target)
{
	uint32_t	from;

	if (it->doc == POSTING_END)
	{
		it->shallow = it->nblocks;
		return POSTING_END;
	}
	from = it->block;
	/* reuse an earlier shallow move if target has not gone back */
	if (it->shallow > from &&
		posting_block_last_doc(it, it->shallow - 1) < target)
		from = it->shallow;
	it->shallow = find_block(it, from, target);
	if (it->shallow >= it->nblocks)
		return POSTING_END;
	return posting_block_last_doc(it, it->shallow);
}

int
posting_iter_positions(PostingIter *it, const uint32_t **pos, uint32_t *npos)
{
	uint64_t	first;
	uint32_t	tf;
	uint64_t	acc;
	uint32_t	i;

	*pos = NULL;
	*npos = 0;
	if (!it->has_positions)
		return POSTING_ERR_INPUT;
	if (it->error != POSTING_OK)
		return it->error;
	if (it->doc == POSTING_END)
		return POSTING_ERR_INPUT;
	if (it->pos_idx == it->idx)
	{
		*pos = it->pos_buf;
		*npos = it->pos_len;
		return POSTING_OK;
	}
	tf = it->tfs[it->idx];
	first = it->pos_start[it->idx];
	if (tf > it->pos_cap)
	{
		/* tf <= 8 * block bytes (checked at decode): bounded by the stream */
		uint32_t	cap = tf < 64 ? 64 : tf;
		uint32_t   *buf = pl_alloc(it->hooks, (size_t) cap * sizeof(uint32_t));

		if (buf == NULL)
			return POSTING_ERR_NOMEM;
		pl_free(it->hooks, it->pos_buf);
		it->pos_buf = buf;
		it->pos_cap = cap;
	}
	unpack_range(it->pos_data, it->pos_bytes, first, tf, it->pos_width, it->pos_buf);
	acc = it->pos_buf[0];
	for (i = 1; i < tf; i++)
	{
		if (it->pos_buf[i] == 0)
			break;
		acc += it->pos_buf[i];
		it->pos_buf[i] = (uint32_t) acc;
	}
	if (i < tf || acc > UINT32_MAX)
	{
		iter_fail(it, POSTING_ERR_CORRUPT);
		return POSTING_ERR_CORRUPT;
	}
	it->pos_idx = it->idx;
	it->pos_len = tf;
	*pos = it->pos_buf;
	*npos = tf;
	return POSTING_OK;
}
