/** kafkajs' request queue with the idle-timer fix: no timer while nothing waits, kafkajs' own otherwise. */
import assert from "node:assert/strict";
import RequestQueue from "kafkajs/src/network/requestQueue/index.js";
import { fixKafkajsIdleTimer } from "./kafkajs_patch.ts";

interface Queue {
  pending: unknown[];
  inflight: Map<number, unknown>;
  throttledUntil: number;
  throttleCheckTimeoutId: number | null;
  checkPendingRequests(): void;
  destroy(): void;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function queue(maxInFlightRequests: number | null = null): Queue {
  const Q = RequestQueue as unknown as new (o: object) => Queue;
  return new Q({
    maxInFlightRequests,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: "test",
    broker: "127.0.0.1:9",
    logger: silent,
  });
}

Deno.test("kafkajs idle fix: an empty queue arms no timer after a response", () => {
  fixKafkajsIdleTimer();
  fixKafkajsIdleTimer(); // twice: applied once
  const q = queue();
  // What kafkajs does after every response: check for pending requests. Unfixed, this armed a
  // timer (clamped to 1 ms) that re-armed itself forever; the test's timer sanitizer would fail.
  q.checkPendingRequests();
  assert.equal(q.throttleCheckTimeoutId, null);
  q.throttledUntil = Date.now() + 60_000; // throttled, but nothing to send: still no timer
  q.checkPendingRequests();
  assert.equal(q.throttleCheckTimeoutId, null);
});

Deno.test("kafkajs idle fix: a waiting request is still checked again (throttle, in-flight limit)", async () => {
  fixKafkajsIdleTimer();
  // Held back by the in-flight limit: kafkajs checks again within 10 ms.
  const q = queue(1);
  q.inflight.set(1, {});
  let sent = 0;
  q.pending.push({ send: () => sent++, expectResponse: true, correlationId: 2 });
  q.checkPendingRequests();
  assert.notEqual(q.throttleCheckTimeoutId, null, "a check is scheduled while a request waits");
  q.inflight.clear(); // the in-flight request was answered elsewhere
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(sent, 1, "the waiting request went out on the scheduled check");
  assert.equal(q.pending.length, 0);
  assert.equal(q.throttleCheckTimeoutId, null, "and then the queue is quiet");

  // Throttled by the broker: the check comes when the throttle ends.
  const t = queue();
  t.throttledUntil = Date.now() + 30;
  let sentT = 0;
  t.pending.push({ send: () => sentT++, expectResponse: true, correlationId: 3 });
  t.checkPendingRequests();
  assert.equal(sentT, 0, "not while throttled");
  assert.notEqual(t.throttleCheckTimeoutId, null);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(sentT, 1, "sent once the throttle ended");
  assert.equal(t.throttleCheckTimeoutId, null);
  q.destroy();
  t.destroy();
});
