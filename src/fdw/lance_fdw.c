/*
 * lance_fdw.c
 *	  Foreign-data wrapper for Lance datasets written by LanceDB: handler,
 *	  option validator, planning, the scan and its EXPLAIN output.
 *
 * A scan resolves its dataset version when it starts (the table's
 * "version" or "tag", else the latest committed version at that moment),
 * then reads one fragment at a time: only the columns the query uses are
 * decoded, deleted rows are skipped, and each value is converted to the
 * declared column type (lance_fdw_types.c).
 */
#include "fdw/lance_fdw.h"

#include <malloc.h>
#include <math.h>
#include <unistd.h>

#include "access/reloptions.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_type.h"
#include "catalog/pg_attribute.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/cost.h"
#include "optimizer/paths.h"
#include "access/parallel.h"
#include "port/atomics.h"
#include "common/pg_prng.h"
#include "commands/vacuum.h"
#include "access/htup_details.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/guc.h"

/* ---- options ---- */

typedef struct LanceFdwOption
{
	const char *optname;
	Oid			optcontext;		/* catalog the option belongs to */
} LanceFdwOption;

static const LanceFdwOption valid_options[] = {
	{"uri", ForeignServerRelationId},
	{"table", ForeignTableRelationId},
	{"path", ForeignTableRelationId},
	{"version", ForeignTableRelationId},
	{"tag", ForeignTableRelationId},
	{"column_name", AttributeRelationId},
	{"rows_per_fragment", ForeignTableRelationId},
	{NULL, InvalidOid}
};

/* ---- planner and executor state ---- */

/* What GetForeignRelSize learned, for the later planner callbacks. */
typedef struct LancePlanInfo
{
	double		ntuples;		/* live rows of the planned version */
	double		nbytes;			/* size of its data files */
	int			nfields;		/* top-level fields */
	int			nfragments;
} LancePlanInfo;

/*
 * lancedb.lance_fdw_batch_rows: rows decoded per column at a time (rounded
 * out to whole pages), which bounds a scan's memory on big fragments.
 */
static int	lance_fdw_batch_rows = 65536;

/*
 * Pages of big columns decode into buffers of tens of megabytes, freed
 * after each batch.  glibc serves those with mmap/munmap, so every batch
 * paid for fresh zeroed pages (page faults were 40% of a top-k scan).
 * Once a backend scans a Lance dataset, such buffers come from the heap
 * and are reused; up to 256 MB stays with the process between scans.
 */
static void
tune_malloc(void)
{
	static bool done = false;

	if (done)
		return;
	mallopt(M_MMAP_THRESHOLD, 128 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
	done = true;
}

void
LanceFdwInit(void)
{
	DefineCustomIntVariable("lancedb.lance_fdw_batch_rows",
							"Rows of each column lance_fdw decodes at a time.",
							"Whole pages are decoded; larger batches use more memory per column.",
							&lance_fdw_batch_rows,
							65536, 1, 1 << 24,
							PGC_USERSET, GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);
	lance_fdw_maint_init();
}

/* Hidden columns a foreign table may declare (bigint). */
typedef enum LanceHidden
{
	LANCE_HIDDEN_NONE,
	LANCE_HIDDEN_ROWID,			/* _rowid: stable row id, else the address */
	LANCE_HIDDEN_ROWADDR		/* _rowaddr: fragment id << 32 | offset */
} LanceHidden;

/* One column the query needs. */
typedef struct LanceScanColumn
{
	AttrNumber	attnum;
	const char *name;			/* Lance field name */
	int			field;			/* manifest field index, -1 if absent */
	LanceHidden hidden;			/* a hidden column (field is -1) */
	int			file;			/* data file of the current fragment, -1 if none */
	uint64		span_start;		/* rows [span_start, span_end) are in vec */
	uint64		span_end;
	MemoryContext cxt;			/* vec's memory */
	LanceConv	conv;
	LanceVector vec;			/* current fragment's values */
	bool		present;		/* vec holds this fragment's values */
} LanceScanColumn;

typedef struct LanceScanState
{
	LanceFdwTarget target;
	LanceManifest *manifest;
	int			ncols;
	LanceScanColumn *cols;
	MemoryContext fragcxt;		/* decoded values of the current fragment */

	int			next_fragment;
	uint64		row;			/* next row of the current fragment */
	uint64		nrows;			/* physical rows of the current fragment */
	uint8	   *deleted;		/* deletion bitmap or NULL */
	uint64		fragment_id;	/* of the current fragment */
	const LanceFragment *frag;	/* the current fragment */
	uint64	   *rowids;			/* its stable row ids, or NULL */
	bool		need_rowids;	/* a _rowid column is read */

	/* data files open while a fragment is decoded; closed on error too */
	int			maxfiles;
	LanceFileReader *files;
	bool	   *isopen;
	MemoryContextCallback cleanup;

	/* statistics for EXPLAIN ANALYZE */
	uint64		bytes_read;
	uint64		column_reads;

	List	   *attnums;		/* attribute numbers read */
	struct LanceParallelScan *pscan;	/* shared state of a parallel scan */

	/* top-k vector search pushdown (ORDER BY vec <op> q LIMIT k) */
	bool		topk;
	int			topk_col;		/* index in cols of the vector column */
	int			topk_metric;
	int64		topk_k;
	bool		topk_halfvec;
	ExprState  *topk_query;
	bool		topk_done;		/* winners below are ready */
	int64		topk_n;			/* winners */
	int64		topk_next;		/* next winner to return */
	HeapTuple  *topk_tuples;	/* winners' rows, best first */
	MemoryContext topkcxt;
	uint64		topk_ranked;	/* rows whose distance was computed */
	bool	   *topk_qualcols;	/* columns the quals read (NULL: no quals) */
	uint64		topk_checked;	/* candidates checked against the quals */
} LanceScanState;

/* A candidate of the top-k scan. */
typedef struct LanceTopkItem
{
	double		dist;
	int			frag;			/* index in the manifest's fragments */
	uint32		row;			/* physical offset in the fragment */
	bool		isnull;			/* NULL vector: sorts after every distance */
	int64		slot;			/* where its vector is kept (see run_topk) */
} LanceTopkItem;

/*
 * Shared by the processes of a parallel scan: they claim fragments from one
 * counter, all at the version the leader chose.
 */
typedef struct LanceParallelScan
{
	pg_atomic_uint32 next_fragment;
	uint64		version;
} LanceParallelScan;

/* Fields of ForeignScan.fdw_private */
enum LanceFdwPrivate
{
	LANCE_PRIV_ATTNUMS,			/* IntList of the attribute numbers needed */
	LANCE_PRIV_TOPK				/* top-k only: IntList attno, metric, k, halfvec */
};

static void lanceGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static void lanceGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static ForeignScan *lanceGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										Oid foreigntableid, ForeignPath *best_path,
										List *tlist, List *scan_clauses, Plan *outer_plan);
