#!/usr/bin/env bash
# helm.sh — the Helm v3 client in .tools/bin, built from the Go module proxy.
#
#   bash deploy/local/helm.sh install|status|env|version
#
# install  builds helm with `go install` into .tools/bin (skipped when the binary
#          there already reports the pinned version), stamping the version, the
#          Kubernetes version it assumes for `helm template`/`helm lint`, and
#          the tree state at link time. A plain `go install` leaves helm
#          reporting "v3.22" and assuming Kubernetes v1.20, so charts with a
#          `kubeVersion` constraint and API deprecation checks misbehave (the
#          release Makefile sets these with -ldflags; we do the same).
# status   exits 0 if the pinned helm is installed
# env      prints `export KB_HELM=...` for scripts and tests
# version  prints `helm version` of the installed binary
#
# helm is a client only here: nothing is started, so start/stop/restart are
# accepted and do nothing beyond `install`.
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HELM_VERSION="v3.22.0"
# helm v3.22.0 is built against k8s.io/client-go v0.37.0; its release Makefile
# derives the assumed Kubernetes version 1.37 from that (0+1, 37).
HELM_KUBE_MAJOR="1"
HELM_KUBE_MINOR="37"
HELM_BIN="$TOOLS_BIN/helm"
HELM_PKG="helm.sh/helm/v3/cmd/helm@$HELM_VERSION"

version_ok() {
  [ -x "$HELM_BIN" ] || return 1
  local out
  out="$("$HELM_BIN" version --template '{{.Version}}' 2>/dev/null)" || return 1
  [ "$out" = "$HELM_VERSION" ]
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

do_install() {
  if version_ok; then
    return 0
  fi
  if [ -e "$HELM_BIN" ]; then
    log "helm: $HELM_BIN is not $HELM_VERSION, rebuilding"
  fi
  local go gobin t0 ldflags
  go="$(find_go)" || die "helm: Go is needed to build $HELM_PKG but no 'go' binary was found"
  ensure_dir "$TOOLS_BIN"
  gobin="$(mktemp -d "$TOOLS_BIN/.go-install.XXXXXX")"
  ldflags="-s -w"
  ldflags+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$HELM_KUBE_MAJOR"
  ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_KUBE_MINOR"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$HELM_KUBE_MAJOR"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_KUBE_MINOR"
  log "helm: building $HELM_PKG with go install (a few minutes on a fresh machine) ..."
  t0="$(now_s)"
  if ! CGO_ENABLED=0 GOBIN="$gobin" "$go" install -trimpath -ldflags "$ldflags" "$HELM_PKG" >&2; then
    rm -rf "$gobin"
    die "helm: go install $HELM_PKG failed"
  fi
  mv -f "$gobin/helm" "$HELM_BIN"
  rm -rf "$gobin"
  log "helm: built $HELM_VERSION in $(($(now_s) - t0))s"
  version_ok || die "helm: $HELM_BIN does not report $HELM_VERSION after go install"
}

do_status() {
  if version_ok; then
    log "helm: $HELM_VERSION installed at $HELM_BIN"
    return 0
  fi
  log "helm: $HELM_VERSION not installed (run: bash deploy/local/helm.sh install)"
  return 1
}

case "${1:-}" in
  install | start | restart) do_install ;;
  stop) : ;;
  status) do_status ;;
  env) printf 'export KB_HELM=%s\n' "$HELM_BIN" ;;
  version)
    do_install
    "$HELM_BIN" version
    ;;
  *)
    printf 'usage: %s install|status|env|version\n' "$0" >&2
    exit 2
    ;;
esac
