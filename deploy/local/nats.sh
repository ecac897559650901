#!/usr/bin/env bash
# nats.sh — a local NATS server with JetStream on 127.0.0.1, for tests and local use.
#
#   bash deploy/local/nats.sh install|start|stop|restart|status|env
#
# install  builds nats-server and the nats CLI into .tools/bin with `go install`
#          (skipped when the binaries there already report the pinned versions)
# start    installs if needed, starts the server detached unless it is already
#          running and healthy, and waits until it is healthy
# stop     stops it (SIGTERM, then SIGKILL after a grace period)
# restart  stop then start; the JetStream store in .local/nats/data is kept
# status   exits 0 if the server started from here is running and healthy
# env      prints `export VAR=value` lines for clients
#
# Environment: KB_NATS_PORT (14222), KB_NATS_MONITOR_PORT (18222),
# KB_NATS_START_TIMEOUT seconds (60), KB_NATS_STOP_TIMEOUT seconds (30),
# KB_NATS_DIR (.local/nats: a private server's files, e.g. a test that restarts
# its own NATS), KB_NATS_CONTEXT (kb-local: the NATS CLI context saved on start;
# empty = save none).
# KB_NATS_AUTH (on): `on` = every client needs an identity of deploy/nats
# (nkeys, least-privilege permissions generated from the code); `off` = no auth.
# KB_NATS_AUTH_DIR (.local/nats-auth): the identities' seeds (<identity>.nk, 0600)
# and the generated auth.conf, shared by every server started from here.
# Files: .local/nats/{nats.conf,nats.log,nats.pid,data/}.
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NATS_SERVER_VERSION="v2.15.2"
NATS_CLI_VERSION="v0.5.0"
NATS_PORT="${KB_NATS_PORT:-14222}"
NATS_MONITOR_PORT="${KB_NATS_MONITOR_PORT:-18222}"
valid_port KB_NATS_PORT "$NATS_PORT"
valid_port KB_NATS_MONITOR_PORT "$NATS_MONITOR_PORT"
START_TIMEOUT="${KB_NATS_START_TIMEOUT:-60}"
STOP_TIMEOUT="${KB_NATS_STOP_TIMEOUT:-30}"

NATS_DIR="${KB_NATS_DIR:-$LOCAL_DIR/nats}"
NATS_DATA="$NATS_DIR/data"
NATS_CONF="$NATS_DIR/nats.conf"
NATS_LOG="$NATS_DIR/nats.log"
NATS_PID="$NATS_DIR/nats.pid"
NATS_SERVER_BIN="$TOOLS_BIN/nats-server"
NATS_CLI_BIN="$TOOLS_BIN/nats"
NATS_URL="nats://127.0.0.1:$NATS_PORT"
NATS_MONITOR_URL="http://127.0.0.1:$NATS_MONITOR_PORT"
NATS_CONTEXT="${KB_NATS_CONTEXT-kb-local}"
NATS_AUTH="${KB_NATS_AUTH:-on}"
case "$NATS_AUTH" in on | off) ;; *) die "nats: KB_NATS_AUTH must be on or off, not '$NATS_AUTH'" ;; esac
NATS_AUTH_DIR="${KB_NATS_AUTH_DIR:-$LOCAL_DIR/nats-auth}"

# ---- install ---------------------------------------------------------------

server_version_ok() {
  [ -x "$NATS_SERVER_BIN" ] || return 1
  local out
  out="$("$NATS_SERVER_BIN" --version 2>/dev/null)" || return 1
  [ "$out" = "nats-server: $NATS_SERVER_VERSION" ]
}

cli_version_ok() {
  [ -x "$NATS_CLI_BIN" ] || return 1
  local out
  out="$("$NATS_CLI_BIN" --version 2>&1)" || return 1
  [ "$out" = "$NATS_CLI_VERSION" ]
}

find_go() {
  if command -v go >/dev/null 2>&1; then
    command -v go
    return 0
  fi
  local g
  for g in /usr/local/go/bin/go /usr/lib/go/bin/go "${HOME:-/root}/go/bin/go" "${HOME:-/root}/sdk/go/bin/go"; do
    if [ -x "$g" ]; then
      printf '%s\n' "$g"
      return 0
    fi
  done
  return 1
}

