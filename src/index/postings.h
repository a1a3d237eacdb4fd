/*
 * postings.h
 *	  Posting-list codec of the BM25 index: doc ids, term frequencies and
 *	  optional positions in blocks of 128 docs, bit-packed, with a skip
 *	  table up front that carries per-block bounds for block-max WAND.
 *
 * Plain C over plain buffers: no PostgreSQL headers, so it is unit-tested
 * and benchmarked outside a backend.  The decoder reads one contiguous
 * byte range: the access method assembles a list's bytes (which may span
 * index pages) into one buffer before posting_iter_init.  Every length,
 * offset and bit width read from the stream is validated; a corrupt
 * stream yields POSTING_ERR_CORRUPT, never a crash or an allocation larger
 * than a small multiple of the stream's own size.
 *
 * Stream format (version 1, all integers little-endian):
 *
 *	byte 0			format: 0x01, or 0x11 when positions are encoded
 *	varint			ndocs (LEB128, at most 5 bytes)
 *	skip table		nblocks = ceil(ndocs / 128) entries of 16 bytes:
 *					  u32 last doc id of the block
 *					  u32 end offset of the block's data (from the first block)
 *					  u32 max tf in the block
 *					  u32 min document length in the block
 *	blocks			back to back; block i holds docs [128 i, 128 i + 128):
 *					  u8 dw, u8 tw (bit widths, 0..32)
 *					  varint: first doc minus (previous block's last doc
 *						+ 1) (block 0: the doc id itself); a varint so that
 *						one long jump does not widen the whole block
 *					  doc gaps, (count - 1) * dw bits: doc[j] - doc[j-1] - 1
 *					  tf - 1, count * tw bits
 *					  with positions: u8 pw, then sum(tf) values of pw bits:
 *						per doc, its first position, then gaps to the
 *						previous position (>= 1: positions strictly increase)
 *	Each bit-packed array starts on a byte boundary; value j occupies bits
 *	[j w, j w + w) of the array read as a little-endian bit string.  The
 *	stream must end exactly at the last block's end offset.
 *
 * The skip table is fixed-width so advance() can binary-search it in place
 * without decoding skipped blocks.  Max tf and min doc length per block
 * bound any doc of the block (the BM25 tf part grows with tf and shrinks
 * with dl), for any avgdl chosen at query time.
 */
#ifndef LANCE_INDEX_POSTINGS_H
#define LANCE_INDEX_POSTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define POSTING_BLOCK_SIZE		128
#define POSTING_SKIP_ENTRY		16
#define POSTING_FORMAT_V1		0x01
#define POSTING_FLAG_POSITIONS	0x10

/* Past the last doc; also the largest doc id + 1 an encoder accepts. */
#define POSTING_END				UINT32_MAX

/* Error codes (0 is success). */
#define POSTING_OK				0
#define POSTING_ERR_CORRUPT		(-1)	/* stream fails validation */
#define POSTING_ERR_NOMEM		(-2)	/* allocator returned NULL */
#define POSTING_ERR_INPUT		(-3)	/* invalid arguments to an encoder or
										 * query (unsorted docs, tf 0, no
										 * positions for a phrase, ...) */

/*
 * Memory and interrupt hooks shared by the codec and the BM25 evaluator.
 * Without alloc, malloc/free are used.  alloc may longjmp (palloc) or
 * return NULL (reported as POSTING_ERR_NOMEM).  interrupt, if set, is
 * called from long loops and may longjmp (CHECK_FOR_INTERRUPTS).
 * A NULL PostingHooks pointer means all defaults.
 */
typedef struct PostingHooks
{
	void	   *(*alloc) (size_t size);
	void		(*release) (void *ptr);
	void		(*interrupt) (void *arg);
	void	   *interrupt_arg;
} PostingHooks;

/*
 * Encode n postings.  docs strictly increasing and < POSTING_END, tfs >= 1;
 * doclens (NULL: all 0, a valid but loose bound) gives each doc's length
 * for the skip table; positions (NULL: none) holds tfs[0] positions of
 * docs[0], then tfs[1] of docs[1], ..., each doc's strictly increasing.
 * On success *out (allocated with hooks->alloc) holds *out_len bytes.
 */
