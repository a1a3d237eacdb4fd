/*
 * pgclient.c
 *	  The libpq side of the benchmark: binary COPY of a vector file into a
 *	  table, timed statements (index builds), and the query client (one
 *	  connection, prepared statement returning ids only, warm-up pass, timed
 *	  pass, recall@k against the exact ground truth).
 *
 * Connection parameters come from the environment (PGHOST, PGPORT, ...),
 * which bench/ivf/run.sh points at its throwaway cluster.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ivfbench.h"

#define COPY_BUFFER_SIZE	(1 << 20)
#define MAX_SETTINGS		32

static PGconn *
connect_or_die(void)
{
	PGconn	   *conn = PQconnectdb("");

	if (PQstatus(conn) != CONNECTION_OK)
		die("connection failed: %s", PQerrorMessage(conn));
	return conn;
}

static void
exec_or_die(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		die("%s\n  statement: %s", PQerrorMessage(conn), sql);
	PQclear(res);
}

/* the operator of ORDER BY for a metric */
static const char *
metric_operator(BenchMetric m)
{
	switch (m)
	{
		case METRIC_L2:
			return "<->";
		case METRIC_IP:
			return "<#>";
		default:
			return "<=>";
	}
}

/* Append n bytes to the COPY buffer, flushing it to the server when full. */
typedef struct CopyBuffer
{
	PGconn	   *conn;
	char	   *data;
	size_t		len;
} CopyBuffer;

static void
copy_flush(CopyBuffer *cb)
{
	if (cb->len > 0 && PQputCopyData(cb->conn, cb->data, (int) cb->len) != 1)
		die("COPY failed: %s", PQerrorMessage(cb->conn));
	cb->len = 0;
}

static void
copy_append(CopyBuffer *cb, const void *p, size_t n)
{
	if (cb->len + n > COPY_BUFFER_SIZE)
		copy_flush(cb);
	memcpy(cb->data + cb->len, p, n);
	cb->len += n;
}

static void
copy_int16(CopyBuffer *cb, int16_t v)
{
	uint16_t	n = htons((uint16_t) v);

	copy_append(cb, &n, 2);
}

static void
copy_int32(CopyBuffer *cb, int32_t v)
{
	uint32_t	n = htonl((uint32_t) v);

	copy_append(cb, &n, 4);
}

static void
copy_float4(CopyBuffer *cb, float f)
{
	uint32_t	u;

	memcpy(&u, &f, 4);
	copy_int32(cb, (int32_t) u);
}

/*
 * ivfbench load --file F [--table T]
 *	  (Re)create T (id int, v vector(dim)) and fill it with the rows of F
 *	  through COPY FROM STDIN (FORMAT binary); row i gets id i.  Prints the
 *	  rows and the seconds taken.
 */
int
cmd_load(int argc, char **argv)
{
	const char *file = NULL;
	const char *table = "items";
	FloatMatrix m;
	PGconn	   *conn;
	PGresult   *res;
	CopyBuffer	cb;
	char		sql[512];
	double		t0;
	static const char signature[11] = "PGCOPY\n\377\r\n\0";

	for (int i = 0; i < argc; i++)
	{
		if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc)
			table = argv[++i];
		else
			die("load: unknown argument \"%s\"", argv[i]);
	}
	if (file == NULL)
		die("load: --file is required");
	if (!matrix_load(file, &m))
		die("load: could not open \"%s\"", file);

	conn = connect_or_die();
	t0 = now_seconds();
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", table);
	exec_or_die(conn, sql);
	snprintf(sql, sizeof(sql), "CREATE TABLE %s (id int, v vector(%d))", table, m.dim);
	exec_or_die(conn, sql);
	snprintf(sql, sizeof(sql), "COPY %s (id, v) FROM STDIN (FORMAT binary)", table);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN)
		die("%s", PQerrorMessage(conn));
	PQclear(res);

	cb.conn = conn;
	cb.data = xmalloc(COPY_BUFFER_SIZE);
	cb.len = 0;
	/* header: signature, flags, header extension length */
	copy_append(&cb, signature, sizeof(signature));
	copy_int32(&cb, 0);
	copy_int32(&cb, 0);
	for (int64_t r = 0; r < m.n; r++)
	{
		const float *x = m.x + r * m.dim;

		copy_int16(&cb, 2);		/* fields */
		copy_int32(&cb, 4);
		copy_int32(&cb, (int32_t) r);
		/* vector: int16 dim, int16 unused (0), dim x float4 */
		copy_int32(&cb, 4 + 4 * m.dim);
		copy_int16(&cb, (int16_t) m.dim);
		copy_int16(&cb, 0);
		for (int i = 0; i < m.dim; i++)
			copy_float4(&cb, x[i]);
	}
	copy_int16(&cb, -1);		/* trailer */
	copy_flush(&cb);
	if (PQputCopyEnd(conn, NULL) != 1)
		die("COPY failed: %s", PQerrorMessage(conn));
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("COPY failed: %s", PQerrorMessage(conn));
		PQclear(res);
	}
	printf("%lld\t%.3f\n", (long long) m.n, now_seconds() - t0);

	free(cb.data);
	matrix_free(&m);
	PQfinish(conn);
	return 0;
}

