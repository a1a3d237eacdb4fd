/*
 * lance_nested.c
 *	  Assembly of nested fields of 2.1+ files (lists of lists, lists of
 *	  structs, structs holding lists, at any depth) from the repetition and
 *	  definition levels of their leaf columns.
 *
 * Each leaf column stores one level entry per item, per null or empty list
 * and per null struct that hides its items.  Along the path from the top
 * field (node 0) to the leaf (node `depth`), an entry opens a new slot of
 * node j when
 *	- its repetition level says so: rep counts the lists that start at the
 *	  entry (rep = number of lists on the path at a new row, 0 inside the
 *	  innermost list), so the entry starts a new element of node j when
 *	  rep >= nlists - (lists above j); and
 *	- node j is reached: the entry's definition level makes node k null (or
 *	  an empty list), and node j lies at or above k, or below k with no list
 *	  in between (children of a null struct keep their slots, as in Arrow;
 *	  items of a null or empty list do not exist).
 * A slot of node j is null when k == j (unless it is an empty list) or
 * k < j.  The leaf's values exist for exactly its slots, in order.  A list
 * node's offsets count its child's slots; a struct's children are built from
 * their own leaves and must agree on the slot count.
 */
#include <limits.h>

#include "lance_page.h"

#define NO_NULL		INT_MAX
#define MAX1(a)		((a) > 0 ? (a) : 1)
#define Max(a, b)	((a) > (b) ? (a) : (b))
#define Min(a, b)	((a) < (b) ? (a) : (b))

typedef struct LeafView
{
	LanceLeaf	leaf;
	bool		absent;
	int			depth;			/* path[depth] is the leaf */
	int			path[LANCE_MAX_LAYERS];
	bool		islist[LANCE_MAX_LAYERS];
	int			above[LANCE_MAX_LAYERS];	/* lists strictly above node j */
	int			nextlist[LANCE_MAX_LAYERS + 1]; /* first list node >= k */
	int			nlists;
	uint64_t	ps,
				pe;				/* rows the decoded pages hold */
	uint64_t	lo,
				hi;				/* level entries of the rows assembled */
	uint64_t	vlo;			/* leaf value of entry lo */
	const char *name;
} LeafView;

static bool
is_list(const LanceField *f)
{
	return f->type.kind == LANCE_T_LIST || f->type.kind == LANCE_T_LARGE_LIST;
}

static bool
is_nested(const LanceField *f)
{
	return is_list(f) || f->type.kind == LANCE_T_STRUCT;
}

static inline uint16_t
rep_at(const LeafView *lv, uint64_t i)
{
	return lv->leaf.rep ? lv->leaf.rep[i] : (uint16_t) lv->nlists;
}

/* Node made null/empty by entry i (NO_NULL when none); *empty: an empty list. */
static inline int
null_node(const LeafView *lv, uint64_t i, bool *empty)
{
	uint16_t	d = lv->leaf.def ? lv->leaf.def[i] : 0;

	*empty = false;
	if (d == 0)
		return NO_NULL;
	*empty = ((d - 1) & 1) != 0;
	return lv->depth - (d - 1) / 2;
}

static inline bool
has_slot(const LeafView *lv, int j, uint16_t r, int k)
{
	if (r < lv->nlists - lv->above[j])
		return false;
	return k >= j || lv->nextlist[k] >= j;
}

/* Checks every level entry of a view once, so that building may trust them. */
static bool
check_view(LeafView *lv, LanceError *err)
{
	uint64_t	i;

	if (lv->leaf.nlayers != lv->depth + 1)
		return lance_fail(err, "column \"%s\" has %d rep/def layers for nesting depth %d",
						  lv->name, lv->leaf.nlayers, lv->depth);
	for (i = 0; i < lv->leaf.nlev; i++)
	{
		bool		empty;
		int			k;

		if (rep_at(lv, i) > lv->nlists)
			return lance_fail(err, "column \"%s\": repetition level %u out of range",
							  lv->name, rep_at(lv, i));
		k = null_node(lv, i, &empty);
		if (k != NO_NULL && (k < 0 || (empty && !lv->islist[k])))
			return lance_fail(err, "column \"%s\": definition level %u out of range",
							  lv->name, lv->leaf.def[i]);
	}
	return true;
}

