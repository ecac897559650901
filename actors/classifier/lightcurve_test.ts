import assert from "node:assert/strict";
import { extractFeatures, FEATURE_NAMES } from "./features.ts";
import { LightCurve, nightMag, type PhotPoint } from "./lightcurve.ts";
import type { ScoreContext } from "./context.ts";

const T0 = 57982.52852314815;
const CTX: ScoreContext = {
  gw: {
    eventId: "S1",
    t0Mjd: T0,
    credibleLevel: 0.3,
    densityDeg2: 0.05,
    distanceMpc: 40,
    distanceStdMpc: 8,
  },
};
const F = (x: Float64Array, name: typeof FEATURE_NAMES[number]) => x[FEATURE_NAMES.indexOf(name)];

const det = (mjd: number, band: string, mag: number, id?: number): PhotPoint => ({
  mjd,
  band,
  mag,
  magErr: 0.05,
  upperLimit: false,
  id,
});
const lim = (mjd: number, band: string, limit: number): PhotPoint => ({
  mjd,
  band,
  mag: null,
  limit,
  upperLimit: true,
});

Deno.test("a single detection gives times and luminosity, and no rates or colours", () => {
  const lc = new LightCurve("c", 197.45, -23.38);
  assert.equal(lc.add(det(T0 + 0.45, "i", 17.48)), "added");
  const x = extractFeatures(lc, CTX);
  assert.equal(x.length, FEATURE_NAMES.length);
  assert.ok(Math.abs(F(x, "t_first_det") - 0.45) < 1e-9);
  assert.equal(F(x, "n_det"), 1);
  assert.equal(F(x, "n_det_nights"), 1);
  assert.equal(F(x, "n_pre_merger_det"), 0);
  assert.ok(Math.abs(F(x, "abs_mag_peak") - (17.48 - 33.0103)) < 1e-3);
  for (const n of ["fade_max", "rise_rate", "g_r_last", "sed_slope_first", "ul_gap"] as const) {
    assert.ok(Number.isNaN(F(x, n)), `${n} should be missing`);
  }
  assert.equal(F(x, "credible_level"), 0.3);
});

Deno.test("only upper limits: no detection features, counts are zero", () => {
  const lc = new LightCurve("c", 0, 0);
  lc.add(lim(T0 - 3, "r", 20.5));
  lc.add(lim(T0 - 2, "g", 20.7));
  assert.equal(lc.nDet, 0);
  assert.equal(lc.nPoints, 2);
  const x = extractFeatures(lc, CTX);
  assert.equal(F(x, "n_det"), 0);
  assert.equal(F(x, "n_det_nights"), 0);
  assert.ok(Number.isNaN(F(x, "abs_mag_peak")));
  assert.ok(Number.isNaN(F(x, "t_first_det")));
});

Deno.test("unsorted points give the same features as sorted ones", () => {
  const pts: PhotPoint[] = [
    lim(T0 - 1.02, "r", 20.6),
    det(T0 + 0.5, "g", 17.6, 1),
    det(T0 + 0.54, "r", 17.5, 2),
    det(T0 + 1.5, "g", 18.6, 3),
    det(T0 + 1.54, "r", 18.1, 4),
    det(T0 + 2.5, "g", 19.5, 5),
    det(T0 + 2.54, "r", 18.7, 6),
    lim(T0 + 4.5, "g", 20.8),
  ];
  const sorted = new LightCurve("a", 0, 0);
  for (const p of pts) sorted.add(p);
  const shuffled = new LightCurve("b", 0, 0);
  for (const i of [5, 0, 7, 2, 1, 6, 4, 3]) shuffled.add(pts[i]);
  const a = extractFeatures(sorted, CTX), b = extractFeatures(shuffled, CTX);
  assert.deepEqual(Array.from(b), Array.from(a));
  assert.ok(Math.abs(F(a, "fade_g") - 0.95) < 1e-9, `${F(a, "fade_g")}`);
  assert.ok(F(a, "g_r_rate") > 0.3, "reddening");
  assert.ok(Math.abs(F(a, "ul_gap") - 1.52) < 1e-9);
  assert.ok(Math.abs(F(a, "ul_depth") - (20.6 - 17.5)) < 1e-6);
  assert.ok(F(a, "fade_limit") > 0.5, "the late g limit implies fading");
  assert.equal(F(a, "n_det_nights"), 3);
});

Deno.test("duplicates are ignored: same id, or same time/band/value without an id", () => {
  const lc = new LightCurve("c", 0, 0);
  assert.equal(lc.add(det(T0 + 1, "r", 18, 7)), "added");
  assert.equal(lc.add(det(T0 + 1, "r", 18, 7)), "duplicate");
  assert.equal(lc.add(det(T0 + 2, "r", 19)), "added");
  assert.equal(lc.add(det(T0 + 2, "r", 19)), "duplicate");
  assert.equal(lc.add(lim(T0 + 3, "r", 20)), "added");
  assert.equal(lc.add(lim(T0 + 3, "r", 20)), "duplicate");
  assert.equal(lc.nDet, 2);
  assert.ok(lc.has(7));
});

Deno.test("bands: near-IR and unfiltered points are counted but unused; Vega R/I become AB", () => {
  const lc = new LightCurve("c", 0, 0);
  assert.equal(lc.add(det(T0 + 1, "Ks", 17)), "ignored-band");
  assert.equal(lc.add(det(T0 + 1, "W", 17)), "ignored-band");
  assert.equal(lc.add({ ...det(T0 + 1, "R", 18), system: "Vega" }), "added");
  assert.equal(lc.nIgnored, 2);
  assert.ok(Math.abs(nightMag(lc.nights[0], 2) - 18.21) < 1e-9);
  assert.equal(lc.add({ ...det(NaN, "r", 18) }), "invalid");
  assert.equal(lc.add({ mjd: T0, band: "r", mag: null, upperLimit: true }), "invalid");
});

Deno.test("without a GW event the time-since-merger and sky-map features are missing", () => {
  const lc = new LightCurve("c", 0, 0);
  lc.add(det(T0 + 0.5, "g", 18));
  lc.add(det(T0 - 5, "g", 18.5));
  const x = extractFeatures(lc, { noGwReason: "no live GW event" });
  for (const n of ["t_first_det", "n_pre_merger_det", "abs_mag_peak", "credible_level"] as const) {
    assert.ok(Number.isNaN(F(x, n)), n);
  }
  assert.ok(Math.abs(F(x, "det_span") - 5.5) < 1e-9);
  const withGw = extractFeatures(lc, CTX);
  assert.equal(F(withGw, "n_pre_merger_det"), 1);
});

Deno.test("one observing night across UTC midnight is one bin", () => {
  const lc = new LightCurve("c", 0, 0);
  lc.add(det(57982.98, "g", 18));
  lc.add(det(57983.1, "r", 18));
  assert.equal(lc.nights.length, 1);
  lc.add(det(57983.6, "r", 18.4));
  assert.equal(lc.nights.length, 2);
});
