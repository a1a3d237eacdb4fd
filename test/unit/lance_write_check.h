/*
 * lance_write_check.h
 *	  For the Lance writer's unit tests: how many of the first n rows that
 *	  the reader decoded (v) differ from the buffered leaf column c, in
 *	  validity or in value bytes.
 */
#ifndef LANCE_WRITE_CHECK_H
#define LANCE_WRITE_CHECK_H

#include <string.h>

#include "fdw/lance/lance_file.h"
#include "fdw/lance/lance_write.h"

static uint64_t
leaf_rows_differ(const LanceVector *v, const LanceColBuf *c, uint64_t n)
{
	uint64_t	bad = 0;

	for (uint64_t i = 0; i < v->n && i < n; i++)
	{
		bool		valid = c->valid.data[i] != 0;

		if (lance_vector_is_valid(v, i) != valid)
			bad++;
		else if (!valid)
			continue;
		else if (c->width == 0)
		{
			const uint64_t *o = (const uint64_t *) c->offsets.data;
			uint64_t	len = o[i + 1] - o[i];

			if (v->offsets[i + 1] - v->offsets[i] != len ||
				memcmp(v->values + v->offsets[i], c->data.data + o[i], len) != 0)
				bad++;
		}
		else if (memcmp(v->values + i * c->width, c->data.data + i * c->width, c->width) != 0)
			bad++;
	}
	return bad;
}

#endif							/* LANCE_WRITE_CHECK_H */
