/**
 * Batched decisions against both databases: a batch decides exactly as
 * one-by-one processing of the same sequence (several results of one
 * candidate, a repeated id), a redelivered batch re-emits the same ids and
 * bytes, results whose inputs are not archived wait without holding up the
 * others. The lock order is tested in db/results_test.ts.
 */
import assert from "node:assert/strict";
import type { ClassificationResult } from "../../contracts/messages.ts";
import { insertAlertBatch } from "../../db/archive.ts";
import type { Sql } from "../../db/connect.ts";
import { resultsOfCandidate } from "../../db/results.ts";
import { BACKENDS, createTestDatabase } from "../../db/testing.ts";
import { extract } from "../archiver/extract.ts";
import { type Fixture, opticalFixture, point } from "../archiver/testing.ts";
import { decideBatch, type Decision, type ResultItem } from "./decide_batch.ts";
import { OriginCache } from "./origins.ts";
import { resultFixture } from "./testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const config = {
  minChange: 0.05,
  topic: "kb-test.results",
  submitter: "kb-test",
  maxPhotometry: 3,
};

async function archive(sql: Sql, fixtures: Fixture[]): Promise<void> {
  await insertAlertBatch(sql, fixtures.map((f) => extract(f.envelope, f.msgId, f.subject).item));
}

/** Two alerts (points 1-2) of `candidate`, archived in both databases. */
async function twoAlerts(candidate: string, base: number): Promise<Fixture[]> {
  const a1 = await opticalFixture(candidate, point(base + 1));
  const a2 = await opticalFixture(candidate, point(base + 2), [point(base + 1)]);
  return [a1, a2];
}

/** A decision as bytes: what is emitted and why. */
function shown(d: Decision): string {
  return JSON.stringify({ hopId: d.hopId, alert: d.alert, why: d.why, missing: d.missing });
}

async function storedRows(sql: Sql, candidates: string[]) {
  const results = [];
  for (const c of candidates) {
    results.push(
      ...(await resultsOfCandidate(sql, c)).map((r) => [r.result_id, r.decision]).sort(),
    );
  }
  const pubs = await sql`
    select candidate_id, model_name, revision, result_id, model_version, scores, top_class,
      hop_id::text, alert_json from publications order by candidate_id, model_name`;
  return { results, pubs: pubs.map((p) => ({ ...p })) };
}

