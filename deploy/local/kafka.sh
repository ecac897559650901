#!/usr/bin/env bash
# kafka.sh — a local, single-node Apache Kafka (KRaft) shaped like SCiMMA's
# Hopskotch (SASL/SCRAM-SHA-512), for integration tests and benchmarks.
#
# Usage: deploy/local/kafka.sh VERB [ARGS...]
#   install                 fetch Kafka + deps with Maven into .tools/kafka/libs (skipped when present)
#   start                   install if needed, format storage if needed, start, wait until healthy
#   stop                    SIGTERM by pid, wait, then SIGKILL
#   restart                 stop + start (data is kept)
#   status                  exit 0 when running and answering requests
#   env                     print `export VAR=value` lines for clients
#   topics-create NAME [PARTITIONS]   create a topic if it does not exist (default 1 partition)
#   topics-list             list topics
#   perf-producer ARGS...   org.apache.kafka.tools.ProducerPerformance ARGS
#   perf-consumer ARGS...   org.apache.kafka.tools.ConsumerPerformance ARGS
#   tool CLASS ARGS...      run any main class with the Kafka classpath (client-side logging)
#   reset                   stop and delete all data (next start formats a fresh cluster)
#
# Listeners, all on 127.0.0.1:
#   19092 PLAINTEXT       no auth (admin, tests, benchmarks)
#   19093 SASL_PLAINTEXT  SCRAM-SHA-512 (users kb/kb-secret and admin/admin-secret;
#                         limited/limited-secret has only the ACLs a test grants it)
#   19094 SASL_SSL        SCRAM-SHA-512 + self-signed cert (CA in .local/kafka/tls/ca.pem)
#   19095 CONTROLLER      KRaft controller quorum (internal)
#
# ACLs as on Hopskotch (StandardAuthorizer, deny when no ACL matches): admin, kb
# and the unauthenticated listeners (PLAINTEXT, CONTROLLER: User:ANONYMOUS) are
# super users, so tests and benchmarks are not restricted; `limited` is a
# Hopskotch-like credential that may do only what ACLs allow
# (gateway/hopskotch/acl_test.ts grants them per test topic).
#
# Layout: .tools/kafka/ (pom.xml, libs/*.jar, config/log4j2*.properties, .installed, cds-*.jsa)
#         .local/kafka/ (server.properties, data/, tls/, kafka.log, kafka.pid,
#                        client-sasl.properties, client-ssl.properties: Java client configs)
# Benchmarks: perf-producer --bootstrap-server 127.0.0.1:19092 --topic T --num-records N
#   --record-size 1024 --throughput -1 [--command-config "$KB_KAFKA_SASL_CLIENT_CONFIG"]
# Tunables (environment): KB_KAFKA_HEAP_OPTS (default "-Xms256m -Xmx512m"),
#   KB_KAFKA_START_TIMEOUT (seconds, default 120), KB_KAFKA_JAVA (java binary),
#   KB_MAVEN_ARGS (extra mvn arguments, e.g. -Dmaven.repo.local=/some/dir),
#   KB_KAFKA_PORT / KB_KAFKA_SASL_PORT / KB_KAFKA_SSL_PORT / KB_KAFKA_CONTROLLER_PORT
#   (the listeners above), KB_KAFKA_STATE_DIR (.local/kafka: a private broker's
#   files, e.g. a test that restarts its own Kafka), KB_KAFKA_CDS (1; 0 = no
#   class-data-sharing archive, e.g. for a second broker beside a running one).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

KAFKA_VERSION="4.4.0"
SCALA_BINARY="2.13"
LOG4J_VERSION="2.25.3"
INSTALL_STAMP="kafka_${SCALA_BINARY}=${KAFKA_VERSION} kafka-tools=${KAFKA_VERSION} log4j=${LOG4J_VERSION} v1"

