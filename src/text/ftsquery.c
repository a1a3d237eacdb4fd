/*
 * ftsquery.c
 *	  Full-text query tree: LanceDB JSON and query-string parsers, JSON
 *	  serialiser.  See ftsquery.h for the accepted forms.
 */
#include "text/ftsquery.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_MISSING_MUST_SHOULD \
	"boolean query must have at least one should/must query"

/* ---------------------------------------------------------------- common */

static FtsQuery *
query_new(const LanceMem *mem)
{
	FtsQuery   *q = lance_mem_alloc(mem, sizeof(FtsQuery));

	if (q == NULL)
		return NULL;
	q->root = NULL;
	if (mem != NULL)
		q->mem = *mem;
	else
	{
		q->mem.alloc = NULL;
		q->mem.release = NULL;
	}
	lance_arena_init(&q->arena, &q->mem);
	return q;
}

void
fts_query_free(FtsQuery *query)
{
	LanceMem	mem;

	if (query == NULL)
		return;
	mem = query->mem;
	lance_arena_free(&query->arena);
	lance_mem_release(&mem, query);
}

static FtsNode *
node_new(FtsQuery *q, FtsNodeKind kind)
{
	FtsNode    *n = lance_arena_alloc(&q->arena, sizeof(FtsNode));

	if (n == NULL)
		return NULL;
	memset(n, 0, sizeof(FtsNode));
	n->kind = kind;
	n->boost = 1.0;
	if (kind == FTS_MATCH)
	{
		n->u.match.fuzziness = 0;
		n->u.match.max_expansions = FTS_DEFAULT_MAX_EXPANSIONS;
		n->u.match.op = FTS_OP_OR;
	}
	else if (kind == FTS_BOOST)
		n->u.boosting.negative_boost = FTS_DEFAULT_NEGATIVE_BOOST;
	return n;
}

static void format_error(char *errbuf, size_t errlen, const char *what,
						 size_t pos, const char *fmt, va_list ap)
			__attribute__((format(printf, 5, 0)));

static void
format_error(char *errbuf, size_t errlen, const char *what, size_t pos,
			 const char *fmt, va_list ap)
{
	int			n;

	if (errbuf == NULL || errlen == 0)
		return;
	n = snprintf(errbuf, errlen, "%s at position %zu: ", what, pos + 1);
	if (n < 0 || (size_t) n >= errlen)
		return;
	vsnprintf(errbuf + n, errlen - n, fmt, ap);
}

int
fts_auto_fuzziness(const char *token, size_t len)
{
	size_t		i;
	size_t		ncp = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char) token[i] & 0xC0) != 0x80)
			ncp++;
	if (ncp <= 2)
		return 0;
	if (ncp <= 5)
		return 1;
	return 2;
}

/* ------------------------------------------------------- JSON -> tree */

typedef struct JsonConv
{
	FtsQuery   *q;
	char	   *errbuf;
	size_t		errlen;
	bool		failed;
} JsonConv;

