/**
 * The classifier actor on real alert payloads: in process (the handler against
 * a state), then as a process on the real nats-server reading `alerts.in.*`
 * and publishing `results.kilonova`.
 */
import assert from "node:assert/strict";
import { SkyMap, writeMultiOrderFits } from "../../astro/mod.ts";
import { ClassificationResult, type IgwnAlertContent } from "../../contracts/messages.ts";
import { RESULT_SUBJECTS, STREAMS, SUBJECTS } from "../../contracts/names.ts";
import { loadDataset } from "../source_publisher/mod.ts";
import { connectTestNats, natsUrl, spawnActor, waitFor } from "../runtime/testing.ts";
import { Rejection } from "../runtime/actor.ts";
import { handleEnvelope } from "./actor.ts";
import { ClassifierState } from "./state.ts";
import { envelope, gfoAlerts } from "./testing.ts";

const ds = await loadDataset();
const flat = await SkyMap.fromFits(ds.bayestarMap, ds.bayestarMapFile);
const mapBytes = writeMultiOrderFits(flat.toMultiOrder());
let mapB64 = "";
for (let i = 0; i < mapBytes.length; i += 0x8000) {
  mapB64 += String.fromCharCode(...mapBytes.subarray(i, i + 0x8000));
}
mapB64 = btoa(mapB64);
const T0_ISO = "2017-08-17T12:41:04.446Z";

function gwAlert(type: IgwnAlertContent["alert_type"]): IgwnAlertContent {
  return {
    alert_type: type,
    time_created: T0_ISO,
    superevent_id: "S170817a",
    event: type === "RETRACTION" ? null : {
      time: T0_ISO,
      far: 1e-12,
      significant: true,
      instruments: ["H1", "L1", "V1"],
      group: "CBC",
      pipeline: "gstlal",
      search: "AllSky",
      classification: { BNS: 1 },
      properties: { HasNS: 1 },
      duration: null,
      central_frequency: null,
      skymap: mapB64,
    },
    external_coinc: null,
    urls: {},
  };
}

Deno.test("handler: GW map in memory, AT2017gfo scored per alert with a valid result and explanation", async () => {
  const state = new ClassifierState();
  assert.deepEqual(await handleEnvelope(envelope("gw", gwAlert("INITIAL"), 0), "gw-1", state), []);
  assert.equal(state.events.size, 1);
  const alerts = gfoAlerts(ds).filter((a) => a.candidate.mjd < ds.facts.t0Mjd + 3);
  let results = 0;
  for (const [i, a] of alerts.entries()) {
    const out = await handleEnvelope(envelope("optical", a, i), `opt-${i}`, state);
    for (const o of out) {
      const r = ClassificationResult.parse(o.data);
      assert.equal(o.subject, RESULT_SUBJECTS.results("kilonova"));
      assert.equal(r.event_id, "S170817a");
      assert.ok(r.scores.kilonova >= 0.9, `${a.candidate.mjd}: ${r.scores.kilonova}`);
      assert.equal(r.input_alert_ids[0], "gw-1");
      assert.equal(r.features.light_curve_only, 0);
      assert.match(r.explanation.summary, /Mpc implies M_\w = −1\d\.\d, inside the 50% region/);
      results++;
    }
  }
  assert.ok(results > 100, `${results} results`);
  // The pre-merger limits produce no result (nothing detected yet).
  assert.equal(state.lightCurve("AT2017gfo")!.nIgnored > 0, true);
});

