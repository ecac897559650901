/** The process registry: its labels and process series, and an idle process that sleeps. */
import assert from "node:assert/strict";
import { EVENT_LOOP_SAMPLE_MS, processRegistry } from "./metrics.ts";

Deno.test("processRegistry: process series with the replica's labels", async () => {
  const registry = processRegistry({ replica: "r-1" });
  const text = await registry.metrics();
  for (
    const name of [
      "kb_process_process_resident_memory_bytes",
      "kb_process_nodejs_eventloop_lag_p99_seconds",
    ]
  ) {
    assert.match(text, new RegExp(`^${name}\\{replica="r-1"\\} `, "m"), name);
  }
  registry.clear();
});

Deno.test("processRegistry: an idle process wakes for the event-loop sampler only every 100 ms", async () => {
  // prom-client's default sampler (10 ms) woke an idle process ~115 times a second. Counted in a
  // child (`deno test` runs tests off the main thread) by its main thread's voluntary switches.
  const code = `
    import { processRegistry } from ${
    JSON.stringify(new URL("./metrics.ts", import.meta.url).href)
  };
    import { parseProcStatus } from ${JSON.stringify(new URL("./memory.ts", import.meta.url).href)};
    const n = () =>
      Number(parseProcStatus(Deno.readTextFileSync("/proc/self/status")).get("voluntary_ctxt_switches"));
    processRegistry({ replica: "idle" });
    const keep = setInterval(() => {}, 60_000);
    await new Promise((r) => setTimeout(r, 300));
    const before = n();
    await new Promise((r) => setTimeout(r, 2000));
    console.log(JSON.stringify({ perSecond: (n() - before) / 2 }));
    clearInterval(keep);
    Deno.exit(0);`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  const { perSecond } = JSON.parse(new TextDecoder().decode(out.stdout));
  const sampler = 1000 / EVENT_LOOP_SAMPLE_MS;
  assert.ok(perSecond >= sampler / 2, `${perSecond} wake-ups a second: the sampler runs`);
  assert.ok(perSecond < 5 * sampler, `${perSecond} wake-ups a second, expected about ${sampler}`);
});
