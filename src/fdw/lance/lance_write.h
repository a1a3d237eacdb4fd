/*
 * lance_write.h
 *	  Writing Lance data: column buffers, data files (format 2.1 / 2.2) and
 *	  new dataset versions (manifest, transaction, commit).  Plain C like the
 *	  reader; allocation goes through the same hooks.
 */
#ifndef LANCE_WRITE_H
#define LANCE_WRITE_H

#include <protobuf-c/protobuf-c.h>

#include "lance_manifest.h"
#include "lance_util.h"

/* A growable byte buffer. */
typedef struct LanceBuf
{
	uint8_t    *data;
	uint64_t	len;
	uint64_t	cap;
} LanceBuf;

extern bool lance_buf_reserve(LanceBuf *b, uint64_t extra, LanceError *err);
extern bool lance_buf_append(LanceBuf *b, const void *p, uint64_t n, LanceError *err);
extern bool lance_buf_zero(LanceBuf *b, uint64_t n, LanceError *err);
extern void lance_buf_free(LanceBuf *b);
/* Packs a protobuf-c message onto the buffer. */
extern bool lance_buf_pb(LanceBuf *b, const ProtobufCMessage *msg, LanceError *err);
/* Writes the buffer's bytes to fd and empties it; *base moves on by as many. */
extern bool lance_sink_flush(LanceBuf *file, int fd, uint64_t *base, const char *path,
							 LanceError *err);

/*
 * The rows of one top-level leaf field buffered for a new data file.
 * Fixed-width kinds (and fixed_size_list, fixed binary) keep `width` bytes
 * per row in `data`, bools one byte per row; strings and binaries keep their
 * bytes in `data` with n+1 `offsets`.  A null row keeps a zeroed slot.
 */
#define LANCE_WRITE_MAX_DEPTH	8

typedef struct LanceColBuf
{
	int			field;			/* index into the manifest's fields */
	LanceType	type;
	uint32_t	width;			/* bytes per row; 0 for variable width */
	uint64_t	n;
	bool		any_null;
	LanceBuf	valid;			/* one byte per row, 1 = valid */
	LanceBuf	data;
	LanceBuf	offsets;		/* uint64_t x (n + 1), variable width only */
	/*
	 * The item leaf of a list (nlayers > 0): `n` counts value slots (items,
	 * null items included), `nrows` rows; each row adds repetition and
	 * definition levels (one per item, or one for a null or empty list).
	 */
	int			nlayers;
	int32_t		layers[LANCE_WRITE_MAX_DEPTH];	/* innermost first: the leaf, then its ancestors */
	bool		repeated;		/* a list on the path (else structs only) */
	uint64_t	nrows;
	LanceBuf	rep;			/* uint16_t per level */
	LanceBuf	def;			/* uint16_t per level */
	/*
	 * The path of a nested leaf (lance_colbuf_init_leaf): path[0] the
	 * top-level field, path[depth] the leaf (nlayers = depth + 1); a row
	 * starts with rep = nlists; levels with def <= max_slot_def have a value
	 * slot (a null leaf or a null struct above it without a list between).
	 */
	int			depth;
	int			path[LANCE_WRITE_MAX_DEPTH];
	int			nlists;
	uint16_t	max_slot_def;
} LanceColBuf;

/* False (with a message) if the field's type cannot be written. */
extern bool lance_colbuf_init(LanceColBuf *c, const LanceManifest *m, int field,
							  LanceError *err);
extern void lance_colbuf_reset(LanceColBuf *c);
extern void lance_colbuf_free(LanceColBuf *c);

/* Appends one row: len bytes of value (ignored when null). */
extern bool lance_colbuf_push(LanceColBuf *c, const void *value, uint64_t len, bool isnull,
							  LanceError *err);

/*
 * A list field whose item is a leaf the writer handles: the buffer holds the
 * item leaf.  A row is pushed as lance_colbuf_list_row (NULL or empty list)
 * or as its items, each with lance_colbuf_list_item (first = starts a row).
 */
extern bool lance_colbuf_init_list(LanceColBuf *c, const LanceManifest *m, int field,
								   LanceError *err);
