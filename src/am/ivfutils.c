/*
 * ivfutils.c
 *	  lance_ivf page helpers: layouts, meta page, blobs, list directory, and
 *	  the per-backend cache of the quantizer and centroids.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/xact.h"
#include "am/ivf.h"
#include "am/pagerecycle.h"
#include "index/coarse.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/snapmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define IVF_PAGE_USABLE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(IvfPageOpaqueData)))

void
IvfListLayoutInit(IvfListLayout *layout, const Quantizer *quant)
{
	int			code_size = (int) quantizer_code_size(quant);
	int			num_aux = quantizer_num_aux(quant);
	Size		avail = IVF_PAGE_USABLE - IVF_LIST_HDR_SIZE;
	Size		per = sizeof(float) * num_aux + code_size + sizeof(ItemPointerData);
	int			cap = (int) (avail / per);
	Size		off;

	/* shrink until the arrays plus alignment padding fit */
	for (;;)
	{
		off = MAXALIGN(SizeOfPageHeaderData) + IVF_LIST_HDR_SIZE;
		layout->aux_off = off;
		off += sizeof(float) * num_aux * cap;
		layout->code_off = off;
		off += quantizer_code_area_size(quant, cap);
		off = SHORTALIGN(off);
		layout->tid_off = off;
		off += sizeof(ItemPointerData) * cap;
		if (off <= BLCKSZ - MAXALIGN(sizeof(IvfPageOpaqueData)) || cap <= 1)
			break;
		cap--;
	}
	layout->end_off = off;
	layout->quant = quant;
	layout->capacity = cap;
	layout->code_size = code_size;
	layout->num_aux = num_aux;
	if (cap < 1 || off > BLCKSZ - MAXALIGN(sizeof(IvfPageOpaqueData)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("lance_ivf entries of %d bytes do not fit in a page",
						code_size + (int) (sizeof(float) * num_aux)),
				 errhint("Use a quantizer with smaller codes (\"sq\", \"pq\" or \"rq\").")));
}

/*
 * A page nobody can reach any more: never initialised, or retired by
 * rebalancing (pd_prune_xid, unused otherwise on index pages, holds the
 * xid current at retirement) longer ago than any running snapshot, so no
 * scan that read the structure from before the retirement is still running.
 */
bool
IvfPageRecyclable(Page page)
{
	TransactionId xid;

	if (PageIsNew(page))
		return true;
	if (PageGetSpecialSize(page) != MAXALIGN(sizeof(IvfPageOpaqueData)) ||
		IvfPageGetOpaque(page)->page_id != IVF_PAGE_ID ||
		IvfPageGetOpaque(page)->page_type == IVF_PAGE_META)
		return false;
	xid = ((PageHeader) page)->pd_prune_xid;
	return TransactionIdIsNormal(xid) && GlobalVisCheckRemovableXid(NULL, xid);
}

/* Mark a page (exclusively locked by the caller) retired as of xid. */
void
IvfRetirePage(Relation index, Buffer buf, TransactionId xid)
{
	GenericXLogState *state = GenericXLogStart(index);
	Page		page = GenericXLogRegisterBuffer(state, buf, 0);

	((PageHeader) page)->pd_prune_xid = xid;
	GenericXLogFinish(state);
}

/*
 * Put recyclable pages in the free space map (VACUUM, and maintenance
 * before it rebalances); returns how many.  Like nbtree, the block count is
 * read under the extension lock, so every page below it has been locked by
 * its extender and a half-made new page is never taken for a free one.
 */
BlockNumber
IvfRecyclePages(Relation index, BufferAccessStrategy bas)
{
	BlockNumber nblocks;
	BlockNumber nfree = 0;

	LockRelationForExtension(index, ExclusiveLock);
	nblocks = RelationGetNumberOfBlocks(index);
	UnlockRelationForExtension(index, ExclusiveLock);
	for (BlockNumber blkno = IVF_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, bas);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		if (IvfPageRecyclable(BufferGetPage(buf)))
		{
			RecordFreeIndexPage(index, blkno);
			nfree++;
		}
		UnlockReleaseBuffer(buf);
	}
	IndexFreeSpaceMapVacuum(index);
	return nfree;
}