Deno.test("handler: scored on the light curve alone without an event or outside the map, flagged", async () => {
  const state = new ClassifierState();
  const a = gfoAlerts(ds, "far").find((x) => !x.candidate.upper_limit)!;
  let out = await handleEnvelope(envelope("optical", a, 1), "o1", state);
  let r = ClassificationResult.parse(out[0].data);
  assert.equal(r.event_id, null);
  assert.equal(r.features.light_curve_only, 1);
  assert.match(r.explanation.summary, /light curve only \(no live GW event\)/);
  await handleEnvelope(envelope("gw", gwAlert("INITIAL"), 2), "gw-1", state);
  const outside = { ...a, object_id: "north", candidate: { ...a.candidate, ra: 10, dec: 60 } };
  out = await handleEnvelope(envelope("optical", outside, 3), "o2", state);
  r = ClassificationResult.parse(out[0].data);
  assert.equal(r.event_id, null);
  assert.match(r.explanation.summary, /outside all live sky maps \(nearest: level 1\.000\)/);
  await handleEnvelope(envelope("gw", gwAlert("RETRACTION"), 4), "gw-2", state);
  assert.equal(state.events.size, 0);
});

Deno.test("handler: malformed alerts are rejected with the reason", async () => {
  const state = new ClassifierState();
  await assert.rejects(
    handleEnvelope(envelope("optical", { object_id: 3 }, 0), "bad-1", state),
    (e: Error) => e instanceof Rejection && /optical alert bad-1 record 0/.test(e.message),
  );
  const badMap = { ...gwAlert("INITIAL") };
  badMap.event = { ...badMap.event!, skymap: btoa("not a fits file") };
  await assert.rejects(
    handleEnvelope(envelope("gw", badMap, 0), "bad-2", state),
    /S170817a INITIAL sky map: not a FITS file/,
  );
});

Deno.test({
  name: "process: the classifier actor on nats-server turns alerts.in.* into results.kilonova",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const t = await connectTestNats("classifier-test");
    for (const s of [STREAMS.alertsIn, STREAMS.results, STREAMS.deadLetters]) {
      await t.deleteStream(s.name);
      await t.ensureStream(s);
    }
    const enc = new TextEncoder();
    await t.publish(
      SUBJECTS.alertsIn("gw"),
      enc.encode(JSON.stringify(envelope("gw", gwAlert("INITIAL"), 0))),
      { msgId: "test:gw:1" },
    );
    const alerts = gfoAlerts(ds).filter((a) =>
      a.candidate.mjd > ds.facts.t0Mjd && a.candidate.mjd < ds.facts.t0Mjd + 1.5
    ).slice(0, 40);
    for (const [i, a] of alerts.entries()) {
      await t.publish(
        SUBJECTS.alertsIn("optical"),
        enc.encode(JSON.stringify(envelope("optical", a, i + 1))),
        { msgId: `test:opt:${i}` },
      );
    }
    // Alerts before the first detection (upper limits) give no result.
    const expected = alerts.length - alerts.findIndex((a) => !a.candidate.upper_limit);
    const actor = await spawnActor("classifier", { KB_NATS_URL: natsUrl() });
    try {
      await waitFor(`${expected} results`, async () => {
        const n = (await t.streamState(STREAMS.results.name)).messages;
        return n >= expected ? n : undefined;
      }, 30_000);
      const seen: ClassificationResult[] = [];
      for await (
        const m of t.read(STREAMS.results.name, { subject: RESULT_SUBJECTS.results("kilonova") })
      ) {
        seen.push(ClassificationResult.parse(JSON.parse(new TextDecoder().decode(m.data))));
      }
      assert.ok(expected >= 30, `${expected} alerts with a detection`);
      assert.equal(seen.length, expected);
      assert.ok(seen.every((r) => r.event_id === "S170817a" && r.scores.kilonova >= 0.9));
      assert.equal((await t.streamState(STREAMS.deadLetters.name)).messages, 0);
    } catch (e) {
      throw new Error(
        `${(e as Error).message}\nactor log:\n${
          actor.logs.slice(-15).map((l) => JSON.stringify(l).slice(0, 400)).join("\n")
        }`,
      );
    } finally {
      actor.kill("SIGTERM");
      await actor.status;
      await t.close();
    }
  },
});
