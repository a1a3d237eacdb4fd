/*
 * ivf.h
 *	  lance_ivf: an IVF index access method (LanceDB's IVF_FLAT, IVF_SQ,
 *	  IVF_PQ and IVF_RQ) over the shared quantizers in src/index/.
 *
 * Page layout (all pages through the buffer manager, WAL-logged):
 *	  block 0				meta page
 *	  quantizer blob		serialised Quantizer, contiguous pages
 *	  centroid blob			nlists x dim float32, contiguous pages
 *	  list directory		IvfListInfo[nlists], contiguous pages, updated in place
 *	  list pages			per list a chain of IVF_PAGE_LIST pages holding
 *							fixed-size entries (aux floats, code bytes, TID)
 *
 * Lists are chains so that a list can grow, be split or merged (the
 * background worker) without moving other lists; the directory and the
 * blobs can be rewritten beside the old ones and switched atomically by a
 * single meta page update.
 */
#ifndef LANCEDB_IVF_H
#define LANCEDB_IVF_H

#include "postgres.h"

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "index/quantizer.h"
#include "nodes/execnodes.h"
#include "lancedb.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"

#define IVF_MAGIC				0x4C495646	/* "LIVF" */
#define IVF_FORMAT_VERSION		3	/* 2: 1-bit RQ codes in fast-scan groups */
#define IVF_METAPAGE_BLKNO		0

/* CREATE INDEX sub-phases shown in pg_stat_progress_create_index */
#define IVF_PHASE_SAMPLING		2
#define IVF_PHASE_TRAINING		3
#define IVF_PHASE_ASSIGNING		4
#define IVF_PHASE_WRITING		5

#define IVF_PAGE_META			1
#define IVF_PAGE_BLOB			2
#define IVF_PAGE_DIRECTORY		3
#define IVF_PAGE_LIST			4

#define IVF_DEFAULT_SAMPLE_RATE		256
#define IVF_DEFAULT_MAX_ITERATIONS	50
/* from this many lists on, scans choose lists with int8 centroids first */
#define IVF_COARSE_MIN_LISTS		32

/* Operator-class support procedures */
#define IVF_DISTANCE_PROC		1	/* exact distance, float8 */
#define IVF_TYPE_PROC			2	/* LanceTypeSupport * */
#define IVF_METRIC_PROC			3	/* LanceMetricSupport * */

/* Operator strategies */
#define IVF_ORDER_STRATEGY		1	/* ORDER BY col <op> query */
#define IVF_RANGE_STRATEGY		2	/* WHERE col <<op>> sphere */

/* Element type of the indexed column */
typedef enum LanceElemType
{
	LANCE_ELEM_VECTOR = 0,
	LANCE_ELEM_HALFVEC = 1,
	LANCE_ELEM_BIT = 2
} LanceElemType;

typedef struct LanceTypeSupport
{
	LanceElemType elemtype;
	int			maxdim;
	bool		multi;			/* an array of vectors: one entry per element */
} LanceTypeSupport;

typedef struct LanceMetricSupport
{
	QuantMetric qmetric;		/* how quantizers see the data */
	bool		normalize;		/* cosine: index unit vectors */
	bool		hamming;		/* bit vectors (flat only) */
	const char *name;
} LanceMetricSupport;

/* reloptions (WITH (...)) */
typedef struct IvfOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			lists;			/* 0 = choose from the row count */
	int			quantizer_offset;	/* string: flat | sq | pq | rq */
	int			num_sub_vectors;	/* pq; 0 = dim/16 (dim/8 if not divisible) */
	int			num_bits;		/* pq 4|8, rq 1..8; 0 = default */
	int			sample_rate;	/* training samples per list */
	int			max_iterations; /* k-means iterations */
} IvfOptions;

/* The meta page: everything a scan needs to find the rest. */
typedef struct IvfMetaPageData
{
	uint32		magic;
	uint32		version;
	uint64		build_id;		/* changes whenever the structure is rebuilt */
	uint16		dim;			/* dimensions (bits for bit vectors) */
	uint8		elemtype;		/* LanceElemType */
	uint8		qkind;			/* QuantKind actually used */
	uint8		configured_qkind;	/* QuantKind asked for in WITH */
	uint8		trained;		/* false: one exhaustive flat list */
	uint16		num_aux;
	uint32		code_size;
	uint32		nlists;
	BlockNumber quant_start;
	uint32		quant_len;		/* bytes */
	BlockNumber centroid_start;
	uint32		centroid_len;	/* bytes = nlists * dim * 4 */
	BlockNumber dir_start;		/* nlists IvfListInfo, contiguous pages */
	uint32		dir_pages;
	uint64		rows_built;		/* entries written by the build */
	/*
	 * Mean Euclidean distance of the training sample to its nearest
	 * centroid; maintenance compares a fresh sample of the table against
	 * it (centroid drift).  0 = unknown (untrained, or built before the
	 * field existed: the page bytes after the old struct were zero).
	 */
	double		mean_residual;
	/* 0 in indexes built before these fields existed (zero page bytes) */
	uint32		lists_built;	/* lists at build; splits and merges change
								 * nlists */
	uint32		rebalances;		/* in-place splits and merges since the build */
} IvfMetaPageData;

