/*
 * ivfvacuum.c
 *	  VACUUM for lance_ivf: remove entries of dead rows from list pages
 *	  (compacting each page in place, so the room is reused by inserts) and
 *	  refresh the directory counts and insert hints.
 */
#include "postgres.h"

#include "am/ivf.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

/* Move slot `from` over slot `to` (compaction keeps slots dense). */
static void
IvfMoveEntry(Page page, const IvfListLayout *lay, int from, int to)
{
	Size		auxbytes = sizeof(float) * lay->num_aux;

	memmove((char *) page + lay->aux_off + auxbytes * to,
			(char *) page + lay->aux_off + auxbytes * from, auxbytes);
	quantizer_code_move(lay->quant, (uint8 *) page + lay->code_off, from, to);
	memmove((char *) page + lay->tid_off + sizeof(ItemPointerData) * to,
			(char *) page + lay->tid_off + sizeof(ItemPointerData) * from,
			sizeof(ItemPointerData));
}

static void
IvfUpdateDirectoryEntry(Relation index, const IvfMetaPageData *meta,
						uint32 list, uint32 removed, BlockNumber insert_page)
{
	BlockNumber dirblk;
	int			diroff;
	Buffer		buf;
	GenericXLogState *state;
	Page		page;
	IvfListInfo *info;

	IvfDirectoryLocate(list, meta->dir_start, &dirblk, &diroff);
	buf = ReadBuffer(index, dirblk);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	IvfCheckPage(index, BufferGetPage(buf), dirblk, IVF_PAGE_DIRECTORY);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	info = (IvfListInfo *) PageGetContents(page) + diroff;
	info->count = info->count > removed ? info->count - removed : 0;
	info->inserted = info->inserted > removed ? info->inserted - removed : 0;
	/* keep the hint no later than the first page with room */
	if (insert_page != InvalidBlockNumber)
		info->insert_page = insert_page;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

IndexBulkDeleteResult *
ivfbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			  IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	IvfIndexCache *cache = IvfGetCache(index);
	IvfMetaPageData meta = cache->meta;
	IvfListLayout layout = cache->layout;
	IvfListInfo *dir = IvfReadDirectory(index, &meta);
	BufferAccessStrategy bas = info->strategy;

	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));

	for (uint32 l = 0; l < meta.nlists; l++)
	{
		BlockNumber blkno = dir[l].head;
		BlockNumber first_free = InvalidBlockNumber;
		uint32		removed = 0;

		while (blkno != InvalidBlockNumber)
		{
			Buffer		buf;
			Page		page;
			IvfListPageHeader *hdr;
			GenericXLogState *state = NULL;
			BlockNumber next;
			int			n;

			vacuum_delay_point();
			buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, bas);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			IvfCheckPage(index, BufferGetPage(buf), blkno, IVF_PAGE_LIST);
			page = BufferGetPage(buf);
			hdr = (IvfListPageHeader *) PageGetContents(page);
			n = Min(hdr->nitems, layout.capacity);

			for (int i = 0; i < n;)
			{
				ItemPointer tid = (ItemPointer) ((char *) page + layout.tid_off +
												 sizeof(ItemPointerData) * i);

				if (callback(tid, callback_state))
				{
					if (state == NULL)
					{
						state = GenericXLogStart(index);
						page = GenericXLogRegisterBuffer(state, buf, 0);
						hdr = (IvfListPageHeader *) PageGetContents(page);
					}
					n--;
					if (i != n)
						IvfMoveEntry(page, &layout, n, i);
					hdr->nitems = n;
					removed++;
					stats->tuples_removed++;
					continue;	/* look at the entry moved into slot i */
				}
				stats->num_index_tuples++;
				i++;
			}
			if (state)
				GenericXLogFinish(state);
			if (first_free == InvalidBlockNumber && n < layout.capacity)
				first_free = blkno;
			next = IvfPageGetOpaque(BufferGetPage(buf))->next;
			UnlockReleaseBuffer(buf);
			blkno = next;
		}
		if (removed > 0 || first_free != dir[l].insert_page)
			IvfUpdateDirectoryEntry(index, &meta, l, removed, first_free);
	}
	stats->num_pages = RelationGetNumberOfBlocks(index);
	return stats;
}

IndexBulkDeleteResult *
ivfvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;

	if (info->analyze_only)
		return stats;

	/* no bulk delete ran: report the directory's counts */
	if (stats == NULL)
	{
		IvfIndexCache *cache = IvfGetCache(index);
		IvfListInfo *dir = IvfReadDirectory(index, &cache->meta);

		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
		for (uint32 l = 0; l < cache->meta.nlists; l++)
			stats->num_index_tuples += dir[l].count;
	}
	/* pages retired by rebalancing that no scan can still be reading */
	if (IvfReadMeta(index).rebalances > 0)
		stats->pages_free = IvfRecyclePages(index, info->strategy);
	stats->num_pages = RelationGetNumberOfBlocks(index);
	return stats;
}
