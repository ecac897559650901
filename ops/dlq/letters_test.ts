/**
 * Dead letters made by the real runtime, read back, counted and replayed, on
 * the in-process transport and on a private nats-server: a replay inside the
 * duplicate window is dropped and reported, one after it reaches the actor
 * that refused the message, letters about the message itself are skipped
 * unless named, and `purge` removes replayed letters.
 */
import assert from "node:assert/strict";
import { CHANNELS } from "../../contracts/messages.ts";
import { STREAMS, SUBJECTS } from "../../contracts/names.ts";
import { defineActor, Rejection } from "../../actors/runtime/actor.ts";
import { runtimeConfig } from "../../actors/runtime/config.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import { MemoryTransport } from "../../actors/runtime/memory_transport.ts";
import { runtimeMetrics } from "../../actors/runtime/metrics.ts";
import { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import { startActor } from "../../actors/runtime/runner.ts";
import { startPrivateNats, waitFor } from "../../actors/runtime/testing.ts";
import type { Transport } from "../../actors/runtime/transport.ts";
import { countLetters, readLetters, replayLetters } from "./letters.ts";

const enc = new TextEncoder();
const WINDOW_MS = 5_000;

async function scenario(t: Transport, purge: boolean) {
  let broken = true;
  const handled: number[] = [];
  const actor = defineActor({
    name: "dlq-test",
    description: "fails while broken; refuses ping 99 for what it is",
    version: "1.0.0",
    input: CHANNELS.demoPing,
    outputs: [],
    handler(msg) {
      if (msg.data.seq === 99) throw new Rejection("rejected", "ping 99 is refused for itself");
      if (broken) throw new Error("database away");
      handled.push(msg.data.seq);
    },
  });
  const running = await startActor(actor, {
    transport: t,
    config: runtimeConfig({
      KB_MAX_ATTEMPTS: 2,
      KB_BACKOFF_BASE_MS: 10,
      KB_BACKOFF_MAX_MS: 20,
      KB_ACK_WAIT_MS: 5_000,
    }),
    log: createLogger({ level: "error" }),
    metrics: runtimeMetrics(),
    replica: "dlq-test",
  });
  try {
    // A short duplicate window, so that the test sees both sides of it.
    await t.ensureStream({ ...STREAMS.demo, duplicateWindowMs: WINDOW_MS });
    for (const seq of [1, 2, 3, 99]) {
      const body = JSON.stringify({ seq, sentAt: Date.now() });
      await t.publish(SUBJECTS.demoPing, enc.encode(body), { msgId: `ping-${seq}` });
    }
    await waitFor(
      "four dead letters",
      async () => (await readLetters(t, { actors: ["dlq-test"] })).length === 4,
      20_000,
    );
    const letters = await readLetters(t, { actors: ["dlq-test"] });
    assert.deepEqual(
      countLetters(letters).map((c) => [c.actor, c.reason, c.count]),
      [["dlq-test", "handler_failed", 3], ["dlq-test", "rejected", 1]],
    );
    assert.deepEqual(letters.map((l) => l.letter.original.id).sort(), [
      "ping-1",
      "ping-2",
      "ping-3",
      "ping-99",
    ]);
    assert.equal((await readLetters(t, { actors: ["someone-else"] })).length, 0);

    // Fixed; replayed at once: JetStream still remembers the ids.
    broken = false;
    const early = await replayLetters(t, letters);
    assert.deepEqual(early.map((o) => o.outcome).sort(), [
      "duplicate",
      "duplicate",
      "duplicate",
      "skipped",
    ]);
    const skipped = early.find((o) => o.outcome === "skipped");
    assert.ok(skipped && "why" in skipped && /describes the message itself/.test(skipped.why));
    assert.deepEqual(handled, []);

    // After the window: stored again under the same id, handled by the actor.
    await new Promise((r) => setTimeout(r, WINDOW_MS + 200));
    const dry = await replayLetters(t, letters, { dryRun: true });
    assert.ok(dry.every((o) => o.outcome === "skipped"));
    const late = await replayLetters(t, letters, { purge });
    assert.deepEqual(late.map((o) => o.outcome).sort(), [
      "skipped",
      "stored",
      "stored",
      "stored",
    ]);
    await waitFor("the replayed pings handled", () => handled.length === 3, 10_000);
    assert.deepEqual(handled.sort(), [1, 2, 3]);
    const left = await readLetters(t, { actors: ["dlq-test"] });
    assert.equal(left.length, purge ? 1 : 4, "purge removes the replayed letters only");
  } finally {
    await running.stop(2_000);
  }
}

Deno.test("dead letters: read, count, replay after the duplicate window (memory)", async () => {
  const t = new MemoryTransport();
  try {
    await scenario(t, false);
  } finally {
    await t.close();
  }
});

Deno.test("dead letters: read, count, replay and purge (private nats-server)", async () => {
  const nats = await startPrivateNats();
  const t = await NatsTransport.connect({ servers: nats.url, name: "kb-dlq-test" });
  try {
    await scenario(t, true);
  } finally {
    await t.close();
    await nats.stop();
  }
});
