/*
 * ivfrebalance.c
 *	  In-place rebalancing of lance_ivf lists, after SPFresh's LIRE:
 *
 *	  split  a list grown past lancedb.ivf_split_ratio x the mean list is
 *	         cut in two by 2-means on its exact vectors (read from the
 *	         table); one centroid replaces the old, the other becomes a new
 *	         list.  A few Lloyd iterations over the split list and its
 *	         IVF_SPLIT_NEIGHBORS nearest lists re-centre the region, then
 *	         every entry of those lists goes to its nearest centroid among
 *	         them (LIRE's reassign, widened: the neighbours' centroids moved
 *	         too).
 *	  merge  a list below lancedb.ivf_merge_ratio x the mean is dissolved:
 *	         each entry goes to its nearest other list, the centroid is
 *	         removed (the last list takes its number).
 *	  Moved entries are re-encoded against their new centroid (residual
 *	  quantizers) from the exact vector.
 *
 * Concurrency and crash safety.  Lists that change are written as new page
 * chains, with a new centroid blob and a new directory beside the old ones;
 * one WAL record on the meta page (new build_id) then switches to them.
 * Until that record nothing reachable has changed, so a crash leaves the
 * old structure whole (plus unreachable pages).  Lists that do not change
 * keep their chains, shared by the old and the new directory.
 *	- Scans read the meta page once (IvfGetCache) and use that view's
 *	  centroids, directory and chains.  Retired pages are never written
 *	  again, so a scan that started before the switch sees the old structure
 *	  whole and one that starts after sees the new one.
 *	- Inserts choose a list with their view's centroids and append under
 *	  the list's directory page lock, after checking under that lock that
 *	  the meta page still names their view (IvfAppendToList).  The switch
 *	  is made while every directory page of the old view is locked
 *	  exclusively, and the changed lists are read again under those locks:
 *	  an insert lands either before (and is carried into the new chains) or
 *	  after (and retries with the new centroids).
 *	- VACUUM and other maintenance wait for ShareUpdateExclusiveLock on the
 *	  table, which the caller holds.
 * The slow part (exact vectors from the table, 2-means) runs before the
 * directory locks are taken; under them the lists are re-read and only
 * rows inserted meanwhile are fetched.
 *
 * Retired pages (old chains of the changed lists, the old centroid blob and
 * directory) are stamped with the rebalancing transaction's xid and
 * recycled through the free space map by VACUUM (and by the next
 * rebalancing run) once no snapshot is older: nbtree's rule for deleted
 * pages.  Reusing one logs a recovery conflict first (IvfNewBuffer), so
 * standby queries that may still read it are waited for or cancelled.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/generic_xlog.h"
#include "access/transam.h"
#include "access/xact.h"
#include "am/heapdist.h"
#include "am/ivf.h"
#include "am/pagerecycle.h"
#include "common/pg_prng.h"
#include "index/kmeans.h"
#include "kernels/distance.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "replication/slot.h"
#include "replication/walsender.h"
#include "replication/walsender_private.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

double		lancedb_ivf_split_ratio = 3.0;
double		lancedb_ivf_merge_ratio = 0.1;
int			lancedb_ivf_rebalance_ops = 8;

#define IVF_SPLIT_NEIGHBORS		16	/* lists LIRE reassigns from */
#define IVF_SPLIT_SAMPLE		8192	/* 2-means trains on at most this */
#define IVF_SPLIT_REFINE_ITERS	4	/* local Lloyd iterations after a split */
/*
 * Also move entries of the region to a nearer list outside it (each entry
 * in its nearest list)?  bench/maint: +0.004 recall@10 at nprobes 8, for
 * twice the lists rewritten (those outside lists are copied whole): off.
 */
#define IVF_SPLIT_OUTSIDE		false

#define IVF_BLOB_PER_PAGE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - \
	 MAXALIGN(sizeof(IvfPageOpaqueData)) - sizeof(uint32))

/* exact vector of a row, by TID; x NULL when the row is gone */
typedef struct RbVec
{
	ItemPointerData tid;
	float	   *x;
	uint32		op;				/* operation that computed nearest */
	uint32		nearest;		/* nearest list of all, in that operation */
} RbVec;

/* one entry of a list being rewritten */
typedef struct RbEntry
{
	ItemPointerData tid;
	uint32		src;			/* list it is in */
	uint32		target;			/* list (new numbering) it goes to */
	float	   *x;				/* exact vector, or NULL: keep code and aux */
	uint8	   *code;			/* as read (x == NULL) */
	float	   *aux;
} RbEntry;

typedef struct RbEntries
{
	RbEntry    *e;
	int			n;
	int			cap;
} RbEntries;

/*
 * Pages retired by the operations of this round.  They are stamped with
 * this transaction's xid, which no snapshot passes until the round ends;
 * but when every other transaction that held a snapshot at the last switch
 * has ended (and nothing else may read them: below), the next operation
 * may reuse them at once instead of extending the index.
 */
typedef struct RbRound
{
	BlockNumber *pending;		/* retired, maybe still read */
	int			npending;
	int			pending_cap;
	BlockNumber *free;			/* retired and unreadable: reusable now */
	int			nfree;
	VirtualTransactionId *vxids;	/* snapshots at the last switch */
	int			nvxids;
	int64		reused;
} RbRound;

typedef struct RbState
{
	Relation	index;
	Relation	heap;
	MemoryContext cxt;			/* everything of one operation */
	IvfIndexCache *cache;		/* the view being changed (pinned) */
	int			dim;
	LanceHeapDist *hd;
	HTAB	   *vecs;
	MemoryContext veccxt;		/* where vecs keeps the vectors */
	uint32		op;				/* number of this operation (from 1) */
	int64		fetched;
	int64		dropped;
	int64		moved;
	int64		lists_written;
	int64		pages_written;
	RbRound    *round;
} RbState;

/* ---- exact vectors ---- */

