# Sourced by .ci/run and usable by hand: starts a throwaway PostgreSQL on
# 127.0.0.1:54329 and exports OPSGUARD_TEST_POSTGRES.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDATA=$(mktemp -d /tmp/opsguard-pg.XXXXXX)
chown postgres "$PGDATA"
su postgres -s /bin/sh -c "$PGBIN/initdb -D $PGDATA -A trust -U postgres --no-sync >/dev/null"
su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGDATA -l $PGDATA/server.log -o '-p 54329 -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300' -w start >/dev/null"
export OPSGUARD_TEST_POSTGRES="postgres://postgres@127.0.0.1:54329/postgres?sslmode=disable"
pg_stop() { su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGDATA -m fast stop >/dev/null" || true; }
