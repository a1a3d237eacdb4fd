/*
 * ivf.c
 *	  lance_ivf handler: options, settings, cost estimate and opclass
 *	  validation.  Build, insert, scan and vacuum live in their own files.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amvalidate.h"
#include "access/reloptions.h"
#include "am/ivf.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"
#include "utils/syscache.h"

int			lancedb_nprobes = 20;
int			lancedb_refine_factor = 0;
int			lancedb_iterative_scan = IVF_ITERATIVE_RELAXED;
int			lancedb_max_probes = -1;
int			lancedb_multivector_candidates = 32;
bool		lancedb_bypass_vector_index = false;
bool		lancedb_fast_search = false;
bool		lancedb_ivf_reuse_distances = true;
bool		lancedb_ivf_defer_candidates = true;

static relopt_kind ivf_relopt_kind;

static relopt_enum_elt_def quantizer_values[] = {
	{"flat", QUANT_FLAT},
	{"sq", QUANT_SQ},
	{"pq", QUANT_PQ},
	{"rq", QUANT_RQ},
	{(const char *) NULL}
};

static const struct config_enum_entry iterative_scan_options[] = {
	{"off", IVF_ITERATIVE_OFF, false},
	{"relaxed_order", IVF_ITERATIVE_RELAXED, false},
	{"strict_order", IVF_ITERATIVE_STRICT, false},
	{NULL, 0, false}
};

/* The quantizer when WITH names none: see docs/tuning.md for the choice. */
#define IVF_DEFAULT_QUANTIZER	QUANT_RQ

