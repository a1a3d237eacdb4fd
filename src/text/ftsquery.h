/*
 * ftsquery.h
 *	  Query tree of the lance_bm25 index and its two front ends: LanceDB's
 *	  FtsQuery JSON and a Lucene-like query string.
 *
 * Plain C, no PostgreSQL headers.  A parsed query lives in one arena
 * allocated through the caller's hooks (LanceMem; malloc/free if NULL) and
 * is released with fts_query_free.  Parsers never exit: on error they return
 * NULL and write "<what> at position N: <problem>" into errbuf, N being the
 * 1-based byte offset in the input (PostgreSQL's cursor convention).
 *
 * Terms are kept as written; the index's analyzer tokenises them later (a
 * MATCH's terms may expand to several tokens).  Prefix terms (pre*) should be
 * lower-cased/folded but not stemmed by the caller.
 *
 * LanceDB JSON, verified against @lancedb/lancedb 0.37.1 (npm), whose
 * TypeScript classes have no toJson: the query objects were sent through a
 * remote connection (db://, hostOverride = a local HTTP server replying with
 * header "phalanx-version: 1.0.0") and the request bodies captured; their
 * "full_text_query.query" values are the test fixtures.  Field handling
 * follows the serde definitions in lance-index (rust/lance-index/src/scalar/
 * inverted/query.rs), and a local table confirmed the run-time rules:
 *	 {"match": {"boost": 1.0, "column": "body"|null, "fuzziness": 0|1|2|null,
 *				"max_expansions": 50, "operator": "Or"|"And",
 *				"prefix_length": 0, "terms": "..."}}
 *		required: terms.  Defaults: boost 1.0, max_expansions 50, operator Or,
 *		prefix_length 0, column null; fuzziness missing or null = AUTO
 *		(serde's Option semantics, not 0).
 *	 {"phrase": {"column": ..., "slop": 0, "terms": "..."}}
 *		required: terms; slop defaults to 0.
 *	 {"boost": {"negative": Q, "negative_boost": 0.5, "positive": Q}}
 *		required: positive, negative; negative_boost defaults to 0.5 (the
 *		package sends 0.5 when unset although its docstring says 0.0).
 *	 {"multi_match": {"boost": [1.0, 2.0], "columns": ["a", "b"],
 *					  "query": "..."}}
 *		the per-column boosts are "boost" (not "boosts"), optional/null = all
 *		1.0, same length as columns; columns must be non-empty.  The
 *		TypeScript operator option is NOT serialised by LanceDB.
 *	 {"boolean": {"must": [Q...], "must_not": [Q...], "should": [Q...]}}
 *		the package always sends all three arrays.  A boolean without MUST
 *		or SHOULD is accepted by the package but fails at execution with
 *		"boolean query must have at least one should/must query"; we reject
 *		it at parse time with the same words.
 *	 Fuzzy matching in LanceDB is plain Levenshtein (a transposition costs 2:
 *	 "pupyp" does not match "puppy" with fuzziness 1).
 *
 * Where we are stricter or wider than LanceDB (which ignores unknown fields):
 *	- unknown fields and duplicate keys are errors (serde also rejects
 *	  duplicates); the query object must have exactly one key;
 *	- integers (fuzziness, max_expansions, prefix_length, slop) must be
 *	  written without fraction or exponent, as serde requires; fuzziness
 *	  above 2 is rejected (edit distances > 2 are not supported);
 *	- boolean's three arrays may be omitted (empty);
 *	- operator also accepts "AND"/"OR" (the TypeScript enum spelling);
 *	- extensions emitted by fts_query_to_json for what the query string can
 *	  express: match "prefix": true, phrase/boolean "boost", multi_match
 *	  "operator".
 *	- match "prefix": true requires fuzziness 0 or absent (then 0);
 *	- "column": "" (what the package sends for an empty column argument) is
 *	  kept as an empty string, distinct from null;
 *	- AUTO fuzziness counts code points (LanceDB counts UTF-8 bytes, which
 *	  would give two-character CJK words two edits).
 */
#ifndef LANCE_TEXT_FTSQUERY_H
#define LANCE_TEXT_FTSQUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/json.h"

#define FTS_FUZZINESS_AUTO (-1)
#define FTS_DEFAULT_MAX_EXPANSIONS 50
#define FTS_DEFAULT_NEGATIVE_BOOST 0.5
#define FTS_MAX_DEPTH 64			/* nesting of groups / sub-queries */

