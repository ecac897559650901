/**
 * When the write batcher lets a batch leave: at once (the end of the burst) when
 * nothing is being written, together with whatever came while a write was under
 * way as soon as it committed, at `maxBatch`, and after `lingerMs` only with
 * `lingerWhenIdle`. The linger of these tests is far longer than the tests:
 * a batch that leaves early left for the reason under test, not on its timer.
 */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { WriteBatcher } from "./batcher.ts";

const LONG = 60_000;

/** A batcher whose writes wait until released, recording each batch. */
function gatedBatcher(options: { maxBatch?: number; lingerWhenIdle?: boolean } = {}) {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const b = new WriteBatcher<number>({
    write: (items) => {
      batches.push(items);
      return new Promise<void>((resolve) => gates.push(resolve));
    },
    maxBatch: options.maxBatch ?? 100,
    lingerMs: LONG,
    lingerWhenIdle: options.lingerWhenIdle,
    maxConcurrent: 2,
    isTransient: () => false,
  });
  return { b, batches, gates };
}

const turn = () => new Promise((r) => setTimeout(r, 0));
/** The end of the current burst: a `setImmediate` queued after the batcher's runs after it. */
const burstEnd = () => new Promise((r) => setImmediate(r));

Deno.test("write batcher: idle, a burst leaves at its end (setImmediate), not on a timer", async () => {
  const { b, batches, gates } = gatedBatcher();
  const done = [1, 2].map((i) => b.add(i));
  // Items handed in by later microtasks of the same burst go in the same batch.
  await Promise.resolve();
  done.push(b.add(3));
  assert.equal(batches.length, 0, "items of one burst wait for the end of the burst");
  // No timer turn: a setTimeout(0) would fire ~2 ms later, after this.
  await burstEnd();
  assert.deepEqual(batches, [[1, 2, 3]]);
  gates.shift()!();
  await Promise.all(done);
  b.close();
});

Deno.test("write batcher: items that came during a write leave together when it commits", async () => {
  const { b, batches, gates } = gatedBatcher();
  const first = b.add(1);
  await turn();
  await turn();
  assert.deepEqual(batches, [[1]]);
  // A write is under way: these wait for it (or for lingerMs), not for the next turn.
  const later = [2, 3, 4].map((i) => b.add(i));
  await turn();
  await turn();
  assert.deepEqual(batches, [[1]], "a busy writer: the new items wait");
  gates.shift()!();
  await first;
  await turn();
  assert.deepEqual(batches, [[1], [2, 3, 4]]);
  gates.shift()!();
  await Promise.all(later);
  b.close();
});

Deno.test("write batcher: a full batch leaves at once, even while another is written", async () => {
  const { b, batches, gates } = gatedBatcher({ maxBatch: 2 });
  const all = [1, 2, 3, 4].map((i) => b.add(i));
  assert.deepEqual(batches, [[1, 2], [3, 4]]);
  gates.splice(0).forEach((g) => g());
  await Promise.all(all);
  b.close();
});

Deno.test("write batcher: lingerWhenIdle keeps the fixed window", async () => {
  const { b, batches } = gatedBatcher({ lingerWhenIdle: true });
  const p = b.add(1);
  await turn();
  await turn();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(batches.length, 0, "waits for lingerMs even with nothing being written");
  b.close();
  await assert.rejects(p, /closed before this item was written/);
});
