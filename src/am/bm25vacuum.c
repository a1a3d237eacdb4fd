/*
 * bm25vacuum.c
 *	  VACUUM for lance_bm25.  Bulk delete sets bits in the segments'
 *	  deletion bitmaps (and flags delta records), so scans skip those docs
 *	  at once, and takes them out of N and the total length.  Cleanup
 *	  rewrites every segment that lost docs (so df is exact again; one-input
 *	  merges), then, if no scan, insert or merge holds the structure lock,
 *	  recycles pages whose owner left the meta page into the FSM.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "am/bm25am.h"
#include "am/pagerecycle.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "storage/standby.h"
#include "utils/rel.h"

/*
 * Set deletion bits of docs[0..n) (ascending, lens[] their lengths) in a
 * segment's bitmap.  Each bitmap page is logged in one record with the meta
 * page's counters (the segment's deleted count, N, total length), so after
 * a crash a set bit is always counted: a later VACUUM skips docs whose bit
 * is set and could not correct the counters.
 */
static void
Bm25MarkDead(Relation index, const Bm25SegmentInfo *info, const uint32 *docs,
			 const uint32 *lens, int n)
{
	Bm25Stream	s;
	int			i = 0;

	Bm25StreamOpen(&s, index, info->dead_root, info->dead_id,
				   Max((info->ndocs + 7) / 8, 1));
	while (i < n)
	{
		uint32		po;
		BlockNumber blk = Bm25StreamLocate(&s, docs[i] / 8, &po);
		Buffer		buf = ReadBuffer(index, blk);
		Buffer		metabuf;
		GenericXLogState *state;
		Page		page;
		Bm25MetaPageData *meta;
		uint32		ndead = 0;
		uint64		dead_len = 0;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		Bm25CheckPage(index, BufferGetPage(buf), blk, BM25_PAGE_DATA, info->dead_id);
		metabuf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		Bm25CheckPage(index, BufferGetPage(metabuf), BM25_METAPAGE_BLKNO, BM25_PAGE_META, 0);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		meta = (Bm25MetaPageData *) PageGetContents(GenericXLogRegisterBuffer(state, metabuf, 0));
		for (; i < n; i++)
		{
			uint32		po2;

			if (Bm25StreamLocate(&s, docs[i] / 8, &po2) != blk)
				break;
			((uint8 *) PageGetContents(page))[po2] |= (uint8) (1 << (docs[i] % 8));
			ndead++;
			dead_len += lens[i];
		}
		for (uint32 sg = 0; sg < meta->nsegments; sg++)
			if (meta->segs[sg].seg_id == info->seg_id)
				meta->segs[sg].ndeleted += ndead;
		meta->ndocs = meta->ndocs > ndead ? meta->ndocs - ndead : 0;
		meta->total_len = meta->total_len > dead_len ? meta->total_len - dead_len : 0;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(metabuf);
		UnlockReleaseBuffer(buf);
	}
	Bm25StreamClose(&s);
}

/*
 * Flag deleted delta records; the meta page stays locked (no flush
 * meanwhile) and each delta page is logged with its counters, as above.
 */
