import assert from "node:assert/strict";
import { BYTES_FETCH_MESSAGES, fetchPlan } from "./nats_transport.ts";

Deno.test("fetchPlan: count only without a budget, or while the budget cannot bind", () => {
  assert.deepEqual(fetchPlan(800, undefined, 0, 0, false).request.max_messages, 800);
  // 800 × 2 × 1 KB = 1.6 MB fits in 4 MiB: one fetch of 800, as without a budget.
  const small = fetchPlan(800, 4 << 20, 0, 1000, false);
  assert.deepEqual([small.request.max_messages, small.request.max_bytes], [800, undefined]);
});

Deno.test("fetchPlan: the server bounds the bytes once the budget binds", () => {
  const big = fetchPlan(2500, 4 << 20, 1 << 20, 10_000, false);
  assert.deepEqual(big.request, { max_bytes: 3 << 20, expires: 1000 });
  assert.equal(big.messages, BYTES_FETCH_MESSAGES);
  // Nothing seen yet: no count is safe, so bytes.
  assert.equal(fetchPlan(2500, 4 << 20, 0, 0, false).request.max_bytes, 4 << 20);
});

Deno.test("fetchPlan: little room counts from the largest message; a too-large one comes alone", () => {
  assert.equal(fetchPlan(10, 35_000, 10_000, 10_000, false).request.max_messages, 2);
  assert.equal(fetchPlan(10, 35_000, 30_000, 10_000, false).wait, true);
  assert.equal(fetchPlan(10, 35_000, 0, 50_000, false).request.max_messages, 1);
  assert.deepEqual(fetchPlan(2500, 10_000, 0, 4_000, true).request.max_messages, 1);
});
