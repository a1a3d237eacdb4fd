/*
 * pagerecycle.h
 *	  Recycling index pages safely for hot standbys, shared by the access
 *	  methods that free pages (lance_ivf, lance_bm25).
 *
 * A page that left an index structure may still be read by a scan that
 * started before it left.  On the primary the AM waits until the xid it
 * stamped at that moment is older than every snapshot (nbtree's rule for
 * deleted pages).  A standby's queries hold no snapshot the primary can see
 * (unless hot_standby_feedback), so before such a page is overwritten the
 * primary logs a recovery conflict with that xid: replay then waits for, or
 * cancels, the standby queries old enough to be reading it.
 */
#ifndef LANCEDB_PAGERECYCLE_H
#define LANCEDB_PAGERECYCLE_H

#include "postgres.h"

#include "access/transam.h"
#include "storage/block.h"
#include "utils/relcache.h"

/* The full xid of a 32-bit xid assigned less than 2^31 xids ago. */
extern FullTransactionId LanceRecentFullXid(TransactionId xid);

/*
 * Log the recovery conflict for reusing blkno, freed as of safexid (no
 * record when no standby can run queries or the index is unlogged).
 */
extern void LanceLogPageReuse(Relation index, BlockNumber blkno,
							  FullTransactionId safexid);

#endif							/* LANCEDB_PAGERECYCLE_H */
