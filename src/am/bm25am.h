/*
 * bm25am.h
 *	  lance_bm25: a BM25 full-text index access method (LanceDB's analyzer
 *	  options and FtsQuery model) over the codec in src/index/postings.c and
 *	  the evaluators in src/index/bm25.c.
 *
 * Page layout (every page through the buffer manager, WAL-logged with
 * GenericXLog; new pages are logged as full images):
 *	  block 0		meta page: counters, the analyzer options stream, the
 *					delta chain and the segment directory (BM25_MAX_SEGMENTS)
 *	  stream pages	a "stream" is a logical byte array: a root page lists map
 *					pages, map pages list data pages, data pages hold
 *					BM25_PAGE_DATA bytes each.  Segments, their deletion
 *					bitmaps and the analyzer options are streams.
 *	  delta pages	a chain of pages of doc records (one item per doc: TID,
 *					length, terms with tf and positions) for recent inserts
 *	  free pages	recycled by VACUUM, reused through the FSM
 *
 * Every page's special space names the segment (or delta) that owns it,
 * so VACUUM recycles pages whose owner is no longer in the meta page
 * (merged segments, abandoned merges after a crash).
 *
 * Segment stream (immutable once written; integers little-endian):
 *	  Bm25SegHeader
 *	  dictionary	nterms x Bm25DictEntry, sorted by term bytes (prefix and
 *					fuzzy expansion walk it in order)
 *	  strings		term bytes
 *	  postings		one posting_encode() list per term (doc ids local to the
 *					segment, tfs, optional positions, block max tf/min dl)
 *	  doclens		ndocs x uint32: exact token counts
 *	  tids			ndocs x ItemPointerData: local doc id -> heap TID
 *
 * Locking: the heavyweight lock BM25_LOCK_STRUCT (a page lock on block 0) is
 * held in share mode by every scan, insert and merge for as long as they may
 * read pages of segments they found in the meta page; VACUUM recycles pages
 * only under it in exclusive mode (conditionally), so pages never change
 * owner under a reader.  BM25_LOCK_MERGE (a page lock on block 1)
 * serialises merges, delta flushes into segments and bulk deletes (a merge
 * must not copy a doc a concurrent bulk delete is removing).  The meta
 * page's buffer lock orders inserts into the delta and directory switches.
 */
#ifndef LANCEDB_BM25AM_H
#define LANCEDB_BM25AM_H

#include "postgres.h"

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "lancedb.h"
#include "nodes/execnodes.h"
#include "storage/bufmgr.h"
#include "text/analyzer.h"
#include "utils/relcache.h"

#define BM25_MAGIC				0x4C424D32	/* "LBM2" */
#define BM25_FORMAT_VERSION		1
#define BM25_SEG_MAGIC			0x4C534547	/* "LSEG" */
#define BM25_METAPAGE_BLKNO		0

#define BM25_PAGE_META			1
#define BM25_PAGE_ROOT			2
#define BM25_PAGE_MAP			3
#define BM25_PAGE_DATA			4
#define BM25_PAGE_DELTA			5
#define BM25_PAGE_FREE			6

#define BM25_PAGE_ID			0xFF8B

/* heavyweight page locks used as structure locks (see above) */
#define BM25_LOCK_STRUCT		0
#define BM25_LOCK_MERGE			1

#define BM25_MAX_SEGMENTS		64
#define BM25_DELTA_MAX_DOCS		128 /* flush the delta into a segment */
#define BM25_MERGE_FACTOR		4	/* tiered: merge 4 segments of a tier */
#define BM25_TIER_BASE			128 /* docs of a tier-0 segment */

/* opclass strategies */
#define BM25_ORDER_STRATEGY		1	/* ORDER BY col <&> query */
#define BM25_MATCH_STRATEGY		2	/* WHERE col @@@ query */

/* Special space of every lance_bm25 page */
typedef struct Bm25PageOpaqueData
{
	BlockNumber next;			/* delta chain */
	uint32		owner;			/* segment / stream / delta id; 0: meta */
	uint16		page_type;
	uint16		page_id;
} Bm25PageOpaqueData;

typedef Bm25PageOpaqueData *Bm25PageOpaque;

#define Bm25PageGetOpaque(page) ((Bm25PageOpaque) PageGetSpecialPointer(page))

#define BM25_PAGE_USABLE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(Bm25PageOpaqueData)))
/* data bytes of one stream data page */
#define BM25_PAGE_DATA_BYTES	BM25_PAGE_USABLE
/* block numbers on a root or map page (after a uint32 count / uint64 len) */
#define BM25_MAP_ENTRIES		((BM25_PAGE_USABLE - 16) / sizeof(BlockNumber))