extern bool lance_colbuf_list_row(LanceColBuf *c, bool isnull, LanceError *err);
extern bool lance_colbuf_list_item(LanceColBuf *c, bool first, const void *value, uint64_t len,
								   bool isnull, LanceError *err);

/*
 * Member `child` of a list's struct items: per item, the struct NULL or
 * valid and the member's value; a NULL or empty list as lance_colbuf_list_row.
 */
extern bool lance_colbuf_init_list_member(LanceColBuf *c, const LanceManifest *m, int field,
										  int child, LanceError *err);
extern bool lance_colbuf_list_member(LanceColBuf *c, bool first, bool struct_null,
									 const void *value, uint64_t len, bool isnull,
									 LanceError *err);

/*
 * A child (a leaf) of a struct field: one slot per row, the row's struct
 * NULL or valid and the child's value NULL or not.
 */
extern bool lance_colbuf_init_struct_child(LanceColBuf *c, const LanceManifest *m, int field,
										   int child, LanceError *err);
extern bool lance_colbuf_struct_push(LanceColBuf *c, bool struct_null, const void *value,
									 uint64_t len, bool isnull, LanceError *err);

/*
 * Any nesting of lists and structs: the leaf `leaf` (a manifest field
 * index; a fixed_size_list counts as a leaf) with its path up to its
 * top-level field.  Rows are pushed level by level: a row starts with rep =
 * c->nlists, a new element of the k-th list from the top (k = 1..nlists)
 * has rep = nlists - k, and otherwise 0; def is 0 for a valid leaf or
 * lance_colbuf_def(c, j, empty) when path node j is null (or, empty, an
 * empty list).  The value is taken when the level has a slot (def <=
 * max_slot_def; NULL for def != 0).
 */
extern bool lance_colbuf_init_leaf(LanceColBuf *c, const LanceManifest *m, int leaf,
								   LanceError *err);
extern uint16_t lance_colbuf_def(const LanceColBuf *c, int j, bool empty);
extern bool lance_colbuf_node_nullable(const LanceColBuf *c, int j);
extern bool lance_colbuf_level(LanceColBuf *c, uint16_t rep, uint16_t def, const void *value,
							   uint64_t len, LanceError *err);

/*
 * Whether c is one of the shapes before any-depth nesting: a top-level
 * leaf, a list's or a struct's leaf, or a member of a list's struct items
 * (what an encoder that handles only those must check).
 */
extern bool lance_colbuf_simple_shape(const LanceColBuf *c, const LanceManifest *m);

/*
 * Appends row `row` of a decoded top-level vector (the reader's, NULL when
 * the field is absent: a NULL row) to the nested leaf column c.
 */
struct LanceVector;
extern bool lance_colbuf_push_vector(LanceColBuf *c, const LanceManifest *m,
									 const struct LanceVector *top, uint64_t row,
									 LanceError *err);

/*
 * The column buffers of top-level field `field` into cols (room for one per
 * leaf, at most m->nfields): one, or one per leaf below a list or struct,
 * depth first.  Returns how many, or -1 (with a message) if the field
 * cannot be written.
 */
extern int	lance_colbuf_init_field(LanceColBuf *cols, const LanceManifest *m, int field,
									LanceError *err);

/* Rows buffered. */
static inline uint64_t
lance_colbuf_rows(const LanceColBuf *c)
{
	return c->nlayers > 0 ? c->nrows : c->n;
}

/*
 * Writes a data file of format major.minor (2.0, 2.1 or 2.2) holding the buffered
 * rows of every column (all with the same row count).  The file is created
 * exclusively and fsynced; *size_out gets its size.
 */
extern bool lance_write_data_file(const char *path, const LanceManifest *m,
								  LanceColBuf *cols, int ncols, uint16_t major, uint16_t minor,
								  uint64_t *size_out, LanceError *err);

/* Encodes the same file in memory (tests). */
extern bool lance_encode_data_file(LanceBuf *out, const LanceManifest *m,
								   LanceColBuf *cols, int ncols, uint16_t major, uint16_t minor,
								   LanceError *err);

/*
 * One written page of a data file (both formats): where its buffers are,
 * its rows, and its serialized encoding (Any{PageLayout} in 2.1+,
 * Any{ArrayEncoding} in 2.0); first_row is 2.1+'s page priority.
 */