static void lanceBeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *lanceIterateForeignScan(ForeignScanState *node);
static void lanceReScanForeignScan(ForeignScanState *node);
static void lanceEndForeignScan(ForeignScanState *node);
static void lanceExplainForeignScan(ForeignScanState *node, ExplainState *es);
static bool lanceAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
									 BlockNumber *totalpages);
static bool lanceIsForeignScanParallelSafe(PlannerInfo *root, RelOptInfo *rel,
										   RangeTblEntry *rte);
static Size lanceEstimateDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt);
static void lanceInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
										  void *coordinate);
static void lanceReInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
											void *coordinate);
static void lanceInitializeWorkerForeignScan(ForeignScanState *node, shm_toc *toc,
											 void *coordinate);

LANCEDB_FUNCTION(lance_fdw_handler);
Datum
lance_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = lanceGetForeignRelSize;
	routine->GetForeignPaths = lanceGetForeignPaths;
	routine->GetForeignPlan = lanceGetForeignPlan;
	routine->BeginForeignScan = lanceBeginForeignScan;
	routine->IterateForeignScan = lanceIterateForeignScan;
	routine->ReScanForeignScan = lanceReScanForeignScan;
	routine->EndForeignScan = lanceEndForeignScan;
	routine->ExplainForeignScan = lanceExplainForeignScan;
	routine->ImportForeignSchema = lance_fdw_import_schema;
	routine->AnalyzeForeignTable = lanceAnalyzeForeignTable;
	routine->IsForeignScanParallelSafe = lanceIsForeignScanParallelSafe;
	routine->EstimateDSMForeignScan = lanceEstimateDSMForeignScan;
	routine->InitializeDSMForeignScan = lanceInitializeDSMForeignScan;
	routine->ReInitializeDSMForeignScan = lanceReInitializeDSMForeignScan;
	routine->InitializeWorkerForeignScan = lanceInitializeWorkerForeignScan;
	lance_fdw_modify_routine(routine);

	PG_RETURN_POINTER(routine);
}

/* ---- validator ---- */

static bool
is_valid_option(const char *name, Oid context)
{
	const LanceFdwOption *opt;

	for (opt = valid_options; opt->optname; opt++)
		if (context == opt->optcontext && strcmp(opt->optname, name) == 0)
			return true;
	return false;
}

static void
check_path_privilege(const char *optname)
{
	/* as file_fdw: reading arbitrary server files is a privilege */
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superuser or a role with privileges of the pg_read_server_files role may specify the \"%s\" option of a lance_fdw object",
						optname)));
}

/* A version number: decimal digits only, at least 1. */
static bool
parse_version(const char *s, uint64 *v)
{
	const char *p;

	if (*s == '\0' || strlen(s) > 19)
		return false;
	for (p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	*v = strtou64(s, NULL, 10);
	return *v > 0;
}

LANCEDB_FUNCTION(lance_fdw_validator);
Datum
lance_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	DefElem    *table = NULL;
	DefElem    *path = NULL;
	DefElem    *version = NULL;
	DefElem    *tag = NULL;
	DefElem    *uri = NULL;
	DefElem    *colname = NULL;
	DefElem    *rows_per_fragment = NULL;
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		DefElem   **slot = NULL;

		if (!is_valid_option(def->defname, catalog))
		{
			const LanceFdwOption *opt;
			StringInfoData buf;

			initStringInfo(&buf);
			for (opt = valid_options; opt->optname; opt++)
				if (catalog == opt->optcontext)
					appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", opt->optname);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 buf.len > 0
					 ? errhint("Valid options in this context are: %s.", buf.data)
					 : errhint("There are no valid options in this context.")));
		}

		if (strcmp(def->defname, "uri") == 0)
			slot = &uri;
		else if (strcmp(def->defname, "table") == 0)
			slot = &table;
		else if (strcmp(def->defname, "path") == 0)
			slot = &path;
		else if (strcmp(def->defname, "version") == 0)
			slot = &version;
		else if (strcmp(def->defname, "tag") == 0)
			slot = &tag;
		else if (strcmp(def->defname, "column_name") == 0)
			slot = &colname;
		else if (strcmp(def->defname, "rows_per_fragment") == 0)
			slot = &rows_per_fragment;
		if (*slot != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("conflicting or redundant options"),
					 errdetail("Option \"%s\" is given more than once.", def->defname)));
		*slot = def;
	}

	if (uri != NULL || path != NULL)
	{
		DefElem    *def = uri != NULL ? uri : path;
		const char *value = defGetString(def);

		check_path_privilege(def->defname);
		if (!is_absolute_path(value))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("option \"%s\" must be an absolute path", def->defname)));
	}
	if (table != NULL && !lance_fdw_valid_name(defGetString(table)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid Lance table name \"%s\"", defGetString(table)),
				 errdetail("A table name must not be empty or contain \"/\" or \"..\".")));
	if (table != NULL && path != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("options \"table\" and \"path\" cannot be used together")));
	if (catalog == ForeignTableRelationId && table == NULL && path == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("a lance_fdw foreign table needs a \"table\" or \"path\" option")));
	if (version != NULL)
	{
		uint64		v;

		if (!parse_version(defGetString(version), &v))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"version\": \"%s\"", defGetString(version)),
					 errhint("A version is a positive integer.")));
	}
	if (tag != NULL && !lance_fdw_valid_name(defGetString(tag)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid Lance tag name \"%s\"", defGetString(tag))));
	if (version != NULL && tag != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("options \"version\" and \"tag\" cannot be used together")));
	if (rows_per_fragment != NULL)
	{
		uint64		v;

		/* the same grammar as a version: a positive integer */
		if (!parse_version(defGetString(rows_per_fragment), &v) || v > (UINT64CONST(1) << 31))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"rows_per_fragment\": \"%s\"",
							defGetString(rows_per_fragment)),
					 errhint("rows_per_fragment is an integer between 1 and 2147483648.")));
	}
	if (colname != NULL && defGetString(colname)[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"column_name\" must not be empty")));

	PG_RETURN_VOID();
}

