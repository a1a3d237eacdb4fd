/*
 * distmemo.c
 *	  The last exact distance an index scan returned (see distmemo.h).
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/xact.h"
#include "utils/memutils.h"
#include "vector/distmemo.h"

LanceDistMemo lance_distmemo;

static bool xact_callback_registered = false;

static void
lance_distmemo_xact(XactEvent event, void *arg)
{
	lance_distmemo_clear();
}

static void
lance_distmemo_subxact(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	lance_distmemo_clear();
}

/*
 * The query is copied with every entry (a few kB, against the toast read
 * it saves): an entry must never pair one scan's result with another
 * scan's query, e.g. of a subquery that ran in between.
 */
void
lance_distmemo_set(Oid fn_oid, Datum query, Oid toastrelid, Oid valueid,
				   double result, int64 *hits)
{
	struct varlena *q;
	Size		len;

	lance_distmemo_clear();
	if (!OidIsValid(valueid))
		return;
	q = (struct varlena *) DatumGetPointer(query);
	if (VARATT_IS_EXTENDED(q) && !VARATT_IS_SHORT(q))
		return;					/* scans hold a detoasted query */
	len = VARSIZE_ANY(q);
	if (!xact_callback_registered)
	{
		RegisterXactCallback(lance_distmemo_xact, NULL);
		RegisterSubXactCallback(lance_distmemo_subxact, NULL);
		xact_callback_registered = true;
	}
	if (lance_distmemo.qcap < len)
	{
		if (lance_distmemo.q)
			pfree(lance_distmemo.q);
		lance_distmemo.q = NULL;
		lance_distmemo.qcap = 0;
		lance_distmemo.q = MemoryContextAlloc(TopMemoryContext, len);
		lance_distmemo.qcap = len;
	}
	memcpy(lance_distmemo.q, q, len);
	lance_distmemo.qlen = len;
	lance_distmemo.fn_oid = fn_oid;
	lance_distmemo.toastrelid = toastrelid;
	lance_distmemo.valueid = valueid;
	lance_distmemo.result = result;
	lance_distmemo.hits = hits;
	lance_distmemo.valid = true;
}

bool
lance_distmemo_lookup(FunctionCallInfo fcinfo, double *result)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(0));
	struct varlena *q = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(1));
	struct varatt_external ptr;

	if (fcinfo->flinfo == NULL || fcinfo->flinfo->fn_oid != lance_distmemo.fn_oid ||
		PG_ARGISNULL(0) || PG_ARGISNULL(1) ||
		!VARATT_IS_EXTERNAL_ONDISK(v) || (VARATT_IS_EXTENDED(q) && !VARATT_IS_SHORT(q)))
		return false;
	VARATT_EXTERNAL_GET_POINTER(ptr, v);
	if (ptr.va_valueid != lance_distmemo.valueid ||
		ptr.va_toastrelid != lance_distmemo.toastrelid)
		return false;
	/* the query in the same form (plain or short header) as memorised */
	if (VARSIZE_ANY(q) != lance_distmemo.qlen ||
		memcmp(q, lance_distmemo.q, lance_distmemo.qlen) != 0)
		return false;
	*result = lance_distmemo.result;
	if (lance_distmemo.hits)
		(*lance_distmemo.hits)++;
	return true;
}
