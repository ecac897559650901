/**
 * The classifier's evaluation, as functions (the `deno task evaluate` CLI and
 * the CI test share them): AT2017gfo replayed point by point, the contaminant
 * transients at AT2017gfo's position, and a synthetic test sky drawn with
 * another seed than the training sky.
 *
 * @module
 */
import { distanceModulus, MocSkyMap, SkyMap, writeMultiOrderFits } from "../../astro/mod.ts";
import {
  type Contaminant,
  contaminantShift,
  type Dataset,
  type PhotometryRow,
} from "../source_publisher/mod.ts";
import type { GwContext, ScoreContext } from "./context.ts";
import { LightCurve } from "./lightcurve.ts";
import { type KilonovaModel, score } from "./model.ts";
import { CLASSES, type SetOptions, syntheticSnapshots } from "./synthetic_set.ts";

/** Approximate host distances of the contaminants, Mpc (for the distance-matched variant). */
export const CONTAMINANT_DISTANCE_MPC: Readonly<Record<string, number>> = {
  SN2011fe: 6.4,
  SN2014J: 3.5,
  SN2016X: 15.2,
  SN2016coi: 18.1,
  AT2018cow: 60,
};

/** The GW context of AT2017gfo's position in the alert's (multi-order) BAYESTAR map. */
export async function gw170817Context(ds: Dataset): Promise<GwContext> {
  const flat = await SkyMap.fromFits(ds.bayestarMap, ds.bayestarMapFile);
  const moc = await MocSkyMap.fromFits(writeMultiOrderFits(flat.toMultiOrder()), "alert map");
  const at = moc.locate(ds.facts.counterpart.ra, ds.facts.counterpart.dec);
  return {
    eventId: "S170817a",
    t0Mjd: ds.facts.t0Mjd,
    credibleLevel: at.credibleLevel,
    densityDeg2: at.densityDeg2,
    distanceMpc: at.conditional?.mean,
    distanceStdMpc: at.conditional?.std,
  };
}

/** One scored alert of a replayed light curve. */
export interface CurvePoint {
  /** Days since the merger. */
  readonly t: number;
  readonly band: string;
  readonly upperLimit: boolean;
  readonly nights: number;
  readonly pKn: number;
  readonly label: string;
  readonly probabilities: Record<string, number>;
  readonly explanation: string;
  /** Microseconds for add + score. */
  readonly micros: number;
}

/** Replays rows point by point into a light curve and scores after each detection-bearing point. */
export function replayRows(
  id: string,
  rows: readonly PhotometryRow[],
  ra: number,
  dec: number,
  ctx: ScoreContext,
  t0: number,
  model: KilonovaModel,
  shift = { days: 0, mag: 0 },
): CurvePoint[] {
  const lc = new LightCurve(id, ra, dec);
  const out: CurvePoint[] = [];
  rows.forEach((r, i) => {
    const start = performance.now();
    lc.add({
      mjd: r.mjd + shift.days,
      band: r.band,
      mag: r.upperLimit ? null : r.mag + shift.mag,
      magErr: r.magErr,
      limit: r.upperLimit ? r.mag + shift.mag : null,
      upperLimit: r.upperLimit,
      system: r.system,
      id: i,
    });
    if (lc.nDet === 0) return;
    const s = score(lc, ctx, model);
    const micros = (performance.now() - start) * 1000;
    out.push({
      t: r.mjd + shift.days - t0,
      band: r.band,
      upperLimit: r.upperLimit,
      nights: lc.detectionNights,
      pKn: s.pKilonova,
      label: s.label,
      probabilities: s.probabilities,
      explanation: s.explanation,
      micros,
    });
  });
  return out;
}

/** AT2017gfo point by point. */
export function evaluateAt2017gfo(ds: Dataset, ctx: GwContext, model: KilonovaModel) {
  const f = ds.facts;
  const points = replayRows(
    "AT2017gfo",
    ds.at2017gfo,
    f.counterpart.ra,
    f.counterpart.dec,
    { gw: ctx },
    f.t0Mjd,
    model,
  );
  const window = points.filter((p) => p.t <= 7);
  const minWindow = Math.min(...window.map((p) => p.pKn));
  return { points, window, minWindow, pass: window.length > 0 && minWindow >= 0.9 };
}

/** How a contaminant is replayed. */
export type ContaminantVariant = "as-published" | "distance-matched" | "post-merger-only";