/* One immutable segment in the directory */
typedef struct Bm25SegmentInfo
{
	uint32		seg_id;			/* owner id of its pages */
	uint32		ndocs;			/* docs in the segment, deleted included */
	uint32		ndeleted;		/* bits set in the deletion bitmap */
	uint32		tier;			/* merge tier */
	BlockNumber root;			/* segment stream */
	BlockNumber dead_root;		/* deletion bitmap stream (ceil(ndocs/8)) */
	uint32		dead_id;		/* owner id of the bitmap's pages */
	uint32		pad;
	uint64		len;			/* segment stream bytes */
	uint64		total_len;		/* sum of the docs' lengths */
} Bm25SegmentInfo;

typedef struct Bm25MetaPageData
{
	uint32		magic;
	uint32		version;
	uint32		flags;			/* BM25_META_POSITIONS */
	uint32		next_id;		/* next owner id to hand out */
	uint64		ndocs;			/* live docs (N of BM25) */
	uint64		total_len;		/* sum of live docs' lengths */
	uint64		opts_len;		/* analyzer options stream */
	BlockNumber opts_root;
	uint32		opts_id;
	/* delta: recent docs as records on a page chain */
	uint32		delta_id;
	BlockNumber delta_head;
	BlockNumber delta_tail;
	uint32		delta_ndocs;	/* records, deleted included */
	uint32		delta_ndeleted;
	uint32		nsegments;
	uint64		inserted;		/* docs added by aminsert since the build */
	uint64		merges;			/* merges done */
	Bm25SegmentInfo segs[BM25_MAX_SEGMENTS];
	/*
	 * Next full xid when the directory last dropped an owner (a merge's
	 * inputs, a flushed delta); 0 in indexes built before it existed.
	 * VACUUM recycles pages of dropped owners only once no snapshot is
	 * older (see bm25vacuum.c).
	 */
	uint64		drop_xid;
} Bm25MetaPageData;

#define BM25_META_POSITIONS		0x01

StaticAssertDecl(sizeof(Bm25MetaPageData) <= BM25_PAGE_USABLE,
				 "lance_bm25 meta page too large");

/* Segment stream header */
typedef struct Bm25SegHeader
{
	uint32		magic;
	uint32		version;
	uint32		ndocs;
	uint32		nterms;
	uint32		flags;			/* BM25_META_POSITIONS */
	uint32		pad;
	uint64		total_len;
	uint64		dict_off;
	uint64		strings_off;
	uint64		strings_len;
	uint64		post_off;
	uint64		post_len;
	uint64		doclen_off;
	uint64		tid_off;
} Bm25SegHeader;

typedef struct Bm25DictEntry
{
	uint64		post_off;		/* from the header's post_off */
	uint32		post_len;
	uint32		str_off;		/* from strings_off */
	uint32		str_len;
	uint32		df;
} Bm25DictEntry;

/* Delta record (one page item) header; terms follow */
typedef struct Bm25DeltaRecord
{
	ItemPointerData tid;
	uint8		deleted;
	uint8		pad;
	uint32		doclen;
	uint32		nterms;
	/* per term: uint16 len, bytes, uint32 tf, tf x uint32 positions */
} Bm25DeltaRecord;

/* reloptions */
typedef struct Bm25Options
{
	int32		vl_len_;
	int			base_tokenizer_offset;
	int			language_offset;
	bool		with_position;
	int			max_token_length;
	bool		lower_case;
	bool		stem;
	bool		remove_stop_words;
	int			stop_words_offset;
	bool		ascii_folding;
	int			ngram_min_length;
	int			ngram_max_length;
	bool		prefix_only;
} Bm25Options;

/* ---------- streams (bm25store.c) ---------- */

typedef struct Bm25StreamWriter
{
	Relation	index;
	uint32		owner;
	char	   *page;			/* current data page contents */
	uint32		used;
	uint64		len;
	BlockNumber *blocks;		/* data pages written */
	uint32		nblocks;
	uint32		cap;
} Bm25StreamWriter;

typedef struct Bm25Stream
{
	Relation	index;
	uint32		owner;
	BlockNumber root;
	uint64		len;
	uint32		nmap;
	BlockNumber *mapblocks;
	BlockNumber **maps;			/* loaded lazily */
	Buffer		buf;			/* last data page, kept pinned */
	BlockNumber bufblk;
} Bm25Stream;

extern void Bm25InitPage(Page page, uint16 page_type, uint32 owner);
extern void Bm25CheckPage(Relation index, Page page, BlockNumber blkno,
						  uint16 page_type, uint32 owner);
