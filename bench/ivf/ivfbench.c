/*
 * ivfbench.c
 *	  Entry point of the lance_ivf benchmark client (driven by run.sh).
 *
 *	  ivfbench data DATASET --dir DIR [options]	 make or reuse the cached
 *		base and queries; print shell assignments
 *	  ivfbench gt --base F --queries F --out F	 exact ground truth, computed
 *		afresh (run.sh does it in every run), checked against a cached file
 *	  ivfbench load --file F [--table T]		 binary COPY into T
 *	  ivfbench exec SQL...						 timed statements
 *	  ivfbench query ...						 timed k-NN series
 *
 * DATASET is fashion-mnist, aniso (L2) or cosine (unit vectors).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ivfbench.h"

#define FMNIST_DIR	"/usr/share/datasets/fashion-mnist"

void
die(const char *fmt,...)
{
	va_list		ap;

	fflush(stdout);
	fprintf(stderr, "ivfbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void *
xmalloc(size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
		die("out of memory (%zu bytes)", size);
	return p;
}

double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *
metric_name(BenchMetric m)
{
	switch (m)
	{
		case METRIC_L2:
			return "l2";
		case METRIC_IP:
			return "ip";
		default:
			return "cosine";
	}
}

BenchMetric
metric_parse(const char *s)
{
	if (strcmp(s, "l2") == 0)
		return METRIC_L2;
	if (strcmp(s, "ip") == 0)
		return METRIC_IP;
	if (strcmp(s, "cosine") == 0)
		return METRIC_COSINE;
	die("unknown metric \"%s\" (l2, ip, cosine)", s);
}

/* The SQL distance of the metric (<->, <#>, <=>), in double. */
double
metric_distance(BenchMetric m, const float *a, const float *b, int dim)
{
	double		s = 0,
				na = 0,
				nb = 0;

	switch (m)
	{
		case METRIC_L2:
			for (int i = 0; i < dim; i++)
			{
				double		d = (double) a[i] - b[i];

				s += d * d;
			}
			return sqrt(s);
		case METRIC_IP:
			for (int i = 0; i < dim; i++)
				s += (double) a[i] * b[i];
			return -s;
		default:
			for (int i = 0; i < dim; i++)
			{
				s += (double) a[i] * b[i];
				na += (double) a[i] * a[i];
				nb += (double) b[i] * b[i];
			}
			if (na == 0 || nb == 0)
				return NAN;
			return 1.0 - s / sqrt(na * nb);
	}
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: ivfbench data {fashion-mnist|aniso|cosine} --dir DIR [--n N] [--nq Q]\n"
			"                [--dim D] [--alpha A] [--spread S] [--centres C] [--zipf Z]\n"
			"                [--seed S] [--k K]\n"
			"       ivfbench load --file BASE [--table T]\n"
			"       ivfbench exec SQL...\n"
			"       ivfbench query --queries F --gt F [--base F] [--metric l2|ip|cosine]\n"
			"                [--table T] [--nq N] [--warmup N] [--set name=value]...\n"
			"                [--repeat R] [--dump FILE] [--require-index] [--floor ids|dist]\n"
			"       ivfbench concat --out F [--take N] IN [[--take N] IN]...\n"
			"       ivfbench gt --base F --queries F --out F [--metric M] [--k K]\n"
			"                [--threads T] [--cache F]\n");
	exit(2);
}

/*
 * ivfbench data: make the data set's base and query files under DIR unless
 * they exist, named by every parameter that changes their content, and
 * print NAME/BASE/QUERIES/GT_CACHE/METRIC/DIM/ROWS/NQ as shell assignments.
 * The ground truth is not made here: every run computes it with
 * "ivfbench gt"; GT_CACHE names the file that keeps an earlier run's
 * result (for "gt --cache", which compares against it and never uses it).
 */