static void conv_error(JsonConv *c, size_t pos, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static void
conv_error(JsonConv *c, size_t pos, const char *fmt,...)
{
	va_list		ap;

	if (c->failed)
		return;
	c->failed = true;
	va_start(ap, fmt);
	format_error(c->errbuf, c->errlen, "invalid FTS query", pos, fmt, ap);
	va_end(ap);
}

/*
 * Look key up in a NULL-terminated field list; reports unknown and
 * duplicate fields.  Returns the index or -1 after an error.
 */
static int
conv_field(JsonConv *c, const char *qtype, const char *const *fields,
		   const LanceJsonMember *m, uint32_t *seen)
{
	int			i;

	for (i = 0; fields[i] != NULL; i++)
	{
		if (strlen(fields[i]) == m->keylen &&
			memcmp(fields[i], m->key, m->keylen) == 0)
		{
			if (*seen & (1u << i))
			{
				conv_error(c, m->keypos, "duplicate field \"%s\" in %s",
						   fields[i], qtype);
				return -1;
			}
			*seen |= 1u << i;
			return i;
		}
	}
	{
		char		expected[200];
		size_t		off = 0;

		expected[0] = '\0';
		for (i = 0; fields[i] != NULL && off < sizeof(expected); i++)
			off += snprintf(expected + off, sizeof(expected) - off, "%s%s",
							i ? ", " : "", fields[i]);
		conv_error(c, m->keypos, "unknown field \"%.64s\" in %s (expected %s)",
				   m->key, qtype, expected);
	}
	return -1;
}

static void
conv_type_error(JsonConv *c, const LanceJson *v, const char *qtype,
				const char *field, const char *expected)
{
	conv_error(c, v->pos, "field \"%s\" of %s must be %s, found %s",
			   field, qtype, expected, lance_json_type_name(v->type));
}

static bool
conv_string(JsonConv *c, const LanceJson *v, const char *qtype,
			const char *field, bool nullable, const char **out)
{
	if (v->type == LJ_NULL && nullable)
	{
		*out = NULL;
		return true;
	}
	if (v->type != LJ_STRING)
	{
		conv_type_error(c, v, qtype, field,
						nullable ? "a string or null" : "a string");
		return false;
	}
	/* DOM strings live in the temporary arena: copy into the query's */
	*out = lance_arena_strndup(&c->q->arena, v->u.str.str, v->u.str.len);
	if (*out == NULL)
	{
		conv_error(c, v->pos, "out of memory");
		return false;
	}
	return true;
}

static bool
conv_number(JsonConv *c, const LanceJson *v, const char *qtype,
			const char *field, double *out)
{
	if (v->type != LJ_NUMBER)
	{
		conv_type_error(c, v, qtype, field, "a number");
		return false;
	}
	*out = v->u.num.value;
	return true;
}

static bool
conv_uint(JsonConv *c, const LanceJson *v, const char *qtype,
		  const char *field, uint64_t max, uint64_t *out)
{
	if (v->type != LJ_NUMBER)
	{
		conv_type_error(c, v, qtype, field, "a non-negative integer");
		return false;
	}
	if (!v->u.num.is_integer || (v->u.num.negative && v->u.num.magnitude != 0))
	{
		conv_error(c, v->pos, "field \"%s\" of %s must be a non-negative integer",
				   field, qtype);
		return false;
	}
	if (v->u.num.overflow || v->u.num.magnitude > max)
	{
		conv_error(c, v->pos, "field \"%s\" of %s must be at most %llu",
				   field, qtype, (unsigned long long) max);
		return false;
	}
	*out = v->u.num.magnitude;
	return true;
}

static FtsNode *conv_query(JsonConv *c, const LanceJson *v, int depth);

static FtsNode *
conv_match(JsonConv *c, const LanceJson *obj)
{
	static const char *const fields[] = {"boost", "column", "fuzziness",
		"max_expansions", "operator", "prefix_length", "terms", "prefix", NULL};
	FtsNode    *n = node_new(c->q, FTS_MATCH);
	const LanceJsonMember *m;
	uint32_t	seen = 0;
	uint64_t	u;

	if (n == NULL)
	{
		conv_error(c, obj->pos, "out of memory");
		return NULL;
	}
	/* serde: a missing Option<u32> is None, i.e. AUTO */
	n->u.match.fuzziness = FTS_FUZZINESS_AUTO;
	for (m = obj->u.obj.first; m != NULL; m = m->next)
	{
		const LanceJson *v = m->value;

		switch (conv_field(c, "match", fields, m, &seen))
		{
			case 0:
				if (!conv_number(c, v, "match", "boost", &n->boost))
					return NULL;
				break;
			case 1:
				if (!conv_string(c, v, "match", "column", true,
								 &n->u.match.column))
					return NULL;
				break;
			case 2:
				if (v->type == LJ_NULL)
					n->u.match.fuzziness = FTS_FUZZINESS_AUTO;
				else if (v->type != LJ_NUMBER || !v->u.num.is_integer ||
						 v->u.num.overflow || v->u.num.magnitude > 2 ||
						 (v->u.num.negative && v->u.num.magnitude != 0))
				{
					conv_error(c, v->pos, "field \"fuzziness\" of match must be 0, 1, 2 or null (AUTO)");
					return NULL;
				}
				else
					n->u.match.fuzziness = (int) v->u.num.magnitude;
				break;
			case 3:
				if (!conv_uint(c, v, "match", "max_expansions", UINT32_MAX, &u))
					return NULL;
				n->u.match.max_expansions = (uint32_t) u;
				break;
			case 4:
				if (v->type != LJ_STRING)
				{
					conv_type_error(c, v, "match", "operator", "\"And\" or \"Or\"");
					return NULL;
				}
				if (strcmp(v->u.str.str, "Or") == 0 ||
					strcmp(v->u.str.str, "OR") == 0)
					n->u.match.op = FTS_OP_OR;
				else if (strcmp(v->u.str.str, "And") == 0 ||
						 strcmp(v->u.str.str, "AND") == 0)
					n->u.match.op = FTS_OP_AND;
				else
				{
					conv_error(c, v->pos, "field \"operator\" of match must be \"And\" or \"Or\", found \"%.32s\"",
							   v->u.str.str);
					return NULL;
				}
				break;
			case 5:
				if (!conv_uint(c, v, "match", "prefix_length", UINT32_MAX, &u))
					return NULL;
				n->u.match.prefix_length = (uint32_t) u;
				break;
			case 6:
				if (!conv_string(c, v, "match", "terms", false,
								 &n->u.match.terms))
					return NULL;
				break;
			case 7:
				if (v->type != LJ_TRUE && v->type != LJ_FALSE)
				{
					conv_type_error(c, v, "match", "prefix", "a boolean");
					return NULL;
				}
				n->u.match.prefix = (v->type == LJ_TRUE);
				break;
			default:
				return NULL;
		}
	}
	if (n->u.match.terms == NULL)
	{
		conv_error(c, obj->pos, "missing field \"terms\" in match");
		return NULL;
	}
	if (n->u.match.prefix)
	{
		/* bit 2 = "fuzziness" was given: only 0 makes sense with a prefix */
		if ((seen & (1u << 2)) && n->u.match.fuzziness != 0)
		{
			conv_error(c, obj->pos, "match with \"prefix\": true cannot have a non-zero \"fuzziness\"");
			return NULL;
		}
		n->u.match.fuzziness = 0;
	}
	return n;
}

static FtsNode *
conv_phrase(JsonConv *c, const LanceJson *obj)
{
	static const char *const fields[] = {"column", "slop", "terms", "boost",
	NULL};
	FtsNode    *n = node_new(c->q, FTS_PHRASE);
	const LanceJsonMember *m;
	uint32_t	seen = 0;
	uint64_t	u;

	if (n == NULL)
	{
		conv_error(c, obj->pos, "out of memory");
		return NULL;
	}
	for (m = obj->u.obj.first; m != NULL; m = m->next)
	{
		const LanceJson *v = m->value;

		switch (conv_field(c, "phrase", fields, m, &seen))
		{
			case 0:
				if (!conv_string(c, v, "phrase", "column", true,
								 &n->u.phrase.column))
					return NULL;
				break;
			case 1:
				if (!conv_uint(c, v, "phrase", "slop", UINT32_MAX, &u))
					return NULL;
				n->u.phrase.slop = (uint32_t) u;
				break;
			case 2:
				if (!conv_string(c, v, "phrase", "terms", false,
								 &n->u.phrase.terms))
					return NULL;
				break;
			case 3:
				if (!conv_number(c, v, "phrase", "boost", &n->boost))
					return NULL;
				break;
			default:
				return NULL;
		}
	}
	if (n->u.phrase.terms == NULL)
	{
		conv_error(c, obj->pos, "missing field \"terms\" in phrase");
		return NULL;
	}
	return n;
}

static FtsNode *
conv_boost(JsonConv *c, const LanceJson *obj, int depth)
{
	static const char *const fields[] = {"negative", "negative_boost",
	"positive", NULL};
	FtsNode    *n = node_new(c->q, FTS_BOOST);
	const LanceJsonMember *m;
	uint32_t	seen = 0;

	if (n == NULL)
	{
		conv_error(c, obj->pos, "out of memory");
		return NULL;
	}
	for (m = obj->u.obj.first; m != NULL; m = m->next)
	{
		switch (conv_field(c, "boost", fields, m, &seen))
		{
			case 0:
				n->u.boosting.negative = conv_query(c, m->value, depth + 1);
				if (n->u.boosting.negative == NULL)
					return NULL;
				break;
			case 1:
				if (!conv_number(c, m->value, "boost", "negative_boost",
								 &n->u.boosting.negative_boost))
					return NULL;
				break;
			case 2:
				n->u.boosting.positive = conv_query(c, m->value, depth + 1);
				if (n->u.boosting.positive == NULL)
					return NULL;
				break;
			default:
				return NULL;
		}
	}
	if (n->u.boosting.positive == NULL || n->u.boosting.negative == NULL)
	{
		conv_error(c, obj->pos, "missing field \"%s\" in boost",
				   n->u.boosting.positive == NULL ? "positive" : "negative");
		return NULL;
	}
	return n;
}

static FtsNode *
conv_multi_match(JsonConv *c, const LanceJson *obj)
{
	static const char *const fields[] = {"boost", "columns", "query",
	"operator", NULL};
	FtsNode    *n = node_new(c->q, FTS_MULTI_MATCH);
	const LanceJsonMember *m;
	const LanceJson *boosts = NULL;
	const LanceJson *columns = NULL;
	const LanceJson *e;
	uint32_t	seen = 0;
	int			i;

	if (n == NULL)
	{
		conv_error(c, obj->pos, "out of memory");
		return NULL;
	}
	for (m = obj->u.obj.first; m != NULL; m = m->next)
	{
		const LanceJson *v = m->value;

		switch (conv_field(c, "multi_match", fields, m, &seen))
		{
			case 0:
				if (v->type != LJ_ARRAY && v->type != LJ_NULL)
				{
					conv_type_error(c, v, "multi_match", "boost",
									"an array of numbers or null");
					return NULL;
				}
				boosts = (v->type == LJ_ARRAY) ? v : NULL;
				break;
			case 1:
				if (v->type != LJ_ARRAY)
				{
					conv_type_error(c, v, "multi_match", "columns",
									"an array of strings");
					return NULL;
				}
				columns = v;
				break;
			case 2:
				if (!conv_string(c, v, "multi_match", "query", false,
								 &n->u.multi.query))
					return NULL;
				break;
			case 3:
				if (v->type == LJ_STRING &&
					(strcmp(v->u.str.str, "Or") == 0 ||
					 strcmp(v->u.str.str, "OR") == 0))
					n->u.multi.op = FTS_OP_OR;
				else if (v->type == LJ_STRING &&
						 (strcmp(v->u.str.str, "And") == 0 ||
						  strcmp(v->u.str.str, "AND") == 0))
					n->u.multi.op = FTS_OP_AND;
				else
				{
					conv_error(c, v->pos, "field \"operator\" of multi_match must be \"And\" or \"Or\"");
					return NULL;
				}
				break;
			default:
				return NULL;
		}
	}
	if (n->u.multi.query == NULL || columns == NULL)
	{
		conv_error(c, obj->pos, "missing field \"%s\" in multi_match",
				   n->u.multi.query == NULL ? "query" : "columns");
		return NULL;
	}
	if (columns->u.arr.count == 0)
	{
		conv_error(c, columns->pos, "Cannot create MultiMatchQuery with no columns");
		return NULL;
	}
	if (boosts != NULL && boosts->u.arr.count != columns->u.arr.count)
	{
		conv_error(c, boosts->pos, "The number of boosts must match the number of queries");
		return NULL;
	}
	n->u.multi.ncolumns = columns->u.arr.count;
	n->u.multi.columns = lance_arena_alloc(&c->q->arena,
										   sizeof(char *) * columns->u.arr.count);
	n->u.multi.boosts = lance_arena_alloc(&c->q->arena,
										  sizeof(double) * columns->u.arr.count);
	if (n->u.multi.columns == NULL || n->u.multi.boosts == NULL)
	{
		conv_error(c, obj->pos, "out of memory");
		return NULL;
	}
	for (i = 0, e = columns->u.arr.first; e != NULL; e = e->next, i++)
		if (!conv_string(c, e, "multi_match", "columns", false,
						 &n->u.multi.columns[i]))
			return NULL;
	for (i = 0; i < n->u.multi.ncolumns; i++)
		n->u.multi.boosts[i] = 1.0;
	if (boosts != NULL)
		for (i = 0, e = boosts->u.arr.first; e != NULL; e = e->next, i++)
			if (!conv_number(c, e, "multi_match", "boost",
							 &n->u.multi.boosts[i]))
				return NULL;
	return n;
}

static bool
conv_clauses(JsonConv *c, const LanceJson *v, const char *field, int depth,
			 FtsNode ***out, int *count)
{
	const LanceJson *e;
	int			i;

	if (v->type != LJ_ARRAY)
	{
		conv_type_error(c, v, "boolean", field, "an array of queries");
		return false;
	}
	*count = v->u.arr.count;
	*out = lance_arena_alloc(&c->q->arena, sizeof(FtsNode *) * (v->u.arr.count + 1));
	if (*out == NULL)
	{
		conv_error(c, v->pos, "out of memory");
		return false;
	}
	for (i = 0, e = v->u.arr.first; e != NULL; e = e->next, i++)
	{
		(*out)[i] = conv_query(c, e, depth + 1);
		if ((*out)[i] == NULL)
			return false;
	}
	return true;
}

static FtsNode *
conv_boolean(JsonConv *c, const LanceJson *obj, int depth)
{
	static const char *const fields[] = {"must", "must_not", "should",
	"boost", NULL};
	FtsNode    *n = node_new(c->q, FTS_BOOLEAN);
	const LanceJsonMember *m;
	uint32_t	seen = 0;
	bool		ok = true;

	if (n == NULL)
	{
		conv_error(c, obj->pos, "out of memory");
		return NULL;
	}
	for (m = obj->u.obj.first; m != NULL && ok; m = m->next)
	{
		switch (conv_field(c, "boolean", fields, m, &seen))
		{
			case 0:
				ok = conv_clauses(c, m->value, "must", depth,
								  &n->u.boolean.must, &n->u.boolean.nmust);
				break;
			case 1:
				ok = conv_clauses(c, m->value, "must_not", depth,
								  &n->u.boolean.must_not,
								  &n->u.boolean.nmust_not);
				break;
			case 2:
				ok = conv_clauses(c, m->value, "should", depth,
								  &n->u.boolean.should, &n->u.boolean.nshould);
				break;
			case 3:
				ok = conv_number(c, m->value, "boolean", "boost", &n->boost);
				break;
			default:
				return NULL;
		}
	}
	if (!ok)
		return NULL;
	if (n->u.boolean.nmust + n->u.boolean.nshould == 0)
	{
		conv_error(c, obj->pos, ERR_MISSING_MUST_SHOULD);
		return NULL;
	}
	return n;
}

static FtsNode *
conv_query(JsonConv *c, const LanceJson *v, int depth)
{
	static const char *const kinds =
		"match, phrase, boost, multi_match or boolean";
	const LanceJsonMember *m;
	const char *key;

	if (depth > FTS_MAX_DEPTH)
	{
		conv_error(c, v->pos, "queries nested deeper than %d levels",
				   FTS_MAX_DEPTH);
		return NULL;
	}
	if (v->type != LJ_OBJECT)
	{
		conv_error(c, v->pos, "expected a query object, found %s",
				   lance_json_type_name(v->type));
		return NULL;
	}
	m = v->u.obj.first;
	if (m == NULL)
	{
		conv_error(c, v->pos, "empty query object (expected one key: %s)",
				   kinds);
		return NULL;
	}
	if (m->next != NULL)
	{
		conv_error(c, m->next->keypos, "query object must have exactly one key (%s), found a second key \"%.64s\"",
				   kinds, m->next->key);
		return NULL;
	}
	key = m->key;
	if (m->value->type != LJ_OBJECT &&
		(strcmp(key, "match") == 0 || strcmp(key, "phrase") == 0 ||
		 strcmp(key, "boost") == 0 || strcmp(key, "multi_match") == 0 ||
		 strcmp(key, "boolean") == 0))
	{
		conv_error(c, m->value->pos, "\"%s\" must be an object, found %s",
				   key, lance_json_type_name(m->value->type));
		return NULL;
	}
	if (strcmp(key, "match") == 0)
		return conv_match(c, m->value);
	if (strcmp(key, "phrase") == 0)
		return conv_phrase(c, m->value);
	if (strcmp(key, "boost") == 0)
		return conv_boost(c, m->value, depth);
	if (strcmp(key, "multi_match") == 0)
		return conv_multi_match(c, m->value);
	if (strcmp(key, "boolean") == 0)
		return conv_boolean(c, m->value, depth);
	conv_error(c, m->keypos, "unknown query type \"%.64s\" (expected %s)",
			   key, kinds);
	return NULL;
}

FtsQuery *
fts_query_from_json(const char *json, size_t len, size_t max_size,
					const LanceMem *mem, char *errbuf, size_t errlen)
{
	FtsQuery   *q;
	LanceArena	dom;
	LanceJson  *root;
	JsonConv	c;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	q = query_new(mem);
	if (q == NULL)
	{
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	/* the DOM is scratch: keep it apart so it is released right away */
	lance_arena_init(&dom, mem);
	root = lance_json_parse(&dom, json, len, max_size, errbuf, errlen);
	if (root == NULL)
	{
		lance_arena_free(&dom);
		fts_query_free(q);
		return NULL;
	}
	c.q = q;
	c.errbuf = errbuf;
	c.errlen = errlen;
	c.failed = false;
	q->root = conv_query(&c, root, 0);
	lance_arena_free(&dom);
	if (q->root == NULL)
	{
		fts_query_free(q);
		return NULL;
	}
	return q;
}

/* ---------------------------------------------------- query string */

typedef enum Occur
{
	OCC_SHOULD,
	OCC_MUST,
	OCC_MUST_NOT
} Occur;

typedef struct Clause Clause;
struct Clause
{
	FtsNode    *node;
	Occur		occ;
	size_t		pos;
	bool		simple;			/* bare word without modifiers */
	Clause	   *next;
};

typedef struct QParser
{
	const char *s;
	size_t		len;
	size_t		pos;
	FtsQuery   *q;
	char	   *errbuf;
	size_t		errlen;
	bool		failed;
} QParser;

static void qp_error(QParser *p, size_t pos, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static void
qp_error(QParser *p, size_t pos, const char *fmt,...)
{
	va_list		ap;

	if (p->failed)
		return;
	p->failed = true;
	va_start(ap, fmt);
	format_error(p->errbuf, p->errlen, "syntax error", pos, fmt, ap);
	va_end(ap);
}

static bool
qp_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
		c == '\v';
}

/* Characters that end a bare word unless escaped. */
static bool
qp_is_special(char c)
{
	return qp_is_space(c) || c == '(' || c == ')' || c == '"' || c == ':' ||
		c == '^' || c == '~' || c == '*';
}

static void
qp_skip_ws(QParser *p)
{
	while (p->pos < p->len && qp_is_space(p->s[p->pos]))
		p->pos++;
}

static bool
qp_at_end_of_clause(QParser *p)
{
	return p->pos >= p->len || qp_is_space(p->s[p->pos]) ||
		p->s[p->pos] == ')';
}

/* Is there keyword kw at the current position, delimited as a word? */
static bool
qp_keyword(QParser *p, const char *kw)
{
	size_t		l = strlen(kw);
	char		next;

	if (p->len - p->pos < l || memcmp(p->s + p->pos, kw, l) != 0)
		return false;
	if (p->pos + l == p->len)
		return true;
	next = p->s[p->pos + l];
	return qp_is_space(next) || next == '(' || next == '"';
}

static const char *
qp_describe(QParser *p, size_t pos, char *buf, size_t buflen)
{
	unsigned char c;

	if (pos >= p->len)
		return "end of query";
	c = (unsigned char) p->s[pos];
	if (c >= 0x21 && c < 0x7F)
		snprintf(buf, buflen, "'%c'", c);
	else
		snprintf(buf, buflen, "byte 0x%02X", c);
	return buf;
}

/*
 * Scan a bare word at p->pos, resolving escapes.  Stops at a special
 * character.  Returns the unescaped copy (NULL after an error).
 */
static char *
qp_word(QParser *p, size_t *outlen)
{
	size_t		start = p->pos;
	size_t		i = start;
	size_t		n = 0;
	char	   *buf;

	while (i < p->len && !qp_is_special(p->s[i]))
	{
		if (p->s[i] == '\\')
		{
			if (i + 1 >= p->len)
			{
				qp_error(p, i, "dangling '\\' at end of query");
				return NULL;
			}
			i++;
		}
		i++;
		n++;
	}
	buf = lance_arena_alloc(&p->q->arena, n + 1);
	if (buf == NULL)
	{
		qp_error(p, start, "out of memory");
		return NULL;
	}
	n = 0;
	for (i = start; i < p->len && !qp_is_special(p->s[i]); i++)
	{
		if (p->s[i] == '\\')
			i++;
		buf[n++] = p->s[i];
	}
	buf[n] = '\0';
	p->pos = i;
	*outlen = n;
	return buf;
}

/* Unsigned integer of at most 9 digits; returns false if none. */
static bool
qp_uint(QParser *p, uint32_t *out)
{
	size_t		start = p->pos;
	uint32_t	v = 0;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
	{
		if (p->pos - start >= 9)
		{
			qp_error(p, start, "number too large");
			return false;
		}
		v = v * 10 + (uint32_t) (p->s[p->pos] - '0');
		p->pos++;
	}
	*out = v;
	return p->pos > start;
}

static void
qp_set_column(FtsNode *n, const char *column)
{
	int			i;

	switch (n->kind)
	{
		case FTS_MATCH:
			if (n->u.match.column == NULL)
				n->u.match.column = column;
			break;
		case FTS_PHRASE:
			if (n->u.phrase.column == NULL)
				n->u.phrase.column = column;
			break;
		case FTS_BOOLEAN:
			for (i = 0; i < n->u.boolean.nmust; i++)
				qp_set_column(n->u.boolean.must[i], column);
			for (i = 0; i < n->u.boolean.nshould; i++)
				qp_set_column(n->u.boolean.should[i], column);
			for (i = 0; i < n->u.boolean.nmust_not; i++)
				qp_set_column(n->u.boolean.must_not[i], column);
			break;
		case FTS_BOOST:
		case FTS_MULTI_MATCH:
			break;				/* never produced by the query string */
	}
}

static FtsNode *qp_disj(QParser *p, int depth, bool in_group,
						size_t group_pos);

/* primary := [column:] atom modifier* */
static bool
qp_primary(QParser *p, int depth, Clause *cl)
{
	size_t		start = p->pos;
	const char *column = NULL;
	char	   *word = NULL;
	size_t		wlen = 0;
	FtsNode    *n;
	bool		is_phrase = false;
	bool		is_group = false;
	bool		have_fuzzy = false;
	bool		have_boost = false;
	char		desc[32];
	char		c;

	if (p->pos >= p->len)
	{
		qp_error(p, p->pos, "expected a term, phrase or group, found end of query");
		return false;
	}
	if (!qp_is_special(p->s[p->pos]))
	{
		if (qp_keyword(p, "AND") || qp_keyword(p, "OR") ||
			qp_keyword(p, "NOT"))
		{
			qp_error(p, p->pos, "unexpected keyword %s (escape it or write it in lower case to search for it)",
					 qp_keyword(p, "OR") ? "OR" : qp_keyword(p, "AND") ? "AND" : "NOT");
			return false;
		}
		word = qp_word(p, &wlen);
		if (word == NULL)
			return false;
		if (p->pos < p->len && p->s[p->pos] == ':')
		{
			if (wlen == 0)
			{
				qp_error(p, start, "empty column name");
				return false;
			}
			column = word;
			word = NULL;
			p->pos++;
			if (p->pos >= p->len || qp_is_space(p->s[p->pos]) ||
				p->s[p->pos] == ')')
			{
				qp_error(p, p->pos, "expected a term, phrase or group after \"%.64s:\"",
						 column);
				return false;
			}
			if (!qp_is_special(p->s[p->pos]))
			{
				size_t		wpos = p->pos;

				word = qp_word(p, &wlen);
				if (word == NULL)
					return false;
				if (p->pos < p->len && p->s[p->pos] == ':')
				{
					qp_error(p, wpos, "a column prefix cannot follow another one");
					return false;
				}
			}
		}
	}

	c = (p->pos < p->len) ? p->s[p->pos] : '\0';
	if (word != NULL)
	{
		n = node_new(p->q, FTS_MATCH);
		if (n == NULL)
			goto oom;
		n->u.match.terms = word;
		n->u.match.column = column;
		if (c == '*')
		{
			n->u.match.prefix = true;
			p->pos++;
			if (p->pos < p->len && !qp_is_special(p->s[p->pos]))
			{
				qp_error(p, p->pos - 1, "'*' is only supported at the end of a term");
				return false;
			}
		}
	}
	else if (c == '"')
	{
		size_t		qpos = p->pos;
		size_t		i = p->pos + 1;
		size_t		k = 0;
		char	   *buf;

		while (i < p->len && p->s[i] != '"')
			i += (p->s[i] == '\\' && i + 1 < p->len) ? 2 : 1;
		if (i >= p->len)
		{
			qp_error(p, qpos, "unterminated phrase (missing closing '\"')");
			return false;
		}
		buf = lance_arena_alloc(&p->q->arena, i - qpos);
		if (buf == NULL)
			goto oom;
		for (i = qpos + 1; p->s[i] != '"'; i++)
		{
			if (p->s[i] == '\\')
				i++;
			buf[k++] = p->s[i];
		}
		buf[k] = '\0';
		p->pos = i + 1;
		for (i = 0; i < k && qp_is_space(buf[i]); i++)
			;
		if (i == k)
		{
			qp_error(p, qpos, "empty phrase");
			return false;
		}
		n = node_new(p->q, FTS_PHRASE);
		if (n == NULL)
			goto oom;
		n->u.phrase.terms = buf;
		n->u.phrase.column = column;
		is_phrase = true;
	}
	else if (c == '(')
	{
		size_t		gpos = p->pos;

		if (depth >= FTS_MAX_DEPTH)
		{
			qp_error(p, gpos, "groups nested deeper than %d levels",
					 FTS_MAX_DEPTH);
			return false;
		}
		p->pos++;
		n = qp_disj(p, depth + 1, true, gpos);
		if (n == NULL)
			return false;
		p->pos++;				/* ')' checked by qp_disj */
		if (column != NULL)
			qp_set_column(n, column);
		is_group = true;
	}
	else if (c == ')')
	{
		qp_error(p, p->pos, "unbalanced ')'");
		return false;
	}
	else if (c == '*' || c == '^' || c == '~')
	{
		qp_error(p, p->pos, "expected a term before '%c'", c);
		return false;
	}
	else
	{
		qp_error(p, p->pos, "unexpected %s",
				 qp_describe(p, p->pos, desc, sizeof(desc)));
		return false;
	}

	/* modifiers, in any order, each at most once */
	while (p->pos < p->len && (p->s[p->pos] == '~' || p->s[p->pos] == '^'))
	{
		size_t		mpos = p->pos;

		if (p->s[p->pos] == '~')
		{
			uint32_t	v;

			if (have_fuzzy)
			{
				qp_error(p, mpos, "duplicate '~'");
				return false;
			}
			have_fuzzy = true;
			if (is_group)
			{
				qp_error(p, mpos, "'~' cannot follow a group");
				return false;
			}
			if (!is_phrase && n->u.match.prefix)
			{
				qp_error(p, mpos, "'~' cannot be combined with a prefix '*'");
				return false;
			}
			p->pos++;
			if (!qp_uint(p, &v))
			{
				if (p->failed)
					return false;
				if (is_phrase)
				{
					qp_error(p, p->pos, "expected a slop after '~'");
					return false;
				}
				v = 2;			/* Lucene: "term~" means 2 edits */
			}
			if (p->pos < p->len && p->s[p->pos] == '.')
			{
				qp_error(p, mpos, "'~' takes an integer");
				return false;
			}
			if (is_phrase)
				n->u.phrase.slop = v;
			else if (v > 2)
			{
				qp_error(p, mpos, "fuzziness must be 0, 1 or 2");
				return false;
			}
			else
				n->u.match.fuzziness = (int) v;
		}
		else
		{
			size_t		nstart;
			char		tmp[32];
			double		b;

			if (have_boost)
			{
				qp_error(p, mpos, "duplicate '^'");
				return false;
			}
			have_boost = true;
			p->pos++;
			nstart = p->pos;
			while (p->pos < p->len && p->s[p->pos] >= '0' &&
				   p->s[p->pos] <= '9')
				p->pos++;
			if (p->pos == nstart)
			{
				qp_error(p, mpos, "expected a number after '^'");
				return false;
			}
			if (p->pos < p->len && p->s[p->pos] == '.')
			{
				p->pos++;
				if (p->pos >= p->len || p->s[p->pos] < '0' ||
					p->s[p->pos] > '9')
				{
					qp_error(p, p->pos, "expected a digit after '.'");
					return false;
				}
				while (p->pos < p->len && p->s[p->pos] >= '0' &&
					   p->s[p->pos] <= '9')
					p->pos++;
			}
			if (p->pos - nstart >= sizeof(tmp))
			{
				qp_error(p, nstart, "boost too long");
				return false;
			}
			memcpy(tmp, p->s + nstart, p->pos - nstart);
			tmp[p->pos - nstart] = '\0';
			b = strtod(tmp, NULL);
			if (!isfinite(b))
			{
				qp_error(p, nstart, "boost out of range");
				return false;
			}
			n->boost *= b;
		}
	}
	if (!qp_at_end_of_clause(p))
	{
		qp_error(p, p->pos, "unexpected %s (clauses are separated by white space)",
				 qp_describe(p, p->pos, desc, sizeof(desc)));
		return false;
	}
	cl->node = n;
	cl->pos = start;
	cl->simple = (word != NULL && !n->u.match.prefix && !have_fuzzy &&
				  !have_boost);
	return true;

oom:
	qp_error(p, start, "out of memory");
	return false;
}

/* unary := NOT primary | +primary | -primary | primary */
static bool
qp_unary(QParser *p, int depth, Clause *cl)
{
	size_t		start = p->pos;
	char		c = p->s[p->pos];

	cl->occ = OCC_SHOULD;
	if (qp_keyword(p, "NOT"))
	{
		p->pos += 3;
		qp_skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] == ')')
		{
			qp_error(p, start, "expected a query after NOT");
			return false;
		}
		if (p->s[p->pos] == '+' || p->s[p->pos] == '-')
		{
			qp_error(p, p->pos, "unexpected '%c' after NOT", p->s[p->pos]);
			return false;
		}
		cl->occ = OCC_MUST_NOT;
	}
	else if (c == '+' || c == '-')
	{
		p->pos++;
		if (qp_at_end_of_clause(p))
		{
			qp_error(p, start, "expected a term, phrase or group after '%c'", c);
			return false;
		}
		if (p->s[p->pos] == '+' || p->s[p->pos] == '-')
		{
			qp_error(p, p->pos, "unexpected '%c' after '%c'", p->s[p->pos], c);
			return false;
		}
		cl->occ = (c == '+') ? OCC_MUST : OCC_MUST_NOT;
	}
	if (!qp_primary(p, depth, cl))
		return false;
	if (cl->occ != OCC_SHOULD)
		cl->simple = false;
	cl->pos = start;
	return true;
}

