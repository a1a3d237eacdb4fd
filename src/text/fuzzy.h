/*
 * fuzzy.h
 *	  Fuzzy and prefix expansion of a query term over a sorted term
 *	  dictionary, for MATCH queries with fuzziness or a trailing '*'.
 *
 * The dictionary is reached through an iterator (LanceTermIter) over terms
 * in bytewise order (memcmp, shorter first), which for UTF-8 is code point
 * order.  Expansion walks that order as a depth-first search of the implied
 * trie: one Levenshtein DP row per code point of the current term, rows
 * shared with the previous term's common prefix are reused, and as soon as
 * a prefix cannot lead to a match (every cell of its row exceeds the edit
 * budget) the walk seeks to the next prefix that can: from the parent's row
 * it knows which characters keep a prefix alive (any character while an
 * insertion is still affordable, otherwise only query characters at live
 * positions), so it jumps straight to the next such sibling, or climbs.
 * The cost follows the number of live trie prefixes, not the dictionary
 * size.  Terms that are not valid UTF-8 are handled byte by byte and below
 * a stray byte the walk steps instead of seeking (see next_viable).
 *
 * Distance: Levenshtein on Unicode code points (insert, delete, substitute
 * = 1; a transposition costs 2).  This is what LanceDB does: with
 * fuzziness 1 "pupyp" does not find "puppy" (checked on @lancedb/lancedb
 * 0.37.1).  The first prefix_length code points of the query must match
 * exactly (LanceDB's prefix_length); edits apply to the rest.
 *
 * Capping: at most max_expansions terms are returned; when more match,
 * the lowest distances win and ties go to the earlier term in dictionary
 * order.  The result is reported in dictionary order.  Once the cap is
 * full at distance k, later terms need distance < k, so the budget shrinks
 * and the walk prunes harder.  max_expansions = 0 returns nothing.
 */
#ifndef LANCE_TEXT_FUZZY_H
#define LANCE_TEXT_FUZZY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/json.h"

#define LANCE_FUZZY_MAX_EDITS 2
#define LANCE_FUZZY_MAX_TERM 1024	/* code points in the query term */

typedef struct LanceTermIter
{
	void	   *arg;

	/*
	 * Position on the first term >= key (bytewise) and return it; false if
	 * there is none.  The returned pointer stays valid until the next call.
	 */
	bool		(*seek) (void *arg, const char *key, size_t keylen,
						 const char **term, size_t *termlen);
	/* Advance to the following term; false at the end. */
	bool		(*next) (void *arg, const char **term, size_t *termlen);
} LanceTermIter;

/* Called once per kept term, in dictionary order; return false to stop. */
typedef bool (*LanceExpandCallback) (void *arg, const char *term, size_t len,
									 int distance);

typedef struct LanceExpandStats
{
	uint64_t	terms_visited;	/* terms returned by seek/next */
	uint64_t	seeks;
	uint64_t	rows;			/* DP rows computed */
	uint64_t	matches;		/* terms within the budget, before capping */
} LanceExpandStats;

/*
 * Expand query (qlen bytes of UTF-8) to dictionary terms within max_edits
 * (0..2).  Returns the number of terms passed to cb, or -1 with a message
 * in errbuf (invalid arguments, invalid UTF-8, out of memory).  stats may
 * be NULL.  Dictionary terms that are not valid UTF-8 are compared byte by
 * byte where invalid.
 */
extern int	lance_fuzzy_expand(const char *query, size_t qlen, int max_edits,
							   uint32_t prefix_length, uint32_t max_expansions,
							   const LanceTermIter *iter,
							   LanceExpandCallback cb, void *cb_arg,
							   const LanceMem *mem, LanceExpandStats *stats,
							   char *errbuf, size_t errlen);

/*
 * All terms starting with prefix (bytewise), in dictionary order, at most
 * max_expansions of them (the first ones).  distance is reported as 0.
 * Returns the number of terms passed to cb.
 */
extern int	lance_prefix_expand(const char *prefix, size_t len,
								uint32_t max_expansions,
								const LanceTermIter *iter,
								LanceExpandCallback cb, void *cb_arg,
								LanceExpandStats *stats);

#endif							/* LANCE_TEXT_FUZZY_H */
