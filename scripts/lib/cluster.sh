# shellcheck shell=bash
# Throwaway PostgreSQL clusters for tests and demos; sourced by test/run and
# scripts/demo.sh.
#
#   cluster_create [NAME]  make a temp dir owned by the cluster user and initdb
#   cluster_start          start it on a free port, unix socket only
#   cluster_env            export PGHOST/PGPORT/PGUSER (and unset the rest)
#   cluster_psql ARGS...   psql -X against it
#   cluster_log_tail [N]   print the last N lines of the server log
#   cluster_stop           stop it (fast, then immediate)
#   cluster_destroy        stop and remove the temp dir (unless LANCEDB_KEEP_TMP=1)
#   cluster_as CMD...      run CMD as the cluster user, from a dir it can read
#
# After cluster_create: CLUSTER_DIR (the temp dir), CLUSTER_DATA, CLUSTER_SOCK
# (socket dir = PGHOST), CLUSTER_LOG, CLUSTER_USER (OS user = superuser name);
# after cluster_start: CLUSTER_PORT.
#
# initdb refuses to run as root, so as root the cluster belongs to the
# `postgres` system user (created by the postgresql package), or to a
# `lancedb_test` user created on demand.  Nothing here makes that user read
# the caller's working tree, which may not be readable by it.

CLUSTER_BINDIR=${CLUSTER_BINDIR:-}
CLUSTER_DIR='' CLUSTER_DATA='' CLUSTER_SOCK='' CLUSTER_LOG='' CLUSTER_PORT='' CLUSTER_USER=''

_cluster_say() { printf '%s\n' "cluster: $*" >&2; }

# Pick (and if need be create) the non-root OS user that owns test clusters.
cluster_pick_user() {
	if [ -n "${CLUSTER_USER:-}" ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		CLUSTER_USER=$(id -un)
	elif id -u postgres >/dev/null 2>&1; then
		CLUSTER_USER=postgres
	else
		if ! id -u lancedb_test >/dev/null 2>&1; then
			useradd --system --user-group --no-create-home \
				--home-dir /nonexistent --shell /usr/sbin/nologin lancedb_test ||
				{ _cluster_say "could not create user lancedb_test"; return 1; }
		fi
		CLUSTER_USER=lancedb_test
	fi
}

# cluster_as CMD...: run CMD as CLUSTER_USER.  The environment is kept; the
# working directory is switched to one that user can read (PostgreSQL
# programs call getcwd() and fail in a directory they cannot search).
cluster_as() {
	local dir=${CLUSTER_AS_CWD:-${CLUSTER_DIR:-/}}
	if [ "$(id -u)" -eq 0 ] && [ "$CLUSTER_USER" != root ]; then
		(cd "$dir" && runuser -u "$CLUSTER_USER" -- "$@")
	else
		(cd "$dir" && "$@")
	fi
}

# cluster_mktemp PREFIX: a new temp dir (0700) owned by CLUSTER_USER; prints it.
# Under /tmp (not $TMPDIR, which may be private to root) and kept short,
# because unix socket paths are limited to ~107 bytes.
cluster_mktemp() {
	local d
	cluster_pick_user || return 1
	d=$(mktemp -d "${LANCEDB_TMP_ROOT:-/tmp}/${1:-lancedb}.XXXXXX") || return 1
	if [ "$(id -u)" -eq 0 ]; then
		chown "$CLUSTER_USER:" "$d" || { rm -rf "$d"; return 1; }
	fi
	chmod 700 "$d"
	printf '%s\n' "$d"
}

# Every local TCP port in use (any state), one decimal a line.
_cluster_used_ports() {
	local f
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] || continue
		awk 'NR > 1 { split($2, a, ":"); print a[2] }' "$f"
	done | while read -r hex; do printf '%d\n' "0x$hex"; done | sort -un
}

# cluster_free_port: print a TCP port nobody listens on or is connected from.
cluster_free_port() {
	local used port
	used=$(_cluster_used_ports)
	for _ in $(seq 1 200); do
		port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))
		if ! grep -qx "$port" <<<"$used"; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	return 1
}

# The server's bin dir (initdb, pg_ctl, psql), from $PG_CONFIG or pg_config.
# Looked up lazily: on a fresh machine pg_config appears only after
# scripts/install-deps.sh has run.
cluster_bindir() {
	if [ -z "$CLUSTER_BINDIR" ]; then
		CLUSTER_BINDIR=$("${PG_CONFIG:-pg_config}" --bindir 2>/dev/null) || CLUSTER_BINDIR=
	fi
	[ -n "$CLUSTER_BINDIR" ] && [ -x "$CLUSTER_BINDIR/initdb" ]
}