/* ---- planning ---- */

static void
lanceGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	LancePlanInfo *info = palloc0(sizeof(LancePlanInfo));
	LanceFdwTarget target;
	LanceManifest *m;
	MemoryContext tmp;
	MemoryContext old;
	int			i,
				j;

	/* the manifest is only needed for the estimates: read it and drop it */
	lance_fdw_get_target(foreigntableid, &target);
	tmp = AllocSetContextCreate(CurrentMemoryContext, "lance_fdw plan",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(tmp);
	m = lance_fdw_load_manifest(&target);
	info->ntuples = (double) lance_fdw_live_rows(m);
	for (i = 0; i < m->nfragments; i++)
		for (j = 0; j < m->fragments[i].nfiles; j++)
			info->nbytes += (double) m->fragments[i].files[j].size_bytes;
	for (i = 0; i < m->nfields; i++)
		if (m->fields[i].parent < 0)
			info->nfields++;
	info->nfragments = m->nfragments;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);

	baserel->fdw_private = info;
	baserel->tuples = info->ntuples;
	baserel->rows = clamp_row_est(info->ntuples *
								  clauselist_selectivity(root, baserel->baserestrictinfo,
														 0, JOIN_INNER, NULL));
}

/* Attribute numbers the query reads (all of them for a whole-row reference). */
static List *
needed_attnums(RelOptInfo *baserel, Relation rel)
{
	Bitmapset  *attrs = NULL;
	List	   *result = NIL;
	ListCell   *lc;
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;
	bool		wholerow;

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		pull_varattnos((Node *) rinfo->clause, baserel->relid, &attrs);
	}
	wholerow = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);
	for (i = 1; i <= desc->natts; i++)
	{
		if (TupleDescAttr(desc, i - 1)->attisdropped)
			continue;
		if (wholerow || bms_is_member(i - FirstLowInvalidHeapAttributeNumber, attrs))
			result = lappend_int(result, i);
	}
	return result;
}

static void
lanceGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	LancePlanInfo *info = (LancePlanInfo *) baserel->fdw_private;
	Relation	rel = table_open(foreigntableid, NoLock);
	int			ncols = list_length(needed_attnums(baserel, rel));
	double		fraction;
	double		pages;
	Cost		startup_cost;
	Cost		total_cost;

	table_close(rel, NoLock);

	/* columns are stored apart: a scan reads about its share of the bytes */
	fraction = info->nfields > 0 ? Min(1.0, (double) Max(ncols, 1) / info->nfields) : 1.0;
	pages = ceil(info->nbytes * fraction / BLCKSZ);
	startup_cost = baserel->baserestrictcost.startup;
	total_cost = startup_cost + seq_page_cost * pages +
		(cpu_tuple_cost + baserel->baserestrictcost.per_tuple) * info->ntuples +
		cpu_operator_cost * ncols * info->ntuples;

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
#if PG_VERSION_NUM >= 180000
									 0,
#endif
									 startup_cost, total_cost,
									 NIL, baserel->lateral_relids, NULL,
#if PG_VERSION_NUM >= 170000
									 NIL,
#endif
									 NIL));

	/*
	 * Top-k vector search: ORDER BY vec <op> q LIMIT k answered by reading
	 * the vector column, ranking, and fetching the winners' other columns.
	 * Its output is sorted, so no Sort is needed above it.
	 */
	{
		LanceTopkPlan tk;

		if (lance_fdw_topk_match(root, baserel, &tk))
		{
			double		k = Min((double) tk.k, baserel->rows);
			double		vecpages = ceil(info->nbytes / Max(info->nfields, 1) / BLCKSZ);
			Cost		tk_startup = baserel->baserestrictcost.startup +
				seq_page_cost * vecpages +
				(cpu_operator_cost + cpu_tuple_cost * 0.1) * info->ntuples;

			add_path(baserel, (Path *)
					 create_foreignscan_path(root, baserel, NULL, clamp_row_est(k),
#if PG_VERSION_NUM >= 180000
											 0,
#endif
											 tk_startup,
											 tk_startup + cpu_tuple_cost * k * ncols,
											 root->query_pathkeys, NULL, NULL,
#if PG_VERSION_NUM >= 170000
											 NIL,
#endif
											 list_make2(list_make4_int(tk.attno, tk.metric,
																	   (int) tk.k, tk.halfvec),
														tk.query)));
		}
	}

	/*
	 * A parallel scan: processes claim whole fragments, so more workers
	 * than fragments would idle.  The worker count follows the data size
	 * as for a heap scan.
	 */
	if (baserel->consider_parallel && baserel->lateral_relids == NULL && info->nfragments > 1)
	{
		int			workers = compute_parallel_worker(baserel, pages, -1,
													  max_parallel_workers_per_gather);

		workers = Min(workers, info->nfragments - 1);
		if (workers > 0)
		{
			double		divisor = workers;
			double		leader = 1.0 - 0.3 * workers;
			ForeignPath *pp;

			if (parallel_leader_participation && leader > 0)
				divisor += leader;
			pp = create_foreignscan_path(root, baserel, NULL, clamp_row_est(baserel->rows / divisor),
#if PG_VERSION_NUM >= 180000
										 0,
#endif
										 startup_cost,
										 startup_cost + (total_cost - startup_cost) / divisor,
										 NIL, NULL, NULL,
#if PG_VERSION_NUM >= 170000
										 NIL,
#endif
										 NIL);
			pp->path.parallel_aware = true;
			pp->path.parallel_safe = true;
			pp->path.parallel_workers = workers;
			add_partial_path(baserel, (Path *) pp);
		}
	}
}

static ForeignScan *
lanceGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					ForeignPath *best_path, List *tlist, List *scan_clauses,
					Plan *outer_plan)
{
	Relation	rel = table_open(foreigntableid, NoLock);
	List	   *attnums = needed_attnums(baserel, rel);

	table_close(rel, NoLock);

	/* no qual is pushed down: the executor checks them all */
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	if (best_path->fdw_private != NIL)
	{
		/* top-k: the query vector is evaluated when the scan starts */
		List	   *tk = (List *) linitial(best_path->fdw_private);
		Expr	   *query = (Expr *) lsecond(best_path->fdw_private);

		if (!list_member_int(attnums, linitial_int(tk)))
			attnums = lappend_int(attnums, linitial_int(tk));
		return make_foreignscan(tlist, scan_clauses, baserel->relid, list_make1(query),
								list_make2(attnums, tk), NIL, NIL, outer_plan);
	}
	return make_foreignscan(tlist, scan_clauses, baserel->relid, NIL,
							list_make1(attnums), NIL, NIL, outer_plan);
}