typedef enum FtsNodeKind
{
	FTS_MATCH,
	FTS_PHRASE,
	FTS_BOOST,
	FTS_MULTI_MATCH,
	FTS_BOOLEAN
} FtsNodeKind;

typedef enum FtsOperator
{
	FTS_OP_OR,
	FTS_OP_AND
} FtsOperator;

typedef struct FtsNode FtsNode;

struct FtsNode
{
	FtsNodeKind kind;

	/*
	 * Multiplier of this subtree's score.  For MATCH it is LanceDB's
	 * "boost"; PHRASE and BOOLEAN get one from "^" in query strings.
	 * Always 1.0 for BOOST and MULTI_MATCH (those carry their own).
	 */
	double		boost;

	union
	{
		struct
		{
			const char *terms;
			const char *column; /* NULL = the index's default column */
			int			fuzziness;	/* 0..2 or FTS_FUZZINESS_AUTO */
			uint32_t	max_expansions;
			FtsOperator op;		/* how the terms' tokens combine */
			uint32_t	prefix_length;	/* code points that must not change */
			bool		prefix;	/* pre*: expand by prefix, no fuzziness */
		}			match;
		struct
		{
			const char *terms;
			const char *column;
			uint32_t	slop;
		}			phrase;
		struct
		{
			FtsNode    *positive;
			FtsNode    *negative;
			double		negative_boost;
		}			boosting;
		struct
		{
			const char *query;
			int			ncolumns;	/* >= 1 */
			const char **columns;
			double	   *boosts;		/* ncolumns entries */
			FtsOperator op;
		}			multi;
		struct
		{
			int			nmust;
			int			nshould;
			int			nmust_not;
			FtsNode   **must;
			FtsNode   **should;
			FtsNode   **must_not;
		}			boolean;
	}			u;
};

typedef struct FtsQuery
{
	FtsNode    *root;
	LanceArena	arena;			/* owns root and every string in it */
	LanceMem	mem;
} FtsQuery;

/*
 * LanceDB FtsQuery JSON -> tree.  max_size = 0 means 1 MiB.  Errors read
 * "invalid JSON at position N: ..." or "invalid FTS query at position N:
 * ...".
 */
extern FtsQuery *fts_query_from_json(const char *json, size_t len,
									 size_t max_size, const LanceMem *mem,
									 char *errbuf, size_t errlen);

/*
 * Query string -> tree.  Grammar (precedence: NOT/+/- > AND > OR/adjacency):
 *
 *	 query	 := clause ( [OR] clause )*		   adjacent clauses are SHOULD
 *	 clause  := unary ( AND unary )*		   operands become MUST
 *	 unary	 := NOT primary | +primary | -primary | primary
 *	 primary := [column:] atom modifier*
 *	 atom	 := word | word* | "phrase" | ( query )
 *	 modifier:= ~[N] (word: fuzziness, default 2; phrase: slop N)
 *			  | ^B	 (boost, non-negative number)
 *
 * +x is MUST, -x and NOT x are MUST_NOT, plain clauses are SHOULD, so
 * "+a b -c" is BOOLEAN{must:[a], should:[b], must_not:[c]}.  Keywords are
 * upper case only; lower-case "and" is a term.  '\' escapes any character.
 * A query made only of plain words (same column, no modifiers) becomes one
 * MATCH with the words joined by spaces, as LanceDB builds from a string.
 * Errors read "syntax error at position N: ...".
 */
extern FtsQuery *fts_query_parse(const char *text, size_t len,
								 size_t max_size, const LanceMem *mem,
								 char *errbuf, size_t errlen);

extern void fts_query_free(FtsQuery *query);

/*
 * Serialise a tree in LanceDB's JSON form (keys sorted, as the package
 * sends them).  Returns a NUL-terminated string allocated with mem (NULL on
 * out of memory); release it with lance_mem_release(mem, s).
 */
extern char *fts_query_to_json(const FtsNode *node, const LanceMem *mem);

/* LanceDB's AUTO rule on a token's code point count: 0, 1 or 2 edits. */
extern int	fts_auto_fuzziness(const char *token, size_t len);

#endif							/* LANCE_TEXT_FTSQUERY_H */
