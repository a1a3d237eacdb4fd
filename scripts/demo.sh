#!/usr/bin/env bash
# Demo (README command 1), as root on Debian 12: installs dependencies, builds
# and installs the extension, starts a throwaway PostgreSQL 15 cluster, runs
# examples/demo.sql against it and stops it again.
#
#   LANCEDB_KEEP=1       keep the cluster running afterwards and print how to
#                        connect (stop it with the printed pg_ctl command)
#   LANCEDB_SKIP_DEPS=1  skip scripts/install-deps.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib/cluster.sh
. "$ROOT/scripts/lib/cluster.sh"

if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
	export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
say() { printf '\n== %s\n' "$*"; }

if [ "${LANCEDB_SKIP_DEPS:-0}" != 1 ]; then
	say "installing dependencies (scripts/install-deps.sh)"
	bash scripts/install-deps.sh
fi

say "building and installing the extension"
make -s -j2
make -s install

KEEP=${LANCEDB_KEEP:-0}
cleanup() {
	local rc=$?
	if [ "$KEEP" = 1 ] && [ "$rc" -eq 0 ]; then
		return
	fi
	[ "$rc" -ne 0 ] && cluster_log_tail 30 >&2
	cluster_destroy
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting a throwaway PostgreSQL cluster"
cluster_create lancedb-demo
cluster_start
cluster_env
echo "server: $("$CLUSTER_BINDIR/postgres" --version), socket dir $PGHOST, port $PGPORT"

say "psql -X -f examples/demo.sql"
"$CLUSTER_BINDIR/psql" -X -v ON_ERROR_STOP=1 -d postgres -f examples/demo.sql </dev/null

if [ "$KEEP" = 1 ]; then
	AS_USER=
	[ "$(id -u)" -eq 0 ] && AS_USER="runuser -u $CLUSTER_USER -- "
	say "cluster kept running (LANCEDB_KEEP=1)"
	cat <<-EOF
	connect:  psql -h $PGHOST -p $PGPORT -U $PGUSER postgres
	   or:    export PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER; psql postgres
	stop:     cd /tmp && ${AS_USER}$CLUSTER_BINDIR/pg_ctl -D $CLUSTER_DATA stop && rm -rf $CLUSTER_DIR
	server log: $CLUSTER_LOG
	EOF
else
	say "stopping the cluster"
fi
