/*
 * heapdist.h
 *	  Exact distances of index candidates read from the table, shared by the
 *	  vector AMs' re-ranking: fetch the row visible to the scan's snapshot,
 *	  take the indexed value (column or expression; out-of-line vectors
 *	  through one open toast scan) and call the opclass distance function.
 */
#ifndef LANCEDB_HEAPDIST_H
#define LANCEDB_HEAPDIST_H

#include "postgres.h"

#include "storage/itemptr.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

typedef struct LanceHeapDist LanceHeapDist;

/* allocated in the current memory context, for the life of a scan */
extern LanceHeapDist *lance_heapdist_begin(Relation index, Relation heap);

/*
 * The exact SQL distance between the query and the row at tid; false when
 * no version of the row is visible or its value is NULL.
 */
extern bool lance_heapdist_get(LanceHeapDist *hd, Snapshot snapshot,
							   ItemPointer tid, Datum query, double *value);

/*
 * The same, also saying which out-of-line toast value the row's value is
 * (*valueid InvalidOid when it is stored in line or computed), for
 * vector/distmemo.h.
 */
extern bool lance_heapdist_get_toast(LanceHeapDist *hd, Snapshot snapshot,
									 ItemPointer tid, Datum query, double *value,
									 Oid *toastrelid, Oid *valueid);

/*
 * The indexed value itself (detoasted, a copy in the current memory
 * context), of the version of the row at tid that the snapshot sees (any
 * version for SnapshotAny); NULL when none or when the value is NULL.
 * For rebuilding an index's entries from exact vectors.
 */
extern struct varlena *lance_heapdist_value(LanceHeapDist *hd, Snapshot snapshot,
											ItemPointer tid);
/*
 * Start loading what reading the row at tid will touch (hints only), in
 * three stages for candidates further and further ahead: each stage's
 * addresses come from what the stage before it loaded, so a scan asks for
 * the hint slot of a row it reads in about three steps, the block's buffer
 * header, page header and line pointer of one it reads in about two, and
 * the row itself of the next one.
 */
extern void lance_heapdist_prefetch_hint(LanceHeapDist *hd, ItemPointer tid);
extern void lance_heapdist_prefetch(LanceHeapDist *hd, ItemPointer tid);
extern void lance_heapdist_prefetch_row(LanceHeapDist *hd, ItemPointer tid);
extern void lance_heapdist_end(LanceHeapDist *hd);

#endif							/* LANCEDB_HEAPDIST_H */
