/**
 * The runtime over both transports: handling and outputs, retries, dead
 * letters for malformed input while good messages keep flowing, draining on
 * stop, and replicas sharing work.
 */
import assert from "node:assert/strict";
import { CHANNELS, type DeadLetter, type Pong } from "../../contracts/messages.ts";
import { STREAMS, SUBJECTS } from "../../contracts/names.ts";
import { echoActor } from "../echo/mod.ts";
import { type ActorDefinition, defineActor, emit } from "./actor.ts";
import { type RuntimeConfig, runtimeConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import { MemoryTransport } from "./memory_transport.ts";
import { runtimeMetrics } from "./metrics.ts";
import { startActor } from "./runner.ts";
import { connectTestNats, waitFor } from "./testing.ts";
import type { Transport } from "./transport.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const quiet = createLogger({ level: "error" });

const transports: [string, () => Promise<Transport>][] = [
  ["memory", () => Promise.resolve(new MemoryTransport())],
  ["nats", () => connectTestNats("kb-runner-test")],
];

function config(overrides: Partial<RuntimeConfig> = {}): RuntimeConfig {
  return runtimeConfig({
    KB_BACKOFF_BASE_MS: 20,
    KB_BACKOFF_MAX_MS: 200,
    KB_MAX_ATTEMPTS: 3,
    KB_ACK_WAIT_MS: 5_000,
    KB_MAX_MESSAGE_BYTES: 64 * 1024,
    KB_MAX_IN_FLIGHT: 16,
    KB_PREFETCH: 32,
    ...overrides,
  });
}

async function fresh(t: Transport): Promise<void> {
  for (const s of [STREAMS.demo, STREAMS.deadLetters]) {
    await t.deleteStream(s.name);
    await t.ensureStream(s);
  }
}

function start(
  t: Transport,
  replica: string,
  cfg = config(),
  def: ActorDefinition = echoActor as unknown as ActorDefinition,
) {
  return startActor(def, {
    transport: t,
    config: cfg,
    log: quiet,
    metrics: runtimeMetrics(),
    replica,
  });
}

async function ping(t: Transport, seq: number, extra: Record<string, unknown> = {}) {
  return await t.publish(
    SUBJECTS.demoPing,
    enc.encode(JSON.stringify({ seq, sentAt: Date.now(), ...extra })),
    { msgId: `ping-${seq}` },
  );
}

async function pongs(t: Transport): Promise<Pong[]> {
  const out: Pong[] = [];
  for await (const m of t.read(STREAMS.demo.name, { subject: SUBJECTS.demoPong })) {
    out.push(CHANNELS.demoPong.schema.parse(JSON.parse(dec.decode(m.data))));
  }
  return out;
}

async function deadLetters(t: Transport): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for await (const m of t.read(STREAMS.deadLetters.name)) {
    out.push(CHANNELS.deadLetters.schema.parse(JSON.parse(dec.decode(m.data))));
  }
  return out;
}

/** What the keyed test actor saw: starts and ends of handler runs, in time order. */
type Seen = { seq: number; key: string; attempt: number; phase: "start" | "end" }[];

/**
 * An echo-like actor whose pings are ordered by their `body` (the key): it
 * records each run and waits a random 0–`workMs` ms, failing as `failTimes` asks.
 */
function keyedActor(seen: Seen) {
  return defineActor({
    name: "echo",
    description: "echo ordered by ping body",
    version: "1.0.0",
    input: CHANNELS.demoPing,
    outputs: [CHANNELS.demoPong],
    orderKey: (m) => m.data.body,
    async handler(msg, ctx) {
      const { seq, body: key } = msg.data;
      seen.push({ seq, key, attempt: msg.deliveryCount, phase: "start" });
      await new Promise((resolve) => setTimeout(resolve, Math.random() * msg.data.workMs));
      seen.push({ seq, key, attempt: msg.deliveryCount, phase: "end" });
      if (msg.deliveryCount <= msg.data.failTimes) throw new Error(`ping ${seq} asked to fail`);
      return emit(CHANNELS.demoPong, {
        seq,
        sentAt: msg.data.sentAt,
        pingId: msg.id,
        replica: ctx.replica,
        attempt: msg.deliveryCount,
        handledAt: Date.now(),
      });
    },
  }) as unknown as ActorDefinition;
}

/** Seqs of the successful runs (last `end` of each seq) per key, in the order they ran. */
function runsByKey(seen: Seen): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const e of seen) {
    if (e.phase !== "start") continue;
    const list = out.get(e.key) ?? [];
    if (list.at(-1) !== e.seq) list.push(e.seq);
    out.set(e.key, list);
  }
  return out;
}