/* ---- scan ---- */

static void
close_files(LanceScanState *st)
{
	int			i;

	for (i = 0; i < st->maxfiles; i++)
		if (st->isopen[i])
		{
			st->bytes_read += st->files[i].r.bytes_read;
			lance_file_close(&st->files[i]);
			st->isopen[i] = false;
		}
}

/*
 * Runs when the scan's memory goes away, also on ERROR: closes the
 * descriptors of data files that were open.  Their memory (in fragcxt) is
 * already gone by then, so only close(2) is safe.
 */
static void
cleanup_files(void *arg)
{
	LanceScanState *st = (LanceScanState *) arg;
	int			i;

	for (i = 0; i < st->maxfiles; i++)
		if (st->isopen[i] && st->files[i].r.fd >= 0)
		{
			close(st->files[i].r.fd);
			st->isopen[i] = false;
		}
}

/*
 * Binds the columns the scan reads to the fields of st->manifest and sizes
 * the per-fragment file table.
 */
static void
bind_columns(LanceScanState *st, Relation rel, List *attnums)
{
	TupleDesc	desc = RelationGetDescr(rel);
	LanceManifest *m = st->manifest;
	ListCell   *lc;
	int			i;

	st->need_rowids = false;
	st->maxfiles = 0;
	st->ncols = list_length(attnums);
	st->cols = palloc0(sizeof(LanceScanColumn) * Max(st->ncols, 1));
	i = 0;
	foreach(lc, attnums)
	{
		LanceScanColumn *col = &st->cols[i++];
		Form_pg_attribute attr = TupleDescAttr(desc, lfirst_int(lc) - 1);
		List	   *colopts = GetForeignColumnOptions(RelationGetRelid(rel), attr->attnum);
		ListCell   *oc;

		col->attnum = attr->attnum;
		col->name = NameStr(attr->attname);
		col->cxt = AllocSetContextCreate(CurrentMemoryContext, "lance_fdw column",
										 ALLOCSET_DEFAULT_SIZES);
		foreach(oc, colopts)
		{
			DefElem    *def = (DefElem *) lfirst(oc);

			if (strcmp(def->defname, "column_name") == 0)
				col->name = defGetString(def);
		}
		/* a column the dataset lacks reads as NULL */
		col->field = lance_fdw_top_field(m, col->name);
		if (col->field < 0 &&
			(strcmp(col->name, "_rowid") == 0 || strcmp(col->name, "_rowaddr") == 0))
		{
			col->hidden = col->name[4] == 'i' ? LANCE_HIDDEN_ROWID : LANCE_HIDDEN_ROWADDR;
			if (attr->atttypid != INT8OID)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("column \"%s\" of foreign table \"%s\" must have type bigint to hold Lance's hidden %s",
								NameStr(attr->attname), RelationGetRelationName(rel), col->name)));
			if (col->hidden == LANCE_HIDDEN_ROWID)
				st->need_rowids = true;
			continue;
		}
		if (col->field >= 0 &&
			!lance_fdw_conv_build(m, col->field, attr->atttypid, attr->atttypmod,
								  NameStr(attr->attname), &col->conv))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of foreign table \"%s\" has type %s, which cannot hold Lance field \"%s\" of type \"%s\"",
							NameStr(attr->attname), RelationGetRelationName(rel),
							format_type_with_typemod(attr->atttypid, attr->atttypmod),
							col->name, m->fields[col->field].logical_type)));
	}

	for (i = 0; i < m->nfragments; i++)
		st->maxfiles = Max(st->maxfiles, m->fragments[i].nfiles);
	st->files = palloc0(sizeof(LanceFileReader) * Max(st->maxfiles, 1));
	st->isopen = palloc0(sizeof(bool) * Max(st->maxfiles, 1));
}

static void
lanceBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	Relation	rel = node->ss.ss_currentRelation;
	LanceScanState *st = palloc0(sizeof(LanceScanState));

	node->fdw_state = st;
	tune_malloc();
	st->attnums = (List *) list_nth(plan->fdw_private, LANCE_PRIV_ATTNUMS);
	lance_fdw_get_target(RelationGetRelid(rel), &st->target);
	/* the version is fixed here, for the whole scan including rescans */
	st->manifest = lance_fdw_load_manifest(&st->target);
	bind_columns(st, rel, st->attnums);

	if (list_length(plan->fdw_private) > LANCE_PRIV_TOPK)
	{
		List	   *tk = (List *) list_nth(plan->fdw_private, LANCE_PRIV_TOPK);
		AttrNumber	attno = linitial_int(tk);
		int			i;

		st->topk = true;
		st->topk_metric = lsecond_int(tk);
		st->topk_k = lthird_int(tk);
		st->topk_halfvec = lfourth_int(tk);
		st->topk_col = -1;
		for (i = 0; i < st->ncols; i++)
			if (st->cols[i].attnum == attno)
				st->topk_col = i;
		if (st->topk_col < 0)
			elog(ERROR, "lance_fdw: top-k column %d is not read", attno);
		st->topk_query = ExecInitExpr((Expr *) linitial(plan->fdw_exprs), (PlanState *) node);
		if (plan->scan.plan.qual != NIL)
		{
			Bitmapset  *attrs = NULL;

			/* the quals' columns; a whole-row reference needs them all */
			pull_varattnos((Node *) plan->scan.plan.qual, plan->scan.scanrelid, &attrs);
			st->topk_qualcols = palloc0(sizeof(bool) * Max(st->ncols, 1));
			for (i = 0; i < st->ncols; i++)
				st->topk_qualcols[i] =
					bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs) ||
					bms_is_member(st->cols[i].attnum - FirstLowInvalidHeapAttributeNumber, attrs);
		}
		st->topkcxt = AllocSetContextCreate(CurrentMemoryContext, "lance_fdw top-k",
											ALLOCSET_DEFAULT_SIZES);
	}

	st->cleanup.func = cleanup_files;
	st->cleanup.arg = st;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &st->cleanup);
	st->fragcxt = AllocSetContextCreate(CurrentMemoryContext, "lance_fdw fragment",
										ALLOCSET_DEFAULT_SIZES);
}