/* Narrows the view to rows [from, to) of the rows its pages hold. */
static bool
cut_rows(LeafView *lv, uint64_t from, uint64_t to, LanceError *err)
{
	uint64_t	row = 0;
	uint64_t	vals = 0;
	uint64_t	i;
	bool		lo_set = false;
	uint64_t	nvals = lv->leaf.v.width ? lv->leaf.v.len / lv->leaf.v.width : lv->leaf.v.n;

	lv->lo = lv->hi = lv->leaf.nlev;
	for (i = 0; i < lv->leaf.nlev; i++)
	{
		bool		empty;
		int			k = null_node(lv, i, &empty);
		uint16_t	r = rep_at(lv, i);

		if (r == lv->nlists || i == 0)
		{
			if (r != lv->nlists)
				return lance_fail(err, "column \"%s\": levels do not start a row", lv->name);
			if (row == from && !lo_set)
			{
				lv->lo = i;
				lv->vlo = vals;
				lo_set = true;
			}
			if (row == to)
			{
				lv->hi = i;
				break;
			}
			row++;
		}
		if (has_slot(lv, lv->depth, r, k))
			vals++;
	}
	if (!lo_set && from == row)
	{
		lv->lo = lv->leaf.nlev;
		lv->vlo = vals;
		lo_set = true;
	}
	if (!lo_set || (i == lv->leaf.nlev && row != to))
		return lance_fail(err, "column \"%s\": levels hold %llu rows, %llu expected",
						  lv->name, (unsigned long long) row, (unsigned long long) to);
	if (i == lv->leaf.nlev && vals != nvals)
		return lance_fail(err, "column \"%s\": %llu values for %llu items",
						  lv->name, (unsigned long long) nvals, (unsigned long long) vals);
	if (vals > nvals)
		return lance_fail(err, "column \"%s\": more items than values", lv->name);
	return true;
}

/* Copies values [from, from + n) of the leaf into out. */
static bool
copy_values(const LanceValues *src, uint64_t from, uint64_t n, LanceVector *out, LanceError *err)
{
	out->width = src->width;
	if (src->width)
	{
		out->values_len = n * src->width;
		out->values = lance_alloc(out->values_len, err);
		if (out->values == NULL)
			return false;
		if (n)
			memcpy(out->values, src->data + from * src->width, out->values_len);
		return true;
	}
	else
	{
		uint64_t	base = src->off[from];
		uint64_t	k;

		out->offsets = lance_alloc_array(n + 1, sizeof(uint64_t), err);
		out->values_len = src->off[from + n] - base;
		out->values = lance_alloc(out->values_len, err);
		if (out->offsets == NULL || out->values == NULL)
			return false;
		for (k = 0; k <= n; k++)
			out->offsets[k] = src->off[from + k] - base;
		if (out->values_len)
			memcpy(out->values, src->data + base, out->values_len);
		return true;
	}
}

static bool build_node(const LanceManifest *m, LeafView *views, int nviews, LeafView *lv,
					   int j, LanceVector *out, LanceError *err);

/* The first view whose path passes through field `idx` at node j. */
static LeafView *
view_under(LeafView *views, int nviews, int j, int idx)
{
	int			i;

	for (i = 0; i < nviews; i++)
		if (views[i].depth >= j && views[i].path[j] == idx)
			return &views[i];
	return NULL;
}

