/*
 * toastfetch.h
 *	  Reading many out-of-line (TOASTed) values of one table with a single
 *	  open toast index scan.
 *
 * Re-ranking reads the exact vector of each candidate from the heap; at
 * 768+ dimensions every vector is stored out of line, and the generic
 * detoast path opens the toast table and its index and builds a fresh
 * index scan for every value.  A scan of the index AM keeps one
 * LanceToastFetch for its lifetime instead, and a value read before by the
 * backend is read again by its chunk TIDs, without the toast index.
 */
#ifndef LANCEDB_TOASTFETCH_H
#define LANCEDB_TOASTFETCH_H

#include "postgres.h"

#include "utils/relcache.h"

typedef struct LanceToastFetch LanceToastFetch;

/* NULL when the table has no toast relation */
extern LanceToastFetch *lance_toast_fetch_begin(Relation heap);

/*
 * An out-of-line value of this table read into memory (uncompressed values
 * through the open scan, into a buffer the next call reuses; compressed
 * ones by the generic detoast path); any other datum is returned as it is,
 * for the caller's functions to detoast.  *copied says whether the result
 * was palloc'd (the caller may pfree it); otherwise it is valid until the
 * next call.
 */
extern struct varlena *lance_toast_fetch(LanceToastFetch *tf,
										 struct varlena *attr, bool *copied);

extern void lance_toast_fetch_end(LanceToastFetch *tf);

#endif							/* LANCEDB_TOASTFETCH_H */
