/*
 * bitvec.c
 *	  Binary vectors on PostgreSQL's built-in bit(n): Hamming and Jaccard
 *	  distances through the popcount kernels.
 */
#include "postgres.h"

#include "kernels/distance.h"
#include "lancedb.h"
#include "utils/varbit.h"

static void
CheckSameBitLengths(VarBit *a, VarBit *b)
{
	if (VARBITLEN(a) != VARBITLEN(b))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different bit lengths %d and %d",
						VARBITLEN(a), VARBITLEN(b))));
}

/* Padding bits past VARBITLEN are zero in every valid bit value. */
LANCEDB_FUNCTION(hamming_distance);
Datum
hamming_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);

	CheckSameBitLengths(a, b);
	PG_RETURN_FLOAT8((double) lance_kernels->hamming(VARBITS(a), VARBITS(b),
													 VARBITBYTES(a)));
}

/* 1 - |a AND b| / |a OR b|; two empty sets are identical (distance 0). */
LANCEDB_FUNCTION(jaccard_distance);
Datum
jaccard_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);
	uint64_t	and_count,
				or_count;

	CheckSameBitLengths(a, b);
	lance_kernels->and_or_count(VARBITS(a), VARBITS(b), VARBITBYTES(a),
								&and_count, &or_count);
	if (or_count == 0)
		PG_RETURN_FLOAT8(0.0);
	PG_RETURN_FLOAT8(1.0 - (double) and_count / (double) or_count);
}
