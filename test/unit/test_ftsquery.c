/*
 * test_ftsquery.c
 *	  Standalone checks of the full-text query front end (no PostgreSQL
 *	  needed): src/text/json.c, ftsquery.c and fuzzy.c.
 *
 * - every FtsQuery JSON form captured from @lancedb/lancedb 0.37.1 (see
 *	 ftsquery.h for how) parses and serialises back byte for byte;
 * - serde defaults, nested booleans, and exact error texts for bad JSON;
 * - the query-string grammar, construct by construct, and its errors;
 * - allocator hooks: no leaks, and every allocation failure is reported;
 * - fuzzy expansion equals a brute-force Levenshtein over a random 50k-word
 *	 dictionary, and is timed on a 200k-term dictionary;
 * - random and mutated inputs to both parsers (meant to run under
 *	 -fsanitize=address,undefined; FTS_FUZZ_ITERS sets the iterations).
 * The last line of output is "N passed, M failed"; the exit status is
 * non-zero on any failure.
 */
#include "text/ftsquery.h"
#include "text/fuzzy.h"
#include "text/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int	n_passed = 0;
static int	n_failed = 0;

static void
check(bool ok, const char *what)
{
	if (ok)
	{
		n_passed++;
		return;
	}
	n_failed++;
	printf("not ok - %s\n", what);
}

static void
check_str(const char *got, const char *want, const char *what)
{
	bool		ok = (got != NULL && strcmp(got, want) == 0);

	check(ok, what);
	if (!ok)
		printf("    want: %s\n    got:  %s\n", want, got ? got : "(null)");
}

/* xorshift64*: seeded and identical on every platform */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545F4914F6CDD1D);
}

