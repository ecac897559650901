#!/usr/bin/env bash
# build.sh — builds the local Kubernetes control plane from the Go module proxy
# into the cache folder (see lib.sh: K8S_CACHE), once.
#
#   bash deploy/local/k8s/build.sh [COMPONENT...]     (default: all)
#
# Components: etcd kube-apiserver kube-controller-manager kube-scheduler kubectl
# kwok keda-operator keda-adapter, plus the manifests of ensure_share. A component
# whose binary already reports the
# pinned version (a NAME.version stamp beside it) is skipped, so a warm run
# takes a second. Each build runs under `nice -n 15` with GOMAXPROCS=2 (the
# machine is shared); override with KB_K8S_NICE / KB_K8S_GOMAXPROCS.
#
# How each is built (a plain `go install pkg@version` refuses modules whose
# go.mod has replace directives, so those get a small wrapper module):
# - etcd: a wrapper requiring go.etcd.io/etcd/{server,api,client,client/pkg,pkg}/v3
#   at one version; builds go.etcd.io/etcd/server/v3.
# - Kubernetes: a wrapper requiring k8s.io/kubernetes and replacing every staging
#   module (k8s.io/api, client-go, ...) with its published v0.x version; the
#   version is stamped at link time like hack/lib/version.sh does (otherwise the
#   server says v0.0.0-master and charts with a kubeVersion constraint refuse).
# - kwok: go install.
# - KEDA: a wrapper requiring github.com/kedacore/keda/v2 with KEDA's own replace;
#   the operator and the metrics adapter, version stamped. KEDA's CRDs and RBAC
#   are copied from the module source into K8S_SHARE.
# Build times are appended to $K8S_CACHE/build-times.log.
set -euo pipefail
# shellcheck source=deploy/local/k8s/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GO="$(find_go)" || die "k8s build: Go is needed but no 'go' binary was found"
NICE="${KB_K8S_NICE:-15}"
export GOMAXPROCS="${KB_K8S_GOMAXPROCS:-2}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
WORK="$K8S_CACHE/work"
ensure_dir "$K8S_BIN" "$K8S_SHARE" "$WORK"

gorun() {
  nice -n "$NICE" "$GO" "$@"
}

# stamp NAME — records the pinned version next to the binary.
stamp() {
  component_version "$1" >"$K8S_BIN/$1.version"
}

# timed NAME FUNCTION — runs FUNCTION, logs and records its wall time.
timed() {
  local name="$1" fn="$2" t0 dt
  t0="$(now_s)"
  "$fn"
  dt=$(($(now_s) - t0))
  log "k8s build: $name done in ${dt}s"
  printf '%s\t%s\t%ss\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$dt" >>"$K8S_CACHE/build-times.log"
}

build_etcd() {
  local d="$WORK/etcd-$ETCD_VERSION" m
  ensure_dir "$d"
  {
    printf 'module kb.local/etcd-build\n\ngo 1.26.0\n\nrequire (\n'
    for m in server/v3 api/v3 client/v3 client/pkg/v3 pkg/v3; do
      printf '\tgo.etcd.io/etcd/%s %s\n' "$m" "$ETCD_VERSION"
    done
    printf ')\n\ntool go.etcd.io/etcd/server/v3\n'
  } >"$d/go.mod"
  (cd "$d" && gorun mod tidy && gorun build -trimpath -ldflags "-s -w" -o "$K8S_BIN/etcd" go.etcd.io/etcd/server/v3)
  stamp etcd
}

k8s_ldflags() {
  local major minor flags="-s -w" key val
  major="${K8S_VERSION#v}"
  minor="${major#*.}"
  minor="${minor%%.*}"
  major="${major%%.*}"
  for kv in "gitVersion=$K8S_VERSION" "gitMajor=$major" "gitMinor=$minor" \
    "gitTreeState=clean" "gitCommit=kilonova-broker-local-build" "buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
    key="${kv%%=*}"
    val="${kv#*=}"
    flags+=" -X k8s.io/client-go/pkg/version.$key=$val -X k8s.io/component-base/version.$key=$val"
  done
  printf '%s\n' "$flags"
}

K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

k8s_module() {
  local d="$WORK/kubernetes-$K8S_VERSION" src staging m
  ensure_dir "$d"
  if [ ! -f "$d/go.sum" ] || ! grep -q "k8s.io/kubernetes $K8S_VERSION" "$d/go.mod" 2>/dev/null; then
    src="$(module_dir "k8s.io/kubernetes@$K8S_VERSION")"
    # The staging modules are the ones k8s.io/kubernetes replaces with ./staging/...
    # (the module zip leaves those folders out: each is its own module).
    staging="$(sed -n 's|^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*|\1|p' "$src/go.mod")"
    [ -n "$staging" ] || die "k8s build: no staging replace directives in $src/go.mod"
    {
      printf 'module kb.local/kubernetes-build\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
      for m in $staging; do
        printf '\t%s => %s %s\n' "$m" "$m" "$K8S_STAGING_VERSION"
      done
      printf ')\n\ntool (\n'
      for m in "${K8S_CMDS[@]}"; do printf '\tk8s.io/kubernetes/cmd/%s\n' "$m"; done
      printf ')\n'
    } >"$d/go.mod"
    rm -f "$d/go.sum"
    (cd "$d" && gorun mod tidy)
  fi
  printf '%s\n' "$d"
}

