import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { archiveCounts, type BatchShape, insertAlertBatch } from "../../db/archive.ts";
import { candidatePhotometry, coneSearch, getCandidate } from "../../db/queries.ts";
import { BACKENDS, createTestDatabase } from "../../db/testing.ts";
import { extract } from "./extract.ts";
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
const items = (fs: Fixture[]) => fs.map((f) => extract(f.envelope, f.msgId, f.subject).item);

// Both statement shapes: the default (json) on both backends, COPY on PostgreSQL (PGlite's
// socket server does not speak COPY FROM STDIN).
const shapesOf = (backend: string): BatchShape[] =>
  backend === "postgres" ? ["json", "copy"] : ["json"];

for (const backend of BACKENDS) {
  for (const shape of shapesOf(backend)) {
    const name = `${backend}, ${shape}`;
    Deno.test(`archive (${name}): typed extraction per kind, raw bytes exact`, opts, async () => {
      const db = await createTestDatabase(backend);
      try {
        const map = new Uint8Array(20_000).map((_, i) => (i * 7) % 256);
        const fs = [
          await opticalFixture("ZTF-A", point(2), [
            point(1, { upper_limit: true, mag: null, mag_err: null }),
          ]),
          await gwFixture("S170817a", "PRELIMINARY", map),
          fermiFixture(),
          iceCubeFixture("S170817a"),
          circularFixture(),
          otherFixture(),
          await opticalFixture("ZTF-BAD", point(1, { dec: 95 })),
        ];
        // Characters COPY's text format must escape, in a text column.
        const odd = "tab\there, new\nline, back\\slash \\N, cr\r, é ☄";
        const batch = items(fs).map((i, k) =>
          k === 5 ? { ...i, alert: { ...i.alert, hop_sender: odd } } : i
        );
        const r = await insertAlertBatch(db.sql, batch, shape);
        assert.equal(r.inserted, 7);
        const [sender] = await db.sql`select hop_sender from alerts where msg_id = ${fs[5].msgId}`;
        assert.equal(sender.hop_sender, odd);
        assert.deepEqual(await archiveCounts(db.sql), {
          alerts: 7,
          typed: 4,
          raw: 2,
          rejected: 1,
          candidates: 1,
          photometry: 2,
          skymaps: 1,
          gw_events: 1,
          gcn_notices: 2,
        });
        // Raw bytes and Kafka position, exactly as on the wire.
        for (const f of fs) {
          const [a] = await db
            .sql`select payload, kafka_offset, topic, hop_id::text as hop_id, status
          from alerts where msg_id = ${f.msgId}`;
          assert.equal(Buffer.from(a.payload).toString("base64"), f.envelope.raw.base64);
          assert.deepEqual(new Uint8Array(a.payload), f.record);
          assert.equal(String(a.kafka_offset), f.envelope.kafka.offset);
          assert.equal(a.topic, f.envelope.kafka.topic);
          assert.equal(a.hop_id, f.envelope.hop.id);
        }
        const [bad] = await db.sql`select status, status_detail from alerts where msg_id = ${
          fs[6].msgId
        }`;
        assert.equal(bad.status, "rejected");
        assert.match(bad.status_detail, /dec = 95/);
        assert.equal(await getCandidate(db.sql, "ZTF-BAD"), undefined);

        // Photometry: MJD as double precision, exact.
        const lc = await candidatePhotometry(db.sql, "ZTF-A");
        assert.deepEqual(lc.map((p) => p.mjd), [point(1).mjd, point(2).mjd]);
        assert.equal(lc[0].upper_limit, true);
        assert.equal(lc[0].mag, null);
        const [gw] = await db.sql`select g.*, s.size, s.bytes from gw_events g
        join skymaps s on s.sha256 = g.skymap_sha256`;
        assert.equal(gw.superevent_id, "S170817a");
        assert.equal(gw.far, 3.0e-13);
        assert.deepEqual(gw.instruments, ["H1", "L1", "V1"]);
        assert.deepEqual(new Uint8Array(gw.bytes), map);
        const [grb] = await db.sql`select * from gcn_notices where mission = 'Fermi'`;
        assert.equal(grb.event_id, "bn170817529");
        assert.equal(grb.dec, -39.8);
        const near = await coneSearch(db.sql, { ra: 197.45, dec: -23.38, radiusDeg: 0.01 });
        assert.deepEqual(near.map((c) => c.candidate_id), ["ZTF-A"]);
      } finally {
        await db.drop();
      }
    });

    Deno.test(`archive (${name}): redelivery and replays add nothing`, opts, async () => {
      const db = await createTestDatabase(backend);
      try {
        const map = new Uint8Array(3000).fill(9);
        const a1 = await opticalFixture("ZTF-B", point(1));
        const a2 = await opticalFixture("ZTF-B", point(2), [point(1)]);
        const a3 = await opticalFixture("ZTF-B", point(3), [point(1), point(2)]);
        const g1 = await gwFixture("S1", "PRELIMINARY", map);
        const g2 = await gwFixture("S1", "INITIAL", map); // same map version
        const first = await insertAlertBatch(db.sql, items([a1, a2, g1]), shape);
        assert.equal(first.inserted, 3);
        // The same messages again (redelivery), mixed with new ones, some twice in one batch.
        const second = await insertAlertBatch(db.sql, items([a1, a2, g1, a3, a3, g2]), shape);
        assert.equal(second.inserted, 2);
        const again = await insertAlertBatch(db.sql, items([a1, a2, a3, g1, g2]), shape);
        assert.equal(again.inserted, 0);
        const counts = await archiveCounts(db.sql);
        assert.equal(counts.alerts, 5);
        assert.equal(counts.photometry, 3, "each point once although alerts repeat the history");
        assert.equal(counts.skymaps, 1, "one sky map version stored once");
        assert.equal(counts.gw_events, 2);
        const c = await getCandidate(db.sql, "ZTF-B");
        assert.equal(c?.n_alerts, 3);
        assert.equal(c?.first_mjd, point(1).mjd);
        assert.equal(c?.last_mjd, point(3).mjd);
      } finally {
        await db.drop();
      }
    });
  }
}
