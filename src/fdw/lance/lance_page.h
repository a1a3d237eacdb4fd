/*
 * lance_page.h
 *	  Internal: decoding of one 2.1+ page into repetition/definition levels and
 *	  values (lance_page.c), assembled into vectors by lance_file.c.
 */
#ifndef LANCE_PAGE_H
#define LANCE_PAGE_H

#include "lance_file.h"

/* RepDefLayer values of the 2.1 PageLayout. */
#define LANCE_LAYER_ALL_VALID_ITEM		1
#define LANCE_LAYER_ALL_VALID_LIST		2
#define LANCE_LAYER_NULLABLE_ITEM		3
#define LANCE_LAYER_NULLABLE_LIST		4
#define LANCE_LAYER_EMPTYABLE_LIST		5
#define LANCE_LAYER_NULL_AND_EMPTY_LIST 6

#define LANCE_MAX_LAYERS	16

/* Decoded values: fixed `width` bytes each, or variable with n+1 offsets. */
typedef struct LanceValues
{
	uint32_t	width;			/* 0 = variable width */
	uint64_t	n;
	uint8_t    *data;
	uint64_t	len;
	uint64_t	cap;
	uint64_t   *off;			/* variable: n+1 entries */
	uint64_t	offcap;
	/*
	 * fixed_size_list values with NULL items: one bit per value (NULL when
	 * none).  Such a value is only accepted in a null slot.
	 */
	uint8_t    *itemnull;
	uint64_t	itemnull_cap;	/* in values */
} LanceValues;

static inline bool
lance_values_itemnull(const LanceValues *v, uint64_t i)
{
	return v->itemnull != NULL && i < v->itemnull_cap && ((v->itemnull[i >> 3] >> (i & 7)) & 1);
}

/*
 * A leaf column (or part of it): nlev levels; rep/def are NULL when absent
 * (then every level is a valid item).  def is page-independent: 0 = valid,
 * else 1 + 2 * layer + empty (layer 0 = the item, counting outwards; empty
 * = an empty rather than null list).  Values exist only for levels that are
 * items (valid or null), not for null or empty lists.
 */
typedef struct LanceLeaf
{
	uint64_t	nlev;
	uint64_t	levcap;
	uint16_t   *rep;
	uint16_t   *def;
	int			nlayers;
	int			layers[LANCE_MAX_LAYERS];
	LanceValues v;
} LanceLeaf;

extern bool lance_values_init(LanceValues *v, uint32_t width, LanceError *err);
extern void lance_values_free(LanceValues *v);
extern void lance_leaf_free(LanceLeaf *l);

/*
 * Decodes one page (serialized PageLayout + buffers) of a leaf of type `t`
 * with `nrows` rows, appending to `leaf` (whose values width must already be
 * set).  Bools decode to one byte per value.
 */
extern bool lance_page_decode(const uint8_t *layout, uint64_t layout_len,
							  const uint8_t *const *bufs, const uint64_t *buf_lens,
							  int nbufs, uint64_t nrows, const LanceType *t,
							  LanceLeaf *leaf, LanceError *err);

/* Value width in bytes of a leaf type (0 = variable, bools 1). */
extern bool lance_leaf_width(const LanceType *t, uint32_t *width, LanceError *err);

/* Column of field id `id` in data file `df`, -1 if the file lacks it. */
extern int	lance_column_of(const LanceDataFile *df, int32_t id);

/* An all-null vector of n rows for manifest field `idx` (and its children). */
extern bool lance_null_vector(const LanceManifest *m, int idx, uint64_t n, LanceVector *out,
							  LanceError *err);

/*
 * Decodes the pages of a 2.1+ leaf column overlapping rows [start, end)
 * into `leaf`; [*pstart, *pend) receives the rows those whole pages hold,
 * *absent is set when the data file lacks the column (lance_file.c).
 */
extern bool lance_read_leaf(LanceFileReader *f, const LanceDataFile *df, const LanceField *fld,
							uint64_t start, uint64_t end, LanceLeaf *leaf, bool *absent,
							uint64_t *pstart, uint64_t *pend, LanceError *err);

/*
 * Reads rows [start, end) of a 2.1+ field with lists below its top
 * (list<list>, list<struct>, struct<list>, ...) from the levels of all its
 * leaves (lance_nested.c).  As lance_read_field_range, `out` may hold more
 * rows (those every leaf's decoded pages hold), starting at row *span.
 */
extern bool lance_read_nested(LanceFileReader *f, const LanceManifest *m,
							  const LanceDataFile *df, int idx, uint64_t start,
							  uint64_t end, LanceVector *out, uint64_t *span,
							  LanceError *err);

/*
 * Packed structs (field metadata lance-encoding:packed): one column holds
 * the fixed-width children zipped row by row (lance_file.c).  Whether
 * struct `idx` is stored so in `df`, the bytes of one row, and the struct
 * vector made of a fixed-width vector of such rows (validity kept).
 */
extern bool lance_struct_is_packed(const LanceManifest *m, const LanceDataFile *df, int idx);
extern bool lance_packed_width(const LanceManifest *m, int idx, uint32_t *width, LanceError *err);
extern bool lance_packed_split(const LanceManifest *m, int idx, const LanceVector *rows,
							   LanceVector *out, LanceError *err);

/*
 * Legacy (storage version 0.1) files (lance_legacy.c): opens one after its
 * footer was read (metadata at `meta_pos`), and reads rows [start, end) of
 * field `idx` as lance_read_field_range.
 */
extern bool lance_legacy_open(LanceFileReader *f, uint64_t meta_pos, LanceError *err);
extern bool lance_read_legacy_field(LanceFileReader *f, const LanceManifest *m,
									const LanceDataFile *df, int idx, uint64_t start,
									uint64_t end, LanceVector *out, uint64_t *span,
									LanceError *err);

/*
 * Reads rows [start, end) of field `idx` from a format 2.0 file
 * (lance_file20.c), as lance_read_field_range.
 */
extern bool lance_read20_field(LanceFileReader *f, const LanceManifest *m,
							   const LanceDataFile *df, int idx, uint64_t start,
							   uint64_t end, LanceVector *out, uint64_t *span,
							   LanceError *err);

#endif							/* LANCE_PAGE_H */