typedef struct LancePageOut
{
	uint64_t	first_row;
	uint64_t	nrows;
	int			nbufs;
	uint64_t	offsets[3];
	uint64_t	sizes[3];
	LanceBuf	enc;
} LancePageOut;

/* ColumnMetadata of one column from its pages, appended to out. */
extern bool lance_column_metadata(LanceBuf *out, const LancePageOut *pages, int npages,
								  LanceError *err);

/* Global buffer 0: FileDescriptor of the manifest fields fidx[0..n) and the row count. */
extern bool lance_file_descriptor(LanceBuf *out, const LanceManifest *m, const int *fidx,
								  int n, uint64_t nrows, LanceError *err);

/*
 * Format 2.0 (lance_write20.c): one column per field, parents included.
 * lance_write_data_file and lance_encode_data_file dispatch minor 0 here;
 * with fd >= 0 the bytes go to fd as they are produced, the tail stays in
 * `file`.
 */
extern bool lance_encode_file20(LanceBuf *file, int fd, const char *path,
								const LanceManifest *m, LanceColBuf *cols, int ncols,
								LanceError *err);

/*
 * Whether 2.0 files can hold these column buffers: the 2.0 encoder knows
 * leaves, a list or a struct of leaves and a list of structs of leaves,
 * not deeper nesting nor decimal256.  On false, err names the field.
 */
extern bool lance_write20_supports(const LanceManifest *m, const LanceColBuf *cols, int ncols,
								   LanceError *err);

/*
 * The field ids of a 2.0 file of these column buffers, one per column in
 * order (column i holds ids[i]): each written top-level field, then its
 * list and struct descendants.  ids needs room for m->nfields.
 */
extern int	lance_file20_field_ids(const LanceManifest *m, const LanceColBuf *cols, int ncols,
								   int32_t *ids);

/* ---- commits (lance_commit.c) ---- */

/* What new manifests name as their writer. */
#define LANCE_WRITER_LIBRARY	"lancedb-pg"
#define LANCE_WRITER_VERSION	"0.1.0"

/* A data file written for a new fragment, not yet committed. */
typedef struct LanceNewFragment
{
	char	   *file;			/* name under data/ */
	uint64_t	nrows;
	uint64_t	size_bytes;
	int			nfields;
	int32_t    *field_ids;
	uint16_t	major;
	uint16_t	minor;
	/* stable row ids: the serialized RowIdSequence to keep (compaction); NULL = new ids */
	const uint8_t *row_ids;
	uint64_t	row_ids_len;
} LanceNewFragment;

typedef struct LanceCommitResult
{
	uint64_t	version;		/* the version committed */
	int			retries;		/* concurrent commits rebased over */
} LanceCommitResult;

/*
 * Commits an append of `nfrags` fragments on top of `read_version` of the
 * dataset as the next version: transaction file, manifest created with
 * link() (a concurrent commit makes it rebase on the newer version and
 * retry), then the version hint.  `writer` names the writer library.
 * Returns false with a message on failure; *conflict is set when a
 * concurrent commit made the append impossible (an overwrite or restore).
 */
extern bool lance_commit_append(const char *dataset, uint64_t read_version,
								const LanceNewFragment *frags, int nfrags,
								const char *writer, const char *writer_version,
								LanceCommitResult *res, bool *conflict, LanceError *err);

/* Row offsets to delete from one fragment (physical positions). */
typedef struct LanceFragmentDeletes
{
	uint64_t	fragment_id;
	uint64_t	n;
	const uint32_t *offsets;
} LanceFragmentDeletes;

/*
 * Commits appends and deletions together as the next version: an Append,
 * a Delete or (both) an Update transaction.  Deletions are merged with the
 * fragment's existing deletion file into a new one (a roaring bitmap); a
 * fragment with every row deleted is dropped.  A concurrent commit that
 * touched a fragment with deletions (a delete, an update, a rewrite such as
 * compaction), or an overwrite or restore, sets *conflict.
 */
extern bool lance_commit_change(const char *dataset, uint64_t read_version,
								const LanceNewFragment *frags, int nfrags,
								const LanceFragmentDeletes *dels, int ndels,
								const char *writer, const char *writer_version,
								LanceCommitResult *res, bool *conflict, LanceError *err);