extern Buffer Bm25NewBuffer(Relation index);
extern void Bm25WriteNewPage(Relation index, uint16 type, uint32 owner,
							 const char *data, Size len, BlockNumber *blkno);

extern void Bm25StreamWriterInit(Bm25StreamWriter *w, Relation index, uint32 owner);
extern void Bm25StreamWrite(Bm25StreamWriter *w, const void *data, Size len);
extern void Bm25StreamWriteZeros(Bm25StreamWriter *w, Size len);
extern BlockNumber Bm25StreamFinish(Bm25StreamWriter *w, uint64 *len);

extern void Bm25StreamOpen(Bm25Stream *s, Relation index, BlockNumber root,
						   uint32 owner, uint64 len);
extern void Bm25StreamRead(Bm25Stream *s, uint64 off, void *dst, Size len);
extern void Bm25StreamClose(Bm25Stream *s);
/* Locate a byte for an in-place update (deletion bitmaps). */
extern BlockNumber Bm25StreamLocate(Bm25Stream *s, uint64 off, uint32 *pageoff);

/* ---------- meta (bm25store.c) ---------- */
extern void Bm25ReadMeta(Relation index, Bm25MetaPageData *meta);
extern void Bm25MetaNoteDrop(Page metapage);
extern void Bm25CheckMeta(Relation index, const Bm25MetaPageData *meta);
extern void Bm25CorruptError(Relation index, const char *what) pg_attribute_noreturn();

/* ---------- in-memory inverter and segment writer (bm25build.c) ---------- */

typedef struct Bm25InvTerm
{
	char	   *term;
	uint32		len;
	uint32		hash;
	uint32		ndocs;
	uint32		cap;
	uint32	   *docs;
	uint32	   *tfs;
	uint32		npos;
	uint32		poscap;
	uint32	   *pos;
} Bm25InvTerm;

typedef struct Bm25Inverter
{
	MemoryContext mcxt;
	bool		positions;
	Bm25InvTerm **slots;		/* open addressing */
	uint32		nslots;
	uint32		nterms;
	uint32		ndocs;
	uint32		doccap;
	uint32	   *doclens;
	ItemPointerData *tids;
	uint64		total_len;
	Size		mem;			/* rough bytes used */
} Bm25Inverter;

extern Bm25Inverter *Bm25InverterCreate(bool positions);
extern void Bm25InverterFree(Bm25Inverter *inv);
extern void Bm25InverterAddDoc(Bm25Inverter *inv, ItemPointer tid,
							   const LanceTokenArray *toks, uint32 doclen);
extern void Bm25InverterAddTerm(Bm25Inverter *inv, uint32 doc,
								const char *term, uint32 len, uint32 tf,
								const uint32 *pos);
extern uint32 Bm25InverterNewDoc(Bm25Inverter *inv, ItemPointer tid, uint32 doclen);
extern Bm25InvTerm *Bm25InverterLookup(Bm25Inverter *inv, const char *term, uint32 len);
extern Bm25InvTerm **Bm25InverterSorted(Bm25Inverter *inv);
extern uint8 *Bm25InvTermEncode(Bm25Inverter *inv, Bm25InvTerm *t, size_t *len);

/* Write inv as a segment; fills info (seg ids from the meta page). */
extern void Bm25WriteSegment(Relation index, Bm25Inverter *inv,
							 Bm25SegmentInfo *info, uint32 tier, uint32 first_id);
extern uint32 Bm25TierOf(uint32 ndocs);
extern uint32 Bm25AllocIds(Relation index, int n);

/* ---------- analysis helpers (bm25func.c) ---------- */
extern LanceAnalyzer *Bm25GetAnalyzer(Relation index, bool for_prefix);
extern void Bm25OptionsFromReloptions(Relation index, LanceAnalyzerOptions *opts);
extern uint32 Bm25AnalyzeDatum(LanceAnalyzer *an, Datum value, Oid typid,
							   LanceTokenArray *out);
extern void *Bm25Palloc(size_t size);
extern void Bm25Pfree(void *ptr);

/* ---------- segments for reading (bm25seg.c) ---------- */

typedef struct Bm25SegReader
{
	bool		in_memory;		/* the delta, inverted at scan start */
	bool		shared_inv;		/* inv belongs to the per-backend delta cache */
	Bm25SegmentInfo info;
	Bm25SegHeader hdr;
	Bm25Stream	s;
	Bm25Stream	dead;
	Bm25Inverter *inv;			/* delta */
	Bm25InvTerm **sorted;		/* delta terms in order, built on demand */
	void	   *cache;			/* per-backend Bm25SegCache (disk segments) */
	uint32		iter_pos;		/* term iterator position */
	char	   *iter_buf;
	uint32		iter_cap;
} Bm25SegReader;

