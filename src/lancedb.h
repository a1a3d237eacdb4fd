/*
 * lancedb.h
 *	  Declarations shared across the extension's modules.
 */
#ifndef LANCEDB_H
#define LANCEDB_H

#include "postgres.h"

#include "fmgr.h"

/*
 * The library is built with -fvisibility=hidden so its internal symbols can
 * never bind to another extension's (pgvector's vector_in, say, when both
 * are loaded in one backend).  SQL-callable functions are exported with
 * this macro, which marks the first declaration visible.
 */
#define LANCEDB_FUNCTION(name) \
	extern PGDLLEXPORT Datum name(PG_FUNCTION_ARGS); \
	PG_FUNCTION_INFO_V1(name)

extern PGDLLEXPORT void _PG_init(void);

/* Array allocations that may exceed 1 GB (large samples, spools). */
#define lance_palloc_array(type, n) \
	((type *) MemoryContextAllocHuge(CurrentMemoryContext, sizeof(type) * (Size) (n)))
#define lance_palloc0_array(type, n) \
	((type *) MemoryContextAllocExtended(CurrentMemoryContext, \
										 sizeof(type) * (Size) (n), \
										 MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO))

#endif							/* LANCEDB_H */
