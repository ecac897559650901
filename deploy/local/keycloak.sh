#!/usr/bin/env bash
# keycloak.sh — a local Keycloak 26 (dev mode) on 127.0.0.1 with the TOM's test realms.
#
#   bash deploy/local/keycloak.sh install|start|stop|restart|status|env
#
# install  fetches the org.keycloak:keycloak-quarkus-dist tar.gz of the pinned version
#          with Maven (dependency:copy) and unpacks it into .tools/keycloak/ (skipped
#          when that version is already unpacked)
# start    installs if needed, then runs `kc.sh start-dev --import-realm` detached,
#          HTTP on 127.0.0.1:$KB_KEYCLOAK_PORT, data (H2 file database) in
#          .local/keycloak/data; waits until the realm's OIDC discovery document is
#          served. The realms come from deploy/local/keycloak/realm-*.json: when a realm
#          file changes, the database is wiped and the realms re-imported.
# stop     SIGTERM, then SIGKILL after a grace period
# restart  stop then start (the database is kept)
# status   exits 0 if the server started from here is running and serves the realm
# env      prints `export VAR=value` lines: issuer, client ids and secrets, test users
#
# Environment: KB_KEYCLOAK_PORT (18080), KB_KEYCLOAK_START_TIMEOUT seconds (300),
# KB_KEYCLOAK_JAVA_HOME (default /usr/lib/jvm/temurin-25-jdk-amd64, else the newest
# Java 21+ found), KB_KEYCLOAK_HEAP (JVM heap options, "-Xms64m -Xmx768m"),
# KB_MAVEN_ARGS (extra mvn arguments, e.g. -Dmaven.repo.local=/some/dir).
# Files: .tools/keycloak/keycloak-<version>/, .local/keycloak/{data/,keycloak.log,keycloak.pid,realms.sha256}.
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KC_VERSION="26.7.3"
KC_PORT="${KB_KEYCLOAK_PORT:-18080}"
valid_port KB_KEYCLOAK_PORT "$KC_PORT"
KC_MGMT_PORT=$((KC_PORT + 1))
START_TIMEOUT="${KB_KEYCLOAK_START_TIMEOUT:-300}"
STOP_TIMEOUT="${KB_KEYCLOAK_STOP_TIMEOUT:-30}"
KC_HEAP="${KB_KEYCLOAK_HEAP:--Xms64m -Xmx768m}"

KC_TOOLS="$ROOT/.tools/keycloak"
KC_HOME="$KC_TOOLS/keycloak-$KC_VERSION"
KC_DIR="$LOCAL_DIR/keycloak"
KC_DATA="$KC_DIR/data"
KC_LOG="$KC_DIR/keycloak.log"
KC_PID="$KC_DIR/keycloak.pid"
KC_REALM_SUM="$KC_DIR/realms.sha256"
REALM_SRC="$ROOT/deploy/local/keycloak"
KC_URL="http://127.0.0.1:$KC_PORT"
REALM="kb"
AUDIENCE="kb-tom"

# ---- install -----------------------------------------------------------------

java_major() { # JAVA -> the feature version (17, 21, 25, ...)
  local v
  v="$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  printf '%s\n' "${v%%.*}"
}