cluster_create() {
	local name=${1:-lancedb-pg}
	cluster_bindir || true
	if [ -z "$CLUSTER_BINDIR" ] || [ ! -x "$CLUSTER_BINDIR/initdb" ]; then
		_cluster_say "initdb not found (pg_config --bindir = '${CLUSTER_BINDIR}'); is postgresql-15 installed?"
		return 1
	fi
	cluster_pick_user || return 1
	CLUSTER_DIR=$(cluster_mktemp "$name") || { _cluster_say "could not create a temp dir"; return 1; }
	CLUSTER_DATA=$CLUSTER_DIR/data
	CLUSTER_SOCK=$CLUSTER_DIR/sock
	CLUSTER_LOG=$CLUSTER_DIR/log/postgresql.log
	cluster_as mkdir -p "$CLUSTER_SOCK" "$CLUSTER_DIR/log" || return 1
	if ! cluster_as "$CLUSTER_BINDIR/initdb" -D "$CLUSTER_DATA" -A trust -E UTF8 \
		--locale=C --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1; then
		_cluster_say "initdb failed:"
		cat "$CLUSTER_DIR/initdb.log" >&2
		return 1
	fi
	# Settings for a disposable test server: no TCP, socket in our temp dir,
	# durability off (crash-safety is exercised by the TAP tests, which run
	# their own clusters), logs kept in $CLUSTER_DIR/log.
	cluster_as tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null <<-CONF

	# --- added by scripts/lib/cluster.sh (throwaway test cluster) ---
	listen_addresses = ''
	unix_socket_directories = '$CLUSTER_SOCK'
	max_connections = 50
	shared_buffers = 128MB
	fsync = off
	synchronous_commit = off
	full_page_writes = off
	max_wal_size = 1GB
	checkpoint_timeout = 30min
	autovacuum_naptime = 1s
	lc_messages = 'C'
	log_line_prefix = '%m [%p] %q%a '
	log_min_messages = warning
	log_min_error_statement = error
	log_checkpoints = off
	restart_after_crash = on
	CONF
}

cluster_start() {
	local try port
	[ -n "$CLUSTER_DATA" ] || { _cluster_say "cluster_start before cluster_create"; return 1; }
	# (the server must not inherit the caller's extra fds, e.g. a CI log pipe
	# saved by test/run, or whoever reads that pipe waits for it)
	for try in 1 2 3 4 5; do
		port=$(cluster_free_port) || { _cluster_say "no free TCP port found"; return 1; }
		if cluster_as "$CLUSTER_BINDIR/pg_ctl" -D "$CLUSTER_DATA" -l "$CLUSTER_LOG" \
			-o "-p $port" -w -t 60 start >"$CLUSTER_DIR/pg_ctl.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; then
			CLUSTER_PORT=$port
			return 0
		fi
		_cluster_say "server did not start on port $port (try $try):"
		cat "$CLUSTER_DIR/pg_ctl.log" >&2
		cluster_log_tail 20
	done
	return 1
}

cluster_env() {
	export PGHOST=$CLUSTER_SOCK PGPORT=$CLUSTER_PORT PGUSER=$CLUSTER_USER
	export PGDATABASE=${PGDATABASE_OVERRIDE:-postgres}
	unset PGHOSTADDR PGSERVICE PGSERVICEFILE PGPASSWORD PGPASSFILE PGOPTIONS \
		PGSSLMODE PGCONNECT_TIMEOUT PGAPPNAME PGCLIENTENCODING
}

cluster_psql() {
	"$CLUSTER_BINDIR/psql" -X -v ON_ERROR_STOP=1 -h "$CLUSTER_SOCK" -p "$CLUSTER_PORT" \
		-U "$CLUSTER_USER" "$@"
}

cluster_log_tail() {
	local n=${1:-50}
	if [ -n "$CLUSTER_LOG" ] && [ -f "$CLUSTER_LOG" ]; then
		echo "----- last $n lines of the server log ($CLUSTER_LOG) -----"
		tail -n "$n" "$CLUSTER_LOG"
		echo "----- end of server log -----"
	fi
}

# cluster_log_report [N]: server crashes/assertion failures/PANICs from the
# whole log (expected ERRORs of the tests are not interesting), then the tail.
cluster_log_report() {
	local n=${1:-40}
	[ -n "$CLUSTER_LOG" ] && [ -f "$CLUSTER_LOG" ] || return 0
	if grep -q -E 'PANIC|TRAP:|terminated by signal|was terminated|exited with exit code|WARNING: .*leak' "$CLUSTER_LOG"; then
		echo "----- server crashes / PANICs / leaks in $CLUSTER_LOG -----"
		grep -E -A2 'PANIC|TRAP:|terminated by signal|was terminated|exited with exit code|WARNING: .*leak' "$CLUSTER_LOG" | head -n 60
	fi
	cluster_log_tail "$n"
}

cluster_running() {
	[ -n "$CLUSTER_DATA" ] && [ -f "$CLUSTER_DATA/postmaster.pid" ]
}

cluster_stop() {
	cluster_running || return 0
	cluster_as "$CLUSTER_BINDIR/pg_ctl" -D "$CLUSTER_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
		cluster_as "$CLUSTER_BINDIR/pg_ctl" -D "$CLUSTER_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
		_cluster_say "could not stop the server in $CLUSTER_DATA"
}

# cluster_stop_all_under DIR: stop every server whose data dir lies below DIR
# (e.g. clusters left behind by an interrupted TAP test).
cluster_stop_all_under() {
	local pidfile
	[ -n "${1:-}" ] && [ -d "$1" ] || return 0
	cluster_bindir || return 0
	find "$1" -name postmaster.pid -type f 2>/dev/null | while read -r pidfile; do
		cluster_as "$CLUSTER_BINDIR/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -w -t 30 stop \
			>/dev/null 2>&1 || true
	done
}

cluster_destroy() {
	cluster_stop
	if [ -n "$CLUSTER_DIR" ] && [ -d "$CLUSTER_DIR" ]; then
		if [ "${LANCEDB_KEEP_TMP:-0}" = 1 ]; then
			_cluster_say "kept $CLUSTER_DIR (LANCEDB_KEEP_TMP=1)"
		else
			rm -rf "$CLUSTER_DIR"
		fi
	fi
	CLUSTER_DIR='' CLUSTER_DATA='' CLUSTER_SOCK='' CLUSTER_LOG='' CLUSTER_PORT=''
}
