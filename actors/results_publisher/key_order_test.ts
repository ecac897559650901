/** KeyOrder: overlapping runs keep their start order; disjoint runs overlap. */
import assert from "node:assert/strict";
import { KeyOrder } from "./key_order.ts";

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => open = r);
  return { open, opened };
}

Deno.test("KeyOrder: a run sharing a key waits for the earlier one; others do not", async () => {
  const order = new KeyOrder();
  const events: string[] = [];
  const first = gate();
  const a = order.run(["x", "y"], async () => {
    events.push("a start");
    await first.opened;
    events.push("a end");
  });
  const b = order.run(["y"], () => {
    events.push("b");
    return Promise.resolve();
  });
  const c = order.run(["z"], () => {
    events.push("c");
    return Promise.resolve();
  });
  await c;
  assert.deepEqual(events, ["a start", "c"]);
  assert.equal(order.size, 2);
  first.open();
  await Promise.all([a, b]);
  assert.deepEqual(events, ["a start", "c", "a end", "b"]);
  assert.equal(order.size, 0);
});

Deno.test("KeyOrder: a failed run releases the runs waiting for it", async () => {
  const order = new KeyOrder();
  const failed = order.run(["x"], () => Promise.reject(new Error("boom")));
  const next = order.run(["x"], () => Promise.resolve("ran"));
  await assert.rejects(failed, /boom/);
  assert.equal(await next, "ran");
});
