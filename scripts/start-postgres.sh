#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests and benchmarks and prints its URL.
#   eval "$(scripts/start-postgres.sh)"   # exports PUSHD_TEST_POSTGRES_URL
# Installs Debian's postgresql when it is missing. Data lives in a temporary folder; the server
# listens on 127.0.0.1:$PGPORT, or the first free port from 54329, with trust auth (loopback only).
# Also sets (unexported) PUSHD_TEST_POSTGRES_STOP, a command that stops the server and deletes its data.
set -euo pipefail
port="${PGPORT:-54329}"
if [ -z "${PGPORT:-}" ]; then
  while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
fi
bin=""
for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/initdb" ] && bin="$dir"; done
if [ -z "$bin" ]; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/initdb" ] && bin="$dir"; done
fi
data="$(mktemp -d /tmp/pushd-pg.XXXXXX)"
run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$data"
run "$bin/initdb" -D "$data" -U postgres -A trust --no-sync >/dev/null
run "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data -c fsync=off -c max_connections=200" start >&2
run "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres pushd_test
echo "export PUSHD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/pushd_test"
stop="$bin/pg_ctl -D $data -m immediate stop"
[ "$(id -u)" = 0 ] && stop="runuser -u postgres -- $stop"
echo "PUSHD_TEST_POSTGRES_STOP='$stop >/dev/null 2>&1; rm -rf $data'"
