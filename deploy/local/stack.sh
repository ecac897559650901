#!/usr/bin/env bash
# stack.sh — runs one verb for several local services (deploy/local/<service>.sh).
#
#   bash deploy/local/stack.sh VERB [SERVICE...]
#
# VERB: install | start | stop | restart | status | env | up (= start) | down (= stop)
# SERVICE: default = each of "nats postgres kafka keycloak" whose script exists.
#
# start/install/restart run in the listed order, stop in reverse order; each
# stops the whole command at the first failure. status checks every service
# and exits non-zero if any is unhealthy. env prints every service's
# `export VAR=value` lines, so `eval "$(bash deploy/local/stack.sh env)"` works.
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERE="$ROOT/deploy/local"
KNOWN_SERVICES=(nats postgres kafka keycloak)

usage() {
  cat >&2 <<EOF
usage: $0 install|start|stop|restart|status|env|up|down [service...]
services: default = those of ${KNOWN_SERVICES[*]} with a script in deploy/local/
EOF
}

verb="${1:-}"
[ -n "$verb" ] || { usage; exit 2; }
shift

case "$verb" in
  up) verb=start ;;
  down) verb=stop ;;
  install | start | stop | restart | status | env) ;;
  -h | --help | help) usage; exit 0 ;;
  *) usage; exit 2 ;;
esac

services=()
if [ "$#" -gt 0 ]; then
  for s in "$@"; do
    [ -f "$HERE/$s.sh" ] || die "no script for service '$s' ($HERE/$s.sh)"
    services+=("$s")
  done
else
  for s in "${KNOWN_SERVICES[@]}"; do
    if [ -f "$HERE/$s.sh" ]; then services+=("$s"); fi
  done
fi
[ "${#services[@]}" -gt 0 ] || die "no service scripts found in $HERE"

if [ "$verb" = stop ]; then
  reversed=()
  for ((i = ${#services[@]} - 1; i >= 0; i--)); do reversed+=("${services[i]}"); done
  services=("${reversed[@]}")
fi

case "$verb" in
  status)
    rc=0
    for s in "${services[@]}"; do
      bash "$HERE/$s.sh" status || rc=1
    done
    exit "$rc"
    ;;
  env)
    for s in "${services[@]}"; do
      bash "$HERE/$s.sh" env
    done
    ;;
  *)
    t0="$(now_s)"
    for s in "${services[@]}"; do
      bash "$HERE/$s.sh" "$verb" || die "$s $verb failed"
    done
    log "stack: $verb done for ${services[*]} in $(($(now_s) - t0))s"
    ;;
esac
