/**
 * The local-stack scripts' shared helpers (deploy/local/lib.sh), run in bash: a process started as
 * `setsid env VAR=... BINARY &` is named by BINARY only after two execs, and a liveness check by
 * command name made before then called it dead (the KEDA operator's start in CI).
 */
import assert from "node:assert/strict";

const LIB = new URL("./lib.sh", import.meta.url).pathname;

async function bash(script: string): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: ["-c", `set -euo pipefail; . "${LIB}"; ${script}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.ok(out.success, `bash failed: ${new TextDecoder().decode(out.stderr)}`);
  return text;
}

Deno.test("wait_exec: returns once a setsid + env start runs its binary", async () => {
  const out = await bash(`
    setsid env KB_LIB_TEST=1 sleep 5 </dev/null >/dev/null 2>&1 &
    pid=$!
    wait_exec "$pid" sleep
    if pid_is_alive "$pid" sleep; then echo alive; else echo "not yet: $(cat /proc/$pid/comm)"; fi
    kill "$pid"`);
  assert.equal(out, "alive");
});

Deno.test("wait_exec: returns at once for a process that exited, and pid_is_alive says so", async () => {
  const t0 = performance.now();
  const out = await bash(`
    true & pid=$!
    wait "$pid"
    wait_exec "$pid" sleep
    if pid_is_alive "$pid" sleep; then echo alive; else echo gone; fi`);
  assert.equal(out, "gone");
  assert.ok(performance.now() - t0 < 3_000, "an ended process is not waited for");
});