typedef IvfMetaPageData *IvfMetaPage;

/* Special space of every lance_ivf page */
typedef struct IvfPageOpaqueData
{
	BlockNumber next;			/* next page of the chain, or Invalid */
	uint32		list;			/* list number (list pages) */
	uint16		page_type;		/* IVF_PAGE_* */
	uint16		page_id;		/* IVF_PAGE_ID, identifies our pages */
} IvfPageOpaqueData;

typedef IvfPageOpaqueData *IvfPageOpaque;

#define IVF_PAGE_ID				0xFF8A
#define IvfPageGetOpaque(page)	((IvfPageOpaque) PageGetSpecialPointer(page))

/* One list in the directory */
typedef struct IvfListInfo
{
	BlockNumber head;			/* first page, Invalid when empty */
	BlockNumber tail;			/* last page */
	BlockNumber insert_page;	/* first page that may have room */
	uint32		count;			/* entries (live or not yet vacuumed) */
	uint32		inserted;		/* entries added by aminsert since the build */
	float		radius;			/* max Euclidean distance of a member from the
								 * centroid (unit vectors for cosine) */
} IvfListInfo;

/*
 * List page contents, after the page header: a small header, then
 * capacity slots laid out as arrays for the estimate kernels:
 * aux[capacity * num_aux] floats, the quantizer's code area for capacity
 * entries (quantizer_code_area_size; reached only through
 * quantizer_code_put/get/move), tids[capacity].
 */
typedef struct IvfListPageHeader
{
	uint16		nitems;
	uint16		capacity;
} IvfListPageHeader;

#define IVF_LIST_HDR_SIZE		MAXALIGN(sizeof(IvfListPageHeader))

typedef struct IvfListLayout
{
	const Quantizer *quant;		/* owns the code area; outlives the layout */
	int			capacity;
	int			code_size;
	int			num_aux;
	Size		aux_off;		/* offsets from the page start */
	Size		code_off;
	Size		tid_off;
	Size		end_off;
} IvfListLayout;

/* Settings (lancedb.*) */
typedef enum IvfIterativeScan
{
	IVF_ITERATIVE_OFF,
	IVF_ITERATIVE_RELAXED,
	IVF_ITERATIVE_STRICT
} IvfIterativeScan;

extern int	lancedb_nprobes;
extern int	lancedb_refine_factor;
extern int	lancedb_iterative_scan;
extern int	lancedb_max_probes;
extern int	lancedb_multivector_candidates;
extern bool lancedb_bypass_vector_index;
extern bool lancedb_fast_search;
extern bool lancedb_ivf_reuse_distances;
extern bool lancedb_ivf_defer_candidates;

/* ivf.c */
extern void IvfInit(void);
extern bytea *ivfoptions(Datum reloptions, bool validate);
extern QuantKind IvfOptionQuantizer(Relation index);

/* ivfutils.c */
extern void IvfListLayoutInit(IvfListLayout *layout, const Quantizer *quant);
extern Buffer IvfNewBuffer(Relation index, ForkNumber forknum);
extern bool IvfPageRecyclable(Page page);
extern void IvfRetirePage(Relation index, Buffer buf, TransactionId xid);
extern BlockNumber IvfRecyclePages(Relation index, BufferAccessStrategy bas);
extern void IvfInitPage(Page page, uint16 page_type, uint32 list);
extern void IvfInitListPage(Page page, uint32 list, const IvfListLayout *layout);
extern void IvfCheckPage(Relation index, Page page, BlockNumber blkno,
						 uint16 page_type);
extern int	IvfListPageItems(Relation index, Page page, BlockNumber blkno,
							 const IvfListLayout *lay);
extern IvfMetaPageData IvfReadMeta(Relation index);
extern void IvfCheckMeta(Relation index, const IvfMetaPageData *meta);
extern char *IvfReadBlob(Relation index, BlockNumber start, uint32 len);
extern IvfListInfo *IvfReadDirectory(Relation index, const IvfMetaPageData *meta);
extern IvfListInfo *IvfReadDirectoryN(Relation index, const IvfMetaPageData *meta,
									  BlockNumber *nblocks);
extern void IvfDirectoryLocate(uint32 list, BlockNumber dir_start,
							   BlockNumber *blkno, int *offset);
extern int	IvfDirEntriesPerPage(void);