# Prints a JAVA_HOME with Java 21 or newer.
find_java_home() {
  local h cands=()
  [ -n "${KB_KEYCLOAK_JAVA_HOME:-}" ] && cands+=("$KB_KEYCLOAK_JAVA_HOME")
  cands+=(/usr/lib/jvm/temurin-25-jdk-amd64)
  [ -n "${JAVA_HOME:-}" ] && cands+=("$JAVA_HOME")
  for h in /usr/lib/jvm/*; do cands+=("$h"); done
  for h in "${cands[@]}"; do
    [ -x "$h/bin/java" ] || continue
    local m
    m="$(java_major "$h/bin/java" 2>/dev/null || echo 0)"
    case "$m" in '' | *[!0-9]*) continue ;; esac
    if [ "$m" -ge 21 ]; then
      printf '%s\n' "$h"
      return 0
    fi
  done
  return 1
}

do_install() {
  if [ -x "$KC_HOME/bin/kc.sh" ] && [ "$(cat "$KC_HOME/version.txt" 2>/dev/null)" = "Keycloak - Version $KC_VERSION" ]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || {
    [ "$(id -u)" -eq 0 ] || die "keycloak: mvn (Apache Maven) is needed to fetch Keycloak"
    log "keycloak: mvn not found: installing Debian's maven package"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends maven >&2 ||
      die "keycloak: apt-get install maven failed"
  }
  ensure_dir "$KC_TOOLS" "$KC_DIR"
  local dl="$KC_TOOLS/download" mvn_log="$KC_DIR/mvn.log" t0
  rm -rf "$dl" "$KC_TOOLS/unpack.tmp"
  log "keycloak: fetching org.keycloak:keycloak-quarkus-dist:$KC_VERSION (tar.gz) with Maven (log: $mvn_log) ..."
  t0="$(now_s)"
  # shellcheck disable=SC2086
  if ! mvn -B -q ${KB_MAVEN_ARGS:-} dependency:copy \
    "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KC_VERSION:tar.gz" \
    "-DoutputDirectory=$dl" >"$mvn_log" 2>&1; then
    fail_with_log keycloak "$mvn_log" "mvn dependency:copy of keycloak-quarkus-dist $KC_VERSION failed"
  fi
  mkdir -p "$KC_TOOLS/unpack.tmp"
  tar -xzf "$dl/keycloak-quarkus-dist-$KC_VERSION.tar.gz" -C "$KC_TOOLS/unpack.tmp" ||
    die "keycloak: could not unpack $dl/keycloak-quarkus-dist-$KC_VERSION.tar.gz"
  [ -x "$KC_TOOLS/unpack.tmp/keycloak-$KC_VERSION/bin/kc.sh" ] ||
    die "keycloak: the archive has no keycloak-$KC_VERSION/bin/kc.sh"
  rm -rf "$KC_HOME"
  mv "$KC_TOOLS/unpack.tmp/keycloak-$KC_VERSION" "$KC_HOME"
  rm -rf "$KC_TOOLS/unpack.tmp" "$dl"
  log "keycloak: $KC_VERSION installed in $KC_HOME in $(($(now_s) - t0))s"
}

# ---- server ------------------------------------------------------------------

realms_sum() {
  cat "$REALM_SRC"/realm-*.json | sha256sum | cut -d' ' -f1
}

# Keycloak keeps everything under $KC_HOME/data; point it at .local/keycloak/data and
# put the realm files where --import-realm looks. A changed realm file wipes the
# database so the import takes effect (dev data only).
prepare_data() {
  ensure_dir "$KC_DATA"
  if [ -e "$KC_HOME/data" ] && [ ! -L "$KC_HOME/data" ]; then
    rm -rf "$KC_HOME/data"
  fi
  ln -sfn "$KC_DATA" "$KC_HOME/data"
  local want have=""
  want="$(realms_sum)"
  [ -f "$KC_REALM_SUM" ] && have="$(cat "$KC_REALM_SUM")"
  if [ "$want" != "$have" ]; then
    [ -d "$KC_DATA/h2" ] && log "keycloak: realm files changed: wiping the dev database for a fresh import"
    rm -rf "$KC_DATA/h2" "$KC_DATA/import"
  fi
  ensure_dir "$KC_DATA/import"
  rm -f "$KC_DATA/import"/*.json
  cp "$REALM_SRC"/realm-*.json "$KC_DATA/import/"
  printf '%s\n' "$want" >"$KC_REALM_SUM"
}

# Prints the pid of the JVM running the Keycloak of $KC_HOME (kc.sh passes -Dkc.home.dir).
find_kc_java() {
  local pid
  for pid in $(pgrep -x java 2>/dev/null); do
    if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "-Dkc.home.dir=$KC_HOME/bin/.."; then
      printf '%s\n' "$pid"
      return 0
    fi
  done
  return 1
}

# The JVM started from here. In dev mode kc.sh first runs a build JVM that exits
# asking for a restart, then the server JVM, so the pid file is refreshed here.
running_pid() {
  local pid
  if pid="$(pid_read "$KC_PID")" && pid_is_alive "$pid" java; then
    printf '%s\n' "$pid"
    return 0
  fi
  pid="$(find_kc_java)" || return 1
  printf '%s\n' "$pid" >"$KC_PID"
  printf '%s\n' "$pid"
}

KC_SHELL_PID=""

healthy() {
  curl -fsS -m 3 -o /dev/null "$KC_URL/realms/$REALM/.well-known/openid-configuration" 2>/dev/null
}

probe_started() {
  if healthy; then return 0; fi
  running_pid >/dev/null && return 1
  # Between the build JVM and the server JVM only kc.sh itself runs.
  [ -n "$KC_SHELL_PID" ] && kill -0 "$KC_SHELL_PID" 2>/dev/null && return 1
  return 2
}

do_start() {
  do_install
  local pid
  if pid="$(running_pid)"; then
    if healthy; then
      log "keycloak: already running (pid $pid) at $KC_URL"
      return 0
    fi
    log "keycloak: pid $pid is running but not serving yet, waiting ..."
    wait_for "$START_TIMEOUT" keycloak probe_started ||
      fail_with_log keycloak "$KC_LOG" "running (pid $pid) but $KC_URL/realms/$REALM is not served after ${START_TIMEOUT}s"
    return 0
  fi
  if port_open "$KC_PORT"; then
    die "keycloak: port $KC_PORT on 127.0.0.1 is already in use by a process not started from $ROOT. Stop it, or set KB_KEYCLOAK_PORT."
  fi
  local java_home
  java_home="$(find_java_home)" || die "keycloak: needs Java 21+ (install a JDK 21+ or set KB_KEYCLOAK_JAVA_HOME)"
  prepare_data
  printf '==== %s: starting Keycloak %s (%s) ====\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$KC_VERSION" "$java_home" >>"$KC_LOG"
  local t0
  t0="$(now_s)"
  # kc.sh runs java in the background and waits for it; the pid file names the JVM.
  (
    cd "$KC_DIR"
    export JAVA_HOME="$java_home" JAVA_OPTS_KC_HEAP="$KC_HEAP"
    exec setsid "$KC_HOME/bin/kc.sh" start-dev --import-realm \
      --http-host=127.0.0.1 --http-port="$KC_PORT" \
      --http-management-port="$KC_MGMT_PORT" --health-enabled=true \
      --hostname-strict=false --log-level=info --log-console-color=false \
      >>"$KC_LOG" 2>&1 </dev/null
  ) &
  KC_SHELL_PID=$!
  local jpid="" i
  for i in $(seq 1 100); do
    jpid="$(find_kc_java)" && break
    kill -0 "$KC_SHELL_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$jpid" ] || fail_with_log keycloak "$KC_LOG" "kc.sh did not start a java process"
  printf '%s\n' "$jpid" >"$KC_PID"
  log "keycloak: starting (pid $jpid; dev mode takes a minute or two) ..."
  local rc=0
  wait_for "$START_TIMEOUT" keycloak probe_started || rc=$?
  if [ "$rc" -eq 2 ]; then
    fail_with_log keycloak "$KC_LOG" "Keycloak exited before serving $KC_URL/realms/$REALM"
  elif [ "$rc" -ne 0 ]; then
    fail_with_log keycloak "$KC_LOG" "Keycloak did not serve $KC_URL/realms/$REALM within ${START_TIMEOUT}s"
  fi
  jpid="$(running_pid)" || true
  log "keycloak: started (pid $jpid) at $KC_URL in $(($(now_s) - t0))s"
}

do_stop() {
  local pid
  if pid="$(running_pid)"; then
    stop_pid keycloak "$pid" java TERM "$STOP_TIMEOUT"
    log "keycloak: stopped"
  else
    log "keycloak: not running"
  fi
  rm -f "$KC_PID"
}

do_status() {
  local pid
  if [ ! -x "$KC_HOME/bin/kc.sh" ]; then
    log "keycloak: not installed"
    return 1
  fi
  if pid="$(running_pid)"; then
    if healthy; then
      log "keycloak: running (pid $pid), realm $REALM served at $KC_URL"
      return 0
    fi
    log "keycloak: running (pid $pid) but realm $REALM is NOT served at $KC_URL (log: $KC_LOG)"
    return 1
  fi
  log "keycloak: not running"
  return 1
}

do_env() {
  cat <<EOF
export KB_KEYCLOAK_URL=$KC_URL
export KB_OIDC_ISSUER=$KC_URL/realms/$REALM
export KB_OIDC_AUDIENCE=$AUDIENCE
export KB_OIDC_OTHER_ISSUER=$KC_URL/realms/kb-other
export KB_OIDC_WEB_CLIENT_ID=tom-web
export KB_OIDC_WEB_CLIENT_SECRET=tom-web-dev-secret
export KB_OIDC_API_CLIENT_ID=tom-api
export KB_OIDC_API_CLIENT_SECRET=tom-api-dev-secret
export KB_OIDC_TEST_CLIENT_ID=tom-test
export KB_OIDC_TEST_CLIENT_SECRET=tom-test-dev-secret
export KB_OIDC_NOAUD_CLIENT_ID=tom-noaud
export KB_OIDC_NOAUD_CLIENT_SECRET=tom-noaud-dev-secret
export KB_OIDC_TEST_USERS=observer:observer-pw,pi:pi-pw,admin:admin-pw,nobody:nobody-pw
EOF
}

run_verb "${1:-}"
