# Sourced by .ci/run and usable by hand: starts a throwaway PostgreSQL on
# loopback (the first free port from 54329) and exports OPSGUARD_TEST_POSTGRES.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDATA=$(mktemp -d /tmp/opsguard-pg.XXXXXX)
chown postgres "$PGDATA"
su postgres -s /bin/sh -c "$PGBIN/initdb -D $PGDATA -A trust -U postgres --no-sync >/dev/null"
PGPORT=""
for port in $(seq 54329 54349); do
	if su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGDATA -l $PGDATA/server.log -o '-p $port -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300' -w start >/dev/null 2>&1"; then
		PGPORT=$port
		break
	fi
done
if [ -z "$PGPORT" ]; then
	echo "pg.sh: PostgreSQL did not start:" >&2
	cat "$PGDATA/server.log" >&2
	exit 1
fi
export OPSGUARD_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable"
pg_stop() { su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGDATA -m fast stop >/dev/null" || true; }