static bool
build_node(const LanceManifest *m, LeafView *views, int nviews, LeafView *lv, int j,
		   LanceVector *out, LanceError *err)
{
	const LanceField *fld = &m->fields[lv->path[j]];
	uint64_t	n = 0;
	uint64_t	nchild = 0;
	uint64_t	i;

	memset(out, 0, sizeof(*out));
	out->type = fld->type;
	/* pass 1: slots of this node (and of the child, for a list) */
	for (i = lv->lo; i < lv->hi; i++)
	{
		bool		empty;
		int			k = null_node(lv, i, &empty);
		uint16_t	r = rep_at(lv, i);

		if (has_slot(lv, j, r, k))
			n++;
		if (j < lv->depth && lv->islist[j] && has_slot(lv, j + 1, r, k))
			nchild++;
	}
	out->n = n;
	if (lv->islist[j])
	{
		out->offsets = lance_alloc_array(n + 1, sizeof(uint64_t), err);
		if (out->offsets == NULL)
			return false;
	}
	/* pass 2: validity and list offsets */
	n = nchild = 0;
	for (i = lv->lo; i < lv->hi; i++)
	{
		bool		empty;
		int			k = null_node(lv, i, &empty);
		uint16_t	r = rep_at(lv, i);

		if (has_slot(lv, j, r, k))
		{
			if ((k < j || (k == j && !empty)) && !lance_vector_set_null(out, n, out->n, err))
				return false;
			if (lv->islist[j])
				out->offsets[n] = nchild;
			n++;
		}
		if (j < lv->depth && lv->islist[j] && has_slot(lv, j + 1, r, k))
			nchild++;
	}
	if (lv->islist[j])
		out->offsets[n] = nchild;

	if (j == lv->depth)
	{
		uint64_t	nvals = lv->leaf.v.width ? lv->leaf.v.len / lv->leaf.v.width : lv->leaf.v.n;

		if (lv->vlo > nvals || n > nvals - lv->vlo)
			return lance_fail(err, "column \"%s\": more items than values", lv->name);
		/* a vector with a NULL item reads as NULL, as in lance_file.c */
		for (i = 0; i < n; i++)
			if (lance_values_itemnull(&lv->leaf.v, lv->vlo + i) && !lance_vector_set_null(out, i, out->n, err))
				return false;
		return copy_values(&lv->leaf.v, lv->vlo, n, out, err);
	}
	if (lv->islist[j])
	{
		out->children = lance_alloc0(sizeof(LanceVector), err);
		if (out->children == NULL)
			return false;
		out->nchildren = 1;
		if (!build_node(m, views, nviews, lv, j + 1, &out->children[0], err))
			return false;
		if (out->children[0].n != nchild)
			return lance_fail(err, "column \"%s\": list items disagree", lv->name);
		return true;
	}
	/* a struct: each member from a leaf of its own */
	out->children = lance_alloc_array(MAX1(fld->nchildren), sizeof(LanceVector), err);
	if (out->children == NULL)
		return false;
	out->nchildren = fld->nchildren;
	for (i = 0; i < (uint64_t) fld->nchildren; i++)
	{
		LeafView   *cv = view_under(views, nviews, j + 1, fld->children[i]);

		if (cv == NULL)
			return lance_fail(err, "struct \"%s\" has a member without columns", fld->name);
		if (!build_node(m, views, nviews, cv, j + 1, &out->children[i], err))
			return false;
		if (out->children[i].n != out->n)
			return lance_fail(err, "members of struct \"%s\" disagree on their rows (%llu, %llu)",
							  fld->name, (unsigned long long) out->children[i].n,
							  (unsigned long long) out->n);
	}
	return true;
}