/*
 * A page for new contents, returned pinned and exclusively locked: a
 * recycled one from the free space map, else a new one at the end of the
 * index.  Callers initialise it and WAL-log it whole.  Reusing a retired
 * page first logs a recovery conflict with its retirement xid (nbtree does
 * the same when it reuses a deleted page), so that replay of the new
 * contents waits for, or cancels, standby queries that may still read it.
 */
Buffer
IvfNewBuffer(Relation index, ForkNumber forknum)
{
	Buffer		buf;

	if (forknum == MAIN_FORKNUM)
	{
		for (;;)
		{
			BlockNumber blkno = GetFreeIndexPage(index);

			if (blkno == InvalidBlockNumber)
				break;
			buf = ReadBuffer(index, blkno);
			/* someone else may have taken it meanwhile: check again */
			if (ConditionalLockBuffer(buf))
			{
				Page		page = BufferGetPage(buf);

				if (IvfPageRecyclable(page))
				{
					/* standby queries that may still read it: a conflict */
					if (!PageIsNew(page))
						LanceLogPageReuse(index, blkno,
										  LanceRecentFullXid(((PageHeader) page)->pd_prune_xid));
					return buf;
				}
				LockBuffer(buf, BUFFER_LOCK_UNLOCK);
			}
			ReleaseBuffer(buf);
		}
	}

	/* the extension lock serialises concurrent extenders */
	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, forknum, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

void
IvfInitPage(Page page, uint16 page_type, uint32 list)
{
	IvfPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(IvfPageOpaqueData));
	opaque = IvfPageGetOpaque(page);
	opaque->next = InvalidBlockNumber;
	opaque->list = list;
	opaque->page_type = page_type;
	opaque->page_id = IVF_PAGE_ID;
}

void
IvfInitListPage(Page page, uint32 list, const IvfListLayout *layout)
{
	IvfListPageHeader *hdr;

	IvfInitPage(page, IVF_PAGE_LIST, list);
	hdr = (IvfListPageHeader *) PageGetContents(page);
	hdr->nitems = 0;
	hdr->capacity = layout->capacity;
	/* the slot arrays are page contents: keep them out of the "hole" */
	((PageHeader) page)->pd_lower = layout->end_off;
}

/* Refuse a page that is not what the structure says it must be. */
void
IvfCheckPage(Relation index, Page page, BlockNumber blkno, uint16 page_type)
{
	IvfPageOpaque opaque;

	if (PageIsNew(page) ||
		PageGetSpecialSize(page) != MAXALIGN(sizeof(IvfPageOpaqueData)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" contains unexpected page at block %u",
						RelationGetRelationName(index), blkno)));
	opaque = IvfPageGetOpaque(page);
	if (opaque->page_id != IVF_PAGE_ID || opaque->page_type != page_type)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a page of type %u at block %u where type %u was expected",
						RelationGetRelationName(index), opaque->page_type,
						blkno, page_type)));
}

/* Check a (locked) list page and return its item count. */
int
IvfListPageItems(Relation index, Page page, BlockNumber blkno,
				 const IvfListLayout *lay)
{
	IvfListPageHeader *hdr;

	IvfCheckPage(index, page, blkno, IVF_PAGE_LIST);
	hdr = (IvfListPageHeader *) PageGetContents(page);
	if (hdr->nitems > lay->capacity || hdr->capacity != lay->capacity)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a list page with a bad item count at block %u",
						RelationGetRelationName(index), blkno)));
	return hdr->nitems;
}

void
IvfCheckMeta(Relation index, const IvfMetaPageData *meta)
{
	if (meta->magic != IVF_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a lance_ivf index",
						RelationGetRelationName(index))));
	if (meta->version != IVF_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lance_ivf index \"%s\" has format version %u; this library reads version %u",
						RelationGetRelationName(index), meta->version,
						IVF_FORMAT_VERSION),
				 errhint("REINDEX the index.")));
}