/*
 * Starts reading fragment `fr`: its deletion bitmap and row ids, and which
 * data file holds each column.  Column values are decoded later, a batch of
 * rows at a time (column_span), so memory stays bounded on big fragments.
 */
static void
begin_fragment(LanceScanState *st, const LanceFragment *fr)
{
	const LanceManifest *m = st->manifest;
	LanceError	err = {0};
	int			i;

	st->fragment_id = fr->id;
	st->frag = fr;
	st->rowids = NULL;
	st->deleted = NULL;
	if (st->need_rowids && (fr->row_ids != NULL || fr->external_row_ids))
	{
		st->rowids = palloc_extended(sizeof(uint64) * Max(fr->physical_rows, 1),
									 MCXT_ALLOC_HUGE);
		if (!lance_row_ids_load(st->target.dataset, fr, st->rowids, &err))
			lance_fdw_reader_error(&err, st->target.dataset);
	}
	else if (st->need_rowids && (m->reader_flags & LANCE_FLAG_STABLE_ROW_IDS))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("fragment " UINT64_FORMAT " of Lance dataset \"%s\" has no row ids although the dataset uses stable row ids",
						fr->id, st->target.dataset)));
	if (fr->id > (uint64) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("fragment id " UINT64_FORMAT " of Lance dataset \"%s\" is too large for a row address",
						fr->id, st->target.dataset)));
	if (fr->deletion.present)
	{
		st->deleted = lance_deletion_load(st->target.dataset, fr->id, &fr->deletion,
										  fr->physical_rows, &err);
		if (st->deleted == NULL)
			lance_fdw_reader_error(&err, st->target.dataset);
	}
	for (i = 0; i < st->ncols; i++)
	{
		LanceScanColumn *col = &st->cols[i];
		const LanceDataFile *df;

		col->present = false;
		col->file = -1;
		col->span_start = col->span_end = 0;
		memset(&col->vec, 0, sizeof(col->vec));
		MemoryContextReset(col->cxt);
		if (col->field < 0 || (df = lance_fdw_field_file(m, fr, col->field)) == NULL)
			continue;
		/* legacy (0.1) files say 0.x in the manifest: lance_legacy.c */
		if ((df->major != 2 || df->minor > 2) && !(df->major == 0 && df->minor < 3))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("data file \"%s/data/%s\" uses Lance file format %u.%u, which lance_fdw cannot read yet",
							st->target.dataset, df->path, df->major, df->minor),
					 errhint("lance_fdw reads the legacy file format and file formats 2.0, 2.1 and 2.2.")));
		col->file = (int) (df - fr->files);
		col->present = true;
	}
}

/*
 * Makes col->vec hold row r of the current fragment: when it does not,
 * decodes rows [r, end) (rounded out to whole pages) in place of the
 * previous batch.
 */
static void
column_span(LanceScanState *st, LanceScanColumn *col, uint64 r, uint64 end)
{
	const LanceFragment *fr = st->frag;
	const LanceDataFile *df = &fr->files[col->file];
	LanceFileReader *f = &st->files[col->file];
	LanceError	err = {0};
	MemoryContext old;
	uint64		span;

	if (r >= col->span_start && r < col->span_end)
		return;
	CHECK_FOR_INTERRUPTS();
	if (!st->isopen[col->file])
	{
		char	   *path;

		old = MemoryContextSwitchTo(st->fragcxt);
		path = psprintf("%s/data/%s", st->target.dataset, df->path);
		if (!lance_file_open(f, path, &err))
			lance_fdw_reader_error(&err, st->target.dataset);
		st->isopen[col->file] = true;
		MemoryContextSwitchTo(old);
		if (f->nrows != fr->physical_rows)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("data file \"%s\" has " UINT64_FORMAT " rows, but its fragment has " UINT64_FORMAT,
							path, f->nrows, fr->physical_rows)));
	}
	MemoryContextReset(col->cxt);
	memset(&col->vec, 0, sizeof(col->vec));
	col->span_start = col->span_end = 0;
	old = MemoryContextSwitchTo(col->cxt);
	if (!lance_read_field_range(f, st->manifest, df, col->field, r, Max(end, r + 1),
								&col->vec, &span, &err))
		lance_fdw_reader_error(&err, st->target.dataset);
	MemoryContextSwitchTo(old);
	col->span_start = span;
	col->span_end = span + col->vec.n;
	st->column_reads++;
}

/* End of the batch that starts at row r of the current fragment. */
static inline uint64
batch_end(LanceScanState *st, uint64 r)
{
	return Min(st->frag->physical_rows, r + (uint64) lance_fdw_batch_rows);
}

/* Forgets the current fragment: closes its files, frees its memory. */
static void
reset_fragment(LanceScanState *st)
{
	int			i;

	close_files(st);
	MemoryContextReset(st->fragcxt);
	for (i = 0; i < st->ncols; i++)
	{
		MemoryContextReset(st->cols[i].cxt);
		memset(&st->cols[i].vec, 0, sizeof(st->cols[i].vec));
		st->cols[i].present = false;
		st->cols[i].span_start = st->cols[i].span_end = 0;
	}
	st->frag = NULL;
	st->deleted = NULL;
	st->rowids = NULL;
	st->row = st->nrows = 0;
}

/* Moves to the next fragment with rows; false at the end of the scan. */
static bool
next_fragment(LanceScanState *st)
{
	for (;;)
	{
		const LanceFragment *fr;
		MemoryContext old;
		int			k;

		if (st->pscan)
		{
			uint32		claimed = pg_atomic_fetch_add_u32(&st->pscan->next_fragment, 1);

			k = (int) Min(claimed, (uint32) st->manifest->nfragments);
		}
		else
			k = st->next_fragment++;
		if (k >= st->manifest->nfragments)
			break;
		fr = &st->manifest->fragments[k];

		CHECK_FOR_INTERRUPTS();
		reset_fragment(st);
		if (fr->physical_rows == 0)
			continue;
		old = MemoryContextSwitchTo(st->fragcxt);
		begin_fragment(st, fr);
		MemoryContextSwitchTo(old);
		st->nrows = fr->physical_rows;
		return true;
	}
	return false;
}

/*
 * Fills `slot` with row r of the current fragment (values in the current
 * context); columns not decoded that far decode rows [r, end).
 */
