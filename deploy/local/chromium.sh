#!/usr/bin/env bash
# chromium.sh — Debian's Chromium for the TOM's browser tests (driven by npm
# playwright-core with `executablePath`; no browser is downloaded).
#
#   bash deploy/local/chromium.sh install|start|stop|restart|status|env
#
# install  apt-get installs the Debian package `chromium` when /usr/bin/chromium
#          is missing (needs root, as the CI and dev machines run)
# start    = install (nothing runs in the background: each test launches its own)
# stop     nothing to stop
# status   exits 0 if the binary is there and answers --version
# env      prints `export KB_CHROMIUM=...` for the tests
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHROMIUM_BIN="${KB_CHROMIUM:-/usr/bin/chromium}"

chromium_ok() {
  [ -x "$CHROMIUM_BIN" ] && "$CHROMIUM_BIN" --headless --no-sandbox --version >/dev/null 2>&1
}

do_install() {
  if chromium_ok; then
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "chromium: $CHROMIUM_BIN is missing and apt-get is not available; install Debian's chromium"
  log "chromium: installing the Debian package chromium (apt-get) ..."
  local t0
  t0="$(now_s)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "chromium: apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2 ||
    die "chromium: apt-get install chromium failed"
  chromium_ok || die "chromium: $CHROMIUM_BIN does not run after the install"
  log "chromium: installed in $(($(now_s) - t0))s"
}

do_status() {
  if chromium_ok; then
    log "chromium: $("$CHROMIUM_BIN" --headless --no-sandbox --version 2>/dev/null) at $CHROMIUM_BIN"
    return 0
  fi
  log "chromium: not installed (run: bash deploy/local/chromium.sh install)"
  return 1
}

# Nothing runs in the background: start is install, stop does nothing.
do_start() { do_install; }
do_stop() { :; }
do_env() { printf 'export KB_CHROMIUM=%s\n' "$CHROMIUM_BIN"; }

run_verb "${1:-}"