static int
cmd_data(int argc, char **argv)
{
	const char *dataset;
	const char *dir = NULL;
	AnisoParams ap = {
		.n = 1000000, .nq = 1000, .dim = 128, .alpha = 1.5, .spread = 1.0,
		.centres = 1024, .zipf = 1.1, .seed = 0, .normalise = false
	};
	bool		n_given = false,
				dim_given = false;
	int			k = 10;
	BenchMetric metric;
	char		name[256],
				base_path[1024],
				queries_path[1024],
				gt_path[1024];
	FloatMatrix base = {0},
				queries = {0};
	double		t0;

	if (argc < 1)
		usage();
	dataset = argv[0];
	for (int i = 1; i < argc; i++)
	{
		const char *opt = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (val == NULL)
			die("data: %s needs a value", opt);
		i++;
		if (strcmp(opt, "--dir") == 0)
			dir = val;
		else if (strcmp(opt, "--n") == 0)
			ap.n = strtoll(val, NULL, 10), n_given = true;
		else if (strcmp(opt, "--nq") == 0)
			ap.nq = atoi(val);
		else if (strcmp(opt, "--dim") == 0)
			ap.dim = atoi(val), dim_given = true;
		else if (strcmp(opt, "--alpha") == 0)
			ap.alpha = atof(val);
		else if (strcmp(opt, "--spread") == 0)
			ap.spread = atof(val);
		else if (strcmp(opt, "--centres") == 0)
			ap.centres = atoi(val);
		else if (strcmp(opt, "--zipf") == 0)
			ap.zipf = atof(val);
		else if (strcmp(opt, "--seed") == 0)
			ap.seed = strtoull(val, NULL, 10);
		else if (strcmp(opt, "--k") == 0)
			k = atoi(val);
		else
			die("data: unknown option \"%s\"", opt);
	}
	if (dir == NULL)
		die("data: --dir is required");
	if (ap.n <= 0 || ap.nq <= 0 || ap.dim <= 0 || ap.centres <= 0 || k <= 0)
		die("data: --n, --nq, --dim, --centres and --k must be positive");

	if (strcmp(dataset, "fashion-mnist") == 0)
	{
		if (!n_given)
			ap.n = 60000;
		if (ap.n > 60000 || ap.nq > 10000)
			die("data: fashion-mnist has 60000 train and 10000 test images");
		metric = METRIC_L2;
		snprintf(name, sizeof(name), "fashion-mnist-n%lld", (long long) ap.n);
	}
	else if (strcmp(dataset, "aniso") == 0 || strcmp(dataset, "cosine") == 0)
	{
		bool		cosine = dataset[0] == 'c';

		if (cosine)
		{
			if (!n_given)
				ap.n = 200000;
			if (!dim_given)
				ap.dim = 768;
			ap.normalise = true;
		}
		metric = cosine ? METRIC_COSINE : METRIC_L2;
		snprintf(name, sizeof(name), "%s-n%lld-d%d-a%g-s%g-c%d-z%g-seed%llu",
				 dataset, (long long) ap.n, ap.dim, ap.alpha, ap.spread,
				 ap.centres, ap.zipf, (unsigned long long) ap.seed);
	}
	else
		die("data: unknown data set \"%s\" (fashion-mnist, aniso, cosine)", dataset);

	snprintf(base_path, sizeof(base_path), "%s/%s.base.f32", dir, name);
	snprintf(queries_path, sizeof(queries_path), "%s/%s.q%d.f32", dir, name, ap.nq);
	snprintf(gt_path, sizeof(gt_path), "%s/%s.q%d.gt%d-%s.bin", dir, name, ap.nq, k,
			 metric_name(metric));

	if (!file_exists(base_path) || !file_exists(queries_path))
	{
		t0 = now_seconds();
		if (metric == METRIC_L2 && dataset[0] == 'f')
		{
			fmnist_load(FMNIST_DIR "/train-images-idx3-ubyte.gz", ap.n, &base);
			fmnist_load(FMNIST_DIR "/t10k-images-idx3-ubyte.gz", ap.nq, &queries);
		}
		else
			aniso_generate(&ap, &base, &queries);
		matrix_save(base_path, &base);
		matrix_save(queries_path, &queries);
		fprintf(stderr, "ivfbench: made %s (%lld x %d) and %d queries in %.1f s\n",
				name, (long long) base.n, base.dim, (int) queries.n, now_seconds() - t0);
	}
	if (base.x == NULL)
	{
		/* dimensions for the caller, from the header alone */
		FILE	   *f = fopen(base_path, "rb");
		int32_t		d;

		if (f == NULL || fseek(f, 16, SEEK_SET) != 0 || fread(&d, 4, 1, f) != 1)
			die("data: could not read \"%s\"", base_path);
		fclose(f);
		base.dim = d;
		base.n = ap.n;
	}

	printf("NAME=%s\nBASE=%s\nQUERIES=%s\nGT_CACHE=%s\nMETRIC=%s\nDIM=%d\nROWS=%lld\nNQ=%d\n",
		   name, base_path, queries_path, gt_path, metric_name(metric), base.dim,
		   (long long) base.n, ap.nq);
	matrix_free(&base);
	matrix_free(&queries);
	return 0;
}

/*
 * ivfbench concat --out F [--take N] IN [--take N] IN ...: the first N rows
 * (all by default) of each input, one after the other (bench/maint builds
 * a base plus drifted inserts from two generated sets).
 */
static int
cmd_concat(int argc, char **argv)
{
	const char *out = NULL;
	int64_t		take = -1;
	FloatMatrix all = {0, 0, NULL};

	for (int i = 0; i < argc; i++)
	{
		FloatMatrix m;
		int64_t		n;

		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
		{
			out = argv[++i];
			continue;
		}
		if (strcmp(argv[i], "--take") == 0 && i + 1 < argc)
		{
			take = atoll(argv[++i]);
			continue;
		}
		if (!matrix_load(argv[i], &m))
			die("concat: cannot read \"%s\"", argv[i]);
		if (all.dim != 0 && m.dim != all.dim)
			die("concat: \"%s\" has %d dimensions, not %d", argv[i], m.dim, all.dim);
		n = take >= 0 && take < m.n ? take : m.n;
		all.dim = m.dim;
		all.x = realloc(all.x, sizeof(float) * all.dim * (all.n + n));
		if (all.x == NULL)
			die("out of memory");
		memcpy(all.x + all.n * all.dim, m.x, sizeof(float) * all.dim * n);
		all.n += n;
		matrix_free(&m);
		take = -1;
	}
	if (out == NULL || all.n == 0)
		die("concat: --out and at least one input are required");
	matrix_save(out, &all);
	printf("%lld\n", (long long) all.n);
	matrix_free(&all);
	return 0;
}