static void
fill_slot(LanceScanState *st, TupleTableSlot *slot, uint64 r, uint64 end, int skip,
		  const bool *only)
{
	int			i;

	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	for (i = 0; i < st->ncols; i++)
	{
		LanceScanColumn *col = &st->cols[i];
		AttrNumber	a = col->attnum - 1;

		if (i == skip || (only != NULL && !only[i]))
			continue;
		if (col->present)
		{
			column_span(st, col, r, end);
			slot->tts_values[a] = lance_fdw_conv_datum(&col->conv, &col->vec, r - col->span_start,
													   &slot->tts_isnull[a]);
		}
		else if (col->hidden != LANCE_HIDDEN_NONE)
		{
			uint64		addr = (st->fragment_id << 32) | r;
			uint64		v = col->hidden == LANCE_HIDDEN_ROWID && st->rowids ? st->rowids[r] : addr;

			if (v > (uint64) PG_INT64_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("Lance row id " UINT64_FORMAT " is out of range for bigint", v)));
			slot->tts_values[a] = Int64GetDatum((int64) v);
			slot->tts_isnull[a] = false;
		}
	}
}

/* Worse-first order of the top-k heap: larger distance, then later row. */
static inline bool
topk_worse(const LanceTopkItem *a, const LanceTopkItem *b)
{
	if (a->isnull != b->isnull)
		return a->isnull;
	if (!a->isnull && a->dist != b->dist)
	{
		/* NaN sorts after every number, as in float8 ORDER BY */
		if (isnan(a->dist) || isnan(b->dist))
			return isnan(a->dist) && !isnan(b->dist);
		return a->dist > b->dist;
	}
	if (a->frag != b->frag)
		return a->frag > b->frag;
	return a->row > b->row;
}

static void
heap_sift_down(LanceTopkItem *h, int64 n, int64 i)
{
	for (;;)
	{
		int64		l = 2 * i + 1,
					w = i;
		LanceTopkItem t;

		if (l < n && topk_worse(&h[l], &h[w]))
			w = l;
		if (l + 1 < n && topk_worse(&h[l + 1], &h[w]))
			w = l + 1;
		if (w == i)
			return;
		t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

static void
heap_sift_up(LanceTopkItem *h, int64 i)
{
	while (i > 0)
	{
		int64		p = (i - 1) / 2;
		LanceTopkItem t;

		if (!topk_worse(&h[i], &h[p]))
			return;
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static int
topk_cmp(const void *a, const void *b)
{
	const LanceTopkItem *x = a;
	const LanceTopkItem *y = b;

	return topk_worse(x, y) ? 1 : topk_worse(y, x) ? -1 : 0;
}

/*
 * Whether row r of the current fragment passes the scan's quals: only the
 * columns they read are decoded (a batch at a time, so that the next
 * candidates nearby cost nothing more).
 */
static bool
topk_row_passes(ForeignScanState *node, uint64 r)
{
	LanceScanState *st = (LanceScanState *) node->fdw_state;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext old;

	st->topk_checked++;
	ExecClearTuple(slot);
	ResetExprContext(econtext);
	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	fill_slot(st, slot, r, batch_end(st, r), -1, st->topk_qualcols);
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);
	econtext->ecxt_scantuple = slot;
	return ExecQual(node->ss.ps.qual, econtext);
}

/*
 * Runs the top-k search: ranks every live row by the distance of its
 * vector to the query (reading only the vector column), keeps the k best
 * in a bounded heap, then decodes the other columns of the fragments that
 * hold winners and keeps the winners' rows, best first.  With quals, a row
 * that would enter the heap is first checked against them (decoding only
 * the columns they read): the result is the k nearest rows that pass,
 * exactly what a filtered scan plus Sort would return, while rows too far
 * away to matter are never filtered.
 */
static void
run_topk(ForeignScanState *node)
{
	LanceScanState *st = (LanceScanState *) node->fdw_state;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	LanceScanColumn *vcol = &st->cols[st->topk_col];
	const LanceManifest *m = st->manifest;
	MemoryContext old;
	LanceTopkItem *heap;
	int64		n = 0;
	int64		k = st->topk_k;
	Datum		qd;
	bool		qnull;
	const void *q = NULL;
	int			qdim = 0;
	int			f;
	int64		i;
	uint8	   *store;			/* the candidates' vectors, k slots */
	uint32		store_width;

	MemoryContextReset(st->topkcxt);
	st->topk_n = st->topk_next = 0;
	st->topk_ranked = 0;
	st->topk_checked = 0;
	qd = ExecEvalExprSwitchContext(st->topk_query, econtext, &qnull);
	old = MemoryContextSwitchTo(st->topkcxt);
	if (!qnull)
	{
		/*
		 * A copy: the query may live in per-tuple memory, which checking
		 * quals resets.
		 */
		const void *qv = lance_fdw_topk_query(qd, st->topk_halfvec, &qdim);
		Size		qbytes = (Size) Max(qdim, 0) * (st->topk_halfvec ? 2 : 4);

		q = memcpy(palloc(Max(qbytes, 1)), qv, qbytes);
	}
	heap = palloc_extended(sizeof(LanceTopkItem) * k, MCXT_ALLOC_HUGE);
	MemoryContextSwitchTo(old);
	store = NULL;
	store_width = 0;

	for (f = 0; f < m->nfragments; f++)
	{
		const LanceFragment *fr = &m->fragments[f];
		uint64		r;
		uint32		dim = 0;

		CHECK_FOR_INTERRUPTS();
		reset_fragment(st);
		if (fr->physical_rows == 0)
			continue;
		if (fr->physical_rows > PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("fragment " UINT64_FORMAT " of Lance dataset \"%s\" has too many rows",
							fr->id, st->target.dataset)));
		old = MemoryContextSwitchTo(st->fragcxt);
		begin_fragment(st, fr);
		MemoryContextSwitchTo(old);
		for (r = 0; r < fr->physical_rows; r++)
		{
			LanceTopkItem it;
			uint64		v;

			if (st->deleted && ((st->deleted[r >> 3] >> (r & 7)) & 1))
				continue;
			if ((r & 0xffff) == 0)
				CHECK_FOR_INTERRUPTS();
			/* only the vector column is decoded, a batch at a time */
			if (vcol->present && r >= vcol->span_end)
			{
				column_span(st, vcol, r, batch_end(st, r));
				dim = vcol->vec.width / (st->topk_halfvec ? 2 : 4);
				if (q != NULL && (int) dim != qdim)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_EXCEPTION),
							 errmsg("different vector dimensions %u and %d", dim, qdim)));
			}
			v = r - vcol->span_start;
			it.frag = f;
			it.row = (uint32) r;
			it.isnull = q == NULL || !vcol->present || !lance_vector_is_valid(&vcol->vec, v);
			it.dist = it.isnull ? 0 :
				lance_fdw_topk_distance(st->topk_metric, st->topk_halfvec,
										vcol->vec.values + v * vcol->vec.width, q, dim);
			st->topk_ranked++;
			if (n < k)
				it.slot = n;
			else if (topk_worse(&heap[0], &it))
				it.slot = heap[0].slot;
			else
				continue;
			if (st->topk_qualcols != NULL && !topk_row_passes(node, r))
				continue;
			/* keep the vector: the winners' vectors are not read twice */
			if (!it.isnull)
			{
				if (store == NULL)
				{
					store_width = vcol->vec.width;
					store = MemoryContextAllocExtended(st->topkcxt, (Size) k * store_width,
													   MCXT_ALLOC_HUGE);
				}
				if (vcol->vec.width != store_width)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("vectors of column \"%s\" differ in size", vcol->name)));
				memcpy(store + it.slot * store_width, vcol->vec.values + v * store_width, store_width);
			}
			if (n < k)
			{
				heap[n] = it;
				heap_sift_up(heap, n++);
			}
			else
			{
				heap[0] = it;
				heap_sift_down(heap, n, 0);
			}
		}
	}
	qsort(heap, n, sizeof(LanceTopkItem), topk_cmp);

	/* fetch the winners' rows, one fragment at a time */
	st->topk_tuples = MemoryContextAllocZero(st->topkcxt, sizeof(HeapTuple) * Max(n, 1));
	for (f = 0; f < m->nfragments; f++)
	{
		bool		any = false;

		for (i = 0; i < n && !any; i++)
			any = heap[i].frag == f;
		if (!any)
			continue;
		reset_fragment(st);
		old = MemoryContextSwitchTo(st->fragcxt);
		begin_fragment(st, &m->fragments[f]);
		MemoryContextSwitchTo(old);
		for (i = 0; i < n; i++)
		{
			if (heap[i].frag != f)
				continue;
			ExecClearTuple(slot);
			ResetExprContext(econtext);
			old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
			/* a winner's row alone: the pages that hold it, its kept vector */
			fill_slot(st, slot, heap[i].row, heap[i].row + 1, st->topk_col, NULL);
			if (!heap[i].isnull && vcol->present)
			{
				LanceVector one = {0};

				one.type = vcol->conv.src;
				one.n = 1;
				one.width = store_width;
				one.values = store + heap[i].slot * store_width;
				one.values_len = store_width;
				slot->tts_values[vcol->attnum - 1] =
					lance_fdw_conv_datum(&vcol->conv, &one, 0, &slot->tts_isnull[vcol->attnum - 1]);
			}
			MemoryContextSwitchTo(st->topkcxt);
			st->topk_tuples[i] = heap_form_tuple(slot->tts_tupleDescriptor,
												 slot->tts_values, slot->tts_isnull);
			MemoryContextSwitchTo(old);
		}
	}
	reset_fragment(st);
	st->topk_n = n;
	st->topk_done = true;
}

