#!/usr/bin/env bash
# postgres.sh — a project-local PostgreSQL cluster on 127.0.0.1, for tests and local use.
#
#   bash deploy/local/postgres.sh install|start|stop|restart|status|env
#
# install  installs Debian's `postgresql` package when no initdb is found under
#          /usr/lib/postgresql/*/bin (uses the highest version found), and links
#          pgbench, psql and pg_isready into .tools/bin
# start    installs if needed, creates the cluster in .local/postgres/data with
#          initdb on first use, starts it (as the `postgres` OS user) unless it
#          is already running and healthy, waits until it accepts connections,
#          and ensures role kb (password kb, LOGIN CREATEDB) and database kb
# stop     fast shutdown (SIGINT), then SIGQUIT, then SIGKILL after grace periods
# restart  stop then start; the data directory is kept
# status   exits 0 if the cluster started from here is running and accepting
# env      prints `export VAR=value` lines for clients
#
# Environment: KB_PG_PORT (15432), KB_PG_SOCKET (env: 1 = KB_DATABASE_URL names
# the unix socket instead of 127.0.0.1), KB_PG_START_TIMEOUT seconds (120),
# KB_PG_STOP_TIMEOUT seconds (60), KB_PG_DIR (.local/postgres: a private
# cluster's files, e.g. a test that restarts its own PostgreSQL).
# Files: .local/postgres/{data/,postgres.log,postgres.pid,run/} (owned by postgres).
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT="${KB_PG_PORT:-15432}"
valid_port KB_PG_PORT "$PG_PORT"
START_TIMEOUT="${KB_PG_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KB_PG_STOP_TIMEOUT:-60}"
PG_OS_USER="postgres"

PG_DIR="${KB_PG_DIR:-$LOCAL_DIR/postgres}"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"
PG_PID="$PG_DIR/postgres.pid"
PG_SOCK_DIR="$PG_DIR/run"
PG_DB="kb"
PG_ROLE="kb"
PG_PASSWORD="kb"
DATABASE_URL="postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"