static uint32
Bm25DeleteFromDelta(Relation index, IndexBulkDeleteCallback callback,
					void *callback_state)
{
	Buffer		metabuf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	Bm25MetaPageData m;
	BlockNumber blk;
	BlockNumber nblocks;
	uint32		ndead = 0;
	uint32		seen = 0;

	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	/*
	 * Size the file only now: an insert that held the meta page until we got
	 * it may have extended the index for a delta page it linked.
	 */
	nblocks = RelationGetNumberOfBlocks(index);
	Bm25CheckPage(index, BufferGetPage(metabuf), BM25_METAPAGE_BLKNO, BM25_PAGE_META, 0);
	memcpy(&m, PageGetContents(BufferGetPage(metabuf)), sizeof(m));
	blk = m.delta_head;
	while (blk != InvalidBlockNumber)
	{
		Buffer		buf;
		Page		page;
		GenericXLogState *state = NULL;
		Bm25MetaPageData *meta = NULL;
		OffsetNumber maxoff;
		BlockNumber next;
		uint32		pdead = 0;
		uint64		pdead_len = 0;

		if (blk >= nblocks || blk == BM25_METAPAGE_BLKNO || ++seen > nblocks)
			Bm25CorruptError(index, "delta chain points outside the index");
		buf = ReadBuffer(index, blk);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		Bm25CheckPage(index, page, blk, BM25_PAGE_DELTA, m.delta_id);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			Bm25DeltaRecord rec;

			if (!ItemIdIsNormal(iid) || ItemIdGetLength(iid) < sizeof(rec))
				continue;
			memcpy(&rec, PageGetItem(page, iid), sizeof(rec));
			if (rec.deleted || !callback(&rec.tid, callback_state))
				continue;
			if (state == NULL)
			{
				state = GenericXLogStart(index);
				page = GenericXLogRegisterBuffer(state, buf, 0);
				meta = (Bm25MetaPageData *)
					PageGetContents(GenericXLogRegisterBuffer(state, metabuf, 0));
				iid = PageGetItemId(page, off);
			}
			((Bm25DeltaRecord *) PageGetItem(page, iid))->deleted = 1;
			pdead++;
			pdead_len += rec.doclen;
		}
		next = Bm25PageGetOpaque(page)->next;
		if (state)
		{
			meta->delta_ndeleted += pdead;
			meta->ndocs = meta->ndocs > pdead ? meta->ndocs - pdead : 0;
			meta->total_len = meta->total_len > pdead_len ? meta->total_len - pdead_len : 0;
			GenericXLogFinish(state);
		}
		UnlockReleaseBuffer(buf);
		ndead += pdead;
		blk = next;
	}
	UnlockReleaseBuffer(metabuf);
	return ndead;
}

IndexBulkDeleteResult *
bm25bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	Bm25MetaPageData m;

	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));

	LockPage(index, BM25_LOCK_STRUCT, ShareLock);
	/* no merge may copy a doc while we delete it */
	LockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
	Bm25ReadMeta(index, &m);
	for (uint32 s = 0; s < m.nsegments; s++)
	{
		Bm25SegReader r;
		uint32	   *dead = palloc(sizeof(uint32) * Max(m.segs[s].ndocs, 1));
		uint32	   *lens = palloc(sizeof(uint32) * Max(m.segs[s].ndocs, 1));
		int			ndead = 0;
		Bm25SegmentInfo si = m.segs[s];

		Bm25SegOpen(&r, index, &si);
		for (uint32 d = 0; d < r.hdr.ndocs; d++)
		{
			ItemPointerData tid;

			vacuum_delay_point();
			if (!Bm25SegAlive(&r, d))
				continue;
			Bm25SegTid(&r, d, &tid);
			if (callback(&tid, callback_state))
			{
				lens[ndead] = Bm25SegDocLen(&r, d);
				dead[ndead++] = d;
			}
		}
		Bm25SegClose(&r);
		if (ndead > 0)
		{
			Bm25MarkDead(index, &si, dead, lens, ndead);
			stats->tuples_removed += ndead;
		}
		pfree(dead);
		pfree(lens);
	}
	stats->tuples_removed += Bm25DeleteFromDelta(index, callback, callback_state);
	Bm25ReadMeta(index, &m);
	stats->num_index_tuples = m.ndocs;
	UnlockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
	UnlockPage(index, BM25_LOCK_STRUCT, ShareLock);
	return stats;
}

static bool
Bm25OwnerLive(const Bm25MetaPageData *m, uint32 owner)
{
	if (owner == 0 || owner == m->opts_id || owner == m->delta_id)
		return true;
	for (uint32 s = 0; s < m->nsegments; s++)
		if (owner == m->segs[s].seg_id || owner == m->segs[s].dead_id)
			return true;
	return false;
}

