/**
 * Known photometry points: what a batch leaves out, the bound, and, through
 * the archiver actor on both databases, an archive identical to one written
 * with every point sent (alerts repeating their history).
 */
import assert from "node:assert/strict";
import { STREAMS } from "../../contracts/names.ts";
import type { ArchiveItem } from "../../db/archive.ts";
import { BACKENDS, createTestDatabase, type TestDatabase } from "../../db/testing.ts";
import { runtimeConfig } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import { MemoryTransport } from "../runtime/memory_transport.ts";
import { runtimeMetrics } from "../runtime/metrics.ts";
import { startActor } from "../runtime/runner.ts";
import { waitFor } from "../runtime/testing.ts";
import { createArchiver } from "./archiver.ts";
import { extract } from "./extract.ts";
import { KnownPoints } from "./known_points.ts";
import { type Fixture, opticalFixture, point } from "./testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const enc = new TextEncoder();

/** Alert n (1-based) of `object` carries point n and the points before it. */
async function lightCurve(object: string, base: number, n: number): Promise<Fixture[]> {
  const out: Fixture[] = [];
  for (let i = 1; i <= n; i++) {
    const history = Array.from({ length: i - 1 }, (_, j) => point(base + j + 1));
    out.push(await opticalFixture(object, point(base + i), history));
  }
  return out;
}

const items = (fs: Fixture[]): ArchiveItem[] =>
  fs.map((f) => extract(f.envelope, f.msgId, f.subject).item);

Deno.test("KnownPoints: leaves out remembered points only, keeps alerts", async () => {
  const [a1, a2, a3] = items(await lightCurve("ZTF-K", 0, 3));
  const known = new KnownPoints(100);
  assert.deepEqual(known.unsent([a1, a2]), [a1, a2]);
  known.remember([a1, a2]);
  const [u3] = known.unsent([a3]);
  assert.equal(u3.alert, a3.alert);
  assert.deepEqual(u3.candidates, a3.candidates);
  assert.deepEqual(u3.photometry.map((p) => p.candid), [3]);
  // Another candidate with the same measurement id is another point.
  const [other] = items([await opticalFixture("ZTF-L", point(1))]);
  assert.deepEqual(known.unsent([other])[0].photometry.map((p) => p.candid), [1]);
  // Remembering nothing: every point is sent.
  assert.deepEqual(new KnownPoints(0).unsent([a3])[0].photometry.length, 3);
});

Deno.test("KnownPoints: two generations of at most max keys", async () => {
  const [a] = items(await lightCurve("ZTF-G", 0, 5)).slice(-1); // points 1..5
  const known = new KnownPoints(2);
  known.remember([a]);
  assert.ok(known.size <= 4);
  // The newest points are known, the oldest were forgotten (and would be sent again).
  assert.ok(known.has(a.photometry.find((p) => p.candid === 5)!));
  assert.equal(known.has(a.photometry.find((p) => p.candid === 1)!), false);
});

/** Photometry as stored, with the message id of the alert that first carried each point. */
async function stored(db: TestDatabase) {
  return (await db.sql`
    select p.candidate_id, p.candid::text, p.mjd, a.msg_id
    from photometry p join alerts a on a.id = p.alert_id
    order by p.candidate_id, p.candid`).map((r) => ({ ...r }));
}

for (const backend of BACKENDS) {
  Deno.test(
    `archiver (${backend}): known points left out, the archive is the same`,
    opts,
    async () => {
      const dbs = [await createTestDatabase(backend), await createTestDatabase(backend)];
      const t = [new MemoryTransport(), new MemoryTransport()];
      const actors = await Promise.all([0, 50_000].map((knownPoints, i) =>
        startActor(
          createArchiver({ sql: dbs[i].sql, config: { batch: 20, lingerMs: 5, knownPoints } }),
          {
            transport: t[i],
            config: runtimeConfig({ KB_BACKOFF_BASE_MS: 20, KB_BACKOFF_MAX_MS: 100 }),
            log: createLogger({ level: "error" }),
            metrics: runtimeMetrics(),
            replica: "test",
          },
        )
      ));
      try {
        const curves = await Promise.all(
          ["ZTF-A", "ZTF-B", "ZTF-C"].map((o, i) => lightCurve(o, i * 100, 12)),
        );
        // Waves: alerts 1-4 of every object, then 5-8, then 9-12: later waves repeat what the
        // earlier ones archived.
        const waves = [0, 4, 8].map((from) => curves.flatMap((c) => c.slice(from, from + 4)));
        let expected = 0;
        for (const wave of waves) {
          expected += wave.length;
          for (let i = 0; i < 2; i++) {
            for (const f of wave) {
              await t[i].publish(f.subject, enc.encode(JSON.stringify(f.envelope)), {
                msgId: f.msgId,
              });
            }
            await waitFor(
              `wave archived (${i})`,
              async () => {
                const s = await t[i].consumerState(STREAMS.alertsIn.name, "archiver");
                const [{ n }] = await dbs[i].sql`select count(*)::int as n from alerts`;
                return n === expected && s.pending === 0 && s.ackPending === 0;
              },
              30_000,
              20,
            );
          }
        }
        const [all, withKnown] = [await stored(dbs[0]), await stored(dbs[1])];
        assert.equal(all.length, 36);
        assert.deepEqual(withKnown, all);
      } finally {
        for (const a of actors) await a.stop(5_000);
        for (const x of t) await x.close();
        for (const db of dbs) await db.drop();
      }
    },
  );
}
