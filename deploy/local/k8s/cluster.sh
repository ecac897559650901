#!/usr/bin/env bash
# cluster.sh — a real Kubernetes control plane on 127.0.0.1, for the chart test.
#
#   bash deploy/local/k8s/cluster.sh install|start|stop|restart|status|env
#
# install  builds the binaries once into the cache (build.sh; skipped when built)
# start    install, then starts (each step skipped when already running):
#            etcd (fresh data on every cold start), kube-apiserver (RBAC on,
#            client certificates from a local CA made with openssl, the
#            aggregation layer), kube-controller-manager, kube-scheduler, kwok
#            with two fake nodes (pods are scheduled and reach Running; their
#            containers do not run) and KEDA (operator and metrics adapter,
#            served to the HPA controller through the aggregation layer)
# stop     stops every process by its pid file, in reverse order
# status   exits 0 when every process is alive and the API server is ready
# env      prints `export KB_K8S_KUBECONFIG=...` (admin identity), KB_KUBECTL,
#          KB_K8S_BIN and KB_K8S_SHARE (manifests from the module sources)
#
# Nothing here needs a container engine, root privileges beyond writing files,
# or a network beyond the loopback interface. Logs: $K8S_STATE/logs/NAME.log.
set -euo pipefail
# shellcheck source=deploy/local/k8s/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKI="$K8S_STATE/pki"
RUN="$K8S_STATE/run"
LOGS="$K8S_STATE/logs"
CONF="$K8S_STATE/conf"
ADMIN_KUBECONFIG="$CONF/admin.kubeconfig"
API_URL="https://127.0.0.1:$K8S_API_PORT"
KWOK_NODES="${KB_K8S_NODES:-2}"
# Order of start; stop goes the other way.
PROCS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok keda-operator keda-adapter)

kubectl_admin() {
  "$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"
}

# ---------------------------------------------------------------- certificates