HOST="127.0.0.1"
PORT_PLAINTEXT="${KB_KAFKA_PORT:-19092}"
PORT_SASL="${KB_KAFKA_SASL_PORT:-19093}"
PORT_SSL="${KB_KAFKA_SSL_PORT:-19094}"
PORT_CONTROLLER="${KB_KAFKA_CONTROLLER_PORT:-19095}"
NODE_ID=1
SCRAM_USERS=("admin:admin-secret" "kb:kb-secret" "limited:limited-secret")
SUPER_USERS="User:admin;User:kb;User:ANONYMOUS"
CLIENT_USER="kb"
CLIENT_PASSWORD="kb-secret"
OFFSETS_PARTITIONS=10

KAFKA_HOME="$ROOT/.tools/kafka"
LIBS="$KAFKA_HOME/libs"
STAMP_FILE="$KAFKA_HOME/.installed"
CONF_DIR="$KAFKA_HOME/config"
STATE="${KB_KAFKA_STATE_DIR:-$ROOT/.local/kafka}"
DATA="$STATE/data"
TLS="$STATE/tls"
CA_FILE="$TLS/ca.pem"
SERVER_PROPS="$STATE/server.properties"
PID_FILE="$STATE/kafka.pid"
LOG_FILE="$STATE/kafka.log"
CLUSTER_ID_FILE="$STATE/cluster.id"
USERS_FILE="$STATE/scram-users"
LOCK_FILE="$STATE/.lock"
MAIN_CLASS="kafka.Kafka"

