/**
 * The archiver actor on the in-process transport against both databases:
 * every kind archived, the impossible alert stored raw AND dead-lettered with
 * its reason, redelivered and replayed messages adding nothing, and batching
 * (many messages, few statements).
 */
import assert from "node:assert/strict";
import { CHANNELS, type DeadLetter } from "../../contracts/messages.ts";
import { STREAMS } from "../../contracts/names.ts";
import { archiveCounts } from "../../db/archive.ts";
import { BACKENDS, createTestDatabase } from "../../db/testing.ts";
import { runtimeConfig } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import { MemoryTransport } from "../runtime/memory_transport.ts";
import { runtimeMetrics } from "../runtime/metrics.ts";
import { startActor } from "../runtime/runner.ts";
import { waitFor } from "../runtime/testing.ts";
import type { Transport } from "../runtime/transport.ts";
import { createArchiver } from "./archiver.ts";
import {
  circularFixture,
  fermiFixture,
  type Fixture,
  gwFixture,
  iceCubeFixture,
  opticalFixture,
  otherFixture,
  point,
} from "./testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Publishes the fixtures as the gateway does (JSON records: raw sameAsJson, not base64),
 * those in `older` as gateways before that did (raw.base64 for every record).
 */
async function publish(t: Transport, fs: Fixture[], older: readonly Fixture[] = []) {
  await Promise.all(fs.map((f) =>
    t.publish(
      f.subject,
      older.includes(f) ? enc.encode(JSON.stringify(f.envelope)) : f.wire,
      { msgId: f.msgId },
    )
  ));
}

async function deadLetters(t: Transport): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for await (const m of t.read(STREAMS.deadLetters.name)) {
    out.push(CHANNELS.deadLetters.schema.parse(JSON.parse(dec.decode(m.data))));
  }
  return out;
}

for (const backend of BACKENDS) {
  Deno.test(
    `archiver actor (${backend}): all kinds, rejects dead-lettered, replays idempotent`,
    opts,
    async () => {
      const db = await createTestDatabase(backend);
      const t = new MemoryTransport();
      const def = createArchiver({ sql: db.sql, config: { batch: 200, lingerMs: 10 } });
      const start = () =>
        startActor(def, {
          transport: t,
          config: runtimeConfig({ KB_BACKOFF_BASE_MS: 20, KB_BACKOFF_MAX_MS: 100 }),
          log: createLogger({ level: "error" }),
          metrics: runtimeMetrics(),
          replica: "test",
        });
      let actor = await start();
      try {
        const optical: Fixture[] = [];
        for (let i = 0; i < 500; i++) {
          optical.push(
            await opticalFixture(`ZTF-${i % 50}`, point(i + 1, { ra: (i * 0.7) % 360 })),
          );
        }
        const bad = await opticalFixture("ZTF-BAD", point(1, { mag: NaN }));
        const fermi = fermiFixture();
        const iceCube = iceCubeFixture("S1");
        const others = [
          await gwFixture("S1", "PRELIMINARY", new Uint8Array(100).fill(1)),
          fermi,
          iceCube,
          circularFixture(),
          otherFixture(),
          bad,
        ];
        assert.equal(JSON.parse(dec.decode(fermi.wire)).raw.sameAsJson, true);
        const started = performance.now();
        // The IceCube notice as an older gateway sent it (rolling upgrade).
        await publish(t, [...optical, ...others], [iceCube]);
        await waitFor(
          "506 archived",
          async () => (await archiveCounts(db.sql)).alerts === 506,
          30_000,
          50,
        );
        const elapsed = performance.now() - started;
        const counts = await archiveCounts(db.sql);
        assert.equal(counts.typed, 503);
        assert.equal(counts.raw, 2);
        assert.equal(counts.rejected, 1);
        assert.equal(counts.candidates, 50);
        assert.equal(counts.photometry, 500);
        const letters = await waitFor("the dead letter", async () => {
          const l = await deadLetters(t);
          return l.length ? l : undefined;
        });
        assert.equal(letters.length, 1);
        assert.equal(letters[0].actor, "archiver");
        assert.equal(letters[0].reason, "rejected");
        assert.equal(letters[0].original.id, bad.msgId);
        assert.match(letters[0].detail, /stored raw.*mag = "NaN"/);
        const [row] = await db.sql`select status from alerts where msg_id = ${bad.msgId}`;
        assert.equal(row.status, "rejected");
        // Every record's exact bytes are archived, whichever form of raw carried them.
        for (const f of others) {
          const [a] = await db.sql`select payload from alerts where msg_id = ${f.msgId}`;
          assert.deepEqual(new Uint8Array(a.payload), f.record, f.subject);
        }

        // Replay: a new stream holding the same messages, a new consumer: nothing added.
        await actor.stop(5_000);
        await t.deleteStream(STREAMS.alertsIn.name);
        actor = await start();
        await publish(t, [...optical.slice(0, 100), ...others]);
        await waitFor(
          "the replay consumed",
          async () => {
            const s = await t.consumerState(STREAMS.alertsIn.name, "archiver");
            return s.pending === 0 && s.ackPending === 0;
          },
          30_000,
          50,
        );
        assert.deepEqual(await archiveCounts(db.sql), counts);
        console.log(`${backend}: 506 alerts archived in ${elapsed.toFixed(0)} ms`);
      } finally {
        await actor.stop(5_000);
        await t.close();
        await db.drop();
      }
    },
  );
}
