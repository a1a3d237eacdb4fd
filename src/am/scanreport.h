/*
 * scanreport.h
 *	  What lancedb index scans did, shown by EXPLAIN ANALYZE (LanceDB's
 *	  analyze_plan): every lancedb AM reports its counters when a scan ends,
 *	  and EXPLAIN ANALYZE prints one line per index after the plan.
 *
 * PostgreSQL 15 gives index AMs no way to add lines to their own plan
 * node, so the lines follow the plan (an ExplainOneQuery hook collects
 * them while the explained query runs).
 */
#ifndef LANCEDB_SCANREPORT_H
#define LANCEDB_SCANREPORT_H

#include "postgres.h"

#include "utils/relcache.h"

#define LANCE_SCAN_MAX_COUNTERS 12

typedef struct LanceScanCounter
{
	const char *name;			/* static string, e.g. "lists probed" */
	int64		value;
} LanceScanCounter;

/* Install the EXPLAIN hook (from _PG_init). */
extern void lance_scan_report_init(void);

/* Is an EXPLAIN ANALYZE collecting reports right now? */
extern bool lance_scan_report_active(void);

/*
 * Add what one scan of `index` did (counters of the same index and names
 * are summed across scans and rescans; `loops` counts rescans).
 */
extern void lance_scan_report(Relation index, const char *am, int64 loops,
							  const LanceScanCounter *counters, int ncounters);

#endif							/* LANCEDB_SCANREPORT_H */
