/*
 * lance_fdw_topk.c
 *	  Top-k vector search pushdown for lance_fdw: recognising
 *	  `ORDER BY vec <op> query LIMIT k` on a foreign table, and the distance
 *	  of one stored vector to the query, computed exactly as the SQL operator
 *	  computes it (same kernels, same double arithmetic) so that the pushed
 *	  down order equals the order a Sort would produce.
 */
#include "fdw/lance_fdw.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "access/stratnum.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "utils/lsyscache.h"

#include "kernels/distance.h"
#include "vector/halfvec.h"
#include "vector/vector.h"
#include "vector/vector_common.h"

/* the largest LIMIT answered inside the scan (the winners are kept in memory) */
#define LANCE_TOPK_MAX	100000

#define FLOAT8_BTREE_OPFAMILY	1970

static const char *const metric_ops[] = {"<->", "<#>", "<=>", "<+>"};

const char *
lance_fdw_metric_name(int metric)
{
	static const char *const names[] = {"l2", "negative inner product", "cosine", "l1"};

	return metric >= 0 && metric < 4 ? names[metric] : "?";
}

/* Metric of a distance operator on vector or halfvec, -1 if it is none. */
static int
metric_of(Oid opno, Oid *argtype)
{
	Oid			left,
				right;
	char	   *name;
	int			i;

	op_input_types(opno, &left, &right);
	if (left != right ||
		(left != lance_fdw_ext_type("vector") && left != lance_fdw_ext_type("halfvec")))
		return -1;
	name = get_opname(opno);
	if (name == NULL)
		return -1;
	for (i = 0; i < 4; i++)
		if (strcmp(name, metric_ops[i]) == 0)
		{
			*argtype = left;
			return i;
		}
	return -1;
}

bool
lance_fdw_topk_match(PlannerInfo *root, RelOptInfo *baserel, LanceTopkPlan *out)
{
	PathKey    *pk;
	ListCell   *lc;

	memset(out, 0, sizeof(*out));
	/* the LIMIT must apply to this scan's rows alone, all of them */
	if (root->query_pathkeys == NIL || list_length(root->query_pathkeys) != 1 ||
		root->limit_tuples < 1 || root->limit_tuples > LANCE_TOPK_MAX ||
		baserel->reloptkind != RELOPT_BASEREL ||
		bms_membership(root->all_baserels) != BMS_SINGLETON ||
		root->parse->rowMarks != NIL || baserel->lateral_relids != NULL)
		return false;
	/*
	 * Quals are checked inside the scan on rows that would rank (and again
	 * by the executor on the winners): they must give the same answer twice.
	 */
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		if (contain_volatile_functions((Node *) ri->clause))
			return false;
	}
	pk = linitial_node(PathKey, root->query_pathkeys);
	if (pk->pk_strategy != BTLessStrategyNumber || pk->pk_nulls_first ||
		pk->pk_opfamily != FLOAT8_BTREE_OPFAMILY || pk->pk_eclass->ec_has_volatile)
		return false;
	foreach(lc, pk->pk_eclass->ec_members)
	{
		EquivalenceMember *em = (EquivalenceMember *) lfirst(lc);
		OpExpr	   *op = (OpExpr *) em->em_expr;
		Node	   *a,
				   *b;
		Oid			argtype = InvalidOid;
		int			metric;

		while (IsA(op, RelabelType))
			op = (OpExpr *) ((RelabelType *) op)->arg;
		if (!IsA(op, OpExpr) || list_length(op->args) != 2 || op->opresulttype != FLOAT8OID)
			continue;
		if ((metric = metric_of(op->opno, &argtype)) < 0)
			continue;
		a = linitial(op->args);
		b = lsecond(op->args);
		if (!IsA(a, Var))
		{
			Node	   *t = a;

			a = b;
			b = t;
		}
		if (!IsA(a, Var) || ((Var *) a)->varno != baserel->relid ||
			((Var *) a)->varlevelsup != 0 || ((Var *) a)->varattno <= 0 ||
			exprType(a) != argtype)
			continue;
		if (contain_var_clause(b) || contain_volatile_functions(b) ||
			contain_subplans(b) || exprType(b) != argtype)
			continue;
		out->attno = ((Var *) a)->varattno;
		out->metric = metric;
		out->k = (int64) root->limit_tuples;
		out->query = (Expr *) b;
		out->halfvec = argtype == lance_fdw_ext_type("halfvec");
		return true;
	}
	return false;
}

/* Dimension of a query datum (vector or halfvec) and its elements. */
const void *
lance_fdw_topk_query(Datum d, bool halfvec, int *dim)
{
	if (halfvec)
	{
		HalfVector *v = DatumGetHalfVector(d);

		*dim = v->dim;
		return v->x;
	}
	else
	{
		Vector	   *v = DatumGetVector(d);

		*dim = v->dim;
		return v->x;
	}
}

double
lance_fdw_topk_distance(int metric, bool halfvec, const void *x, const void *q, int dim)
{
	double		d;
	float		dot,
				na,
				nb;

	if (halfvec)
	{
		const uint16 *a = x;
		const uint16 *b = q;

		switch (metric)
		{
			case 0:
				d = sqrt((double) lance_kernels->l2sq_f16(a, b, dim));
				break;
			case 1:
				d = -(double) lance_kernels->dot_f16(a, b, dim);
				break;
			case 2:
				lance_kernels->cosine_f16(a, b, dim, &dot, &na, &nb);
				return CosineDistanceFromParts(dot, na, nb);
			default:
				d = (double) lance_kernels->l1_f16(a, b, dim);
				break;
		}
	}
	else
	{
		const float *a = x;
		const float *b = q;

		switch (metric)
		{
			case 0:
				d = sqrt((double) lance_kernels->l2sq_f32(a, b, dim));
				break;
			case 1:
				d = -(double) lance_kernels->dot_f32(a, b, dim);
				break;
			case 2:
				lance_kernels->cosine_f32(a, b, dim, &dot, &na, &nb);
				return CosineDistanceFromParts(dot, na, nb);
			default:
				d = (double) lance_kernels->l1_f32(a, b, dim);
				break;
		}
	}
	/* as the SQL operators do */
	if (isinf(d))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: overflow")));
	return d;
}
