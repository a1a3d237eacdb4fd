/*
 * vector_parse.h
 *	  Text form '[1,2,3]' shared by vector and halfvec (pgvector's grammar and
 *	  error messages, so clients and scripts see the same behaviour).
 */
#ifndef LANCEDB_VECTOR_PARSE_H
#define LANCEDB_VECTOR_PARSE_H

#include "postgres.h"

#include "lib/stringinfo.h"

/*
 * Parse lit into out (room for maxdim floats); returns the dimension.  Every
 * element is finite; the caller applies its own range checks.
 */
extern int	ParseVectorText(const char *lit, const char *typname,
							float *out, int maxdim);

/* Append the shortest exact decimal form of each element, '[a,b,...]'. */
extern void AppendVectorText(StringInfo buf, const float *x, int dim);

#endif							/* LANCEDB_VECTOR_PARSE_H */