IvfMetaPageData
IvfReadMeta(Relation index)
{
	Buffer		buf;
	Page		page;
	IvfMetaPageData meta;

	buf = ReadBuffer(index, IVF_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	IvfCheckPage(index, page, IVF_METAPAGE_BLKNO, IVF_PAGE_META);
	memcpy(&meta, PageGetContents(page), sizeof(meta));
	UnlockReleaseBuffer(buf);
	IvfCheckMeta(index, &meta);
	return meta;
}

/* Blob pages: a uint32 byte count after the header, then the bytes. */
char *
IvfReadBlob(Relation index, BlockNumber start, uint32 len)
{
	char	   *out = palloc(Max(len, 1));
	uint32		done = 0;
	BlockNumber blkno = start;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	while (done < len)
	{
		Buffer		buf;
		Page		page;
		uint32		n;

		if (blkno == InvalidBlockNumber || blkno >= nblocks)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a truncated blob at block %u",
							RelationGetRelationName(index), start)));
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		IvfCheckPage(index, page, blkno, IVF_PAGE_BLOB);
		memcpy(&n, PageGetContents(page), sizeof(uint32));
		if (n > IVF_PAGE_USABLE - sizeof(uint32) || n > len - done)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a blob page of bad length at block %u",
							RelationGetRelationName(index), blkno)));
		memcpy(out + done, PageGetContents(page) + sizeof(uint32), n);
		done += n;
		blkno = IvfPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
		if (n == 0 && done < len)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has an empty blob page at block %u",
							RelationGetRelationName(index), blkno)));
	}
	return out;
}

int
IvfDirEntriesPerPage(void)
{
	return (int) ((IVF_PAGE_USABLE) / sizeof(IvfListInfo));
}

void
IvfDirectoryLocate(uint32 list, BlockNumber dir_start, BlockNumber *blkno,
				   int *offset)
{
	int			per = IvfDirEntriesPerPage();

	*blkno = dir_start + list / per;
	*offset = list % per;
}

IvfListInfo *
IvfReadDirectory(Relation index, const IvfMetaPageData *meta)
{
	BlockNumber nblocks;

	return IvfReadDirectoryN(index, meta, &nblocks);
}

/* The same, also giving the index size it read (for scans to reuse). */
IvfListInfo *
IvfReadDirectoryN(Relation index, const IvfMetaPageData *meta,
				  BlockNumber *nblocks_out)
{
	IvfListInfo *dir = palloc(sizeof(IvfListInfo) * Max(meta->nlists, 1));
	int			per = IvfDirEntriesPerPage();
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	for (uint32 p = 0; p < meta->dir_pages; p++)
	{
		BlockNumber blkno = meta->dir_start + p;
		uint32		first = p * per;
		uint32		n = Min((uint32) per, meta->nlists - first);
		Buffer		buf;
		Page		page;

		if (blkno >= nblocks)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" directory page %u is missing",
							RelationGetRelationName(index), blkno)));
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		IvfCheckPage(index, page, blkno, IVF_PAGE_DIRECTORY);
		memcpy(dir + first, PageGetContents(page), sizeof(IvfListInfo) * n);
		UnlockReleaseBuffer(buf);
	}
	*nblocks_out = nblocks;
	return dir;
}

/* ---- distances to centroids ---- */

/* Distance in the quantizers' space (squared L2, or -dot for IP). */
float
IvfCentroidDistance(const LanceMetricSupport *metric, const float *x,
					const float *c, int dim)
{
	if (metric->qmetric == QMETRIC_IP)
		return -lance_kernels->dot_f32(x, c, dim);
	return lance_kernels->l2sq_f32(x, c, dim);
}

/*
 * The list whose centroid is nearest (squared L2, which is how the lists
 * were trained for every metric); *radius gets the Euclidean distance.
 */
