/*
 * fuzz_lance_manifest.c
 *	  libFuzzer target: manifest parsing (trailer, Manifest protobuf, schema,
 *	  fragments, feature flags), stable row id sequences and deletion files.
 *	  The first input byte selects the parser so one corpus covers all three.
 */
#include "fdw/lance/lance_file.h"
#include "fdw/lance/lance_manifest.h"

#include <stdlib.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LanceError	err = {0};
	uint8_t		sel;

	/* keep single allocations small so that a bad length shows up as an error */
	lance_set_max_alloc(UINT64_C(64) << 20);
	if (size < 1)
		return 0;
	sel = data[0] % 4;
	data++;
	size--;
	if (sel == 0)
	{
		LanceManifest *m = lance_manifest_parse(data, size, "fuzz", &err);
		int			i;

		if (m == NULL)
			return 0;
		for (i = 0; i < m->nfragments; i++)
		{
			LanceFragment *f = &m->fragments[i];

			if (f->row_ids && f->physical_rows <= 100000)
			{
				uint64_t   *ids = malloc(sizeof(uint64_t) * (f->physical_rows + 1));
				LanceError	e2 = {0};

				lance_row_ids_decode(f->row_ids, f->row_ids_len, f->physical_rows, ids, &e2);
				free(ids);
			}
		}
		lance_manifest_free(m);
	}
	else if (sel == 1)
	{
		uint64_t	ids[4096];

		lance_row_ids_decode(data, size, size % 4096, ids, &err);
	}
	else
	{
		uint8_t    *bits = lance_deletion_parse(data, size,
												sel == 2 ? LANCE_DELETION_ARROW : LANCE_DELETION_BITMAP,
												100000, "fuzz", &err);

		lance_free(bits);
	}
	return 0;
}
