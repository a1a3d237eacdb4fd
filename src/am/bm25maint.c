/*
 * bm25maint.c
 *	  What a lance_bm25 index needs from background maintenance (see
 *	  worker/maint.h).  Health figures only, so far: nothing is done in
 *	  place yet.
 */
#include "postgres.h"

#include "utils/rel.h"
#include "worker/maint.h"

void
Bm25MaintenanceAdvice(Relation index, Relation heap, LanceMaintAdvice *advice)
{
	LanceMaintAdviceInit(advice);
}

void
Bm25Maintain(Relation index, Relation heap, LanceMaintAdvice *advice,
			 StringInfo detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("in-place maintenance of lance_bm25 index \"%s\" is not implemented",
					RelationGetRelationName(index))));
}