/** Asserts no two runs of one key overlapped; returns the most runs at once. */
function checkNoOverlapPerKey(seen: Seen): number {
  const runningKeys = new Set<string>();
  let most = 0;
  for (const e of seen) {
    if (e.phase === "start") {
      assert.ok(!runningKeys.has(e.key), `two runs of key ${e.key} at once (seq ${e.seq})`);
      runningKeys.add(e.key);
      most = Math.max(most, runningKeys.size);
    } else runningKeys.delete(e.key);
  }
  return most;
}

for (const [kind, make] of transports) {
  const test = (name: string, fn: (t: Transport) => Promise<void>) =>
    Deno.test({
      name: `runtime [${kind}]: ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      async fn() {
        const t = await make();
        try {
          await fresh(t);
          await fn(t);
        } finally {
          await t.close();
        }
      },
    });

  test("handles every ping once and derives output ids from input ids", async (t) => {
    const actor = await start(t, "r1");
    for (let i = 0; i < 100; i++) await ping(t, i);
    await waitFor("100 pongs", async () => (await pongs(t)).length >= 100);
    await actor.stop();
    const got = await pongs(t);
    assert.equal(got.length, 100);
    assert.equal(new Set(got.map((p) => p.seq)).size, 100);
    assert.deepEqual(got.find((p) => p.seq === 7)?.pingId, "ping-7");
    // Republishing the same output (as after a crash) is dropped by the stream.
    let header = "";
    for await (const m of t.read(STREAMS.demo.name, { subject: SUBJECTS.demoPong, max: 1 })) {
      header = m.headers["Nats-Msg-Id"];
    }
    assert.equal(header, "ping-0>demo.pong");
    const again = await t.publish(SUBJECTS.demoPong, enc.encode("{}"), { msgId: header });
    assert.equal(again.duplicate, true);
  });

  test("retries with back-off, then dead-letters a handler that keeps failing", async (t) => {
    const actor = await start(t, "r1");
    await ping(t, 1, { failTimes: 2 }); // succeeds on attempt 3
    await ping(t, 2, { failTimes: 9 }); // never succeeds within 3 attempts
    await waitFor("pong 1", async () => (await pongs(t)).some((p) => p.seq === 1));
    await waitFor("dead letter for ping 2", async () => (await deadLetters(t)).length >= 1);
    await actor.stop();
    const p = (await pongs(t)).find((x) => x.seq === 1)!;
    assert.equal(p.attempt, 3);
    const [letter] = await deadLetters(t);
    assert.equal(letter.reason, "handler_failed");
    assert.equal(letter.attempts, 3);
    assert.equal(letter.actor, "echo");
    assert.equal(letter.original.id, "ping-2");
    assert.match(letter.detail, /asked to fail/);
    assert.equal(JSON.parse(atob(letter.original.dataBase64)).seq, 2);
    assert.equal(actor.stats().deadLettered, 1);
  });

  test("dead-letters malformed input with reasons while good messages flow", async (t) => {
    const actor = await start(t, "r1");
    const bad: [string, Uint8Array][] = [
      ["bad-json", enc.encode("{not json")],
      ["bad-utf8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
      ["wrong-schema", enc.encode(JSON.stringify({ seq: "seven", sentAt: "now" }))],
      ["negative", enc.encode(JSON.stringify({ seq: -1, sentAt: 0 }))],
      ["oversize", enc.encode(JSON.stringify({ seq: 5, sentAt: 0, body: "x".repeat(70_000) }))],
      ["empty", new Uint8Array()],
    ];
    let good = 0;
    for (let i = 0; i < 60; i++) {
      if (i % 10 === 5) {
        const [id, data] = bad[(i - 5) / 10];
        await t.publish(SUBJECTS.demoPing, data, { msgId: id });
      } else {
        await ping(t, i);
        good++;
      }
    }
    await waitFor("all good pongs", async () => (await pongs(t)).length >= good);
    await waitFor("all dead letters", async () => (await deadLetters(t)).length >= bad.length);
    await actor.stop();
    const letters = new Map((await deadLetters(t)).map((l) => [l.original.id, l]));
    assert.equal(letters.get("bad-json")?.reason, "undecodable");
    assert.equal(letters.get("bad-utf8")?.reason, "undecodable");
    assert.equal(letters.get("empty")?.reason, "undecodable");
    assert.equal(letters.get("wrong-schema")?.reason, "schema");
    assert.match(letters.get("wrong-schema")!.detail, /seq/);
    assert.equal(letters.get("negative")?.reason, "schema");
    assert.equal(letters.get("oversize")?.reason, "oversize");
    assert.ok([...letters.values()].every((l) => l.attempts === 1), "rejections are not retried");
    assert.equal((await pongs(t)).length, good);
  });

  test("drains on stop: in-flight work is acked, buffered work is handed back at once", async (t) => {
    const cfg = config({ KB_MAX_IN_FLIGHT: 4, KB_PREFETCH: 8, KB_ACK_WAIT_MS: 60_000 });
    const first = await start(t, "first", cfg);
    for (let i = 0; i < 60; i++) await ping(t, i, { workMs: 30 });
    await waitFor("some pongs", async () => (await pongs(t)).length >= 8);
    const result = await first.stop(10_000);
    assert.equal(result.clean, true);
    const second = await start(t, "second", cfg);
    // The ack wait is 60 s: finishing well before it proves the stopped replica
    // acked its in-flight work and handed its buffered deliveries back.
    await waitFor(
      "all 60 pongs, long before the ack wait",
      async () => (await pongs(t)).length >= 60,
      15_000,
    );
    await second.stop();
    const got = await pongs(t);
    assert.equal(new Set(got.map((p) => p.seq)).size, 60);
    assert.equal(got.length, 60);
    assert.equal(first.stats().handled + second.stats().handled, 60, "nothing handled twice");
  });

  test("two replicas share the work, no message handled twice", async (t) => {
    const cfg = config({ KB_MAX_IN_FLIGHT: 4, KB_PREFETCH: 4 });
    const a = await start(t, "a", cfg);
    const b = await start(t, "b", cfg);
    for (let i = 0; i < 200; i++) await ping(t, i, { workMs: 2 });
    await waitFor("200 pongs", async () => (await pongs(t)).length >= 200, 20_000);
    await a.stop();
    await b.stop();
    const got = await pongs(t);
    assert.equal(got.length, 200);
    const by = Object.groupBy(got, (p) => p.replica);
    assert.ok((by.a?.length ?? 0) > 10 && (by.b?.length ?? 0) > 10, "both replicas worked");
    assert.equal(a.stats().handled + b.stats().handled, 200, "handled exactly once in total");
  });

  test("ordering keys: same key in delivery order, different keys at once", async (t) => {
    const seen: Seen = [];
    const cfg = config({ KB_MAX_IN_FLIGHT: 32, KB_PREFETCH: 64 });
    const actor = await start(t, "r1", cfg, keyedActor(seen));
    const keys = ["a", "b", "c", "d", "e", "f"];
    for (let i = 0; i < 150; i++) {
      await ping(t, i, { body: keys[(i * 7 + (i >> 3)) % keys.length], workMs: 6 });
    }
    await waitFor("150 pongs", async () => (await pongs(t)).length >= 150, 20_000);
    await actor.stop();
    const most = checkNoOverlapPerKey(seen);
    assert.ok(most > 1, `different keys overlap (at most ${most} at once)`);
    for (const [key, seqs] of runsByKey(seen)) {
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `key ${key} out of order`);
    }
    assert.equal(seen.filter((e) => e.phase === "end").length, 150, "each handled once");
    assert.equal(actor.stats().handled, 150);
  });

  test("ordering keys: a failing message holds its key's successors until retried or dead-lettered", async (t) => {
    const seen: Seen = [];
    const actor = await start(t, "r1", config(), keyedActor(seen));
    await ping(t, 1, { body: "a", failTimes: 2 }); // succeeds on attempt 3, retried in place
    await ping(t, 2, { body: "a" });
    await ping(t, 3, { body: "b", failTimes: 9 }); // dead-lettered after 3 attempts
    await ping(t, 4, { body: "b" });
    await ping(t, 5, { body: "c" });
    await waitFor("4 pongs", async () => (await pongs(t)).length >= 4);
    await waitFor("dead letter for ping 3", async () => (await deadLetters(t)).length >= 1);
    await actor.stop();
    const at = (seq: number, phase: "start" | "end", attempt?: number) =>
      seen.findIndex((e) =>
        e.seq === seq && e.phase === phase && (attempt === undefined || e.attempt === attempt)
      );
    assert.ok(at(1, "end", 3) >= 0, "ping 1 ran a third time");
    assert.ok(at(2, "start") > at(1, "end", 3), "ping 2 waited for ping 1's successful retry");
    assert.ok(at(4, "start") > at(3, "end", 3), "ping 4 waited for ping 3's last attempt");
    assert.ok(at(5, "end") < at(1, "end", 3), "key c was not held by key a's retries");
    const got = await pongs(t);
    assert.deepEqual(got.map((p) => p.seq).sort(), [1, 2, 4, 5]);
    assert.equal(got.find((p) => p.seq === 1)?.attempt, 3);
    const [letter] = await deadLetters(t);
    assert.equal(letter.original.id, "ping-3");
    assert.equal(letter.reason, "handler_failed");
    assert.equal(letter.attempts, 3, "attempts made in place count");
    assert.match(letter.detail, /asked to fail/);
    assert.equal(actor.stats().deadLettered, 1);
    assert.equal(actor.stats().retried, 4, "2 retries of ping 1, 2 of ping 3");
  });

  test("ordering keys: stopping hands over to the next replica without breaking key order", async (t) => {
    const seen: Seen = [];
    const cfg = config({ KB_MAX_IN_FLIGHT: 16, KB_PREFETCH: 32, KB_ACK_WAIT_MS: 60_000 });
    const first = await start(t, "first", cfg, keyedActor(seen));
    // Up to 20 ms of work a ping (was 8): each key's 27 pings take ~0.3 s, so the first replica
    // is still busy when it is stopped even if reading the pongs is slow on a loaded machine.
    for (let i = 0; i < 80; i++) await ping(t, i, { body: `k${i % 3}`, workMs: 20 });
    await waitFor("some pongs", async () => (await pongs(t)).length >= 10);
    assert.equal((await first.stop(10_000)).clean, true);
    const second = await start(t, "second", cfg, keyedActor(seen));
    // The 60 s ack wait: done long before it = what the first held was finished or handed back.
    await waitFor("80 pongs", async () => (await pongs(t)).length >= 80, 15_000);
    await second.stop();
    checkNoOverlapPerKey(seen);
    for (const [key, seqs] of runsByKey(seen)) {
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `key ${key} out of order`);
    }
    assert.equal(first.stats().handled + second.stats().handled, 80, "nothing handled twice");
    assert.ok(first.stats().handled > 0 && second.stats().handled > 0, "both replicas worked");
  });

  test("KB_MAX_IN_FLIGHT_BYTES bounds the payload bytes being handled at once", async (t) => {
    const seen: Seen = [];
    const size = 20_000;
    const budget = 64 * 1024; // three such pings
    const cfg = config({ KB_MAX_IN_FLIGHT: 16, KB_PREFETCH: 32, KB_MAX_IN_FLIGHT_BYTES: budget });
    const actor = await start(t, "r1", cfg, keyedActor(seen));
    // Every ping its own key (the body), so only the budget keeps them from running at once.
    for (let i = 0; i < 30; i++) {
      await ping(t, i, { body: `k${i}`.padEnd(size, "."), workMs: 20 });
    }
    await waitFor("30 pongs", async () => (await pongs(t)).length >= 30, 15_000);
    await actor.stop();
    const most = checkNoOverlapPerKey(seen);
    assert.ok(most >= 2, `pings ran one at a time (${most}): the test shows nothing`);
    assert.ok(most <= Math.floor(budget / size), `${most} pings of ${size} bytes ran at once`);
    assert.equal(actor.stats().inFlightBytes, 0);
  });
}

Deno.test("runtime [memory]: an output's own encoding is sent as it is, unless only zod's copy passes", async () => {
  const t = new MemoryTransport();
  await fresh(t);
  // Pings 0 and 1 answer with a pong whose text the handler wrote itself (indented, so it is
  // told apart from the runtime's encoding); ping 1's data carries a key the schema strips.
  const def = defineActor({
    name: "encoded-echo",
    description: "answers with pre-encoded pongs",
    version: "1.0.0",
    input: CHANNELS.demoPing,
    outputs: [CHANNELS.demoPong],
    handler(msg) {
      const pong: Pong = {
        seq: msg.data.seq,
        sentAt: msg.data.sentAt,
        pingId: msg.id,
        replica: "r",
        attempt: 1,
        handledAt: 1,
      };
      const data = msg.data.seq === 1 ? { ...pong, extra: true } : pong;
      return emit(CHANNELS.demoPong, data, { encoded: JSON.stringify(data, null, 1) });
    },
  });
  const actor = await start(t, "r1", config(), def as unknown as ActorDefinition);
  try {
    await ping(t, 0);
    await ping(t, 1);
    await waitFor("2 pongs", async () => (await pongs(t)).length >= 2);
    const raw: string[] = [];
    for await (const m of t.read(STREAMS.demo.name, { subject: SUBJECTS.demoPong })) {
      raw.push(dec.decode(m.data));
    }
    const bySeq = new Map(raw.map((r) => [JSON.parse(r).seq as number, r]));
    const p0 = JSON.parse(bySeq.get(0)!);
    assert.equal(bySeq.get(0), JSON.stringify(p0, null, 1), "the handler's text, as it is");
    const p1 = bySeq.get(1)!;
    assert.equal(p1.includes("\n"), false, "ping 1: the runtime's encoding of zod's copy");
    assert.equal("extra" in JSON.parse(p1), false);
  } finally {
    await actor.stop();
  }
});