static int
rng_int(int n)
{
	return (int) (rng_next() % (uint64_t) n);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ---------------------------------------------------- counting hooks */

static long hook_live = 0;		/* outstanding allocations */
static long hook_calls = 0;
static long hook_fail_at = -1;	/* fail the Nth allocation (0-based) */

static void *
hook_alloc(size_t size)
{
	void	   *p;

	if (hook_fail_at >= 0 && hook_calls++ == hook_fail_at)
		return NULL;
	p = malloc(size);
	if (p != NULL)
		hook_live++;
	return p;
}

static void
hook_release(void *p)
{
	hook_live--;
	free(p);
}

static const LanceMem hooks = {hook_alloc, hook_release};

/* ------------------------------------------------- compact tree form */

typedef struct Str
{
	char		buf[8192];
	size_t		len;
} Str;

static void
str_add(Str *s, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
str_add(Str *s, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (s->len >= sizeof(s->buf))
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->buf + s->len, sizeof(s->buf) - s->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		s->len += n;
	if (s->len >= sizeof(s->buf))
		s->len = sizeof(s->buf) - 1;
}

/*
 * 'terms' for MATCH, "terms" for PHRASE, {+must should -must_not} for
 * BOOLEAN; column: prefix, ~fuzziness/slop, * prefix, ^boost, [and] suffixes.
 */
static void
describe(Str *s, const FtsNode *n)
{
	int			i;

	switch (n->kind)
	{
		case FTS_MATCH:
			if (n->u.match.column)
				str_add(s, "%s:", n->u.match.column);
			str_add(s, "'%s'", n->u.match.terms);
			if (n->u.match.prefix)
				str_add(s, "*");
			if (n->u.match.fuzziness == FTS_FUZZINESS_AUTO)
				str_add(s, "~auto");
			else if (n->u.match.fuzziness != 0)
				str_add(s, "~%d", n->u.match.fuzziness);
			if (n->u.match.op == FTS_OP_AND)
				str_add(s, "[and]");
			if (n->u.match.prefix_length != 0)
				str_add(s, "[pl=%u]", n->u.match.prefix_length);
			if (n->u.match.max_expansions != 50)
				str_add(s, "[me=%u]", n->u.match.max_expansions);
			break;
		case FTS_PHRASE:
			if (n->u.phrase.column)
				str_add(s, "%s:", n->u.phrase.column);
			str_add(s, "\"%s\"", n->u.phrase.terms);
			if (n->u.phrase.slop != 0)
				str_add(s, "~%u", n->u.phrase.slop);
			break;
		case FTS_BOOST:
			str_add(s, "boost(");
			describe(s, n->u.boosting.positive);
			str_add(s, ", ");
			describe(s, n->u.boosting.negative);
			str_add(s, ", %g)", n->u.boosting.negative_boost);
			break;
		case FTS_MULTI_MATCH:
			str_add(s, "multi('%s'", n->u.multi.query);
			for (i = 0; i < n->u.multi.ncolumns; i++)
				str_add(s, " %s^%g", n->u.multi.columns[i],
						n->u.multi.boosts[i]);
			str_add(s, n->u.multi.op == FTS_OP_AND ? " [and])" : ")");
			break;
		case FTS_BOOLEAN:
			str_add(s, "{");
			for (i = 0; i < n->u.boolean.nmust; i++)
			{
				str_add(s, "%s+", s->buf[s->len - 1] == '{' ? "" : " ");
				describe(s, n->u.boolean.must[i]);
			}
			for (i = 0; i < n->u.boolean.nshould; i++)
			{
				str_add(s, "%s", s->buf[s->len - 1] == '{' ? "" : " ");
				describe(s, n->u.boolean.should[i]);
			}
			for (i = 0; i < n->u.boolean.nmust_not; i++)
			{
				str_add(s, "%s-", s->buf[s->len - 1] == '{' ? "" : " ");
				describe(s, n->u.boolean.must_not[i]);
			}
			str_add(s, "}");
			break;
	}
	if (n->boost != 1.0)
		str_add(s, "^%g", n->boost);
}

/* Parse with the given front end; returns the compact form or "ERR: msg". */
static char *
run_parser(bool json, const char *input, size_t len)
{
	static Str	s;
	char		err[512];
	FtsQuery   *q;

	s.len = 0;
	s.buf[0] = '\0';
	q = json ? fts_query_from_json(input, len, 0, &hooks, err, sizeof(err))
		: fts_query_parse(input, len, 0, &hooks, err, sizeof(err));
	if (q == NULL)
		str_add(&s, "ERR: %s", err);
	else
	{
		describe(&s, q->root);
		fts_query_free(q);
	}
	return s.buf;
}

/* ------------------------------------------------- LanceDB fixtures */

/*
 * The "full_text_query.query" values of the request bodies that
 * @lancedb/lancedb 0.37.1 sent for these TypeScript calls (hand-written
 * names; bodies pasted verbatim):
 *	match_default	new MatchQuery('puppy', 'body')
 *	match_full		... {boost: 2.5, fuzziness: 2, maxExpansions: 10,
 *					operator: Operator.And, prefixLength: 1} on 'puppy dog'
 *	match_auto		... {fuzziness: null}
 *	match_nocol		new MatchQuery('puppy', '')
 *	phrase_*		new PhraseQuery('the quick fox', 'body'), {slop: 1}
 *	boost			new BoostQuery(match puppy, match cat, {negativeBoost: 0.5})
 *	boost_default	the same without options
 *	multi*			new MultiMatchQuery('puppy', ['body','title'], ...)
 *	boolean*		new BooleanQuery([[Occur.Must, ...], ...])
 *	string*			fullTextSearch('puppy dog'), with {columns: ['body']}
 */
static const struct
{
	const char *name;
	const char *json;
}			fixtures[] =
{
	{"match_default",
	"{\"match\":{\"boost\":1.0,\"column\":\"body\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"puppy\"}}"},
	{"match_full",
	"{\"match\":{\"boost\":2.5,\"column\":\"body\",\"fuzziness\":2,\"max_expansions\":10,\"operator\":\"And\",\"prefix_length\":1,\"terms\":\"puppy dog\"}}"},
	{"match_auto",
	"{\"match\":{\"boost\":1.0,\"column\":\"body\",\"fuzziness\":null,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"puppy\"}}"},
	{"match_nocol",
	"{\"match\":{\"boost\":1.0,\"column\":\"\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"puppy\"}}"},
	{"phrase_default",
	"{\"phrase\":{\"column\":\"body\",\"slop\":0,\"terms\":\"the quick fox\"}}"},
	{"phrase_slop",
	"{\"phrase\":{\"column\":\"body\",\"slop\":1,\"terms\":\"quick fox\"}}"},
	{"boost",
	"{\"boost\":{\"negative\":{\"match\":{\"boost\":1.0,\"column\":\"body\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"cat\"}},\"negative_boost\":0.5,\"positive\":{\"match\":{\"boost\":1.0,\"column\":\"body\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"puppy\"}}}}"},
	{"boost_default",
	"{\"boost\":{\"negative\":{\"match\":{\"boost\":1.0,\"column\":\"body\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"cat\"}},\"negative_boost\":0.5,\"positive\":{\"match\":{\"boost\":1.0,\"column\":\"body\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"puppy\"}}}}"},
	{"multi",
	"{\"multi_match\":{\"boost\":[1.0,2.0],\"columns\":[\"body\",\"title\"],\"query\":\"puppy\"}}"},
	{"multi_default",
	"{\"multi_match\":{\"boost\":[1.0,1.0],\"columns\":[\"body\",\"title\"],\"query\":\"puppy\"}}"},
	{"multi_and",
	"{\"multi_match\":{\"boost\":[1.0,1.0],\"columns\":[\"body\",\"title\"],\"query\":\"puppy dog\"}}"},
	{"boolean",
	"{\"boolean\":{\"must\":[{\"match\":{\"boost\":1.0,\"column\":\"body\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"puppy\"}}],\"must_not\":[{\"match\":{\"boost\":1.0,\"column\":\"body\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"cat\"}}],\"should\":[{\"phrase\":{\"column\":\"body\",\"slop\":2,\"terms\":\"good dog\"}}]}}"},
	{"boolean_nested",
	"{\"boolean\":{\"must\":[],\"must_not\":[],\"should\":[{\"boolean\":{\"must\":[{\"match\":{\"boost\":1.0,\"column\":\"body\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"a\"}}],\"must_not\":[],\"should\":[]}},{\"boost\":{\"negative\":{\"match\":{\"boost\":1.0,\"column\":\"title\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"c\"}},\"negative_boost\":0.25,\"positive\":{\"match\":{\"boost\":1.0,\"column\":\"title\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"b\"}}}}]}}"},
	{"string",
	"{\"match\":{\"boost\":1.0,\"column\":null,\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"puppy dog\"}}"},
	{"string_cols",
	"{\"match\":{\"boost\":1.0,\"column\":\"body\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"puppy\"}}"},
	{"match_escapes",
	"{\"match\":{\"boost\":0.10000000149011612,\"column\":\"body\",\"fuzziness\":0,\"max_expansions\":50,\"operator\":\"Or\",\"prefix_length\":0,\"terms\":\"café \\\"x\\\" \\\\ \\n\\t\\u0001 日本 😀 /\"}}"},
	{"multi_odd_boosts",
	"{\"multi_match\":{\"boost\":[1.0000000116860974e-7,123456792.0],\"columns\":[\"body\",\"title\"],\"query\":\"q\"}}"},
	{"phrase_big_slop",
	"{\"phrase\":{\"column\":\"title\",\"slop\":4294967295,\"terms\":\"a b\"}}"},
};

static const char *const fixture_forms[] = {
	"body:'puppy'",
	"body:'puppy dog'~2[and][pl=1][me=10]^2.5",
	"body:'puppy'~auto",
	":'puppy'",
	"body:\"the quick fox\"",
	"body:\"quick fox\"~1",
	"boost(body:'puppy', body:'cat', 0.5)",
	"boost(body:'puppy', body:'cat', 0.5)",
	"multi('puppy' body^1 title^2)",
	"multi('puppy' body^1 title^1)",
	"multi('puppy dog' body^1 title^1)",
	"{+body:'puppy' body:\"good dog\"~2 -body:'cat'}",
	"{{+body:'a'} boost(title:'b', title:'c', 0.25)}",
	"'puppy dog'",
	"body:'puppy'",
	"body:'café \"x\" \\ \n\t\001 日本 😀 /'^0.1",
	"multi('q' body^1e-07 title^1.23457e+08)",
	"title:\"a b\"~4294967295",
};

static void
test_fixtures(void)
{
	int			i;
	char		what[128];

	check(sizeof(fixtures) / sizeof(fixtures[0]) ==
		  sizeof(fixture_forms) / sizeof(fixture_forms[0]), "fixture tables align");
	for (i = 0; i < (int) (sizeof(fixtures) / sizeof(fixtures[0])); i++)
	{
		char		err[512];
		FtsQuery   *q = fts_query_from_json(fixtures[i].json,
											strlen(fixtures[i].json), 0,
											&hooks, err, sizeof(err));
		char	   *back;

		snprintf(what, sizeof(what), "fixture %s parses", fixtures[i].name);
		check(q != NULL, what);
		if (q == NULL)
		{
			printf("    %s\n", err);
			continue;
		}
		snprintf(what, sizeof(what), "fixture %s tree", fixtures[i].name);
		{
			Str			s;

			s.len = 0;
			s.buf[0] = '\0';
			describe(&s, q->root);
			check_str(s.buf, fixture_forms[i], what);
		}
		back = fts_query_to_json(q->root, &hooks);
		snprintf(what, sizeof(what), "fixture %s serialises back identically",
				 fixtures[i].name);
		check_str(back, fixtures[i].json, what);
		lance_mem_release(&hooks, back);
		fts_query_free(q);
	}
	check(hook_live == 0, "fixtures: every allocation released");
}

/* Exact values the tree carries for a few fixtures. */
static void
test_fixture_fields(void)
{
	char		err[256];
	FtsQuery   *q;
	const FtsNode *n;

	q = fts_query_from_json(fixtures[1].json, strlen(fixtures[1].json), 0,
							NULL, err, sizeof(err));
	n = q->root;
	check(n->kind == FTS_MATCH && n->boost == 2.5 &&
		  n->u.match.fuzziness == 2 && n->u.match.max_expansions == 10 &&
		  n->u.match.op == FTS_OP_AND && n->u.match.prefix_length == 1 &&
		  !n->u.match.prefix && strcmp(n->u.match.column, "body") == 0 &&
		  strcmp(n->u.match.terms, "puppy dog") == 0, "match_full fields");
	fts_query_free(q);

	q = fts_query_from_json(fixtures[13].json, strlen(fixtures[13].json), 0,
							NULL, err, sizeof(err));
	check(q->root->kind == FTS_MATCH && q->root->u.match.column == NULL,
		  "null column is NULL");
	fts_query_free(q);

	q = fts_query_from_json(fixtures[15].json, strlen(fixtures[15].json), 0,
							NULL, err, sizeof(err));
	check(strcmp(q->root->u.match.terms,
				 "caf\xc3\xa9 \"x\" \\ \n\t\x01 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 /") == 0,
		  "escapes decoded to UTF-8");
	check(q->root->boost == 0.10000000149011612, "f32-widened boost kept exactly");
	fts_query_free(q);
}

/* --------------------------------------------------- table-driven cases */

typedef struct Case
{
	const char *input;
	const char *want;			/* compact tree or "ERR: message" */
} Case;

static bool print_cases = false;	/* --print-cases: emit actual results */

static void
print_c_string(const char *s)
{
	putchar('"');
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			printf("\\n");
		else if (c == '\t')
			printf("\\t");
		else if (c < 0x20)
			printf("\\%03o", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
run_cases(bool json, const Case *cases, int ncases, const char *label)
{
	int			i;
	char		what[256];

	for (i = 0; i < ncases; i++)
	{
		const char *got = run_parser(json, cases[i].input,
									 strlen(cases[i].input));

		if (print_cases)
		{
			printf("\t{");
			print_c_string(cases[i].input);
			printf(",\n\t");
			print_c_string(got);
			printf("},\n");
			continue;
		}
		snprintf(what, sizeof(what), "%s: %.200s", label, cases[i].input);
		check_str(got, cases[i].want, what);
	}
	check(hook_live == 0, "cases: every allocation released");
}

static const Case json_cases[] = {
	{"{\"match\":{\"terms\":\"x\"}}",
	"'x'~auto"},
	{"{\"match\":{\"terms\":\"x\",\"column\":null,\"fuzziness\":null}}",
	"'x'~auto"},
	{"{\"match\":{\"terms\":\"x\",\"operator\":\"AND\",\"fuzziness\":1,\"prefix\":true}}",
	"ERR: invalid FTS query at position 10: match with \"prefix\": true cannot have a non-zero \"fuzziness\""},
	{"{\"match\":{\"terms\":\"x\",\"operator\":\"AND\",\"prefix\":true}}",
	"'x'*[and]"},
	{"{\"match\":{\"terms\":\"x\",\"prefix\":false,\"fuzziness\":0}}",
	"'x'"},
	{"{\"match\":{\"terms\":\"x\",\"boost\":3}}",
	"'x'~auto^3"},
	{"{\"match\":{\"terms\":\"x\",\"max_expansions\":0,\"prefix_length\":4294967295}}",
	"'x'~auto[pl=4294967295][me=0]"},
	{"{\"phrase\":{\"terms\":\"a b\"}}",
	"\"a b\""},
	{"{\"phrase\":{\"terms\":\"a b\",\"boost\":2.0}}",
	"\"a b\"^2"},
	{"{\"boost\":{\"positive\":{\"match\":{\"terms\":\"a\"}},\"negative\":{\"phrase\":{\"terms\":\"b c\"}}}}",
	"boost('a'~auto, \"b c\", 0.5)"},
	{"{\"multi_match\":{\"query\":\"q\",\"columns\":[\"a\"]}}",
	"multi('q' a^1)"},
	{"{\"multi_match\":{\"query\":\"q\",\"columns\":[\"a\",\"b\"],\"boost\":null,\"operator\":\"And\"}}",
	"multi('q' a^1 b^1 [and])"},
	{"{\"boolean\":{\"must\":[{\"match\":{\"terms\":\"a\"}}]}}",
	"{+'a'~auto}"},
	{"{\"boolean\":{\"should\":[{\"boolean\":{\"must\":[{\"boolean\":{\"should\":[{\"match\":{\"terms\":\"deep\"}}],\"must_not\":[{\"match\":{\"terms\":\"no\"}}]}}]}}],\"boost\":2}}",
	"{{+{'deep'~auto -'no'~auto}}}^2"},
	{" \t{\"match\" : {\"terms\" : \"ws\"}}  ",
	"'ws'~auto"},
	{"{\"match\":{\"terms\":\"\\u00e9\\ud83d\\ude00\\/\\b\"}}",
	"'é😀/\010'~auto"},
	{"{\"match\":{\"terms\":\"x\",\"boost\":-0.0}}",
	"'x'~auto^-0"},
	{"{\"match\":{\"terms\":\"x\",\"boost\":1E2}}",
	"'x'~auto^100"},
	{"{\"match\":{\"terms\":\"x\",\"fuzziness\":-0}}",
	"'x'"},
	{"",
	"ERR: invalid JSON at position 1: unexpected end of input"},
	{"{\"match\":{\"terms\":\"x\"}",
	"ERR: invalid JSON at position 23: expected ',' or '}' in object, found end of input"},
	{"{\"match\":{\"terms\":\"x\"}}}",
	"ERR: invalid JSON at position 24: unexpected character '}' after the JSON value"},
	{"{\"match\":{\"terms\":\"x\",}}",
	"ERR: invalid JSON at position 23: expected a string key in object, found character '}'"},
	{"[{\"match\":{\"terms\":\"x\"}}]",
	"ERR: invalid FTS query at position 1: expected a query object, found array"},
	{"{\"match\":{\"terms\":\"x\"},\"phrase\":{\"terms\":\"y\"}}",
	"ERR: invalid FTS query at position 24: query object must have exactly one key (match, phrase, boost, multi_match or boolean), found a second key \"phrase\""},
	{"{}",
	"ERR: invalid FTS query at position 1: empty query object (expected one key: match, phrase, boost, multi_match or boolean)"},
	{"{\"fuzzy\":{\"terms\":\"x\"}}",
	"ERR: invalid FTS query at position 2: unknown query type \"fuzzy\" (expected match, phrase, boost, multi_match or boolean)"},
	{"{\"match\":\"x\"}",
	"ERR: invalid FTS query at position 10: \"match\" must be an object, found string"},
	{"{\"match\":{\"terms\":\"x\",\"colum\":\"a\"}}",
	"ERR: invalid FTS query at position 23: unknown field \"colum\" in match (expected boost, column, fuzziness, max_expansions, operator, prefix_length, terms, prefix)"},
	{"{\"match\":{\"terms\":\"x\",\"terms\":\"y\"}}",
	"ERR: invalid FTS query at position 23: duplicate field \"terms\" in match"},
	{"{\"match\":{\"column\":\"a\"}}",
	"ERR: invalid FTS query at position 10: missing field \"terms\" in match"},
	{"{\"match\":{\"terms\":5}}",
	"ERR: invalid FTS query at position 19: field \"terms\" of match must be a string, found number"},
	{"{\"match\":{\"terms\":\"x\",\"boost\":\"2\"}}",
	"ERR: invalid FTS query at position 31: field \"boost\" of match must be a number, found string"},
	{"{\"match\":{\"terms\":\"x\",\"fuzziness\":3}}",
	"ERR: invalid FTS query at position 35: field \"fuzziness\" of match must be 0, 1, 2 or null (AUTO)"},
	{"{\"match\":{\"terms\":\"x\",\"fuzziness\":1.0}}",
	"ERR: invalid FTS query at position 35: field \"fuzziness\" of match must be 0, 1, 2 or null (AUTO)"},
	{"{\"match\":{\"terms\":\"x\",\"fuzziness\":\"AUTO\"}}",
	"ERR: invalid FTS query at position 35: field \"fuzziness\" of match must be 0, 1, 2 or null (AUTO)"},
	{"{\"match\":{\"terms\":\"x\",\"max_expansions\":-1}}",
	"ERR: invalid FTS query at position 40: field \"max_expansions\" of match must be a non-negative integer"},
	{"{\"match\":{\"terms\":\"x\",\"max_expansions\":1.5}}",
	"ERR: invalid FTS query at position 40: field \"max_expansions\" of match must be a non-negative integer"},
	{"{\"match\":{\"terms\":\"x\",\"prefix_length\":4294967296}}",
	"ERR: invalid FTS query at position 39: field \"prefix_length\" of match must be at most 4294967295"},
	{"{\"match\":{\"terms\":\"x\",\"operator\":\"and\"}}",
	"ERR: invalid FTS query at position 34: field \"operator\" of match must be \"And\" or \"Or\", found \"and\""},
	{"{\"match\":{\"terms\":\"x\",\"operator\":1}}",
	"ERR: invalid FTS query at position 34: field \"operator\" of match must be \"And\" or \"Or\", found number"},
	{"{\"match\":{\"terms\":\"x\",\"prefix\":1}}",
	"ERR: invalid FTS query at position 32: field \"prefix\" of match must be a boolean, found number"},
	{"{\"phrase\":{\"terms\":\"x\",\"slop\":-1}}",
	"ERR: invalid FTS query at position 31: field \"slop\" of phrase must be a non-negative integer"},
	{"{\"phrase\":{\"terms\":\"x\",\"fuzziness\":1}}",
	"ERR: invalid FTS query at position 24: unknown field \"fuzziness\" in phrase (expected column, slop, terms, boost)"},
	{"{\"boost\":{\"positive\":{\"match\":{\"terms\":\"a\"}}}}",
	"ERR: invalid FTS query at position 10: missing field \"negative\" in boost"},
	{"{\"boost\":{\"positive\":{\"match\":{\"terms\":\"a\"}},\"negative\":[]}}",
	"ERR: invalid FTS query at position 57: expected a query object, found array"},
	{"{\"multi_match\":{\"query\":\"q\",\"columns\":[]}}",
	"ERR: invalid FTS query at position 39: Cannot create MultiMatchQuery with no columns"},
	{"{\"multi_match\":{\"query\":\"q\",\"columns\":[\"a\",\"b\"],\"boost\":[1.0]}}",
	"ERR: invalid FTS query at position 57: The number of boosts must match the number of queries"},
	{"{\"multi_match\":{\"query\":\"q\",\"columns\":[\"a\",1]}}",
	"ERR: invalid FTS query at position 44: field \"columns\" of multi_match must be a string, found number"},
	{"{\"multi_match\":{\"query\":\"q\",\"boosts\":[1.0]}}",
	"ERR: invalid FTS query at position 29: unknown field \"boosts\" in multi_match (expected boost, columns, query, operator)"},
	{"{\"multi_match\":{\"columns\":[\"a\"]}}",
	"ERR: invalid FTS query at position 16: missing field \"query\" in multi_match"},
	{"{\"boolean\":{\"must_not\":[{\"match\":{\"terms\":\"a\"}}]}}",
	"ERR: invalid FTS query at position 12: boolean query must have at least one should/must query"},
	{"{\"boolean\":{\"must\":[],\"should\":[],\"must_not\":[]}}",
	"ERR: invalid FTS query at position 12: boolean query must have at least one should/must query"},
	{"{\"boolean\":{\"should\":[{\"boolean\":{\"must_not\":[{\"match\":{\"terms\":\"a\"}}]}}]}}",
	"ERR: invalid FTS query at position 34: boolean query must have at least one should/must query"},
	{"{\"boolean\":{\"must\":{\"match\":{\"terms\":\"a\"}}}}",
	"ERR: invalid FTS query at position 20: field \"must\" of boolean must be an array of queries, found object"},
	{"{\"boolean\":{\"must\":[{\"match\":{\"terms\":\"a\"}},1]}}",
	"ERR: invalid FTS query at position 45: expected a query object, found number"},
	{"{\"match\":{\"terms\":\"x\\u0000\"}}",
	"ERR: invalid JSON at position 21: \\u0000 is not allowed in strings"},
	{"{\"match\":{\"terms\":\"\\ud83d\"}}",
	"ERR: invalid JSON at position 20: high surrogate \\uD83D not followed by a low surrogate"},
	{"{\"match\":{\"terms\":\"\\ude00\"}}",
	"ERR: invalid JSON at position 20: unpaired low surrogate \\uDE00"},
	{"{\"match\":{\"terms\":\"\\ud83dx\"}}",
	"ERR: invalid JSON at position 20: high surrogate \\uD83D not followed by a low surrogate"},
	{"{\"match\":{\"terms\":\"\\u12G4\"}}",
	"ERR: invalid JSON at position 20: invalid \\u escape (expected 4 hex digits)"},
	{"{\"match\":{\"terms\":\"\\x\"}}",
	"ERR: invalid JSON at position 20: invalid escape character 'x' after '\\'"},
	{"{\"match\":{\"terms\":\"tab\traw\"}}",
	"ERR: invalid JSON at position 23: unescaped control character 0x09 in string"},
	{"{\"match\":{\"terms\":\"x\",\"boost\":01}}",
	"ERR: invalid JSON at position 31: leading zeros are not allowed in numbers"},
	{"{\"match\":{\"terms\":\"x\",\"boost\":.5}}",
	"ERR: invalid JSON at position 31: unexpected character '.'"},
	{"{\"match\":{\"terms\":\"x\",\"boost\":1.}}",
	"ERR: invalid JSON at position 33: expected a digit after '.', found character '}'"},
	{"{\"match\":{\"terms\":\"x\",\"boost\":1e}}",
	"ERR: invalid JSON at position 33: expected a digit in exponent, found character '}'"},
	{"{\"match\":{\"terms\":\"x\",\"boost\":+1}}",
	"ERR: invalid JSON at position 31: unexpected character '+'"},
	{"{\"match\":{\"terms\":\"x\",\"boost\":1e999}}",
	"ERR: invalid JSON at position 31: number out of range"},
	{"{\"match\":{\"terms\":\"x\",\"boost\":NaN}}",
	"ERR: invalid JSON at position 31: unexpected character 'N'"},
	{"{\"match\":{\"terms\":\"x\",\"prefix\":tru}}",
	"ERR: invalid JSON at position 32: unexpected character 't'"},
	{"{\"match\":{\"terms\":\"x\"}} x",
	"ERR: invalid JSON at position 25: unexpected character 'x' after the JSON value"},
	{"{'match':{}}",
	"ERR: invalid JSON at position 2: expected a string key in object, found character '''"},
	{"{\"match\":{\"terms\":\"x\"",
	"ERR: invalid JSON at position 22: expected ',' or '}' in object, found end of input"},
};

static const Case qs_cases[] = {
	{"puppy",
	"'puppy'"},
	{"puppy dog",
	"'puppy dog'"},
	{"  puppy   dog  ",
	"'puppy dog'"},
	{"+a b -c",
	"{+'a' 'b' -'c'}"},
	{"+a +b",
	"{+'a' +'b'}"},
	{"a OR b",
	"'a b'"},
	{"a AND b",
	"{+'a' +'b'}"},
	{"a AND b OR c",
	"{{+'a' +'b'} 'c'}"},
	{"a OR b AND c",
	"{'a' {+'b' +'c'}}"},
	{"a b AND c d",
	"{'a' {+'b' +'c'} 'd'}"},
	{"a AND b AND -c",
	"{+'a' +'b' -'c'}"},
	{"a AND NOT b",
	"{+'a' -'b'}"},
	{"NOT a b",
	"{'b' -'a'}"},
	{"a NOT b",
	"{'a' -'b'}"},
	{"a -b",
	"{'a' -'b'}"},
	{"-a b",
	"{'b' -'a'}"},
	{"+a -b",
	"{+'a' -'b'}"},
	{"\"a phrase\"",
	"\"a phrase\""},
	{"\"a phrase\"~2",
	"\"a phrase\"~2"},
	{"\"a phrase\"^2",
	"\"a phrase\"^2"},
	{"\"a phrase\"~3^1.5",
	"\"a phrase\"~3^1.5"},
	{"\"a phrase\"^1.5~3",
	"\"a phrase\"~3^1.5"},
	{"title:\"a phrase\"",
	"title:\"a phrase\""},
	{"term~",
	"'term'~2"},
	{"term~1",
	"'term'~1"},
	{"term~0",
	"'term'"},
	{"term~2^3",
	"'term'~2^3"},
	{"term^3~1",
	"'term'~1^3"},
	{"pre*",
	"'pre'*"},
	{"pre*^2",
	"'pre'*^2"},
	{"term^2",
	"'term'^2"},
	{"term^0.5",
	"'term'^0.5"},
	{"title:term",
	"title:'term'"},
	{"title:pre*",
	"title:'pre'*"},
	{"title:(a b)",
	"title:'a b'"},
	{"title:(a \"b c\" d* e~1)",
	"{title:'a' title:\"b c\" title:'d'* title:'e'~1}"},
	{"title:(a body:b)",
	"{title:'a' body:'b'}"},
	{"(a b)",
	"'a b'"},
	{"(a b)^2",
	"'a b'^2"},
	{"(a)^2",
	"'a'^2"},
	{"((a))",
	"'a'"},
	{"+(a b) c",
	"{+'a b' 'c'}"},
	{"-(a b) c",
	"{'c' -'a b'}"},
	{"(a OR b) AND (c OR d)",
	"{+'a b' +'c d'}"},
	{"a (b (c (d)))",
	"{'a' {'b' {'c' 'd'}}}"},
	{"a\\ b",
	"'a b'"},
	{"a\\:b",
	"'a:b'"},
	{"\\+a",
	"'+a'"},
	{"\\-a",
	"'-a'"},
	{"a\\*",
	"'a*'"},
	{"\\AND",
	"'AND'"},
	{"and",
	"'and'"},
	{"or not",
	"'or not'"},
	{"AND\\ x",
	"'AND x'"},
	{"e-mail",
	"'e-mail'"},
	{"c++",
	"'c++'"},
	{"a+b",
	"'a+b'"},
	{"u.s.a.",
	"'u.s.a.'"},
	{"caf\\é",
	"'café'"},
	{"日本語 検索",
	"'日本語 検索'"},
	{"\"say \\\"hi\\\"\"",
	"\"say \"hi\"\""},
	{"\"back\\\\slash\"",
	"\"back\\slash\""},
	{"x:y",
	"x:'y'"},
	{"a b:c",
	"{'a' b:'c'}"},
	{"(a b) c",
	"{'a b' 'c'}"},
	{"NOT (a b) c",
	"{'c' -'a b'}"},
	{"+\"a b\" -c*",
	"{+\"a b\" -'c'*}"},
	{"a:\"b\"^2 c",
	"{a:\"b\"^2 'c'}"},
	{"a OR -b",
	"{'a' -'b'}"},
	{"a^2 b",
	"{'a'^2 'b'}"},
	{"a b^2",
	"{'a' 'b'^2}"},
	{"a b~1",
	"{'a' 'b'~1}"},
	{"a b*",
	"{'a' 'b'*}"},
	{"a:b c",
	"{a:'b' 'c'}"},
	{"a:b a:c",
	"a:'b c'"},
	{"a b c",
	"'a b c'"},
};

static const Case qs_error_cases[] = {
	{"",
	"ERR: syntax error at position 1: empty query"},
	{"   ",
	"ERR: syntax error at position 4: empty query"},
	{"-a",
	"ERR: syntax error at position 1: boolean query must have at least one should/must query"},
	{"-a -b",
	"ERR: syntax error at position 1: boolean query must have at least one should/must query"},
	{"NOT a",
	"ERR: syntax error at position 1: boolean query must have at least one should/must query"},
	{"a AND -b AND -c",
	"{+'a' -'b' -'c'}"},
	{"(a",
	"ERR: syntax error at position 1: unbalanced '(' (missing ')')"},
	{"a)",
	"ERR: syntax error at position 2: unbalanced ')'"},
	{"((a)",
	"ERR: syntax error at position 1: unbalanced '(' (missing ')')"},
	{"(a))",
	"ERR: syntax error at position 4: unbalanced ')'"},
	{"()",
	"ERR: syntax error at position 1: empty group"},
	{"( )",
	"ERR: syntax error at position 1: empty group"},
	{"\"abc",
	"ERR: syntax error at position 1: unterminated phrase (missing closing '\"')"},
	{"\"a b",
	"ERR: syntax error at position 1: unterminated phrase (missing closing '\"')"},
	{"\"\"",
	"ERR: syntax error at position 1: empty phrase"},
	{"\"  \"",
	"ERR: syntax error at position 1: empty phrase"},
	{"a*b",
	"ERR: syntax error at position 2: '*' is only supported at the end of a term"},
	{"*a",
	"ERR: syntax error at position 1: expected a term before '*'"},
	{"*",
	"ERR: syntax error at position 1: expected a term before '*'"},
	{"~a",
	"ERR: syntax error at position 1: expected a term before '~'"},
	{"^2",
	"ERR: syntax error at position 1: expected a term before '^'"},
	{"a~3",
	"ERR: syntax error at position 2: fuzziness must be 0, 1 or 2"},
	{"a~1.5",
	"ERR: syntax error at position 2: '~' takes an integer"},
	{"a~1~2",
	"ERR: syntax error at position 4: duplicate '~'"},
	{"a^2^3",
	"ERR: syntax error at position 4: duplicate '^'"},
	{"a^",
	"ERR: syntax error at position 2: expected a number after '^'"},
	{"a^x",
	"ERR: syntax error at position 2: expected a number after '^'"},
	{"a^1.",
	"ERR: syntax error at position 5: expected a digit after '.'"},
	{"\"x\"~",
	"ERR: syntax error at position 5: expected a slop after '~'"},
	{"\"x\"~a",
	"ERR: syntax error at position 5: expected a slop after '~'"},
	{"(a b)~2",
	"ERR: syntax error at position 6: '~' cannot follow a group"},
	{"pre*~1",
	"ERR: syntax error at position 5: '~' cannot be combined with a prefix '*'"},
	{"x:",
	"ERR: syntax error at position 3: expected a term, phrase or group after \"x:\""},
	{"x: a",
	"ERR: syntax error at position 3: expected a term, phrase or group after \"x:\""},
	{":a",
	"ERR: syntax error at position 1: unexpected ':'"},
	{"x:y:z",
	"ERR: syntax error at position 3: a column prefix cannot follow another one"},
	{"a AND",
	"ERR: syntax error at position 6: expected a query after AND"},
	{"a OR",
	"ERR: syntax error at position 3: expected a query after OR"},
	{"AND a",
	"ERR: syntax error at position 1: unexpected keyword AND (escape it or write it in lower case to search for it)"},
	{"OR a",
	"ERR: syntax error at position 1: unexpected keyword OR (escape it or write it in lower case to search for it)"},
	{"NOT",
	"ERR: syntax error at position 1: expected a query after NOT"},
	{"a NOT",
	"ERR: syntax error at position 3: expected a query after NOT"},
	{"a AND AND b",
	"ERR: syntax error at position 7: unexpected keyword AND (escape it or write it in lower case to search for it)"},
	{"a OR OR b",
	"ERR: syntax error at position 6: unexpected keyword OR (escape it or write it in lower case to search for it)"},
	{"+",
	"ERR: syntax error at position 1: expected a term, phrase or group after '+'"},
	{"a +",
	"ERR: syntax error at position 3: expected a term, phrase or group after '+'"},
	{"+ a",
	"ERR: syntax error at position 1: expected a term, phrase or group after '+'"},
	{"+-a",
	"ERR: syntax error at position 2: unexpected '-' after '+'"},
	{"NOT -a",
	"ERR: syntax error at position 5: unexpected '-' after NOT"},
	{"a\"b\"",
	"ERR: syntax error at position 2: unexpected '\"' (clauses are separated by white space)"},
	{"a(b)",
	"ERR: syntax error at position 2: unexpected '(' (clauses are separated by white space)"},
	{"(a)b",
	"ERR: syntax error at position 4: unexpected 'b' (clauses are separated by white space)"},
	{"\"a\"b",
	"ERR: syntax error at position 4: unexpected 'b' (clauses are separated by white space)"},
	{"a\\",
	"ERR: syntax error at position 2: dangling '\\' at end of query"},
	{"a~99999999999",
	"ERR: syntax error at position 3: number too large"},
	{"a^99999999999999999999999999999999999",
	"ERR: syntax error at position 3: boost too long"},
};

static void
test_json_special(void)
{
	char		buf[4096];
	char		err[512];
	FtsQuery   *q;
	int			i;
	size_t		n;
	const char *got;

	/* raw invalid UTF-8 inside a string, and an overlong encoding */
	got = run_parser(true, "{\"match\":{\"terms\":\"a\xff\"}}", 24);
	check_str(got, "ERR: invalid JSON at position 21: invalid UTF-8 in string",
			  "raw 0xFF byte");
	got = run_parser(true, "{\"match\":{\"terms\":\"\xc0\xaf\"}}", 24);
	check_str(got, "ERR: invalid JSON at position 20: invalid UTF-8 in string",
			  "overlong '/'");
	got = run_parser(true, "{\"match\":{\"terms\":\"\xed\xa0\x80\"}}", 25);
	check_str(got, "ERR: invalid JSON at position 20: invalid UTF-8 in string",
			  "encoded surrogate");
	/* an embedded NUL byte is just an unexpected character */
	got = run_parser(true, "{\"match\":{\"terms\":\"x\"}}\0", 24);
	check_str(got, "ERR: invalid JSON at position 24: unexpected byte 0x00 after the JSON value",
			  "NUL after the value");

	/*
	 * depth: 64 nested containers are accepted by the JSON layer (and then
	 * rejected as a query), the 65th is refused where it opens
	 */
	n = 0;
	for (i = 0; i < 64; i++)
		buf[n++] = '[';
	for (i = 0; i < 64; i++)
		buf[n++] = ']';
	got = run_parser(true, buf, n);
	check_str(got, "ERR: invalid FTS query at position 1: expected a query object, found array",
			  "64 nested arrays are valid JSON");
	n = 0;
	for (i = 0; i < 65; i++)
		buf[n++] = '[';
	for (i = 0; i < 65; i++)
		buf[n++] = ']';
	got = run_parser(true, buf, n);
	check_str(got, "ERR: invalid JSON at position 65: nesting deeper than 64 levels",
			  "65 nested arrays");
	n = 0;
	for (i = 0; i < 100000 && n < sizeof(buf) - 1; i++)
		buf[n++] = '{';
	got = run_parser(true, buf, n);
	check_str(got, "ERR: invalid JSON at position 2: expected a string key in object, found character '{'",
			  "depth bomb of 4095 '{'");
	n = 0;
	for (i = 0; n < sizeof(buf) - 8; i++)
		n += sprintf(buf + n, "{\"a\":");
	got = run_parser(true, buf, n);
	check_str(got, "ERR: invalid JSON at position 321: nesting deeper than 64 levels",
			  "depth bomb of {\"a\":{\"a\":...");

	/*
	 * nested booleans: each level is 3 JSON containers and the innermost
	 * match 2, so 20 levels fit in the 64-level limit and 21 do not
	 */
	{
		char	   *big = malloc(65536);
		size_t		l = 0;
		int			depth;

		if (big == NULL)
			return;
		for (depth = 20; depth <= 21; depth++)
		{
			l = 0;
			for (i = 0; i < depth; i++)
				l += sprintf(big + l, "{\"boolean\":{\"should\":[");
			l += sprintf(big + l, "{\"match\":{\"terms\":\"x\"}}");
			for (i = 0; i < depth; i++)
				l += sprintf(big + l, "]}}");
			q = fts_query_from_json(big, l, 0, &hooks, err, sizeof(err));
			if (depth == 20)
			{
				const FtsNode *nd = q ? q->root : NULL;
				int			levels = 0;

				while (nd != NULL && nd->kind == FTS_BOOLEAN)
				{
					nd = nd->u.boolean.should[0];
					levels++;
				}
				check(q != NULL && levels == 20 && nd->kind == FTS_MATCH,
					  "20 nested booleans parse");
			}
			else
				check_str(q ? "parsed" : err,
						  "invalid JSON at position 472: nesting deeper than 64 levels",
						  "21 nested booleans exceed the JSON depth");
			fts_query_free(q);
		}
		free(big);
	}

	/* size limit */
	q = fts_query_from_json("{\"match\":{\"terms\":\"x\"}}", 23, 10, NULL,
							err, sizeof(err));
	check_str(q ? "parsed" : err,
			  "invalid JSON at position 11: input longer than 10 bytes",
			  "size limit");
	q = fts_query_parse("aaaa bbbb", 9, 4, NULL, err, sizeof(err));
	check_str(q ? "parsed" : err,
			  "syntax error at position 5: query longer than 4 bytes",
			  "query string size limit");
	q = fts_query_parse("a\xff", 2, 0, NULL, err, sizeof(err));
	check_str(q ? "parsed" : err, "syntax error at position 2: invalid UTF-8",
			  "query string UTF-8");
	q = fts_query_parse("a\0b", 3, 0, NULL, err, sizeof(err));
	check_str(q ? "parsed" : err, "syntax error at position 2: NUL byte in query",
			  "query string NUL");

	/* a tiny error buffer is filled safely */
	q = fts_query_from_json("[", 1, 0, NULL, err, 8);
	check(q == NULL && strlen(err) == 7, "truncated error message");
	q = fts_query_from_json("[", 1, 0, NULL, NULL, 0);
	check(q == NULL, "NULL error buffer");
	check(hook_live == 0, "special: every allocation released");
}

/* Every allocation failure is reported, never crashes, never leaks. */
static void
test_oom(void)
{
	const char *json = fixtures[12].json;
	const char *qs = "title:(a \"b c\" d*) +e^2 -f~1 g AND h";
	int			pass;

	for (pass = 0; pass < 3; pass++)
	{
		long		k;
		bool		all_ok = true;
		long		needed = -1;

		for (k = 0; k < 1000; k++)
		{
			char		err[256];
			FtsQuery   *q;
			char	   *s = NULL;

			hook_calls = 0;
			hook_fail_at = k;
			if (pass == 0)
				q = fts_query_from_json(json, strlen(json), 0, &hooks,
										err, sizeof(err));
			else
				q = fts_query_parse(qs, strlen(qs), 0, &hooks, err,
									sizeof(err));
			if (q != NULL && pass == 2)
			{
				s = fts_query_to_json(q->root, &hooks);
				if (s == NULL)
					strcpy(err, "out of memory");
			}
			if (q != NULL && (pass != 2 || s != NULL))
			{
				needed = k;
				lance_mem_release(&hooks, s);
				fts_query_free(q);
				break;
			}
			fts_query_free(q);
			if (strstr(err, "out of memory") == NULL)
			{
				all_ok = false;
				printf("    allocation %ld: %s\n", k, err);
			}
			if (hook_live != 0)
				all_ok = false;
		}
		hook_fail_at = -1;
		check(all_ok && needed > 0 && hook_live == 0,
			  pass == 0 ? "JSON parser: each failed allocation reported"
			  : pass == 1 ? "query string: each failed allocation reported"
			  : "to_json: each failed allocation reported");
	}
}

static void
test_auto_fuzziness(void)
{
	check(fts_auto_fuzziness("ab", 2) == 0 && fts_auto_fuzziness("abc", 3) == 1 &&
		  fts_auto_fuzziness("abcde", 5) == 1 &&
		  fts_auto_fuzziness("abcdef", 6) == 2 &&
		  fts_auto_fuzziness("", 0) == 0, "AUTO fuzziness by length");
	/* code points, not bytes: two CJK characters get no edits */
	check(fts_auto_fuzziness("\xe6\x97\xa5\xe6\x9c\xac", 6) == 0 &&
		  fts_auto_fuzziness("caf\xc3\xa9", 5) == 1, "AUTO counts code points");
}

/* ------------------------------------------------------ fuzzy expansion */

typedef struct Dict
{
	char	  **terms;
	size_t	   *lens;
	uint32_t  **cps;			/* decoded code points (for brute force) */
	int		   *ncps;
	int			n;
} Dict;

typedef struct DictIter
{
	const Dict *d;
	int			pos;
} DictIter;

static int
bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int			c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

static bool
dict_seek(void *arg, const char *key, size_t keylen, const char **term,
		  size_t *termlen)
{
	DictIter   *it = arg;
	int			lo = 0;
	int			hi = it->d->n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (bytes_cmp(it->d->terms[mid], it->d->lens[mid], key, keylen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	it->pos = lo;
	if (lo >= it->d->n)
		return false;
	*term = it->d->terms[lo];
	*termlen = it->d->lens[lo];
	return true;
}

static bool
dict_next(void *arg, const char **term, size_t *termlen)
{
	DictIter   *it = arg;

	if (++it->pos >= it->d->n)
		return false;
	*term = it->d->terms[it->pos];
	*termlen = it->d->lens[it->pos];
	return true;
}

static int
cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int
decode_cps(const char *s, size_t len, uint32_t *out)
{
	size_t		i = 0;
	int			n = 0;

	while (i < len)
	{
		int			l = lance_utf8_decode((const unsigned char *) s + i,
										  len - i, &out[n]);

		if (l == 0)
		{
			/* as fuzzy.c: a stray byte is its own symbol */
			out[n] = 0x80000000u | (unsigned char) s[i];
			l = 1;
		}
		n++;
		i += l;
	}
	return n;
}

/*
 * Random dictionary of at least want distinct words of minlen..maxlen
 * symbols drawn from alphabet (symbols may be multi-byte), sorted bytewise.
 */
static void
dict_build(Dict *d, int want, const char *const *alphabet, int nalpha,
		   int minlen, int maxlen)
{
	int			cap = want * 2 + 16;
	char	  **words = malloc(sizeof(char *) * cap);
	int			n = 0;
	int			i;

	while (n < want)
	{
		int			out = 0;

		while (n < cap && n < want + want / 8 + 1)
		{
			char		w[128];
			size_t		l = 0;
			int			len = minlen + rng_int(maxlen - minlen + 1);
			int			k;

			for (k = 0; k < len; k++)
			{
				const char *a = alphabet[rng_int(nalpha)];

				memcpy(w + l, a, strlen(a));
				l += strlen(a);
			}
			w[l] = '\0';
			words[n++] = strdup(w);
		}
		qsort(words, n, sizeof(char *), cmp_cstr);
		for (i = 0; i < n; i++)
		{
			if (out > 0 && strcmp(words[out - 1], words[i]) == 0)
				free(words[i]);
			else
				words[out++] = words[i];
		}
		n = out;
	}
	d->n = n;
	d->terms = words;
	d->lens = malloc(sizeof(size_t) * n);
	d->cps = malloc(sizeof(uint32_t *) * n);
	d->ncps = malloc(sizeof(int) * n);
	for (i = 0; i < n; i++)
	{
		uint32_t	tmp[128];

		d->lens[i] = strlen(words[i]);
		d->ncps[i] = decode_cps(words[i], d->lens[i], tmp);
		d->cps[i] = malloc(sizeof(uint32_t) * (d->ncps[i] + 1));
		memcpy(d->cps[i], tmp, sizeof(uint32_t) * d->ncps[i]);
	}
}

static void
dict_free(Dict *d)
{
	int			i;

	for (i = 0; i < d->n; i++)
	{
		free(d->terms[i]);
		free(d->cps[i]);
	}
	free(d->terms);
	free(d->lens);
	free(d->cps);
	free(d->ncps);
}

/* Plain full-matrix Levenshtein on code points: the reference. */
static int
levenshtein(const uint32_t *a, int n, const uint32_t *b, int m)
{
	int			row[256];
	int			i;
	int			j;

	for (j = 0; j <= m; j++)
		row[j] = j;
	for (i = 1; i <= n; i++)
	{
		int			diag = row[0];

		row[0] = i;
		for (j = 1; j <= m; j++)
		{
			int			up = row[j];
			int			v = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
		}
	}
	return row[m];
}

typedef struct Hit
{
	int			idx;
	int			dist;
} Hit;

static int
cmp_hit_rank(const void *a, const void *b)
{
	const Hit  *x = a;
	const Hit  *y = b;

	if (x->dist != y->dist)
		return x->dist - y->dist;
	return x->idx - y->idx;
}

static int
cmp_hit_idx(const void *a, const void *b)
{
	return ((const Hit *) a)->idx - ((const Hit *) b)->idx;
}

/* Reference: every term, distance on the part after the fixed prefix. */
static int
brute_expand(const Dict *d, const char *q, size_t qlen, int max_edits,
			 int prefix_length, int cap, Hit *out)
{
	uint32_t	qc[128];
	int			qn = decode_cps(q, qlen, qc);
	int			p = prefix_length < qn ? prefix_length : qn;
	int			nhits = 0;
	int			i;

	for (i = 0; i < d->n; i++)
	{
		int			dist;

		if (d->ncps[i] < p ||
			memcmp(d->cps[i], qc, sizeof(uint32_t) * p) != 0)
			continue;
		dist = levenshtein(d->cps[i] + p, d->ncps[i] - p, qc + p, qn - p);
		if (dist <= max_edits)
		{
			out[nhits].idx = i;
			out[nhits].dist = dist;
			nhits++;
		}
	}
	qsort(out, nhits, sizeof(Hit), cmp_hit_rank);
	if (nhits > cap)
		nhits = cap;
	qsort(out, nhits, sizeof(Hit), cmp_hit_idx);
	return nhits;
}

typedef struct Collect
{
	const Dict *d;
	Hit		   *hits;
	int			n;
	bool		bad;
} Collect;

static bool
collect_cb(void *arg, const char *term, size_t len, int distance)
{
	Collect    *c = arg;
	DictIter	it;
	const char *t;
	size_t		tl;

	it.d = c->d;
	if (!dict_seek(&it, term, len, &t, &tl) || tl != len ||
		memcmp(t, term, len) != 0)
	{
		c->bad = true;
		return true;
	}
	c->hits[c->n].idx = it.pos;
	c->hits[c->n].dist = distance;
	c->n++;
	return true;
}

static bool
count_cb(void *arg, const char *term, size_t len, int distance)
{
	(void) term;
	(void) len;
	(void) distance;
	(*(int *) arg)++;
	return true;
}

static const char *const small_alpha[] = {
	"a", "b", "c", "d", "e", "f", "g", "h", "z",
	"\xc3\xa9", "\xc3\x9f", "\xe6\x97\xa5", "\xf0\x9f\x98\x80"
};

/* A query near the dictionary: a random word with up to 3 random edits. */
static void
make_query(const Dict *d, const char *const *alpha, int nalpha, char *out,
		   size_t *outlen)
{
	uint32_t	cps[64];
	int			n;
	int			e;
	int			edits = rng_int(4);
	size_t		l = 0;
	int			i;
	int			w = rng_int(d->n);

	n = decode_cps(d->terms[w], d->lens[w], cps);
	for (e = 0; e < edits; e++)
	{
		int			op = rng_int(3);
		int			pos = n ? rng_int(n) : 0;
		uint32_t	c;
		const char *a = alpha[rng_int(nalpha)];

		decode_cps(a, strlen(a), &c);
		if (op == 0 && n < 60)
		{
			memmove(cps + pos + 1, cps + pos, sizeof(uint32_t) * (n - pos));
			cps[pos] = c;
			n++;
		}
		else if (op == 1 && n > 0)
		{
			memmove(cps + pos, cps + pos + 1, sizeof(uint32_t) * (n - pos - 1));
			n--;
		}
		else if (n > 0)
			cps[pos] = c;
	}
	for (i = 0; i < n; i++)
	{
		uint32_t	c = cps[i];

		if (c < 0x80)
			out[l++] = (char) c;
		else if (c < 0x800)
		{
			out[l++] = (char) (0xC0 | (c >> 6));
			out[l++] = (char) (0x80 | (c & 0x3F));
		}
		else if (c < 0x10000)
		{
			out[l++] = (char) (0xE0 | (c >> 12));
			out[l++] = (char) (0x80 | ((c >> 6) & 0x3F));
			out[l++] = (char) (0x80 | (c & 0x3F));
		}
		else
		{
			out[l++] = (char) (0xF0 | (c >> 18));
			out[l++] = (char) (0x80 | ((c >> 12) & 0x3F));
			out[l++] = (char) (0x80 | ((c >> 6) & 0x3F));
			out[l++] = (char) (0x80 | (c & 0x3F));
		}
	}
	out[l] = '\0';
	*outlen = l;
}

static void
test_fuzzy_bruteforce(void)
{
	Dict		d;
	DictIter	it;
	LanceTermIter iter;
	Hit		   *want = malloc(sizeof(Hit) * 60000);
	Hit		   *got = malloc(sizeof(Hit) * 60000);
	static const int caps[] = {1, 2, 3, 10, 50, 1000000};
	int			nq = getenv("FTS_BRUTE_QUERIES") ? atoi(getenv("FTS_BRUTE_QUERIES")) : 400;
	int			qi;
	int			mismatches = 0;
	long		total_hits = 0;
	long		capped = 0;
	uint64_t	visited = 0;

	dict_build(&d, 50000, small_alpha, 13, 1, 8);
	printf("# brute-force dictionary: %d distinct words over 13 symbols (4 multi-byte)\n",
		   d.n);
	it.d = &d;
	iter.arg = &it;
	iter.seek = dict_seek;
	iter.next = dict_next;
	for (qi = 0; qi < nq; qi++)
	{
		char		q[300];
		size_t		qlen;
		int			max_edits = rng_int(3);
		int			pl = rng_int(4) == 0 ? rng_int(3) : 0;
		int			cap = caps[rng_int(6)];
		int			nw;
		int			ng;
		Collect		c;
		LanceExpandStats st;
		char		err[128];

		make_query(&d, small_alpha, 13, q, &qlen);
		nw = brute_expand(&d, q, qlen, max_edits, pl, cap, want);
		{
			/* also count the uncapped matches, to know capping was tested */
			Hit		   *all = malloc(sizeof(Hit) * 60000);
			int			na = brute_expand(&d, q, qlen, max_edits, pl, 1000000, all);

			if (na > nw)
				capped++;
			free(all);
		}
		c.d = &d;
		c.hits = got;
		c.n = 0;
		c.bad = false;
		ng = lance_fuzzy_expand(q, qlen, max_edits, pl, cap, &iter, collect_cb,
								&c, &hooks, &st, err, sizeof(err));
		visited += st.terms_visited;
		total_hits += nw;
		if (ng != nw || c.n != nw || c.bad ||
			memcmp(want, got, sizeof(Hit) * nw) != 0)
		{
			if (mismatches++ < 5)
				printf("    mismatch: q=%s d=%d pl=%d cap=%d want %d got %d\n",
					   q, max_edits, pl, cap, nw, ng);
		}
	}
	printf("# %d queries, %ld expected expansions (%ld queries capped), "
		   "avg %.0f terms visited of %d\n",
		   nq, total_hits, capped, (double) visited / nq, d.n);
	check(mismatches == 0, "fuzzy expansion equals brute-force Levenshtein");
	check(capped > nq / 20, "capping exercised");
	check(hook_live == 0, "fuzzy: every allocation released");
	free(want);
	free(got);
	dict_free(&d);
}

/*
 * Dictionary terms that are not valid UTF-8 (stray continuation bytes,
 * 0xFF, truncated sequences) still give the brute-force answer.
 */
static const char *const broken_alpha[] = {
	"a", "b", "c", "z", "\x80", "\xff", "\xc3", "\xc3\xa9", "\xe6\x97"
};

static void
test_fuzzy_invalid_utf8(void)
{
	Dict		d;
	DictIter	it;
	LanceTermIter iter;
	Hit		   *want = malloc(sizeof(Hit) * 30000);
	Hit		   *got = malloc(sizeof(Hit) * 30000);
	int			qi;
	int			tried = 0;
	int			mismatches = 0;

	dict_build(&d, 20000, broken_alpha, 9, 1, 7);
	it.d = &d;
	iter.arg = &it;
	iter.seek = dict_seek;
	iter.next = dict_next;
	for (qi = 0; qi < 600; qi++)
	{
		char		q[300];
		size_t		qlen;
		int			e = rng_int(3);
		int			pl = rng_int(3) == 0 ? 1 : 0;
		int			cap = rng_int(2) ? 50 : 1000000;
		Collect		c;
		char		err[128];
		int			nw;
		int			ng;

		int			k;
		int			len = 1 + rng_int(6);
		bool		random_bytes = (qi % 3 == 2);

		/*
		 * mostly valid UTF-8 queries over the valid symbols of the
		 * alphabet; every third one random bytes (rejected unless valid)
		 */
		qlen = 0;
		for (k = 0; k < len; k++)
		{
			static const char *const valid[] = {"a", "b", "c", "z", "\xc3\xa9"};
			const char *sym = valid[rng_int(5)];

			if (random_bytes)
			{
				q[qlen++] = (char) (rng_int(2) ? 'a' + rng_int(3) : rng_int(256));
				continue;
			}
			memcpy(q + qlen, sym, strlen(sym));
			qlen += strlen(sym);
		}
		q[qlen] = '\0';
		pl = rng_int(4) == 0 ? rng_int(5) : pl;
		c.d = &d;
		c.hits = got;
		c.n = 0;
		c.bad = false;
		ng = lance_fuzzy_expand(q, qlen, e, pl, cap, &iter, collect_cb, &c,
								NULL, NULL, err, sizeof(err));
		if (ng < 0)
		{
			if (!random_bytes ||
				strncmp(err, "invalid UTF-8 in fuzzy term", 27) != 0)
				mismatches++;
			continue;
		}
		tried++;
		nw = brute_expand(&d, q, qlen, e, pl, cap, want);
		if (ng != nw || c.bad || memcmp(want, got, sizeof(Hit) * nw) != 0)
		{
			if (mismatches++ < 5)
				printf("    mismatch: q=%s d=%d pl=%d cap=%d want %d got %d\n",
					   q, e, pl, cap, nw, ng);
		}
	}
	printf("# invalid-UTF-8 dictionary: %d words, %d queries compared\n",
		   d.n, tried);
	check(mismatches == 0,
		  "fuzzy expansion over invalid UTF-8 terms equals brute force");
	free(want);
	free(got);
	dict_free(&d);
}

/* Hand-checked cases on a tiny dictionary. */
static void
test_fuzzy_small(void)
{
	static const char *const words[] = {
		"cat", "cats", "cot", "dog", "grumpy", "gurmpy", "puppies", "puppy",
		"pupy", "pupyp", "puzzy"
	};
	Dict		d;
	DictIter	it;
	LanceTermIter iter;
	Hit			got[16];
	Collect		c;
	char		err[128];
	int			n;
	int			i;

	d.n = 11;
	d.terms = (char **) words;
	d.lens = malloc(sizeof(size_t) * d.n);
	for (i = 0; i < d.n; i++)
		d.lens[i] = strlen(words[i]);
	it.d = &d;
	iter.arg = &it;
	iter.seek = dict_seek;
	iter.next = dict_next;
	c.d = &d;
	c.hits = got;

#define EXPAND(q, e, pl, cap) \
	(c.n = 0, c.bad = false, \
	 lance_fuzzy_expand(q, strlen(q), e, pl, cap, &iter, collect_cb, &c, \
						NULL, NULL, err, sizeof(err)))

	n = EXPAND("puppy", 1, 0, 50);
	check(n == 2 && got[0].idx == 7 && got[0].dist == 0 &&
		  got[1].idx == 8 && got[1].dist == 1,
		  "puppy~1 = puppy, pupy");
	n = EXPAND("pupyp", 1, 0, 50);
	check(n == 2 && got[0].idx == 8 && got[1].idx == 9,
		  "transposition costs 2: pupyp~1 does not reach puppy");
	n = EXPAND("gurmpy", 2, 0, 50);
	check(n == 2 && got[0].idx == 4 && got[0].dist == 2,
		  "gurmpy~2 reaches grumpy");
	n = EXPAND("puppy", 2, 0, 2);
	check(n == 2 && got[0].idx == 7 && got[1].idx == 8,
		  "cap 2 keeps distance 0 then the first distance-1 term");
	n = EXPAND("puzzy", 2, 0, 2);
	check(n == 2 && got[0].idx == 7 && got[0].dist == 2 &&
		  got[1].idx == 10 && got[1].dist == 0,
		  "cap keeps lowest distances, reports in dictionary order");
	n = EXPAND("cat", 1, 1, 50);
	check(n == 3 && got[0].idx == 0 && got[1].idx == 1 && got[2].idx == 2,
		  "prefix_length 1");
	n = EXPAND("cat", 1, 3, 50);
	check(n == 2 && got[0].idx == 0 && got[1].idx == 1,
		  "prefix_length = whole term: only insertions after it");
	n = EXPAND("dgo", 0, 0, 50);
	check(n == 0, "distance 0 is exact");
	n = EXPAND("x", 1, 0, 0);
	check(n == 0, "max_expansions 0 returns nothing");
	n = EXPAND("x", 3, 0, 5);
	check(n == -1 && strcmp(err, "fuzziness 3 out of range (0..2)") == 0,
		  "fuzziness above 2 rejected");
	n = EXPAND("a\xff", 1, 0, 5);
	check(n == -1 && strcmp(err, "invalid UTF-8 in fuzzy term at position 2") == 0,
		  "invalid UTF-8 query rejected");

	c.n = 0;
	n = lance_prefix_expand("pup", 3, 50, &iter, collect_cb, &c, NULL);
	check(n == 4 && got[0].idx == 6 && got[3].idx == 9, "prefix pup*");
	c.n = 0;
	n = lance_prefix_expand("pup", 3, 2, &iter, collect_cb, &c, NULL);
	check(n == 2 && got[0].idx == 6 && got[1].idx == 7, "prefix capped");
	c.n = 0;
	n = lance_prefix_expand("zz", 2, 50, &iter, collect_cb, &c, NULL);
	check(n == 0, "prefix past the end");
	c.n = 0;
	n = lance_prefix_expand("", 0, 3, &iter, collect_cb, &c, NULL);
	check(n == 3 && got[0].idx == 0, "empty prefix = first terms");
#undef EXPAND
	free(d.lens);
}

/* English-like letter frequencies for the timing dictionary. */
static const char *const english_alpha[] = {
	"e", "e", "e", "e", "e", "e", "t", "t", "t", "t", "a", "a", "a", "a",
	"o", "o", "o", "i", "i", "i", "n", "n", "n", "s", "s", "s", "h", "h",
	"r", "r", "r", "d", "d", "l", "l", "c", "c", "u", "u", "m", "w", "f",
	"g", "y", "p", "b", "v", "k", "j", "x", "q", "z"
};

static void
test_fuzzy_timing(void)
{
	Dict		d;
	DictIter	it;
	LanceTermIter iter;
	int			nalpha = sizeof(english_alpha) / sizeof(english_alpha[0]);
	int			e;
	int			nq = 2000;

	dict_build(&d, 200000, english_alpha, nalpha, 3, 12);
	it.d = &d;
	iter.arg = &it;
	iter.seek = dict_seek;
	iter.next = dict_next;
	for (e = 0; e <= 3; e++)
	{
		double		t0;
		double		t1;
		uint64_t	visited = 0;
		uint64_t	seeks = 0;
		long		found = 0;
		int			qi;
		uint64_t	saved = rng_state;

		rng_state = 12345;
		t0 = now_us();
		for (qi = 0; qi < nq; qi++)
		{
			char		q[300];
			size_t		qlen;
			int			cnt = 0;
			LanceExpandStats st;
			char		err[64];

			make_query(&d, english_alpha, nalpha, q, &qlen);
			if (e < 3)
				lance_fuzzy_expand(q, qlen, e, 0, 50, &iter, count_cb, &cnt,
								   NULL, &st, err, sizeof(err));
			else
				lance_prefix_expand(q, qlen < 3 ? qlen : 3, 50, &iter,
									count_cb, &cnt, &st);
			visited += st.terms_visited;
			seeks += st.seeks;
			found += cnt;
		}
		t1 = now_us();
		rng_state = saved;
		if (e < 3)
			printf("# %d terms, fuzziness %d: %.1f us/query, %.0f terms visited, %.0f seeks, %.1f expansions\n",
				   d.n, e, (t1 - t0) / nq, (double) visited / nq,
				   (double) seeks / nq, (double) found / nq);
		else
			printf("# %d terms, 3-letter prefix*: %.1f us/query, %.1f expansions\n",
				   d.n, (t1 - t0) / nq, (double) found / nq);
	}
	{
		/* the brute force over the same dictionary, for scale */
		double		t0 = now_us();
		Hit		   *hits = malloc(sizeof(Hit) * 200000);
		int			qi;

		for (qi = 0; qi < 20; qi++)
		{
			char		q[300];
			size_t		qlen;

			make_query(&d, english_alpha, nalpha, q, &qlen);
			brute_expand(&d, q, qlen, 2, 0, 50, hits);
		}
		printf("# brute-force Levenshtein, fuzziness 2: %.0f us/query\n",
			   (now_us() - t0) / 20);
		free(hits);
	}
	check(true, "timing ran");
	dict_free(&d);
}

/* ------------------------------------------------------------ fuzzing */

static const char *const json_tokens[] = {
	"{", "}", "[", "]", ":", ",", " ", "\"match\"", "\"phrase\"",
	"\"boost\"", "\"multi_match\"", "\"boolean\"", "\"terms\"", "\"column\"",
	"\"must\"", "\"should\"", "\"must_not\"", "\"positive\"", "\"negative\"",
	"\"columns\"", "\"query\"", "\"slop\"", "\"fuzziness\"", "\"operator\"",
	"\"And\"", "\"x\"", "\"\\ud83d\\ude00\"", "\"\\u00e9\"", "\"\\ud83d\"",
	"0", "1", "2", "-1", "1.5", "1e3", "-0", "null", "true", "false",
	"\"\\\"\"", "\"", "\\", "\xc3\xa9", "\xff"
};

static const char *const qs_tokens[] = {
	"a", "b", "term", " ", " ", "AND", "OR", "NOT", "(", ")", "\"", "~",
	"~1", "~2", "^2", "^0.5", "*", "+", "-", ":", "title:", "\\", "\\\"",
	"\xc3\xa9", "\xe6\x97\xa5", "\t", "and", "\xff", "3", "."
};

/* Round trip: tree -> JSON -> tree -> JSON must be stable. */
static bool
round_trip_ok(const FtsQuery *q)
{
	char	   *j1 = fts_query_to_json(q->root, &hooks);
	char	   *j2 = NULL;
	char		err[512];
	FtsQuery   *q2;
	bool		ok = false;

	if (j1 == NULL)
		return false;
	q2 = fts_query_from_json(j1, strlen(j1), 0, &hooks, err, sizeof(err));
	if (q2 != NULL)
	{
		j2 = fts_query_to_json(q2->root, &hooks);
		ok = (j2 != NULL && strcmp(j1, j2) == 0);
		fts_query_free(q2);
	}
	if (!ok)
		printf("    round trip failed: %s\n    -> %s\n", j1, q2 ? j2 : err);
	lance_mem_release(&hooks, j1);
	lance_mem_release(&hooks, j2);
	return ok;
}

static void
fuzz_one(bool json, const char *buf, size_t len, long *accepted,
		 long *bad_errors, long *bad_trips)
{
	char		err[512];
	FtsQuery   *q;

	err[0] = 'X';
	q = json ? fts_query_from_json(buf, len, 0, &hooks, err, sizeof(err))
		: fts_query_parse(buf, len, 0, &hooks, err, sizeof(err));
	if (q != NULL)
	{
		(*accepted)++;
		if (!round_trip_ok(q))
			(*bad_trips)++;
		fts_query_free(q);
	}
	else if (strncmp(err, "invalid JSON at position ", 25) != 0 &&
			 strncmp(err, "invalid FTS query at position ", 30) != 0 &&
			 strncmp(err, "syntax error at position ", 25) != 0)
	{
		if ((*bad_errors)++ < 5)
			printf("    unexpected error text: %s\n", err);
	}
}

static void
test_fuzz(long iters)
{
	int			pass;

	for (pass = 0; pass < 2; pass++)
	{
		bool		json = (pass == 0);
		long		accepted = 0;
		long		bad_errors = 0;
		long		bad_trips = 0;
		long		i;
		char		buf[1024];
		double		t0 = now_us();

		for (i = 0; i < iters; i++)
		{
			size_t		len = 0;
			int			mode = rng_int(3);

			if (mode == 0)
			{
				/* raw random bytes */
				int			n = rng_int(48);

				while (len < (size_t) n)
					buf[len++] = (char) rng_next();
			}
			else if (mode == 1)
			{
				/* random token soup */
				int			n = 1 + rng_int(24);
				const char *const *tok = json ? json_tokens : qs_tokens;
				int			ntok = json
					? (int) (sizeof(json_tokens) / sizeof(json_tokens[0]))
					: (int) (sizeof(qs_tokens) / sizeof(qs_tokens[0]));

				while (n-- > 0)
				{
					const char *t = tok[rng_int(ntok)];
					size_t		l = strlen(t);

					if (len + l >= sizeof(buf))
						break;
					memcpy(buf + len, t, l);
					len += l;
				}
			}
			else
			{
				/* mutate a valid input: a fixture or a grammar case */
				const char *src = json
					? fixtures[rng_int(sizeof(fixtures) / sizeof(fixtures[0]))].json
					: qs_cases[rng_int(sizeof(qs_cases) / sizeof(qs_cases[0]))].input;
				int			m = 1 + rng_int(4);

				len = strlen(src);
				if (len >= sizeof(buf) - 8)
					len = sizeof(buf) - 8;
				memcpy(buf, src, len);
				while (m-- > 0)
				{
					size_t		at = len ? (size_t) rng_int((int) len + 1) : 0;
					int			op = rng_int(3);

					if (op == 0 && len > 0 && at < len)
					{
						memmove(buf + at, buf + at + 1, len - at - 1);
						len--;
					}
					else if (op == 1 && len < sizeof(buf) - 8)
					{
						static const char ins[] = "{}[]\":,\\ ~^*()+-0a\xc3";

						memmove(buf + at + 1, buf + at, len - at);
						buf[at] = ins[rng_int(sizeof(ins) - 1)];
						len++;
					}
					else if (at < len)
						buf[at] = (char) rng_next();
				}
			}
			fuzz_one(json, buf, len, &accepted, &bad_errors, &bad_trips);
		}
		printf("# fuzz %s: %ld inputs, %ld accepted, %.1f us/input\n",
			   json ? "JSON" : "query string", iters, accepted,
			   (now_us() - t0) / iters);
		check(bad_errors == 0, json ? "fuzz JSON: every error names a position"
			  : "fuzz query string: every error names a position");
		check(bad_trips == 0, json ? "fuzz JSON: accepted inputs round-trip"
			  : "fuzz query string: accepted inputs round-trip");
		check(hook_live == 0, "fuzz: every allocation released");
	}
}

int
main(int argc, char **argv)
{
	long		iters = 200000;
	const char *env = getenv("FTS_FUZZ_ITERS");

	if (env != NULL)
		iters = atol(env);
	if (argc > 1 && strcmp(argv[1], "--print-cases") == 0)
	{
		print_cases = true;
		printf("/* JSON */\n");
		run_cases(true, json_cases, sizeof(json_cases) / sizeof(json_cases[0]), "");
		printf("/* query string */\n");
		run_cases(false, qs_cases, sizeof(qs_cases) / sizeof(qs_cases[0]), "");
		printf("/* query string errors */\n");
		run_cases(false, qs_error_cases,
				  sizeof(qs_error_cases) / sizeof(qs_error_cases[0]), "");
		return 0;
	}
	test_fixtures();
	test_fixture_fields();
	run_cases(true, json_cases, sizeof(json_cases) / sizeof(json_cases[0]),
			  "json");
	test_json_special();
	run_cases(false, qs_cases, sizeof(qs_cases) / sizeof(qs_cases[0]),
			  "query string");
	run_cases(false, qs_error_cases,
			  sizeof(qs_error_cases) / sizeof(qs_error_cases[0]),
			  "query string error");
	test_oom();
	test_auto_fuzziness();
	test_fuzzy_small();
	test_fuzzy_bruteforce();
	test_fuzzy_invalid_utf8();
	if (getenv("FTS_SKIP_TIMING") == NULL)
		test_fuzzy_timing();
	test_fuzz(iters);
	printf("%d passed, %d failed\n", n_passed, n_failed);
	return n_failed == 0 ? 0 : 1;
}