/** One contaminant at AT2017gfo's position. */
export function evaluateContaminant(
  ds: Dataset,
  c: Contaminant,
  ctx: GwContext,
  model: KilonovaModel,
  variant: ContaminantVariant,
) {
  const f = ds.facts;
  const days = contaminantShift(c, f.t0Mjd);
  let rows = c.rows;
  let mag = 0;
  if (variant === "distance-matched" && ctx.distanceMpc) {
    mag = distanceModulus(ctx.distanceMpc) - distanceModulus(CONTAMINANT_DISTANCE_MPC[c.name]);
  }
  if (variant === "post-merger-only") rows = rows.filter((r) => r.mjd + days >= f.t0Mjd);
  const points = replayRows(
    c.name,
    rows,
    f.counterpart.ra,
    f.counterpart.dec,
    { gw: ctx },
    f.t0Mjd,
    model,
    { days, mag },
  );
  const late = points.filter((p) => p.nights >= 3);
  const maxLate = late.length ? Math.max(...late.map((p) => p.pKn)) : NaN;
  return {
    name: c.name,
    class: c.class,
    variant,
    points,
    maxLate,
    maxAll: points.length ? Math.max(...points.map((p) => p.pKn)) : NaN,
    pass: late.length > 0 && maxLate <= 0.1,
  };
}

/** ROC AUC of scores for positives vs negatives (rank statistic, ties halved). */
export function rocAuc(scores: readonly number[], positive: readonly boolean[]): number {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSum = 0, nPos = 0, i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let q = i; q <= j; q++) {
      if (positive[idx[q]]) {
        rankSum += rank;
        nPos++;
      }
    }
    i = j + 1;
  }
  const nNeg = idx.length - nPos;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Precision and recall of a binary decision. */
export function precisionRecall(pred: readonly boolean[], truth: readonly boolean[]) {
  let tp = 0, fp = 0, fn = 0;
  pred.forEach((p, i) => {
    if (p && truth[i]) tp++;
    else if (p) fp++;
    else if (truth[i]) fn++;
  });
  return {
    precision: tp + fp ? tp / (tp + fp) : NaN,
    recall: tp + fn ? tp / (tp + fn) : NaN,
    support: tp + fn,
  };
}

/** Buckets of the number of detection nights. */
export const NIGHT_BUCKETS: readonly [string, number, number][] = [
  ["1", 1, 1],
  ["2", 2, 2],
  ["3", 3, 3],
  ["4–5", 4, 5],
  ["6–10", 6, 10],
  ["> 10", 11, Infinity],
];

/** Scores a synthetic test sky (end-of-night snapshots). */
export function evaluateSynthetic(map: SkyMap, model: KilonovaModel, o: SetOptions) {
  const kn = CLASSES.indexOf("kilonova");
  const rows: { cls: number; probs: Float64Array; nights: number; withGw: boolean }[] = [];
  const candidates = new Set<string>();
  for (const s of syntheticSnapshots(map, o)) {
    if (!s.endOfNight) continue;
    candidates.add(s.candidate);
    rows.push({
      cls: s.cls,
      probs: Float64Array.from(model.gbdt.predict(s.x)),
      nights: s.nights,
      withGw: s.withGw,
    });
  }
  const order = model.gbdt.classes.map((c) => CLASSES.indexOf(c as typeof CLASSES[number]));
  const p = (r: typeof rows[number], k: number) => r.probs[order.indexOf(k)];
  const argmax = (r: typeof rows[number]) => {
    let best = 0;
    for (let k = 1; k < CLASSES.length; k++) if (p(r, k) > p(r, best)) best = k;
    return best;
  };
  const sub = (f: (r: typeof rows[number]) => boolean) => rows.filter(f);
  const knMetrics = (rs: typeof rows) => ({
    n: rs.length,
    auc: rocAuc(rs.map((r) => p(r, kn)), rs.map((r) => r.cls === kn)),
    ...precisionRecall(rs.map((r) => p(r, kn) >= model.threshold), rs.map((r) => r.cls === kn)),
  });
  const perClass = CLASSES.map((c, k) => ({
    class: c,
    ...precisionRecall(rows.map((r) => argmax(r) === k), rows.map((r) => r.cls === k)),
  }));
  const perNights = NIGHT_BUCKETS.map(([label, lo, hi]) => ({
    label,
    ...knMetrics(sub((r) => r.nights >= lo && r.nights <= hi)),
    perClass: CLASSES.map((c, k) => {
      const rs = sub((r) => r.nights >= lo && r.nights <= hi);
      return {
        class: c,
        ...precisionRecall(rs.map((r) => argmax(r) === k), rs.map((r) => r.cls === k)),
      };
    }),
  }));
  const confusion = CLASSES.map((_, t) =>
    CLASSES.map((_, q) => rows.filter((r) => r.cls === t && argmax(r) === q).length)
  );
  return {
    snapshots: rows.length,
    candidates: candidates.size,
    overall: knMetrics(rows),
    withGw: knMetrics(sub((r) => r.withGw)),
    lightCurveOnly: knMetrics(sub((r) => !r.withGw)),
    perClass,
    perNights,
    confusion,
  };
}
