import assert from "node:assert/strict";
import { ORDER_BARRIER, OrderGate, type OrderKey } from "./order_gate.ts";

/** Enters `keys` in order; each runs until released by hand. Records start order. */
function harness(gate: OrderGate, keys: OrderKey[]) {
  const started: number[] = [];
  const release = keys.map(() => () => {});
  const finished = keys.map(async (key, i) => {
    const turn = gate.enter(key);
    if (turn) await turn;
    started.push(i);
    await new Promise<void>((resolve) => (release[i] = resolve));
    gate.leave(key);
  });
  return { started, release, finished };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("order gate: same key one after another, other keys at once", async () => {
  const gate = new OrderGate();
  const h = harness(gate, ["a", "b", "a", undefined, "a", "b"]);
  await tick();
  assert.deepEqual(h.started, [0, 1, 3], "first of each key and the unkeyed one run at once");
  h.release[0]();
  await tick();
  assert.deepEqual(h.started, [0, 1, 3, 2]);
  h.release[1]();
  await tick();
  assert.deepEqual(h.started, [0, 1, 3, 2, 5]);
  h.release[3]();
  h.release[5]();
  await tick();
  assert.deepEqual(h.started, [0, 1, 3, 2, 5], "the third 'a' waits for the second");
  h.release[2]();
  await tick();
  assert.deepEqual(h.started, [0, 1, 3, 2, 5, 4]);
  h.release[4]();
  await Promise.all(h.finished);
  assert.equal(gate.busyKeys, 0);
  assert.equal(gate.waiting, 0);
});

Deno.test("order gate: a barrier waits for what came before and holds what came after", async () => {
  const gate = new OrderGate();
  const h = harness(gate, ["a", "b", ORDER_BARRIER, "c", undefined, ORDER_BARRIER, "a"]);
  await tick();
  assert.deepEqual(h.started, [0, 1]);
  h.release[0]();
  await tick();
  assert.deepEqual(h.started, [0, 1], "barrier waits for 'b' too");
  h.release[1]();
  await tick();
  assert.deepEqual(h.started, [0, 1, 2], "barrier alone");
  h.release[2]();
  await tick();
  assert.deepEqual(h.started, [0, 1, 2, 3, 4], "held ones run up to the next barrier");
  h.release[3]();
  await tick();
  assert.deepEqual(h.started, [0, 1, 2, 3, 4]);
  h.release[4]();
  await tick();
  assert.deepEqual(h.started, [0, 1, 2, 3, 4, 5]);
  h.release[5]();
  await tick();
  assert.deepEqual(h.started, [0, 1, 2, 3, 4, 5, 6]);
  h.release[6]();
  await Promise.all(h.finished);
  assert.equal(gate.busyKeys, 0);
  assert.equal(gate.waiting, 0);
});

Deno.test("order gate: random keys and durations keep per-key order and overlap keys", async () => {
  const gate = new OrderGate();
  const keys = Array.from({ length: 400 }, (_, i) => (i % 7 === 6 ? ORDER_BARRIER : `k${i % 5}`));
  const log: { i: number; key: OrderKey; phase: "start" | "end" }[] = [];
  let running = 0;
  let maxRunning = 0;
  await Promise.all(keys.map(async (key, i) => {
    const turn = gate.enter(key);
    if (turn) await turn;
    log.push({ i, key, phase: "start" });
    maxRunning = Math.max(maxRunning, ++running);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
    running--;
    log.push({ i, key, phase: "end" });
    gate.leave(key);
  }));
  const lastStart = new Map<OrderKey, number>();
  for (const e of log.filter((e) => e.phase === "start")) {
    assert.ok((lastStart.get(e.key) ?? -1) < e.i, `key ${String(e.key)} out of order at ${e.i}`);
    lastStart.set(e.key, e.i);
  }
  // A barrier starts after every earlier message ended and before any later one started.
  for (const [at, e] of log.entries()) {
    if (e.key !== ORDER_BARRIER || e.phase !== "start") continue;
    const before = log.slice(0, at);
    const ended = new Set(before.filter((x) => x.phase === "end").map((x) => x.i));
    for (let j = 0; j < e.i; j++) assert.ok(ended.has(j), `barrier ${e.i} ran before ${j} ended`);
    assert.ok(before.every((x) => x.i < e.i), `something after barrier ${e.i} started before it`);
  }
  assert.ok(maxRunning > 1, "different keys overlap");
  assert.ok(maxRunning <= 5, "no more than one per key (and barriers alone)");
  assert.equal(gate.busyKeys, 0);
});