static FtsNode **
qp_array(QParser *p, Clause *list, Occur occ, int count, size_t pos)
{
	FtsNode   **arr = lance_arena_alloc(&p->q->arena,
										sizeof(FtsNode *) * (count + 1));
	int			i = 0;

	if (arr == NULL)
	{
		qp_error(p, pos, "out of memory");
		return NULL;
	}
	for (; list != NULL; list = list->next)
		if (list->occ == occ)
			arr[i++] = list->node;
	return arr;
}

/* Turn a clause list into one node (BOOLEAN unless trivially simpler). */
static FtsNode *
qp_combine(QParser *p, Clause *list, size_t pos)
{
	int			counts[3] = {0, 0, 0};
	int			total = 0;
	bool		all_simple = true;
	Clause	   *cl;
	FtsNode    *n;

	for (cl = list; cl != NULL; cl = cl->next)
	{
		const char *c0;
		const char *c1;

		counts[cl->occ]++;
		total++;
		if (!all_simple || !cl->simple || !list->simple)
		{
			all_simple = false;
			continue;
		}
		/* simple clauses are SHOULD MATCH nodes: compare their columns */
		c0 = list->node->u.match.column;
		c1 = cl->node->u.match.column;
		if ((c0 == NULL) != (c1 == NULL) || (c0 != NULL && strcmp(c0, c1) != 0))
			all_simple = false;
	}
	if (counts[OCC_MUST] + counts[OCC_SHOULD] == 0)
	{
		qp_error(p, pos, ERR_MISSING_MUST_SHOULD);
		return NULL;
	}
	if (total == 1)
		return list->node;
	if (all_simple)
	{
		/* plain words: one MATCH, as LanceDB builds from a string query */
		size_t		len = 0;
		char	   *terms;
		char	   *w;

		for (cl = list; cl != NULL; cl = cl->next)
			len += strlen(cl->node->u.match.terms) + 1;
		terms = lance_arena_alloc(&p->q->arena, len);
		if (terms == NULL)
		{
			qp_error(p, pos, "out of memory");
			return NULL;
		}
		w = terms;
		for (cl = list; cl != NULL; cl = cl->next)
		{
			size_t		l = strlen(cl->node->u.match.terms);

			if (w != terms)
				*w++ = ' ';
			memcpy(w, cl->node->u.match.terms, l);
			w += l;
		}
		*w = '\0';
		list->node->u.match.terms = terms;
		return list->node;
	}
	n = node_new(p->q, FTS_BOOLEAN);
	if (n == NULL)
	{
		qp_error(p, pos, "out of memory");
		return NULL;
	}
	n->u.boolean.nmust = counts[OCC_MUST];
	n->u.boolean.nshould = counts[OCC_SHOULD];
	n->u.boolean.nmust_not = counts[OCC_MUST_NOT];
	if ((n->u.boolean.must = qp_array(p, list, OCC_MUST, counts[OCC_MUST], pos)) == NULL ||
		(n->u.boolean.should = qp_array(p, list, OCC_SHOULD, counts[OCC_SHOULD], pos)) == NULL ||
		(n->u.boolean.must_not = qp_array(p, list, OCC_MUST_NOT, counts[OCC_MUST_NOT], pos)) == NULL)
		return NULL;
	return n;
}

