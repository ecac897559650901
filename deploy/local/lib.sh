# shellcheck shell=bash
# lib.sh — shared helpers for the local-stack scripts in deploy/local/.
#
# Source it from a service script:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It defines:
#   ROOT       repo root (two directories up from this file)
#   TOOLS_BIN  $ROOT/.tools/bin   (project-local binaries, git-ignored)
#   LOCAL_DIR  $ROOT/.local       (service data, logs, pid files, git-ignored)
# and the helpers documented below. It sets no shell options of its own; each
# script sets `set -euo pipefail` itself.

if [ -n "${_KB_LOCAL_LIB_LOADED:-}" ]; then
  return 0
fi
_KB_LOCAL_LIB_LOADED=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS_BIN="$ROOT/.tools/bin"
LOCAL_DIR="$ROOT/.local"
export ROOT TOOLS_BIN LOCAL_DIR

# log MESSAGE... — prints "[local-stack] MESSAGE" to stderr.
log() {
  printf '[local-stack] %s\n' "$*" >&2
}

# die MESSAGE... — logs the message and exits 1.
die() {
  log "ERROR: $*"
  exit 1
}

# ensure_dir DIR... — creates directories (mkdir -p).
ensure_dir() {
  mkdir -p "$@"
}

# now_s — seconds since the epoch (bash builtin, no fork).
now_s() {
  printf '%(%s)T\n' -1
}

# wait_for TIMEOUT_SECONDS DESCRIPTION COMMAND [ARGS...]
#   Runs COMMAND every 0.2 s until it succeeds or TIMEOUT_SECONDS pass.
#   COMMAND's exit code: 0 = ready (wait_for returns 0), 1 = not yet (keep
#   waiting), anything else = give up now (e.g. the process died; wait_for
#   returns 2). On timeout wait_for returns 1. It logs nothing on success;
#   the caller reports failures (see fail_with_log).
wait_for() {
  local timeout="$1" what="$2"
  shift 2
  local deadline rc
  deadline=$(($(now_s) + timeout))
  while :; do
    rc=0
    "$@" || rc=$?
    if [ "$rc" -eq 0 ]; then
      return 0
    fi
    if [ "$rc" -ne 1 ]; then
      log "$what: gave up waiting"
      return 2
    fi
    if [ "$(now_s)" -ge "$deadline" ]; then
      log "$what: not ready after ${timeout}s"
      return 1
    fi
    sleep 0.2
  done
}

# log_tail FILE [LINES] — prints the last LINES (default 40) of FILE to stderr.
log_tail() {
  local file="$1" lines="${2:-40}"
  if [ -f "$file" ]; then
    log "---- last $lines lines of $file ----"
    tail -n "$lines" "$file" >&2 || true
    log "---- end of $file ----"
  else
    log "(log file $file does not exist)"
  fi
}

# fail_with_log SERVICE LOGFILE MESSAGE — logs an error naming the log file,
# prints the log's tail and exits 1.
fail_with_log() {
  local service="$1" file="$2"
  shift 2
  log "ERROR: $service: $*"
  log "ERROR: $service: see log file $file"
  log_tail "$file" 40
  exit 1
}

# pid_read PIDFILE — prints the pid (first line of PIDFILE) if it is a number.
pid_read() {
  local file="$1" pid=""
  [ -f "$file" ] || return 1
  IFS= read -r pid <"$file" || true
  pid="${pid//[[:space:]]/}"
  case "$pid" in
    '' | *[!0-9]*) return 1 ;;
  esac
  printf '%s\n' "$pid"
}

# pid_is_alive PID [COMM] — true if the process exists (and, when COMM is
# given, its /proc/PID/comm equals COMM, which guards against pid reuse).
pid_is_alive() {
  local pid="$1" want="${2:-}" comm=""
  [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -n "$want" ] && [ -r "/proc/$pid/comm" ]; then
    IFS= read -r comm <"/proc/$pid/comm" || true
    # /proc/PID/comm is truncated to 15 characters.
    [ "$comm" = "${want:0:15}" ] || return 1
  fi
  # A zombie is not alive.
  if [ -r "/proc/$pid/stat" ]; then
    local stat
    stat="$(cat "/proc/$pid/stat" 2>/dev/null || true)"
    stat="${stat##*) }"
    [ "${stat:0:1}" != "Z" ] || return 1
  fi
  return 0
}

# wait_exec PID COMM — waits (up to 5 s) until PID runs COMM or has exited. A
# process started as `setsid [env VAR=...] BINARY &` is named setsid, env or
# bash in /proc/PID/comm until the last exec, so pid_is_alive PID COMM asked
# right after the start calls it dead (a start-up race on a loaded machine).
wait_exec() {
  local pid="$1" want="$2" i
  for i in $(seq 1 50); do
    if pid_is_alive "$pid" "$want" || ! kill -0 "$pid" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
}

# pidfile_alive PIDFILE [COMM] — prints the pid and returns 0 if the pid in
# PIDFILE names a live process (with the given command name).
pidfile_alive() {
  local file="$1" want="${2:-}" pid
  pid="$(pid_read "$file")" || return 1
  pid_is_alive "$pid" "$want" || return 1
  printf '%s\n' "$pid"
}

# stop_pid SERVICE PID [COMM] [SIGNAL] [GRACE_SECONDS] [SECOND_SIGNAL]
#   Sends SIGNAL (default TERM), waits up to GRACE_SECONDS (default 30) for the
#   process to exit; then, if SECOND_SIGNAL is given, sends it and waits 10 s
#   more; finally sends KILL. Returns 0 once the process is gone.
stop_pid() {
  local service="$1" pid="$2" comm="${3:-}" sig="${4:-TERM}" grace="${5:-30}" sig2="${6:-}"
  pid_is_alive "$pid" "$comm" || return 0
  log "$service: stopping pid $pid (SIG$sig)"
  kill "-$sig" "$pid" 2>/dev/null || true
  if wait_for "$grace" "$service stop" _pid_gone "$pid" "$comm" 2>/dev/null; then
    return 0
  fi
  if [ -n "$sig2" ]; then
    log "$service: still running after ${grace}s, sending SIG$sig2"
    kill "-$sig2" "$pid" 2>/dev/null || true
    if wait_for 10 "$service stop" _pid_gone "$pid" "$comm" 2>/dev/null; then
      return 0
    fi
  fi
  log "$service: still running, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  wait_for 10 "$service stop" _pid_gone "$pid" "$comm" || die "$service: pid $pid survived SIGKILL"
}

_pid_gone() {
  if pid_is_alive "$1" "${2:-}"; then return 1; fi
  return 0
}

# port_open PORT [HOST] — true if something accepts TCP connections there.
port_open() {
  local port="$1" host="${2:-127.0.0.1}"
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# valid_port NAME VALUE — dies unless VALUE is a TCP port number.
valid_port() {
  case "$2" in
    '' | *[!0-9]*) die "$1 must be a port number, got '$2'" ;;
  esac
  if [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
    die "$1 must be between 1 and 65535, got '$2'"
  fi
}

# run_verb VERB — runs a service script's verb with its do_install, do_start,
# do_stop, do_status and do_env (restart = stop, then start); anything else
# prints the usage and exits 2.
run_verb() {
  case "${1:-}" in
    install) do_install ;;
    start) do_start ;;
    stop) do_stop ;;
    restart) do_stop && do_start ;;
    status) do_status ;;
    env) do_env ;;
    *)
      printf 'usage: %s install|start|stop|restart|status|env\n' "$0" >&2
      exit 2
      ;;
  esac
}
