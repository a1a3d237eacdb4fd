/*
 * lance_fdw.h
 *	  lance_fdw: foreign tables over Lance datasets written by LanceDB.
 *
 * The reader itself (src/fdw/lance) is plain C; these files adapt it to
 * PostgreSQL: lance_fdw.c (handler, options, planning, scan, EXPLAIN),
 * lance_fdw_dataset.c (locating a table's dataset and version, reader
 * errors and memory, lance_versions/lance_tags), lance_fdw_types.c (Lance
 * types to SQL types and datums) and lance_fdw_import.c (IMPORT FOREIGN
 * SCHEMA).
 */
#ifndef LANCE_FDW_H
#define LANCE_FDW_H

#include "postgres.h"

#include "fdw/lance/lance_file.h"
#include "fdw/lance/lance_manifest.h"
#include "fdw/lance/lance_write.h"

#include "lancedb.h"
#include "nodes/pg_list.h"
#include "nodes/primnodes.h"

/* Where a foreign table's rows come from. */
typedef struct LanceFdwTarget
{
	char	   *dataset;		/* dataset directory */
	uint64		version;		/* option "version"; 0 = not set */
	char	   *tag;			/* option "tag", or NULL */
} LanceFdwTarget;

/* ---- lance_fdw.c ---- */

extern void LanceFdwInit(void);

/* ---- lance_fdw_dataset.c ---- */

extern void lance_fdw_init_reader(void);
extern pg_attribute_noreturn() void lance_fdw_reader_error(const LanceError *err,
														   const char *dataset);
extern bool lance_fdw_valid_name(const char *name);
extern char *lance_fdw_dataset_in_dir(const char *uri, const char *table, bool missing_ok);
extern void lance_fdw_get_target(Oid relid, LanceFdwTarget *target);
extern bool lance_fdw_is_dataset(const char *dataset);
extern LanceManifest *lance_fdw_load_manifest(const LanceFdwTarget *target);
extern uint64 lance_fdw_live_rows(const LanceManifest *m);
extern int	lance_fdw_top_field(const LanceManifest *m, const char *name);
extern const LanceDataFile *lance_fdw_field_file(const LanceManifest *m,
												 const LanceFragment *fr, int field);

/* ---- lance_fdw_types.c ---- */

typedef enum LanceConvKind
{
	LCONV_INT,					/* integers -> int2/int4/int8/numeric */
	LCONV_FLOAT,				/* half/float/double -> float4/float8 */
	LCONV_BOOL,
	LCONV_TEXT,
	LCONV_BYTEA,
	LCONV_VECTOR,				/* fixed_size_list<float> -> vector */
	LCONV_HALFVEC,				/* fixed_size_list<halffloat> -> halfvec */
	LCONV_ARRAY,				/* list or fixed_size_list -> T[] */
	LCONV_TIMESTAMP,
	LCONV_DATE,
	LCONV_NUMERIC,				/* decimal128/256 */
	LCONV_JSONB					/* struct */
} LanceConvKind;

/* How one Lance field becomes datums of one SQL type. */
typedef struct LanceConv
{
	LanceConvKind kind;
	LanceType	src;
	Oid			typid;
	int32		typmod;
	const char *colname;		/* for error messages */
	/* element of a list or fixed_size_list (always set for those) */
	struct LanceConv *elem;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	/* struct members (LCONV_JSONB), converted with their default types */
	int			nchildren;
	char	  **names;
	struct LanceConv *children;
} LanceConv;

extern Oid	lance_fdw_ext_type(const char *typname);
extern bool lance_fdw_default_type(const LanceManifest *m, int field, Oid *typid, int32 *typmod);
extern bool lance_fdw_conv_build(const LanceManifest *m, int field, Oid typid, int32 typmod,
								 const char *colname, LanceConv *conv);
extern Datum lance_fdw_conv_datum(const LanceConv *conv, const LanceVector *v, uint64 i,
								  bool *isnull);

/* ---- lance_fdw_topk.c ---- */

