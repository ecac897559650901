import assert from "node:assert/strict";
import avro from "avsc";
import { Buffer } from "node:buffer";
import { SkyMap } from "../../astro/mod.ts";
import {
  FermiGbmNotice,
  GcnNoticeContent,
  IceCubeNuSearchNotice,
  IgwnAlertContent,
  OpticalAlertContent,
} from "../../contracts/mod.ts";
import { decodeAs } from "../../gateway/hopskotch/mod.ts";
import { loadDataset } from "./dataset.ts";
import { gcnNoticeValidator } from "./gcn_schema.ts";
import { eventId, uuidV5 } from "./ids.ts";
import { isoToMjd, loadEncoders } from "./payloads.ts";
import { buildTimeline, SUPEREVENT_ID } from "./timeline.ts";

const ds = await loadDataset();
const enc = await loadEncoders();
const built = await buildTimeline(ds, enc);
const facts = JSON.parse(await Deno.readTextFile(new URL("./data/events.json", import.meta.url)));
const of = (topic: string) => built.events.filter((e) => e.topic === topic);
const decodeAvro = (bytes: Uint8Array) => {
  const c = decodeAs("avro", bytes);
  assert.equal(c.format, "avro");
  return c as { schemaName: string; schemaFingerprint: string; records: unknown[] };
};
const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));

Deno.test("timeline is sorted and has every source: 4 IGWN alerts, 3 GCN notices, 16 circulars, optical", () => {
  for (let i = 1; i < built.events.length; i++) {
    assert.ok(built.events[i].t >= built.events[i - 1].t);
  }
  assert.deepEqual(of("igwnAlert").map((e) => e.label.split(" ")[1]), [
    "PRELIMINARY",
    "INITIAL",
    "UPDATE",
    "UPDATE",
  ]);
  assert.equal(of("gcnNotices").length, 3);
  assert.equal(of("gcnCirculars").length, 16);
  const keys = new Set(built.events.map((e) => e.key));
  assert.equal(keys.size, built.events.length, "event keys are unique");
});

Deno.test("timeline matches the facts: GW time, GRB ~1.7–2.1 s later, first optical detection ~10.9 h", () => {
  const prelim = IgwnAlertContent.parse(decodeAvro(of("igwnAlert")[0].encode("x")).records[0]);
  const gwMjd = isoToMjd(prelim.event!.time);
  // The gstlal trigger (GCN 21509) is within 0.1 s of the merger time t0.
  assert.ok(Math.abs((gwMjd - facts.t0.mjd.value) * 86400) < 0.1);
  assert.ok(prelim.event!.time.startsWith("2017-08-17T12:41:04.4"));
  const gbm = FermiGbmNotice.parse(json(of("gcnNotices")[0].encode("x")));
  const delay = (isoToMjd(gbm.trigger_time) - gwMjd) * 86400;
  // GBM trigger is 2.07 s after t0; the published GRB onset delay is 1.74 ± 0.05 s.
  assert.ok(delay > 1.9 && delay < 2.1, `trigger delay ${delay}`);
  assert.ok(Math.abs(facts.grb.delay_after_gw_s.value - 1.7) < 0.05);
  assert.ok(gbm.trigger_time.startsWith(facts.grb.trigger_time_utc.value));
  const initial = IgwnAlertContent.parse(decodeAvro(of("igwnAlert")[1].encode("x")).records[0]);
  assert.ok(Math.abs(initial.external_coinc!.time_difference - delay) < 0.01);
  // First optical detection: Swope i at t0 + 0.453 d = 10.9 h.
  const firstDet = of("optical").find((e) =>
    e.recordKey === "AT2017gfo" && !e.label.includes("limit")
  )!;
  assert.ok(
    Math.abs(firstDet.t / 3600 - facts.optical_counterpart.hours_after_gw.value) < 0.1,
    `${firstDet.t / 3600} h`,
  );
  const alert = OpticalAlertContent.parse(decodeAvro(firstDet.encode("x")).records[0]);
  assert.equal(alert.object_id, "AT2017gfo");
  assert.equal(alert.candidate.band, "i");
  assert.equal(alert.candidate.ra, facts.optical_counterpart.ra_deg.value);
  assert.equal(alert.candidate.dec, facts.optical_counterpart.dec_deg.value);
  // Only upper limits come before it ("no prior history").
  assert.ok(alert.prv_candidates!.length > 0);
  assert.ok(alert.prv_candidates!.every((p) => p.upper_limit));
  // The 2017 map placed the counterpart inside its 50% region.
  assert.ok(built.map.credibleLevelAt(alert.candidate.ra, alert.candidate.dec) < 0.5);
});

