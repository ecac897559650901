import assert from "node:assert/strict";
import { readSkyMapFile } from "../../../astro/mod.ts";
import {
  OpticalAlertContent,
  SyntheticTruth,
  type TransientClass,
} from "../../../contracts/mod.ts";
import { decodeAs } from "../../../gateway/hopskotch/mod.ts";
import { encodeOpticalAlert, loadEncoders } from "../payloads.ts";
import { SkyAlertEncoder, syntheticEvents } from "./events.ts";
import { DEFAULT_MIX, syntheticObjectId, SyntheticSky } from "./generator.ts";
import { drawParams, modelMag } from "./models.ts";
import { Rng } from "./rng.ts";

const map = await readSkyMapFile(
  new URL("../data/skymap/bayestar_2017_G298107.flat.fits.gz", import.meta.url),
);
const T0 = 57982.52852314815;
const sky = (n: number, seed: number) => new SyntheticSky({ n, seed, t0Mjd: T0, map });

Deno.test("class proportions follow the mix", () => {
  const n = 4000;
  const counts: Record<string, number> = {};
  for (const c of sky(n, 7).candidates()) counts[c.truth.class] = (counts[c.truth.class] ?? 0) + 1;
  for (const [cls, p] of Object.entries(DEFAULT_MIX)) {
    const got = (counts[cls] ?? 0) / n;
    const sd = Math.sqrt((p * (1 - p)) / n);
    assert.ok(Math.abs(got - p) < 4 * sd, `${cls}: ${got} vs ${p}`);
  }
  const only = new SyntheticSky({
    n: 200,
    seed: 1,
    t0Mjd: T0,
    map,
    mix: { "kilonova": 1, "SN Ia": 0, "SN II-P": 0, "SN Ib/c": 0, "FBOT": 0, "M-dwarf flare": 0 },
  });
  assert.ok([...only.candidates()].every((c) => c.truth.class === "kilonova"));
});

Deno.test("same seed, same sky (truth and alert bytes); another seed, another sky", async () => {
  const enc = await loadEncoders();
  const bytes = (s: SyntheticSky) =>
    [...syntheticEvents(s, enc)].map((e) => e.encode("00000000-0000-5000-8000-000000000000"));
  const a = bytes(sky(150, 42));
  const b = bytes(sky(150, 42));
  assert.ok(a.length > 100);
  assert.deepEqual(a, b);
  assert.deepEqual(sky(150, 42).candidate(17).truth, sky(150, 42).candidate(17).truth);
  assert.notDeepEqual(sky(150, 43).candidate(17).truth, sky(150, 42).candidate(17).truth);
});

Deno.test("alerts validate against the contract, are in time order and never carry the class", async () => {
  const enc = await loadEncoders();
  const s = sky(300, 3);
  let prev = -Infinity;
  let n = 0;
  for (const e of syntheticEvents(s, enc)) {
    assert.ok(e.t >= prev);
    prev = e.t;
    const c = decodeAs("avro", e.encode("00000000-0000-5000-8000-000000000000"));
    const alert = OpticalAlertContent.parse((c as { records: unknown[] }).records[0]);
    assert.ok(
      !alert.candidate.upper_limit && alert.candidate.mag! < alert.candidate.limiting_mag! + 0.5,
    );
    const text = JSON.stringify(alert);
    for (const cls of Object.keys(DEFAULT_MIX)) assert.ok(!text.includes(`"${cls}"`));
    assert.ok(!("class" in alert) && !text.includes("truth"));
    n++;
  }
  assert.ok(n > 200, `${n} alerts`);
  const keys = [...syntheticEvents(s, enc)].map((e) => e.key);
  assert.equal(new Set(keys).size, keys.length, "event keys (hence hop _ids) are unique");
  for (const c of s.candidates()) SyntheticTruth.parse(c.truth);
});

Deno.test("kilonovae fade ≥ 0.5 mag/day in g over the 3 days after peak; peak within 1.5 d", () => {
  const rng = new Rng(11);
  for (let k = 0; k < 300; k++) {
    const p = drawParams("kilonova", rng);
    let tp = 0, mp = Infinity;
    for (let t = 0.05; t < 10; t += 0.05) {
      const m = modelMag("kilonova", p, t, "g");
      if (m < mp) [mp, tp] = [m, t];
    }
    assert.ok(tp <= 1.5, `peak at ${tp} d`);
    const rate = (modelMag("kilonova", p, tp + 3, "g") - mp) / 3;
    assert.ok(rate >= 0.5, `fades ${rate} mag/day`);
    // Redder later: g - i grows after the peak.
    assert.ok(
      modelMag("kilonova", p, 5, "g") - modelMag("kilonova", p, 5, "i") >
        modelMag("kilonova", p, 1, "g") - modelMag("kilonova", p, 1, "i"),
    );
  }
});

