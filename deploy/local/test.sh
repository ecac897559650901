#!/usr/bin/env bash
# test.sh — the whole test suite (`deno task test`): starts the real local
# servers the tests need (installing them if missing), exports their addresses,
# runs every test, and ends with the line `N passed, N failed`.
#
#   bash deploy/local/test.sh [deno test args...]
#
# KB_TEST_SERVICES overrides the servers started (default: nats postgres kafka hop helm keycloak
# chromium; helm and chromium are clients: "starting" them installs them).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

services="${KB_TEST_SERVICES:-nats postgres kafka hop helm keycloak chromium}"
# shellcheck disable=SC2086
if ! bash deploy/local/stack.sh up $services; then
  echo "test: the local servers did not start (see the messages above)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
# shellcheck disable=SC2086
eval "$(bash deploy/local/stack.sh env $services)"
export PATH="$ROOT/.tools/bin:$PATH"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# deploy/local/k8s/ needs a Kubernetes control plane: `deno task test:k8s` runs it.
deno test -A --no-prompt --ignore=deploy/local/k8s/ "$@" 2>&1 | tee "$log"
code=${PIPESTATUS[0]}

# Deno's closing line: "ok | 12 passed (3 steps) | 0 failed (1s)" or "FAILED | ...".
summary="$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1)"
if [ -z "$summary" ]; then
  echo "test: deno test printed no summary (type errors or a crash above)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
passed="$(sed -E 's/^[A-Z a-z]+\| ([0-9]+) passed.*/\1/' <<<"$summary")"
failed="$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")"
echo
echo "$passed passed, $failed failed"
if [ "$code" -ne 0 ] && [ "$failed" -eq 0 ]; then exit "$code"; fi
[ "$failed" -eq 0 ] || exit 1
exit 0