static float *
RbVector(RbState *st, ItemPointer tid)
{
	RbVec	   *v;
	bool		found;

	v = hash_search(st->vecs, tid, HASH_ENTER, &found);
	if (!found)
	{
		/* any version: HOT updates keep the indexed value */
		struct varlena *val = lance_heapdist_value(st->hd, SnapshotAny, tid);

		v->x = NULL;
		v->op = 0;
		st->fetched++;
		if (val != NULL)
		{
			int			xdim;
			MemoryContext old = MemoryContextSwitchTo(st->veccxt);
			float	   *x = LanceDatumToFloats(PointerGetDatum(val),
											   st->cache->type, &xdim);

			MemoryContextSwitchTo(old);

			if (xdim == st->dim)
			{
				if (st->cache->metric->normalize)
					LanceNormalize(x, st->dim);
				v->x = x;
			}
			pfree(val);
		}
	}
	return v->x;
}

/*
 * The nearest of all n centroids to a row's vector x (from RbVector),
 * remembered for the current operation so the locked phase reuses what
 * the unlocked one computed.
 */
static uint32
RbNearestAll(RbState *st, ItemPointer tid, const float *x, const float *cen,
			 uint32 n)
{
	RbVec	   *v = hash_search(st->vecs, tid, HASH_FIND, NULL);
	uint32		best = 0;
	float		bestd = FLT_MAX;

	if (v != NULL && v->op == st->op)
		return v->nearest;
	for (uint32 m = 0; m < n; m++)
	{
		float		d = lance_kernels->l2sq_f32(x, cen + (Size) m * st->dim, st->dim);

		if (d < bestd)
		{
			bestd = d;
			best = m;
		}
	}
	if (v != NULL)
	{
		v->op = st->op;
		v->nearest = best;
	}
	return best;
}

/* ---- reading lists ---- */

static void
RbAdd(RbEntries *ents, const RbEntry *e)
{
	if (ents->n == ents->cap)
	{
		ents->cap = Max(ents->cap * 2, 256);
		ents->e = ents->e ? repalloc_huge(ents->e, sizeof(RbEntry) * ents->cap) :
			MemoryContextAllocHuge(CurrentMemoryContext, sizeof(RbEntry) * ents->cap);
	}
	ents->e[ents->n++] = *e;
}

/*
 * Append the entries of a list's chain to ents (codes and aux copied when
 * keep_codes).  Page locks are taken one at a time, in chain order.
 */
static void
RbReadList(RbState *st, BlockNumber head, uint32 list, bool keep_codes,
		   RbEntries *ents)
{
	const IvfListLayout *lay = &st->cache->layout;
	BlockNumber blkno = head;
	BlockNumber nblocks = RelationGetNumberOfBlocks(st->index);
	int64		guard = 0;

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf;
		Page		page;
		int			n;

		if (blkno >= nblocks)
			nblocks = RelationGetNumberOfBlocks(st->index);
		if (blkno >= nblocks || ++guard > (int64) nblocks)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a broken list chain at block %u",
							RelationGetRelationName(st->index), blkno)));
		buf = ReadBuffer(st->index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		n = IvfListPageItems(st->index, page, blkno, lay);
		for (int i = 0; i < n; i++)
		{
			RbEntry		e;

			memset(&e, 0, sizeof(e));
			memcpy(&e.tid, (char *) page + lay->tid_off + sizeof(ItemPointerData) * i,
				   sizeof(ItemPointerData));
			e.src = e.target = list;
			if (keep_codes)
			{
				e.code = palloc(Max(lay->code_size, 1));
				quantizer_code_get(lay->quant, (const uint8 *) page + lay->code_off,
								   i, e.code);
				e.aux = palloc(sizeof(float) * Max(lay->num_aux, 1));
				memcpy(e.aux, (char *) page + lay->aux_off + sizeof(float) * lay->num_aux * i,
					   sizeof(float) * lay->num_aux);
			}
			RbAdd(ents, &e);
		}
		blkno = IvfPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
	}
}

/* Fetch the exact vectors of a list ahead of the locked phase. */
static void
RbPrefetchList(RbState *st, BlockNumber head, uint32 list)
{
	RbEntries	ents = {0};

	RbReadList(st, head, list, false, &ents);
	for (int i = 0; i < ents.n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		RbVector(st, &ents.e[i].tid);
	}
	if (ents.e)
		pfree(ents.e);
}

/* ---- writing the new structure (unreachable until the meta switch) ---- */

/*
 * A page for new contents: one an earlier operation of this round retired
 * and nobody can read any more (RbRoundPromote), else IvfNewBuffer's.
 */
static Buffer
RbNewBuffer(RbState *st)
{
	RbRound    *r = st->round;

	while (r != NULL && r->nfree > 0)
	{
		BlockNumber blkno = r->free[--r->nfree];
		Buffer		buf = ReadBuffer(st->index, blkno);
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		/* still what this round retired (nothing else takes it) */
		if (!PageIsNew(page) &&
			PageGetSpecialSize(page) == MAXALIGN(sizeof(IvfPageOpaqueData)) &&
			IvfPageGetOpaque(page)->page_id == IVF_PAGE_ID &&
			IvfPageGetOpaque(page)->page_type != IVF_PAGE_META &&
			TransactionIdIsCurrentTransactionId(((PageHeader) page)->pd_prune_xid))
		{
			/* standby queries from before the retirement: a conflict */
			LanceLogPageReuse(st->index, blkno,
							  LanceRecentFullXid(((PageHeader) page)->pd_prune_xid));
			r->reused++;
			return buf;
		}
		UnlockReleaseBuffer(buf);
	}
	return IvfNewBuffer(st->index, MAIN_FORKNUM);
}

/*
 * Write the entries bound for one list as a new chain, back to front so
 * that each page is complete (with its next link) in its own WAL record.
 * Fills head/tail/insert_page/count/radius of *info.
 */
