/*
 * fuzzy.c
 *	  Levenshtein-bounded walk of a sorted term dictionary; see fuzzy.h.
 */
#include "text/fuzzy.h"

#include <stdio.h>
#include <string.h>

typedef struct FuzzyMatch
{
	char	   *term;			/* copy: the iterator's buffer is transient */
	size_t		len;
	int			dist;
} FuzzyMatch;

typedef struct FuzzyState
{
	LanceArena	arena;
	FuzzyMatch *matches;		/* dictionary order */
	int			nmatches;
	int			nalloc;
	uint32_t	cap;			/* max_expansions */
	int			bound;			/* current edit budget */
	int			counts[LANCE_FUZZY_MAX_EDITS + 1];
} FuzzyState;

#define INVALID_CP_FLAG 0x80000000u

/* Code point at s, or the lone byte marked as invalid; never 0 length. */
static int
next_cp(const unsigned char *s, size_t n, uint32_t *cp)
{
	int			l = lance_utf8_decode(s, n, cp);

	if (l == 0)
	{
		*cp = INVALID_CP_FLAG | s[0];	/* cannot collide with a code point */
		l = 1;
	}
	return l;
}

static size_t
encode_cp(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80)
	{
		out[0] = (unsigned char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (unsigned char) (0xC0 | (cp >> 6));
		out[1] = (unsigned char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (unsigned char) (0xE0 | (cp >> 12));
		out[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char) (0xF0 | (cp >> 18));
	out[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char) (0x80 | (cp & 0x3F));
	return 4;
}

#define STEP_ONLY ((size_t) -1)

/*
 * After the prefix of `level` code points (prev[0..cpoff[level]]) turned out
 * dead, build in key the smallest string beyond it that can still lead to
 * a match, climbing to shorter prefixes when a parent has no viable child
 * left.  Returns the key length, 0 when nothing beyond can match, or
 * STEP_ONLY when the path holds a stray byte: a lone lead byte such as 0xC3
 * is a byte prefix of valid characters (0xC3 0xA9 = 'é'), so the terms
 * below it are not one byte range and no seek can skip them safely.  With
 * valid UTF-8 every prefix's terms form one range, in code point order.
 *
 * Appending c to a prefix whose DP row is R yields a live row iff
 * row[0] = depth <= bound, or some R[j] + 1 <= bound (insertion: any c),
 * or c == q[j] for some R[j-1] <= bound (match).  So unless any character
 * will do, the live children are a handful of query characters, and the
 * walk jumps straight to the next one instead of visiting every sibling.
 */
static size_t
next_viable(const unsigned char *rows, int width, const uint32_t *q, int m,
			const int *cpoff, const uint32_t *cpv, const unsigned char *prev,
			int level, int bound, const char *fixed, size_t pb,
			unsigned char *key)
{
	int			k;

	for (k = 0; k < level; k++)
		if (cpv[k] & INVALID_CP_FLAG)
			return STEP_ONLY;
	while (level > 0)
	{
		const unsigned char *R = rows + (size_t) (level - 1) * width;
		uint32_t	cur = cpv[level - 1];
		bool		any = (level <= bound);
		uint32_t	best = UINT32_MAX;
		size_t		klen;
		int			j;

		for (j = 0; j < width && !any; j++)
			if (R[j] + 1 <= bound)
				any = true;
		if (any)
		{
			/* byte successor of the dead prefix: skip just its subtree */
			klen = (size_t) cpoff[level];
			memcpy(key, fixed, pb);
			memcpy(key + pb, prev, klen);
			klen += pb;
			while (klen > pb && key[klen - 1] == 0xFF)
				klen--;
			if (klen == pb)
				return 0;
			key[klen - 1]++;
			return klen;
		}
		for (j = 1; j <= m; j++)
			if (R[j - 1] <= bound && q[j - 1] > cur && q[j - 1] < best)
				best = q[j - 1];
		if (best != UINT32_MAX)
		{
			klen = (size_t) cpoff[level - 1];
			memcpy(key, fixed, pb);
			memcpy(key + pb, prev, klen);
			klen += pb;
			klen += encode_cp(best, key + klen);
			return klen;
		}
		level--;				/* no live sibling left: the parent is done */
	}
	return 0;
}

/* Is key (bytewise) greater than term? */
static bool
key_greater(const unsigned char *key, size_t klen, const char *term,
			size_t tlen)
{
	int			c = memcmp(key, term, klen < tlen ? klen : tlen);

	return c > 0 || (c == 0 && klen > tlen);
}

/*
 * Record a match; if the cap overflows drop the worst entry (highest
 * distance, latest in dictionary order) and shrink the budget so later
 * terms that would lose anyway are pruned.
 */
static bool
fuzzy_add(FuzzyState *st, const char *term, size_t len, int dist)
{
	FuzzyMatch *m;
	int			cum;
	int			k;

	if (st->nmatches == st->nalloc)
	{
		/* grow by doubling; the cap is usually small (50) */
		FuzzyMatch *bigger = lance_arena_alloc(&st->arena,
											   sizeof(FuzzyMatch) * st->nalloc * 2);

		if (bigger == NULL)
			return false;
		memcpy(bigger, st->matches, sizeof(FuzzyMatch) * st->nmatches);
		st->matches = bigger;
		st->nalloc *= 2;
	}
	m = &st->matches[st->nmatches];
	m->term = lance_arena_strndup(&st->arena, term, len);
	if (m->term == NULL)
		return false;
	m->len = len;
	m->dist = dist;
	st->nmatches++;
	st->counts[dist]++;
	if ((uint32_t) st->nmatches > st->cap)
	{
		int			worst = -1;
		int			i;

		for (i = st->nmatches - 1; i >= 0; i--)
			if (worst < 0 || st->matches[i].dist > st->matches[worst].dist)
				worst = i;
		st->counts[st->matches[worst].dist]--;
		memmove(&st->matches[worst], &st->matches[worst + 1],
				sizeof(FuzzyMatch) * (st->nmatches - worst - 1));
		st->nmatches--;
	}
	cum = 0;
	for (k = 0; k <= LANCE_FUZZY_MAX_EDITS; k++)
	{
		cum += st->counts[k];
		if ((uint32_t) cum >= st->cap)
		{
			if (k - 1 < st->bound)
				st->bound = k - 1;
			break;
		}
	}
	return true;
}

int
lance_fuzzy_expand(const char *query, size_t qlen, int max_edits,
				   uint32_t prefix_length, uint32_t max_expansions,
				   const LanceTermIter *iter,
				   LanceExpandCallback cb, void *cb_arg,
				   const LanceMem *mem, LanceExpandStats *stats,
				   char *errbuf, size_t errlen)
{
	LanceExpandStats dummy;
	FuzzyState	st;
	uint32_t   *q;				/* query code points after the fixed prefix */
	int			m = 0;			/* their count */
	size_t		pb = 0;			/* bytes of the fixed prefix */
	uint32_t	npre = 0;
	int			maxdepth;
	int			width;
	unsigned char *rows;		/* (maxdepth + 1) x width, clamped at cap */
	int		   *cpoff;			/* byte offset after k code points */
	uint32_t   *cpv;			/* code point k of the previous term */
	unsigned char *prev;		/* previous term's suffix bytes in rows */
	unsigned char *key;			/* seek key buffer */
	int			depth_valid = 0;	/* rows valid for prev[0..cpoff[d]) */
	int			dead_at = -1;	/* prev's row at this depth was dead */
	unsigned char clampv = (unsigned char) (max_edits + 1);
	const char *term;
	size_t		tlen;
	bool		ok;
	size_t		i;
	int			emitted = 0;
	int			j;

	if (stats == NULL)
		stats = &dummy;
	memset(stats, 0, sizeof(LanceExpandStats));
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (max_edits < 0 || max_edits > LANCE_FUZZY_MAX_EDITS)
	{
		if (errbuf != NULL)
			snprintf(errbuf, errlen, "fuzziness %d out of range (0..%d)",
					 max_edits, LANCE_FUZZY_MAX_EDITS);
		return -1;
	}
	if (max_expansions == 0)
		return 0;

	lance_arena_init(&st.arena, mem);
	q = lance_arena_alloc(&st.arena, sizeof(uint32_t) * (LANCE_FUZZY_MAX_TERM + 1));
	if (q == NULL)
		goto oom;
	for (i = 0; i < qlen;)
	{
		uint32_t	cp;
		int			l = lance_utf8_decode((const unsigned char *) query + i,
										  qlen - i, &cp);

		if (l == 0)
		{
			if (errbuf != NULL)
				snprintf(errbuf, errlen, "invalid UTF-8 in fuzzy term at position %zu",
						 i + 1);
			lance_arena_free(&st.arena);
			return -1;
		}
		if (npre < prefix_length)
		{
			npre++;
			pb = i + l;
		}
		else
		{
			if (m >= LANCE_FUZZY_MAX_TERM)
			{
				if (errbuf != NULL)
					snprintf(errbuf, errlen, "fuzzy term longer than %d characters",
							 LANCE_FUZZY_MAX_TERM);
				lance_arena_free(&st.arena);
				return -1;
			}
			q[m++] = cp;
		}
		i += l;
	}

	/* a term suffix longer than m + max_edits cannot match */
	maxdepth = m + max_edits + 1;
	width = m + 1;
	rows = lance_arena_alloc(&st.arena, (size_t) (maxdepth + 1) * width);
	cpoff = lance_arena_alloc(&st.arena, sizeof(int) * (maxdepth + 1));
	cpv = lance_arena_alloc(&st.arena, sizeof(uint32_t) * (maxdepth + 1));
	prev = lance_arena_alloc(&st.arena, (size_t) 4 * (maxdepth + 1));
	key = lance_arena_alloc(&st.arena, pb + (size_t) 4 * (maxdepth + 1));
	st.nalloc = 64;
	st.matches = lance_arena_alloc(&st.arena, sizeof(FuzzyMatch) * st.nalloc);
	if (rows == NULL || cpoff == NULL || cpv == NULL || prev == NULL ||
		key == NULL || st.matches == NULL)
		goto oom;
	st.nmatches = 0;
	st.cap = max_expansions;
	st.bound = max_edits;
	memset(st.counts, 0, sizeof(st.counts));
	for (j = 0; j < width; j++)
		rows[j] = (unsigned char) (j < clampv ? j : clampv);
	cpoff[0] = 0;

	stats->seeks++;
	ok = iter->seek(iter->arg, query, pb, &term, &tlen);
	while (ok && st.bound >= 0)
	{
		const unsigned char *suf;
		size_t		slen;
		size_t		lcp = 0;
		int			d;
		int			pruned_at = -1;

		stats->terms_visited++;
		if (tlen < pb || memcmp(term, query, pb) != 0)
			break;				/* past the fixed prefix: done */
		suf = (const unsigned char *) term + pb;
		slen = tlen - pb;

		/* reuse rows for the code points shared with the previous term */
		while (lcp < slen && lcp < (size_t) cpoff[depth_valid] &&
			   suf[lcp] == prev[lcp])
			lcp++;
		d = depth_valid;
		while (d > 0 && (size_t) cpoff[d] > lcp)
			d--;

		/*
		 * A stray byte was decided by up to 3 bytes after it; reuse rows
		 * past it only if those bytes are shared too (valid UTF-8 needs no
		 * such check: it decodes the same whatever follows).
		 */
		for (j = 0; j < d; j++)
		{
			if ((cpv[j] & INVALID_CP_FLAG) && (size_t) cpoff[j] + 4 > lcp)
			{
				d = j;
				break;
			}
		}

		/* still below a dead prefix (we stepped rather than sought) */
		if (dead_at >= 0 && d >= dead_at)
		{
			d = dead_at;
			pruned_at = dead_at;
		}

		/* extend by the remaining code points until matched or hopeless */
		while (pruned_at < 0 && (size_t) cpoff[d] < slen)
		{
			const unsigned char *prow = rows + (size_t) d * width;
			unsigned char *row = rows + (size_t) (d + 1) * width;
			unsigned char rmin;
			uint32_t	cp;
			int			l = next_cp(suf + cpoff[d], slen - cpoff[d], &cp);

			row[0] = (unsigned char) (d + 1 < clampv ? d + 1 : clampv);
			rmin = row[0];
			for (j = 1; j < width; j++)
			{
				unsigned	v = prow[j - 1] + (q[j - 1] != cp);
				unsigned	a = prow[j] + 1u;
				unsigned	b = row[j - 1] + 1u;

				if (a < v)
					v = a;
				if (b < v)
					v = b;
				if (v > clampv)
					v = clampv;
				row[j] = (unsigned char) v;
				if (v < rmin)
					rmin = (unsigned char) v;
			}
			stats->rows++;
			memcpy(prev + cpoff[d], suf + cpoff[d], l);
			cpv[d] = cp;
			cpoff[d + 1] = cpoff[d] + l;
			d++;
			if (rmin > st.bound)
			{
				pruned_at = d;
				break;
			}
			if (d == maxdepth)
			{
				/* unreachable: row maxdepth has every cell > max_edits */
				pruned_at = d;
				break;
			}
		}
		depth_valid = d;
		dead_at = pruned_at;

		if (pruned_at < 0)
		{
			int			dist = rows[(size_t) d * width + m];

			if (dist <= st.bound)
			{
				stats->matches++;
				if (!fuzzy_add(&st, term, tlen, dist))
					goto oom;
			}
			ok = iter->next(iter->arg, &term, &tlen);
		}
		else
		{
			size_t		klen = next_viable(rows, width, q, m, cpoff, cpv, prev,
										   pruned_at, st.bound, query, pb, key);

			if (klen == 0)
				break;

			/*
			 * The target is often the very next term: try one cheap step
			 * before paying for a seek.
			 */
			ok = iter->next(iter->arg, &term, &tlen);
			if (ok && klen != STEP_ONLY && key_greater(key, klen, term, tlen))
			{
				stats->seeks++;
				ok = iter->seek(iter->arg, (const char *) key, klen, &term,
								&tlen);
			}
		}
	}

	for (j = 0; j < st.nmatches; j++)
	{
		emitted++;
		if (!cb(cb_arg, st.matches[j].term, st.matches[j].len,
				st.matches[j].dist))
			break;
	}
	lance_arena_free(&st.arena);
	return emitted;

oom:
	if (errbuf != NULL)
		snprintf(errbuf, errlen, "out of memory");
	lance_arena_free(&st.arena);
	return -1;
}

int
lance_prefix_expand(const char *prefix, size_t len, uint32_t max_expansions,
					const LanceTermIter *iter, LanceExpandCallback cb,
					void *cb_arg, LanceExpandStats *stats)
{
	LanceExpandStats dummy;
	const char *term;
	size_t		tlen;
	bool		ok;
	int			n = 0;

	if (stats == NULL)
		stats = &dummy;
	memset(stats, 0, sizeof(LanceExpandStats));
	if (max_expansions == 0)
		return 0;
	stats->seeks++;
	ok = iter->seek(iter->arg, prefix, len, &term, &tlen);
	while (ok)
	{
		stats->terms_visited++;
		if (tlen < len || memcmp(term, prefix, len) != 0)
			break;
		stats->matches++;
		n++;
		if (!cb(cb_arg, term, tlen, 0) || (uint32_t) n >= max_expansions)
			break;
		ok = iter->next(iter->arg, &term, &tlen);
	}
	return n;
}
