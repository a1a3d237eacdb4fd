/*
 * bm25.c
 *	  BM25 top-k evaluation over posting iterators.
 *
 * OR queries run block-max WAND: cursors sorted by current doc, the pivot
 * is the first doc whose prefix of list-wide upper bounds reaches the
 * threshold; then the bounds of the blocks holding the pivot (read from
 * the skip tables, no decoding) either admit it, or prove every doc up to
 * the nearest block end cannot enter, and all those cursors jump there.
 * AND queries and phrases intersect by leapfrogging and use the same
 * block bounds to jump; a phrase's bound combines the first term's block
 * max tf (phrase frequency <= that term's tf) with the largest min dl.
 *
 * Scores are summed in query-term order so that they are reproducible bit
 * for bit (a brute force summing in the same order gets identical values,
 * and ties resolve identically).  Bounds are compared with a relative
 * slack of BM25_SLACK so that rounding in a bound can never prune a doc
 * that ties the threshold.
 */
#include "bm25.h"

#include <math.h>
#include <stdlib.h>

#define BM25_SLACK			1e-9

/* interrupt hook every this many loop iterations */
#define BM25_TICK_MASK		1023

static void *
bm_alloc(const PostingHooks *hooks, size_t size)
{
	if (size == 0)
		size = 1;
	if (hooks != NULL && hooks->alloc != NULL)
		return hooks->alloc(size);
	return malloc(size);
}

static void
bm_free(const PostingHooks *hooks, void *ptr)
{
	if (ptr == NULL)
		return;
	if (hooks != NULL && hooks->alloc != NULL)
	{
		if (hooks->release != NULL)
			hooks->release(ptr);
	}
	else
		free(ptr);
}

double
bm25_idf(uint64_t ndocs, uint64_t df)
{
	double		n = (double) ndocs;
	double		d = (double) df;

	/* df > N only with inconsistent statistics; keep idf positive anyway */
	if (d > n)
		d = n;
	return log(1.0 + (n - d + 0.5) / (d + 0.5));
}

void
bm25_scorer_init(Bm25Scorer *s, double k1, double b, double avgdl)
{
	s->k1 = k1;
	s->b = b;
	s->avgdl = avgdl;
	s->k1p1 = k1 + 1.0;
	s->base = k1 * (1.0 - b);
	s->per_dl = avgdl > 0 ? k1 * b / avgdl : 0;
}

void
bm25_query_init(Bm25Query *q)
{
	memset(q, 0, sizeof(*q));
	q->phrase_slop = -1;
	bm25_scorer_init(&q->scorer, BM25_DEFAULT_K1, BM25_DEFAULT_B, 1.0);
}

/* ---------- top-k heap ---------- */

/* a ranks below b: lower score, or equal score and larger key */
static inline bool
hit_worse(double as, uint64_t ak, double bs, uint64_t bk)
{
	return as < bs || (as == bs && ak > bk);
}

int
bm25_topk_init(Bm25TopK *topk, int k, const PostingHooks *hooks)
{
	memset(topk, 0, sizeof(*topk));
	if (k <= 0)
		return POSTING_ERR_INPUT;
	topk->heap = bm_alloc(hooks, (size_t) k * sizeof(Bm25Hit));
	if (topk->heap == NULL)
		return POSTING_ERR_NOMEM;
	topk->k = k;
	topk->hooks = hooks;
	return POSTING_OK;
}

void
bm25_topk_free(Bm25TopK *topk)
{
	bm_free(topk->hooks, topk->heap);
	topk->heap = NULL;
	topk->count = 0;
}

bool
bm25_topk_admits(const Bm25TopK *topk, uint64_t key, double score)
{
	if (topk->count < topk->k)
		return true;
	return hit_worse(topk->heap[0].score, topk->heap[0].key, score, key);
}

double
bm25_topk_threshold(const Bm25TopK *topk)
{
	if (topk->count < topk->k)
		return -INFINITY;
	return topk->heap[0].score;
}