log() { printf '[local-stack] kafka: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

log_tail() {
  local file="$1" lines="${2:-60}"
  if [ -f "$file" ]; then
    log "---- last $lines lines of $file ----"
    tail -n "$lines" "$file" >&2 || true
    log "---- end of $file ----"
  else
    log "(log file $file does not exist)"
  fi
}

now_s() { printf '%(%s)T\n' -1; }

# Serialise the verbs that change state (two `start`s at once must not both
# format or launch). The lock is released when the script exits.
take_lock() {
  mkdir -p "$STATE"
  exec 9>"$LOCK_FILE"
  if ! flock -w 600 9; then
    die "could not take $LOCK_FILE within 600 s (another kafka.sh running?)"
  fi
}

# ---------------------------------------------------------------- java ---

java_major() { # JAVA -> prints the feature version (17, 21, 25...)
  local out
  out="$("$1" -version 2>&1 | head -n 1)" || return 1
  out="${out#*version \"}"
  out="${out%%\"*}"
  out="${out#1.}"
  printf '%s\n' "${out%%[.+-]*}"
}

# Prints the java binary to use: $KB_KAFKA_JAVA, else Temurin 25, else the
# newest of JAVA_HOME / PATH / /usr/lib/jvm that is Java 17 or newer.
find_java() {
  local cand major best="" best_major=0
  if [ -n "${KB_KAFKA_JAVA:-}" ]; then
    printf '%s\n' "$KB_KAFKA_JAVA"
    return 0
  fi
  for cand in /usr/lib/jvm/temurin-25-jdk-amd64/bin/java \
    ${JAVA_HOME:+"$JAVA_HOME/bin/java"} \
    "$(command -v java 2>/dev/null || true)" \
    /usr/lib/jvm/*/bin/java; do
    if [ -z "$cand" ] || [ ! -x "$cand" ]; then continue; fi
    major="$(java_major "$cand" 2>/dev/null)" || continue
    case "$major" in '' | *[!0-9]*) continue ;; esac
    if [ "$cand" = /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ] && [ "$major" -ge 17 ]; then
      printf '%s\n' "$cand"
      return 0
    fi
    if [ "$major" -ge 17 ] && [ "$major" -gt "$best_major" ]; then
      best="$cand"
      best_major="$major"
    fi
  done
  [ -n "$best" ] || return 1
  printf '%s\n' "$best"
}

JAVA=""
JAVA_MAJOR=0
need_java() {
  [ -n "$JAVA" ] && return 0
  JAVA="$(find_java)" || die "no Java 17+ found (install openjdk-17-jre-headless or set KB_KAFKA_JAVA)"
  JAVA_MAJOR="$(java_major "$JAVA" 2>/dev/null)" || JAVA_MAJOR=0
  case "$JAVA_MAJOR" in '' | *[!0-9]*) JAVA_MAJOR=0 ;; esac
}

# ------------------------------------------------------------- install ---

is_installed() {
  [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$INSTALL_STAMP" ] &&
    [ -f "$LIBS/kafka_${SCALA_BINARY}-${KAFKA_VERSION}.jar" ] &&
    [ -f "$LIBS/kafka-tools-${KAFKA_VERSION}.jar" ]
}

write_pom() {
  cat >"$KAFKA_HOME/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by deploy/local/kafka.sh: the jars of a local Kafka broker + tools. -->
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.kilonova-broker</groupId>
  <artifactId>local-kafka</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA_BINARY}</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>${KAFKA_VERSION}</version>
      <exclusions>
        <!-- only the connect-plugin-path tool needs it (with Jetty, Jersey, ...) -->
        <exclusion>
          <groupId>org.apache.kafka</groupId>
          <artifactId>connect-runtime</artifactId>
        </exclusion>
      </exclusions>
    </dependency>
    <!-- Kafka logs through slf4j 1.7; route it to log4j2 like the official tarball. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>${LOG4J_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>${LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
EOF
}

write_log_configs() {
  mkdir -p "$CONF_DIR"
  cat >"$CONF_DIR/log4j2.properties" <<'EOF'
# Broker logging (generated by deploy/local/kafka.sh): everything to stdout,
# which kafka.sh redirects to .local/kafka/kafka.log.
status = warn
name = kafka-broker
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
logger.clientconfig.name = org.apache.kafka.clients
logger.clientconfig.level = WARN
logger.appinfo.name = org.apache.kafka.common.utils.AppInfoParser
logger.appinfo.level = WARN
# The full config dumps (about 2000 lines per start) are noise; see server.properties.
logger.configdump.name = org.apache.kafka.common.config.AbstractConfig
logger.configdump.level = WARN
EOF
  cat >"$CONF_DIR/tools-log4j2.properties" <<'EOF'
# Command-line tools logging (generated by deploy/local/kafka.sh): warnings to stderr.
status = warn
name = kafka-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

do_install() {
  if is_installed; then
    write_log_configs
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "mvn not found: installing Debian's maven package"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q maven >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q maven >/dev/null; } ||
        die "could not install maven"
    else
      die "mvn (Apache Maven) is required to install Kafka"
    fi
  }
  need_java
  log "installing Kafka ${KAFKA_VERSION} (Scala ${SCALA_BINARY}) + kafka-tools + log4j ${LOG4J_VERSION} into $LIBS"
  mkdir -p "$KAFKA_HOME"
  write_pom
  local tmp="$KAFKA_HOME/libs.tmp" mvn_log="$KAFKA_HOME/mvn.log" t0
  t0="$(now_s)"
  rm -rf "$tmp"
  # shellcheck disable=SC2086 # KB_MAVEN_ARGS is a list of words on purpose
  if ! mvn -B -q -f "$KAFKA_HOME/pom.xml" ${KB_MAVEN_ARGS:-} \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
    log_tail "$mvn_log" 40
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed (full output: $mvn_log)"
  fi
  [ -f "$tmp/kafka_${SCALA_BINARY}-${KAFKA_VERSION}.jar" ] || die "Maven did not produce kafka_${SCALA_BINARY}-${KAFKA_VERSION}.jar"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  write_log_configs
  printf '%s\n' "$INSTALL_STAMP" >"$STAMP_FILE"
  log "installed $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $(($(now_s) - t0)) s"
}

# ------------------------------------------------------------- configs ---

ensure_tls() {
  [ -s "$CA_FILE" ] && [ -s "$TLS/server.pem" ] && return 0
  command -v openssl >/dev/null 2>&1 || die "openssl is required to make the local TLS certificate"
  log "generating a self-signed CA and server certificate in $TLS"
  rm -rf "$TLS.tmp"
  mkdir -p "$TLS.tmp"
  (
    cd "$TLS.tmp"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout ca.key -out ca.pem -subj "/CN=kilonova-broker local test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key.tmp -out server.csr \
      -subj "/CN=localhost" 2>/dev/null
    # Kafka's PEM key store wants an unencrypted PKCS#8 key.
    openssl pkcs8 -topk8 -nocrypt -in server.key.tmp -out server.key
    rm -f server.key.tmp
    printf '%s\n' \
      "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext
    openssl x509 -req -sha256 -days 3650 -in server.csr -CA ca.pem -CAkey ca.key \
      -CAcreateserial -out server.crt -extfile server.ext 2>/dev/null
    cat server.key server.crt ca.pem >server.pem
    chmod 600 ca.key server.key server.pem
    chmod 644 ca.pem server.crt
  ) || die "certificate generation failed"
  rm -rf "$TLS"
  mv "$TLS.tmp" "$TLS"
}

write_server_props() {
  mkdir -p "$STATE" "$DATA"
  local jaas="org.apache.kafka.common.security.scram.ScramLoginModule required;"
  cat >"$SERVER_PROPS.tmp" <<EOF
# Generated by deploy/local/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=${NODE_ID}
controller.quorum.voters=${NODE_ID}@${HOST}:${PORT_CONTROLLER}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://${HOST}:${PORT_PLAINTEXT},SASL_PLAINTEXT://${HOST}:${PORT_SASL},SASL_SSL://${HOST}:${PORT_SSL},CONTROLLER://${HOST}:${PORT_CONTROLLER}
advertised.listeners=PLAINTEXT://${HOST}:${PORT_PLAINTEXT},SASL_PLAINTEXT://${HOST}:${PORT_SASL},SASL_SSL://${HOST}:${PORT_SSL}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT

# SCRAM-SHA-512 like Hopskotch; the users are added when the storage is formatted.
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=${jaas}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${jaas}

# ACLs like Hopskotch's: a principal without a matching ACL is denied. The tests'
# own users and the listeners without authentication are super users.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=${SUPER_USERS}
allow.everyone.if.no.acl.found=false

# TLS for the SASL_SSL listener (self-signed, see tls/ca.pem).
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=${TLS}/server.pem
listener.name.sasl_ssl.ssl.client.auth=none

log.dirs=${DATA}
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=${OFFSETS_PARTITIONS}
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# About 1 MB per message, like Hopskotch.
message.max.bytes=1048588
replica.fetch.max.bytes=1048576
socket.request.max.bytes=104857600

# Sized for a 2-core test machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=268435456
log.retention.check.interval.ms=300000
EOF
  mv "$SERVER_PROPS.tmp" "$SERVER_PROPS"
}

# Java client configs for the SCRAM listeners (for --command-config of the
# Kafka tools, e.g. perf-producer against 19093/19094).
write_client_props() {
  local jaas="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"${CLIENT_USER}\" password=\"${CLIENT_PASSWORD}\";"
  cat >"$STATE/client-sasl.properties" <<EOF
# Generated by deploy/local/kafka.sh: user ${CLIENT_USER} on ${HOST}:${PORT_SASL}
bootstrap.servers=${HOST}:${PORT_SASL}
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=${jaas}
EOF
  cat >"$STATE/client-ssl.properties" <<EOF
# Generated by deploy/local/kafka.sh: user ${CLIENT_USER} on ${HOST}:${PORT_SSL}
bootstrap.servers=${HOST}:${PORT_SSL}
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=${jaas}
ssl.truststore.type=PEM
ssl.truststore.location=${CA_FILE}
EOF
  chmod 600 "$STATE/client-sasl.properties" "$STATE/client-ssl.properties"
}

classpath() { printf '%s\n' "$LIBS/*"; }

# A log dir without meta.properties holds nothing Kafka would start from.
is_formatted() { [ -f "$DATA/meta.properties" ]; }

ensure_formatted() {
  is_formatted && return 0
  need_java
  local cid args=() u
  rm -rf "$DATA"
  mkdir -p "$DATA"
  cid="$("$JAVA" -cp "$(classpath)" -Dlog4j2.configurationFile="$CONF_DIR/tools-log4j2.properties" \
    kafka.tools.StorageTool random-uuid)" || die "StorageTool random-uuid failed"
  printf '%s\n' "$cid" >"$CLUSTER_ID_FILE"
  for u in "${SCRAM_USERS[@]}"; do
    args+=(--add-scram "SCRAM-SHA-512=[name=${u%%:*},password=${u#*:}]")
  done
  log "formatting $DATA (cluster id $cid, SCRAM-SHA-512 users: ${SCRAM_USERS[*]%%:*})"
  if ! "$JAVA" -cp "$(classpath)" -Dlog4j2.configurationFile="$CONF_DIR/tools-log4j2.properties" \
    kafka.tools.StorageTool format --cluster-id "$cid" --config "$SERVER_PROPS" "${args[@]}" \
    >"$STATE/format.log" 2>&1; then
    log_tail "$STATE/format.log" 30
    die "formatting the storage failed"
  fi
  printf '%s\n' "${SCRAM_USERS[@]%%:*}" >"$USERS_FILE"
}

# A broker formatted by an older version of this script lacks the users added to
# SCRAM_USERS since: add them (once; $USERS_FILE lists the users the broker has).
ensure_scram_users() {
  local u name
  for u in "${SCRAM_USERS[@]}"; do
    name="${u%%:*}"
    grep -qxF "$name" "$USERS_FILE" 2>/dev/null && continue
    log "adding SCRAM-SHA-512 user $name (the storage predates it)"
    "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -cp "$(classpath)" \
      -Dlog4j2.configurationFile="$CONF_DIR/tools-log4j2.properties" \
      org.apache.kafka.tools.ConfigCommand --bootstrap-server "$HOST:$PORT_PLAINTEXT" \
      --alter --entity-type users --entity-name "$name" \
      --add-config "SCRAM-SHA-512=[password=${u#*:}]" >"$STATE/users.log" 2>&1 || {
      log_tail "$STATE/users.log" 20
      die "adding SCRAM user $name failed"
    }
    printf '%s\n' "$name" >>"$USERS_FILE"
  done
}

# ------------------------------------------------------------- process ---

# Prints the pid of our broker and returns 0 when it runs (guards pid reuse by
# checking the command line names our main class and our config).
# When the pid file is gone or stale while our broker runs (a concurrent stop
# or restart by another script lost the race), the broker is found by its
# command line and the pid file written again, so that status, stop and up
# keep working instead of failing on "port in use".
running_pid() {
  local pid
  if [ -f "$PID_FILE" ] && read -r pid <"$PID_FILE" 2>/dev/null && is_our_broker "$pid"; then
    printf '%s\n' "$pid"
    return 0
  fi
  local d
  for d in /proc/[0-9]*; do
    pid="${d#/proc/}"
    if is_our_broker "$pid"; then
      log "pid file $PID_FILE was missing or stale; our broker runs as pid $pid (file rewritten)"
      printf '%s\n' "$pid" >"$PID_FILE"
      printf '%s\n' "$pid"
      return 0
    fi
  done
  return 1
}

# is_our_broker PID — whether PID is a live (not zombie) JVM running our main
# class with our config (guards pid reuse).
is_our_broker() {
  local pid="$1" cmd stat
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  case "$cmd" in *"$MAIN_CLASS $SERVER_PROPS"*) ;; *) return 1 ;; esac
  stat="$(cat "/proc/$pid/stat" 2>/dev/null || true)"
  stat="${stat##*) }"
  [ "${stat:0:1}" != "Z" ]
}

# --- a few Kafka protocol requests in pure bash (no JVM start-up: milliseconds) ---

hex_str() { # STRING -> Kafka STRING (int16 length + bytes) as hex
  printf '%04x' "${#1}"
  printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'
}

# kafka_rpc API_KEY API_VERSION BODY_HEX NBYTES -> hex of the first NBYTES of
# the response (size prefix included) from the PLAINTEXT listener.
# Request header v1; correlation id 0x4b420001; client id "kb".
kafka_rpc() {
  local req esc
  req="$(printf '%04x%04x4b420001' "$1" "$2")$(hex_str kb)$3"
  req="$(printf '%08x' $((${#req} / 2)))$req"
  esc="$(printf '%s' "$req" | sed 's/../\\x&/g')"
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 3 bash -c '
      exec 3<>"/dev/tcp/$0/$1" || exit 1
      printf "$2" >&3
      head -c "$3" <&3 | od -An -v -tx1
    ' "$HOST" "$PORT_PLAINTEXT" "$esc" "$4" 2>/dev/null | tr -d ' \n'
}

# Health: the broker answers an ApiVersions request on the PLAINTEXT listener.
# (Kafka only starts serving requests once the broker is unfenced and caught
# up with the metadata log, so an answer means it is ready.)
api_versions_ok() {
  local r
  r="$(kafka_rpc 18 0 "" 10)" || return 1
  # size(4) correlation id(4) error_code(2)
  [ "${r:8:12}" = "4b4200010000" ]
}

java_string_hash_abs() { # Kafka's Utils.abs(String.hashCode())
  local s="$1" h=0 i c
  for ((i = 0; i < ${#s}; i++)); do
    printf -v c '%d' "'${s:i:1}"
    h=$(((h * 31 + c) & 0xffffffff))
  done
  ((h >= 0x80000000)) && h=$((h - 0x100000000))
  ((h == -2147483648)) && h=0
  ((h < 0)) && h=$((-h))
  printf '%s\n' "$h"
}

# On a new broker __consumer_offsets does not exist until the first consumer
# asks for a coordinator, and right after that consumers get NOT_COORDINATOR
# (hop-client gives up on it). So: ask for a coordinator (which creates the
# topic) and wait until OffsetFetch answers without error for a group on every
# __consumer_offsets partition.
warm_group_coordinator() {
  local timeout="${KB_KAFKA_START_TIMEOUT:-120}" deadline r p n g ready
  local -a groups=()
  deadline=$(($(now_s) + timeout))
  while :; do # FindCoordinator v0, key "kb-warmup" -> size corr error_code(2)
    r="$(kafka_rpc 10 0 "$(hex_str kb-warmup)" 10)" || r=""
    [ "${r:8:12}" = "4b4200010000" ] && break
    [ "$(now_s)" -lt "$deadline" ] || die "the group coordinator did not become available within ${timeout}s (last reply ${r:-none}; log: $LOG_FILE)"
    sleep 0.2
  done
  # one group id per __consumer_offsets partition
  n=0
  while [ "${#groups[@]}" -lt "$OFFSETS_PARTITIONS" ]; do
    g="kb-warmup-$n"
    p=$(($(java_string_hash_abs "$g") % OFFSETS_PARTITIONS))
    [ -n "${groups[$p]:-}" ] || groups[p]="$g"
    n=$((n + 1))
  done
  while :; do
    ready=1
    for g in "${groups[@]}"; do
      # OffsetFetch v2, all topics (null array) -> size corr topics_count(4)=0 error_code(2)
      r="$(kafka_rpc 9 2 "$(hex_str "$g")ffffffff" 14)" || r=""
      if [ "${r:8:20}" != "4b420001000000000000" ]; then
        ready=0
        break
      fi
    done
    [ "$ready" = 1 ] && return 0
    [ "$(now_s)" -lt "$deadline" ] || die "the group coordinator did not load all ${OFFSETS_PARTITIONS} __consumer_offsets partitions within ${timeout}s (group $g: reply ${r:-none}; log: $LOG_FILE)"
    sleep 0.2
  done
}

port_in_use() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# Java 19+: keep a dynamic class-data-sharing archive per launcher next to the
# jars (made on first exit, checked and remade by the JVM when stale). It cuts
# JVM start-up (class loading) by a good part. Off with KB_KAFKA_CDS=0.
cds_opts() {
  [ "${KB_KAFKA_CDS:-1}" = 1 ] || return 0
  [ "$JAVA_MAJOR" -ge 19 ] || return 0
  printf '%s\n' "-XX:+AutoCreateSharedArchive -XX:SharedArchiveFile=$KAFKA_HOME/cds-$1-java$JAVA_MAJOR.jsa -Xlog:cds=off -Xlog:cds+dynamic=off"
}

heap_opts() { printf '%s\n' "${KB_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"; }

start_broker() {
  local p
  for p in "$PORT_PLAINTEXT" "$PORT_SASL" "$PORT_SSL" "$PORT_CONTROLLER"; do
    if port_in_use "$p"; then
      die "port $HOST:$p is already in use by another process (not our broker: no live pid in $PID_FILE)"
    fi
  done
  need_java
  [ -f "$LOG_FILE" ] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  log "starting Kafka ${KAFKA_VERSION} with $JAVA (Java $JAVA_MAJOR)"
  # shellcheck disable=SC2046,SC2016 # heap options are words; $$ is the inner bash's
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    "$JAVA" -server $(heap_opts) \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true $(cds_opts broker) \
    -Dlog4j2.configurationFile="$CONF_DIR/log4j2.properties" \
    -Dkafka.logs.dir="$STATE" \
    -cp "$(classpath)" "$MAIN_CLASS" "$SERVER_PROPS" \
    </dev/null >>"$LOG_FILE" 2>&1 9>&- &
  disown || true
}

wait_healthy() {
  local timeout="${KB_KAFKA_START_TIMEOUT:-120}" deadline pid
  deadline=$(($(now_s) + timeout))
  while :; do
    if api_versions_ok; then
      return 0
    fi
    if ! pid="$(running_pid)"; then
      # give the pid file a moment to appear right after launch
      sleep 0.3
      if ! running_pid >/dev/null; then
        rm -f "$PID_FILE"
        log_tail "$LOG_FILE" 60
        die "the broker exited during start-up (log: $LOG_FILE)"
      fi
    fi
    if [ "$(now_s)" -ge "$deadline" ]; then
      log_tail "$LOG_FILE" 60
      die "the broker did not answer on $HOST:$PORT_PLAINTEXT within ${timeout}s (log: $LOG_FILE; it is still running, pid $(cat "$PID_FILE" 2>/dev/null))"
    fi
    sleep 0.25
  done
}

do_start() {
  local pid t0
  t0="$(now_s)"
  do_install
  if pid="$(running_pid)"; then
    wait_healthy
    log "already running (pid $pid), healthy"
    return 0
  fi
  rm -f "$PID_FILE"
  ensure_tls
  write_server_props
  write_client_props
  ensure_formatted
  start_broker
  wait_healthy
  ensure_scram_users
  warm_group_coordinator
  log "running (pid $(cat "$PID_FILE")), healthy on $HOST:$PORT_PLAINTEXT/$PORT_SASL/$PORT_SSL after $(($(now_s) - t0)) s"
}

do_stop() {
  local pid i
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do # 60 s
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after 60 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

do_status() {
  local pid
  if pid="$(running_pid)"; then
    if api_versions_ok; then
      echo "kafka: running (pid $pid), healthy on $HOST:$PORT_PLAINTEXT (SASL $PORT_SASL, SSL $PORT_SSL), version $KAFKA_VERSION"
      return 0
    fi
    echo "kafka: running (pid $pid) but not answering on $HOST:$PORT_PLAINTEXT"
    return 1
  fi
  if is_installed; then
    echo "kafka: stopped (installed: $KAFKA_VERSION)"
  else
    echo "kafka: stopped (not installed)"
  fi
  return 3
}

do_env() {
  local java
  java="$(find_java 2>/dev/null || true)"
  cat <<EOF
export KB_KAFKA_BROKERS=${HOST}:${PORT_PLAINTEXT}
export KB_KAFKA_SASL_BROKERS=${HOST}:${PORT_SASL}
export KB_KAFKA_SSL_BROKERS=${HOST}:${PORT_SSL}
export KB_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
export KB_KAFKA_USERNAME=${CLIENT_USER}
export KB_KAFKA_PASSWORD=${CLIENT_PASSWORD}
export KB_KAFKA_LIMITED_USERNAME=limited
export KB_KAFKA_LIMITED_PASSWORD=limited-secret
export KB_KAFKA_CA_FILE=${CA_FILE}
export KB_KAFKA_SASL_CLIENT_CONFIG=${STATE}/client-sasl.properties
export KB_KAFKA_SSL_CLIENT_CONFIG=${STATE}/client-ssl.properties
export KB_KAFKA_HOME=${KAFKA_HOME}
export KB_KAFKA_JAVA=${java}
EOF
}

# Runs a client-side main class with the Kafka classpath.
run_tool() {
  local cls="$1"
  shift
  is_installed || die "Kafka is not installed: run '$0 install' first"
  need_java
  # shellcheck disable=SC2086 # heap options are words
  exec "$JAVA" ${KB_KAFKA_TOOLS_HEAP_OPTS:--Xmx512m} -XX:+UseG1GC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$CONF_DIR/tools-log4j2.properties" \
    -cp "$(classpath)" "$cls" "$@"
}

run_perf() { # full JIT for benchmarks (no TieredStopAtLevel)
  local cls="$1"
  shift
  is_installed || die "Kafka is not installed: run '$0 install' first"
  need_java
  # shellcheck disable=SC2086
  exec "$JAVA" ${KB_KAFKA_TOOLS_HEAP_OPTS:--Xmx512m} -XX:+UseG1GC \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$CONF_DIR/tools-log4j2.properties" \
    -cp "$(classpath)" "$cls" "$@"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

verb="${1:-}"
[ $# -gt 0 ] && shift
case "$verb" in
  install)
    take_lock
    do_install
    ;;
  start)
    take_lock
    do_start
    ;;
  stop)
    take_lock
    do_stop
    ;;
  restart)
    take_lock
    do_stop
    do_start
    ;;
  status) do_status ;;
  env) do_env ;;
  reset)
    take_lock
    do_stop
    rm -rf "$DATA" "$CLUSTER_ID_FILE" "$USERS_FILE"
    log "data deleted"
    ;;
  topics-create)
    [ $# -ge 1 ] || die "usage: $0 topics-create NAME [PARTITIONS]"
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$PORT_PLAINTEXT" \
      --create --if-not-exists --topic "$1" --partitions "${2:-1}" --replication-factor 1
    ;;
  topics-list)
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$PORT_PLAINTEXT" --list
    ;;
  perf-producer) run_perf org.apache.kafka.tools.ProducerPerformance "$@" ;;
  perf-consumer) run_perf org.apache.kafka.tools.ConsumerPerformance "$@" ;;
  tool)
    [ $# -ge 1 ] || die "usage: $0 tool MAIN_CLASS [ARGS...]"
    run_tool "$@"
    ;;
  -h | --help | help | '') usage ;;
  *)
    log "unknown verb '$verb'"
    usage
    ;;
esac
