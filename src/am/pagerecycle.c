/*
 * pagerecycle.c
 *	  Recovery conflicts for recycled index pages (see pagerecycle.h).
 *
 * The record is nbtree's REUSE_PAGE: its redo only resolves the conflict
 * (cancelling or waiting for standby queries whose snapshot is as old as
 * the xid) and touches no page, so it serves any index.
 */
#include "postgres.h"

#include "access/nbtxlog.h"
#include "access/xlog.h"
#include "access/xloginsert.h"
#include "am/pagerecycle.h"
#include "utils/rel.h"

FullTransactionId
LanceRecentFullXid(TransactionId xid)
{
	FullTransactionId next = ReadNextFullTransactionId();
	uint32		epoch = EpochFromFullTransactionId(next);

	if (!TransactionIdIsNormal(xid))
		return FullTransactionIdFromEpochAndXid(0, xid);
	/* xid is behind next: if its low bits are above next's, it wrapped */
	if (xid > XidFromFullTransactionId(next) && epoch > 0)
		epoch--;
	return FullTransactionIdFromEpochAndXid(epoch, xid);
}

void
LanceLogPageReuse(Relation index, BlockNumber blkno, FullTransactionId safexid)
{
	xl_btree_reuse_page xlrec;

	if (!XLogStandbyInfoActive() || !RelationNeedsWAL(index) ||
		!FullTransactionIdIsValid(safexid))
		return;
	xlrec.node = index->rd_node;
	xlrec.block = blkno;
	xlrec.latestRemovedFullXid = safexid;
	XLogBeginInsert();
	XLogRegisterData((char *) &xlrec, SizeOfBtreeReusePage);
	XLogInsert(RM_BTREE_ID, XLOG_BTREE_REUSE_PAGE);
}