/* clause := unary ( AND unary )* ; the result goes into *out */
static bool
qp_conj(QParser *p, int depth, Clause *out)
{
	Clause	   *first;
	Clause	   *last;
	size_t		start = p->pos;
	size_t		save;
	FtsNode    *n;

	first = lance_arena_alloc(&p->q->arena, sizeof(Clause));
	if (first == NULL)
	{
		qp_error(p, start, "out of memory");
		return false;
	}
	first->next = NULL;
	if (!qp_unary(p, depth, first))
		return false;
	last = first;
	for (;;)
	{
		Clause	   *cl;

		save = p->pos;
		qp_skip_ws(p);
		if (!qp_keyword(p, "AND"))
		{
			p->pos = save;
			break;
		}
		p->pos += 3;
		qp_skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] == ')')
		{
			qp_error(p, p->pos, "expected a query after AND");
			return false;
		}
		cl = lance_arena_alloc(&p->q->arena, sizeof(Clause));
		if (cl == NULL)
		{
			qp_error(p, p->pos, "out of memory");
			return false;
		}
		cl->next = NULL;
		if (!qp_unary(p, depth, cl))
			return false;
		last->next = cl;
		last = cl;
	}
	if (first->next == NULL)
	{
		*out = *first;
		return true;
	}
	/* every operand of AND is required unless negated */
	for (last = first; last != NULL; last = last->next)
	{
		last->simple = false;
		if (last->occ == OCC_SHOULD)
			last->occ = OCC_MUST;
	}
	n = qp_combine(p, first, start);
	if (n == NULL)
		return false;
	out->node = n;
	out->occ = OCC_SHOULD;
	out->pos = start;
	out->simple = false;
	return true;
}