/* ORDER BY <column> <distance op> <query> LIMIT k, as planned. */
typedef struct LanceTopkPlan
{
	AttrNumber	attno;			/* the vector column */
	int			metric;			/* 0 <->, 1 <#>, 2 <=>, 3 <+> */
	int64		k;				/* LIMIT (plus OFFSET) */
	bool		halfvec;		/* halfvec rather than vector operands */
	Expr	   *query;			/* the query vector expression */
} LanceTopkPlan;

struct PlannerInfo;
struct RelOptInfo;
extern bool lance_fdw_topk_match(struct PlannerInfo *root, struct RelOptInfo *baserel,
								 LanceTopkPlan *out);
extern const char *lance_fdw_metric_name(int metric);
extern const void *lance_fdw_topk_query(Datum d, bool halfvec, int *dim);
extern double lance_fdw_topk_distance(int metric, bool halfvec, const void *x, const void *q,
									  int dim);

struct PlanState;
extern uint64 lance_fdw_scan_version(struct PlanState *ps, Oid relid);

/* ---- lance_fdw_modify.c ---- */

struct FdwRoutine;
extern void lance_fdw_modify_routine(struct FdwRoutine *routine);

/* ---- lance_fdw_manage.c ---- */

/*
 * The dataset of a lance_fdw foreign table the current user may change:
 * SELECT on the table and the privileges of pg_write_server_files.
 */
extern char *lance_fdw_writable_dataset(Oid relid);

/* ---- lance_fdw_compact.c, lance_fdw_cleanup.c: dataset maintenance ----
 *
 * Both work on the dataset's files only (nothing in PostgreSQL is written
 * or WAL-logged) and take no PostgreSQL locks themselves: the SQL functions
 * hold AccessShareLock on the foreign table, the maintenance worker
 * ShareUpdateExclusiveLock.  They are safe beside readers and writers, in
 * this cluster or in LanceDB: readers keep reading the version they
 * opened, compaction commits a new version with the usual link() protocol
 * (rebasing over concurrent appends; a concurrent change to a fragment it
 * rewrites is a serialization failure, and its files are removed), and
 * cleanup never removes the latest version, a tagged version or a file one
 * of the kept versions uses.  Both commit on the filesystem at once, not at
 * transaction commit (like VACUUM, a rollback does not undo them).
 */
typedef struct LanceCompactStats
{
	uint64		read_version;
	uint64		version;		/* committed; 0 if there was nothing to do */
	int			fragments_removed;
	int			fragments_added;
	uint64		rows;			/* rows rewritten */
	uint64		deleted_rows;	/* deleted rows dropped */
	int			files;			/* data files written */
	int			indices_dropped;
} LanceCompactStats;

extern void lance_fdw_compact_dataset(const char *dataset, const LanceCompactOptions *opt,
									  LanceCompactStats *stats);
extern bool lance_fdw_compactable(const LanceManifest *m);

typedef struct LanceCleanupStats
{
	int			versions_removed;
	int64		data_files_removed;
	int64		deletion_files_removed;
	int64		transaction_files_removed;
	int64		index_files_removed;
	int64		bytes_removed;
	uint64		oldest_kept;	/* oldest version kept */
} LanceCleanupStats;

/* Removes what only versions committed before `cutoff` (Unix seconds) use. */
extern List *lance_fdw_tagged_versions(const char *dataset);
extern void lance_fdw_cleanup_dataset(const char *dataset, int64 cutoff,
									  LanceCleanupStats *stats);

/* settings (lance_fdw_maint.c) */
extern int	lance_compact_min_fragments;
extern double lance_compact_deleted_fraction;
extern int	lance_retention;	/* seconds */
extern int	lance_commit_delay;
extern void lance_fdw_maint_init(void);
extern void lance_fdw_commit_delay(const char *dataset, uint64 base_version);

/* ---- lance_fdw_import.c ---- */

struct ImportForeignSchemaStmt;
extern List *lance_fdw_import_schema(struct ImportForeignSchemaStmt *stmt, Oid serverOid);

#endif							/* LANCE_FDW_H */
