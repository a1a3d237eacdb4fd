/*
 * hugepages.h
 *	  Ask for transparent huge pages on a large private allocation.
 *
 * Where the kernel gives them only on request (transparent_hugepage =
 * madvise, Debian's default), a large array touched once row by row or at
 * random otherwise pays one page fault and one TLB entry per 4 kB.
 */
#ifndef LANCE_HUGEPAGES_H
#define LANCE_HUGEPAGES_H

#include <stddef.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* the 2 MB-aligned part of [p, p + size) only; a hint, errors ignored */
static inline void
lance_advise_huge(void *p, size_t size)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
	const uintptr_t huge = (uintptr_t) 2 << 20;
	uintptr_t	start = ((uintptr_t) p + huge - 1) & ~(huge - 1);
	uintptr_t	end = ((uintptr_t) p + size) & ~(huge - 1);

	if (end > start)
		(void) madvise((void *) start, end - start, MADV_HUGEPAGE);
#else
	(void) p;
	(void) size;
#endif
}

#endif							/* LANCE_HUGEPAGES_H */