static double backend_cpu_seconds(int pid);

/*
 * ivfbench exec [--cpu] SQL...
 *	  Run the statements in order on one connection; print each one's
 *	  wall-clock seconds on its own line.  With --cpu, also the CPU seconds
 *	  the server backend spent on it ("wall cpu"; cpu "-" when the server
 *	  is not local): steadier than wall-clock time on a shared machine.
 */
int
cmd_exec(int argc, char **argv)
{
	PGconn	   *conn = connect_or_die();
	bool		cpu = argc > 0 && strcmp(argv[0], "--cpu") == 0;
	int			pid = 0;

	if (cpu)
	{
		PGresult   *res = PQexec(conn, "SELECT pg_backend_pid()");

		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			pid = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
		argc--;
		argv++;
	}
	for (int i = 0; i < argc; i++)
	{
		double		t0 = now_seconds();
		double		c0 = cpu ? backend_cpu_seconds(pid) : -1;

		exec_or_die(conn, argv[i]);
		if (!cpu)
			printf("%.3f\n", now_seconds() - t0);
		else if (c0 < 0)
			printf("%.3f -\n", now_seconds() - t0);
		else
			printf("%.3f %.3f\n", now_seconds() - t0,
				   backend_cpu_seconds(pid) - c0);
		fflush(stdout);
	}
	PQfinish(conn);
	return 0;
}

static int
double_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* nearest-rank percentile of sorted values */
static double
percentile(const double *sorted, int n, double p)
{
	int			i = (int) ceil(p * n) - 1;

	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return sorted[i];
}