Deno.test("Type Ia rise 15–20 days from explosion to g peak; II-P plateau; flares last hours", () => {
  const rng = new Rng(12);
  const peakTime = (
    cls: TransientClass,
    p: Record<string, number>,
    band: string,
    step: number,
    end: number,
  ) => {
    let tp = 0, mp = Infinity;
    for (let t = step; t < end; t += step) {
      const m = modelMag(cls, p, t, band);
      if (m < mp) [mp, tp] = [m, t];
    }
    return { tp, mp };
  };
  for (let k = 0; k < 200; k++) {
    const ia = drawParams("SN Ia", rng);
    const { tp } = peakTime("SN Ia", ia, "g", 0.1, 60);
    assert.ok(tp >= 14.9 && tp <= 20.1, `Ia peak at ${tp} d`);
    const iip = drawParams("SN II-P", rng);
    const pk = iip.rise_days + 1;
    assert.ok(
      modelMag("SN II-P", iip, pk + 50, "r") - modelMag("SN II-P", iip, pk, "r") < 0.5,
      "II-P plateau in r",
    );
    const fl = drawParams("M-dwarf flare", rng);
    const f = peakTime("M-dwarf flare", fl, "g", 0.0005, 1);
    assert.ok(
      modelMag("M-dwarf flare", fl, f.tp + 0.25, "g") - f.mp > 2,
      "flare fades within hours",
    );
  }
});

Deno.test("positions follow the sky map: in-map candidates fill the 50%/90% regions in proportion", () => {
  const s = new SyntheticSky({ n: 4000, seed: 5, t0Mjd: T0, map, inMapFraction: 1 });
  let in50 = 0, in90 = 0;
  for (const c of s.candidates()) {
    const level = map.credibleLevelAt(c.ra, c.dec);
    if (level <= 0.5) in50++;
    if (level <= 0.9) in90++;
  }
  assert.ok(Math.abs(in50 / 4000 - 0.5) < 0.03, `${in50 / 4000}`);
  assert.ok(Math.abs(in90 / 4000 - 0.9) < 0.02, `${in90 / 4000}`);
  // With inMapFraction 0 only kilonovae follow the map; the rest spread over the sky.
  const spread = new SyntheticSky({ n: 2000, seed: 5, t0Mjd: T0, map, inMapFraction: 0 });
  const outside = [...spread.candidates()].filter((c) =>
    c.truth.class !== "kilonova" && map.credibleLevelAt(c.ra, c.dec) > 0.99
  );
  assert.ok(outside.length > 1500, `${outside.length}`);
});

Deno.test("bad generator options are named", () => {
  assert.throws(() => sky(-1, 1), /n must be/);
  assert.throws(
    () => new SyntheticSky({ n: 1, seed: 1, t0Mjd: T0, map, mix: { "quasar": 1 } as never }),
    /unknown class "quasar"/,
  );
  assert.throws(
    () => new SyntheticSky({ n: 1, seed: 1, t0Mjd: T0, map, inMapFraction: 2 }),
    /inMapFraction/,
  );
});

Deno.test("the fast alert encoder is byte-identical to avsc encoding the whole record", async () => {
  const enc = await loadEncoders();
  const s = sky(60, 9);
  const fast = new SkyAlertEncoder(s, enc);
  let n = 0;
  for (const c of s.candidates()) {
    c.observations.forEach((x, k) => {
      if (!x.detected) return;
      const id = `id-${c.index}-${k}`;
      assert.deepEqual(fast.encode(c, k, id), encodeOpticalAlert(enc, s.alert(c, k, id)));
      n++;
    });
  }
  assert.ok(n > 50);
});

Deno.test("object ids are unique", () => {
  const ids = new Set<string>();
  for (let i = 0; i < 600_000; i += 7) ids.add(syntheticObjectId("KBS", i));
  assert.equal(ids.size, Math.ceil(600_000 / 7));
  assert.equal(syntheticObjectId("KBS", 0), "KBSaaaa");
  assert.equal(syntheticObjectId("KBS", 27), "KBSaabb");
});