# go_install PACKAGE@VERSION BINARY_NAME — builds into a scratch GOBIN and
# renames the binary into .tools/bin, so a running server's binary is replaced
# atomically and an interrupted build leaves nothing half-written.
go_install() {
  local what="$1" name="$2" go t0 gobin
  go="$(find_go)" || die "nats: Go is needed to build $what but no 'go' binary was found"
  ensure_dir "$TOOLS_BIN"
  gobin="$(mktemp -d "$TOOLS_BIN/.go-install.XXXXXX")"
  log "nats: building $what with go install (about a minute on a fresh machine) ..."
  t0="$(now_s)"
  if ! GOBIN="$gobin" "$go" install "$what" >&2; then
    rm -rf "$gobin"
    die "nats: go install $what failed"
  fi
  mv -f "$gobin/$name" "$TOOLS_BIN/$name"
  rm -rf "$gobin"
  log "nats: built $what in $(($(now_s) - t0))s"
}

do_install() {
  if server_version_ok; then
    :
  else
    if [ -e "$NATS_SERVER_BIN" ]; then
      log "nats: $NATS_SERVER_BIN is not $NATS_SERVER_VERSION, rebuilding"
    fi
    go_install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" nats-server
    server_version_ok || die "nats: $NATS_SERVER_BIN does not report $NATS_SERVER_VERSION after go install"
  fi
  if cli_version_ok; then
    :
  else
    if [ -e "$NATS_CLI_BIN" ]; then
      log "nats: $NATS_CLI_BIN is not $NATS_CLI_VERSION, rebuilding"
    fi
    go_install "github.com/nats-io/natscli/nats@$NATS_CLI_VERSION" nats
    cli_version_ok || die "nats: $NATS_CLI_BIN does not report $NATS_CLI_VERSION after go install"
  fi
}

# ---- health ------------------------------------------------------------------

healthy() {
  curl -fsS -o /dev/null --max-time 2 "$NATS_MONITOR_URL/healthz?js-enabled-only=true" 2>/dev/null &&
    port_open "$NATS_PORT"
}

running_pid() {
  pidfile_alive "$NATS_PID" nats-server
}

# For wait_for: 0 healthy, 1 not yet, 2 the server process is gone.
probe_started() {
  local pid
  # No command-name check here: for a moment the pid is still the launching
  # shell, just before it execs nats-server.
  if pid="$(pid_read "$NATS_PID")" && ! pid_is_alive "$pid"; then
    return 2
  fi
  healthy || return 1
}

# The server started from here listens on the ports in its generated config;
# fails (and says so) if they differ from the ports asked for now.
check_running_ports() {
  local want_listen="listen: \"127.0.0.1:$NATS_PORT\"" want_http="http: \"127.0.0.1:$NATS_MONITOR_PORT\""
  if ! grep -qxF "$want_listen" "$NATS_CONF" 2>/dev/null || ! grep -qxF "$want_http" "$NATS_CONF" 2>/dev/null; then
    log "nats: the server running from here (pid $1) uses other ports than $NATS_PORT/$NATS_MONITOR_PORT (see $NATS_CONF); run 'restart' with the new KB_NATS_PORT/KB_NATS_MONITOR_PORT to switch"
    return 1
  fi
}

# ---- config ------------------------------------------------------------------

# Generates (deploy/nats/main.ts) the identities' seeds when missing and the
# server's authorization from the actor definitions, into $NATS_AUTH_DIR.
write_auth() {
  [ "$NATS_AUTH" = on ] || return 0
  "$ROOT/kb" run -A "$ROOT/deploy/nats/main.ts" local "$NATS_AUTH_DIR" >&2 ||
    die "nats: could not generate the NATS identities in $NATS_AUTH_DIR (deploy/nats/main.ts)"
}

write_config() {
  local tmp="$NATS_CONF.tmp.$$"
  cat >"$tmp" <<EOF
# Generated by deploy/local/nats.sh on every start; edits are overwritten.
server_name: kb_local
listen: "127.0.0.1:$NATS_PORT"
http: "127.0.0.1:$NATS_MONITOR_PORT"
pid_file: "$NATS_PID"
logtime: true
# Hopskotch records reach ~1 MB; their envelopes carry the raw bytes as base64
# plus the decoded content (docs/hopskotch.md), so messages go up to 8 MB.
max_payload: 8MB

jetstream {
  store_dir: "$NATS_DATA"
  max_memory_store: 1GB
  max_file_store: 8GB
}
EOF
  if [ "$NATS_AUTH" = on ]; then
    cat "$NATS_AUTH_DIR/auth.conf" >>"$tmp"
  fi
  mv -f "$tmp" "$NATS_CONF"
}