/* The first plan node of EXPLAIN, with spaces turned into underscores. */
static char *
explain_first_node(PGconn *conn, const char *sql, Oid vec_oid,
				   const char *param, int param_len)
{
	char		buf[1024];
	PGresult   *res;
	const char *values[1] = {param};
	int			lengths[1] = {param_len};
	int			formats[1] = {1};
	char	   *plan = NULL;

	snprintf(buf, sizeof(buf), "EXPLAIN (COSTS off) %s", sql);
	res = PQexecParams(conn, buf, 1, &vec_oid, values, lengths, formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die("%s", PQerrorMessage(conn));

	/* the first node below Limit: "Index Scan using ...", "Sort", ... */
	for (int r = 0; r < PQntuples(res) && plan == NULL; r++)
	{
		const char *line = PQgetvalue(res, r, 0);

		while (*line == ' ' || *line == '-' || *line == '>')
			line++;
		if (strncmp(line, "Limit", 5) != 0)
			plan = strdup(line);
	}
	PQclear(res);
	if (plan == NULL)
		plan = strdup("?");
	for (char *p = plan; *p; p++)
		if (*p == ' ' || *p == '\t')
			*p = '_';
	return plan;
}

/*
 * ivfbench query --queries F --gt F [--base F] [--metric l2|ip|cosine]
 *				  [--table T] [--nq N] [--warmup N] [--set name=value]...
 *				  [--repeat R] [--dump FILE] [--require-index]
 *	  One connection: apply the settings, PREPARE the k-NN query, run the
 *	  first `warmup` queries untimed, then the first N queries timed, one at
 *	  a time, R times (default 1); the fastest of the R passes is reported.  Prints one tab-separated line:
 *		recall  qps  p50_ms  p99_ms  mean_ms  nq  short  plan  cpu_qps
 *	  where short counts queries that returned fewer than k rows and plan is
 *	  the first plan node under Limit (to spot a planner that skipped the
 *	  index).  With --base, a returned row at exactly the k-th true distance
 *	  counts as a hit (ties in the data, e.g. duplicate images).  --dump
 *	  writes one line per timed query: number, latency ms, hits, rows.
 *	  --require-index: when the plan is not an index scan, print just the
 *	  plan node and exit with status 3 instead of timing anything.
 *	  cpu_qps = queries per second of CPU time of the server backend (from
 *	  /proc/<pid>/schedstat; best pass; "-" when the server is not local):
 *	  steadier than wall-clock QPS on a machine shared with other work.
 *	  --floor ids|dist: instead of the k-NN query, what just returning the
 *	  answer costs, with the same client: the exact top-k ids of each query
 *	  looked up through a btree on id (`WHERE id = ANY($2)`, the caller
 *	  creates the index); "dist" also computes and sorts by the distance to
 *	  the query, which the k-NN query's executor does for the rows it
 *	  returns whatever the index did.  Recall must come out 1.
 */
/* CPU seconds a local process has run (-1 when unknown) */
static double
backend_cpu_seconds(int pid)
{
	char		path[64];
	FILE	   *f;
	unsigned long long ns;
	int			ok;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	ok = fscanf(f, "%llu", &ns) == 1;
	fclose(f);
	return ok ? ns / 1e9 : -1;
}

int
cmd_query(int argc, char **argv)
{
	const char *queries_path = NULL,
			   *gt_path = NULL,
			   *base_path = NULL,
			   *dump_path = NULL,
			   *table = "items";
	BenchMetric metric = METRIC_L2;
	int			nq = -1,
				warmup = -1,
				repeat = 1;
	const char *settings[MAX_SETTINGS];
	int			nsettings = 0;
	FloatMatrix queries;
	GroundTruth gt;
	MappedMatrix base = {0};
	bool		have_base = false;
	bool		require_index = false;
	const char *floor_mode = NULL;
	char	  **id_params = NULL;
	PGconn	   *conn;
	PGresult   *res;
	Oid			vec_oid;
	char		sql[512];
	char	  **params;
	int			param_len;
	int32_t    *got;
	int		   *ngot;
	double	   *lat,
			   *pass_lat;
	double		total = 0,
				t0,
				mean = 0,
				cpu0,
				cpu,
				best_cpu = -1;
	int			backend_pid = 0;
	char		cpu_qps[32];
	int64_t		hits = 0;
	int		   *qhits;
	FILE	   *dump = NULL;
	int			short_results = 0;
	char	   *plan;
	int			k;

	for (int i = 0; i < argc; i++)
	{
		if (strcmp(argv[i], "--queries") == 0 && i + 1 < argc)
			queries_path = argv[++i];
		else if (strcmp(argv[i], "--gt") == 0 && i + 1 < argc)
			gt_path = argv[++i];
		else if (strcmp(argv[i], "--base") == 0 && i + 1 < argc)
			base_path = argv[++i];
		else if (strcmp(argv[i], "--metric") == 0 && i + 1 < argc)
			metric = metric_parse(argv[++i]);
		else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc)
			table = argv[++i];
		else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc)
			dump_path = argv[++i];
		else if (strcmp(argv[i], "--require-index") == 0)
			require_index = true;
		else if (strcmp(argv[i], "--floor") == 0 && i + 1 < argc)
		{
			floor_mode = argv[++i];
			if (strcmp(floor_mode, "ids") != 0 && strcmp(floor_mode, "dist") != 0)
				die("query: --floor wants ids or dist, not \"%s\"", floor_mode);
		}
		else if (strcmp(argv[i], "--nq") == 0 && i + 1 < argc)
			nq = atoi(argv[++i]);
		else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
			warmup = atoi(argv[++i]);
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc)
		{
			if (nsettings == MAX_SETTINGS)
				die("query: too many --set");
			settings[nsettings++] = argv[++i];
		}
		else
			die("query: unknown argument \"%s\"", argv[i]);
	}
	if (queries_path == NULL || gt_path == NULL)
		die("query: --queries and --gt are required");
	if (!matrix_load(queries_path, &queries))
		die("query: could not open \"%s\"", queries_path);
	if (!groundtruth_load(gt_path, &gt))
		die("query: could not open \"%s\"", gt_path);
	if (base_path != NULL)
	{
		if (!matrix_map(base_path, &base))
			die("query: could not open \"%s\"", base_path);
		if (base.dim != queries.dim)
			die("query: base and queries differ in dimensions");
		have_base = true;
	}
	k = gt.k;
	if (nq < 0 || nq > gt.nq)
		nq = gt.nq;
	if (nq > queries.n)
		nq = (int) queries.n;
	if (nq <= 0)
		die("query: no queries");
	if (warmup < 0 || warmup > nq)
		warmup = nq;
	if (repeat < 1)
		repeat = 1;

	conn = connect_or_die();
	res = PQexec(conn, "SELECT pg_backend_pid()");
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		backend_pid = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	for (int i = 0; i < nsettings; i++)
	{
		const char *eq = strchr(settings[i], '=');

		if (eq == NULL)
			die("query: --set wants name=value, not \"%s\"", settings[i]);
		snprintf(sql, sizeof(sql), "SET %.*s = '%s'", (int) (eq - settings[i]),
				 settings[i], eq + 1);
		exec_or_die(conn, sql);
	}

	res = PQexec(conn, "SELECT 'vector'::regtype::oid");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die("type vector not found: %s", PQerrorMessage(conn));
	vec_oid = (Oid) strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);

	/* binary vector parameters: int16 dim, int16 0, dim x float4 */
	param_len = 4 + 4 * queries.dim;
	params = xmalloc(sizeof(char *) * nq);
	for (int q = 0; q < nq; q++)
	{
		char	   *p = xmalloc(param_len);
		uint16_t	h[2] = {htons((uint16_t) queries.dim), 0};
		const float *x = queries.x + (int64_t) q * queries.dim;

		memcpy(p, h, 4);
		for (int i = 0; i < queries.dim; i++)
		{
			uint32_t	u;

			memcpy(&u, &x[i], 4);
			u = htonl(u);
			memcpy(p + 4 + 4 * i, &u, 4);
		}
		params[q] = p;
	}

	if (floor_mode != NULL)
	{
		/* $2: the exact top-k ids of each query, as an int4[] literal */
		id_params = xmalloc(sizeof(char *) * nq);
		for (int q = 0; q < nq; q++)
		{
			char	   *p = xmalloc(16 * k + 3);
			int			len = 0;

			p[len++] = '{';
			for (int j = 0; j < k; j++)
				len += sprintf(p + len, "%s%d", j ? "," : "", gt.ids[(int64_t) q * k + j]);
			p[len++] = '}';
			p[len] = '\0';
			id_params[q] = p;
		}
		if (strcmp(floor_mode, "ids") == 0)
			snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE id = ANY($2::int4[])",
					 table);
		else
			snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE id = ANY($2::int4[]) ORDER BY v %s $1",
					 table, metric_operator(metric));
		plan = strdup(floor_mode);
	}
	else
	{
		snprintf(sql, sizeof(sql), "SELECT id FROM %s ORDER BY v %s $1 LIMIT %d",
				 table, metric_operator(metric), k);
		plan = explain_first_node(conn, sql, vec_oid, params[0], param_len);
	}
	if (require_index && strncmp(plan, "Index_Scan", 10) != 0)
	{
		/* don't spend minutes timing a sequential scan by mistake */
		printf("%s\n", plan);
		PQfinish(conn);
		exit(3);
	}
	{
		Oid			types[2] = {vec_oid, 1007};	/* vector, int4[] */

		res = PQprepare(conn, "knn", sql, floor_mode ? 2 : 1, types);
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("PREPARE failed: %s", PQerrorMessage(conn));
	PQclear(res);

	got = xmalloc(sizeof(int32_t) * nq * k);
	ngot = xmalloc(sizeof(int) * nq);
	lat = xmalloc(sizeof(double) * nq);
	pass_lat = xmalloc(sizeof(double) * nq);
	qhits = calloc(nq, sizeof(int));
	/* pass 0 warms up; of the timed passes 1..repeat, the fastest counts */
	for (int pass = 0; pass <= repeat; pass++)
	{
		int			n = pass == 0 ? warmup : nq;
		double		elapsed;

		cpu0 = backend_cpu_seconds(backend_pid);
		t0 = now_seconds();
		for (int q = 0; q < n; q++)
		{
			const char *values[2] = {params[q], id_params ? id_params[q] : NULL};
			int			lengths[2] = {param_len, 0};
			int			formats[2] = {1, 0};
			double		q0 = now_seconds();
			int			rows;

			res = PQexecPrepared(conn, "knn", id_params ? 2 : 1, values, lengths, formats, 1);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				die("query %d failed: %s", q, PQerrorMessage(conn));
			rows = PQntuples(res);
			if (rows > k)
				rows = k;
			for (int r = 0; r < rows; r++)
			{
				uint32_t	u;

				memcpy(&u, PQgetvalue(res, r, 0), 4);
				got[(int64_t) q * k + r] = (int32_t) ntohl(u);
			}
			ngot[q] = rows;
			PQclear(res);
			pass_lat[q] = now_seconds() - q0;
		}
		elapsed = now_seconds() - t0;
		cpu = backend_cpu_seconds(backend_pid) - cpu0;
		if (pass > 0 && cpu0 >= 0 && (best_cpu < 0 || cpu < best_cpu))
			best_cpu = cpu;
		if (pass > 0 && (pass == 1 || elapsed < total))
		{
			total = elapsed;
			memcpy(lat, pass_lat, sizeof(double) * nq);
		}
	}

	for (int q = 0; q < nq; q++)
	{
		const int32_t *truth = gt.ids + (int64_t) q * k;
		double		kth = gt.dist[(int64_t) q * k + k - 1];

		if (ngot[q] < k)
			short_results++;
		for (int r = 0; r < ngot[q]; r++)
		{
			int32_t		id = got[(int64_t) q * k + r];
			bool		hit = false;
			bool		dup = false;

			/* a duplicate id in the answer would be a bug: count it once */
			for (int p = 0; p < r && !dup; p++)
				dup = got[(int64_t) q * k + p] == id;
			if (dup)
				continue;
			for (int j = 0; j < k && !hit; j++)
				hit = truth[j] == id;
			if (!hit && have_base && id >= 0 && id < base.n)
			{
				double		d = metric_distance(metric,
												queries.x + (int64_t) q * queries.dim,
												base.x + (int64_t) id * base.dim,
												base.dim);

				hit = d <= kth + 1e-9 * fabs(kth);
			}
			if (hit)
				qhits[q]++;
		}
	}
	if (dump_path != NULL && (dump = fopen(dump_path, "w")) == NULL)
		die("could not create \"%s\"", dump_path);
	for (int q = 0; q < nq; q++)
	{
		hits += qhits[q];
		mean += lat[q];
		if (dump != NULL)
			fprintf(dump, "%d\t%.3f\t%d\t%d\n", q, lat[q] * 1e3, qhits[q], ngot[q]);
	}
	if (dump != NULL)
		fclose(dump);
	mean /= nq;
	qsort(lat, nq, sizeof(double), double_cmp);

	if (best_cpu > 0)
		snprintf(cpu_qps, sizeof(cpu_qps), "%.1f", nq / best_cpu);
	else
		strcpy(cpu_qps, "-");
	printf("%.4f\t%.1f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%s\t%s\n",
		   (double) hits / ((double) nq * k), nq / total,
		   percentile(lat, nq, 0.50) * 1e3, percentile(lat, nq, 0.99) * 1e3,
		   mean * 1e3, nq, short_results, plan, cpu_qps);

	PQfinish(conn);
	if (have_base)
		matrix_unmap(&base);
	for (int q = 0; q < nq; q++)
	{
		free(params[q]);
		if (id_params)
			free(id_params[q]);
	}
	free(params);
	free(id_params);
	free(plan);
	free(got);
	free(ngot);
	free(lat);
	free(pass_lat);
	free(qhits);
	matrix_free(&queries);
	return 0;
}
