#!/usr/bin/env bash
# test.sh — `deno task test:k8s`: the Helm chart on a real local Kubernetes
# control plane. Starts the local nats-server (KEDA's scaler reads its
# monitoring endpoint) and helm, builds the control plane once into the cache
# and starts it (deploy/local/k8s/cluster.sh), runs deploy/local/k8s/*_test.ts,
# stops the control plane (KB_K8S_KEEP=1 keeps it running) and ends with the
# line `N passed, N failed`.
#
#   bash deploy/local/k8s/test.sh [deno test args...]
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT" || exit 1

fail() {
  echo "test:k8s: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

# KB_TEST_K8S_SERVICES="helm" keeps a KB_NATS_URL and KB_NATS_MONITOR_URL of your own
# (a private nats-server: the test deletes and recreates the KB_DEMO stream).
services="${KB_TEST_K8S_SERVICES:-nats helm}"
# shellcheck disable=SC2086
bash deploy/local/stack.sh up $services || fail "the local servers did not start (see above)"
# shellcheck disable=SC2086
eval "$(bash deploy/local/stack.sh env $services)"

t0=$SECONDS
bash deploy/local/k8s/build.sh || fail "building the control plane failed (see above)"
echo "test:k8s: control plane binaries ready in $((SECONDS - t0))s" >&2
t1=$SECONDS
# Stopped at exit even when it did not start: a part that did (etcd, the API server...) would
# otherwise keep running and hold its port.
if [ "${KB_K8S_KEEP:-0}" != 1 ]; then
  trap 'bash deploy/local/k8s/cluster.sh stop' EXIT
fi
bash deploy/local/k8s/cluster.sh start || fail "the control plane did not start (see above)"
echo "test:k8s: control plane started in $((SECONDS - t1))s" >&2
eval "$(bash deploy/local/k8s/cluster.sh env)"
export PATH="$ROOT/.tools/bin:$PATH"

log="$(mktemp)"
deno test -A --no-prompt deploy/local/k8s/ "$@" 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
summary="$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1)"
rm -f "$log"
[ -n "$summary" ] || fail "deno test printed no summary (type errors or a crash above)"
passed="$(sed -E 's/^[A-Z a-z]+\| ([0-9]+) passed.*/\1/' <<<"$summary")"
failed="$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")"
echo
echo "$passed passed, $failed failed"
if [ "$code" -ne 0 ] && [ "$failed" -eq 0 ]; then exit "$code"; fi
[ "$failed" -eq 0 ]
