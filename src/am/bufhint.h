/*
 * bufhint.h
 *	  Reading table blocks through a backend-local "recent buffer" hint.
 *
 * Re-ranking reads one row per candidate, scattered over the table; with a
 * large shared_buffers each ReadBuffer is a buffer-mapping hash lookup that
 * misses the CPU caches, plus a partition lock.  A backend remembers which
 * shared buffer each (relation, block) was last found in and tries that
 * buffer first (ReadRecentBuffer checks its tag under the header lock, so a
 * stale hint only costs the fallback lookup).
 */
#ifndef LANCEDB_BUFHINT_H
#define LANCEDB_BUFHINT_H

#include "postgres.h"

#include "storage/buf.h"
#include "storage/block.h"
#include "storage/itemptr.h"
#include "utils/snapshot.h"
#include "utils/relcache.h"

/*
 * The main-fork block blkno of rel, pinned (not locked); the same as
 * ReadBufferExtended(rel, MAIN_FORKNUM, blkno, RBM_NORMAL, NULL).
 */
extern Buffer lance_read_buffer_hinted(Relation rel, BlockNumber blkno);

/*
 * Search the HOT chain at tid for the version snapshot sees, in block
 * tid's block pinned in *buf (the pin of *cur is kept when it is the same
 * block, else released and the block read through the hint); true and
 * *tuple (pointing into the pinned page) when found.
 */
struct HeapTupleData;
extern bool lance_hot_search_pinned(Relation rel, Buffer *buf, BlockNumber *cur,
									ItemPointer tid, Snapshot snapshot,
									struct HeapTupleData *tuple);

/* the hinted buffer of the block, unchecked (InvalidBuffer: none), for prefetching */
extern Buffer lance_buffer_hint_peek(Relation rel, BlockNumber blkno);

/* ask for the cache line of the block's hint slot (a hint only) */
extern void lance_buffer_hint_prefetch(Relation rel, BlockNumber blkno);

#endif							/* LANCEDB_BUFHINT_H */
