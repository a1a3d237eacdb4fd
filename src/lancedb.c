/*
 * lancedb.c
 *	  Module entry point: settings shared by every part of the extension.
 */
#include "postgres.h"

#include "am/hnsw.h"
#include "am/bm25am.h"
#include "am/ivf.h"
#include "am/scanreport.h"
#include "worker/maint.h"
#include "fdw/lance_fdw.h"
#include "kernels/distance.h"
#include "lancedb.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

/* lancedb.simd: which distance-kernel path to use ("auto" = best the CPU has) */
typedef enum
{
	SIMD_AUTO,
	SIMD_SCALAR,
	SIMD_AVX2
} SimdSetting;

static const struct config_enum_entry simd_options[] = {
	{"auto", SIMD_AUTO, false},
	{"scalar", SIMD_SCALAR, false},
	{"avx2", SIMD_AVX2, false},
	{NULL, 0, false}
};

static int	simd_setting = SIMD_AUTO;

static bool
check_simd(int *newval, void **extra, GucSource source)
{
	if (*newval == SIMD_AVX2 && lance_kernels_avx2() == NULL)
	{
		GUC_check_errdetail("This CPU lacks AVX2, FMA, F16C or POPCNT.");
		return false;
	}
	return true;
}

static void
assign_simd(int newval, void *extra)
{
	lance_kernels_use(newval == SIMD_AVX2 ? "avx2" :
					  newval == SIMD_SCALAR ? "scalar" : "auto");
}

void
_PG_init(void)
{
	lance_kernels_init();

	DefineCustomEnumVariable("lancedb.simd",
							 "Instruction-set path of the distance kernels.",
							 "\"auto\" picks the fastest path this CPU supports; \"scalar\" is the portable reference.",
							 &simd_setting,
							 SIMD_AUTO,
							 simd_options,
							 PGC_USERSET,
							 0,
							 check_simd, assign_simd, NULL);

	IvfInit();
	lance_scan_report_init();
	LanceMaintInit();
	HnswInit();
	LanceFdwInit();
	Bm25Init();

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("lancedb");
#else
	EmitWarningsOnPlaceholders("lancedb");
#endif
}

/* lancedb.simd_path(): the path actually in use, for tests and benchmarks. */
LANCEDB_FUNCTION(lancedb_simd_path);
Datum
lancedb_simd_path(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(lance_kernels->name));
}