bool
bm25_topk_push(Bm25TopK *topk, uint64_t key, double score)
{
	Bm25Hit    *h = topk->heap;
	int			i;

	if (!bm25_topk_admits(topk, key, score))
		return false;
	if (topk->count < topk->k)
	{
		/* sift up */
		i = topk->count++;
		while (i > 0)
		{
			int			parent = (i - 1) / 2;

			if (!hit_worse(score, key, h[parent].score, h[parent].key))
				break;
			h[i] = h[parent];
			i = parent;
		}
	}
	else
	{
		/* replace the root, sift down */
		i = 0;
		for (;;)
		{
			int			c = 2 * i + 1;

			if (c >= topk->count)
				break;
			if (c + 1 < topk->count &&
				hit_worse(h[c + 1].score, h[c + 1].key, h[c].score, h[c].key))
				c++;
			if (!hit_worse(h[c].score, h[c].key, score, key))
				break;
			h[i] = h[c];
			i = c;
		}
	}
	h[i].key = key;
	h[i].score = score;
	return true;
}

static int
hit_cmp(const void *a, const void *b)
{
	const Bm25Hit *x = a;
	const Bm25Hit *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return 0;
}

int
bm25_topk_sorted(const Bm25TopK *topk, Bm25Hit *out)
{
	memcpy(out, topk->heap, (size_t) topk->count * sizeof(Bm25Hit));
	qsort(out, (size_t) topk->count, sizeof(Bm25Hit), hit_cmp);
	return topk->count;
}

/* ---------- phrase matching ---------- */

size_t
bm25_phrase_scratch_size(uint32_t slop)
{
	/* two generations of (position, cost) for a window of 2 slop + 1 */
	return 4 * ((size_t) 2 * slop + 1);
}

