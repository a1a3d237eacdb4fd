/*
 * maint.h
 *	  Background maintenance of lancedb indexes (and, later, Lance foreign
 *	  tables): what needs doing, doing it, and the record of it.
 *
 * With shared_preload_libraries = 'lancedb', a launcher starts a worker per
 * database now and then (lancedb.maintenance_naptime); each worker looks at
 * every lancedb index of its database, asks the index's AM what it needs
 * and does it, logging to lancedb.maintenance_log.  lancedb.optimize(regclass)
 * runs the same round for one index on demand.
 */
#ifndef LANCEDB_MAINT_H
#define LANCEDB_MAINT_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "datatype/timestamp.h"
#include "utils/relcache.h"

typedef enum LanceMaintAction
{
	LANCE_MAINT_NONE,
	LANCE_MAINT_TRAIN,			/* untrained IVF index on a grown table */
	LANCE_MAINT_RETRAIN,		/* drift, imbalance or growth: rebuild */
	LANCE_MAINT_INPLACE			/* work the AM (or the FDW) does in place:
								 * split/merge lists, repair a graph, merge
								 * segments, compact a dataset; advice.task
								 * names it */
} LanceMaintAction;

typedef struct LanceMaintAdvice
{
	LanceMaintAction action;
	char		task[32];		/* LANCE_MAINT_INPLACE: e.g. "split", "repair" */
	char		reason[256];
	/* health figures (NaN when unknown), also shown by index_stats */
	double		drift;			/* mean residual now / at build */
	double		balance;		/* largest list / mean list */
	double		growth;			/* entries inserted since build / built */
	double		deleted;		/* dead elements / documents / rows */
	double		segments;		/* bm25 segments, Lance fragments */
} LanceMaintAdvice;

/*
 * What maintenance needs from each access method (and from lance_fdw).
 *
 * advise: decide, cheaply; AccessShareLock is held on index and table.
 *	Fill every figure it knows (NaN otherwise); leave action NONE when
 *	there is nothing to do.
 * maintain: do advice->task in place, inside the caller's transaction with
 *	an active snapshot.  The caller holds ShareUpdateExclusiveLock on the
 *	table (as VACUUM: reads and writes go on, VACUUM and DDL wait) and
 *	RowExclusiveLock on the index; the AM takes buffer locks briefly and
 *	WAL-logs every page it changes, so queries and inserts run alongside
 *	and a crash leaves a consistent index.  Calls vacuum_delay_point() in
 *	its loops: from the worker, cost-based delay is on (lancedb.
 *	maintenance_cost_delay / _limit), as for autovacuum.  Appends a short
 *	summary of what it did to detail.  May be NULL when the AM only ever rebuilds.
 *
 * For a Lance foreign table (lance_fdw), index is NULL and heap is the
 * foreign table (AccessShareLock for advise, ShareUpdateExclusiveLock for
 * maintain).
 */
typedef struct LanceMaintOps
{
	const char *name;			/* access method, or "lance_fdw" */
	void		(*advise) (Relation index, Relation heap, LanceMaintAdvice *advice);
	void		(*maintain) (Relation index, Relation heap, LanceMaintAdvice *advice,
							 StringInfo detail);
} LanceMaintOps;

/* NaN everywhere, action NONE */
extern void LanceMaintAdviceInit(LanceMaintAdvice *advice);

/* settings (lancedb.*) */
extern bool lancedb_maintenance;
extern int	lancedb_maintenance_naptime;
extern int	lancedb_maintenance_nice;
extern double lancedb_maintenance_cost_delay;
extern int	lancedb_maintenance_cost_limit;
extern int	lancedb_ivf_train_min_rows;
extern double lancedb_ivf_retrain_drift;
extern double lancedb_ivf_retrain_growth;
extern double lancedb_ivf_max_list_ratio;
extern int	lancedb_auto_index_min_rows;

extern void LanceMaintInit(void);

/* the LanceMaintOps of each module */
extern void IvfMaintenanceAdvice(Relation index, Relation heap,
								 LanceMaintAdvice *advice);
extern void IvfMaintain(Relation index, Relation heap,
						LanceMaintAdvice *advice, StringInfo detail);
extern void HnswMaintenanceAdvice(Relation index, Relation heap,
								  LanceMaintAdvice *advice);
extern void HnswMaintain(Relation index, Relation heap,
						 LanceMaintAdvice *advice, StringInfo detail);
extern void Bm25MaintenanceAdvice(Relation index, Relation heap,
								  LanceMaintAdvice *advice);
extern void Bm25Maintain(Relation index, Relation heap,
						 LanceMaintAdvice *advice, StringInfo detail);
extern void LanceFdwMaintenanceAdvice(Relation index, Relation ftable,
									  LanceMaintAdvice *advice);
extern void LanceFdwMaintain(Relation index, Relation ftable,
							 LanceMaintAdvice *advice, StringInfo detail);

/* the ops for a relation (an index's AM, or a lance_fdw foreign table); NULL if none */
extern const LanceMaintOps *lance_maint_ops_for(Oid relid);

/* worker/maintstats.c: round times (shared memory) and index_stats' part */
extern void LanceMaintShmemInit(void);
extern void lance_maint_note_next_round(TimestampTz when);
extern void lance_maint_note_round_done(Oid dboid);
extern void LanceMaintStatsJson(Relation rel, StringInfo buf);

/* worker/autoindex.c: lancedb.auto_index */
extern void lance_auto_index_round(MemoryContext cxt);
extern void lance_auto_index_table(Oid relid, StringInfo buf);

/* worker/toplevel.c: run SQL as a client's top-level statement would */
extern void lance_exec_toplevel(const char *sql);

/* worker/maintlog.c: lancedb.maintenance_log rows (own transactions) */
extern int64 lance_maint_log_start(Oid relid, const char *am,
								   const char *action, const char *reason);
extern void lance_maint_log_finish(int64 id, const char *status,
								   const char *detail);

/*
 * worker/maintrun.c: one round for one index or Lance foreign table:
 * decide, act (a rebuild concurrently = REINDEX CONCURRENTLY, only from a
 * worker at top level; in-place work through the ops), log.  Returns
 * the action taken.  Runs its own transactions.
 */
extern LanceMaintAction lance_maint_index(Oid relid, bool concurrently,
										  LanceMaintAdvice *advice);

#endif							/* LANCEDB_MAINT_H */
