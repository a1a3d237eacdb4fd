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

#include "utils/relcache.h"

typedef enum LanceMaintAction
{
	LANCE_MAINT_NONE,
	LANCE_MAINT_TRAIN,			/* untrained IVF index on a grown table */
	LANCE_MAINT_RETRAIN			/* drift, imbalance or growth: rebuild */
} LanceMaintAction;

typedef struct LanceMaintAdvice
{
	LanceMaintAction action;
	char		reason[256];
	/* health figures (NaN when unknown), also shown by index_stats */
	double		drift;			/* mean residual now / at build */
	double		balance;		/* largest list / mean list */
	double		growth;			/* entries inserted since build / built */
} LanceMaintAdvice;

/* settings (lancedb.*) */
extern bool lancedb_maintenance;
extern int	lancedb_maintenance_naptime;
extern int	lancedb_maintenance_nice;
extern int	lancedb_ivf_train_min_rows;
extern double lancedb_ivf_retrain_drift;
extern double lancedb_ivf_retrain_growth;
extern double lancedb_ivf_max_list_ratio;

extern void LanceMaintInit(void);

/* am/ivfmaint.c: what a lance_ivf index needs (index locked by caller) */
extern void IvfMaintenanceAdvice(Relation index, Relation heap,
								 LanceMaintAdvice *advice);

/* worker/toplevel.c: run SQL as a client's top-level statement would */
extern void lance_exec_toplevel(const char *sql);

/* worker/maintlog.c: lancedb.maintenance_log rows (own transactions) */
extern int64 lance_maint_log_start(Oid indexoid, const char *am,
								   const char *action, const char *reason);
extern void lance_maint_log_finish(int64 id, const char *status,
								   const char *detail);

/*
 * worker/maintrun.c: one round for one index: decide, act (concurrently:
 * REINDEX CONCURRENTLY, only from a worker at top level), log.  Returns
 * the action taken.  Runs its own transactions.
 */
extern LanceMaintAction lance_maint_index(Oid indexoid, bool concurrently,
										  LanceMaintAdvice *advice);

#endif							/* LANCEDB_MAINT_H */
