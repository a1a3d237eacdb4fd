/*
 * bm25.h
 *	  BM25 scoring, top-k evaluation over posting iterators (block-max WAND
 *	  for OR, block-max leapfrog intersection for AND and phrases), a
 *	  score-everything evaluator, and sloppy phrase matching.
 *
 * Plain C over plain buffers (no PostgreSQL headers).  Scoring:
 *
 *	idf(t)	 = ln(1 + (N - df + 0.5) / (df + 0.5))
 *	score(d) = sum over query terms t in d of
 *			   weight(t) * idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
 *
 * with k1 = 1.2, b = 0.75 by default and exact document lengths.  N, df
 * and avgdl are inputs: an index made of several segments passes global
 * statistics, and runs one search per segment against a shared Bm25TopK
 * so that later segments prune with the threshold found in earlier ones.
 *
 * Results are exact (every returned score is the doc's full BM25 score,
 * and the set is exactly the k best).  Ties: at equal score the smaller
 * key wins, where key = key_base + doc id; this holds whatever the order
 * in which segments are searched, because pruning only drops docs whose
 * upper bound is below the threshold by more than rounding slack.
 */
#ifndef LANCE_INDEX_BM25_H
#define LANCE_INDEX_BM25_H

#include "postings.h"

#define BM25_DEFAULT_K1		1.2
#define BM25_DEFAULT_B		0.75

/* Largest accepted phrase slop (bounds the matcher's scratch memory). */
#define BM25_MAX_SLOP		65535

extern double bm25_idf(uint64_t ndocs, uint64_t df);

/*
 * Precomputed per-query constants so that the evaluators and any external
 * brute force compute bit-identical scores: tf part =
 * tf * k1p1 / (tf + k1 * (1 - b + b * dl / avgdl)).
 */
typedef struct Bm25Scorer
{
	double		k1;
	double		b;
	double		avgdl;
	double		k1p1;			/* k1 + 1 */
	double		base;			/* k1 * (1 - b) */
	double		per_dl;			/* k1 * b / avgdl */
} Bm25Scorer;

extern void bm25_scorer_init(Bm25Scorer *s, double k1, double b, double avgdl);

/*
 * The tf part (score / idf).  Increasing in tf, decreasing in dl, so with
 * a block's max tf and min dl it bounds every doc of the block.
 */
static inline double
bm25_tf_part(const Bm25Scorer *s, uint32_t tf, uint32_t dl)
{
	double		t = (double) tf;

	return t * s->k1p1 / (t + (s->base + s->per_dl * (double) dl));
}

/* ---------- top-k collector ---------- */

typedef struct Bm25Hit
{
	uint64_t	key;			/* key_base + doc id */
	double		score;
} Bm25Hit;

typedef struct Bm25TopK
{
	int			k;
	int			count;
	Bm25Hit    *heap;			/* min-heap: root is the worst kept hit */
	const PostingHooks *hooks;
} Bm25TopK;

extern int	bm25_topk_init(Bm25TopK *topk, int k, const PostingHooks *hooks);
extern void bm25_topk_free(Bm25TopK *topk);

/* Offer a hit; true if kept.  Usable directly to merge result lists. */
extern bool bm25_topk_push(Bm25TopK *topk, uint64_t key, double score);

/* Would (key, score) be kept?  (Cheap test before costly checks.) */
extern bool bm25_topk_admits(const Bm25TopK *topk, uint64_t key, double score);

/* Score of the worst kept hit once k are kept, else -infinity. */
extern double bm25_topk_threshold(const Bm25TopK *topk);

/* Copy the hits, best first (score descending, key ascending); count. */
extern int	bm25_topk_sorted(const Bm25TopK *topk, Bm25Hit *out);

/* ---------- queries ---------- */

typedef struct Bm25Term
{
	PostingIter *iter;			/* initialised, not yet moved */
	double		idf;			/* from global statistics: bm25_idf() */
	double		weight;			/* query-side boost, >= 0 (usually 1) */
} Bm25Term;