/* query := clause ( [OR] clause )* */
static FtsNode *
qp_disj(QParser *p, int depth, bool in_group, size_t group_pos)
{
	Clause	   *head = NULL;
	Clause	  **tail = &head;
	size_t		start;

	qp_skip_ws(p);
	start = p->pos;
	for (;;)
	{
		Clause	   *cl;

		qp_skip_ws(p);
		if (p->pos >= p->len)
		{
			if (in_group)
			{
				qp_error(p, group_pos, "unbalanced '(' (missing ')')");
				return NULL;
			}
			break;
		}
		if (p->s[p->pos] == ')')
		{
			if (!in_group)
			{
				qp_error(p, p->pos, "unbalanced ')'");
				return NULL;
			}
			break;
		}
		if (head != NULL && qp_keyword(p, "OR"))
		{
			size_t		opos = p->pos;

			p->pos += 2;
			qp_skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] == ')')
			{
				qp_error(p, opos, "expected a query after OR");
				return NULL;
			}
		}
		cl = lance_arena_alloc(&p->q->arena, sizeof(Clause));
		if (cl == NULL)
		{
			qp_error(p, p->pos, "out of memory");
			return NULL;
		}
		if (!qp_conj(p, depth, cl))
			return NULL;
		cl->next = NULL;
		*tail = cl;
		tail = &cl->next;
	}
	if (head == NULL)
	{
		if (in_group)
			qp_error(p, group_pos, "empty group");
		else
			qp_error(p, start, "empty query");
		return NULL;
	}
	return qp_combine(p, head, in_group ? group_pos : start);
}