# Saves a NATS CLI context "kb-local" (in the user's NATS CLI config) pointing
# at this server, and selects it when no context is selected yet.
write_cli_context() {
  [ -n "${HOME:-}" ] || return 0
  [ -n "$NATS_CONTEXT" ] || return 0
  [ -x "$NATS_CLI_BIN" ] || return 0
  local creds=()
  [ "$NATS_AUTH" = off ] || creds=(--nkey "$NATS_AUTH_DIR/admin.nk")
  "$NATS_CLI_BIN" context save "$NATS_CONTEXT" --server "$NATS_URL" "${creds[@]}" \
    --description "kilonova-broker local stack (deploy/local/nats.sh)" >/dev/null 2>&1 ||
    { log "nats: warning: could not save NATS CLI context $NATS_CONTEXT"; return 0; }
  local cfg="${XDG_CONFIG_HOME:-$HOME/.config}/nats/context.txt"
  if [ ! -s "$cfg" ]; then
    "$NATS_CLI_BIN" context select "$NATS_CONTEXT" >/dev/null 2>&1 || true
  fi
}

# ---- verbs -------------------------------------------------------------------

do_start() {
  do_install
  local pid
  if pid="$(running_pid)"; then
    check_running_ports "$pid" || exit 1
    if healthy; then
      log "nats: already running (pid $pid) at $NATS_URL"
      write_cli_context
      return 0
    fi
    log "nats: pid $pid is running but not healthy yet, waiting ..."
    if wait_for "$START_TIMEOUT" "nats" probe_started; then
      log "nats: healthy (pid $pid) at $NATS_URL"
      return 0
    fi
    fail_with_log nats "$NATS_LOG" "running (pid $pid) but not healthy after ${START_TIMEOUT}s"
  fi

  if port_open "$NATS_PORT" || port_open "$NATS_MONITOR_PORT"; then
    die "nats: port $NATS_PORT or $NATS_MONITOR_PORT on 127.0.0.1 is already in use by a process not started from $ROOT (another checkout's stack?). Stop it, or set KB_NATS_PORT / KB_NATS_MONITOR_PORT."
  fi

  ensure_dir "$NATS_DIR" "$NATS_DATA"
  rm -f "$NATS_PID"
  write_auth
  write_config
  printf '==== %s: starting nats-server %s ====\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$NATS_SERVER_VERSION" >>"$NATS_LOG"
  # The inner shell records its own pid and execs the server, so the pid file
  # names the server even if setsid forks. setsid+nohup detach it from the
  # calling shell's session and terminal.
  setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$NATS_PID" \
    "$NATS_SERVER_BIN" -c "$NATS_CONF" >>"$NATS_LOG" 2>&1 </dev/null &
  local t0
  t0="$(now_s)"
  local rc=0
  wait_for "$START_TIMEOUT" "nats" probe_started || rc=$?
  if [ "$rc" -eq 2 ]; then
    fail_with_log nats "$NATS_LOG" "nats-server exited before becoming healthy"
  elif [ "$rc" -ne 0 ]; then
    fail_with_log nats "$NATS_LOG" "nats-server did not become healthy at $NATS_MONITOR_URL/healthz within ${START_TIMEOUT}s"
  fi
  pid="$(running_pid)" || fail_with_log nats "$NATS_LOG" "nats-server exited right after starting"
  log "nats: started (pid $pid) at $NATS_URL, monitoring $NATS_MONITOR_URL, in $(($(now_s) - t0))s"
  write_cli_context
}

do_stop() {
  local pid
  if pid="$(running_pid)"; then
    stop_pid nats "$pid" nats-server TERM "$STOP_TIMEOUT"
    log "nats: stopped"
  else
    log "nats: not running"
  fi
  rm -f "$NATS_PID"
}

do_status() {
  local pid
  if pid="$(running_pid)"; then
    check_running_ports "$pid" || return 1
    if healthy; then
      log "nats: running (pid $pid), healthy at $NATS_URL"
      return 0
    fi
    log "nats: running (pid $pid) but NOT healthy (log: $NATS_LOG)"
    return 1
  fi
  if healthy; then
    log "nats: not started from here, but something healthy answers at $NATS_URL"
  else
    log "nats: not running"
  fi
  return 1
}

do_env() {
  printf 'export KB_NATS_URL=%s\n' "$NATS_URL"
  printf 'export KB_NATS_MONITOR_URL=%s\n' "$NATS_MONITOR_URL"
  printf 'export NATS_URL=%s\n' "$NATS_URL"
  # Only when the server started from here runs with auth: a server without it
  # refuses clients that offer an nkey.
  if grep -q '^authorization {' "$NATS_CONF" 2>/dev/null; then
    # Clients (tests, the nats CLI) act as the admin identity; test helpers give
    # each process they start its own identity from KB_NATS_AUTH_DIR.
    printf 'export KB_NATS_AUTH_DIR=%s\n' "$NATS_AUTH_DIR"
    printf 'export KB_NATS_NKEY_FILE=%s\n' "$NATS_AUTH_DIR/admin.nk"
    printf 'export NATS_NKEY=%s\n' "$NATS_AUTH_DIR/admin.nk"
  fi
}

run_verb "${1:-}"
