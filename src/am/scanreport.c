/*
 * scanreport.c
 *	  EXPLAIN ANALYZE lines for lancedb index scans (see scanreport.h).
 *
 * While an EXPLAIN ANALYZE runs its query, ending scans add their counters
 * to a list owned by that EXPLAIN; after the plan is printed, one line (or
 * one object in the structured formats) per index follows.  A nested
 * EXPLAIN ANALYZE (inside a function the query calls) collects its own.
 */
#include "postgres.h"

#include "am/scanreport.h"
#include "commands/explain.h"
#include "executor/instrument.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "portability/instr_time.h"
#include "tcop/tcopprot.h"
#include "utils/rel.h"

typedef struct ScanReport
{
	Oid			indexoid;
	char		index[NAMEDATALEN];
	const char *am;
	int64		loops;
	int			ncounters;
	LanceScanCounter counters[LANCE_SCAN_MAX_COUNTERS];
} ScanReport;

static ExplainOneQuery_hook_type prev_explain_hook = NULL;
static List *reports = NIL;
static MemoryContext report_cxt = NULL;
static int	collecting = 0;

bool
lance_scan_report_active(void)
{
	return collecting > 0;
}

void
lance_scan_report(Relation index, const char *am, int64 loops,
				  const LanceScanCounter *counters, int ncounters)
{
	ScanReport *r = NULL;
	ListCell   *lc;

	if (collecting == 0 || report_cxt == NULL)
		return;
	foreach(lc, reports)
	{
		ScanReport *x = (ScanReport *) lfirst(lc);

		if (x->indexoid == RelationGetRelid(index) && strcmp(x->am, am) == 0)
		{
			r = x;
			break;
		}
	}
	if (r == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(report_cxt);

		r = palloc0(sizeof(ScanReport));
		r->indexoid = RelationGetRelid(index);
		strlcpy(r->index, RelationGetRelationName(index), NAMEDATALEN);
		r->am = am;
		reports = lappend(reports, r);
		MemoryContextSwitchTo(old);
	}
	r->loops += loops;
	for (int i = 0; i < ncounters; i++)
	{
		int			j;

		for (j = 0; j < r->ncounters; j++)
			if (strcmp(r->counters[j].name, counters[i].name) == 0)
				break;
		if (j == r->ncounters)
		{
			if (r->ncounters == LANCE_SCAN_MAX_COUNTERS)
				continue;
			r->counters[j].name = counters[i].name;
			r->counters[j].value = 0;
			r->ncounters++;
		}
		r->counters[j].value += counters[i].value;
	}
}

static void
print_reports(List *list, ExplainState *es)
{
	ListCell   *lc;

	if (list == NIL)
		return;
	if (es->format == EXPLAIN_FORMAT_TEXT)
	{
		foreach(lc, list)
		{
			ScanReport *r = (ScanReport *) lfirst(lc);
			StringInfoData buf;

			initStringInfo(&buf);
			appendStringInfo(&buf, "loops=" INT64_FORMAT, r->loops);
			for (int i = 0; i < r->ncounters; i++)
				appendStringInfo(&buf, ", %s=" INT64_FORMAT,
								 r->counters[i].name, r->counters[i].value);
			ExplainPropertyText(psprintf("%s scan of %s", r->am, r->index),
								buf.data, es);
		}
		return;
	}
	ExplainOpenGroup("Lancedb", NULL, true, es);
	ExplainOpenGroup("Lancedb Scans", "Lancedb Scans", false, es);
	foreach(lc, list)
	{
		ScanReport *r = (ScanReport *) lfirst(lc);

		ExplainOpenGroup("Lancedb Scan", NULL, true, es);
		ExplainPropertyText("Index Name", r->index, es);
		ExplainPropertyText("Access Method", r->am, es);
		ExplainPropertyInteger("Loops", NULL, r->loops, es);
		for (int i = 0; i < r->ncounters; i++)
			ExplainPropertyInteger(r->counters[i].name, NULL, r->counters[i].value, es);
		ExplainCloseGroup("Lancedb Scan", NULL, true, es);
	}
	ExplainCloseGroup("Lancedb Scans", "Lancedb Scans", false, es);
	ExplainCloseGroup("Lancedb", NULL, true, es);
}

/* What ExplainOneQuery does without a hook: plan, then explain the plan. */
static void
explain_one_query_standard(Query *query, int cursorOptions, IntoClause *into,
						   ExplainState *es, const char *queryString,
						   ParamListInfo params, QueryEnvironment *queryEnv)
{
#if PG_VERSION_NUM >= 170000
	standard_ExplainOneQuery(query, cursorOptions, into, es, queryString,
							 params, queryEnv);
#else
	PlannedStmt *plan;
	instr_time	start;
	instr_time	duration;
	BufferUsage bufstart;
	BufferUsage bufusage;

	if (es->buffers)
		bufstart = pgBufferUsage;
	INSTR_TIME_SET_CURRENT(start);
	plan = pg_plan_query(query, queryString, cursorOptions, params);
	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);
	if (es->buffers)
	{
		memset(&bufusage, 0, sizeof(BufferUsage));
		BufferUsageAccumDiff(&bufusage, &pgBufferUsage, &bufstart);
	}
	ExplainOnePlan(plan, into, es, queryString, params, queryEnv, &duration,
				   es->buffers ? &bufusage : NULL);
#endif
}

static void
lance_explain_one_query(Query *query, int cursorOptions, IntoClause *into,
						ExplainState *es, const char *queryString,
						ParamListInfo params, QueryEnvironment *queryEnv)
{
	List	   *save_reports = reports;
	MemoryContext save_cxt = report_cxt;
	bool		collect = es->analyze;

	if (collect)
	{
		reports = NIL;
		report_cxt = CurrentMemoryContext;
		collecting++;
	}
	PG_TRY();
	{
		if (prev_explain_hook)
			prev_explain_hook(query, cursorOptions, into, es, queryString,
							  params, queryEnv);
		else
			explain_one_query_standard(query, cursorOptions, into, es,
									   queryString, params, queryEnv);
		if (collect)
			print_reports(reports, es);
	}
	PG_FINALLY();
	{
		if (collect)
		{
			collecting--;
			reports = save_reports;
			report_cxt = save_cxt;
		}
	}
	PG_END_TRY();
}

void
lance_scan_report_init(void)
{
	prev_explain_hook = ExplainOneQuery_hook;
	ExplainOneQuery_hook = lance_explain_one_query;
}
