/*
 * hnswvacuum.c
 *	  lance_hnsw VACUUM.  Pass 1 reads every element once, asks the
 *	  callback about its heap row and marks dead ones as tombstones
 *	  (remembering their neighbour lists).  Pass 2 repairs only the
 *	  neighbourhoods of the dead: each live neighbour of a tombstone drops
 *	  its links to tombstones and refills the freed slots with the closest
 *	  live neighbours of the tombstones it lost.  The distance work is
 *	  proportional to what was deleted, not to the index.
 *
 * Tombstones stay in place (element addresses never change): a link a
 * concurrent insert made to one just before it died still leads
 * somewhere, and searches walk through them without giving them a
 * result slot.  Their space is reclaimed by REINDEX.
 */
#include "postgres.h"

#include "am/hnsw.h"
#include "commands/vacuum.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

typedef struct DeadElement
{
	HnswKey		key;			/* hash key */
	int			level;
	HnswSlot   *slots;			/* copy of its neighbour slots */
} DeadElement;

typedef struct RepairKey
{
	HnswKey		key;
	int			level;
} RepairKey;

static inline HnswKey
SlotKey(const HnswSlot *s)
{
	BlockNumber b = BlockIdGetBlockNumber(&s->blk);

	return b == InvalidBlockNumber ? 0 : HnswKeyFromTid(b, s->off);
}

/* Copy an element's vector (decoded) and level; false if gone or dead. */
static bool
ReadLive(Relation index, const HnswIndexInfo *info, HnswKey key, float *vec,
		 int *level)
{
	BlockNumber blk = HnswKeyBlock(key);
	Buffer		buf = ReadBuffer(index, blk);
	HnswElementTuple tup;
	bool		live;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	HnswCheckPage(index, BufferGetPage(buf), blk, HNSW_PAGE_ELEMENT);
	tup = HnswGetElement(index, BufferGetPage(buf), blk, HnswKeyOffset(key),
						 info->meta.data_size, info->meta.m);
	live = (tup->flags & HNSW_ELEM_DELETED) == 0;
	if (live && vec)
		HnswDecode(info, tup->data, vec);
	if (level)
		*level = tup->level;
	UnlockReleaseBuffer(buf);
	return live;
}

typedef struct RepairCand
{
	HnswKey		key;
	float		dist;
} RepairCand;

static int
repair_cmp(const void *a, const void *b)
{
	float		x = ((const RepairCand *) a)->dist;
	float		y = ((const RepairCand *) b)->dist;

	return x < y ? -1 : x > y;
}