void
IvfInit(void)
{
	ivf_relopt_kind = add_reloption_kind();
	add_int_reloption(ivf_relopt_kind, "lists",
					  "Number of inverted lists (0 = sqrt(rows) at build time)",
					  0, 0, 1000000, AccessExclusiveLock);
	add_enum_reloption(ivf_relopt_kind, "quantizer",
					   "How list entries are encoded",
					   quantizer_values, IVF_DEFAULT_QUANTIZER,
					   "Valid values are \"flat\", \"sq\", \"pq\" and \"rq\".",
					   AccessExclusiveLock);
	add_int_reloption(ivf_relopt_kind, "num_sub_vectors",
					  "PQ sub-vectors (0 = dim/16, or dim/8 when not divisible)",
					  0, 0, 16000, AccessExclusiveLock);
	add_int_reloption(ivf_relopt_kind, "num_bits",
					  "Bits per PQ sub-vector (4 or 8) or per RaBitQ dimension (1 to 8); 0 = default",
					  0, 0, 8, AccessExclusiveLock);
	add_int_reloption(ivf_relopt_kind, "sample_rate",
					  "Training samples per list",
					  IVF_DEFAULT_SAMPLE_RATE, 2, 1000000, AccessExclusiveLock);
	add_int_reloption(ivf_relopt_kind, "max_iterations",
					  "k-means iterations at most",
					  IVF_DEFAULT_MAX_ITERATIONS, 1, 10000, AccessExclusiveLock);

	DefineCustomRealVariable("lancedb.ivf_split_ratio",
							 "A lance_ivf list larger than this multiple of the mean list is split in place by maintenance.",
							 "Split by 2-means on the list's exact vectors; entries of nearby lists whose nearest centroid changed move (LIRE).",
							 &lancedb_ivf_split_ratio, 3.0, 1.5, 1e6,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("lancedb.ivf_merge_ratio",
							 "A lance_ivf list smaller than this fraction of the mean list is merged into its neighbours by maintenance.",
							 "0 disables merges.",
							 &lancedb_ivf_merge_ratio, 0.1, 0.0, 0.5,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("lancedb.ivf_rebalance_ops",
							"Splits and merges of lance_ivf lists one maintenance round does at most.",
							"Each rewrites the lists around it on new pages; those pages are reused from the next round on, so fewer per round keep the index smaller.",
							&lancedb_ivf_rebalance_ops, 8, 1, 10000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("lancedb.nprobes",
							"Lists an IVF scan probes first.",
							"More lists: higher recall, slower queries.",
							&lancedb_nprobes, 20, 1, 1000000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("lancedb.refine_factor",
							"Re-rank at least refine_factor x k candidates with exact distances.",
							"0 relies on the quantizer's distance bounds alone.",
							&lancedb_refine_factor, 0, 0, 10000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("lancedb.iterative_scan",
							 "Keep probing lists until enough rows pass the query's filters.",
							 "strict_order never returns rows out of distance order; relaxed_order may.",
							 &lancedb_iterative_scan, IVF_ITERATIVE_RELAXED,
							 iterative_scan_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("lancedb.ivf_reuse_distances",
							 "Let the executor reuse the exact distance a lance_ivf scan computed for the row it returns.",
							 "PostgreSQL evaluates the ORDER BY distance again for every row an index scan returns; for out-of-line (TOASTed) vectors that is a second read of the toast table.  Off: the executor recomputes it (for measurements).",
							 &lancedb_ivf_reuse_distances, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("lancedb.ivf_defer_candidates",
							 "Let a lance_ivf ORDER BY scan leave out the estimated entries that cannot rank near the top until they are needed.",
							 "With RaBitQ, once a scan holds enough candidates the estimate kernel keeps only entries below a threshold and the pages with others are estimated again if the scan goes that deep.  Off: every estimated entry becomes a candidate (for measurements and tests; results are the same).",
							 &lancedb_ivf_defer_candidates, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("lancedb.max_probes",
							"Lists an iterative IVF scan probes at most (-1 = all).",
							NULL,
							&lancedb_max_probes, -1, -1, 1000000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("lancedb.bypass_vector_index",
							 "Answer vector queries exactly, without lancedb vector indexes.",
							 "LanceDB's bypass_vector_index: the planner gets no path through lance_ivf (or lance_hnsw) indexes, so ORDER BY distance runs as an exact scan.",
							 &lancedb_bypass_vector_index, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("lancedb.fast_search",
							 "Search only what the indexes have indexed (LanceDB's fast_search).",
							 "lance_bm25 skips the rows of its write-optimised delta not yet flushed into a segment; lance_ivf and lance_hnsw index every row at insert, so it changes nothing for them.",
							 &lancedb_fast_search, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("lancedb.multivector_candidates",
							"Index entries taken per query vector by a multivector IVF scan.",
							"The rows they belong to are ranked by exact MaxSim; when a filter needs more rows, each further batch takes twice as many.",
							&lancedb_multivector_candidates, 32, 1, 100000,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

bytea *
ivfoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"lists", RELOPT_TYPE_INT, offsetof(IvfOptions, lists)},
		{"quantizer", RELOPT_TYPE_ENUM, offsetof(IvfOptions, quantizer_offset)},
		{"num_sub_vectors", RELOPT_TYPE_INT, offsetof(IvfOptions, num_sub_vectors)},
		{"num_bits", RELOPT_TYPE_INT, offsetof(IvfOptions, num_bits)},
		{"sample_rate", RELOPT_TYPE_INT, offsetof(IvfOptions, sample_rate)},
		{"max_iterations", RELOPT_TYPE_INT, offsetof(IvfOptions, max_iterations)},
	};

	return (bytea *) build_reloptions(reloptions, validate, ivf_relopt_kind,
									  sizeof(IvfOptions), tab, lengthof(tab));
}

QuantKind
IvfOptionQuantizer(Relation index)
{
	IvfOptions *opts = (IvfOptions *) index->rd_options;

	return opts ? (QuantKind) opts->quantizer_offset : IVF_DEFAULT_QUANTIZER;
}

/*
 * Cost: the planner should pick the index for ORDER BY <op> LIMIT k (and
 * range predicates) and leave plain filters to other plans.
 *
 * The first row costs the probed share of the index (nprobes of the lists:
 * their pages, and an entry cost and a distance per entry), all paid
 * before it is returned: the startup cost.  Every later row an
 * iterative scan needs beyond what those lists hold means probing more
 * lists, up to all of them for the whole table, so the total cost is that
 * of probing every list; PostgreSQL's LIMIT takes startup + k / rows of
 * the rest, and a filter's selectivity raises k / rows the way the
 * iterative scan really probes more.  Without an iterative scan the scan
 * ends with its nprobes lists, so the total is the startup cost.
 */
static void
IvfListCosts(PlannerInfo *root, IndexPath *path, double loop_count,
			 double fraction, GenericCosts *costs)
{
	double		spc_seq_page_cost;

	MemSet(costs, 0, sizeof(*costs));
	costs->numIndexTuples = path->indexinfo->tuples * fraction;
	genericcostestimate(root, path, loop_count, costs);
	get_tablespace_page_costs(path->indexinfo->reltablespace, NULL,
							  &spc_seq_page_cost);
	/* lists are read sequentially, not at random */
	costs->indexTotalCost -= costs->numIndexPages *
		(costs->spc_random_page_cost - spc_seq_page_cost);
}

static void
ivfcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				Cost *indexStartupCost, Cost *indexTotalCost,
				Selectivity *indexSelectivity, double *indexCorrelation,
				double *indexPages)
{
	GenericCosts first;
	GenericCosts all;
	IvfIndexCache *cache;
	Relation	index;
	double		nlists = 1;
	double		ratio;
	bool		has_range = false;
	ListCell   *lc;

	foreach(lc, path->indexclauses)
	{
		IndexClause *ic = lfirst_node(IndexClause, lc);

		if (ic->indexcol == 0)
			has_range = true;
	}

	/*
	 * Nothing for the index to do without an ordering or a range; and none
	 * of its approximation when exact search is asked for
	 * (lancedb.bypass_vector_index, LanceDB's bypass_vector_index)
	 */
	if ((path->indexorderbys == NIL && !has_range) || lancedb_bypass_vector_index)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	index = index_open(path->indexinfo->indexoid, NoLock);
	cache = IvfGetCache(index);
	if (cache->meta.trained)
		nlists = Max(cache->meta.nlists, 1);
	index_close(index, NoLock);

	/* a range without an ordering reads every list that may hold a row */
	ratio = has_range && path->indexorderbys == NIL ? 1.0 :
		Min(1.0, (double) lancedb_nprobes / nlists);
	IvfListCosts(root, path, loop_count, ratio, &first);
	if (ratio < 1.0 && path->indexorderbys != NIL &&
		lancedb_iterative_scan != IVF_ITERATIVE_OFF)
		IvfListCosts(root, path, loop_count, 1.0, &all);
	else
		all = first;

	*indexStartupCost = first.indexTotalCost;
	*indexTotalCost = Max(all.indexTotalCost, first.indexTotalCost);
	*indexSelectivity = all.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = all.numIndexPages;
}

static bool
ivfvalidate(Oid opclassoid)
{
	return LanceValidateOpclass(opclassoid, "lance_ivf", IVF_METRIC_PROC);
}

/* sub-phases of CREATE INDEX in pg_stat_progress_create_index */
static char *
ivfbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case IVF_PHASE_SAMPLING:
			return "sampling";
		case IVF_PHASE_TRAINING:
			return "training";
		case IVF_PHASE_ASSIGNING:
			return "assigning and encoding";
		case IVF_PHASE_WRITING:
			return "writing lists";
	}
	return NULL;
}

LANCEDB_FUNCTION(lance_ivf_handler);
Datum
lance_ivf_handler(PG_FUNCTION_ARGS)
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
#if PG_VERSION_NUM >= 130000
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
#endif
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = ivfbuild;
	amroutine->ambuildempty = ivfbuildempty;
	amroutine->aminsert = ivfinsert;
	amroutine->ambulkdelete = ivfbulkdelete;
	amroutine->amvacuumcleanup = ivfvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = ivfcostestimate;
	amroutine->amoptions = ivfoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = ivfbuildphasename;
	amroutine->amvalidate = ivfvalidate;
#if PG_VERSION_NUM >= 140000
	amroutine->amadjustmembers = NULL;
#endif
	amroutine->ambeginscan = ivfbeginscan;
	amroutine->amrescan = ivfrescan;
	amroutine->amgettuple = ivfgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = ivfendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