/*
 * ivfbench gt --base F --queries F --out F [--metric l2] [--k 10]
 *		[--threads T] [--cache F]
 *
 * Compute the exact top-k of every query (threads: one per CPU by default)
 * and write it to --out.  With --cache: when that file exists, compare the
 * fresh result with it (a difference means a stale or wrong cache: the
 * fresh result is the one to use); when it does not, save the fresh result
 * there for later runs to compare against.  Prints shell assignments:
 * GT (the --out file), GT_SECONDS (the computation alone), GT_THREADS and
 * GT_CHECK (none, saved, same, or a sentence starting "DIFFERS").
 */
static int
cmd_gt(int argc, char **argv)
{
	const char *base_path = NULL,
			   *queries_path = NULL,
			   *out = NULL,
			   *cache = NULL;
	BenchMetric metric = METRIC_L2;
	int			k = 10;
	int			nthreads = 0;
	MappedMatrix mbase = {0};
	FloatMatrix base,
				queries;
	GroundTruth gt;
	double		t0,
				t_read,
				t_gt;
	char		check[256] = "none";

	for (int i = 0; i < argc; i += 2)
	{
		if (i + 1 >= argc)
			die("gt: %s needs a value", argv[i]);
		if (strcmp(argv[i], "--base") == 0)
			base_path = argv[i + 1];
		else if (strcmp(argv[i], "--queries") == 0)
			queries_path = argv[i + 1];
		else if (strcmp(argv[i], "--out") == 0)
			out = argv[i + 1];
		else if (strcmp(argv[i], "--metric") == 0)
			metric = metric_parse(argv[i + 1]);
		else if (strcmp(argv[i], "--k") == 0)
			k = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--threads") == 0)
			nthreads = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--cache") == 0)
			cache = argv[i + 1];
		else
			die("gt: unknown option %s", argv[i]);
	}
	if (!base_path || !queries_path || !out || k < 1)
		die("gt: --base, --queries and --out are required");
	t0 = now_seconds();
	/* the base mapped, not copied: the computation reads every row once */
	if (!matrix_map(base_path, &mbase) || !matrix_load(queries_path, &queries))
		die("gt: cannot read the inputs");
	base.n = mbase.n;
	base.dim = mbase.dim;
	base.x = (float *) mbase.x;
	t_read = now_seconds() - t0;
	t0 = now_seconds();
	nthreads = groundtruth_compute(&base, &queries, metric, k, nthreads, &gt);
	t_gt = now_seconds() - t0;
	groundtruth_save(out, &gt);
	fprintf(stderr, "ivfbench: exact top-%d of %d queries over %lld x %d in %.2f s "
			"(%d threads, sgemm; inputs read in %.2f s)\n",
			k, gt.nq, (long long) base.n, base.dim, t_gt, nthreads, t_read);

	if (cache != NULL && file_exists(cache))
	{
		GroundTruth old;
		int			ties,
					differ;

		if (!groundtruth_load(cache, &old))
			die("gt: could not read \"%s\"", cache);
		differ = groundtruth_compare(&gt, &old, &base, &queries, metric, &ties);
		if (differ < 0)
			snprintf(check, sizeof(check),
					 "DIFFERS: the cached file has %d queries x top-%d, this run %d x %d",
					 old.nq, old.k, gt.nq, gt.k);
		else if (differ == 0)
			snprintf(check, sizeof(check), "same");
		else
			snprintf(check, sizeof(check),
					 "DIFFERS: the ids of %d of %d queries (%d of them only among equally distant rows)",
					 differ, gt.nq, ties);
		free(old.ids);
		free(old.dist);
	}
	else if (cache != NULL)
	{
		groundtruth_save(cache, &gt);
		snprintf(check, sizeof(check), "saved");
	}
	if (strcmp(check, "none") != 0)
		fprintf(stderr, "ivfbench: against the cached %s: %s\n", cache, check);

	printf("GT=%s\nGT_SECONDS=%.2f\nGT_THREADS=%d\nGT_CHECK='%s'\n",
		   out, t_gt, nthreads, check);
	free(gt.ids);
	free(gt.dist);
	matrix_unmap(&mbase);
	matrix_free(&queries);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "data") == 0)
		return cmd_data(argc - 2, argv + 2);
	if (strcmp(argv[1], "load") == 0)
		return cmd_load(argc - 2, argv + 2);
	if (strcmp(argv[1], "exec") == 0)
		return cmd_exec(argc - 2, argv + 2);
	if (strcmp(argv[1], "query") == 0)
		return cmd_query(argc - 2, argv + 2);
	if (strcmp(argv[1], "concat") == 0)
		return cmd_concat(argc - 2, argv + 2);
	if (strcmp(argv[1], "gt") == 0)
		return cmd_gt(argc - 2, argv + 2);
	usage();
}