extern void Bm25SegOpen(Bm25SegReader *r, Relation index, const Bm25SegmentInfo *info);
extern void Bm25SegOpenDelta(Bm25SegReader *r, Relation index,
							 const Bm25MetaPageData *meta);
extern void Bm25SegClose(Bm25SegReader *r);
extern void Bm25ForgetCaches(Relation index);
extern void Bm25ForgetBlocks(void);
extern int64 Bm25SegFind(Bm25SegReader *r, const char *term, uint32 len,
						 Bm25DictEntry *e);
extern uint8 *Bm25SegPostings(Bm25SegReader *r, const char *term, uint32 len,
							  size_t *plen, uint32 *df);
extern uint32 Bm25SegDocLen(Bm25SegReader *r, uint32 doc);
extern uint32 Bm25SegDf(Bm25SegReader *r, const char *term, uint32 len);
extern void Bm25SegTid(Bm25SegReader *r, uint32 doc, ItemPointer tid);
extern bool Bm25SegAlive(Bm25SegReader *r, uint32 doc);
extern bool Bm25SegHasPositions(Bm25SegReader *r);
extern void Bm25SegTermIter(Bm25SegReader *r, void *iter);

/* ---------- insert (bm25insert.c) ---------- */
extern bool bm25insert(Relation index, Datum *values, bool *isnull,
					   ItemPointer heap_tid, Relation heap,
					   IndexUniqueCheck checkUnique, bool indexUnchanged,
					   IndexInfo *indexInfo);
extern void Bm25FlushDelta(Relation index);
extern bool Bm25FlushDeltaLocked(Relation index, uint32 min_docs);

/* ---------- merges and their policies (bm25merge.c) ---------- */
extern int	lancedb_bm25_insert_merge_limit;
extern double lancedb_bm25_purge_fraction;
extern void Bm25MergeInit(void);
extern void Bm25MergeSegments(Relation index, const uint32 *seg_ids, int n);
extern void Bm25MaybeMerge(Relation index);

/* ---------- build (bm25build.c) ---------- */
extern IndexBuildResult *bm25build(Relation heap, Relation index,
								   IndexInfo *indexInfo);
extern void bm25buildempty(Relation index);

/* ---------- scan (bm25scan.c) ---------- */
typedef struct Bm25Tokens
{
	int			n;
	char	  **tok;
	uint32	   *len;
	uint32	   *pos;
} Bm25Tokens;

typedef struct Bm25Expansion
{
	char	   *term;
	uint32		len;
	int			distance;
} Bm25Expansion;

typedef struct Bm25ExpandCtx
{
	Bm25Expansion *items;
	int			n;
	int			cap;
} Bm25ExpandCtx;

struct FtsNode;
extern struct FtsNode *Bm25ParseQuery(Datum query, Oid typid);
extern void Bm25AnalyzeQuery(LanceAnalyzer *an, const char *text, bool dedup,
							 Bm25Tokens *out);
/* fuzzy / prefix expansion of one analysed token over all segments */
extern void Bm25Expand(Bm25SegReader *segs, int nsegs, const char *tok,
					   uint32 len, int fuzziness, bool prefix,
					   uint32 prefix_length, uint32 max_expansions,
					   Bm25ExpandCtx *out);
extern IndexScanDesc bm25beginscan(Relation index, int nkeys, int norderbys);
extern void bm25rescan(IndexScanDesc scan, ScanKey keys, int nkeys,
					   ScanKey orderbys, int norderbys);
extern bool bm25gettuple(IndexScanDesc scan, ScanDirection dir);
extern int64 bm25getbitmap(IndexScanDesc scan, TIDBitmap *tbm);
extern void bm25endscan(IndexScanDesc scan);
extern bool Bm25LastScore(Datum query, Oid typid, double *score);

/* ---------- operators outside index scans (bm25filter.c) ---------- */
extern void Bm25FilterInit(void);
extern bool Bm25FilterScore(FunctionCallInfo fcinfo, Oid qtype, double *score);

/* ---------- vacuum (bm25vacuum.c) ---------- */
extern IndexBulkDeleteResult *bm25bulkdelete(IndexVacuumInfo *info,
											 IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback,
											 void *callback_state);
extern IndexBulkDeleteResult *bm25vacuumcleanup(IndexVacuumInfo *info,
												IndexBulkDeleteResult *stats);

/* ---------- stats (bm25func.c), handler (bm25am.c) ---------- */
extern void Bm25StatsJson(Relation index, StringInfo buf);
extern void Bm25Init(void);
extern bytea *bm25options(Datum reloptions, bool validate);

#endif							/* LANCEDB_BM25AM_H */