static void
RbWriteChain(RbState *st, RbEntry **ents, int n, uint32 list,
			 const float *centroid, IvfListInfo *info)
{
	const IvfListLayout *lay = &st->cache->layout;
	int			cap = lay->capacity;
	int			npages = (n + cap - 1) / cap;
	BlockNumber next = InvalidBlockNumber;
	bool		residual = quantizer_wants_residuals(st->cache->quant);
	uint8	   *code = palloc(Max(lay->code_size, 1));
	float	   *aux = palloc(sizeof(float) * Max(lay->num_aux, 1));
	float	   *res = palloc(sizeof(float) * st->dim);
	float		radius = 0;

	info->head = info->tail = info->insert_page = InvalidBlockNumber;
	info->count = n;
	for (int p = npages - 1; p >= 0; p--)
	{
		Buffer		buf = RbNewBuffer(st);
		GenericXLogState *state = GenericXLogStart(st->index);
		Page		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
		IvfListPageHeader *hdr;
		int			first = p * cap;
		int			last = Min(n, first + cap);

		IvfInitListPage(page, list, lay);
		hdr = (IvfListPageHeader *) PageGetContents(page);
		for (int i = first; i < last; i++)
		{
			RbEntry    *e = ents[i];

			if (e->x != NULL)
			{
				const float *x = e->x;

				if (residual)
				{
					for (int j = 0; j < st->dim; j++)
						res[j] = e->x[j] - centroid[j];
					x = res;
				}
				quantizer_encode(st->cache->quant, x, code, aux);
				IvfPutEntry(page, lay, i - first, code, aux, &e->tid);
				radius = Max(radius, sqrtf(lance_kernels->l2sq_f32(e->x, centroid, st->dim)));
			}
			else
				IvfPutEntry(page, lay, i - first, e->code, e->aux, &e->tid);
		}
		hdr->nitems = last - first;
		IvfPageGetOpaque(page)->next = next;
		GenericXLogFinish(state);
		next = BufferGetBlockNumber(buf);
		if (p == npages - 1)
			info->tail = info->insert_page = next;
		UnlockReleaseBuffer(buf);
	}
	info->head = next;
	info->radius = Max(info->radius, radius);
	pfree(code);
	pfree(aux);
	pfree(res);
}

/* A blob as a chain of new pages (written back to front); its first block. */
static BlockNumber
RbWriteBlob(RbState *st, const char *data, uint32 len)
{
	Relation	index = st->index;
	int			npages = Max((len + IVF_BLOB_PER_PAGE - 1) / IVF_BLOB_PER_PAGE, 1);
	BlockNumber next = InvalidBlockNumber;

	for (int p = npages - 1; p >= 0; p--)
	{
		Buffer		buf = RbNewBuffer(st);
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
		uint32		off = (uint32) p * IVF_BLOB_PER_PAGE;
		uint32		n = Min((uint32) IVF_BLOB_PER_PAGE, len - off);

		IvfInitPage(page, IVF_PAGE_BLOB, 0);
		memcpy(PageGetContents(page), &n, sizeof(uint32));
		memcpy(PageGetContents(page) + sizeof(uint32), data + off, n);
		((PageHeader) page)->pd_lower =
			(PageGetContents(page) - (char *) page) + sizeof(uint32) + n;
		IvfPageGetOpaque(page)->next = next;
		GenericXLogFinish(state);
		next = BufferGetBlockNumber(buf);
		UnlockReleaseBuffer(buf);
	}
	return next;
}

/*
 * The directory on new, contiguous pages (IvfDirectoryLocate computes
 * addresses).  One page (up to 340 lists) may be a recycled one; several
 * are allocated at the end under the extension lock, which keeps other
 * extenders out in between.
 */
static BlockNumber
RbWriteDirectory(RbState *st, const IvfListInfo *dir, uint32 nlists,
				 uint32 *npages)
{
	Relation	index = st->index;
	int			per = IvfDirEntriesPerPage();
	uint32		np = (nlists + per - 1) / per;
	Buffer	   *bufs = palloc(sizeof(Buffer) * np);
	BlockNumber first;

	if (np == 1)
		bufs[0] = RbNewBuffer(st);
	else
	{
		LockRelationForExtension(index, ExclusiveLock);
		for (uint32 p = 0; p < np; p++)
		{
			bufs[p] = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
			LockBuffer(bufs[p], BUFFER_LOCK_EXCLUSIVE);
		}
		UnlockRelationForExtension(index, ExclusiveLock);
	}
	first = BufferGetBlockNumber(bufs[0]);
	for (uint32 p = 0; p < np; p++)
	{
		GenericXLogState *state;
		Page		page;
		int			n = Min((uint32) per, nlists - p * per);

		if (BufferGetBlockNumber(bufs[p]) != first + p)
			elog(ERROR, "lance_ivf directory pages are not contiguous");
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, bufs[p], GENERIC_XLOG_FULL_IMAGE);
		IvfInitPage(page, IVF_PAGE_DIRECTORY, 0);
		memcpy(PageGetContents(page), dir + (Size) p * per, sizeof(IvfListInfo) * n);
		((PageHeader) page)->pd_lower =
			(PageGetContents(page) - (char *) page) + sizeof(IvfListInfo) * per;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(bufs[p]);
	}
	pfree(bufs);
	*npages = np;
	return first;
}

/* ---- the locked phase ---- */

/*
 * Lock every directory page of the view exclusively (ascending: inserts and
 * vacuum lock one at a time) and read the directory under the locks.
 */
static Buffer *
RbLockDirectory(RbState *st, IvfListInfo **dir)
{
	const IvfMetaPageData *meta = &st->cache->meta;
	Buffer	   *bufs = palloc(sizeof(Buffer) * meta->dir_pages);
	int			per = IvfDirEntriesPerPage();
	IvfMetaPageData now;

	*dir = palloc(sizeof(IvfListInfo) * meta->nlists);
	for (uint32 p = 0; p < meta->dir_pages; p++)
	{
		uint32		first = p * per;
		uint32		n = Min((uint32) per, meta->nlists - first);

		bufs[p] = ReadBuffer(st->index, meta->dir_start + p);
		LockBuffer(bufs[p], BUFFER_LOCK_EXCLUSIVE);
		IvfCheckPage(st->index, BufferGetPage(bufs[p]), meta->dir_start + p,
					 IVF_PAGE_DIRECTORY);
		memcpy(*dir + first, PageGetContents(BufferGetPage(bufs[p])),
			   sizeof(IvfListInfo) * n);
	}
	/* nothing else restructures (the caller's table lock): be sure anyway */
	now = IvfReadMeta(st->index);
	if (now.build_id != meta->build_id)
		elog(ERROR, "lance_ivf index \"%s\" changed structure during rebalancing",
			 RelationGetRelationName(st->index));
	return bufs;
}

