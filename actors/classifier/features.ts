/**
 * Physically motivated features of a light curve in a GW context, computed
 * from the nightly bins of a {@link LightCurve} (cost proportional to the
 * number of nights, independent of the number of points). Missing values are
 * NaN (the trees route them explicitly).
 *
 * @module
 */
import { distanceModulus } from "../../astro/mod.ts";
import { BAND_WAVELENGTH, BANDS, NB } from "./bands.ts";
import type { ScoreContext } from "./context.ts";
import { type LightCurve, nightLimit, nightMag, nightTime } from "./lightcurve.ts";

/** Feature names, in model order; units in {@link FEATURE_DOCS}. */
export const FEATURE_NAMES = [
  "t_first_det",
  "t_last_det",
  "det_span",
  "n_det_nights",
  "n_det",
  "n_pre_merger_det",
  "ul_gap",
  "ul_depth",
  "abs_mag_peak",
  "abs_mag_first",
  "abs_mag_last",
  "t_peak_after_first",
  "rise_rate",
  "fade_blue",
  "fade_red",
  "fade_max",
  "fade_g",
  "fade_r",
  "fade_i",
  "fade_limit",
  "sed_slope_first",
  "sed_slope_last",
  "sed_slope_rate",
  "g_r_last",
  "r_i_last",
  "g_r_rate",
  "since_last_det",
  "credible_level",
  "log_density",
  "n_bands",
] as const;

/** A feature name. */
export type FeatureName = typeof FEATURE_NAMES[number];
/** Number of features. */
export const NF = FEATURE_NAMES.length;

/** One line per feature (docs/classifier.md). */
export const FEATURE_DOCS: Readonly<Record<FeatureName, string>> = {
  t_first_det: "first detection − merger time, days (needs a GW event)",
  t_last_det: "latest detection − merger time, days (needs a GW event)",
  det_span: "latest − first detection, days",
  n_det_nights: "nights with a detection",
  n_det: "detections (points)",
  n_pre_merger_det: "detections more than 0.1 d before the merger (needs a GW event)",
  ul_gap: "first detection − last non-detection before it, days",
  ul_depth:
    "that limit − first detection's magnitude, mag (> 0: a new source at least that bright)",
  abs_mag_peak: "brightest nightly magnitude − distance modulus of the line-of-sight distance",
  abs_mag_first: "absolute magnitude on the first detection night",
  abs_mag_last: "absolute magnitude on the latest detection night",
  t_peak_after_first: "time of the brightest night − first detection, days",
  rise_rate: "brightening before the peak, mag/day (band of the peak)",
  fade_blue: "fading after the peak in the bluest band with ≥ 0.5 d of decline, mag/day",
  fade_red: "fading after the peak in the reddest such band, mag/day",
  fade_max: "largest fading rate of any band, mag/day",
  fade_g: "fading rate in g, mag/day",
  fade_r: "fading rate in r, mag/day",
  fade_i: "fading rate in i, mag/day",
  fade_limit: "fading implied by later non-detections (lower bound), mag/day",
  sed_slope_first: "colour slope on the first multi-band night, mag per 1000 Å (> 0 = red)",
  sed_slope_last: "colour slope on the latest multi-band night",
  sed_slope_rate: "change of the colour slope per day (> 0 = reddening)",
  g_r_last: "g − r on the latest night with both",
  r_i_last: "r − i on the latest night with both",
  g_r_rate: "change of g − r per day",
  since_last_det: "latest observation − latest detection, days",
  credible_level: "searched credible level of the GW sky map at the position (needs a GW event)",
  log_density: "log10 sky-map probability density at the position, deg⁻² (needs a GW event)",
  n_bands: "canonical bands with a detection",
};

const MIN_BASELINE = 0.5;

// Per-band scratch (features are computed one candidate at a time).
const firstT = new Float64Array(NB), firstM = new Float64Array(NB);
const peakT = new Float64Array(NB), peakM = new Float64Array(NB);
const lastT = new Float64Array(NB), lastM = new Float64Array(NB);