# sign NAME SUBJECT EXT_KEY_USAGE [SUBJECT_ALT_NAMES] — a key and a certificate
# signed by the local CA.
sign() {
  local name="$1" subj="$2" eku="$3" san="${4:-}" ext
  ext="$PKI/$name.ext"
  {
    printf 'basicConstraints=critical,CA:FALSE\n'
    printf 'keyUsage=critical,digitalSignature,keyEncipherment\n'
    printf 'extendedKeyUsage=%s\n' "$eku"
    [ -z "$san" ] || printf 'subjectAltName=%s\n' "$san"
  } >"$ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/${5:-ca}.crt" -CAkey "$PKI/${5:-ca}.key" \
    -CAcreateserial -days 825 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

make_ca() {
  local name="$1" cn="$2"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI/$name.key" -subj "/CN=$cn" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/$name.crt" 2>/dev/null
}

ensure_pki() {
  if [ -f "$PKI/.complete" ]; then return 0; fi
  command -v openssl >/dev/null || die "k8s: openssl is needed to make the cluster's certificates (apt-get install openssl)"
  rm -rf "$PKI"
  ensure_dir "$PKI"
  make_ca ca "kb-local-ca"
  make_ca front-proxy-ca "kb-local-front-proxy-ca"
  local svc_ip="${K8S_SERVICE_CIDR%.*/*}.1" dns
  dns="DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign apiserver "/CN=kube-apiserver" serverAuth "IP:127.0.0.1,IP:$svc_ip,$dns"
  # The admin identity of scripts and tests (system:masters, like kubeadm's admin.conf).
  sign admin "/O=system:masters/CN=kb-admin" clientAuth
  sign kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
  sign kube-scheduler "/CN=system:kube-scheduler" clientAuth
  sign kwok "/CN=kwok-controller" clientAuth
  sign keda-client "/CN=keda-operator" clientAuth
  # KEDA's own TLS: the metrics adapter's serving certificate (the aggregation
  # layer checks it against the APIService's caBundle) and the operator's gRPC
  # metrics service, which the adapter reaches with mutual TLS.
  sign keda "/CN=keda-operator" "serverAuth,clientAuth" \
    "IP:127.0.0.1,IP:$K8S_KEDA_ADAPTER_IP,DNS:localhost,DNS:keda-operator.keda.svc,DNS:keda-metrics-apiserver.keda.svc"
  sign front-proxy-client "/CN=front-proxy-client" clientAuth "" front-proxy-ca
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  # KEDA reads ca.crt, tls.crt and tls.key from one folder.
  ensure_dir "$PKI/keda-certs"
  cp "$PKI/ca.crt" "$PKI/keda-certs/ca.crt"
  cp "$PKI/keda.crt" "$PKI/keda-certs/tls.crt"
  cp "$PKI/keda.key" "$PKI/keda-certs/tls.key"
  touch "$PKI/.complete"
}

# kubeconfig NAME CERT — a kubeconfig for the identity of certificate CERT.
kubeconfig() {
  local name="$1" cert="$2"
  cat >"$CONF/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: kb-local
    cluster:
      server: $API_URL
      certificate-authority: $PKI/ca.crt
users:
  - name: $name
    user:
      client-certificate: $PKI/$cert.crt
      client-key: $PKI/$cert.key
contexts:
  - name: kb-local
    context:
      cluster: kb-local
      user: $name
current-context: kb-local
EOF
}

ensure_conf() {
  ensure_dir "$CONF" "$RUN" "$LOGS"
  kubeconfig admin admin
  kubeconfig kube-controller-manager kube-controller-manager
  kubeconfig kube-scheduler kube-scheduler
  kubeconfig kwok kwok
  kubeconfig keda keda-client
  # kwok's configuration: its stages from the kwok module (built into the cache).
  {
    cat <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  cidr: 198.18.0.1/16
  nodeIP: 198.18.255.1
  manageAllNodes: false
  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
  serverAddress: 127.0.0.1:$K8S_KWOK_PORT
  enableCRDs: []
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 2
  nodeLeaseParallelism: 2
  nodeLeaseDurationSeconds: 40
  podsOnNodeSyncParallelism: 2
EOF
    local f
    for f in "$K8S_SHARE"/kwok-stages/*.yaml; do
      printf -- '---\n'
      cat "$f"
    done
  } >"$CONF/kwok.yaml"
}

# ---------------------------------------------------------------- processes

pidfile() { printf '%s/%s.pid\n' "$RUN" "$1"; }

is_running() {
  pidfile_alive "$(pidfile "$1")" "$1" >/dev/null
}

# launch NAME ARGS... — starts $K8S_BIN/NAME in its own session, logging to
# $LOGS/NAME.log, and records its pid.
launch() {
  local name="$1"
  shift
  if is_running "$name"; then return 0; fi
  : >"$LOGS/$name.log"
  setsid "$K8S_BIN/$name" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  recorded "$name" "$!"
}

# recorded NAME PID — writes NAME's pid file, then waits until PID runs NAME
# (wait_exec): before that, is_running, which checks the command name, would
# call it dead, and a wait_up started then gives up at once.
recorded() {
  printf '%s\n' "$2" >"$(pidfile "$1")"
  wait_exec "$2" "$1"
}

_alive_or_fail() {
  is_running "$1" || return 2
  return 1
}

# wait_up NAME TIMEOUT CHECK... — waits until CHECK succeeds while NAME lives.
wait_up() {
  local name="$1" timeout="$2"
  shift 2
  _check() {
    if "$@"; then return 0; fi
    _alive_or_fail "$name"
  }
  wait_for "$timeout" "k8s: $name" _check "$@" || fail_with_log "k8s: $name" "$LOGS/$name.log" "did not become ready"
}

https_ok() {
  curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$1" >/dev/null
}
insecure_ok() {
  curl -skf --max-time 2 "$1" >/dev/null
}

port_free_or_die() {
  local name="$1" port="$2"
  if ! is_running "$name" && port_open "$port"; then
    die "k8s: port $port (for $name) is taken by another process; set KB_K8S_*_PORT (see deploy/local/k8s/lib.sh)"
  fi
}

start_etcd() {
  if is_running etcd; then return 0; fi
  port_free_or_die etcd "$K8S_ETCD_PORT"
  rm -rf "$K8S_STATE/etcd"
  launch etcd --name kb-local --data-dir "$K8S_STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
    --initial-cluster "kb-local=http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level warn
  wait_up etcd 30 curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$K8S_ETCD_PORT/health"
}

start_apiserver() {
  if is_running kube-apiserver; then return 0; fi
  port_free_or_die kube-apiserver "$K8S_API_PORT"
  launch kube-apiserver \
    --etcd-servers "http://127.0.0.1:$K8S_ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$K8S_API_PORT" \
    --endpoint-reconciler-type none \
    --service-cluster-ip-range "$K8S_SERVICE_CIDR" \
    --authorization-mode RBAC \
    --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User \
    --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" \
    --proxy-client-key-file "$PKI/front-proxy-client.key" \
    --enable-aggregator-routing=false \
    --allow-privileged=true --profiling=false
  wait_up kube-apiserver 120 https_ok "$API_URL/readyz"
}

start_controller_manager() {
  if is_running kube-controller-manager; then return 0; fi
  port_free_or_die kube-controller-manager "$K8S_KCM_PORT"
  # HPA: sync every 5 s and a 15 s scale-down window (default 5 min) so the
  # lag test sees scale-down within a test's patience. kwok's node heartbeat
  # comes every 20-45 s, so a node is not declared lost before 2 min.
  launch kube-controller-manager \
    --kubeconfig "$CONF/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "$CONF/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "$CONF/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$K8S_KCM_PORT" \
    --use-service-account-credentials=true \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --leader-elect=false --profiling=false \
    --horizontal-pod-autoscaler-sync-period 5s \
    --horizontal-pod-autoscaler-downscale-stabilization 15s \
    --node-monitor-grace-period 2m
  wait_up kube-controller-manager 60 insecure_ok "https://127.0.0.1:$K8S_KCM_PORT/healthz"
}

start_scheduler() {
  if is_running kube-scheduler; then return 0; fi
  port_free_or_die kube-scheduler "$K8S_SCHED_PORT"
  launch kube-scheduler \
    --kubeconfig "$CONF/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$CONF/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$CONF/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$K8S_SCHED_PORT" \
    --leader-elect=false --profiling=false
  wait_up kube-scheduler 60 insecure_ok "https://127.0.0.1:$K8S_SCHED_PORT/healthz"
}

apply_bootstrap() {
  # Identities of kwok and KEDA: their upstream ClusterRoles (from the module
  # sources, built into the cache), bound to their certificates' users.
  kubectl_admin create namespace keda >/dev/null 2>&1 || kubectl_admin get namespace keda >/dev/null
  kubectl_admin apply -f "$K8S_SHARE/kwok-rbac/role.yaml" >/dev/null
  kubectl_admin apply -f "$K8S_SHARE/keda/rbac/role.yaml" >/dev/null
  kubectl_admin apply --server-side -f "$K8S_SHARE/keda/crd/" >/dev/null
  kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kwok-controller}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kwok-controller}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: kwok-controller}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: keda-operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: keda-operator}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: keda-operator}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: keda-operator, namespace: keda}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: keda-operator}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: keda-operator}]
---
# The metrics adapter delegates authentication and authorization to the API server.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: keda-operator-auth-delegator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:auth-delegator"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: keda-operator}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: keda-operator-auth-reader, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: keda-operator}]
---
# The external metrics API, served by the KEDA adapter. No kube-proxy runs
# here, and with aggregator routing off the API server dials the Service's
# ClusterIP, which is a loopback address the adapter listens on. The
# EndpointSlice only tells the availability check that the service has a
# ready endpoint; its address (TEST-NET-1) is never dialed.
apiVersion: v1
kind: Service
metadata: {name: keda-metrics-apiserver, namespace: keda}
spec:
  clusterIP: $K8S_KEDA_ADAPTER_IP
  ports: [{name: https, port: $K8S_KEDA_ADAPTER_PORT, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: keda-metrics-apiserver-local
  namespace: keda
  labels:
    kubernetes.io/service-name: keda-metrics-apiserver
    endpointslice.kubernetes.io/managed-by: kilonova-broker-local
addressType: IPv4
endpoints: [{addresses: ["192.0.2.100"], conditions: {ready: true}}]
ports: [{name: https, port: $K8S_KEDA_ADAPTER_PORT, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.external.metrics.k8s.io}
spec:
  group: external.metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  caBundle: $(base64 -w0 "$PKI/ca.crt")
  service: {name: keda-metrics-apiserver, namespace: keda, port: $K8S_KEDA_ADAPTER_PORT}
EOF
}

node_ready() {
  local n="$1" s
  s="$(kubectl_admin get node "$n" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" || return 1
  [ "$s" = "True" ]
}

start_kwok() {
  if ! is_running kwok; then
    port_free_or_die kwok "$K8S_KWOK_PORT"
    launch kwok --kubeconfig "$CONF/kwok.kubeconfig" --config "$CONF/kwok.yaml"
  fi
  local i n
  for ((i = 1; i <= KWOK_NODES; i++)); do
    n="kwok-node-$i"
    kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels:
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  capacity: {cpu: "16", memory: 64Gi, pods: "110"}
  allocatable: {cpu: "16", memory: 64Gi, pods: "110"}
EOF
    wait_up kwok 60 node_ready "$n"
    # New nodes carry the not-ready taint until the node controller sees them
    # Ready; drop it at once rather than wait for its next pass.
    kubectl_admin taint node "$n" node.kubernetes.io/not-ready- >/dev/null 2>&1 || true
  done
}

apiservice_available() {
  local s
  s="$(kubectl_admin get apiservice v1beta1.external.metrics.k8s.io \
    -o jsonpath='{.status.conditions[?(@.type=="Available")].status}' 2>/dev/null)" || return 1
  [ "$s" = "True" ]
}

start_keda() {
  local env=(env KUBECONFIG="$CONF/keda.kubeconfig" WATCH_NAMESPACE="" POD_NAMESPACE=keda
    KEDA_CLUSTER_OBJECT_NAMESPACE=keda KEDA_HTTP_DEFAULT_TIMEOUT=3000)
  if ! is_running keda-operator; then
    port_free_or_die keda-operator "$K8S_KEDA_GRPC_PORT"
    : >"$LOGS/keda-operator.log"
    setsid "${env[@]}" "$K8S_BIN/keda-operator" \
      --leader-elect=false --enable-cert-rotation=false \
      --enable-webhook-patching=false --enable-apiservice-patching=false \
      --cert-dir "$PKI/keda-certs" --ca-dir "$PKI/keda-certs" \
      --metrics-bind-address "127.0.0.1:$K8S_KEDA_METRICS_PORT" \
      --health-probe-bind-address "127.0.0.1:$K8S_KEDA_HEALTH_PORT" \
      --metrics-service-bind-address "127.0.0.1:$K8S_KEDA_GRPC_PORT" \
      --zap-log-level info --zap-encoder console \
      >>"$LOGS/keda-operator.log" 2>&1 </dev/null &
    recorded keda-operator "$!"
  fi
  wait_up keda-operator 60 curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$K8S_KEDA_HEALTH_PORT/readyz"
  if ! is_running keda-adapter; then
    : >"$LOGS/keda-adapter.log"
    setsid "${env[@]}" "$K8S_BIN/keda-adapter" \
      --bind-address "$K8S_KEDA_ADAPTER_IP" --secure-port "$K8S_KEDA_ADAPTER_PORT" \
      --cert-dir "$PKI/keda-certs" \
      --tls-cert-file "$PKI/keda-certs/tls.crt" --tls-private-key-file "$PKI/keda-certs/tls.key" \
      --client-ca-file "$PKI/keda-certs/ca.crt" \
      --authentication-kubeconfig "$CONF/keda.kubeconfig" \
      --authorization-kubeconfig "$CONF/keda.kubeconfig" \
      --lister-kubeconfig "$CONF/keda.kubeconfig" \
      --metrics-service-address "127.0.0.1:$K8S_KEDA_GRPC_PORT" \
      --port "$K8S_KEDA_ADAPTER_METRICS_PORT" \
      --zap-log-level info --zap-encoder console \
      >>"$LOGS/keda-adapter.log" 2>&1 </dev/null &
    recorded keda-adapter "$!"
  fi
  wait_up keda-adapter 90 apiservice_available
}

do_install() {
  bash "$(dirname "${BASH_SOURCE[0]}")/build.sh"
}

do_start() {
  do_install
  local t0
  t0="$(now_s)"
  ensure_pki
  ensure_conf
  start_etcd
  start_apiserver
  apply_bootstrap
  start_controller_manager
  start_scheduler
  start_kwok
  start_keda
  log "k8s: control plane ready in $(($(now_s) - t0))s at $API_URL (kubeconfig: $ADMIN_KUBECONFIG)"
}

do_stop() {
  local i name pid
  for ((i = ${#PROCS[@]} - 1; i >= 0; i--)); do
    name="${PROCS[i]}"
    if pid="$(pidfile_alive "$(pidfile "$name")" "$name")"; then
      stop_pid "k8s: $name" "$pid" "$name" TERM 20
    fi
    rm -f "$(pidfile "$name")"
  done
}

do_status() {
  local name rc=0
  for name in "${PROCS[@]}"; do
    if is_running "$name"; then
      log "k8s: $name running (pid $(pid_read "$(pidfile "$name")"))"
    else
      log "k8s: $name not running"
      rc=1
    fi
  done
  if [ -f "$PKI/admin.crt" ] && https_ok "$API_URL/readyz"; then
    log "k8s: API server ready at $API_URL"
  else
    log "k8s: API server not ready at $API_URL"
    rc=1
  fi
  return "$rc"
}

do_env() {
  printf 'export KB_K8S_KUBECONFIG=%s\n' "$ADMIN_KUBECONFIG"
  printf 'export KB_KUBECTL=%s\n' "$K8S_BIN/kubectl"
  printf 'export KB_K8S_BIN=%s\n' "$K8S_BIN"
  printf 'export KB_K8S_SHARE=%s\n' "$K8S_SHARE"
}

run_verb "${1:-}"
