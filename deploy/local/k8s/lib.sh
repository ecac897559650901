# shellcheck shell=bash disable=SC2034
# lib.sh — versions and paths of the local Kubernetes control plane
# (deploy/local/k8s/). Sourced by build.sh and cluster.sh; sources
# deploy/local/lib.sh for the shared helpers (log, die, wait_for, pid files).
#
#   K8S_CACHE   where built binaries live, outside the work tree so a fresh
#               clone on the same machine (CI) reuses them:
#               $KB_K8S_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/kilonova-broker/k8s
#   K8S_STATE   run-time state (certificates, etcd data, logs, pid files):
#               $KB_K8S_STATE, else $ROOT/.local/k8s (git-ignored)

if [ -n "${_KB_K8S_LIB_LOADED:-}" ]; then
  return 0
fi
_KB_K8S_LIB_LOADED=1

# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# Pinned versions. Kubernetes' staging modules (k8s.io/api, client-go, ...) are
# published as v0.<minor>.<patch> next to each k8s.io/kubernetes release.
K8S_VERSION="v1.36.3"
K8S_STAGING_VERSION="v0.36.3"
ETCD_VERSION="v3.6.16"
KWOK_VERSION="v0.8.0"
KEDA_VERSION="v2.21.0"
# Only the CRDs are taken from this module (no build).
ARGOCD_VERSION="v3.5.7"

K8S_CACHE="${KB_K8S_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/kilonova-broker/k8s}"
K8S_BIN="$K8S_CACHE/bin"
K8S_SHARE="$K8S_CACHE/share"
K8S_STATE="${KB_K8S_STATE:-$LOCAL_DIR/k8s}"

# Ports on 127.0.0.1 (all overridable).
K8S_ETCD_PORT="${KB_K8S_ETCD_PORT:-16379}"
K8S_ETCD_PEER_PORT="${KB_K8S_ETCD_PEER_PORT:-16380}"
K8S_API_PORT="${KB_K8S_API_PORT:-16443}"
K8S_KCM_PORT="${KB_K8S_KCM_PORT:-16257}"
K8S_SCHED_PORT="${KB_K8S_SCHED_PORT:-16259}"
K8S_KWOK_PORT="${KB_K8S_KWOK_PORT:-16280}"
K8S_KEDA_GRPC_PORT="${KB_K8S_KEDA_GRPC_PORT:-16666}"
K8S_KEDA_METRICS_PORT="${KB_K8S_KEDA_METRICS_PORT:-16281}"
K8S_KEDA_HEALTH_PORT="${KB_K8S_KEDA_HEALTH_PORT:-16282}"
K8S_KEDA_ADAPTER_METRICS_PORT="${KB_K8S_KEDA_ADAPTER_METRICS_PORT:-16283}"

# Service ClusterIPs come from a loopback range: no kube-proxy runs here, and
# the aggregation layer dials an APIService's ClusterIP, so the KEDA metrics
# adapter, a local process, listens on the ClusterIP its Service is given.
K8S_SERVICE_CIDR="${KB_K8S_SERVICE_CIDR:-127.77.0.0/16}"
K8S_KEDA_ADAPTER_IP="${KB_K8S_KEDA_ADAPTER_IP:-127.77.0.100}"
K8S_KEDA_ADAPTER_PORT="${KB_K8S_KEDA_ADAPTER_PORT:-16444}"

# find_go — prints the path of the go command.
find_go() {
  if command -v go >/dev/null 2>&1; then
    command -v go
    return 0
  fi
  local g
  for g in /usr/local/go/bin/go /usr/lib/go/bin/go "${HOME:-/root}/go/bin/go"; do
    if [ -x "$g" ]; then
      printf '%s\n' "$g"
      return 0
    fi
  done
  return 1
}

# The binaries of the control plane and the version each must carry.
K8S_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok keda-operator keda-adapter)

# component_version NAME — the pinned version of a component.
component_version() {
  case "$1" in
    etcd) printf '%s\n' "$ETCD_VERSION" ;;
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl) printf '%s\n' "$K8S_VERSION" ;;
    kwok) printf '%s\n' "$KWOK_VERSION" ;;
    keda-operator | keda-adapter) printf '%s\n' "$KEDA_VERSION" ;;
    *) return 1 ;;
  esac
}

# component_built NAME — true when the cached binary exists with the pinned version.
component_built() {
  local name="$1" want have=""
  want="$(component_version "$name")" || return 1
  [ -x "$K8S_BIN/$name" ] || return 1
  [ -f "$K8S_BIN/$name.version" ] || return 1
  IFS= read -r have <"$K8S_BIN/$name.version" || true
  [ "$have" = "$want" ]
}