FtsQuery *
fts_query_parse(const char *text, size_t len, size_t max_size,
				const LanceMem *mem, char *errbuf, size_t errlen)
{
	QParser		p;
	FtsQuery   *q;
	size_t		i;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	p.s = text;
	p.len = len;
	p.pos = 0;
	p.q = NULL;
	p.errbuf = errbuf;
	p.errlen = errlen;
	p.failed = false;
	if (max_size == 0)
		max_size = LANCE_JSON_DEFAULT_MAX_SIZE;
	if (len > max_size)
	{
		qp_error(&p, max_size, "query longer than %zu bytes", max_size);
		return NULL;
	}
	for (i = 0; i < len;)
	{
		uint32_t	cp;
		int			l = lance_utf8_decode((const unsigned char *) text + i,
										  len - i, &cp);

		if (l == 0 || cp == 0)
		{
			qp_error(&p, i, l == 0 ? "invalid UTF-8" : "NUL byte in query");
			return NULL;
		}
		i += l;
	}
	q = query_new(mem);
	if (q == NULL)
	{
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	p.q = q;
	q->root = qp_disj(&p, 0, false, 0);
	if (q->root == NULL)
	{
		fts_query_free(q);
		return NULL;
	}
	return q;
}

/* ------------------------------------------------------- tree -> JSON */

typedef struct OutBuf
{
	const LanceMem *mem;
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		oom;
} OutBuf;

static void
out_append(OutBuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap * 2 : 256;
		char	   *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		d = lance_mem_alloc(b->mem, cap);
		if (d == NULL)
		{
			b->oom = true;
			return;
		}
		if (b->len > 0)
			memcpy(d, b->data, b->len);
		lance_mem_release(b->mem, b->data);
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
out_str(OutBuf *b, const char *s)
{
	out_append(b, s, strlen(s));
}

static void
out_json_string(OutBuf *b, const char *s)
{
	out_append(b, "\"", 1);
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;
		char		esc[8];

		switch (c)
		{
			case '"':
				out_str(b, "\\\"");
				break;
			case '\\':
				out_str(b, "\\\\");
				break;
			case '\n':
				out_str(b, "\\n");
				break;
			case '\r':
				out_str(b, "\\r");
				break;
			case '\t':
				out_str(b, "\\t");
				break;
			case '\b':
				out_str(b, "\\b");
				break;
			case '\f':
				out_str(b, "\\f");
				break;
			default:
				if (c < 0x20)
				{
					snprintf(esc, sizeof(esc), "\\u%04x", c);
					out_str(b, esc);
				}
				else
					out_append(b, (const char *) &c, 1);
				break;
		}
	}
	out_append(b, "\"", 1);
}

/* Shortest decimal that reads back to v; always has a '.' or exponent. */
static void
out_double(OutBuf *b, double v)
{
	char		tmp[40];
	int			prec;

	for (prec = 1; prec <= 17; prec++)
	{
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	/* exponent as serde_json (ryu) writes it: "e-7", not "e-07" or "e+07" */
	{
		char	   *e = strchr(tmp, 'e');

		if (e != NULL)
		{
			char	   *src = e + 1;
			char	   *dst = e + 1;

			if (*src == '+')
				src++;
			else if (*src == '-')
				*dst++ = *src++;
			while (*src == '0' && src[1] != '\0')
				src++;
			memmove(dst, src, strlen(src) + 1);
		}
	}
	out_str(b, tmp);
	if (strpbrk(tmp, ".e") == NULL)
		out_str(b, ".0");
}

static void
out_uint(OutBuf *b, uint32_t v)
{
	char		tmp[16];

	snprintf(tmp, sizeof(tmp), "%u", v);
	out_str(b, tmp);
}

static void
out_column(OutBuf *b, const char *column)
{
	out_str(b, "\"column\":");
	if (column == NULL)
		out_str(b, "null");
	else
		out_json_string(b, column);
}

static void out_node(OutBuf *b, const FtsNode *n);

static void
out_array(OutBuf *b, FtsNode *const *nodes, int count)
{
	int			i;

	out_str(b, "[");
	for (i = 0; i < count; i++)
	{
		if (i > 0)
			out_str(b, ",");
		out_node(b, nodes[i]);
	}
	out_str(b, "]");
}

static void
out_node(OutBuf *b, const FtsNode *n)
{
	int			i;

	switch (n->kind)
	{
		case FTS_MATCH:
			out_str(b, "{\"match\":{\"boost\":");
			out_double(b, n->boost);
			out_str(b, ",");
			out_column(b, n->u.match.column);
			out_str(b, ",\"fuzziness\":");
			if (n->u.match.fuzziness == FTS_FUZZINESS_AUTO)
				out_str(b, "null");
			else
				out_uint(b, (uint32_t) n->u.match.fuzziness);
			out_str(b, ",\"max_expansions\":");
			out_uint(b, n->u.match.max_expansions);
			out_str(b, n->u.match.op == FTS_OP_AND ?
					",\"operator\":\"And\"" : ",\"operator\":\"Or\"");
			if (n->u.match.prefix)
				out_str(b, ",\"prefix\":true");
			out_str(b, ",\"prefix_length\":");
			out_uint(b, n->u.match.prefix_length);
			out_str(b, ",\"terms\":");
			out_json_string(b, n->u.match.terms);
			out_str(b, "}}");
			break;
		case FTS_PHRASE:
			out_str(b, "{\"phrase\":{");
			if (n->boost != 1.0)
			{
				out_str(b, "\"boost\":");
				out_double(b, n->boost);
				out_str(b, ",");
			}
			out_column(b, n->u.phrase.column);
			out_str(b, ",\"slop\":");
			out_uint(b, n->u.phrase.slop);
			out_str(b, ",\"terms\":");
			out_json_string(b, n->u.phrase.terms);
			out_str(b, "}}");
			break;
		case FTS_BOOST:
			out_str(b, "{\"boost\":{\"negative\":");
			out_node(b, n->u.boosting.negative);
			out_str(b, ",\"negative_boost\":");
			out_double(b, n->u.boosting.negative_boost);
			out_str(b, ",\"positive\":");
			out_node(b, n->u.boosting.positive);
			out_str(b, "}}");
			break;
		case FTS_MULTI_MATCH:
			out_str(b, "{\"multi_match\":{\"boost\":[");
			for (i = 0; i < n->u.multi.ncolumns; i++)
			{
				if (i > 0)
					out_str(b, ",");
				out_double(b, n->u.multi.boosts[i]);
			}
			out_str(b, "],\"columns\":[");
			for (i = 0; i < n->u.multi.ncolumns; i++)
			{
				if (i > 0)
					out_str(b, ",");
				out_json_string(b, n->u.multi.columns[i]);
			}
			out_str(b, "],");
			if (n->u.multi.op == FTS_OP_AND)
				out_str(b, "\"operator\":\"And\",");
			out_str(b, "\"query\":");
			out_json_string(b, n->u.multi.query);
			out_str(b, "}}");
			break;
		case FTS_BOOLEAN:
			out_str(b, "{\"boolean\":{");
			if (n->boost != 1.0)
			{
				out_str(b, "\"boost\":");
				out_double(b, n->boost);
				out_str(b, ",");
			}
			out_str(b, "\"must\":");
			out_array(b, n->u.boolean.must, n->u.boolean.nmust);
			out_str(b, ",\"must_not\":");
			out_array(b, n->u.boolean.must_not, n->u.boolean.nmust_not);
			out_str(b, ",\"should\":");
			out_array(b, n->u.boolean.should, n->u.boolean.nshould);
			out_str(b, "}}");
			break;
	}
}

char *
fts_query_to_json(const FtsNode *node, const LanceMem *mem)
{
	OutBuf		b;

	b.mem = mem;
	b.data = NULL;
	b.len = 0;
	b.cap = 0;
	b.oom = false;
	out_node(&b, node);
	if (b.oom)
	{
		lance_mem_release(mem, b.data);
		return NULL;
	}
	return b.data;
}
