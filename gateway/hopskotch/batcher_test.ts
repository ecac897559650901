/**
 * When the outbound gateway's produce batcher sends: at once (the end of the
 * current burst) when nothing of the topic waits for Kafka, together with whatever came
 * meanwhile once the request under way is acknowledged, and at `maxBatch`. The
 * linger of these tests is far longer than the tests: a batch that left early
 * left for the reason under test.
 */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { ProduceBatcher } from "./batcher.ts";
import type { HopRecord, HopWriter } from "./writer.ts";

/** A writer whose produce requests wait until released, recording each request. */
function gatedWriter() {
  const requests: { topic: string; ids: string[] }[] = [];
  const gates: { ok: () => void; fail: (e: Error) => void }[] = [];
  const writer: HopWriter = {
    publish(topic, records) {
      requests.push({ topic, ids: records.map((r) => r.id!) });
      return new Promise<void>((ok, fail) => gates.push({ ok, fail }));
    },
    close: () => Promise.resolve(),
  };
  return { writer, requests, gates };
}

const rec = (id: string): HopRecord => ({ format: "json", value: new Uint8Array([123, 125]), id });
const turn = () => new Promise((r) => setTimeout(r, 0));
/** The end of the current burst: a `setImmediate` queued after the batcher's runs after it. */
const burstEnd = () => new Promise((r) => setImmediate(r));

Deno.test("produce batcher: idle, a burst is sent at its end (setImmediate), not on a timer", async () => {
  const { writer, requests, gates } = gatedWriter();
  const b = new ProduceBatcher(writer, { lingerMs: 60_000, maxBatch: 100 });
  const sent = ["a"].map((id) => b.send("t", rec(id)));
  // Records handed in by later microtasks of the same burst go in the same request.
  await Promise.resolve();
  sent.push(b.send("t", rec("b")));
  assert.equal(requests.length, 0);
  // No timer turn: a setTimeout(0) would fire ~2 ms later, after this.
  await burstEnd();
  assert.deepEqual(requests, [{ topic: "t", ids: ["a", "b"] }]);
  gates.shift()!.ok();
  await Promise.all(sent);
});

Deno.test("produce batcher: records that came during a request go once it is acknowledged", async () => {
  const { writer, requests, gates } = gatedWriter();
  const b = new ProduceBatcher(writer, { lingerMs: 60_000, maxBatch: 100 });
  const first = b.send("t", rec("a"));
  await turn();
  await turn();
  const later = ["b", "c"].map((id) => b.send("t", rec(id)));
  // Another topic has nothing waiting for Kafka: it does not wait for t's request.
  const other = b.send("u", rec("x"));
  await turn();
  await turn();
  assert.deepEqual(requests, [{ topic: "t", ids: ["a"] }, { topic: "u", ids: ["x"] }]);
  gates.shift()!.ok();
  await first;
  await turn();
  assert.deepEqual(requests.slice(2), [{ topic: "t", ids: ["b", "c"] }]);
  // A failed request also lets what waits go (and fails only its own records).
  gates.shift()!.ok();
  await other;
  gates.shift()!.fail(new Error("broker away"));
  for (const p of later) await assert.rejects(p, /broker away/);
});

Deno.test("produce batcher: a full batch is sent at once", () => {
  const { writer, requests, gates } = gatedWriter();
  const b = new ProduceBatcher(writer, { lingerMs: 60_000, maxBatch: 2 });
  const sent = ["a", "b", "c"].map((id) => b.send("t", rec(id)));
  assert.deepEqual(requests, [{ topic: "t", ids: ["a", "b"] }]);
  b.flushAll();
  assert.deepEqual(requests[1], { topic: "t", ids: ["c"] });
  gates.forEach((g) => g.ok());
  return Promise.all(sent).then(() => {});
});