static TupleTableSlot *
lanceIterateForeignScan(ForeignScanState *node)
{
	LanceScanState *st = (LanceScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	uint64		r;

	if (st->topk)
	{
		if (!st->topk_done)
			run_topk(node);
		ExecClearTuple(slot);
		if (st->topk_next >= st->topk_n)
			return slot;
		ExecForceStoreHeapTuple(st->topk_tuples[st->topk_next++], slot, false);
		return slot;
	}

	ExecClearTuple(slot);
	for (;;)
	{
		if (st->row >= st->nrows)
		{
			if (!next_fragment(st))
				return slot;
			continue;
		}
		r = st->row++;
		if (st->deleted == NULL || !((st->deleted[r >> 3] >> (r & 7)) & 1))
			break;
		/* long runs of deleted rows must stay cancellable */
		if ((r & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
	}

	/* values are built in the per-tuple context the executor resets */
	fill_slot(st, slot, r, batch_end(st, r), -1, NULL);
	return ExecStoreVirtualTuple(slot);
}

static void
lanceReScanForeignScan(ForeignScanState *node)
{
	LanceScanState *st = (LanceScanState *) node->fdw_state;

	reset_fragment(st);
	st->next_fragment = 0;
	/* the query vector may depend on parameters: rank again */
	st->topk_done = false;
}

static void
lanceEndForeignScan(ForeignScanState *node)
{
	LanceScanState *st = (LanceScanState *) node->fdw_state;

	if (st == NULL)
		return;
	close_files(st);
	MemoryContextDelete(st->fragcxt);
	st->fragcxt = NULL;
}

/* ---- ANALYZE ---- */

/*
 * Samples targrows live rows uniformly (reservoir sampling over every
 * fragment of the version a scan would read now).
 */
static int
lance_acquire_sample_rows(Relation rel, int elevel, HeapTuple *rows, int targrows,
						  double *totalrows, double *totaldeadrows)
{
	LanceScanState *st = palloc0(sizeof(LanceScanState));
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "lance_fdw analyze row",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	List	   *attnums = NIL;
	double		seen = 0;
	int			numrows = 0;
	int			i;

	tune_malloc();
	for (i = 1; i <= desc->natts; i++)
		if (!TupleDescAttr(desc, i - 1)->attisdropped)
			attnums = lappend_int(attnums, i);
	lance_fdw_get_target(RelationGetRelid(rel), &st->target);
	st->manifest = lance_fdw_load_manifest(&st->target);
	bind_columns(st, rel, attnums);
	st->cleanup.func = cleanup_files;
	st->cleanup.arg = st;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &st->cleanup);
	st->fragcxt = AllocSetContextCreate(CurrentMemoryContext, "lance_fdw fragment",
										ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		uint64		r;
		int			slotno;

		if (st->row >= st->nrows)
		{
			vacuum_delay_point();
			if (!next_fragment(st))
				break;
			continue;
		}
		r = st->row++;
		if (st->deleted && ((st->deleted[r >> 3] >> (r & 7)) & 1))
			continue;
		seen += 1;
		if (numrows < targrows)
			slotno = numrows++;
		else
		{
			/* algorithm R: row number `seen` replaces one with p = targrows / seen */
			uint64		j = pg_prng_uint64_range(&pg_global_prng_state, 0, (uint64) seen - 1);

			if (j >= (uint64) targrows)
				continue;
			slotno = (int) j;
			heap_freetuple(rows[slotno]);
		}
		if (((uint64) seen & 0xfff) == 0)
			CHECK_FOR_INTERRUPTS();
		MemoryContextReset(rowcxt);
		old = MemoryContextSwitchTo(rowcxt);
		ExecClearTuple(slot);
		fill_slot(st, slot, r, batch_end(st, r), -1, NULL);
		MemoryContextSwitchTo(old);
		rows[slotno] = heap_form_tuple(desc, slot->tts_values, slot->tts_isnull);
	}
	close_files(st);
	MemoryContextDelete(st->fragcxt);
	MemoryContextDelete(rowcxt);
	ExecDropSingleTupleTableSlot(slot);

	*totalrows = seen;
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": Lance dataset version " UINT64_FORMAT ", %.0f live rows, %d rows in sample",
					RelationGetRelationName(rel), st->manifest->version, seen, numrows)));
	return numrows;
}