for (const backend of BACKENDS) {
  Deno.test(
    `decideBatch (${backend}): one batch decides as one-by-one processing`,
    opts,
    async () => {
      const seq = await createTestDatabase(backend);
      const bat = await createTestDatabase(backend);
      try {
        const xs = await twoAlerts("ZTF-X", 0);
        const ys = await twoAlerts("ZTF-Y", 100);
        for (const db of [seq, bat]) await archive(db.sql, [...xs, ...ys]);
        const computedAt = "2026-01-01T00:00:00.000Z";
        const r = (
          c: string,
          kn: number,
          inputs: Fixture[],
          over: Partial<ClassificationResult> = {},
        ) => resultFixture(c, kn, inputs.map((f) => f.msgId), { computed_at: computedAt, ...over });
        const items: ResultItem[] = [
          // X: first, unchanged, top class flips, unchanged, flips back; a repeated id in between.
          { result: r("ZTF-X", 0.8, xs.slice(0, 1)), resultId: "x1", subject: "results.kilonova" },
          { result: r("ZTF-Y", 0.6, ys), resultId: "y1", subject: "results.kilonova" },
          { result: r("ZTF-X", 0.82, xs), resultId: "x2", subject: "results.kilonova" },
          { result: r("ZTF-X", 0.3, xs), resultId: "x3", subject: "results.kilonova" },
          { result: r("ZTF-X", 0.3, xs), resultId: "x3", subject: "results.kilonova" },
          { result: r("ZTF-Y", 0.6, ys), resultId: "y1", subject: "results.kilonova" },
          { result: r("ZTF-X", 0.31, xs), resultId: "x4", subject: "results.kilonova" },
          // Another model version of Y: material whatever the scores.
          {
            result: r("ZTF-Y", 0.6, ys, { model: { name: "kilonova-test", version: "2.0.0" } }),
            resultId: "y2",
            subject: "results.kilonova",
          },
          { result: r("ZTF-X", 0.9, xs), resultId: "x5", subject: "results.kilonova" },
        ];
        const oneByOne: Decision[] = [];
        for (const it of items) oneByOne.push(...await decideBatch(seq.sql, [it], config));
        // The batched side keeps the input alerts' origins between batches; one by one reads them.
        const origins = new OriginCache(100);
        const batched = await decideBatch(bat.sql, items, config, origins);
        assert.deepEqual(batched.map(shown), oneByOne.map(shown));
        assert.deepEqual(
          batched.map((d) => d.alert?.data.revision ?? null),
          [1, 1, null, 2, 2, 1, null, 2, 3],
        );
        assert.deepEqual(
          await storedRows(bat.sql, ["ZTF-X", "ZTF-Y"]),
          await storedRows(seq.sql, ["ZTF-X", "ZTF-Y"]),
        );
        // Every published result keeps its alert as the very JSON text of the alert sent.
        const kept = await bat.sql<{ result_id: string; alert_json: string }[]>`
          select result_id, alert_json from results where alert_json is not null`;
        assert.deepEqual(kept.map((k) => k.result_id).sort(), ["x1", "x3", "x5", "y1", "y2"]);
        for (const k of kept) {
          const d = batched[items.findIndex((it) => it.resultId === k.result_id)];
          assert.equal(k.alert_json, JSON.stringify(d.alert));
        }
        // The photometry limit holds per candidate (3 of X's 2 points, 2 of Y's 2).
        assert.equal(batched[0].alert?.data.photometry.length, 2);
        assert.equal(batched[0].alert?.data.targets[0].name, "ZTF-X");
        assert.deepEqual(batched[0].alert?.data.inputs.map((i) => i.alert_id), [xs[0].msgId]);

        // Redelivered batch (after more photometry was archived): every published result is
        // re-sent byte for byte under its hop _id — superseded ones too, which a publisher that
        // died between the commit and the publish would otherwise never send (0004) —, the
        // unchanged ones emit nothing; as one by one.
        const x3 = await opticalFixture("ZTF-X", point(3), [point(1), point(2)]);
        for (const db of [seq, bat]) await archive(db.sql, [x3]);
        const againOneByOne: Decision[] = [];
        for (const it of items) againOneByOne.push(...await decideBatch(seq.sql, [it], config));
        const again = await decideBatch(bat.sql, items, config, origins);
        assert.ok(origins.size > 0);
        assert.deepEqual(again.map(shown), againOneByOne.map(shown));
        const resent = again.flatMap((d, i) => d.alert ? [i] : []);
        assert.deepEqual(resent, [0, 1, 3, 4, 5, 7, 8]);
        assert.equal(again[0].why, "redelivered; superseded since, re-sent");
        for (const i of resent) {
          assert.equal(again[i].hopId, batched[i].hopId);
          assert.equal(JSON.stringify(again[i].alert), JSON.stringify(batched[i].alert));
        }
        assert.equal((await resultsOfCandidate(bat.sql, "ZTF-X")).length, 5);
      } finally {
        await seq.drop();
        await bat.drop();
      }
    },
  );

  Deno.test(
    `decideBatch (${backend}): results not archived yet wait, the rest go on`,
    opts,
    async () => {
      const db = await createTestDatabase(backend);
      try {
        const as = await twoAlerts("ZTF-A", 0);
        const bs = await twoAlerts("ZTF-B", 100);
        // B's newest alert is archived, its first is not (yet).
        await archive(db.sql, [...as, bs[1]]);
        const r = (c: string, kn: number, f: Fixture[]) =>
          resultFixture(c, kn, f.map((x) => x.msgId));
        const items: ResultItem[] = [
          {
            result: r("ZTF-B", 0.8, bs.slice(0, 1)),
            resultId: "b1",
            subject: "s",
            requireArchived: true,
          },
          { result: r("ZTF-A", 0.8, as), resultId: "a1", subject: "s", requireArchived: true },
          // Archived inputs, but an earlier result of B waits: B keeps its order.
          { result: r("ZTF-B", 0.3, bs), resultId: "b2", subject: "s", requireArchived: true },
          // Past its deadline: decided without the archive.
          {
            result: r("ZTF-C", 0.8, bs.slice(0, 1)),
            resultId: "c1",
            subject: "s",
            requireArchived: false,
          },
        ];
        const d = await decideBatch(db.sql, items, config);
        assert.deepEqual(d[0].missing, [`input alert ${bs[0].msgId}`]);
        assert.equal(d[0].alert, undefined);
        assert.equal(d[1].alert?.data.targets[0].name, "ZTF-A");
        assert.equal(d[1].missing, undefined);
        assert.match(d[2].missing?.[0] ?? "", /earlier result of candidate ZTF-B/);
        assert.deepEqual(d[3].alert?.data.targets, []);
        assert.equal(d[3].alert?.data.inputs[0].topic, null);
        assert.equal((await resultsOfCandidate(db.sql, "ZTF-B")).length, 0);
        // Once B is all archived, its results are decided in order (b1 first, then b2 republishes).
        await archive(db.sql, bs);
        const later = await decideBatch(db.sql, [items[0], items[2]], config);
        assert.deepEqual(later.map((x) => x.alert?.data.revision), [1, 2]);
        assert.equal(later[0].alert?.data.photometry.length, 2);
      } finally {
        await db.drop();
      }
    },
  );
}