/* Replace the links of live element `key` on level lc to tombstones. */
static bool
RepairNeighbourhood(Relation index, const HnswIndexInfo *info, HTAB *dead,
					HnswKey key, int lc, float *vec, float *cvec)
{
	const HnswMetaPageData *meta = &info->meta;
	int			m = meta->m;
	int			cap = hnsw_level_capacity(m, lc);
	HnswSlot   *cur = palloc(sizeof(HnswSlot) * cap);
	RepairCand *cands = NULL;
	int			ncand = 0;
	int			maxcand = 0;
	int			level;
	bool		any = false;
	Buffer		buf;
	BlockNumber blk = HnswKeyBlock(key);
	GenericXLogState *state;
	Page		page;
	HnswElementTuple tup;
	HnswSlot   *slots;
	int			filled = 0;

	/* read its list and vector */
	buf = ReadBuffer(index, blk);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	HnswCheckPage(index, BufferGetPage(buf), blk, HNSW_PAGE_ELEMENT);
	tup = HnswGetElement(index, BufferGetPage(buf), blk, HnswKeyOffset(key),
						 meta->data_size, m);
	level = tup->level;
	if (lc <= level && (tup->flags & HNSW_ELEM_DELETED) == 0)
	{
		memcpy(cur, HnswElementSlots(tup, meta->data_size) + hnsw_level_offset(m, lc),
			   sizeof(HnswSlot) * cap);
		HnswDecode(info, tup->data, vec);
		any = true;
	}
	UnlockReleaseBuffer(buf);
	if (!any)
		return false;

	/* candidates: live neighbours of the tombstones it points to */
	any = false;
	for (int i = 0; i < cap; i++)
	{
		HnswKey		k = SlotKey(&cur[i]);
		DeadElement *d;

		if (k == 0 || (d = hash_search(dead, &k, HASH_FIND, NULL)) == NULL)
			continue;
		any = true;
		if (lc > d->level)
			continue;
		for (int j = 0; j < hnsw_level_capacity(m, lc); j++)
		{
			HnswKey		c = SlotKey(&d->slots[hnsw_level_offset(m, lc) + j]);
			bool		dup = (c == 0 || c == key);
			int			clevel;

			for (int t = 0; t < cap && !dup; t++)
				dup = SlotKey(&cur[t]) == c;
			for (int t = 0; t < ncand && !dup; t++)
				dup = cands[t].key == c;
			if (dup || hash_search(dead, &c, HASH_FIND, NULL) != NULL)
				continue;
			if (!ReadLive(index, info, c, cvec, &clevel) || clevel < lc)
				continue;
			if (ncand == maxcand)
			{
				maxcand = Max(16, maxcand * 2);
				cands = cands ? repalloc(cands, sizeof(RepairCand) * maxcand) :
					palloc(sizeof(RepairCand) * maxcand);
			}
			cands[ncand].key = c;
			cands[ncand].dist = HnswExactDistance(info->metric, vec, cvec, meta->dim);
			ncand++;
		}
	}
	if (!any)
		return false;
	if (ncand > 1)
		qsort(cands, ncand, sizeof(RepairCand), repair_cmp);

	/* apply under the exclusive lock, against the list as it is now */
	buf = ReadBuffer(index, blk);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	tup = HnswGetElement(index, page, blk, HnswKeyOffset(key), meta->data_size, m);
	slots = HnswElementSlots(tup, meta->data_size) + hnsw_level_offset(m, lc);
	for (int i = 0; i < cap; i++)
	{
		HnswKey		k = SlotKey(&slots[i]);

		if (k != 0 && hash_search(dead, &k, HASH_FIND, NULL) == NULL)
			continue;
		/* free or pointing to a tombstone: refill */
		if (k == 0 && filled >= ncand)
			continue;
		BlockIdSet(&slots[i].blk, InvalidBlockNumber);
		slots[i].off = InvalidOffsetNumber;
		while (filled < ncand)
		{
			RepairCand *c = &cands[filled++];
			bool		dup = false;

			for (int t = 0; t < cap && !dup; t++)
				dup = SlotKey(&slots[t]) == c->key;
			if (dup)
				continue;
			BlockIdSet(&slots[i].blk, HnswKeyBlock(c->key));
			slots[i].off = HnswKeyOffset(c->key);
			slots[i].dist16 = lance_f32_to_f16(c->dist);
			break;
		}
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	return true;
}

IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *vinfo, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = vinfo->index;
	HnswIndexInfo *info;
	BlockNumber nblocks;
	HTAB	   *dead;
	HTAB	   *repaired;
	HASHCTL		hctl;
	MemoryContext cxt;
	MemoryContext old;
	HnswKey		best_live = 0;
	int			best_level = -1;
	int			m;
	int64		ndead = 0;
	int64		nrepaired = 0;
	HASH_SEQ_STATUS hs;
	DeadElement *d;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	cxt = AllocSetContextCreate(CurrentMemoryContext, "lance_hnsw vacuum",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	info = HnswGetInfo(index);
	m = info->meta.m;

	memset(&hctl, 0, sizeof(hctl));
	hctl.keysize = sizeof(HnswKey);
	hctl.entrysize = sizeof(DeadElement);
	hctl.hcxt = cxt;
	dead = hash_create("lance_hnsw dead", 1024, &hctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/* pass 1: mark tombstones */
	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blk = HNSW_METAPAGE_BLKNO + 1; blk < nblocks; blk++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		OffsetNumber victims[MaxOffsetNumber];
		int			nvictims = 0;

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

			if (tup->flags & HNSW_ELEM_DELETED)
				continue;
			if (callback(&tup->heaptid, callback_state))
			{
				HnswKey		key = HnswKeyFromTid(blk, off);
				int			ns = hnsw_total_slots(m, tup->level);

				victims[nvictims++] = off;
				d = hash_search(dead, &key, HASH_ENTER, NULL);
				d->level = tup->level;
				d->slots = palloc(sizeof(HnswSlot) * ns);
				memcpy(d->slots, HnswElementSlots(tup, info->meta.data_size),
					   sizeof(HnswSlot) * ns);
			}
			else
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
		if (nvictims > 0)
		{
			GenericXLogState *state;

			buf = ReadBufferExtended(index, MAIN_FORKNUM, blk, RBM_NORMAL, vinfo->strategy);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			for (int i = 0; i < nvictims; i++)
			{
				HnswElementTuple tup = HnswGetElement(index, page, blk, victims[i],
													  info->meta.data_size, m);

				tup->flags |= HNSW_ELEM_DELETED;
			}
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			stats->tuples_removed += nvictims;
			ndead += nvictims;
		}
	}

	if (ndead > 0)
	{
		float	   *vec = palloc(sizeof(float) * info->meta.dim);
		float	   *cvec = palloc(sizeof(float) * info->meta.dim);
		Buffer		metabuf;
		HnswMetaPageData *meta;

		/* a dead entry point: the highest live element takes over */
		metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		meta = (HnswMetaPageData *) PageGetContents(BufferGetPage(metabuf));
		if (meta->entry_blkno != InvalidBlockNumber)
		{
			HnswKey		ek = HnswKeyFromTid(meta->entry_blkno, meta->entry_offno);

			if (hash_search(dead, &ek, HASH_FIND, NULL) != NULL)
			{
				GenericXLogState *state = GenericXLogStart(index);
				Page		page = GenericXLogRegisterBuffer(state, metabuf, 0);

				meta = (HnswMetaPageData *) PageGetContents(page);
				if (best_level >= 0)
				{
					meta->entry_blkno = HnswKeyBlock(best_live);
					meta->entry_offno = HnswKeyOffset(best_live);
					meta->entry_level = (int16) best_level;
				}
				else
				{
					meta->entry_blkno = InvalidBlockNumber;
					meta->entry_offno = InvalidOffsetNumber;
					meta->entry_level = -1;
				}
				GenericXLogFinish(state);
			}
		}
		UnlockReleaseBuffer(metabuf);

		/* pass 2: repair the neighbourhoods of the dead */
		memset(&hctl, 0, sizeof(hctl));
		hctl.keysize = sizeof(RepairKey);
		hctl.entrysize = sizeof(RepairKey);
		hctl.hcxt = cxt;
		repaired = hash_create("lance_hnsw repaired", 1024, &hctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		hash_seq_init(&hs, dead);
		while ((d = hash_seq_search(&hs)) != NULL)
		{
			for (int lc = 0; lc <= d->level; lc++)
			{
				for (int j = 0; j < hnsw_level_capacity(m, lc); j++)
				{
					RepairKey	rk;
					bool		found;

					memset(&rk, 0, sizeof(rk));
					rk.key = SlotKey(&d->slots[hnsw_level_offset(m, lc) + j]);
					rk.level = lc;
					if (rk.key == 0 || hash_search(dead, &rk.key, HASH_FIND, NULL))
						continue;
					hash_search(repaired, &rk, HASH_ENTER, &found);
					if (found)
						continue;
					vacuum_delay_point();
					if (RepairNeighbourhood(index, info, dead, rk.key, lc, vec, cvec))
						nrepaired++;
				}
			}
		}
		ereport(DEBUG1,
				(errmsg("lance_hnsw vacuum of \"%s\": " INT64_FORMAT " elements removed, " INT64_FORMAT " neighbour lists repaired",
						RelationGetRelationName(index), ndead, nrepaired)));
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
						!(((HnswElementTuple) PageGetItem(page, iid))->flags & HNSW_ELEM_DELETED))
						stats->num_index_tuples++;
				}
			}
			UnlockReleaseBuffer(buf);
		}
	}
	stats->num_pages = RelationGetNumberOfBlocks(index);
	return stats;
}
