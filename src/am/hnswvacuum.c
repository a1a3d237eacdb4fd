/*
 * hnswvacuum.c
 *	  lance_hnsw VACUUM.  Pass 1 reads every element once, asks the
 *	  callback about its heap row and marks dead ones as tombstones
 *	  (remembering their neighbour lists).  Pass 2 (hnswrepair.c) finds
 *	  the lists that link to them with one more sequential read and
 *	  rebuilds only those: the distance work and WAL are proportional to
 *	  what was deleted, not to the index; when the maintenance worker has
 *	  repaired every dead element already, pass 2 is skipped.  Pass 3
 *	  waits for inserts in flight, frees the dead elements and chains their
 *	  pages into the free list, from which inserts reuse them.
 *
 * Element addresses never change, so a link made by a concurrent insert
 * to an element freed here points at a free element (searches skip it)
 * or, once reused, at an unrelated live one: a valid link either way.
 */
#include "postgres.h"

#include "am/hnsw.h"
#include "commands/vacuum.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* Free the dead elements of one page and put it on the free list. */
static void
FreeElements(Relation index, const HnswIndexInfo *info, BlockNumber blk,
			 const OffsetNumber *offs, int n, BufferAccessStrategy strategy,
			 int64 *nfreed)
{
	int			m = info->meta.m;
	Buffer		metabuf;
	Buffer		buf;
	GenericXLogState *state;
	Page		mpage;
	Page		page;
	HnswMetaPageData *meta;
	HnswPageOpaque opaque;
	int64		freed = 0;
	int64		was_repaired = 0;

	/* meta first, then the page: the order inserts use */
	metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	buf = ReadBufferExtended(index, MAIN_FORKNUM, blk, RBM_NORMAL, strategy);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	HnswCheckPage(index, BufferGetPage(buf), blk, HNSW_PAGE_ELEMENT);
	state = GenericXLogStart(index);
	mpage = GenericXLogRegisterBuffer(state, metabuf, 0);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	meta = (HnswMetaPageData *) PageGetContents(mpage);
	for (int i = 0; i < n; i++)
	{
		HnswElementTuple tup = HnswGetElement(index, page, blk, offs[i],
											  info->meta.data_size, m);
		HnswSlot   *slots = HnswElementSlots(tup, info->meta.data_size);

		if (tup->flags & HNSW_ELEM_FREE)
			continue;
		if (tup->flags & HNSW_ELEM_REPAIRED)
			was_repaired++;
		tup->flags = HNSW_ELEM_FREE;
		ItemPointerSetInvalid(&tup->heaptid);
		for (int s = 0; s < hnsw_total_slots(m, tup->level); s++)
		{
			BlockIdSet(&slots[s].blk, InvalidBlockNumber);
			slots[s].off = InvalidOffsetNumber;
			slots[s].dist16 = 0;
		}
		freed++;
	}
	opaque = HnswPageGetOpaque(page);
	if (freed > 0 && opaque->next == InvalidBlockNumber)
	{
		opaque->next = HnswFreeHeadValid(meta->free_head) ?
			meta->free_head : HNSW_FREE_LIST_END;
		meta->free_head = blk;
	}
	meta->n_free += freed;
	meta->n_repaired -= Min(meta->n_repaired, (uint64) was_repaired);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	UnlockReleaseBuffer(metabuf);
	*nfreed += freed;
}

/* A page's dead elements, gathered in pass 1 and freed in pass 3 */
typedef struct PageVictims
{
	BlockNumber blk;
	int			n;
	OffsetNumber *offs;
} PageVictims;

IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *vinfo, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = vinfo->index;
	HnswIndexInfo *info;
	BlockNumber nblocks;
	HnswDeadSet *dead;
	MemoryContext cxt;
	MemoryContext old;
	HnswKey		best_live = 0;
	int			best_level = -1;
	int			m;
	int64		nrepaired = 0;
	int64		nfreed = 0;
	PageVictims *pv = NULL;
	int			npv = 0;
	int			maxpv = 0;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	cxt = AllocSetContextCreate(CurrentMemoryContext, "lance_hnsw vacuum",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	info = HnswGetInfo(index);
	m = info->meta.m;
	dead = HnswDeadSetCreate(info, RelationGetNumberOfBlocks(index));

	/*
	 * Pass 1: ask about every element's row (that much is one sequential
	 * read of the index); new dead become tombstones, remembering their
	 * neighbour lists.  Dead the maintenance worker already repaired need
	 * nothing more than freeing.
	 */
	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blk = HNSW_METAPAGE_BLKNO + 1; blk < nblocks; blk++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		OffsetNumber victims[MaxOffsetNumber];
		OffsetNumber marks[MaxOffsetNumber];
		int			nvictims = 0;
		int			nmarks = 0;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blk, RBM_NORMAL, vinfo->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (PageIsNew(page) || HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID ||
			HnswPageGetOpaque(page)->page_type != HNSW_PAGE_ELEMENT)
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElementTuple tup = HnswGetElement(index, page, blk, off,
												  info->meta.data_size, m);

			if (tup->flags & HNSW_ELEM_FREE)
				continue;
			if (callback(&tup->heaptid, callback_state))
			{
				bool		repaired = (tup->flags & HNSW_ELEM_REPAIRED) != 0;

				victims[nvictims++] = off;
				if (!(tup->flags & HNSW_ELEM_DELETED))
					marks[nmarks++] = off;
				HnswDeadSetAdd(dead, HnswKeyFromTid(blk, off), tup, !repaired);
			}
			else if (!(tup->flags & HNSW_ELEM_DELETED))
			{
				stats->num_index_tuples++;
				if (tup->level > best_level)
				{
					best_level = tup->level;
					best_live = HnswKeyFromTid(blk, off);
				}
			}
		}
		UnlockReleaseBuffer(buf);
		HnswMarkDeleted(index, info, blk, marks, nmarks, HNSW_ELEM_DELETED,
						vinfo->strategy);
		if (nvictims > 0)
		{
			if (npv == maxpv)
			{
				maxpv = Max(64, maxpv * 2);
				pv = pv ? repalloc(pv, sizeof(PageVictims) * maxpv) :
					palloc(sizeof(PageVictims) * maxpv);
			}
			pv[npv].blk = blk;
			pv[npv].n = nvictims;
			pv[npv].offs = palloc(sizeof(OffsetNumber) * nvictims);
			memcpy(pv[npv].offs, victims, sizeof(OffsetNumber) * nvictims);
			npv++;
			stats->tuples_removed += nvictims;
		}
	}

	if (npv > 0)
	{
		HnswMoveEntryOffDead(index, dead, best_live, best_level);

		/* pass 2: repair the neighbourhoods of the dead */
		nrepaired = HnswRepairDead(index, info, dead);

		/*
		 * Pass 3: free them.  First wait for inserts in flight: one that
		 * searched before the dead were marked may still link to them.
		 * Inserts that start now never choose a tombstone.
		 */
		LockPage(index, HNSW_INSERT_LOCK, ExclusiveLock);
		UnlockPage(index, HNSW_INSERT_LOCK, ExclusiveLock);
		for (int i = 0; i < npv; i++)
		{
			vacuum_delay_point();
			FreeElements(index, info, pv[i].blk, pv[i].offs, pv[i].n,
						 vinfo->strategy, &nfreed);
		}
		ereport(DEBUG1,
				(errmsg("lance_hnsw vacuum of \"%s\": " INT64_FORMAT " elements freed, " INT64_FORMAT " neighbour lists repaired",
						RelationGetRelationName(index), nfreed, nrepaired)));
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	stats->num_pages = RelationGetNumberOfBlocks(index);
	return stats;
}

IndexBulkDeleteResult *
hnswvacuumcleanup(IndexVacuumInfo *vinfo, IndexBulkDeleteResult *stats)
{
	Relation	index = vinfo->index;

	if (vinfo->analyze_only)
		return stats;
	if (stats == NULL)
	{
		/* no bulk delete ran: count the live elements */
		BlockNumber nblocks = RelationGetNumberOfBlocks(index);

		stats = palloc0(sizeof(IndexBulkDeleteResult));
		for (BlockNumber blk = HNSW_METAPAGE_BLKNO + 1; blk < nblocks; blk++)
		{
			Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blk, RBM_NORMAL,
												 vinfo->strategy);
			Page		page;

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			if (!PageIsNew(page) && HnswPageGetOpaque(page)->page_id == HNSW_PAGE_ID &&
				HnswPageGetOpaque(page)->page_type == HNSW_PAGE_ELEMENT)
			{
				OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

				for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
				{
					ItemId		iid = PageGetItemId(page, off);

					if (ItemIdIsNormal(iid) &&
						!(((HnswElementTuple) PageGetItem(page, iid))->flags &
						  (HNSW_ELEM_DELETED | HNSW_ELEM_FREE)))
						stats->num_index_tuples++;
				}
			}
			UnlockReleaseBuffer(buf);
		}
	}
	stats->num_pages = RelationGetNumberOfBlocks(index);
	return stats;
}