static void
RbRoundRetired(RbState *st, BlockNumber blkno)
{
	RbRound    *r = st->round;

	if (r == NULL)
		return;
	if (r->npending == r->pending_cap)
	{
		r->pending_cap = Max(r->pending_cap * 2, 256);
		r->pending = r->pending ?
			repalloc_huge(r->pending, sizeof(BlockNumber) * r->pending_cap) :
			MemoryContextAllocHuge(GetMemoryChunkContext(r), sizeof(BlockNumber) * r->pending_cap);
	}
	r->pending[r->npending++] = blkno;
}

/* Stamp every page of a retired chain (nobody writes to it any more). */
static void
RbRetireChain(RbState *st, BlockNumber blkno, TransactionId xid)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(st->index);
	int64		guard = 0;

	while (blkno != InvalidBlockNumber && blkno < nblocks && ++guard <= (int64) nblocks)
	{
		Buffer		buf = ReadBuffer(st->index, blkno);

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		IvfRetirePage(st->index, buf, xid);
		RbRoundRetired(st, blkno);
		blkno = IvfPageGetOpaque(BufferGetPage(buf))->next;
		UnlockReleaseBuffer(buf);
	}
}

/*
 * After the switch: stamp the old view's pages that the new one does not
 * use (its directory, whose pages the caller still holds, its centroid
 * blob, the old chains of the rewritten lists) so that VACUUM recycles them
 * once no scan can still be reading them; then release the directory.
 * A crash before this leaves them unstamped: leaked until REINDEX, never
 * reachable.
 */
static void
RbRetireAndUnlock(RbState *st, Buffer *dirbufs, const BlockNumber *chains,
				  int nchains, TransactionId xid)
{
	for (int i = 0; i < nchains; i++)
		RbRetireChain(st, chains[i], xid);
	RbRetireChain(st, st->cache->meta.centroid_start, xid);
	for (uint32 p = 0; p < st->cache->meta.dir_pages; p++)
	{
		IvfRetirePage(st->index, dirbufs[p], xid);
		RbRoundRetired(st, BufferGetBlockNumber(dirbufs[p]));
		UnlockReleaseBuffer(dirbufs[p]);
	}
	/* who may still read them: every transaction holding a snapshot now */
	if (st->round != NULL)
	{
		/* the round outlives this operation's memory */
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(st->round));

		if (st->round->vxids)
			pfree(st->round->vxids);
		st->round->vxids = GetCurrentVirtualXIDs(InvalidTransactionId, true,
												 false, 0, &st->round->nvxids);
		MemoryContextSwitchTo(old);
	}
}

/*
 * Is any standby's xmin held on this primary (hot_standby_feedback through
 * a walsender or a slot)?  Its queries may read retired pages; they are
 * waited for by xid, at the next round.
 */
static bool
RbStandbyXminHeld(void)
{
	TransactionId xmin,
				catalog_xmin;

	ProcArrayGetReplicationSlotXmin(&xmin, &catalog_xmin);
	if (TransactionIdIsValid(xmin))
		return true;
	if (WalSndCtl == NULL)
		return false;
	for (int i = 0; i < max_wal_senders; i++)
	{
		WalSnd	   *w = &WalSndCtl->walsnds[i];
		pid_t		pid;

		SpinLockAcquire(&w->mutex);
		pid = w->pid;
		SpinLockRelease(&w->mutex);
		/* any connected standby: its feedback may come at any time */
		if (pid != 0)
			return true;
	}
	return false;
}

/*
 * Before an operation: may the pages earlier operations of this round
 * retired be reused now?  Yes once every transaction that held a snapshot
 * at the last switch has ended (a scan or insert that read an old view
 * holds one until it is done; one that starts later reads the new meta
 * page), no scan of this backend still uses an old view, and no standby
 * holds an xmin here.  Standby queries without feedback get the recovery
 * conflict RbNewBuffer logs.
 */
static void
RbRoundPromote(RbRound *r, Relation index)
{
	if (r->npending == 0)
		return;
	for (int i = 0; i < r->nvxids; i++)
		if (!VirtualXactLock(r->vxids[i], false))
			return;
	if (IvfCacheInUse(RelationGetRelid(index)) || RbStandbyXminHeld())
		return;
	r->free = r->free ?
		repalloc_huge(r->free, sizeof(BlockNumber) * (r->nfree + r->npending)) :
		MemoryContextAllocHuge(GetMemoryChunkContext(r), sizeof(BlockNumber) * r->npending);
	memcpy(r->free + r->nfree, r->pending, sizeof(BlockNumber) * r->npending);
	r->nfree += r->npending;
	r->npending = 0;
}

/*
 * Write the new centroids and directory and switch the meta page to them:
 * the one WAL record that makes the operation visible.
 */