/* ivfmeta cache: quantizer and centroids kept per backend */
typedef struct IvfIndexCache
{
	Oid			relid;
	RelFileNode node;
	uint64		build_id;
	MemoryContext mcxt;
	IvfMetaPageData meta;
	const LanceTypeSupport *type;
	const LanceMetricSupport *metric;
	Quantizer  *quant;
	float	   *centroids;		/* nlists x dim */
	struct CoarseCodes *coarse; /* int8 copy for choosing lists, or NULL */
	IvfListLayout layout;

	/*
	 * Per block of the index, the shared buffer that held it when this
	 * backend last read it as a list page (InvalidBuffer: none); a hint
	 * for ReadRecentBuffer, checked against the buffer's tag on every use.
	 */
	Buffer	   *recent;
	BlockNumber nrecent;
	int			pins;			/* running scans using this entry */
	bool		transient;		/* not in the cache: freed at xact end */
} IvfIndexCache;

extern IvfIndexCache *IvfGetCache(Relation index);
extern Buffer IvfReadListBuffer(Relation index, IvfIndexCache *c,
								BlockNumber blkno);
extern void IvfPinCache(IvfIndexCache *c);
extern void IvfUnpinCache(IvfIndexCache *c);
extern bool IvfCacheInUse(Oid relid);
extern const LanceTypeSupport *LanceGetTypeSupport(Relation index, uint16 procnum);
extern const LanceMetricSupport *LanceGetMetricSupport(Relation index, uint16 procnum);
struct Vector;
extern bool LanceValidateOpclass(Oid opclassoid, const char *amname, int maxproc);
extern Datum LanceQueryDatumFromCenter(const LanceTypeSupport *type,
									   const struct Vector *center);
extern float *LanceDatumToRows(Datum value, const LanceTypeSupport *type,
							   int *dim, int *nrows);
extern float *LanceDatumToFloats(Datum value, const LanceTypeSupport *type,
								 int *dim);
extern void LanceNormalize(float *x, int dim);
extern void *LanceQuantAlloc(size_t size);
extern void LanceQuantFree(void *ptr);
extern void LanceInterruptHook(void *arg);

/* ivfbuild.c */
extern IndexBuildResult *ivfbuild(Relation heap, Relation index,
								  IndexInfo *indexInfo);
extern void ivfbuildempty(Relation index);

/* ivfinsert.c */
extern bool ivfinsert(Relation index, Datum *values, bool *isnull,
					  ItemPointer heap_tid, Relation heap,
					  IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
					  bool indexUnchanged,
#endif
					  IndexInfo *indexInfo);
extern bool IvfAppendToList(Relation index, const IvfMetaPageData *meta,
							const IvfListLayout *layout, uint32 list,
							const uint8 *code, const float *aux,
							ItemPointer tid, float radius);
extern void IvfPutEntry(Page page, const IvfListLayout *layout, int slot,
						const uint8 *code, const float *aux, ItemPointer tid);

/* ivfscan.c */
extern IndexScanDesc ivfbeginscan(Relation index, int nkeys, int norderbys);
extern void ivfrescan(IndexScanDesc scan, ScanKey keys, int nkeys,
					  ScanKey orderbys, int norderbys);
extern bool ivfgettuple(IndexScanDesc scan, ScanDirection dir);
extern void ivfendscan(IndexScanDesc scan);

/* ivfvacuum.c */
extern IndexBulkDeleteResult *ivfbulkdelete(IndexVacuumInfo *info,
											IndexBulkDeleteResult *stats,
											IndexBulkDeleteCallback callback,
											void *callback_state);
extern IndexBulkDeleteResult *ivfvacuumcleanup(IndexVacuumInfo *info,
											   IndexBulkDeleteResult *stats);

/*
 * ivfrebalance.c: in-place list splits and merges (LIRE-style), for the
 * background worker (IvfMaintain) and lancedb.optimize().
 *
 * IvfRebalance does up to max_ops operations, largest list first: split
 * lists above lancedb.ivf_split_ratio x the mean list size, then merge
 * lists below lancedb.ivf_merge_ratio x the mean.  The caller holds
 * ShareUpdateExclusiveLock on the table (VACUUM and DDL wait) and at least
 * RowExclusiveLock on the index; queries and inserts run alongside.  Each
 * operation writes new pages (GenericXLog) and becomes visible by one WAL
 * record on the meta page while every directory page is locked for a few
 * milliseconds; a crash before that record leaves the index as it was.
 * Appends a summary to detail.
 */
extern double lancedb_ivf_split_ratio;
extern double lancedb_ivf_merge_ratio;
extern int	lancedb_ivf_rebalance_ops;
extern void IvfRebalance(Relation index, Relation heap, int max_ops,
						 struct StringInfoData *detail);

/* metric helpers shared by build, insert and scan */
extern float IvfCentroidDistance(const LanceMetricSupport *metric,
								 const float *x, const float *c, int dim);
extern uint32 IvfNearestList(const IvfIndexCache *cache, const float *x,
							 float *radius);

#endif							/* LANCEDB_IVF_H */
