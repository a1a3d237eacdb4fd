/*
 * hnswmaint.c
 *	  What a lance_hnsw index needs from background maintenance (see
 *	  worker/maint.h): repairing the graph around rows that died, before
 *	  VACUUM gets to them.
 *
 * advise (cheap): the table's dead-row count from the statistics system,
 * less what the last repair already saw; "repair" when that exceeds
 * lancedb.hnsw_repair_threshold of the table.
 *
 * maintain ("repair"): one pass over the element pages asks the heap
 * whether each element's row is dead to every snapshot (the same test
 * VACUUM's horizon makes); those become tombstones (DELETED) at once, the
 * lists that pointed to them are rewired (hnswrepair.c), and then they are
 * flagged REPAIRED, so the next VACUUM only frees them.  Locks: the
 * caller's ShareUpdateExclusiveLock on the table and RowExclusiveLock on
 * the index; buffer locks are short and every page change is one
 * GenericXLog record, so queries and inserts run alongside, and a crash
 * leaves tombstones that are not yet REPAIRED, which the next repair (or
 * VACUUM) takes up: searches walk through them meanwhile.
 */
#include "postgres.h"

#include "access/tableam.h"
#include "am/hnsw.h"
#include "commands/vacuum.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "worker/maint.h"

/* dead rows of the table, and all rows, from the statistics system */
static void
HnswTableDead(Relation heap, double *dead, double *total)
{
	PgStat_StatTabEntry *tab = pgstat_fetch_stat_tabentry(RelationGetRelid(heap));

	*dead = tab ? (double) tab->n_dead_tuples : 0;
	*total = tab ? (double) (tab->n_live_tuples + tab->n_dead_tuples) : 0;
	if (*total < heap->rd_rel->reltuples)
		*total = heap->rd_rel->reltuples;
}

void
HnswMaintenanceAdvice(Relation index, Relation heap, LanceMaintAdvice *advice)
{
	HnswMetaPageData meta = HnswReadMeta(index);
	double		dead;
	double		total;
	double		fresh;

	LanceMaintAdviceInit(advice);
	HnswTableDead(heap, &dead, &total);
	if (meta.rows_built > 0)
		advice->growth = total / (double) meta.rows_built - 1.0;
	if (total <= 0)
		return;
	advice->deleted = dead / total;
	/* VACUUM resets the count: then everything counted is new */
	fresh = dead >= (double) meta.dead_seen ? dead - (double) meta.dead_seen : dead;
	if (fresh > 0 && fresh / total >= lancedb_hnsw_repair_threshold)
	{
		advice->action = LANCE_MAINT_INPLACE;
		strlcpy(advice->task, "repair", sizeof(advice->task));
		snprintf(advice->reason, sizeof(advice->reason),
				 "%.0f dead rows not yet repaired (%.1f%% of the table, threshold lancedb.hnsw_repair_threshold = %g)",
				 fresh, 100.0 * fresh / total, lancedb_hnsw_repair_threshold);
	}
}

typedef struct PageDead
{
	BlockNumber blk;
	int			n;
	OffsetNumber *offs;
} PageDead;