uint32
IvfNearestList(const IvfIndexCache *cache, const float *x, float *radius)
{
	int			dim = cache->meta.dim;
	uint32		best = 0;
	float		bestd = FLT_MAX;

	for (uint32 i = 0; i < cache->meta.nlists; i++)
	{
		float		d = lance_kernels->l2sq_f32(x, cache->centroids + (Size) i * dim, dim);

		if (d < bestd)
		{
			bestd = d;
			best = i;
		}
	}
	*radius = sqrtf(bestd);
	return best;
}

/* ---- per-backend cache ---- */

#define IVF_CACHE_SIZE 8

static IvfIndexCache *ivf_cache[IVF_CACHE_SIZE];
static int	ivf_cache_next = 0;
static bool ivf_xact_callback_registered = false;
static int	ivf_transient_live = 0; /* uncached entries, freed at xact end */

static void IvfCacheXactCallback(XactEvent event, void *arg);

static IvfIndexCache *
IvfLoadCache(Relation index, const IvfMetaPageData *meta)
{
	MemoryContext mcxt = AllocSetContextCreate(CacheMemoryContext,
											   "lance_ivf cache",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(mcxt);
	IvfIndexCache *c = palloc0(sizeof(IvfIndexCache));
	char	   *blob;
	QuantOptions qopts;
	const char *err = NULL;

	PG_TRY();
	{
		c->relid = RelationGetRelid(index);
		c->node = index->rd_node;
		c->build_id = meta->build_id;
		c->mcxt = mcxt;
		c->meta = *meta;
		c->type = LanceGetTypeSupport(index, IVF_TYPE_PROC);
		c->metric = LanceGetMetricSupport(index, IVF_METRIC_PROC);

		if (meta->dim < 1 || meta->nlists < 1 ||
			meta->centroid_len != (uint64) meta->nlists * meta->dim * sizeof(float))
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has an inconsistent meta page",
							RelationGetRelationName(index))));

		blob = IvfReadBlob(index, meta->quant_start, meta->quant_len);
		memset(&qopts, 0, sizeof(qopts));
		qopts.alloc = LanceQuantAlloc;
		qopts.release = LanceQuantFree;
		c->quant = quantizer_deserialize((const uint8 *) blob, meta->quant_len,
										 &qopts, &err);
		if (c->quant == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a corrupt quantizer: %s",
							RelationGetRelationName(index),
							err ? err : "unknown error")));
		if (quantizer_dim(c->quant) != meta->dim ||
			quantizer_code_size(c->quant) != meta->code_size ||
			quantizer_num_aux(c->quant) != meta->num_aux)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" quantizer does not match its meta page",
							RelationGetRelationName(index))));
		c->centroids = (float *) IvfReadBlob(index, meta->centroid_start,
											 meta->centroid_len);
		/* lets scans prepare each list without per-list transforms */
		if (!quantizer_attach_centroids(c->quant, c->centroids, meta->nlists))
			elog(ERROR, "lance_ivf: out of memory preparing centroids");
		/* below this many lists, measuring them all is as cheap */
		c->coarse = meta->nlists >= IVF_COARSE_MIN_LISTS ?
			coarse_build(c->centroids, meta->nlists, meta->dim, LanceQuantAlloc) : NULL;
		IvfListLayoutInit(&c->layout, c->quant);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(mcxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	return c;
}

/*
 * The cached quantizer and centroids of an index, reloaded when the index
 * was rebuilt (new relfilenode) or restructured (new build_id).
 */
