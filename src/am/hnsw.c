/*
 * hnsw.c
 *	  lance_hnsw handler: options, settings, cost estimate and opclass
 *	  validation.  Build, insert, search, scan, vacuum and statistics live
 *	  in their own files.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/reloptions.h"
#include "am/hnsw.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/selfuncs.h"
#include "utils/catcache.h"
#include "utils/syscache.h"

int			lancedb_ef_search = HNSW_DEFAULT_EF_SEARCH;
int			lancedb_max_scan_tuples = 20000;
double		lancedb_hnsw_repair_threshold = 0.05;

static relopt_kind hnsw_relopt_kind;

static relopt_enum_elt_def hnsw_quantizer_values[] = {
	{"none", QUANT_FLAT},
	{"sq", QUANT_SQ},
	{"pq", QUANT_PQ},
	{(const char *) NULL}
};

void
HnswInit(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m",
					  "Neighbours per element on the upper levels (2m on level 0)",
					  HNSW_DEFAULT_M, 2, HNSW_MAX_M, AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction",
					  "Candidate list size while linking an element",
					  HNSW_DEFAULT_EF_CONSTRUCTION, 4, 1000, AccessExclusiveLock);
	add_enum_reloption(hnsw_relopt_kind, "quantizer",
					   "How elements are stored and compared during graph traversal",
					   hnsw_quantizer_values, QUANT_FLAT,
					   "Valid values are \"none\", \"sq\" and \"pq\".",
					   AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "num_sub_vectors",
					  "PQ sub-vectors (0 = dim/4, at least 1)",
					  0, 0, 16000, AccessExclusiveLock);

	DefineCustomIntVariable("lancedb.ef_search",
							"Candidate list size of an HNSW scan.",
							"Larger: higher recall, slower queries.",
							&lancedb_ef_search, HNSW_DEFAULT_EF_SEARCH, 1, 10000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("lancedb.max_scan_tuples",
							"Elements an iterative HNSW scan visits at most.",
							"The scan then stops even if filters rejected rows.",
							&lancedb_max_scan_tuples, 20000, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("lancedb.hnsw_repair_threshold",
							 "Fraction of dead, unrepaired rows at which maintenance repairs an HNSW graph.",
							 "Background maintenance (and lancedb.optimize) then rewires the neighbours of dead elements, so VACUUM only frees them.",
							 &lancedb_hnsw_repair_threshold, 0.05, 0.0, 1.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

bytea *
hnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_construction)},
		{"quantizer", RELOPT_TYPE_ENUM, offsetof(HnswOptions, quantizer)},
		{"num_sub_vectors", RELOPT_TYPE_INT, offsetof(HnswOptions, num_sub_vectors)},
	};

	return (bytea *) build_reloptions(reloptions, validate, hnsw_relopt_kind,
									  sizeof(HnswOptions), tab, lengthof(tab));
}

/*
 * Cost: a graph scan touches about ef_search x log(rows) elements, each a
 * random page; the planner should use the index for ORDER BY <op> LIMIT k
 * and range predicates only.
 */
static void
hnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	double		tuples = Max(path->indexinfo->tuples, 1);
	bool		has_range = false;
	ListCell   *lc;

	foreach(lc, path->indexclauses)
	{
		IndexClause *ic = lfirst_node(IndexClause, lc);

		if (ic->indexcol == 0)
			has_range = true;
	}
	/* lancedb.bypass_vector_index: exact search, no approximate index */
	if ((path->indexorderbys == NIL && !has_range) || lancedb_bypass_vector_index)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	MemSet(&costs, 0, sizeof(costs));
	/*
	 * Elements visited grow with ef_search, but the pages are cached and
	 * each visit is one distance: charged as about 2 x ef_search tuples, so
	 * the planner keeps the index at large ef_search on tables of TOASTed
	 * vectors (which look cheap to scan sequentially).
	 */
	costs.numIndexTuples = Min(tuples, 2.0 * lancedb_ef_search);
	genericcostestimate(root, path, loop_count, &costs);
	/* the whole search runs before the first row comes out */
	*indexStartupCost = costs.indexTotalCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}


static bool
hnswvalidate(Oid opclassoid)
{
	return LanceValidateOpclass(opclassoid, "lance_hnsw", IVF_METRIC_PROC);
}

/* sub-phases of CREATE INDEX in pg_stat_progress_create_index */
static char *
hnswbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case 2:
			return "building graph in memory";
		case 3:
			return "writing graph";
		case 4:
			return "inserting on disk (out of maintenance_work_mem)";
	}
	return NULL;
}

LANCEDB_FUNCTION(lance_hnsw_handler);
Datum
lance_hnsw_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = IVF_METRIC_PROC;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = true;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = hnswbuild;
	amroutine->ambuildempty = hnswbuildempty;
	amroutine->aminsert = hnswinsert;
	amroutine->ambulkdelete = hnswbulkdelete;
	amroutine->amvacuumcleanup = hnswvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = hnswcostestimate;
	amroutine->amoptions = hnswoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = hnswbuildphasename;
	amroutine->amvalidate = hnswvalidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = hnswbeginscan;
	amroutine->amrescan = hnswrescan;
	amroutine->amgettuple = hnswgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = hnswendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
