/*
 * hnsw.h
 *	  lance_hnsw: an HNSW graph index access method (LanceDB's HNSW,
 *	  HNSW_SQ and HNSW_PQ) over the shared quantizers in src/index/ and
 *	  the graph algorithms in src/index/hnsw_graph.c.
 *
 * Page layout (all pages through the buffer manager, WAL-logged):
 *	  block 0				meta page: format, parameters, entry point
 *	  quantizer blob		serialised Quantizer (sq, pq), contiguous pages
 *	  element pages			one item per indexed row (HnswElementTuple):
 *							flags, level, heap TID, the vector (float32 or
 *							float16) or its code, then fixed neighbour
 *							slots for every level of the element
 *
 * An element never moves and never changes size, so neighbour lists are
 * updated in place (aminsert, VACUUM) and an element is addressed by its
 * item pointer.  An element whose row died is first a tombstone (DELETED:
 * traversed for connectivity, never returned, never takes an ef_search
 * slot); once the neighbour lists that pointed to it are repaired
 * (REPAIRED: by the maintenance worker, or by VACUUM itself) VACUUM frees
 * it (FREE: skipped by searches) and puts its page on the free list, where
 * a later insert of the same or a lower level reuses the item in place.
 */
#ifndef LANCEDB_HNSW_H
#define LANCEDB_HNSW_H

#include "postgres.h"

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "am/ivf.h"
#include "index/hnsw_graph.h"
#include "index/quantizer.h"
#include "lib/stringinfo.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

#define HNSW_MAGIC				0x4C484E57	/* "LHNW" */
#define HNSW_FORMAT_VERSION		1
#define HNSW_METAPAGE_BLKNO		0

#define HNSW_PAGE_META			1
#define HNSW_PAGE_BLOB			2
#define HNSW_PAGE_ELEMENT		3
#define HNSW_PAGE_ID			0xFF8B

#define HNSW_DEFAULT_M				20
#define HNSW_DEFAULT_EF_CONSTRUCTION 64
#define HNSW_DEFAULT_EF_SEARCH		40

/* reloptions */
typedef struct HnswOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			m;
	int			ef_construction;
	int			quantizer;		/* QuantKind: none (flat) | sq | pq */
	int			num_sub_vectors;	/* pq; 0 = dim/4 (rounded) */
} HnswOptions;

typedef struct HnswMetaPageData
{
	uint32		magic;
	uint32		version;
	uint64		build_id;
	uint16		dim;
	uint8		elemtype;		/* LanceElemType */
	uint8		qkind;			/* QUANT_FLAT: vectors stored as they are */
	uint16		m;
	uint16		ef_construction;
	uint32		data_size;		/* bytes of an element's vector or code */
	BlockNumber quant_start;
	uint32		quant_len;
	BlockNumber entry_blkno;	/* Invalid: empty graph */
	OffsetNumber entry_offno;
	int16		entry_level;
	BlockNumber insert_page;	/* last element page, appended to */
	uint64		rows_built;
	BlockNumber free_head;		/* first page with free elements; Invalid
								 * (or 0, older indexes): none */
	uint32		unused;
	uint64		n_free;			/* free (reusable) elements */
	uint64		n_repaired;		/* tombstones repaired, waiting for VACUUM */
	uint64		dead_seen;		/* table's n_dead_tup at the last repair */
} HnswMetaPageData;

/*
 * Element pages on the free list chain through their opaque `next`:
 * Invalid = not on the list, HNSW_FREE_LIST_END = last on it.
 */
#define HNSW_FREE_LIST_END		HNSW_METAPAGE_BLKNO

static inline bool
HnswFreeHeadValid(BlockNumber b)
{
	return b != InvalidBlockNumber && b != HNSW_METAPAGE_BLKNO;
}

typedef struct HnswPageOpaqueData
{
	BlockNumber next;			/* blob chains */
	uint16		page_type;
	uint16		page_id;
} HnswPageOpaqueData;

typedef HnswPageOpaqueData *HnswPageOpaque;
#define HnswPageGetOpaque(page) ((HnswPageOpaque) PageGetSpecialPointer(page))