# A unix socket path may be at most 107 bytes; fall back to a short folder in
# /tmp (unique per checkout) when the checkout's path is too long.
if [ $((${#PG_SOCK_DIR} + ${#PG_PORT} + 11)) -gt 100 ]; then
  PG_SOCK_DIR="/tmp/kb-pg-$(printf '%s' "${KB_PG_DIR:-$ROOT}" | cksum | cut -d' ' -f1)"
fi

# ---- install -----------------------------------------------------------------

# Prints the bin directory of the highest installed PostgreSQL version.
find_pg_bin() {
  local d best="" bestv=0 v
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] || continue
    v="$(basename "$(dirname "$d")")"
    case "$v" in '' | *[!0-9]*) continue ;; esac
    if [ "$v" -gt "$bestv" ]; then
      bestv="$v"
      best="$d"
    fi
  done
  [ -n "$best" ] || return 1
  printf '%s\n' "$best"
}

do_install() {
  local bin
  if ! bin="$(find_pg_bin)"; then
    [ "$(id -u)" -eq 0 ] || die "postgres: PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
    local t0 apt_log="$PG_DIR/apt.log"
    ensure_dir "$PG_DIR"
    log "postgres: installing Debian package postgresql (apt-get; output in $apt_log) ..."
    t0="$(now_s)"
    export DEBIAN_FRONTEND=noninteractive
    # Wait for the dpkg lock if another install runs at the same time.
    local lock=(-o DPkg::Lock::Timeout=600)
    apt-get "${lock[@]}" update >"$apt_log" 2>&1 || fail_with_log postgres "$apt_log" "apt-get update failed"
    apt-get "${lock[@]}" install -y --no-install-recommends postgresql >>"$apt_log" 2>&1 ||
      fail_with_log postgres "$apt_log" "apt-get install postgresql failed"
    log "postgres: installed in $(($(now_s) - t0))s"
    bin="$(find_pg_bin)" || die "postgres: no initdb under /usr/lib/postgresql/*/bin after installing postgresql"
  fi
  local tool
  for tool in postgres pg_ctl pg_isready psql pgbench; do
    [ -x "$bin/$tool" ] || die "postgres: $bin/$tool is missing (Debian ships it in postgresql-<version>)"
  done
  getent passwd "$PG_OS_USER" >/dev/null || die "postgres: OS user $PG_OS_USER does not exist (it comes with the postgresql package)"
  ensure_dir "$TOOLS_BIN"
  for tool in pgbench psql pg_isready; do
    if [ "$(readlink "$TOOLS_BIN/$tool" 2>/dev/null || true)" != "$bin/$tool" ]; then
      ln -sfn "$bin/$tool" "$TOOLS_BIN/$tool"
    fi
  done
  PG_BIN="$bin"
}

# ---- running things as the postgres OS user -------------------------------------

as_pg() {
  if [ "$(id -un)" = "$PG_OS_USER" ]; then
    (cd "$PG_DIR" && "$@")
  elif [ "$(id -u)" -eq 0 ]; then
    (cd "$PG_DIR" && runuser -u "$PG_OS_USER" -- "$@")
  else
    die "postgres: must run as root or as the $PG_OS_USER user"
  fi
}

# Every directory above .local/postgres must be traversable by the postgres
# user. Where one is not (e.g. a checkout under /root), grant it traverse-only
# access (an ACL entry for postgres if setfacl exists, else o+x), and say so.
ensure_traversable() {
  if runuser -u "$PG_OS_USER" -- test -x "$PG_DIR" 2>/dev/null; then
    return 0
  fi
  local d="$PG_DIR" dirs=() x
  while [ "$d" != "/" ] && [ -n "$d" ]; do
    d="$(dirname "$d")"
    dirs=("$d" "${dirs[@]}")
  done
  for x in "${dirs[@]}"; do
    if ! runuser -u "$PG_OS_USER" -- test -x "$x" 2>/dev/null; then
      if command -v setfacl >/dev/null 2>&1 && setfacl -m "u:$PG_OS_USER:x" "$x" 2>/dev/null; then
        log "postgres: granted user $PG_OS_USER traverse access (ACL u:$PG_OS_USER:x) to $x"
      else
        chmod o+x "$x" || die "postgres: user $PG_OS_USER cannot enter $x and chmod o+x failed"
        log "postgres: granted traverse access (chmod o+x) to $x so user $PG_OS_USER can reach $PG_DIR"
      fi
    fi
  done
  runuser -u "$PG_OS_USER" -- test -x "$PG_DIR" ||
    die "postgres: user $PG_OS_USER still cannot reach $PG_DIR; move the checkout or fix permissions"
}

prepare_dirs() {
  ensure_dir "$PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    ensure_traversable
    chown "$PG_OS_USER:" "$PG_DIR"
    chmod 0755 "$PG_DIR"
    ensure_dir "$PG_SOCK_DIR"
    chown "$PG_OS_USER:" "$PG_SOCK_DIR"
    touch "$PG_LOG"
    chown "$PG_OS_USER:" "$PG_LOG"
    if [ -d "$PG_DATA" ]; then
      # Keep ownership right if the tree was copied or restored by root.
      if [ "$(stat -c %U "$PG_DATA")" != "$PG_OS_USER" ]; then
        chown -R "$PG_OS_USER:" "$PG_DATA"
      fi
      chmod 0700 "$PG_DATA"
    fi
  else
    ensure_dir "$PG_SOCK_DIR"
    touch "$PG_LOG"
  fi
}

# ---- cluster -----------------------------------------------------------------

init_cluster() {
  if [ -s "$PG_DATA/PG_VERSION" ]; then
    local have want
    have="$(cat "$PG_DATA/PG_VERSION")"
    want="$(basename "$(dirname "$PG_BIN")")"
    if [ "$have" != "$want" ]; then
      die "postgres: $PG_DATA was created by PostgreSQL $have but the binaries in $PG_BIN are $want; remove $PG_DATA (data is lost) or install postgresql-$have"
    fi
    return 0
  fi
  if [ -e "$PG_DATA" ] && [ -n "$(ls -A "$PG_DATA" 2>/dev/null)" ]; then
    die "postgres: $PG_DATA exists, is not empty and has no PG_VERSION; remove it to re-create the cluster"
  fi
  log "postgres: creating cluster in $PG_DATA (initdb) ..."
  local pwfile="$PG_DIR/.initdb-pw.$$"
  # The bootstrap superuser gets a random password; local access is by peer
  # authentication over the unix socket (role kb: a password too, ensure_hba), TCP
  # needs a password (scram).
  (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pwfile")
  [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER:" "$pwfile"
  if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --pwfile="$pwfile" \
    --encoding=UTF8 --locale=C --auth-local=peer --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1; then
    rm -f "$pwfile"
    fail_with_log postgres "$PG_LOG" "initdb failed"
  fi
  rm -f "$pwfile"
  printf "\n# Added by deploy/local/postgres.sh: the local stack's settings.\ninclude_if_exists = 'kb-local.conf'\n" |
    as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

# Role kb may also log in by password (scram) on the unix socket, which a
# client on this machine can use instead of loopback TCP (see do_env); other
# roles keep peer authentication there (psql_admin: the superuser). The rule
# goes before the first one of initdb's pg_hba.conf; returns 1 when it is
# already there (nothing changed).
ensure_hba() {
  local hba="$PG_DATA/pg_hba.conf" rule="local all $PG_ROLE scram-sha-256"
  if as_pg grep -qxF "$rule" "$hba"; then return 1; fi
  as_pg awk -v rule="$rule" -v note="# Added by deploy/local/postgres.sh: role $PG_ROLE by password on the unix socket." \
    '!done && /^[[:space:]]*[^#[:space:]]/ { print note; print rule; done = 1 } { print }' "$hba" |
    as_pg tee "$hba.kb-new" >/dev/null
  as_pg chmod 0600 "$hba.kb-new"
  as_pg mv "$hba.kb-new" "$hba"
  log "postgres: role $PG_ROLE may log in by password on the unix socket in $PG_SOCK_DIR (pg_hba.conf)"
}

# Regenerated on every start so a changed KB_PG_PORT takes effect.
write_config() {
  local conf="$PG_DATA/kb-local.conf"
  as_pg tee "$conf" >/dev/null <<EOF
# Generated by deploy/local/postgres.sh on every start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK_DIR'
max_connections = 200
shared_buffers = 1GB
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_size = 2GB
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = -1
timezone = 'UTC'
EOF
}

healthy() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2 >/dev/null 2>&1
}

# Prints the postmaster pid if the cluster in $PG_DATA runs.
running_pid() {
  local pid
  pid="$(pid_read "$PG_DATA/postmaster.pid" 2>/dev/null)" || return 1
  pid_is_alive "$pid" postgres || return 1
  printf '%s\n' "$pid"
}

# Prints the pids of live postgres processes working in $PG_DATA (every
# postgres process chdirs to its data directory), e.g. backends orphaned by a
# killed postmaster.
pg_processes() {
  local d pid comm cwd
  for d in /proc/[0-9]*; do
    pid="${d#/proc/}"
    comm="$(cat "$d/comm" 2>/dev/null)" || continue
    [ "$comm" = postgres ] || continue
    cwd="$(readlink "$d/cwd" 2>/dev/null)" || continue
    [ "$cwd" = "$PG_DATA" ] || continue
    pid_is_alive "$pid" postgres && printf '%s\n' "$pid"
  done
  return 0
}

_no_pg_processes() {
  [ -z "$(pg_processes)" ]
}

# After a crash (postmaster killed) postgres finds its own lock files still
# there. Their pid may be a zombie that is not reaped yet, which postgres takes
# for a running server, so once no postgres process works in $PG_DATA any
# more, remove them. Postgres then runs crash recovery.
clear_stale_locks() {
  local locks=() f
  [ -f "$PG_DATA/postmaster.pid" ] && locks+=("$PG_DATA/postmaster.pid")
  for f in "$PG_SOCK_DIR"/.s.PGSQL.*.lock; do
    [ -f "$f" ] && locks+=("$f")
  done
  [ "${#locks[@]}" -gt 0 ] || return 0
  if ! _no_pg_processes; then
    log "postgres: waiting for leftover postgres processes of a killed server to exit: $(pg_processes | tr '\n' ' ')"
    if ! wait_for 15 "postgres leftovers" _no_pg_processes; then
      local pid
      for pid in $(pg_processes); do kill -KILL "$pid" 2>/dev/null || true; done
      wait_for 5 "postgres leftovers" _no_pg_processes || die "postgres: leftover processes in $PG_DATA survive SIGKILL: $(pg_processes)"
    fi
  fi
  log "postgres: removing stale lock files of a server that did not shut down cleanly: ${locks[*]}"
  rm -f "${locks[@]}"
}

# The server started from here listens on the port in its generated config;
# fails (and says so) if it differs from the port asked for now.
check_running_port() {
  if ! grep -qxF "port = $PG_PORT" "$PG_DATA/kb-local.conf" 2>/dev/null; then
    log "postgres: the server running from here (pid $1) uses another port than $PG_PORT (see $PG_DATA/kb-local.conf); run 'restart' with the new KB_PG_PORT to switch"
    return 1
  fi
}

# For wait_for: 0 accepting, 1 not yet, 2 the server process is gone.
START_LAUNCHED_AT=0
probe_started() {
  if healthy; then return 0; fi
  if ! running_pid >/dev/null; then
    # pg_ctl needs a moment to fork the postmaster and write postmaster.pid.
    [ $(($(now_s) - START_LAUNCHED_AT)) -lt 5 ] && return 1
    return 2
  fi
  return 1
}

psql_admin() {
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK_DIR" -p "$PG_PORT" -U postgres -d postgres "$@"
}

ensure_role_and_db() {
  local out
  out="$(psql_admin -At 2>&1 <<EOF
SELECT 'role:' || count(*) FROM pg_roles WHERE rolname = '$PG_ROLE';
SELECT 'db:' || count(*) FROM pg_database WHERE datname = '$PG_DB';
EOF
  )" || { log "$out"; fail_with_log postgres "$PG_LOG" "could not query roles/databases as the superuser"; }
  if [[ "$out" != *"role:1"* ]]; then
    log "postgres: creating role $PG_ROLE"
    psql_admin -c "CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD'" >&2 ||
      fail_with_log postgres "$PG_LOG" "CREATE ROLE $PG_ROLE failed"
  fi
  if [[ "$out" != *"db:1"* ]]; then
    log "postgres: creating database $PG_DB owned by $PG_ROLE"
    psql_admin -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE" >&2 ||
      fail_with_log postgres "$PG_LOG" "CREATE DATABASE $PG_DB failed"
  fi
}

# ---- verbs -------------------------------------------------------------------

do_start() {
  do_install
  prepare_dirs
  local pid
  if pid="$(running_pid)"; then
    check_running_port "$pid" || exit 1
    if healthy; then
      printf '%s\n' "$pid" >"$PG_PID"
      # A cluster made before the socket rule: add it and have the server re-read it.
      if ensure_hba; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -s reload >>"$PG_LOG" 2>&1 ||
          fail_with_log postgres "$PG_LOG" "pg_ctl reload (pg_hba.conf) failed"
      fi
      ensure_role_and_db
      log "postgres: already running (pid $pid) at 127.0.0.1:$PG_PORT"
      return 0
    fi
    log "postgres: pid $pid is running but not accepting connections yet, waiting ..."
    START_LAUNCHED_AT="$(now_s)"
    wait_for "$START_TIMEOUT" "postgres" probe_started ||
      fail_with_log postgres "$PG_LOG" "running (pid $pid) but not accepting connections on 127.0.0.1:$PG_PORT after ${START_TIMEOUT}s (a different port in kb-local.conf? try restart)"
    printf '%s\n' "$pid" >"$PG_PID"
    ensure_role_and_db
    log "postgres: healthy (pid $pid) at 127.0.0.1:$PG_PORT"
    return 0
  fi

  if port_open "$PG_PORT"; then
    die "postgres: port $PG_PORT on 127.0.0.1 is already in use by a process not started from $ROOT (another checkout's stack?). Stop it, or set KB_PG_PORT."
  fi

  init_cluster
  write_config
  ensure_hba || true
  rm -f "$PG_PID"
  clear_stale_locks
  printf '==== %s: starting postgres (%s) ====\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$PG_BIN" | as_pg tee -a "$PG_LOG" >/dev/null
  START_LAUNCHED_AT="$(now_s)"
  # pg_ctl forks the postmaster into its own session and returns (-W: no wait);
  # stale postmaster.pid files from a killed server are handled by postgres.
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -W -s start >>"$PG_LOG" 2>&1 </dev/null ||
    fail_with_log postgres "$PG_LOG" "pg_ctl start failed"
  local rc=0
  wait_for "$START_TIMEOUT" "postgres" probe_started || rc=$?
  if [ "$rc" -eq 2 ]; then
    fail_with_log postgres "$PG_LOG" "postgres exited before accepting connections on 127.0.0.1:$PG_PORT"
  elif [ "$rc" -ne 0 ]; then
    fail_with_log postgres "$PG_LOG" "postgres did not accept connections on 127.0.0.1:$PG_PORT within ${START_TIMEOUT}s"
  fi
  pid="$(running_pid)" || fail_with_log postgres "$PG_LOG" "postgres exited right after starting"
  printf '%s\n' "$pid" >"$PG_PID"
  ensure_role_and_db
  log "postgres: started (pid $pid) at 127.0.0.1:$PG_PORT in $(($(now_s) - START_LAUNCHED_AT))s"
}

do_stop() {
  local pid
  if pid="$(running_pid)"; then
    # SIGINT = fast shutdown (rolls back open transactions, disconnects
    # clients, checkpoints); SIGQUIT = immediate shutdown (crash recovery on
    # the next start); SIGKILL only as the last resort.
    stop_pid postgres "$pid" postgres INT "$STOP_TIMEOUT" QUIT
    log "postgres: stopped"
  else
    log "postgres: not running"
  fi
  rm -f "$PG_PID"
}

do_status() {
  local pid
  if ! PG_BIN="$(find_pg_bin)"; then
    log "postgres: not installed"
    return 1
  fi
  if pid="$(running_pid)"; then
    check_running_port "$pid" || return 1
    if healthy; then
      log "postgres: running (pid $pid), accepting connections at 127.0.0.1:$PG_PORT"
      return 0
    fi
    log "postgres: running (pid $pid) but NOT accepting connections at 127.0.0.1:$PG_PORT (log: $PG_LOG)"
    return 1
  fi
  if healthy; then
    log "postgres: not started from here, but something accepts connections at 127.0.0.1:$PG_PORT"
  else
    log "postgres: not running"
  fi
  return 1
}

# KB_PG_SOCKET=1: clients reach the server on its unix-domain socket instead of
# loopback TCP (libpq's URL form `...?host=<socket directory>`, read by
# db/connect.ts; a few % less CPU per query, docs/tom.md). Default: TCP.
# KB_PG_SOCKET_DIR names the socket's directory either way (db/connect_test.ts).
do_env() {
  local url="$DATABASE_URL"
  case "${KB_PG_SOCKET:-0}" in
    1) url="$url?host=$PG_SOCK_DIR" ;;
    0 | "") ;;
    *) die "postgres: KB_PG_SOCKET must be 1 (unix socket) or 0 (TCP, the default), not '$KB_PG_SOCKET'" ;;
  esac
  printf 'export KB_DATABASE_URL=%s\n' "$url"
  printf 'export KB_PG_SOCKET_DIR=%s\n' "$PG_SOCK_DIR"
}

PG_BIN=""
run_verb "${1:-}"