extern int	posting_encode(const uint32_t *docs, const uint32_t *tfs,
						   const uint32_t *doclens, const uint32_t *positions,
						   uint32_t n, const PostingHooks *hooks,
						   uint8_t **out, size_t *out_len);

/* Size posting_encode would produce, or 0 on invalid input. */
extern size_t posting_encoded_size(const uint32_t *docs, const uint32_t *tfs,
								   const uint32_t *positions, uint32_t n);

/*
 * Iterator over an encoded list.  The caller owns the struct (about 2.5 kB,
 * fine on the stack) and must keep the stream alive while iterating.
 * After posting_iter_init it stands on the first doc (POSTING_END if the
 * list is empty).  Movement functions return the new current doc; on
 * corruption they return POSTING_END and set error, which stays set.
 */
typedef struct PostingIter
{
	const uint8_t *skip;		/* skip table */
	const uint8_t *blocks;		/* first block */
	size_t		blocks_len;
	uint32_t	ndocs;
	uint32_t	nblocks;
	bool		has_positions;
	int			error;			/* first error met, POSTING_OK if none */
	const PostingHooks *hooks;

	uint32_t	block;			/* decoded block; nblocks once exhausted */
	uint32_t	count;			/* docs in the decoded block */
	uint32_t	idx;			/* current doc's index in the block */
	uint32_t	doc;			/* current doc id or POSTING_END */
	uint32_t	shallow;		/* block picked by posting_iter_shallow_advance */

	/* positions of the decoded block, unpacked lazily per doc */
	const uint8_t *pos_data;
	size_t		pos_bytes;
	uint32_t	pos_width;
	uint32_t	pos_idx;		/* doc index pos_buf holds, or UINT32_MAX */
	uint32_t	pos_len;
	uint32_t	pos_cap;
	uint32_t   *pos_buf;

	uint64_t	pos_start[POSTING_BLOCK_SIZE + 1];	/* prefix sums of tfs */
	uint32_t	docs[POSTING_BLOCK_SIZE];
	uint32_t	tfs[POSTING_BLOCK_SIZE];
} PostingIter;

/* Validate the header and skip table and decode the first block. */
extern int	posting_iter_init(PostingIter *it, const uint8_t *data, size_t len,
							  const PostingHooks *hooks);

/* Release the positions buffer (the struct itself is the caller's). */
extern void posting_iter_free(PostingIter *it);

extern uint32_t posting_iter_next(PostingIter *it);

/* Move to the first doc >= target (never backwards). */
extern uint32_t posting_iter_advance(PostingIter *it, uint32_t target);

/*
 * Positions of the current doc (tf of them, ascending), valid until the
 * iterator moves.  POSTING_ERR_INPUT if the list has no positions.
 */
extern int	posting_iter_positions(PostingIter *it, const uint32_t **pos,
								   uint32_t *npos);

/*
 * Select, without decoding, the block holding the first doc >= target
 * (at or after the current block) and return its last doc id, or
 * POSTING_END if no doc >= target remains.  The block's index is then
 * it->shallow, for posting_block_max_tf / _min_dl.  For block-max WAND.
 */
extern uint32_t posting_iter_shallow_advance(PostingIter *it, uint32_t target);

static inline uint32_t
posting_load32(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline uint32_t
posting_iter_doc(const PostingIter *it)
{
	return it->doc;
}

/* tf of the current doc (undefined once exhausted) */
static inline uint32_t
posting_iter_tf(const PostingIter *it)
{
	return it->tfs[it->idx];
}

/* Skip-table fields of block b (b < nblocks). */
static inline uint32_t
posting_block_last_doc(const PostingIter *it, uint32_t b)
{
	return posting_load32(it->skip + (size_t) b * POSTING_SKIP_ENTRY);
}

static inline uint32_t
posting_block_max_tf(const PostingIter *it, uint32_t b)
{
	return posting_load32(it->skip + (size_t) b * POSTING_SKIP_ENTRY + 8);
}

static inline uint32_t
posting_block_min_dl(const PostingIter *it, uint32_t b)
{
	return posting_load32(it->skip + (size_t) b * POSTING_SKIP_ENTRY + 12);
}

#endif							/* LANCE_INDEX_POSTINGS_H */
