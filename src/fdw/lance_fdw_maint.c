/*
 * lance_fdw_maint.c
 *	  What a Lance foreign table needs from background maintenance (see
 *	  worker/maint.h): nothing is done yet.
 */
#include "postgres.h"

#include "utils/rel.h"
#include "worker/maint.h"

void
LanceFdwMaintenanceAdvice(Relation index, Relation ftable, LanceMaintAdvice *advice)
{
	LanceMaintAdviceInit(advice);
}

void
LanceFdwMaintain(Relation index, Relation ftable, LanceMaintAdvice *advice,
				 StringInfo detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("maintenance of Lance foreign table \"%s\" is not implemented",
					RelationGetRelationName(ftable))));
}
