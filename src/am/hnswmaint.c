/*
 * hnswmaint.c
 *	  What a lance_hnsw index needs from background maintenance (see
 *	  worker/maint.h).  Health figures only, so far: nothing is done in
 *	  place yet.
 */
#include "postgres.h"

#include "utils/rel.h"
#include "worker/maint.h"

void
HnswMaintenanceAdvice(Relation index, Relation heap, LanceMaintAdvice *advice)
{
	LanceMaintAdviceInit(advice);
}

void
HnswMaintain(Relation index, Relation heap, LanceMaintAdvice *advice,
			 StringInfo detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("in-place maintenance of lance_hnsw index \"%s\" is not implemented",
					RelationGetRelationName(index))));
}
