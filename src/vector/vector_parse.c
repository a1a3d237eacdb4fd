/*
 * vector_parse.c
 *	  Text input and output of vector literals.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "vector/vector_parse.h"

static inline bool
vector_isspace(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
		ch == '\v' || ch == '\f';
}

static void
invalid_syntax(const char *typname, const char *lit, const char *detail)
{
	if (detail)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"", typname, lit),
				 errdetail("%s", detail)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", typname, lit)));
}

int
ParseVectorText(const char *lit, const char *typname, float *out, int maxdim)
{
	const char *pt = lit;
	int			dim = 0;

	while (vector_isspace(*pt))
		pt++;
	if (*pt != '[')
		invalid_syntax(typname, lit, "Vector contents must start with \"[\".");
	pt++;
	while (vector_isspace(*pt))
		pt++;
	if (*pt == ']')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", typname)));

	for (;;)
	{
		char	   *end;
		float		val;

		if (dim == maxdim)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s cannot have more than %d dimensions", typname, maxdim)));

		while (vector_isspace(*pt))
			pt++;
		/* strtof would accept an empty string as 0 at end of input */
		if (*pt == '\0')
			invalid_syntax(typname, lit, NULL);

		errno = 0;
		val = strtof(pt, &end);
		if (end == pt)
			invalid_syntax(typname, lit, NULL);
		if (errno == ERANGE && isinf(val))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type %s",
							pnstrdup(pt, end - pt), typname)));
		if (isnan(val))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN not allowed in %s", typname)));
		if (isinf(val))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("infinite value not allowed in %s", typname)));
		out[dim++] = val;
		pt = end;

		while (vector_isspace(*pt))
			pt++;
		if (*pt == ',')
			pt++;
		else if (*pt == ']')
		{
			pt++;
			break;
		}
		else
			invalid_syntax(typname, lit, NULL);
	}

	while (vector_isspace(*pt))
		pt++;
	if (*pt != '\0')
		invalid_syntax(typname, lit, "Junk after closing right brace.");

	return dim;
}

void
AppendVectorText(StringInfo buf, const float *x, int dim)
{
	/* room for every element, the commas and the brackets */
	enlargeStringInfo(buf, dim * (FLOAT_SHORTEST_DECIMAL_LEN + 1) + 2);
	buf->data[buf->len++] = '[';
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			buf->data[buf->len++] = ',';
		buf->len += float_to_shortest_decimal_bufn(x[i], buf->data + buf->len);
	}
	buf->data[buf->len++] = ']';
	buf->data[buf->len] = '\0';
}