/*
 * Put pages no live structure owns into the FSM.  Primary backends reading
 * them hold the structure lock (our caller has it exclusively); snapshots
 * elsewhere (hot_standby_feedback standbys) are respected by waiting until
 * no snapshot predates the last drop, and the others get a recovery
 * conflict.
 */
static BlockNumber
Bm25Recycle(Relation index)
{
	Bm25MetaPageData m;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BlockNumber nfree = 0;
	FullTransactionId drop;
	bool		can_drop;
	bool		logged = false;

	Bm25ReadMeta(index, &m);
	drop = FullTransactionIdFromU64(m.drop_xid);
	can_drop = !FullTransactionIdIsValid(drop) ||
		GlobalVisCheckRemovableFullXid(NULL, drop);
	for (BlockNumber blk = 1; blk < nblocks; blk++)
	{
		Buffer		buf;
		Page		page;
		bool		isfree = false;

		vacuum_delay_point();
		buf = ReadBuffer(index, blk);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageIsNew(page))
			isfree = true;
		else if (PageGetSpecialSize(page) == MAXALIGN(sizeof(Bm25PageOpaqueData)) &&
				 Bm25PageGetOpaque(page)->page_id == BM25_PAGE_ID)
		{
			if (Bm25PageGetOpaque(page)->page_type == BM25_PAGE_FREE)
				isfree = true;
			else if (can_drop && !Bm25OwnerLive(&m, Bm25PageGetOpaque(page)->owner))
			{
				GenericXLogState *state;
				Page		p;

				/*
				 * Standby queries that copied the directory before the drop
				 * may still read these pages: a recovery conflict first.
				 */
				if (!logged)
					LanceLogPageReuse(index, BM25_METAPAGE_BLKNO, drop);
				logged = true;
				state = GenericXLogStart(index);
				p = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);

				Bm25InitPage(p, BM25_PAGE_FREE, 0);
				GenericXLogFinish(state);
				isfree = true;
			}
		}
		UnlockReleaseBuffer(buf);
		if (isfree)
		{
			RecordFreeIndexPage(index, blk);
			nfree++;
		}
	}
	IndexFreeSpaceMapVacuum(index);
	return nfree;
}

/*
 * VACUUM commits without an xid, so its WAL is not flushed at commit; a
 * crash soon after could lose the tail (the last segment rewrites) and
 * leave df counting deleted docs although VACUUM had returned.  Flushing
 * up to the meta page's last change makes a finished VACUUM's statistics
 * durable: every bulk delete and rewrite record precedes it.
 */
static void
Bm25FlushWal(Relation index)
{
	Buffer		buf;
	XLogRecPtr	lsn;

	if (!RelationNeedsWAL(index))
		return;
	buf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	lsn = PageGetLSN(BufferGetPage(buf));
	UnlockReleaseBuffer(buf);
	XLogFlush(lsn);
}

IndexBulkDeleteResult *
bm25vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;
	Bm25MetaPageData m;

	if (info->analyze_only)
		return stats;
	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));

	/* rewrite segments that lost docs, so statistics are exact again */
	LockPage(index, BM25_LOCK_STRUCT, ShareLock);
	LockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
	for (;;)
	{
		uint32		id = 0;

		Bm25ReadMeta(index, &m);
		for (uint32 s = 0; s < m.nsegments && id == 0; s++)
			if (m.segs[s].ndeleted > 0)
				id = m.segs[s].seg_id;
		if (id == 0)
			break;
		Bm25MergeSegments(index, &id, 1);
	}
	UnlockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
	UnlockPage(index, BM25_LOCK_STRUCT, ShareLock);
	Bm25FlushWal(index);

	if (ConditionalLockPage(index, BM25_LOCK_STRUCT, ExclusiveLock))
	{
		stats->pages_free = Bm25Recycle(index);
		UnlockPage(index, BM25_LOCK_STRUCT, ExclusiveLock);
	}
	Bm25ReadMeta(index, &m);
	stats->num_pages = RelationGetNumberOfBlocks(index);
	stats->num_index_tuples = m.ndocs;
	stats->estimated_count = false;
	return stats;
}
