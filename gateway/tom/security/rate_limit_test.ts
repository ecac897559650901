/** The token bucket on a test clock: burst, refill, Retry-After, eviction. */
import assert from "node:assert/strict";
import { TokenBuckets } from "./rate_limit.ts";

Deno.test("token bucket: burst, then one per 1/rate seconds, Retry-After rounded up", () => {
  let now = 0;
  const b = new TokenBuckets({ burst: 3, perSecond: 2 }, { now: () => now });
  assert.deepEqual([1, 2, 3].map(() => b.take("a").ok), [true, true, true]);
  const refused = b.take("a");
  assert.equal(refused.ok, false);
  assert.equal(refused.retryAfterS, 1); // half a second, rounded up
  assert.equal(b.take("b").ok, true, "keys are independent");
  now += 499;
  assert.equal(b.take("a").ok, false);
  now += 2;
  assert.equal(b.take("a").ok, true, "one token after 0.5 s");
  assert.equal(b.take("a").ok, false);
  now += 60_000;
  const full = b.take("a");
  assert.equal(full.ok, true);
  assert.equal(full.remaining, 2, "the bucket never holds more than the burst");
});

Deno.test("token bucket: slow rates give long Retry-After", () => {
  let now = 0;
  const b = new TokenBuckets({ burst: 1, perSecond: 0.05 }, { now: () => now });
  assert.equal(b.take("k").ok, true);
  assert.equal(b.take("k").retryAfterS, 20);
  now += 10_000;
  assert.equal(b.take("k").retryAfterS, 10);
});

Deno.test("token bucket: bounded memory, full buckets dropped first", () => {
  let now = 0;
  const b = new TokenBuckets({ burst: 2, perSecond: 1 }, { now: () => now, maxKeys: 10 });
  for (let i = 0; i < 10; i++) b.take(`k${i}`);
  assert.equal(b.size, 10);
  now += 5_000; // every bucket is full again
  b.take("new");
  assert.equal(b.size, 1);
  // Busy callers only: the least recently used tenth goes.
  for (let i = 0; i < 9; i++) b.take(`busy${i}`);
  assert.equal(b.size, 10);
  b.take("one-more");
  assert.equal(b.size, 10);
  assert.throws(() => new TokenBuckets({ burst: 0, perSecond: 1 }), /burst ≥ 1/);
});