typedef struct Bm25Query
{
	Bm25Term   *terms;
	int			nterms;

	/*
	 * false: OR (a doc matching any term); true: AND (all terms).
	 */
	bool		require_all;

	/*
	 * phrase_slop >= 0 makes this a phrase query: all terms, and their
	 * positions must match (bm25_phrase_freq) at query offsets
	 * phrase_offsets (NULL: 0, 1, ..., nterms - 1).  The phrase is scored
	 * as one term with tf = phrase frequency and weight * idf =
	 * sum of the terms' weight * idf (so with equal weights w, the
	 * phrase's idf is the sum of its terms' idfs, boosted by w).
	 * Repeated query terms need one iterator each.
	 */
	int			phrase_slop;
	const uint32_t *phrase_offsets;

	Bm25Scorer	scorer;			/* k1, b and the global avgdl */
	uint64_t	key_base;		/* hit key = key_base + doc id */

	/* document length (exact token count) of a doc of this segment */
	uint32_t	(*doclen) (uint32_t doc, void *arg);
	void	   *doclen_arg;

	/* NULL: all docs alive; else false for deleted docs */
	bool		(*alive) (uint32_t doc, void *arg);
	void	   *alive_arg;

	/*
	 * Optional extra predicate, called only for docs that would enter the
	 * result (top-k) or are about to be emitted (score_all).
	 */
	bool		(*accept) (uint32_t doc, void *arg);
	void	   *accept_arg;

	const PostingHooks *hooks;	/* allocation and interrupts */
} Bm25Query;

/* Zero the query and set the defaults (k1, b, avgdl 1, OR, no phrase). */
extern void bm25_query_init(Bm25Query *q);

typedef struct Bm25Stats
{
	uint64_t	candidates;		/* docs considered after bound checks */
	uint64_t	scored;			/* full scores computed */
	uint64_t	deleted;		/* candidates skipped as not alive */
	uint64_t	phrase_checks;	/* position checks run */
	uint64_t	block_skips;	/* pruning jumps over block ranges */
} Bm25Stats;

/*
 * Add this segment's best hits to topk (which may already hold hits of
 * other segments).  The iterators are consumed.  stats may be NULL and is
 * accumulated into.  Returns POSTING_OK or a negative error code.
 */
extern int	bm25_topk_search(const Bm25Query *q, Bm25TopK *topk,
							 Bm25Stats *stats);

/*
 * Call emit(key, score, arg) for every matching alive doc of the segment,
 * in doc id order.  Same semantics and scores as bm25_topk_search.
 */
extern int	bm25_score_all(const Bm25Query *q,
						   void (*emit) (uint64_t key, double score, void *arg),
						   void *emit_arg, Bm25Stats *stats);

/* ---------- phrase matching ---------- */

/*
 * Phrase frequency of one document.  pos[i] (npos[i] entries, strictly
 * ascending) are the positions of query term i, at query offset
 * offsets[i] (strictly ascending; NULL: i).  A match is a choice of one
 * position p[i] per term with p[0] < p[1] < ... < p[n-1] (terms in query
 * order, distinct positions) whose cost
 *
 *	sum over i >= 1 of | (p[i] - p[i-1]) - (offsets[i] - offsets[i-1]) |
 *
 * is at most slop.  With consecutive offsets the cost is the number of
 * extra positions between the terms (p[n-1] - p[0] - (n - 1)), so slop 0
 * is the exact phrase.  The frequency is the number of distinct p[0] that
 * start a match.  scratch must hold bm25_phrase_scratch_size(slop) values.
 * Returns 0 for n < 1.
 */
extern uint32_t bm25_phrase_freq(const uint32_t *const *pos,
								 const uint32_t *npos,
								 const uint32_t *offsets, int n,
								 uint32_t slop, uint32_t *scratch);

extern size_t bm25_phrase_scratch_size(uint32_t slop);

#endif							/* LANCE_INDEX_BM25_H */
