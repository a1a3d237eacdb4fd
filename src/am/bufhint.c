/*
 * bufhint.c
 *	  Backend-local recent-buffer hints for table block reads (see bufhint.h).
 *
 * The hint table is a direct-mapped array of buffer numbers indexed by a
 * hash of (relfilenode, block), allocated on first use and sized after
 * shared_buffers (capped at 1 MB): collisions just overwrite.  Nothing in
 * it is trusted: ReadRecentBuffer pins the hinted buffer only when it is
 * valid and its tag names the wanted block, so a hint left behind by a
 * dropped, truncated or evicted block, or by another database's relation
 * with the same relfilenode, falls back to the normal lookup.  Temporary
 * tables (local buffers) always take the normal path.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "am/bufhint.h"
#include "common/hashfn.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#if PG_VERSION_NUM >= 140000

#define BUFHINT_MAX_SLOTS	(1 << 18)

static Buffer *bufhint_slots;
static uint32 bufhint_mask;

static inline uint32
bufhint_slot(Relation rel, BlockNumber blkno)
{
#if PG_VERSION_NUM >= 160000
	uint32		relnumber = rel->rd_locator.relNumber;
#else
	uint32		relnumber = rel->rd_node.relNode;
#endif

	return murmurhash32(blkno ^ (relnumber * 0x9E3779B1u)) & bufhint_mask;
}

static void
bufhint_init(void)
{
	uint32		n = 1024;

	while (n < (uint32) NBuffers && n < BUFHINT_MAX_SLOTS)
		n <<= 1;
	/* zero is InvalidBuffer: no hint */
	bufhint_slots = MemoryContextAllocZero(TopMemoryContext, n * sizeof(Buffer));
	bufhint_mask = n - 1;
}
#endif

Buffer
lance_buffer_hint_peek(Relation rel, BlockNumber blkno)
{
#if PG_VERSION_NUM >= 140000
	if (bufhint_slots == NULL || RelationUsesLocalBuffers(rel))
		return InvalidBuffer;
	return bufhint_slots[bufhint_slot(rel, blkno)];
#else
	return InvalidBuffer;
#endif
}

void
lance_buffer_hint_prefetch(Relation rel, BlockNumber blkno)
{
#if PG_VERSION_NUM >= 140000
	if (bufhint_slots != NULL && !RelationUsesLocalBuffers(rel))
		__builtin_prefetch(&bufhint_slots[bufhint_slot(rel, blkno)]);
#endif
}

Buffer
lance_read_buffer_hinted(Relation rel, BlockNumber blkno)
{
#if PG_VERSION_NUM >= 140000
	uint32		slot;
	Buffer		buf;

	if (RelationUsesLocalBuffers(rel))
		return ReadBufferExtended(rel, MAIN_FORKNUM, blkno, RBM_NORMAL, NULL);
	if (bufhint_slots == NULL)
		bufhint_init();
	slot = bufhint_slot(rel, blkno);
	buf = bufhint_slots[slot];
	if (BufferIsValid(buf) &&
#if PG_VERSION_NUM >= 160000
		ReadRecentBuffer(rel->rd_locator, MAIN_FORKNUM, blkno, buf)
#else
		ReadRecentBuffer(rel->rd_node, MAIN_FORKNUM, blkno, buf)
#endif
		)
	{
		/* what ReadBufferExtended would have counted for a hit */
		pgstat_count_buffer_read(rel);
		pgstat_count_buffer_hit(rel);
		return buf;
	}
	buf = ReadBufferExtended(rel, MAIN_FORKNUM, blkno, RBM_NORMAL, NULL);
	bufhint_slots[slot] = buf;
	return buf;
#else
	return ReadBufferExtended(rel, MAIN_FORKNUM, blkno, RBM_NORMAL, NULL);
#endif
}

bool
lance_hot_search_pinned(Relation rel, Buffer *buf, BlockNumber *cur,
						ItemPointer tid, Snapshot snapshot,
						struct HeapTupleData *tuple)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	bool		all_dead;
	bool		found;

	if (*buf == InvalidBuffer || *cur != blkno)
	{
		if (*buf != InvalidBuffer)
			ReleaseBuffer(*buf);
		*buf = InvalidBuffer;	/* if the read fails */
		*buf = lance_read_buffer_hinted(rel, blkno);
		*cur = blkno;
	}
	LockBuffer(*buf, BUFFER_LOCK_SHARE);
	found = heap_hot_search_buffer(tid, rel, *buf, snapshot, tuple,
								   &all_dead, true);
	LockBuffer(*buf, BUFFER_LOCK_UNLOCK);
	return found;
}