static bool
lanceAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func, BlockNumber *totalpages)
{
	LanceFdwTarget target;
	LanceManifest *m;
	double		bytes = 0;
	int			i,
				j;

	lance_fdw_get_target(RelationGetRelid(relation), &target);
	m = lance_fdw_load_manifest(&target);
	for (i = 0; i < m->nfragments; i++)
		for (j = 0; j < m->fragments[i].nfiles; j++)
			bytes += (double) m->fragments[i].files[j].size_bytes;
	*totalpages = (BlockNumber) Min(ceil(bytes / BLCKSZ), (double) MaxBlockNumber);
	if (*totalpages == 0)
		*totalpages = 1;
	*func = lance_acquire_sample_rows;
	return true;
}

/* ---- parallel scan ---- */

static bool
lanceIsForeignScanParallelSafe(PlannerInfo *root, RelOptInfo *rel, RangeTblEntry *rte)
{
	/* workers read the same files; nothing is backend-local */
	return true;
}

static Size
lanceEstimateDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt)
{
	return sizeof(LanceParallelScan);
}

static void
lanceInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt, void *coordinate)
{
	LanceScanState *st = (LanceScanState *) node->fdw_state;
	LanceParallelScan *ps = (LanceParallelScan *) coordinate;

	pg_atomic_init_u32(&ps->next_fragment, 0);
	ps->version = st->manifest->version;
	st->pscan = ps;
}

static void
lanceReInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt, void *coordinate)
{
	LanceParallelScan *ps = (LanceParallelScan *) coordinate;

	pg_atomic_write_u32(&ps->next_fragment, 0);
}

static void
lanceInitializeWorkerForeignScan(ForeignScanState *node, shm_toc *toc, void *coordinate)
{
	LanceScanState *st = (LanceScanState *) node->fdw_state;
	LanceParallelScan *ps = (LanceParallelScan *) coordinate;

	st->pscan = ps;
	/* a commit since the leader started: read the leader's version */
	if (st->manifest->version != ps->version)
	{
		st->target.version = ps->version;
		st->target.tag = NULL;
		st->manifest = lance_fdw_load_manifest(&st->target);
		bind_columns(st, node->ss.ss_currentRelation, st->attnums);
	}
}

static void
lanceExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	LanceScanState *st = (LanceScanState *) node->fdw_state;
	const LanceManifest *m = st->manifest;
	StringInfoData cols;
	int			nfiles = 0;
	int			i;

	for (i = 0; i < m->nfragments; i++)
		nfiles += m->fragments[i].nfiles;
	initStringInfo(&cols);
	for (i = 0; i < st->ncols; i++)
		appendStringInfo(&cols, "%s%s%s", cols.len > 0 ? ", " : "", st->cols[i].name,
						 st->cols[i].hidden != LANCE_HIDDEN_NONE ? " (hidden)" :
						 st->cols[i].field < 0 ? " (absent)" : "");

	ExplainPropertyText("Lance Dataset", st->target.dataset, es);
	ExplainPropertyUInteger("Lance Version", NULL, m->version, es);
	ExplainPropertyInteger("Lance Fragments", NULL, m->nfragments, es);
	ExplainPropertyInteger("Lance Data Files", NULL, nfiles, es);
	ExplainPropertyText("Lance Columns", cols.len > 0 ? cols.data : "(none)", es);
	if (st->topk)
	{
		char	   *desc = psprintf("%s distance on %s, k = " INT64_FORMAT,
									lance_fdw_metric_name(st->topk_metric),
									st->cols[st->topk_col].name, st->topk_k);

		ExplainPropertyText("Lance Top-K", desc, es);
	}
	if (es->analyze && st->topk)
		ExplainPropertyUInteger("Lance Rows Ranked", NULL, st->topk_ranked, es);
	if (es->analyze && st->topk && st->topk_qualcols != NULL)
		ExplainPropertyUInteger("Lance Filter Checks", NULL, st->topk_checked, es);
	if (es->analyze)
	{
		ExplainPropertyUInteger("Lance Column Reads", NULL, st->column_reads, es);
		ExplainPropertyUInteger("Lance Bytes Read", "bytes", st->bytes_read, es);
	}
}

/*
 * The version a lance_fdw scan of relation `relid` below `ps` reads, or 0:
 * DELETE and UPDATE take their row addresses from that version, so their
 * commit checks for concurrent changes from there on.
 */
static bool
find_scan_version(PlanState *ps, void *context)
{
	uint64	   *out = (uint64 *) context;

	if (ps == NULL)
		return false;
	if (IsA(ps, ForeignScanState))
	{
		ForeignScanState *fs = (ForeignScanState *) ps;

		if (fs->fdwroutine != NULL && fs->fdwroutine->BeginForeignScan == lanceBeginForeignScan &&
			fs->fdw_state != NULL && fs->ss.ss_currentRelation != NULL &&
			RelationGetRelid(fs->ss.ss_currentRelation) == (Oid) out[1])
		{
			out[0] = ((LanceScanState *) fs->fdw_state)->manifest->version;
			return true;
		}
	}
	return planstate_tree_walker(ps, find_scan_version, context);
}

uint64
lance_fdw_scan_version(PlanState *ps, Oid relid)
{
	uint64		ctx[2] = {0, relid};

	find_scan_version(ps, ctx);
	return ctx[0];
}
