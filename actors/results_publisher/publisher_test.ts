/**
 * The results publisher on the in-process transport against both databases: a
 * result becomes one derived alert (HERMES-shaped, linked to its inputs), an
 * unchanged re-score publishes nothing, a material change publishes revision 2,
 * and redeliveries never publish anything new.
 */
import assert from "node:assert/strict";
import { DerivedAlertOutbound } from "../../contracts/messages.ts";
import { RESULT_SUBJECTS, STREAMS } from "../../contracts/names.ts";
import { insertAlertBatch } from "../../db/archive.ts";
import { resultsOfCandidate } from "../../db/results.ts";
import { BACKENDS, createTestDatabase } from "../../db/testing.ts";
import { extract } from "../archiver/extract.ts";
import { opticalFixture, point } from "../archiver/testing.ts";
import { runtimeConfig } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import { MemoryTransport } from "../runtime/memory_transport.ts";
import { runtimeMetrics } from "../runtime/metrics.ts";
import { startActor } from "../runtime/runner.ts";
import { waitFor } from "../runtime/testing.ts";
import { createResultsPublisher, decide } from "./publisher.ts";
import { resultFixture } from "./testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const enc = new TextEncoder();
const dec = new TextDecoder();

for (const backend of BACKENDS) {
  Deno.test(
    `results publisher (${backend}): publish once, suppress unchanged, republish changes`,
    opts,
    async () => {
      const db = await createTestDatabase(backend);
      const t = new MemoryTransport();
      const config = {
        minChange: 0.05,
        topic: "kb-test.results",
        submitter: "kb-test",
        maxPhotometry: 50,
      };
      const actor = await startActor(createResultsPublisher({ sql: db.sql, config }), {
        transport: t,
        config: runtimeConfig({ KB_BACKOFF_BASE_MS: 20 }),
        log: createLogger({ level: "error" }),
        metrics: runtimeMetrics(),
        replica: "test",
      });
      try {
        const a1 = await opticalFixture("ZTF-KN", point(1));
        const a2 = await opticalFixture("ZTF-KN", point(2), [point(1)]);
        await insertAlertBatch(
          db.sql,
          [a1, a2].map((f) => extract(f.envelope, f.msgId, f.subject).item),
        );
        const inputs = [a1.msgId, a2.msgId];
        const send = (id: string, kn: number) =>
          t.publish(
            RESULT_SUBJECTS.results("kilonova"),
            enc.encode(JSON.stringify(resultFixture("ZTF-KN", kn, inputs))),
            { msgId: id },
          );
        const outputs = async () => {
          const out = [];
          for await (const m of t.read(STREAMS.alertsOut.name)) {
            out.push({
              data: DerivedAlertOutbound.parse(JSON.parse(dec.decode(m.data))),
              headers: m.headers,
            });
          }
          return out;
        };
        const handled = (n: number) =>
          waitFor(`${n} results handled`, () => actor.stats().handled >= n);

        await send("r1", 0.8);
        await handled(1);
        let out = await outputs();
        assert.equal(out.length, 1);
        const first = out[0].data;
        assert.equal(first.format, "json");
        assert.equal(first.key, "ZTF-KN");
        const a = first.content;
        assert.equal(a.topic, "kb-test.results");
        assert.equal(a.submitter, "kb-test");
        assert.match(a.title, /ZTF-KN: kilonova score 0\.8/);
        assert.equal(a.data.event_id, "S170817a");
        assert.equal(a.data.targets[0].name, "ZTF-KN");
        assert.equal(a.data.targets[0].dec, point(1).dec);
        assert.equal(a.data.photometry.length, 2);
        assert.equal(a.data.photometry[0].mjd, point(1).mjd);
        assert.equal(a.data.photometry[0].telescope, "ZTF");
        assert.equal(a.data.photometry[0].brightness_unit, "AB mag");
        assert.equal(a.data.classification.class, "kilonova");
        assert.equal(a.data.classification.score, 0.8);
        assert.equal(a.data.classification.model, "kilonova-test");
        assert.equal(a.data.classification.version, "1.0.0");
        assert.equal(a.data.revision, 1);
        assert.equal(a.data.result_id, "r1");
        assert.deepEqual(a.data.inputs.map((i) => i.alert_id), inputs);
        assert.equal(a.data.inputs[0].topic, a1.envelope.kafka.topic);
        assert.equal(a.data.inputs[0].offset, a1.envelope.kafka.offset);
        assert.equal(a.data.inputs[0].hop_id, a1.envelope.hop.id);
        assert.equal(out[0].headers["kb-cause"], "r1");

        // Unchanged re-score: stored, not published.
        await send("r2", 0.82);
        await handled(2);
        assert.equal((await outputs()).length, 1);
        // Material change: revision 2 with a new hop _id.
        await send("r3", 0.3);
        await handled(3);
        out = await outputs();
        assert.equal(out.length, 2);
        assert.equal(out[1].data.content.data.revision, 2);
        assert.equal(out[1].data.content.data.classification.class, "SN Ia");
        assert.notEqual(out[1].data.id, first.id);

        const stored = await resultsOfCandidate(db.sql, "ZTF-KN");
        assert.deepEqual(stored.map((r) => [r.result_id, r.decision]).sort(), [
          ["r1", "published"],
          ["r2", "unchanged"],
          ["r3", "published"],
        ]);

        // Redeliveries: every published result is re-sent identically (byte for byte, even
        // after more photometry was archived; superseded ones too, as they may never have gone
        // out), the unchanged one sends nothing.
        const a3 = await opticalFixture("ZTF-KN", point(3), [point(1), point(2)]);
        await insertAlertBatch(db.sql, [extract(a3.envelope, a3.msgId, a3.subject).item]);
        const again3 = await decide(
          db.sql,
          resultFixture("ZTF-KN", 0.3, inputs),
          "r3",
          "results.kilonova",
          config,
        );
        assert.equal(again3.hopId, out[1].data.id);
        assert.equal(again3.alert?.data.revision, 2);
        assert.equal(JSON.stringify(again3.alert), JSON.stringify(out[1].data.content));
        const again1 = await decide(
          db.sql,
          resultFixture("ZTF-KN", 0.8, inputs),
          "r1",
          "results.kilonova",
          config,
        );
        assert.equal(again1.hopId, first.id);
        assert.equal(again1.why, "redelivered; superseded since, re-sent");
        assert.equal(JSON.stringify(again1.alert), JSON.stringify(first.content));
        const again2 = await decide(
          db.sql,
          resultFixture("ZTF-KN", 0.82, inputs),
          "r2",
          "results.kilonova",
          config,
        );
        assert.equal(again2.alert, undefined);
        assert.equal((await resultsOfCandidate(db.sql, "ZTF-KN")).length, 3);
      } finally {
        await actor.stop(5_000);
        await t.close();
        await db.drop();
      }
    },
  );
}
