/**
 * The runtime over both transports: handling and outputs, retries, dead
 * letters for malformed input while good messages keep flowing, draining on
 * stop, and replicas sharing work.
 */
import assert from "node:assert/strict";
import { CHANNELS, type DeadLetter, type Pong } from "../../contracts/messages.ts";
import { STREAMS, SUBJECTS } from "../../contracts/names.ts";
import { echoActor } from "../echo/mod.ts";
import type { ActorDefinition } from "./actor.ts";
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
}