void
HnswMaintain(Relation index, Relation heap, LanceMaintAdvice *advice,
			 StringInfo detail)
{
	MemoryContext cxt;
	MemoryContext old;
	HnswIndexInfo *info;
	HnswDeadSet *dead;
	SnapshotData snap;
	BlockNumber nblocks;
	HnswKey		best_live = 0;
	int			best_level = -1;
	PageDead   *pd = NULL;
	int			npd = 0;
	int			maxpd = 0;
	int64		ndead = 0;
	int64		nrepaired = 0;
	double		tdead;
	double		ttotal;

	if (strcmp(advice->task, "repair") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lance_hnsw maintenance does not know task \"%s\"", advice->task)));
	cxt = AllocSetContextCreate(CurrentMemoryContext, "lance_hnsw repair",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	info = HnswGetInfo(index);
	dead = HnswDeadSetCreate(info, RelationGetNumberOfBlocks(index));
	InitNonVacuumableSnapshot(snap, GlobalVisTestFor(heap));
	HnswTableDead(heap, &tdead, &ttotal);

	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blk = HNSW_METAPAGE_BLKNO + 1; blk < nblocks; blk++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber offs[MaxOffsetNumber];
		ItemPointerData tids[MaxOffsetNumber];
		int			levels[MaxOffsetNumber];
		OffsetNumber victims[MaxOffsetNumber];
		int			n = 0;
		int			nv = 0;

		vacuum_delay_point();
		buf = ReadBuffer(index, blk);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (PageIsNew(page) || HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID ||
			HnswPageGetOpaque(page)->page_type != HNSW_PAGE_ELEMENT)
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			HnswElementTuple tup = HnswGetElement(index, page, blk, off,
												  info->meta.data_size, info->meta.m);

			if ((tup->flags & (HNSW_ELEM_DELETED | HNSW_ELEM_REPAIRED | HNSW_ELEM_FREE)) ==
				HNSW_ELEM_DELETED)
			{
				/* a tombstone an interrupted repair (or VACUUM) left: ours now */
				victims[nv++] = off;
				continue;
			}
			if (tup->flags & (HNSW_ELEM_DELETED | HNSW_ELEM_FREE))
				continue;
			offs[n] = off;
			tids[n] = tup->heaptid;
			levels[n] = tup->level;
			n++;
		}
		UnlockReleaseBuffer(buf);

		/* heap lookups without holding the index page */
		for (int i = 0; i < n; i++)
		{
			bool		all_dead = false;

			if (!table_index_fetch_tuple_check(heap, &tids[i], &snap, &all_dead))
				victims[nv++] = offs[i];
			else if (levels[i] > best_level)
			{
				best_level = levels[i];
				best_live = HnswKeyFromTid(blk, offs[i]);
			}
		}
		if (nv == 0)
			continue;

		/* tombstones now, remembering their lists (one WAL record) */
		{
			GenericXLogState *state;

			buf = ReadBuffer(index, blk);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			HnswCheckPage(index, BufferGetPage(buf), blk, HNSW_PAGE_ELEMENT);
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			for (int i = 0; i < nv; i++)
			{
				HnswElementTuple tup = HnswGetElement(index, page, blk, victims[i],
													  info->meta.data_size, info->meta.m);

				if (tup->flags & (HNSW_ELEM_FREE | HNSW_ELEM_REPAIRED))
					continue;	/* VACUUM got there first */
				tup->flags |= HNSW_ELEM_DELETED;
				HnswDeadSetAdd(dead, HnswKeyFromTid(blk, victims[i]), tup, true);
			}
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
		}
		if (npd == maxpd)
		{
			maxpd = Max(64, maxpd * 2);
			pd = pd ? repalloc(pd, sizeof(PageDead) * maxpd) : palloc(sizeof(PageDead) * maxpd);
		}
		pd[npd].blk = blk;
		pd[npd].n = nv;
		pd[npd].offs = palloc(sizeof(OffsetNumber) * nv);
		memcpy(pd[npd].offs, victims, sizeof(OffsetNumber) * nv);
		npd++;
		ndead += nv;
	}

	if (ndead > 0)
	{
		HnswMoveEntryOffDead(index, dead, best_live, best_level);
		nrepaired = HnswRepairDead(index, info, dead);
		for (int i = 0; i < npd; i++)
			HnswMarkDeleted(index, info, pd[i].blk, pd[i].offs, pd[i].n,
							HNSW_ELEM_REPAIRED, NULL);
	}

	/* remember what was seen, so advice counts only what dies from now */
	{
		Buffer		metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
		GenericXLogState *state;
		HnswMetaPageData *meta;

		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		meta = (HnswMetaPageData *) PageGetContents(GenericXLogRegisterBuffer(state, metabuf, 0));
		meta->n_repaired += ndead;
		meta->dead_seen = (uint64) tdead;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(metabuf);
	}
	appendStringInfo(detail, INT64_FORMAT " dead elements repaired around (" INT64_FORMAT " neighbour lists rewired)",
					 ndead, nrepaired);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}
