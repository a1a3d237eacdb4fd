/*
 * lance_manifest.h
 *	  Lance dataset discovery (versions, tags) and manifest parsing.
 */
#ifndef LANCE_MANIFEST_H
#define LANCE_MANIFEST_H

#include "lance_util.h"

/* Reader feature flags (Manifest.reader_feature_flags). */
#define LANCE_FLAG_DELETION_FILES	UINT64_C(1)
#define LANCE_FLAG_STABLE_ROW_IDS	UINT64_C(2)
#define LANCE_FLAG_V2_DEPRECATED	UINT64_C(4)
#define LANCE_FLAG_TABLE_CONFIG		UINT64_C(8)
#define LANCE_FLAG_BASE_PATHS		UINT64_C(16)
/* the flags this reader implements; anything else is refused */
#define LANCE_SUPPORTED_READER_FLAGS \
	(LANCE_FLAG_DELETION_FILES | LANCE_FLAG_STABLE_ROW_IDS | \
	 LANCE_FLAG_V2_DEPRECATED | LANCE_FLAG_TABLE_CONFIG)

typedef enum LanceTypeKind
{
	LANCE_T_UNSUPPORTED = 0,
	LANCE_T_BOOL,
	LANCE_T_INT8,
	LANCE_T_INT16,
	LANCE_T_INT32,
	LANCE_T_INT64,
	LANCE_T_UINT8,
	LANCE_T_UINT16,
	LANCE_T_UINT32,
	LANCE_T_UINT64,
	LANCE_T_HALF,
	LANCE_T_FLOAT,
	LANCE_T_DOUBLE,
	LANCE_T_STRING,
	LANCE_T_LARGE_STRING,
	LANCE_T_BINARY,
	LANCE_T_LARGE_BINARY,
	LANCE_T_FIXED_BINARY,		/* width = bytes */
	LANCE_T_FSL,				/* width = dimension, elem = item kind */
	LANCE_T_LIST,
	LANCE_T_LARGE_LIST,
	LANCE_T_STRUCT,
	LANCE_T_TIMESTAMP,			/* unit: 0 s, 1 ms, 2 us, 3 ns; tz */
	LANCE_T_DATE32,
	LANCE_T_DATE64,
	LANCE_T_DECIMAL128,			/* precision, scale */
	LANCE_T_DECIMAL256
} LanceTypeKind;

typedef struct LanceType
{
	LanceTypeKind kind;
	LanceTypeKind elem;			/* FSL item type */
	uint32_t	width;			/* FSL dimension / fixed binary bytes */
	int			unit;			/* timestamp unit */
	int			precision;
	int			scale;
	char		tz[64];			/* timestamp zone, "" if none */
} LanceType;

/* Parses a Lance logical type string; kind UNSUPPORTED if unknown. */
extern void lance_parse_logical_type(const char *s, LanceType *t);

/* Bytes per value of a fixed-width kind (0 for bool, variable and nested). */
extern uint32_t lance_type_fixed_width(LanceTypeKind kind);
extern const char *lance_type_name(LanceTypeKind kind);

typedef struct LanceField
{
	const char *name;
	int32_t		id;
	int32_t		parent_id;		/* -1: top level */
	const char *logical_type;
	bool		nullable;
	LanceType	type;
	int			parent;			/* index into fields[], -1 for top level */
	int			nchildren;
	int		   *children;		/* indices into fields[] */
} LanceField;

typedef struct LanceDataFile
{
	const char *path;			/* relative to data/ */
	int			nfields;
	const int32_t *fields;		/* field ids */
	const int32_t *column_indices;
	uint32_t	major;
	uint32_t	minor;
	uint64_t	size_bytes;		/* 0 if unknown */
} LanceDataFile;

#define LANCE_DELETION_ARROW	0
#define LANCE_DELETION_BITMAP	1

typedef struct LanceDeletion
{
	bool		present;
	int			file_type;
	uint64_t	read_version;
	uint64_t	id;
	uint64_t	num_deleted_rows;
} LanceDeletion;

typedef struct LanceFragment
{
	uint64_t	id;
	uint64_t	physical_rows;
	int			nfiles;
	LanceDataFile *files;
	LanceDeletion deletion;
	const uint8_t *row_ids;		/* serialized RowIdSequence or NULL */
	uint64_t	row_ids_len;
	bool		external_row_ids;	/* row ids in a file: the three below */
	const char *row_ids_path;	/* relative to the dataset directory */
	uint64_t	row_ids_offset;
	uint64_t	row_ids_size;
} LanceFragment;

typedef struct LanceManifest
{
	uint64_t	version;
	int64_t		timestamp_sec;
	int32_t		timestamp_nsec;
	uint64_t	reader_flags;
	uint64_t	writer_flags;
	uint64_t	next_row_id;
	const char *tag;
	const char *writer_library;
	const char *writer_version;
	const char *file_format;	/* data_format.file_format, "lance" */
	const char *format_version; /* data_format.version, e.g. "2.1" */
	int			nfields;
	LanceField *fields;
	int			nfragments;
	LanceFragment *fragments;
	void	   *pb;				/* the unpacked protobuf; owns the strings */
} LanceManifest;

/* Parses a manifest file image (trailer, length, protobuf). */
extern LanceManifest *lance_manifest_parse(const uint8_t *data, uint64_t size,
										   const char *name, LanceError *err);
extern LanceManifest *lance_manifest_load(const char *path, LanceError *err);
extern void lance_manifest_free(LanceManifest *m);

/* Index of the field with this id, or -1. */
extern int	lance_manifest_field_index(const LanceManifest *m, int32_t id);

/* ---- dataset directory ---- */

typedef struct LanceVersionList
{
	int			n;
	uint64_t   *versions;		/* ascending */
	bool		v2_naming;
} LanceVersionList;

extern bool lance_list_versions(const char *dataset, LanceVersionList *out, LanceError *err);
extern void lance_version_list_free(LanceVersionList *l);

/*
 * Path of the manifest of `version` (0 = latest) into buf; *version_out gets
 * the version found.  Fails if the version does not exist.
 */
extern bool lance_manifest_path(const char *dataset, uint64_t version, char *buf, size_t buflen,
								uint64_t *version_out, LanceError *err);

/* Version (and manifest size, 0 if absent) of a tag. */
extern bool lance_tag_lookup(const char *dataset, const char *tag, uint64_t *version,
							 uint64_t *manifest_size, LanceError *err);

/*
 * Looks up a top-level integer member of a small JSON object; false if the
 * key is absent or not a non-negative integer.  Exposed for tests.
 */
extern bool lance_json_get_u64(const char *json, size_t len, const char *key, uint64_t *out);

/* ---- stable row ids ---- */

/* Decodes a serialized RowIdSequence into n ids (n must match). */
extern bool lance_row_ids_decode(const uint8_t *data, uint64_t len, uint64_t n,
								 uint64_t *out, LanceError *err);

/*
 * The physical_rows row ids of fragment fr of the dataset in directory
 * `dataset`, inline or from its external file; false (with an error naming
 * the file) if it has none or they are corrupt.
 */
extern bool lance_row_ids_load(const char *dataset, const LanceFragment *fr, uint64_t *out,
							   LanceError *err);

#endif							/* LANCE_MANIFEST_H */