/* first index of a[0..n) with a[i] >= v */
static uint32_t
lower_bound(const uint32_t *a, uint32_t n, int64_t v)
{
	uint32_t	lo = 0,
				hi = n;

	while (lo < hi)
	{
		uint32_t	mid = lo + (hi - lo) / 2;

		if ((int64_t) a[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Does a match start at p0?  Dynamic programming over the terms: the
 * cheapest cost of reaching each candidate position of term i.  The
 * triangle inequality keeps term i within slop of p0 + (offsets[i] -
 * offsets[0]), so each generation has at most 2 slop + 1 states.
 */
static bool
phrase_match_at(const uint32_t *const *pos, const uint32_t *npos,
				const uint32_t *offsets, int n, uint32_t slop,
				uint32_t p0, uint32_t *scratch)
{
	size_t		cap = 2 * (size_t) slop + 1;
	uint32_t   *prev_pos = scratch;
	uint32_t   *prev_cost = scratch + cap;
	uint32_t   *cur_pos = scratch + 2 * cap;
	uint32_t   *cur_cost = scratch + 3 * cap;
	size_t		nprev = 1;
	int			i;

	prev_pos[0] = p0;
	prev_cost[0] = 0;
	for (i = 1; i < n; i++)
	{
		int64_t		qoff_i = offsets ? offsets[i] : (uint32_t) i;
		int64_t		qoff_p = offsets ? offsets[i - 1] : (uint32_t) (i - 1);
		int64_t		qoff_0 = offsets ? offsets[0] : 0;
		int64_t		qgap = qoff_i - qoff_p;
		int64_t		center = (int64_t) p0 + (qoff_i - qoff_0);
		int64_t		lo = center - slop;
		int64_t		hi = center + slop;
		uint32_t	j;
		size_t		ncur = 0;
		uint32_t   *swap;

		if (lo <= (int64_t) prev_pos[0])
			lo = (int64_t) prev_pos[0] + 1;
		for (j = lower_bound(pos[i], npos[i], lo);
			 j < npos[i] && (int64_t) pos[i][j] <= hi; j++)
		{
			int64_t		q = pos[i][j];
			int64_t		best = (int64_t) slop + 1;
			size_t		s;

			/* prev_pos ascends: stop at the first not before q */
			for (s = 0; s < nprev && (int64_t) prev_pos[s] < q; s++)
			{
				int64_t		dev = q - (int64_t) prev_pos[s] - qgap;
				int64_t		c = (int64_t) prev_cost[s] + (dev < 0 ? -dev : dev);

				if (c < best)
					best = c;
			}
			if (best <= (int64_t) slop && ncur < cap)
			{
				cur_pos[ncur] = (uint32_t) q;
				cur_cost[ncur] = (uint32_t) best;
				ncur++;
			}
		}
		if (ncur == 0)
			return false;
		swap = prev_pos;
		prev_pos = cur_pos;
		cur_pos = swap;
		swap = prev_cost;
		prev_cost = cur_cost;
		cur_cost = swap;
		nprev = ncur;
	}
	return true;
}

uint32_t
bm25_phrase_freq(const uint32_t *const *pos, const uint32_t *npos,
				 const uint32_t *offsets, int n, uint32_t slop,
				 uint32_t *scratch)
{
	uint32_t	freq = 0;
	uint32_t	a;
	int			i;

	if (n < 1)
		return 0;
	for (i = 1; i < n; i++)
		if (npos[i] == 0)
			return 0;
	for (a = 0; a < npos[0]; a++)
		if (phrase_match_at(pos, npos, offsets, n, slop, pos[0][a], scratch))
			freq++;
	return freq;
}

/* ---------- evaluation ---------- */

typedef struct Cursor
{
	PostingIter *it;
	double		wi;				/* weight * idf */
	double		ub;				/* max contribution over the whole list (OR) */
	uint32_t	bound_block;	/* block whose bound is cached */
	double		bound;
} Cursor;

typedef struct Eval
{
	const Bm25Query *q;
	int			n;
	Cursor	   *cur;			/* query order */
	int		   *ord;			/* cursor indexes, by current doc (OR) */
	bool		phrase;
	double		phrase_wi;
	const uint32_t **pos;
	uint32_t   *npos;
	uint32_t   *scratch;
	Bm25Stats  *stats;
	Bm25Stats	dummy;
	uint32_t	ticks;
	int			error;
} Eval;

static inline void
eval_tick(Eval *ev)
{
	const PostingHooks *h = ev->q->hooks;

	if ((++ev->ticks & BM25_TICK_MASK) == 0 && h != NULL && h->interrupt != NULL)
		h->interrupt(h->interrupt_arg);
}

/* doc just past cursor c's shallow block (POSTING_END past the list) */
static inline uint32_t
shallow_end(const PostingIter *it)
{
	if (it->shallow >= it->nblocks)
		return POSTING_END;
	return posting_block_last_doc(it, it->shallow) + 1;
}

/* bound of cursor c's shallow block */
static inline double
cursor_block_bound(Eval *ev, Cursor *c)
{
	PostingIter *it = c->it;

	if (it->shallow >= it->nblocks)
		return 0;				/* no doc at or after the target */
	if (c->bound_block != it->shallow)
	{
		c->bound_block = it->shallow;
		c->bound = c->wi * bm25_tf_part(&ev->q->scorer,
										posting_block_max_tf(it, it->shallow),
										posting_block_min_dl(it, it->shallow));
	}
	return c->bound;
}

static inline double
prune_level(const Bm25TopK *topk)
{
	double		t = bm25_topk_threshold(topk);

	return t - fabs(t) * BM25_SLACK;
}

static void
eval_free(Eval *ev)
{
	const PostingHooks *h = ev->q->hooks;

	bm_free(h, ev->cur);
	bm_free(h, ev->ord);
	bm_free(h, ev->pos);
	bm_free(h, ev->npos);
	bm_free(h, ev->scratch);
}

static int
eval_init(Eval *ev, const Bm25Query *q, Bm25Stats *stats)
{
	const PostingHooks *h = q->hooks;
	int			n = q->nterms;
	int			i;

	memset(ev, 0, sizeof(*ev));
	ev->q = q;
	ev->n = n;
	ev->stats = stats != NULL ? stats : &ev->dummy;
	if (n < 0 || (n > 0 && q->terms == NULL) || q->doclen == NULL ||
		!(q->scorer.avgdl > 0) || q->phrase_slop > BM25_MAX_SLOP)
		return POSTING_ERR_INPUT;
	ev->phrase = q->phrase_slop >= 0;
	if (n == 0)
		return POSTING_OK;

	ev->cur = bm_alloc(h, (size_t) n * sizeof(Cursor));
	ev->ord = bm_alloc(h, (size_t) n * sizeof(int));
	if (ev->cur == NULL || ev->ord == NULL)
		return POSTING_ERR_NOMEM;
	for (i = 0; i < n; i++)
	{
		Cursor	   *c = &ev->cur[i];
		PostingIter *it = q->terms[i].iter;
		uint32_t	b;

		if (it == NULL || !(q->terms[i].weight >= 0) || !(q->terms[i].idf >= 0))
			return POSTING_ERR_INPUT;
		if (it->error != POSTING_OK)
			return it->error;
		if (ev->phrase && !it->has_positions)
			return POSTING_ERR_INPUT;
		if (ev->phrase && q->phrase_offsets != NULL && i > 0 &&
			q->phrase_offsets[i] <= q->phrase_offsets[i - 1])
			return POSTING_ERR_INPUT;
		c->it = it;
		c->wi = q->terms[i].weight * q->terms[i].idf;
		c->ub = 0;
		/* only WAND's pivot selection needs list-wide bounds */
		if (!q->require_all && !ev->phrase)
		{
			uint32_t	best_tf = 0;
			uint32_t	best_dl = UINT32_MAX;

			for (b = 0; b < it->nblocks; b++)
			{
				uint32_t	tf = posting_block_max_tf(it, b);
				uint32_t	dl = posting_block_min_dl(it, b);
				double		ub;

				/* a block no better in tf and dl cannot raise the max */
				if (tf <= best_tf && dl >= best_dl)
					continue;
				ub = c->wi * bm25_tf_part(&q->scorer, tf, dl);
				if (ub > c->ub)
				{
					c->ub = ub;
					best_tf = tf;
					best_dl = dl;
				}
			}
		}
		c->bound_block = UINT32_MAX;
		ev->phrase_wi += c->wi;
		ev->ord[i] = i;
	}
	if (ev->phrase)
	{
		ev->pos = bm_alloc(h, (size_t) n * sizeof(uint32_t *));
		ev->npos = bm_alloc(h, (size_t) n * sizeof(uint32_t));
		ev->scratch = bm_alloc(h, bm25_phrase_scratch_size((uint32_t) q->phrase_slop) *
							   sizeof(uint32_t));
		if (ev->pos == NULL || ev->npos == NULL || ev->scratch == NULL)
			return POSTING_ERR_NOMEM;
	}
	return POSTING_OK;
}

static int
eval_finish(Eval *ev, int rc)
{
	int			i;

	for (i = 0; rc == POSTING_OK && i < ev->n; i++)
		rc = ev->cur[i].it->error;
	if (rc == POSTING_OK)
		rc = ev->error;
	eval_free(ev);
	return rc;
}

/*
 * Score doc d, on which every cursor holding it stands (for AND and
 * phrases: all of them).  topk, if given, lets a phrase skip its position
 * check when even its best possible frequency cannot enter.  Returns
 * false if d does not match (deleted, phrase absent, error).
 */
static bool
eval_doc(Eval *ev, uint32_t d, const Bm25TopK *topk, double *score)
{
	const Bm25Query *q = ev->q;
	uint32_t	dl;
	int			i;

	ev->stats->candidates++;
	if (q->alive != NULL && !q->alive(d, q->alive_arg))
	{
		ev->stats->deleted++;
		return false;
	}
	dl = q->doclen(d, q->doclen_arg);
	if (ev->phrase)
	{
		uint32_t	freq;

		/* frequency <= the first term's tf */
		if (topk != NULL &&
			!bm25_topk_admits(topk, q->key_base + d,
							  ev->phrase_wi *
							  bm25_tf_part(&q->scorer,
										   posting_iter_tf(ev->cur[0].it), dl)))
			return false;
		for (i = 0; i < ev->n; i++)
		{
			int			rc = posting_iter_positions(ev->cur[i].it, &ev->pos[i],
													&ev->npos[i]);

			if (rc != POSTING_OK)
			{
				ev->error = rc;
				return false;
			}
		}
		ev->stats->phrase_checks++;
		freq = bm25_phrase_freq(ev->pos, ev->npos, q->phrase_offsets, ev->n,
								(uint32_t) q->phrase_slop, ev->scratch);
		if (freq == 0)
			return false;
		*score = ev->phrase_wi * bm25_tf_part(&q->scorer, freq, dl);
	}
	else
	{
		double		s = 0;

		for (i = 0; i < ev->n; i++)
		{
			Cursor	   *c = &ev->cur[i];

			if (posting_iter_doc(c->it) == d)
				s += c->wi * bm25_tf_part(&q->scorer, posting_iter_tf(c->it), dl);
		}
		*score = s;
	}
	ev->stats->scored++;
	return true;
}

static void
offer(Eval *ev, Bm25TopK *topk, uint32_t d, double score)
{
	const Bm25Query *q = ev->q;
	uint64_t	key = q->key_base + d;

	if (!bm25_topk_admits(topk, key, score))
		return;
	if (q->accept != NULL && !q->accept(d, q->accept_arg))
		return;
	bm25_topk_push(topk, key, score);
}

static inline uint32_t
cdoc(const Eval *ev, int i)
{
	return posting_iter_doc(ev->cur[ev->ord[i]].it);
}

/* insertion sort of ord by current doc (few terms, mostly sorted) */
static void
sort_by_doc(Eval *ev)
{
	int			i;

	for (i = 1; i < ev->n; i++)
	{
		int			t = ev->ord[i];
		uint32_t	d = posting_iter_doc(ev->cur[t].it);
		int			j = i - 1;

		while (j >= 0 && cdoc(ev, j) > d)
		{
			ev->ord[j + 1] = ev->ord[j];
			j--;
		}
		ev->ord[j + 1] = t;
	}
}

/* Block-max WAND over the union of the lists. */
static void
search_or(Eval *ev, Bm25TopK *topk)
{
	int			n = ev->n;

	for (;;)
	{
		double		prune = prune_level(topk);
		double		acc = 0;
		int			pivot = -1;
		uint32_t	pd;
		int			i;

		eval_tick(ev);
		sort_by_doc(ev);
		for (i = 0; i < n; i++)
		{
			if (cdoc(ev, i) == POSTING_END)
				break;
			acc += ev->cur[ev->ord[i]].ub;
			if (acc >= prune)
			{
				pivot = i;
				break;
			}
		}
		if (pivot < 0)
			return;
		pd = cdoc(ev, pivot);
		while (pivot + 1 < n && cdoc(ev, pivot + 1) == pd)
			pivot++;

		if (prune > -INFINITY)
		{
			double		bsum = 0;

			for (i = 0; i <= pivot; i++)
			{
				Cursor	   *c = &ev->cur[ev->ord[i]];

				posting_iter_shallow_advance(c->it, pd);
				bsum += cursor_block_bound(ev, c);
			}
			if (bsum < prune)
			{
				/*
				 * No doc in [pd, next) can enter: such a doc lies only in
				 * lists 0..pivot, inside their current blocks.
				 */
				uint32_t	next = pivot + 1 < n ? cdoc(ev, pivot + 1) : POSTING_END;

				for (i = 0; i <= pivot; i++)
				{
					uint32_t	e = shallow_end(ev->cur[ev->ord[i]].it);

					if (e < next)
						next = e;
				}
				ev->stats->block_skips++;
				for (i = 0; i <= pivot; i++)
					posting_iter_advance(ev->cur[ev->ord[i]].it, next);
				continue;
			}
		}

		if (cdoc(ev, 0) == pd)
		{
			double		score;

			if (eval_doc(ev, pd, topk, &score))
				offer(ev, topk, pd, score);
			if (ev->error != POSTING_OK)
				return;
			for (i = 0; i <= pivot; i++)
				posting_iter_next(ev->cur[ev->ord[i]].it);
		}
		else
		{
			/* docs before pd cannot reach the threshold */
			for (i = 0; i < pivot && cdoc(ev, i) < pd; i++)
				posting_iter_advance(ev->cur[ev->ord[i]].it, pd);
		}
	}
}

/* Upper bound of any doc in the cursors' shallow blocks (AND / phrase). */
static double
and_block_bound(Eval *ev)
{
	int			i;

	if (ev->phrase)
	{
		PostingIter *first = ev->cur[0].it;
		uint32_t	maxdl = 0;

		/* frequency <= tf of the first term (matches start at distinct
		 * positions of it); dl >= every block's min */
		for (i = 0; i < ev->n; i++)
		{
			PostingIter *it = ev->cur[i].it;
			uint32_t	dl = posting_block_min_dl(it, it->shallow);

			if (dl > maxdl)
				maxdl = dl;
		}
		return ev->phrase_wi *
			bm25_tf_part(&ev->q->scorer,
						 posting_block_max_tf(first, first->shallow), maxdl);
	}
	else
	{
		double		s = 0;

		for (i = 0; i < ev->n; i++)
			s += cursor_block_bound(ev, &ev->cur[i]);
		return s;
	}
}

/*
 * Leapfrog intersection; if topk is given, block bounds skip ranges that
 * cannot enter it, else every match is emitted.
 */
static void
search_and(Eval *ev, Bm25TopK *topk,
		   void (*emit) (uint64_t key, double score, void *arg), void *emit_arg)
{
	int			n = ev->n;
	int			i;

	/*
	 * The block bound last passed at prune level checked_prune for every
	 * doc before checked_until (the nearest end of the blocks it used):
	 * no need to recompute it until either changes.
	 */
	uint32_t	checked_until = 0;
	double		checked_prune = 0;

	for (;;)
	{
		uint32_t	d = 0;
		bool		aligned = true;
		double		score;

		eval_tick(ev);
		for (i = 0; i < n; i++)
		{
			uint32_t	x = posting_iter_doc(ev->cur[i].it);

			if (x > d)
				d = x;
		}
		if (d == POSTING_END)
			return;

		if (topk != NULL && prune_level(topk) > -INFINITY &&
			(d >= checked_until || prune_level(topk) != checked_prune))
		{
			bool		past_end = false;
			uint32_t	next = POSTING_END;

			for (i = 0; i < n; i++)
			{
				if (posting_iter_shallow_advance(ev->cur[i].it, d) == POSTING_END)
					past_end = true;
				else if (shallow_end(ev->cur[i].it) < next)
					next = shallow_end(ev->cur[i].it);
			}
			if (past_end)
				return;			/* some list has no doc >= d */
			if (and_block_bound(ev) < prune_level(topk))
			{
				ev->stats->block_skips++;
				for (i = 0; i < n; i++)
					posting_iter_advance(ev->cur[i].it, next);
				continue;
			}
			checked_until = next;
			checked_prune = prune_level(topk);
		}

		for (i = 0; i < n; i++)
		{
			if (posting_iter_advance(ev->cur[i].it, d) != d)
			{
				aligned = false;
				break;
			}
		}
		if (!aligned)
			continue;

		if (eval_doc(ev, d, topk, &score))
		{
			if (topk != NULL)
				offer(ev, topk, d, score);
			else if (ev->q->accept == NULL || ev->q->accept(d, ev->q->accept_arg))
				emit(ev->q->key_base + d, score, emit_arg);
		}
		if (ev->error != POSTING_OK)
			return;
		posting_iter_next(ev->cur[0].it);
	}
}

/* Every doc of the union, in doc order. */
static void
score_all_or(Eval *ev, void (*emit) (uint64_t key, double score, void *arg),
			 void *emit_arg)
{
	int			i;

	for (;;)
	{
		uint32_t	d = POSTING_END;
		double		score;

		eval_tick(ev);
		for (i = 0; i < ev->n; i++)
		{
			uint32_t	x = posting_iter_doc(ev->cur[i].it);

			if (x < d)
				d = x;
		}
		if (d == POSTING_END)
			return;
		if (eval_doc(ev, d, NULL, &score) &&
			(ev->q->accept == NULL || ev->q->accept(d, ev->q->accept_arg)))
			emit(ev->q->key_base + d, score, emit_arg);
		for (i = 0; i < ev->n; i++)
			if (posting_iter_doc(ev->cur[i].it) == d)
				posting_iter_next(ev->cur[i].it);
	}
}

int
bm25_topk_search(const Bm25Query *q, Bm25TopK *topk, Bm25Stats *stats)
{
	Eval		ev;
	int			rc;

	rc = eval_init(&ev, q, stats);
	if (rc == POSTING_OK && topk->heap == NULL)
		rc = POSTING_ERR_INPUT;
	if (rc != POSTING_OK || ev.n == 0)
		return eval_finish(&ev, rc);
	if (q->require_all || ev.phrase)
		search_and(&ev, topk, NULL, NULL);
	else
		search_or(&ev, topk);
	return eval_finish(&ev, POSTING_OK);
}

int
bm25_score_all(const Bm25Query *q,
			   void (*emit) (uint64_t key, double score, void *arg),
			   void *emit_arg, Bm25Stats *stats)
{
	Eval		ev;
	int			rc;

	rc = eval_init(&ev, q, stats);
	if (rc == POSTING_OK && emit == NULL)
		rc = POSTING_ERR_INPUT;
	if (rc != POSTING_OK || ev.n == 0)
		return eval_finish(&ev, rc);
	if (q->require_all || ev.phrase)
		search_and(&ev, NULL, emit, emit_arg);
	else
		score_all_or(&ev, emit, emit_arg);
	return eval_finish(&ev, POSTING_OK);
}