IvfIndexCache *
IvfGetCache(Relation index)
{
	IvfMetaPageData meta = IvfReadMeta(index);
	IvfIndexCache *c;

	for (int i = 0; i < IVF_CACHE_SIZE; i++)
	{
		c = ivf_cache[i];
		if (c && c->relid == RelationGetRelid(index) &&
			RelFileNodeEquals(c->node, index->rd_node) &&
			c->build_id == meta.build_id)
		{
			/* counters move on every insert; the structure does not */
			c->meta = meta;
			return c;
		}
	}

	c = IvfLoadCache(index, &meta);

	if (!ivf_xact_callback_registered)
	{
		RegisterXactCallback(IvfCacheXactCallback, NULL);
		ivf_xact_callback_registered = true;
	}

	/* drop unpinned stale entries of the same index */
	for (int i = 0; i < IVF_CACHE_SIZE; i++)
	{
		if (ivf_cache[i] && ivf_cache[i]->relid == c->relid &&
			ivf_cache[i]->pins == 0)
		{
			MemoryContextDelete(ivf_cache[i]->mcxt);
			ivf_cache[i] = NULL;
		}
	}
	/* evict round-robin, never an entry a running scan still uses */
	for (int tries = 0; tries < IVF_CACHE_SIZE; tries++)
	{
		int			slot = ivf_cache_next;

		ivf_cache_next = (ivf_cache_next + 1) % IVF_CACHE_SIZE;
		if (ivf_cache[slot] == NULL || ivf_cache[slot]->pins == 0)
		{
			if (ivf_cache[slot])
				MemoryContextDelete(ivf_cache[slot]->mcxt);
			ivf_cache[slot] = c;
			return c;
		}
	}
	/* every slot pinned: hand out an uncached copy freed at transaction end */
	c->transient = true;
	ivf_transient_live++;
	MemoryContextSetParent(c->mcxt, TopTransactionContext);
	return c;
}

/*
 * Read (pin) a list page of the index.  A query reads dozens of list pages
 * and the buffer mapping lookup of each was a large share of its CPU time
 * at 128 dimensions; ReadRecentBuffer pins the buffer this backend found
 * the block in last time without that lookup when it still holds the
 * block (it compares the buffer's tag, so a stale hint, e.g. after REINDEX
 * or eviction, only costs the normal read).  Local buffers (temporary
 * indexes) take the normal path.
 */
Buffer
IvfReadListBuffer(Relation index, IvfIndexCache *c, BlockNumber blkno)
{
	Buffer		buf;

	if (RelationUsesLocalBuffers(index))
		return ReadBuffer(index, blkno);
	if (blkno < c->nrecent && BufferIsValid(c->recent[blkno]) &&
		ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, c->recent[blkno]))
	{
		/* what ReadBuffer counts for pg_statio_*_indexes */
		pgstat_count_buffer_read(index);
		pgstat_count_buffer_hit(index);
		return c->recent[blkno];
	}
	buf = ReadBuffer(index, blkno);
	if (blkno >= c->nrecent)
	{
		BlockNumber n = Max(Max(blkno + 1, 64), c->nrecent * 2);

		if (n > MaxAllocSize / sizeof(Buffer))
			return buf;
		/* InvalidBuffer is 0: zeroed entries are "no hint" */
		if (c->recent == NULL)
			c->recent = MemoryContextAllocZero(c->mcxt, n * sizeof(Buffer));
		else
		{
			c->recent = repalloc(c->recent, n * sizeof(Buffer));
			memset(c->recent + c->nrecent, 0, (n - c->nrecent) * sizeof(Buffer));
		}
		c->nrecent = n;
	}
	c->recent[blkno] = buf;
	return buf;
}

/* Scans pin the entry they use so that eviction cannot free it. */
void
IvfPinCache(IvfIndexCache *c)
{
	c->pins++;
}

void
IvfUnpinCache(IvfIndexCache *c)
{
	if (c->pins > 0)
		c->pins--;
}

/*
 * Does a scan of this backend use a view of the index (any build id)?
 * Entries outside the cache (all slots pinned) count as in use.
 */
bool
IvfCacheInUse(Oid relid)
{
	if (ivf_transient_live > 0)
		return true;
	for (int i = 0; i < IVF_CACHE_SIZE; i++)
		if (ivf_cache[i] && ivf_cache[i]->relid == relid && ivf_cache[i]->pins > 0)
			return true;
	return false;
}

/* Scans never outlive their transaction: forget their pins at its end. */
static void
IvfCacheXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
	{
		ivf_transient_live = 0;
		for (int i = 0; i < IVF_CACHE_SIZE; i++)
			if (ivf_cache[i])
				ivf_cache[i]->pins = 0;
	}
}