/* A neighbour slot: element address and its distance as float16 */
typedef struct HnswSlot
{
	BlockIdData blk;			/* InvalidBlockNumber: empty slot */
	OffsetNumber off;
	uint16		dist16;
} HnswSlot;

#define HNSW_ELEM_DELETED		0x01	/* row is dead: never returned */
#define HNSW_ELEM_FREE			0x02	/* reclaimed: skipped, reusable */
#define HNSW_ELEM_REPAIRED		0x04	/* dead, in-neighbours repaired */

typedef struct HnswElementTupleData
{
	uint8		flags;
	uint8		level;
	uint16		unused;
	ItemPointerData heaptid;
	uint16		unused2;
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* data_size bytes, then slots */
} HnswElementTupleData;

typedef HnswElementTupleData *HnswElementTuple;

#define HNSW_ELEM_HDR			offsetof(HnswElementTupleData, data)
#define HNSW_SLOTS_OFFSET(data_size)	(HNSW_ELEM_HDR + INTALIGN(data_size))
#define HNSW_ELEM_SIZE(data_size, m, level) \
	(HNSW_SLOTS_OFFSET(data_size) + sizeof(HnswSlot) * hnsw_total_slots(m, level))
#define HnswElementSlots(tup, data_size) \
	((HnswSlot *) ((char *) (tup) + HNSW_SLOTS_OFFSET(data_size)))

/* Per-backend description of an index: meta, types, quantizer. */
typedef struct HnswIndexInfo
{
	Oid			relid;
	RelFileNode node;
	uint64		build_id;
	MemoryContext mcxt;
	HnswMetaPageData meta;		/* as at load time: entry point may move */
	const LanceTypeSupport *type;
	const LanceMetricSupport *metric;
	Quantizer  *quant;			/* NULL for none */
	int			code_size;
	int			num_aux;
} HnswIndexInfo;

/* Distance context: one query against elements */
typedef struct HnswQuery
{
	const HnswIndexInfo *info;
	float	   *q;				/* query, normalised for cosine */
	QuantQuery *qq;				/* quantized indexes */
	float	   *work;			/* dim floats */
} HnswQuery;

extern int	lancedb_ef_search;
extern int	lancedb_max_scan_tuples;

/* hnsw.c */
extern void HnswInit(void);
extern bytea *hnswoptions(Datum reloptions, bool validate);

/* hnswutils.c */
extern void HnswInitPage(Page page, uint16 page_type);
extern Buffer HnswNewBuffer(Relation index);
extern void HnswCheckPage(Relation index, Page page, BlockNumber blkno,
						  uint16 page_type);
extern HnswMetaPageData HnswReadMeta(Relation index);
extern HnswIndexInfo *HnswGetInfo(Relation index);
extern int	HnswDataSize(LanceElemType elemtype, int dim, QuantKind qkind,
						 const Quantizer *quant);
extern void HnswEncode(const HnswIndexInfo *info, const float *x, char *data);
extern void HnswDecode(const HnswIndexInfo *info, const char *data, float *out);
extern void HnswQueryInit(HnswQuery *hq, const HnswIndexInfo *info,
						  const float *q);
extern float HnswQueryDistance(HnswQuery *hq, const char *data);
extern float HnswQueryDistanceBound(HnswQuery *hq, const char *data, float *lower);
extern HnswElementTuple HnswGetElement(Relation index, Page page,
									   BlockNumber blkno, OffsetNumber off,
									   int data_size, int m);
extern float *HnswValueToFloats(const HnswIndexInfo *info, Datum value,
								bool *indexable);
extern double HnswSqlDistance(const LanceMetricSupport *metric, double internal);
extern double HnswInternalFromSql(const LanceMetricSupport *metric, double v);
extern float HnswExactDistance(const LanceMetricSupport *metric,
							   const float *a, const float *b, int dim);

static inline HnswKey
HnswKeyFromTid(BlockNumber blk, OffsetNumber off)
{
	return ((HnswKey) blk << 16) | off;
}

