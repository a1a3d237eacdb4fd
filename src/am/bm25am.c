/*
 * bm25am.c
 *	  lance_bm25 handler: WITH (...) options (LanceDB's analyzer options and
 *	  defaults), cost estimate and opclass validation.
 */
#include "postgres.h"

#include <float.h>

#include "access/amvalidate.h"
#include "access/reloptions.h"
#include "am/bm25am.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "commands/vacuum.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

static relopt_kind bm25_relopt_kind;

static void
Bm25ValidateTokenizer(const char *value)
{
	LanceBaseTokenizer k;

	if (value && !lance_tokenizer_from_name(value, &k))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown base_tokenizer \"%s\"", value),
				 errhint("Valid values are \"simple\", \"whitespace\", \"raw\" and \"ngram\".")));
}

static void
Bm25ValidateLanguage(const char *value)
{
	LanceAnalyzerOptions o;
	const char *err;

	lance_analyzer_options_init(&o);
	if (value && !lance_analyzer_set_language(&o, value, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown language \"%s\"", value),
				 errhint("Languages are libstemmer's Snowball algorithms, e.g. \"english\", \"french\", \"german\", \"russian\".")));
}

void
Bm25Init(void)
{
	Bm25MergeInit();
	Bm25FilterInit();
	bm25_relopt_kind = add_reloption_kind();
	add_string_reloption(bm25_relopt_kind, "base_tokenizer",
						 "simple | whitespace | raw | ngram",
						 "simple", Bm25ValidateTokenizer, AccessExclusiveLock);
	add_string_reloption(bm25_relopt_kind, "language",
						 "Snowball language for stemming and stop words",
						 "english", Bm25ValidateLanguage, AccessExclusiveLock);
	add_bool_reloption(bm25_relopt_kind, "with_position",
					   "Store positions (needed by phrase queries)",
					   false, AccessExclusiveLock);
	add_int_reloption(bm25_relopt_kind, "max_token_length",
					  "Drop tokens of this many bytes or more (0: no limit)",
					  40, 0, 65535, AccessExclusiveLock);
	add_bool_reloption(bm25_relopt_kind, "lower_case", "Lowercase tokens",
					   true, AccessExclusiveLock);
	add_bool_reloption(bm25_relopt_kind, "stem", "Stem tokens (Snowball)",
					   true, AccessExclusiveLock);
	add_bool_reloption(bm25_relopt_kind, "remove_stop_words",
					   "Drop the language's stop words (or stop_words)",
					   true, AccessExclusiveLock);
	add_string_reloption(bm25_relopt_kind, "stop_words",
						 "Custom comma-separated stop words instead of the language's list",
						 NULL, NULL, AccessExclusiveLock);
	add_bool_reloption(bm25_relopt_kind, "ascii_folding",
					   "Fold accented letters to ASCII", true, AccessExclusiveLock);
	add_int_reloption(bm25_relopt_kind, "ngram_min_length",
					  "Shortest n-gram (ngram tokenizer)", 3, 1, 255, AccessExclusiveLock);
	add_int_reloption(bm25_relopt_kind, "ngram_max_length",
					  "Longest n-gram (ngram tokenizer)", 3, 1, 255, AccessExclusiveLock);
	add_bool_reloption(bm25_relopt_kind, "prefix_only",
					   "Only n-grams starting at the value's first character",
					   false, AccessExclusiveLock);
}

bytea *
bm25options(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"base_tokenizer", RELOPT_TYPE_STRING, offsetof(Bm25Options, base_tokenizer_offset)},
		{"language", RELOPT_TYPE_STRING, offsetof(Bm25Options, language_offset)},
		{"with_position", RELOPT_TYPE_BOOL, offsetof(Bm25Options, with_position)},
		{"max_token_length", RELOPT_TYPE_INT, offsetof(Bm25Options, max_token_length)},
		{"lower_case", RELOPT_TYPE_BOOL, offsetof(Bm25Options, lower_case)},
		{"stem", RELOPT_TYPE_BOOL, offsetof(Bm25Options, stem)},
		{"remove_stop_words", RELOPT_TYPE_BOOL, offsetof(Bm25Options, remove_stop_words)},
		{"stop_words", RELOPT_TYPE_STRING, offsetof(Bm25Options, stop_words_offset)},
		{"ascii_folding", RELOPT_TYPE_BOOL, offsetof(Bm25Options, ascii_folding)},
		{"ngram_min_length", RELOPT_TYPE_INT, offsetof(Bm25Options, ngram_min_length)},
		{"ngram_max_length", RELOPT_TYPE_INT, offsetof(Bm25Options, ngram_max_length)},
		{"prefix_only", RELOPT_TYPE_BOOL, offsetof(Bm25Options, prefix_only)},
	};

	return (bytea *) build_reloptions(reloptions, validate, bm25_relopt_kind,
									  sizeof(Bm25Options), tab, lengthof(tab));
}

/*
 * Cost: the index answers ORDER BY col <&> q and col @@@ q itself (no
 * recheck); without either it is useless.  Top-k cost does not grow with
 * the number of matches, so a ranked scan is priced as a few pages.
 */
static void
bm25costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;

	if (path->indexorderbys == NIL && path->indexclauses == NIL)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}
	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = Min(path->indexinfo->tuples, 100);
	genericcostestimate(root, path, loop_count, &costs);
	*indexStartupCost = costs.indexTotalCost * 0.5;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

static bool
bm25validate(Oid opclassoid)
{
	return true;
}

LANCEDB_FUNCTION(lance_bm25_handler);
Datum
lance_bm25_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 2;
	amroutine->amsupport = 0;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = true;
	amroutine->amparallelvacuumoptions = 0;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = bm25build;
	amroutine->ambuildempty = bm25buildempty;
	amroutine->aminsert = bm25insert;
	amroutine->ambulkdelete = bm25bulkdelete;
	amroutine->amvacuumcleanup = bm25vacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = bm25costestimate;
	amroutine->amoptions = bm25options;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = NULL;
	amroutine->amvalidate = bm25validate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = bm25beginscan;
	amroutine->amrescan = bm25rescan;
	amroutine->amgettuple = bm25gettuple;
	amroutine->amgetbitmap = bm25getbitmap;
	amroutine->amendscan = bm25endscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