/*
 * Commits the content of `version` as the next version (a Restore
 * transaction, as LanceDB's restore): its fragments, schema and indexes,
 * with fragment ids and row ids never reused.
 */
extern bool lance_commit_restore(const char *dataset, uint64_t version,
								 const char *writer, const char *writer_version,
								 LanceCommitResult *res, LanceError *err);

/* One group of a rewrite: fragments read at the read version and their replacement. */
typedef struct LanceRewriteGroup
{
	int			nold;
	const uint64_t *old_ids;
	int			nnew;
	const LanceNewFragment *new_frags;
} LanceRewriteGroup;

/*
 * Commits a rewrite (compaction) as the next version: each group's old
 * fragments are replaced, in place, by its new ones (fresh ids), with a
 * Rewrite transaction.  Indexes whose fragment bitmap covers a rewritten
 * fragment (or is unknown) are dropped from the index section, since their
 * row addresses would name removed fragments; *indices_dropped counts them.
 * Concurrent commits are rebased over unless one changed or removed a
 * fragment being rewritten, or the schema: then *conflict is set.
 */
extern bool lance_commit_rewrite(const char *dataset, uint64_t read_version,
								 const LanceRewriteGroup *groups, int ngroups,
								 const char *writer, const char *writer_version,
								 LanceCommitResult *res, int *indices_dropped,
								 bool *conflict, LanceError *err);

/* What one committed version uses, for cleanup (lance_commit.c). */
typedef struct LanceVersionRefs
{
	uint64_t	version;
	int64_t		timestamp_sec;
	int			nfiles;
	char	  **files;			/* data files, relative to data/ */
	int			ndeletions;
	char	  **deletions;		/* names under _deletions/ */
	char	   *transaction;	/* name under _transactions/, or NULL */
	int			nindices;
	char	  **indices;		/* index uuids: directories under _indices/ */
} LanceVersionRefs;

extern bool lance_version_refs(const char *dataset, uint64_t version, bool v2_naming,
							   LanceVersionRefs *out, LanceError *err);

/* ---- compaction planning (lance_compact.c) ---- */

typedef struct LanceCompactOptions
{
	uint64_t	target_rows;	/* rows per new fragment */
	bool		materialize_deletions;
	double		deletion_threshold; /* deleted / physical rows that make a
									 * fragment worth rewriting alone */
} LanceCompactOptions;

/* A run of consecutive fragments (indices into m->fragments) to merge. */
typedef struct LanceCompactBin
{
	int			first;
	int			n;
	uint64_t	live_rows;
} LanceCompactBin;

/*
 * Which fragments to rewrite, as LanceDB's compaction picks them: a
 * fragment is a candidate when it has fewer live rows than the target, or
 * (materialize_deletions) more deleted rows than the threshold; runs of
 * adjacent candidates are cut into bins of about target rows, and a bin of
 * one fragment is kept only if it has deletions to materialize.  Returns
 * the number of bins (*bins allocated, free with lance_free).
 */
extern int	lance_compact_plan(const LanceManifest *m, const LanceCompactOptions *opt,
							   LanceCompactBin **bins, LanceError *err);

/* Whether fragment f is a candidate for compaction. */
extern bool lance_compact_candidate(const LanceFragment *f, const LanceCompactOptions *opt);

/*
 * Serializes row ids ids[0..n) as a RowIdSequence: runs of consecutive ids
 * as ranges, the rest as arrays.  *out allocated with lance_alloc.
 */
extern bool lance_row_ids_encode(const uint64_t *ids, uint64_t n, uint8_t **out,
								 uint64_t *outlen, LanceError *err);

/*
 * A deletion file for fewer than LANCE_ARROW_DELETION_MAX deletions, as
 * LanceDB writes them: an Arrow IPC file of one UInt32 column "row_id"
 * (lance_arrow_write.c).  `offsets` ascending.
 */
#define LANCE_ARROW_DELETION_MAX	5000
extern bool lance_arrow_deletion_encode(const uint32_t *offsets, uint32_t n, LanceBuf *out,
										LanceError *err);

/* Random lowercase hex of n bytes (2n characters plus NUL into out). */
extern void lance_random_hex(char *out, int nbytes);

#endif							/* LANCE_WRITE_H */