build_k8s_cmd() {
  local name="$1" d
  d="$(k8s_module)"
  (cd "$d" && gorun build -trimpath -ldflags "$(k8s_ldflags)" -o "$K8S_BIN/$name" "k8s.io/kubernetes/cmd/$name")
  stamp "$name"
}
build_kube-apiserver() { build_k8s_cmd kube-apiserver; }
build_kube-controller-manager() { build_k8s_cmd kube-controller-manager; }
build_kube-scheduler() { build_k8s_cmd kube-scheduler; }
build_kubectl() { build_k8s_cmd kubectl; }

build_kwok() {
  local gobin
  gobin="$(mktemp -d "$WORK/.kwok.XXXXXX")"
  GOBIN="$gobin" gorun install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv -f "$gobin/kwok" "$K8S_BIN/kwok"
  rm -rf "$gobin"
  stamp kwok
}

# module_dir MODULE@VERSION — the module's source folder (downloaded if needed).
module_dir() {
  local dir
  dir="$("$GO" mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    die "k8s build: cannot download the Go module $1"
  fi
  printf '%s\n' "$dir"
}

# ensure_share — manifests the cluster scripts apply, copied from the module
# sources: kwok's default stages (nodes become Ready, pods Pending → Running,
# deleted pods go away) and its ClusterRole; KEDA's CRDs and the operator's
# ClusterRole; Argo CD's Application and AppProject CRDs (for the server-side
# dry run of deploy/argocd/).
ensure_share() {
  local marker="$K8S_SHARE/.complete-$KWOK_VERSION-$KEDA_VERSION-$ARGOCD_VERSION" src
  [ -f "$marker" ] && return 0
  rm -rf "$K8S_SHARE"
  ensure_dir "$K8S_SHARE/kwok-stages" "$K8S_SHARE/kwok-rbac" "$K8S_SHARE/keda/crd" "$K8S_SHARE/keda/rbac" "$K8S_SHARE/argocd"
  src="$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")"
  cp "$src"/kustomize/stage/node/fast/node-initialize.yaml \
    "$src"/kustomize/stage/node/heartbeat/node-heartbeat.yaml \
    "$src"/kustomize/stage/pod/fast/pod-*.yaml "$K8S_SHARE/kwok-stages/"
  cp "$src/kustomize/rbac/role.yaml" "$K8S_SHARE/kwok-rbac/"
  src="$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")"
  cp "$src"/config/crd/bases/*.yaml "$K8S_SHARE/keda/crd/"
  cp "$src/config/rbac/role.yaml" "$K8S_SHARE/keda/rbac/"
  src="$(module_dir "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION")"
  cp "$src/manifests/crds/application-crd.yaml" "$src/manifests/crds/appproject-crd.yaml" "$K8S_SHARE/argocd/"
  chmod -R u+w "$K8S_SHARE"
  touch "$marker"
}

keda_module() {
  local d="$WORK/keda-$KEDA_VERSION" src repl
  ensure_dir "$d"
  src="$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")"
  if [ ! -f "$d/go.sum" ] || ! grep -q "keda/v2 $KEDA_VERSION" "$d/go.mod" 2>/dev/null; then
    # KEDA's own replace directives, carried over (they only apply in the main module).
    repl="$(grep -E '^replace .*=>' "$src/go.mod" || true)"
    {
      printf 'module kb.local/keda-build\n\ngo 1.26.0\n\nrequire github.com/kedacore/keda/v2 %s\n\n' "$KEDA_VERSION"
      [ -z "$repl" ] || printf '%s\n\n' "$repl"
      printf 'tool (\n\tgithub.com/kedacore/keda/v2/cmd/operator\n\tgithub.com/kedacore/keda/v2/cmd/adapter\n)\n'
    } >"$d/go.mod"
    rm -f "$d/go.sum"
    (cd "$d" && gorun mod tidy)
  fi
  printf '%s\n' "$d"
}

keda_ldflags() {
  printf '%s\n' "-s -w -X github.com/kedacore/keda/v2/version.Version=${KEDA_VERSION#v} -X github.com/kedacore/keda/v2/version.GitCommit=kilonova-broker-local-build"
}

build_keda-operator() {
  local d
  d="$(keda_module)"
  (cd "$d" && gorun build -trimpath -ldflags "$(keda_ldflags)" -o "$K8S_BIN/keda-operator" github.com/kedacore/keda/v2/cmd/operator)
  stamp keda-operator
}

build_keda-adapter() {
  local d
  d="$(keda_module)"
  (cd "$d" && gorun build -trimpath -ldflags "$(keda_ldflags)" -o "$K8S_BIN/keda-adapter" github.com/kedacore/keda/v2/cmd/adapter)
  stamp keda-adapter
}

main() {
  local want=("$@") name t0 built=0
  [ "${#want[@]}" -gt 0 ] || want=("${K8S_COMPONENTS[@]}")
  t0="$(now_s)"
  ensure_share
  for name in "${want[@]}"; do
    component_version "$name" >/dev/null || die "k8s build: unknown component '$name' (one of: ${K8S_COMPONENTS[*]})"
    if component_built "$name"; then
      continue
    fi
    log "k8s build: building $name $(component_version "$name") (cold builds take minutes; nice $NICE, GOMAXPROCS=$GOMAXPROCS)"
    timed "$name" "build_$name"
    component_built "$name" || die "k8s build: $name was built but does not carry version $(component_version "$name")"
    built=$((built + 1))
  done
  if [ "$built" -gt 0 ]; then
    log "k8s build: $built component(s) built in $(($(now_s) - t0))s into $K8S_BIN"
    printf '%s\tall(%s)\t%ss\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" "$(($(now_s) - t0))" >>"$K8S_CACHE/build-times.log"
  fi
}

main "$@"