static inline BlockNumber
HnswKeyBlock(HnswKey k)
{
	return (BlockNumber) (k >> 16);
}

static inline OffsetNumber
HnswKeyOffset(HnswKey k)
{
	return (OffsetNumber) (k & 0xFFFF);
}

/* hnswinsert.c: linking one element into the on-disk graph */
extern bool hnswinsert(Relation index, Datum *values, bool *isnull,
					   ItemPointer heap_tid, Relation heap,
					   IndexUniqueCheck checkUnique,
					   bool indexUnchanged,
					   IndexInfo *indexInfo);
extern void HnswInsertVector(Relation index, HnswIndexInfo *info,
							 const float *x, ItemPointer heaptid);

/* hnswsearch.c: searching the on-disk graph */
typedef struct HnswDiskSearch HnswDiskSearch;
extern HnswDiskSearch *HnswDiskSearchBegin(Relation index, HnswIndexInfo *info,
										   const float *q);
extern int	HnswDiskSearchRun(HnswDiskSearch *ds, int ef, int min_level,
							  HnswCandidate *out, int *top_level);
extern bool HnswDiskHeapTid(HnswDiskSearch *ds, HnswKey key, ItemPointer tid);
extern float HnswDiskLower(HnswDiskSearch *ds, HnswKey key);
extern int64 HnswDiskSearchVisited(HnswDiskSearch *ds);
extern void HnswDiskSearchReset(HnswDiskSearch *ds);
extern void HnswDiskSearchEnd(HnswDiskSearch *ds);
extern int	HnswDiskLevelSearch(HnswDiskSearch *ds, HnswCandidate *entries,
								int nentries, int ef, int level,
								HnswCandidate *out);
extern int	HnswDiskEntry(HnswDiskSearch *ds, HnswCandidate *entry);
extern Buffer HnswReadBufferCached(Relation index, BlockNumber blk);

/* hnswbuild.c */
extern IndexBuildResult *hnswbuild(Relation heap, Relation index,
								   IndexInfo *indexInfo);
extern void hnswbuildempty(Relation index);

/* hnswscan.c */
extern IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys);
extern void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys,
					   ScanKey orderbys, int norderbys);
extern bool hnswgettuple(IndexScanDesc scan, ScanDirection dir);
extern void hnswendscan(IndexScanDesc scan);

/* hnswvacuum.c */
extern IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info,
											 IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback,
											 void *callback_state);
extern IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info,
												IndexBulkDeleteResult *stats);

/*
 * hnswrepair.c: rewiring the graph around dead elements (VACUUM and the
 * maintenance worker).  A HnswDeadSet holds dead elements with a copy of
 * their neighbour lists.
 */
typedef struct HnswDeadSet HnswDeadSet;
extern HnswDeadSet *HnswDeadSetCreate(const HnswIndexInfo *info,
									  BlockNumber nblocks);
extern void HnswDeadSetAdd(HnswDeadSet *set, HnswKey key,
						   HnswElementTuple tup, bool needs_repair);
extern int64 HnswDeadSetCount(HnswDeadSet *set);
extern bool HnswDeadSetContains(HnswDeadSet *set, HnswKey key);
extern void HnswMarkDeleted(Relation index, const HnswIndexInfo *info,
							BlockNumber blk, const OffsetNumber *offs, int n,
							uint8 flags, BufferAccessStrategy strategy);
extern void HnswMoveEntryOffDead(Relation index, HnswDeadSet *set,
								 HnswKey best_live, int best_level);
extern int64 HnswRepairDead(Relation index, const HnswIndexInfo *info,
							HnswDeadSet *set);

/*
 * Inserts hold this heavyweight page lock (ShareLock) while they link an
 * element; VACUUM takes it exclusively, once, before freeing tombstones,
 * so no insert that may still link to one is in flight.
 */
#define HNSW_INSERT_LOCK		HNSW_METAPAGE_BLKNO

extern double lancedb_hnsw_repair_threshold;

/* hnswstats.c */
extern void HnswStatsJson(Relation index, StringInfo buf);

#endif							/* LANCEDB_HNSW_H */