Deno.test("AT2017gfo photometry: one alert per row, counts per band as in the data README", () => {
  const gfo = of("optical").filter((e) => e.recordKey === "AT2017gfo");
  assert.equal(gfo.length, 821);
  assert.equal(gfo.filter((e) => e.label.includes("limit")).length, 159);
  const perBand: Record<string, number> = {};
  for (const e of gfo) {
    const band = e.label.split(" ")[2];
    perBand[band] = (perBand[band] ?? 0) + 1;
  }
  const expected = {
    r: 167,
    i: 81,
    Ks: 69,
    g: 64,
    z: 58,
    H: 51,
    J: 50,
    V: 44,
    I: 32,
    R: 29,
    B: 23,
    K: 23,
    Y: 21,
    w: 18,
    U: 14,
    W: 8,
    F110W: 7,
    F160W: 7,
    F475W: 7,
    y: 7,
    F336W: 5,
    W1: 5,
    W2: 5,
    M2: 5,
    "J8.9": 4,
    F606W: 4,
    u: 3,
    F814W: 2,
    J1: 2,
    C: 1,
    F625W: 1,
    F775W: 1,
    F850W: 1,
    F225W: 1,
    F275W: 1,
  };
  assert.deepEqual(perBand, expected);
  // Later alerts carry the object's last 30 days as history.
  const late = OpticalAlertContent.parse(decodeAvro(gfo[gfo.length - 1].encode("x")).records[0]);
  assert.ok(late.prv_candidates!.length > 100);
  assert.ok(
    late.prv_candidates!.every((p) =>
      p.mjd >= late.candidate.mjd - 30 && p.mjd <= late.candidate.mjd
    ),
  );
});

Deno.test("contaminants are placed inside the 2017 localization with neutral ids; truth kept apart", () => {
  const truth = built.truth.filter((t) => t.objectId !== "AT2017gfo");
  assert.deepEqual(truth.map((t) => t.class), ["SN Ia", "SN Ia", "SN II-P", "SN Ib/c", "FBOT"]);
  for (const t of truth) {
    assert.match(t.objectId, /^KB17[a-z]{2}$/);
    assert.ok(built.map.credibleLevelAt(t.ra, t.dec) < 0.999, `${t.objectId} outside the map`);
    const ev = of("optical").find((e) => e.recordKey === t.objectId)!;
    const text = new TextDecoder().decode(ev.encode("x"));
    assert.ok(!text.includes(t.source) && !text.includes(t.class), "alerts do not leak the class");
  }
});

Deno.test("IGWN alerts round-trip through avsc with the official schema; sky map bytes intact", async () => {
  const schema = JSON.parse(
    await Deno.readTextFile(new URL("./schemas/igwn.alerts.Alert.avsc", import.meta.url)),
  );
  const type = avro.Type.forSchema(schema);
  const fieldNames = (schema.fields as { name: string }[]).map((f) => f.name);
  assert.deepEqual(fieldNames, [
    "alert_type",
    "time_created",
    "superevent_id",
    "event",
    "external_coinc",
    "urls",
  ]);
  for (const [i, e] of of("igwnAlert").entries()) {
    const c = decodeAvro(e.encode("x"));
    // The writer schema in the container is the official one.
    assert.equal(c.schemaName, type.name);
    assert.equal(c.schemaFingerprint, type.fingerprint("sha256").toString("hex"));
    const rec = IgwnAlertContent.parse(c.records[0]);
    assert.equal(rec.superevent_id, SUPEREVENT_ID);
    const bytes = Buffer.from(rec.event!.skymap!, "base64");
    assert.ok(bytes.length < 1_000_000);
    const expected = i === 0 ? built.skymaps.preliminary : built.skymaps.bayestar;
    assert.ok(Buffer.compare(bytes, Buffer.from(expected)) === 0, "sky map bytes intact");
    const map = await SkyMap.fromFits(new Uint8Array(bytes), "alert sky map");
    assert.equal(map.meta.get("ORDERING"), "NUNIQ");
    if (i === 1) {
      assert.equal(map.meta.get("OBJECT"), "G298107");
      assert.ok(Math.abs(map.credibleArea(0.9) - 31.9) < 0.6);
    }
  }
});

Deno.test("GCN notices validate against @nasa-gcn/schema and the contracts; IceCube reports no neutrino", async () => {
  const validate = await gcnNoticeValidator();
  for (const e of of("gcnNotices")) {
    const n = json(e.encode("x"));
    assert.equal(validate(n), null, e.label);
    GcnNoticeContent.parse(n);
  }
  const ic = IceCubeNuSearchNotice.parse(
    json(of("gcnNotices").find((e) => e.label.startsWith("IceCube"))!.encode("x")),
  );
  assert.equal(ic.n_events_coincident, 0);
  assert.equal(ic.ref_ID, SUPEREVENT_ID);
  // A broken notice is caught by the official schema.
  const bad = { ...json(of("gcnNotices")[0].encode("x")), subtype: "NOT_A_SUBTYPE" };
  assert.notEqual(validate(bad), null);
});

Deno.test("circulars decode as hop's GCNCircular model", () => {
  for (const e of of("gcnCirculars")) {
    const c = decodeAs("circular", e.encode("x"));
    assert.equal(c.format, "circular");
    if (c.format === "circular") {
      assert.equal(c.header.number, e.recordKey);
      assert.ok(c.body.length > 100);
    }
  }
});

Deno.test("hop _ids are UUID v5, stable per (run, event) and distinct across runs", () => {
  // RFC 9562 test vector: v5 of "www.example.com" in the DNS namespace.
  assert.equal(
    uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
    "2ed6657d-e927-568b-95e1-2665a8aea6a2",
  );
  const a = eventId("run-1", "igwn/S170817a/1-PRELIMINARY");
  assert.equal(a, eventId("run-1", "igwn/S170817a/1-PRELIMINARY"));
  assert.notEqual(a, eventId("run-2", "igwn/S170817a/1-PRELIMINARY"));
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});
