/*
 * lance_file.h
 *	  Reading Lance data files (format 2.0 / 2.1 / 2.2) into simple column vectors.
 */
#ifndef LANCE_FILE_H
#define LANCE_FILE_H

#include "lance_manifest.h"
#include "lance_util.h"

/*
 * A decoded column.  Fixed-width values (ints, floats, timestamps, decimals,
 * fixed_size_list items, fixed-size binary) are `width` bytes each in
 * `values`; bools are one byte (0/1) each; strings and binaries have n+1
 * `offsets` into `values`; lists have n+1 `offsets` into children[0];
 * structs have one child per field.  `validity` has one bit per row
 * (LSB-first, 1 = valid) or is NULL when every row is valid.  Null rows keep
 * their slot (zero bytes / empty range).
 */
typedef struct LanceVector
{
	LanceType	type;
	uint64_t	n;
	uint32_t	width;
	uint8_t    *validity;
	uint8_t    *values;
	uint64_t	values_len;
	uint64_t   *offsets;
	int			nchildren;
	struct LanceVector *children;
} LanceVector;

static inline bool
lance_vector_is_valid(const LanceVector *v, uint64_t i)
{
	return v->validity == NULL || (v->validity[i >> 3] >> (i & 7)) & 1;
}

extern void lance_vector_free(LanceVector *v);
extern bool lance_vector_set_null(LanceVector *v, uint64_t i, uint64_t n, LanceError *err);

/* One page of a column as listed in the column metadata. */
typedef struct LancePage
{
	uint64_t	nrows;
	uint64_t	first_row;
	int			nbuffers;
	const uint64_t *buf_offsets;
	const uint64_t *buf_sizes;
	const uint8_t *encoding;	/* Any.value */
	uint64_t	encoding_len;
	bool		layout21;		/* PageLayout (2.1+) rather than ArrayEncoding */
	void	   *encoding_owner; /* unpacked Any holding `encoding` */
} LancePage;

typedef struct LanceColumn
{
	int			npages;
	LancePage  *pages;
	void	   *pb;				/* unpacked ColumnMetadata */
} LanceColumn;

typedef struct LanceFileReader
{
	LanceReader r;
	uint16_t	major;
	uint16_t	minor;
	uint32_t	ncolumns;
	uint64_t	nrows;
	LanceColumn *columns;
	/* legacy (0.1) files: major 0; batches and their page table */
	uint32_t	nbatches;
	uint64_t   *batch_start;	/* nbatches + 1 row offsets */
	uint64_t	page_table_pos;
} LanceFileReader;

extern bool lance_file_open(LanceFileReader *f, const char *path, LanceError *err);
extern bool lance_file_open_mem(LanceFileReader *f, const uint8_t *data, uint64_t size,
								const char *name, LanceError *err);
extern void lance_file_close(LanceFileReader *f);

/*
 * Reads all rows of manifest field `field_index` from data file `df` (one of
 * the fragment's files) into `out`.
 */
extern bool lance_read_field(LanceFileReader *f, const LanceManifest *m,
							 const LanceDataFile *df, int field_index,
							 LanceVector *out, LanceError *err);

/*
 * Reads rows [start, end) of the field, decoding only the pages that hold
 * them.  `out` may hold more rows (whole pages): *span receives the row its
 * entry 0 stands for (<= start), and out->n >= end - *span.
 */
extern bool lance_read_field_range(LanceFileReader *f, const LanceManifest *m,
								   const LanceDataFile *df, int field_index,
								   uint64_t start, uint64_t end, LanceVector *out,
								   uint64_t *span, LanceError *err);

/* Keeps rows [off, off + n) of v, in place (lists and structs recursively). */
extern bool lance_vector_slice(LanceVector *v, uint64_t off, uint64_t n, LanceError *err);

/*
 * Decodes one 2.1+ page (an encoded PageLayout plus its buffers, already in
 * memory) of a leaf column of type `t` into levels and values; exposed for
 * the page fuzzer.
 */
extern bool lance_fuzz_decode_page(const uint8_t *layout, uint64_t layout_len,
								   const uint8_t *const *bufs, const uint64_t *buf_lens,
								   int nbufs, uint64_t nrows, const LanceType *t,
								   LanceError *err);

/* The same for one page of a format 2.0 file (an encoded ArrayEncoding). */
extern bool lance_fuzz_decode_page20(const uint8_t *encoding, uint64_t len,
									 const uint8_t *const *bufs, const uint64_t *buf_lens,
									 int nbufs, uint64_t nrows, const LanceType *t,
									 LanceError *err);

/*
 * Encodings decoded in this process, by name ("2.1 fsst", "2.0 dictionary"
 * ...): the interop test's coverage matrix.  Noted once per page or
 * encoding node, never per value.
 */
extern void lance_census_note(const char *what);
extern int	lance_census_get(const char *const **names, const uint64_t **counts);
extern void lance_census_reset(void);
extern void lance_census_mute(bool on);

/* The same, keeping the decoded vector (unit tests). */
extern bool lance_decode_page20(const uint8_t *encoding, uint64_t len,
								const uint8_t *const *bufs, const uint64_t *buf_lens,
								int nbufs, uint64_t nrows, const LanceType *t,
								LanceVector *out, LanceError *err);

/* ---- codecs (lance_codec.c), exposed for tests ---- */

/* FastLanes unpack of 1024 values of `tbits` (8/16/32/64) packed at `w` bits. */
extern void lance_fastlanes_unpack(const uint8_t *in, int tbits, int w, uint64_t *out);

/* FSST: decompress one string; false if out of room or bad input. */
typedef struct LanceFsst
{
	int			nsymbols;
	uint64_t	symbols[256];
	uint8_t		lens[256];
} LanceFsst;

extern bool lance_fsst_parse(const uint8_t *table, uint64_t len, LanceFsst *fsst, LanceError *err);
extern bool lance_fsst_decode(const LanceFsst *fsst, const uint8_t *in, uint64_t len,
							  uint8_t *out, uint64_t cap, uint64_t *outlen);

/* General compression: scheme 1 = LZ4 block with u32 size prefix, 2 = ZSTD. */
extern uint8_t *lance_decompress(int scheme, const uint8_t *in, uint64_t len,
								 uint64_t *outlen, LanceError *err);

/* ---- deletion files (lance_deletion.c) ---- */

/*
 * Reads a deletion file and returns a bitmap of `nrows` bits (1 = deleted).
 */
extern uint8_t *lance_deletion_load(const char *dataset, uint64_t fragment_id,
									const LanceDeletion *d, uint64_t nrows, LanceError *err);
extern uint8_t *lance_deletion_parse(const uint8_t *data, uint64_t len, int file_type,
									 uint64_t nrows, const char *name, LanceError *err);

#endif							/* LANCE_FILE_H */
