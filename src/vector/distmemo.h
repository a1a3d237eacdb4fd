/*
 * distmemo.h
 *	  The exact distance an index scan computed for the row it is returning,
 *	  for the executor's own evaluation of the same ORDER BY expression.
 *
 * PostgreSQL 15 evaluates `v <-> $1` again in the projection of every row
 * an ordered index scan returns, even when the index computed it exactly:
 * for an out-of-line (TOASTed) vector that is a second read of the toast
 * table, as costly as the scan's own re-ranking of that row.  The scan
 * leaves the value here, keyed by what determines it: the distance
 * function, the toast pointer (relation and value id) of the indexed
 * value and the bytes of the query; the distance functions look here
 * before detoasting.  A key that does not match is simply a miss.  The
 * scan clears the entry whenever it is called again, rescanned or ended,
 * and transaction end clears it too, so an entry lives only while the
 * executor handles that one row (a toast value id cannot be reused
 * meanwhile: the row is visible to the running scan).
 */
#ifndef LANCEDB_DISTMEMO_H
#define LANCEDB_DISTMEMO_H

#include "postgres.h"

#include "fmgr.h"

typedef struct LanceDistMemo
{
	bool		valid;
	Oid			fn_oid;			/* the distance function */
	Oid			toastrelid;		/* the indexed value's toast pointer */
	Oid			valueid;
	double		result;
	int64	   *hits;			/* the setter's counter, bumped on a hit */
	Size		qlen;			/* the query's bytes (plain varlena) */
	char	   *q;				/* TopMemoryContext, qcap bytes */
	Size		qcap;
} LanceDistMemo;

extern LanceDistMemo lance_distmemo;

/*
 * fn_oid(value, query) = result for the row being returned, whose value
 * is the out-of-line toast value (toastrelid, valueid); a no-op when
 * valueid is invalid (the value was stored in line: no second read).
 * Replaces the previous entry; a hit bumps *hits.
 */
extern void lance_distmemo_set(Oid fn_oid, Datum query, Oid toastrelid,
							   Oid valueid, double result, int64 *hits);

static inline void
lance_distmemo_clear(void)
{
	lance_distmemo.valid = false;
}

/* For distance functions: the memo's result when it applies to this call. */
extern bool lance_distmemo_lookup(FunctionCallInfo fcinfo, double *result);

#define LANCE_DISTMEMO_RETURN(fcinfo) \
	do { \
		double		_memo; \
		if (lance_distmemo.valid && lance_distmemo_lookup(fcinfo, &_memo)) \
			PG_RETURN_FLOAT8(_memo); \
	} while (0)

#endif							/* LANCEDB_DISTMEMO_H */