/* Appends a view for every leaf under field idx (depth-first). */
static bool
collect_leaves(const LanceManifest *m, int idx, int *path, int depth, LeafView *views,
			   int *nviews, int maxviews, LanceError *err)
{
	const LanceField *fld = &m->fields[idx];
	int			i;

	if (depth >= LANCE_MAX_LAYERS)
		return lance_fail(err, "field \"%s\" is nested too deeply", fld->name);
	path[depth] = idx;
	if (!is_nested(fld))
	{
		LeafView   *lv;
		int			nl = 0;

		if (*nviews >= maxviews)
			return lance_fail(err, "too many leaf columns under one field");
		lv = &views[(*nviews)++];
		memset(lv, 0, sizeof(*lv));
		lv->depth = depth;
		lv->name = fld->name;
		for (i = 0; i <= depth; i++)
		{
			lv->path[i] = path[i];
			lv->islist[i] = is_list(&m->fields[path[i]]);
			lv->above[i] = nl;
			nl += lv->islist[i];
		}
		lv->nlists = nl;
		lv->nextlist[depth + 1] = INT_MAX;
		for (i = depth; i >= 0; i--)
			lv->nextlist[i] = lv->islist[i] ? i : lv->nextlist[i + 1];
		return true;
	}
	if (is_list(fld) && fld->nchildren != 1)
		return lance_fail(err, "list column \"%s\" has %d children", fld->name, fld->nchildren);
	if (fld->nchildren == 0)
		return lance_fail(err, "struct \"%s\" without members is not supported", fld->name);
	for (i = 0; i < fld->nchildren; i++)
		if (!collect_leaves(m, fld->children[i], path, depth + 1, views, nviews, maxviews, err))
			return false;
	return true;
}

bool
lance_read_nested(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df,
				  int idx, uint64_t start, uint64_t end, LanceVector *out, uint64_t *span,
				  LanceError *err)
{
	uint64_t	lo = 0,
				hi = UINT64_MAX;
	int			path[LANCE_MAX_LAYERS];
	int			nviews = 0;
	int			maxviews = m->nfields;
	LeafView   *views;
	int			i;
	int			nabsent = 0;
	bool		ok = true;

	memset(out, 0, sizeof(*out));
	views = lance_alloc_array(MAX1(maxviews), sizeof(LeafView), err);
	if (views == NULL)
		return false;
	*span = start;
	ok = collect_leaves(m, idx, path, 0, views, &nviews, maxviews, err);
	for (i = 0; ok && i < nviews; i++)
	{
		LeafView   *lv = &views[i];

		ok = lance_read_leaf(f, df, &m->fields[lv->path[lv->depth]], start, end, &lv->leaf,
							 &lv->absent, &lv->ps, &lv->pe, err);
		if (!ok)
			break;
		if (lv->absent)
		{
			nabsent++;
			continue;
		}
		if (lv->ps > start || lv->pe < end)
			ok = lance_fail(err, "file \"%s\": column \"%s\" has fewer rows than the file",
							f->r.name, lv->name);
		else
			ok = check_view(lv, err);
		/* the rows every leaf's whole pages hold: kept for the next reads */
		lo = Max(lo, lv->ps);
		hi = Min(hi, lv->pe);
	}
	if (ok && nabsent > 0)
		lo = start, hi = end;
	for (i = 0; ok && nabsent == 0 && i < nviews; i++)
		ok = cut_rows(&views[i], lo - views[i].ps, hi - views[i].ps, err);
	if (ok && nabsent == nviews)
		ok = lance_null_vector(m, idx, end - start, out, err);
	else if (ok && nabsent > 0)
		ok = lance_fail(err, "file \"%s\" holds only some columns of field \"%s\"",
						f->r.name, m->fields[idx].name);
	else if (ok)
	{
		ok = build_node(m, views, nviews, &views[0], 0, out, err);
		if (ok && out->n != hi - lo)
			ok = lance_fail(err, "field \"%s\": %llu rows assembled for %llu",
							m->fields[idx].name, (unsigned long long) out->n,
							(unsigned long long) (hi - lo));
		*span = lo;
	}
	for (i = 0; i < nviews; i++)
		lance_leaf_free(&views[i].leaf);
	lance_free(views);
	if (!ok)
		lance_vector_free(out);
	return ok;
}