static TransactionId
RbSwitch(RbState *st, const float *centroids, const IvfListInfo *dir,
		 uint32 nlists)
{
	IvfMetaPageData meta = st->cache->meta;
	Buffer		buf;
	GenericXLogState *state;
	Page		page;

	/*
	 * The retirement xid: this transaction's own, assigned before the
	 * switch.  Every snapshot taken before the switch has xmin <= it (the
	 * transaction is running, or not yet begun), and once it has ended
	 * new snapshots start above it, so the next round can reuse the pages.
	 * (The next xid after the switch, unassigned, stayed "in use" until
	 * someone consumed an xid: back-to-back rounds reused nothing, and a
	 * standby, whose next xid had not reached it, skipped the conflict.)
	 */
	TransactionId xid = GetTopTransactionId();

	meta.centroid_len = sizeof(float) * nlists * st->dim;
	meta.centroid_start = RbWriteBlob(st, (const char *) centroids,
									  meta.centroid_len);
	meta.dir_start = RbWriteDirectory(st, dir, nlists, &meta.dir_pages);
	meta.nlists = nlists;
	meta.rebalances++;
	meta.build_id = pg_prng_uint64(&pg_global_prng_state) ^ meta.build_id;

	buf = ReadBuffer(st->index, IVF_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	IvfCheckPage(st->index, BufferGetPage(buf), IVF_METAPAGE_BLKNO, IVF_PAGE_META);
	state = GenericXLogStart(st->index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	memcpy(PageGetContents(page), &meta, sizeof(meta));
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	return xid;
}

/*
 * Write the lists marked in `rewrite` (new numbering) from ents, keeping
 * the total of "inserted since build" counters (spread by size).
 */
static void
RbWriteLists(RbState *st, RbEntries *ents, const bool *rewrite,
			 const float *centroids, IvfListInfo *newdir, uint32 nlists,
			 uint64 inserted, uint64 counted)
{
	RbEntry   **bylist = palloc(sizeof(RbEntry *) * Max(ents->n, 1));
	int		   *start = palloc0(sizeof(int) * (nlists + 1));
	int		   *fill = palloc0(sizeof(int) * nlists);

	/* group by target (counting sort) */
	for (int i = 0; i < ents->n; i++)
		start[ents->e[i].target + 1]++;
	for (uint32 l = 0; l < nlists; l++)
		start[l + 1] += start[l];
	for (int i = 0; i < ents->n; i++)
	{
		uint32		t = ents->e[i].target;

		bylist[start[t] + fill[t]++] = &ents->e[i];
	}
	for (uint32 l = 0; l < nlists; l++)
	{
		int			n = start[l + 1] - start[l];

		if (!rewrite[l])
			continue;
		CHECK_FOR_INTERRUPTS();
		RbWriteChain(st, bylist + start[l], n, l, centroids + (Size) l * st->dim,
					 &newdir[l]);
		st->lists_written++;
		st->pages_written += (n + st->cache->layout.capacity - 1) / st->cache->layout.capacity;
		newdir[l].inserted = counted > 0 ?
			(uint32) Min((uint64) n, (uint64) ((double) inserted * n / counted + 0.5)) : 0;
	}
	pfree(bylist);
	pfree(start);
	pfree(fill);
}

/* ---- split ---- */

static int
RbCompareFloatIdx(const void *a, const void *b)
{
	const float *x = a;
	const float *y = b;

	return *x < *y ? -1 : *x > *y ? 1 : 0;
}

/*
 * Local k-means after a split: Lloyd iterations over the entries of the
 * candidate lists cand[0..ncand-1] (the split list, the new list and the
 * split list's neighbours), starting from their current centroids in
 * newcen, which are updated.  Repeated 2-means cuts alone leave the
 * region partitioned worse than a fresh build's k-means would.
 */
static void
RbRefine(RbState *st, const IvfListInfo *dir, const uint32 *cand, int ncand,
		 uint32 nlists, float *newcen)
{
	int			dim = st->dim;
	RbEntries	ents = {0};
	float	  **xs;
	int			n = 0;
	double	   *sums = palloc(sizeof(double) * (Size) ncand * dim);
	int64	   *cnt = palloc(sizeof(int64) * ncand);

	for (int c = 0; c < ncand; c++)
		if (cand[c] < nlists)
			RbReadList(st, dir[cand[c]].head, cand[c], false, &ents);
	xs = palloc(sizeof(float *) * Max(ents.n, 1));
	for (int i = 0; i < ents.n; i++)
	{
		float	   *x = RbVector(st, &ents.e[i].tid);

		if (x)
			xs[n++] = x;
	}
	for (int it = 0; it < IVF_SPLIT_REFINE_ITERS; it++)
	{
		CHECK_FOR_INTERRUPTS();
		memset(sums, 0, sizeof(double) * (Size) ncand * dim);
		memset(cnt, 0, sizeof(int64) * ncand);
		for (int i = 0; i < n; i++)
		{
			int			best = 0;
			float		bestd = FLT_MAX;

			for (int c = 0; c < ncand; c++)
			{
				float		d = lance_kernels->l2sq_f32(xs[i], newcen + (Size) cand[c] * dim, dim);

				if (d < bestd)
				{
					bestd = d;
					best = c;
				}
			}
			cnt[best]++;
			for (int j = 0; j < dim; j++)
				sums[(Size) best * dim + j] += xs[i][j];
		}
		for (int c = 0; c < ncand; c++)
		{
			float	   *cen = newcen + (Size) cand[c] * dim;

			if (cnt[c] == 0)
				continue;		/* keeps its centroid */
			for (int j = 0; j < dim; j++)
				cen[j] = (float) (sums[(Size) c * dim + j] / cnt[c]);
			if (st->cache->metric->normalize)
				LanceNormalize(cen, dim);
		}
	}
	pfree(xs);
	pfree(sums);
	pfree(cnt);
	if (ents.e)
		pfree(ents.e);
}

/*
 * Split list L.  Returns false (changing nothing) when 2-means cannot cut
 * it (fewer than two distinct vectors).
 */
static bool
IvfSplitList(RbState *st, uint32 L)
{
	IvfIndexCache *c = st->cache;
	int			dim = st->dim;
	uint32		nlists = c->meta.nlists;
	uint32		N = nlists;		/* the new list */
	IvfListInfo *dir = IvfReadDirectory(st->index, &c->meta);
	IvfListInfo *ldir;
	float	   *newcen;
	uint32	   *nbr;
	int			nnbr;
	RbEntries	ents = {0};
	Buffer	   *dirbufs;
	bool	   *rewrite;
	bool	   *is_cand;
	bool	   *receives;
	IvfListInfo *newdir;
	uint64		inserted = 0,
				counted = 0;

	/* the nearest lists by centroid: LIRE reassigns from them */
	{
		float	   *dl = palloc(sizeof(float) * 2 * nlists);
		const float *cl = c->centroids + (Size) L * dim;

		nnbr = 0;
		for (uint32 m = 0; m < nlists; m++)
		{
			if (m == L)
				continue;
			dl[2 * nnbr] = lance_kernels->l2sq_f32(cl, c->centroids + (Size) m * dim, dim);
			dl[2 * nnbr + 1] = (float) m;
			nnbr++;
		}
		qsort(dl, nnbr, 2 * sizeof(float), RbCompareFloatIdx);
		nnbr = Min(nnbr, IVF_SPLIT_NEIGHBORS);
		nbr = palloc(sizeof(uint32) * Max(nnbr, 1));
		for (int i = 0; i < nnbr; i++)
			nbr[i] = (uint32) dl[2 * i + 1];
		pfree(dl);
	}

	/* unlocked: exact vectors of L and its neighbours, 2-means on L's */
	RbPrefetchList(st, dir[L].head, L);
	for (int i = 0; i < nnbr; i++)
		RbPrefetchList(st, dir[nbr[i]].head, nbr[i]);
	newcen = palloc(sizeof(float) * (Size) (nlists + 1) * dim);
	memcpy(newcen, c->centroids, sizeof(float) * (Size) nlists * dim);
	{
		RbEntries	lents = {0};
		float	   *x;
		int64		n = 0;
		int			step;
		float	   *two;
		KMeansParams kp;
		KMeansResult kr;

		RbReadList(st, dir[L].head, L, false, &lents);
		step = Max(1, lents.n / IVF_SPLIT_SAMPLE);
		x = MemoryContextAllocHuge(CurrentMemoryContext,
								   sizeof(float) * (Size) Min(lents.n, IVF_SPLIT_SAMPLE + 1) * dim + 1);
		for (int i = 0; i < lents.n && n <= IVF_SPLIT_SAMPLE; i += step)
		{
			float	   *v = RbVector(st, &lents.e[i].tid);

			if (v)
				memcpy(x + (Size) (n++) * dim, v, sizeof(float) * dim);
		}
		if (n < 2)
			return false;
		memset(&kp, 0, sizeof(kp));
		kp.k = 2;
		kp.max_iterations = 25;
		kp.tolerance = 1e-4;
		kp.spherical = c->metric->normalize;
		kp.seed = 0x5ec7 + L;
		kp.interrupt_hook = LanceInterruptHook;
		kp.alloc = LanceQuantAlloc;
		kp.release = LanceQuantFree;
		two = palloc(sizeof(float) * 2 * dim);
		if (!kmeans_train(x, n, dim, &kp, two, &kr))
			elog(ERROR, "lance_ivf: 2-means failed");
		/* two identical centroids cut nothing */
		if (lance_kernels->l2sq_f32(two, two + dim, dim) <= 0)
			return false;
		memcpy(newcen + (Size) L * dim, two, sizeof(float) * dim);
		memcpy(newcen + (Size) N * dim, two + dim, sizeof(float) * dim);
		pfree(x);
		pfree(two);
	}

	if (IVF_SPLIT_REFINE_ITERS > 0)
	{
		uint32	   *cand = palloc(sizeof(uint32) * (nnbr + 2));

		cand[0] = L;
		cand[1] = N;
		memcpy(cand + 2, nbr, sizeof(uint32) * nnbr);
		RbRefine(st, dir, cand, nnbr + 2, nlists, newcen);
		pfree(cand);
	}
	/* unlocked still: each entry's nearest of all the new centroids */
	{
		RbEntries	all = {0};

		RbReadList(st, dir[L].head, L, false, &all);
		for (int i = 0; i < nnbr; i++)
			RbReadList(st, dir[nbr[i]].head, nbr[i], false, &all);
		for (int i = 0; i < all.n; i++)
		{
			float	   *x = RbVector(st, &all.e[i].tid);

			CHECK_FOR_INTERRUPTS();
			if (x)
				RbNearestAll(st, &all.e[i].tid, x, newcen, nlists + 1);
		}
		if (all.e)
			pfree(all.e);
	}

	/* locked: re-read L and the neighbours, reassign, write, switch */
	dirbufs = RbLockDirectory(st, &ldir);
	is_cand = palloc0(sizeof(bool) * (nlists + 1));
	rewrite = palloc0(sizeof(bool) * (nlists + 1));
	receives = palloc0(sizeof(bool) * (nlists + 1));
	is_cand[L] = is_cand[N] = true;
	rewrite[L] = rewrite[N] = true;
	for (int i = 0; i < nnbr; i++)
	{
		is_cand[nbr[i]] = true;
		/* a neighbour whose centroid moved (refinement) is re-encoded */
		if (memcmp(newcen + (Size) nbr[i] * dim, c->centroids + (Size) nbr[i] * dim,
				   sizeof(float) * dim) != 0)
			rewrite[nbr[i]] = true;
	}

	RbReadList(st, ldir[L].head, L, false, &ents);
	for (int i = 0; i < nnbr; i++)
		RbReadList(st, ldir[nbr[i]].head, nbr[i], false, &ents);

	for (int i = 0; i < ents.n; i++)
	{
		RbEntry    *e = &ents.e[i];
		float	   *x = RbVector(st, &e->tid);

		e->x = x;
		if (x == NULL)
		{
			/* row gone for good: dropped if its list is rewritten */
			e->target = e->src;
			continue;
		}
		if (e->src == L || rewrite[e->src])
		{
			/*
			 * The split list, or a neighbour whose centroid moved: nearest
			 * of all candidate centroids
			 */
			float		best = FLT_MAX;

			for (uint32 m = 0; m <= nlists; m++)
			{
				float		d;

				if (!is_cand[m])
					continue;
				d = lance_kernels->l2sq_f32(x, newcen + (Size) m * dim, dim);
				if (d < best)
				{
					best = d;
					e->target = m;
				}
			}
		}
		else
		{
			/* a neighbour's entry moves only to a nearer new centroid */
			float		own = lance_kernels->l2sq_f32(x, newcen + (Size) e->src * dim, dim);
			float		d1 = lance_kernels->l2sq_f32(x, newcen + (Size) L * dim, dim);
			float		d2 = lance_kernels->l2sq_f32(x, newcen + (Size) N * dim, dim);

			if (d1 < own && d1 <= d2)
				e->target = L;
			else if (d2 < own)
				e->target = N;
		}

		/*
		 * Nearer still to a list outside the region (its centroids moved):
		 * that list receives it, so every entry ends in its nearest list.
		 */
		{
			uint32		a = RbNearestAll(st, &e->tid, x, newcen, nlists + 1);

			if (IVF_SPLIT_OUTSIDE && !is_cand[a] &&
				lance_kernels->l2sq_f32(x, newcen + (Size) a * dim, dim) <
				lance_kernels->l2sq_f32(x, newcen + (Size) e->target * dim, dim))
			{
				e->target = a;
				receives[a] = true;
			}
		}
		if (e->target != e->src)
		{
			rewrite[e->src] = rewrite[e->target] = true;
			if (e->src != L)
				st->moved++;
		}
	}
	/* lists outside the region that receive entries keep theirs as they are */
	for (uint32 m = 0; m < nlists; m++)
		if (receives[m])
			RbReadList(st, ldir[m].head, m, true, &ents);
	/* entries of lists kept as they are are not written again */
	{
		int			k = 0;

		for (int i = 0; i < ents.n; i++)
		{
			RbEntry    *e = &ents.e[i];

			if (!rewrite[e->src])
				continue;
			if (e->x == NULL && e->code == NULL)
			{
				st->dropped++;
				continue;
			}
			ents.e[k++] = *e;
		}
		ents.n = k;
	}

	newdir = palloc0(sizeof(IvfListInfo) * (nlists + 1));
	memcpy(newdir, ldir, sizeof(IvfListInfo) * nlists);
	for (uint32 m = 0; m < nlists; m++)
		if (rewrite[m])
		{
			inserted += ldir[m].inserted;
			counted += ldir[m].count;
			/* receivers keep their members: the old radius still bounds them */
			if (is_cand[m])
				newdir[m].radius = 0;
		}
	RbWriteLists(st, &ents, rewrite, newcen, newdir, nlists + 1, inserted, counted);
	{
		BlockNumber *chains = palloc(sizeof(BlockNumber) * (nlists + 1));
		int			nchains = 0;
		TransactionId xid;

		for (uint32 m = 0; m < nlists; m++)
			if (rewrite[m] && ldir[m].head != InvalidBlockNumber)
				chains[nchains++] = ldir[m].head;
		xid = RbSwitch(st, newcen, newdir, nlists + 1);
		RbRetireAndUnlock(st, dirbufs, chains, nchains, xid);
	}
	return true;
}

/* ---- merge ---- */

/* Dissolve list m into the nearest other list of each of its entries. */
static void
IvfMergeList(RbState *st, uint32 m)
{
	IvfIndexCache *c = st->cache;
	int			dim = st->dim;
	uint32		nlists = c->meta.nlists;
	uint32		last = nlists - 1;
	IvfListInfo *dir = IvfReadDirectory(st->index, &c->meta);
	IvfListInfo *ldir;
	Buffer	   *dirbufs;
	RbEntries	ents = {0};
	RbEntries	all = {0};
	bool	   *receives;
	bool	   *rewrite;
	float	   *newcen;
	IvfListInfo *newdir;
	uint64		inserted = 0,
				counted = 0;
	int			nm;

	RbPrefetchList(st, dir[m].head, m);

	dirbufs = RbLockDirectory(st, &ldir);
	RbReadList(st, ldir[m].head, m, false, &ents);
	receives = palloc0(sizeof(bool) * nlists);
	for (int i = 0; i < ents.n; i++)
	{
		RbEntry    *e = &ents.e[i];
		float		best = FLT_MAX;

		e->x = RbVector(st, &e->tid);
		if (e->x == NULL)
		{
			st->dropped++;
			continue;
		}
		for (uint32 l = 0; l < nlists; l++)
		{
			float		d;

			if (l == m)
				continue;
			d = lance_kernels->l2sq_f32(e->x, c->centroids + (Size) l * dim, dim);
			if (d < best)
			{
				best = d;
				e->target = l;
			}
		}
		receives[e->target] = true;
		st->moved++;
	}

	/* receivers keep their entries' codes (their centroids stay) */
	for (uint32 l = 0; l < nlists; l++)
		if (receives[l])
			RbReadList(st, ldir[l].head, l, true, &all);
	for (int i = 0; i < ents.n; i++)
		if (ents.e[i].x != NULL)
			RbAdd(&all, &ents.e[i]);

	/* renumber: the last list takes m's number */
	nm = nlists - 1;
	newcen = palloc(sizeof(float) * (Size) Max(nm, 1) * dim);
	newdir = palloc0(sizeof(IvfListInfo) * Max(nm, 1));
	rewrite = palloc0(sizeof(bool) * Max(nm, 1));
	for (uint32 l = 0; l < nlists; l++)
	{
		uint32		to = l == last ? m : l;

		if (l == m)
		{
			inserted += ldir[l].inserted;
			counted += ldir[l].count;
			continue;
		}
		memcpy(newcen + (Size) to * dim, c->centroids + (Size) l * dim, sizeof(float) * dim);
		newdir[to] = ldir[l];
		if (receives[l])
		{
			rewrite[to] = true;
			inserted += ldir[l].inserted;
			counted += ldir[l].count;
			/* members that stay keep within the old radius */
		}
	}
	for (int i = 0; i < all.n; i++)
		if (all.e[i].target == last)
			all.e[i].target = m;
	RbWriteLists(st, &all, rewrite, newcen, newdir, nm, inserted, counted);
	{
		BlockNumber *chains = palloc(sizeof(BlockNumber) * nlists);
		int			nchains = 0;
		TransactionId xid;

		for (uint32 l = 0; l < nlists; l++)
			if ((l == m || receives[l]) && ldir[l].head != InvalidBlockNumber)
				chains[nchains++] = ldir[l].head;
		xid = RbSwitch(st, newcen, newdir, nm);
		RbRetireAndUnlock(st, dirbufs, chains, nchains, xid);
	}
}

/* ---- driver ---- */

/*
 * Largest list (not one of skip[]) and smallest list of the current view,
 * with their sizes, and the mean list size.
 */
static void
RbListExtremes(Relation index, IvfIndexCache *c, const uint32 *skip, int nskip,
			   uint32 *largest, uint32 *largest_n,
			   uint32 *smallest, uint32 *smallest_n, double *mean)
{
	IvfListInfo *dir = IvfReadDirectory(index, &c->meta);
	uint64		total = 0;

	*largest = *smallest = UINT32_MAX;
	*largest_n = 0;
	*smallest_n = UINT32_MAX;
	for (uint32 l = 0; l < c->meta.nlists; l++)
	{
		bool		skipped = false;

		total += dir[l].count;
		for (int i = 0; i < nskip; i++)
			skipped |= skip[i] == l;
		if (!skipped && (*largest == UINT32_MAX || dir[l].count > *largest_n))
		{
			*largest = l;
			*largest_n = dir[l].count;
		}
		if (dir[l].count < *smallest_n)
		{
			*smallest = l;
			*smallest_n = dir[l].count;
		}
	}
	*mean = c->meta.nlists > 0 ? (double) total / c->meta.nlists : 0;
	pfree(dir);
}

/*
 * See ivf.h.  Each operation is its own switch, so an error or a crash in
 * the middle leaves the operations already done in place and the current
 * one undone.
 */
void
IvfRebalance(Relation index, Relation heap, int max_ops, StringInfo detail)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "lance_ivf rebalance",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			splits = 0,
				merges = 0,
				ops = 0;
	int64		moved = 0,
				dropped = 0,
				fetched = 0,
				lists_written = 0,
				pages_written = 0;
	uint32		before = 0,
				after = 0;
	uint32	   *unsplittable = NULL;
	int64		reused;
	int			nunsplittable = 0;
	MemoryContext veccxt = AllocSetContextCreate(cxt, "lance_ivf rebalance vectors",
												 ALLOCSET_DEFAULT_SIZES);
	HTAB	   *vecs = NULL;
	HASHCTL		ctl;
	BlockNumber recycled;
	RbRound    *round = MemoryContextAllocZero(cxt, sizeof(RbRound));

	/* room left by earlier runs, for the pages this one writes */
	recycled = IvfReadMeta(index).rebalances > 0 ? IvfRecyclePages(index, NULL) : 0;

	while (ops < max_ops)
	{
		MemoryContext opcxt = AllocSetContextCreate(cxt, "lance_ivf rebalance step",
													ALLOCSET_DEFAULT_SIZES);
		IvfIndexCache *c;
		RbState		st;
		uint32		largest,
					largest_n,
					smallest,
					smallest_n;
		double		mean;
		bool		done = false;

		MemoryContextSwitchTo(opcxt);
		/* before this backend pins the view this operation changes */
		RbRoundPromote(round, index);
		c = IvfGetCache(index);
		if (ops == 0)
			before = c->meta.nlists;
		after = c->meta.nlists;
		if (!c->meta.trained || c->type->multi)
		{
			MemoryContextSwitchTo(cxt);
			MemoryContextDelete(opcxt);
			break;
		}
		IvfPinCache(c);
		memset(&st, 0, sizeof(st));
		st.index = index;
		st.heap = heap;
		st.cxt = opcxt;
		st.cache = c;
		st.dim = c->meta.dim;
		st.hd = lance_heapdist_begin(index, heap);
		st.round = round;
		/*
		 * Exact vectors are kept across operations (a row's vector never
		 * changes), within maintenance_work_mem.
		 */
		if (vecs != NULL &&
			MemoryContextMemAllocated(veccxt, true) > (Size) maintenance_work_mem * 1024)
		{
			MemoryContextReset(veccxt);
			vecs = NULL;
		}
		if (vecs == NULL)
		{
			ctl.keysize = sizeof(ItemPointerData);
			ctl.entrysize = sizeof(RbVec);
			ctl.hcxt = veccxt;
			vecs = hash_create("lance_ivf rebalance vectors", 1024, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		}
		st.vecs = vecs;
		st.veccxt = veccxt;
		st.op = (uint32) (splits + merges + nunsplittable + 1);

		/* lists 2-means could not cut (identical vectors) are skipped */
		RbListExtremes(index, c, unsplittable, nunsplittable,
					   &largest, &largest_n, &smallest, &smallest_n, &mean);
		if (largest != UINT32_MAX && mean > 0 &&
			largest_n > lancedb_ivf_split_ratio * mean && largest_n >= 4)
		{
			if (IvfSplitList(&st, largest))
			{
				splits++;
				done = true;
			}
			else
			{
				MemoryContextSwitchTo(cxt);
				unsplittable = unsplittable ?
					repalloc(unsplittable, sizeof(uint32) * (nunsplittable + 1)) :
					palloc(sizeof(uint32));
				unsplittable[nunsplittable++] = largest;
				MemoryContextSwitchTo(opcxt);
				done = true;	/* try again with the next largest */
				ops--;
			}
		}
		else if (c->meta.nlists > 2 && smallest != UINT32_MAX &&
				 smallest_n < lancedb_ivf_merge_ratio * mean)
		{
			IvfMergeList(&st, smallest);
			merges++;
			done = true;
		}
		lance_heapdist_end(st.hd);
		moved += st.moved;
		dropped += st.dropped;
		fetched += st.fetched;
		lists_written += st.lists_written;
		pages_written += st.pages_written;
		IvfUnpinCache(c);
		MemoryContextSwitchTo(cxt);
		MemoryContextDelete(opcxt);
		if (!done)
			break;
		ops++;
	}
	{
		IvfMetaPageData meta = IvfReadMeta(index);

		after = meta.nlists;
	}
	reused = round->reused;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	appendStringInfo(detail,
					 "%d split%s, %d merge%s: lists %u -> %u, " INT64_FORMAT " entries of neighbouring lists reassigned, " INT64_FORMAT " vectors read from the table, " INT64_FORMAT " dead entries dropped, " INT64_FORMAT " lists rewritten (" INT64_FORMAT " pages), %u retired pages free for reuse, " INT64_FORMAT " reused within the round",
					 splits, splits == 1 ? "" : "s", merges, merges == 1 ? "" : "s",
					 before, after, moved, fetched, dropped, lists_written,
					 pages_written, recycled, reused);
}