/** Computes the feature vector into `out` (allocated when absent). */
export function extractFeatures(
  lc: LightCurve,
  ctx: ScoreContext,
  out: Float64Array = new Float64Array(NF),
): Float64Array {
  out.fill(NaN);
  const gw = ctx.gw;
  const t0 = gw ? gw.t0Mjd : NaN;
  const dm = gw?.distanceMpc && gw.distanceMpc > 0 ? distanceModulus(gw.distanceMpc) : NaN;
  if (gw) {
    out[27] = gw.credibleLevel;
    out[28] = Math.log10(Math.max(gw.densityDeg2, 1e-12));
  }
  out[4] = lc.nDet;
  if (lc.nDet === 0) {
    out[3] = 0;
    out[5] = 0;
    return out;
  }
  // Per band: first, peak and last nightly detection.
  firstT.fill(NaN);
  firstM.fill(NaN);
  peakT.fill(NaN);
  peakM.fill(Infinity);
  lastT.fill(NaN);
  lastM.fill(NaN);
  let nNights = 0, nPre = 0;
  let firstNightIdx = -1, lastNightIdx = -1;
  let gPeakM = Infinity, gPeakT = NaN, gPeakBand = -1;
  let slopeFirst = NaN, slopeFirstT = NaN, slopeLast = NaN, slopeLastT = NaN;
  let grFirst = NaN, grFirstT = NaN, grLast = NaN, grLastT = NaN, riLast = NaN;
  const ns = lc.nights;
  for (let k = 0; k < ns.length; k++) {
    const bin = ns[k];
    if (bin.nDet === 0) continue;
    nNights++;
    if (firstNightIdx < 0) firstNightIdx = k;
    lastNightIdx = k;
    let blue = -1, red = -1;
    for (let b = 0; b < NB; b++) {
      const m = nightMag(bin, b);
      if (Number.isNaN(m)) continue;
      const t = nightTime(bin, b);
      if (gw && t < t0 - 0.1) nPre += bin.det[b * 8 + 3];
      if (Number.isNaN(firstT[b])) {
        firstT[b] = t;
        firstM[b] = m;
      }
      if (m < peakM[b]) {
        peakM[b] = m;
        peakT[b] = t;
      }
      lastT[b] = t;
      lastM[b] = m;
      if (m < gPeakM) {
        gPeakM = m;
        gPeakT = t;
        gPeakBand = b;
      }
      if (blue < 0) blue = b;
      red = b;
    }
    if (red > blue && blue >= 0) {
      const s = (nightMag(bin, blue) - nightMag(bin, red)) /
        ((BAND_WAVELENGTH[red] - BAND_WAVELENGTH[blue]) / 1000);
      const t = nightTime(bin, red);
      if (Number.isNaN(slopeFirst)) {
        slopeFirst = s;
        slopeFirstT = t;
      }
      slopeLast = s;
      slopeLastT = t;
    }
    const g = nightMag(bin, 1), r = nightMag(bin, 2), i = nightMag(bin, 3);
    if (!Number.isNaN(g) && !Number.isNaN(r)) {
      const t = nightTime(bin, 2);
      if (Number.isNaN(grFirst)) {
        grFirst = g - r;
        grFirstT = t;
      }
      grLast = g - r;
      grLastT = t;
    }
    if (!Number.isNaN(r) && !Number.isNaN(i)) riLast = r - i;
  }
  const first = lc.firstDetMjd, last = lc.lastDetMjd;
  out[0] = first - t0;
  out[1] = last - t0;
  out[2] = last - first;
  out[3] = nNights;
  out[5] = gw ? nPre : NaN;
  // Last non-detection before the first detection (any band).
  const firstBin = ns[firstNightIdx];
  let firstNightBright = Infinity;
  for (let b = 0; b < NB; b++) {
    const m = nightMag(firstBin, b);
    if (m < firstNightBright) firstNightBright = m;
  }
  for (let k = firstNightIdx; k >= 0; k--) {
    let best = NaN, bestT = NaN;
    for (let b = 0; b < NB; b++) {
      const [lim, t] = nightLimit(ns[k], b);
      if (!Number.isNaN(lim) && t < first && !(lim <= best)) {
        best = lim;
        bestT = t;
      }
    }
    if (!Number.isNaN(best)) {
      out[6] = first - bestT;
      out[7] = best - firstNightBright;
      break;
    }
  }
  const lastBin = ns[lastNightIdx];
  let lastNightBright = Infinity;
  for (let b = 0; b < NB; b++) {
    const m = nightMag(lastBin, b);
    if (m < lastNightBright) lastNightBright = m;
  }
  out[8] = gPeakM - dm;
  out[9] = firstNightBright - dm;
  out[10] = lastNightBright - dm;
  out[11] = gPeakT - first;
  if (gPeakBand >= 0) {
    const dt = peakT[gPeakBand] - firstT[gPeakBand];
    if (dt >= MIN_BASELINE) out[12] = (firstM[gPeakBand] - peakM[gPeakBand]) / dt;
  }
  // Fading after the peak, per band.
  let fadeBlue = NaN, fadeRed = NaN, fadeMax = NaN, nBands = 0;
  for (let b = 0; b < NB; b++) {
    if (Number.isNaN(firstT[b])) continue;
    nBands++;
    const dt = lastT[b] - peakT[b];
    if (dt < MIN_BASELINE) continue;
    const rate = (lastM[b] - peakM[b]) / dt;
    if (Number.isNaN(fadeBlue)) fadeBlue = rate;
    fadeRed = rate;
    if (!(rate <= fadeMax)) fadeMax = rate;
    if (b === 1) out[16] = rate;
    if (b === 2) out[17] = rate;
    if (b === 3) out[18] = rate;
  }
  out[13] = fadeBlue;
  out[14] = fadeRed;
  out[15] = fadeMax;
  // Non-detections after a band's last detection that are fainter than its peak.
  let fadeLim = NaN;
  for (let k = lastNightIdx; k < ns.length; k++) {
    for (let b = 0; b < NB; b++) {
      const [lim, t] = nightLimit(ns[k], b);
      if (Number.isNaN(lim) || Number.isNaN(lastT[b]) || !(t > lastT[b] + 0.2)) continue;
      const rate = (lim - peakM[b]) / (t - peakT[b]);
      if (!(rate <= fadeLim)) fadeLim = rate;
    }
  }
  out[19] = fadeLim;
  out[20] = slopeFirst;
  out[21] = slopeLast;
  if (slopeLastT - slopeFirstT >= MIN_BASELINE) {
    out[22] = (slopeLast - slopeFirst) / (slopeLastT - slopeFirstT);
  }
  out[23] = grLast;
  out[24] = riLast;
  if (grLastT - grFirstT >= MIN_BASELINE) out[25] = (grLast - grFirst) / (grLastT - grFirstT);
  out[26] = lc.lastObsMjd - last;
  out[29] = nBands;
  return out;
}

/** The band label of a canonical index (for explanations). */
export function bandName(b: number): string {
  return BANDS[b] ?? "?";
}
