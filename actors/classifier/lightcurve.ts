/**
 * A candidate's light curve as the classifier keeps it: nightly bins per
 * canonical band, updated in O(1) per new point (a bin is found by a short
 * search from the end; points usually arrive in time order). Points may come
 * in any order and more than once: an exact repeat (same id, or same time,
 * band and value) is ignored, a late point lands in its night.
 *
 * A night is the UTC noon-to-noon interval `floor(mjd − 0.5)`, so one
 * observing night in the Americas, Europe or Africa is one bin.
 *
 * @module
 */
import { bandIndex, NB, toAb } from "./bands.ts";

/** One photometric point as the classifier takes it. */
export interface PhotPoint {
  /** Observation time, UTC MJD. */
  readonly mjd: number;
  /** Filter label as the source gives it. */
  readonly band: string;
  /** Magnitude of a detection; null for a non-detection. */
  readonly mag: number | null;
  readonly magErr?: number | null;
  /** Limiting magnitude (required for non-detections to be useful). */
  readonly limit?: number | null;
  readonly upperLimit: boolean;
  /** "AB", "Vega" or null (= AB). */
  readonly system?: string | null;
  /** Source id of the measurement (e.g. `candid`), for de-duplication. */
  readonly id?: string | number;
}

/** Detection slots per band in a night bin. */
const D = 8;
const SW = 0, SWM = 1, SWT = 2, N = 3, TMIN = 4, MTMIN = 5, TMAX = 6, MTMAX = 7;

/** One night of data. */
export interface NightBin {
  /** `floor(mjd − 0.5)`. */
  readonly night: number;
  /** Per band: Σw, Σw·m, Σw·t, n, earliest t, its m, latest t, its m. */
  readonly det: Float64Array;
  /** Per band: deepest limit (NaN when none) and its time. */
  readonly lim: Float64Array;
  /** Detections in this night (any canonical band). */
  nDet: number;
}

/** Nightly mean magnitude of band `b` (NaN when none). */
export function nightMag(bin: NightBin, b: number): number {
  const o = b * D;
  return bin.det[o + N] > 0 ? bin.det[o + SWM] / bin.det[o + SW] : NaN;
}

/** Weighted mean time of band `b`'s detections in a night (NaN when none). */
export function nightTime(bin: NightBin, b: number): number {
  const o = b * D;
  return bin.det[o + N] > 0 ? bin.det[o + SWT] / bin.det[o + SW] : NaN;
}

/** Within-night change rate of band `b`, mag/day (NaN with < 2 points or < 15 min apart). */
export function intraNightRate(bin: NightBin, b: number): number {
  const o = b * D;
  const dt = bin.det[o + TMAX] - bin.det[o + TMIN];
  if (bin.det[o + N] < 2 || !(dt >= 0.01)) return NaN;
  return (bin.det[o + MTMAX] - bin.det[o + MTMIN]) / dt;
}

/** Deepest limit of band `b` in a night (NaN when none) and its time. */
export function nightLimit(bin: NightBin, b: number): [number, number] {
  return [bin.lim[2 * b], bin.lim[2 * b + 1]];
}

/** What happened to an added point. */
export type AddResult = "added" | "duplicate" | "ignored-band" | "invalid";

/** The classifier's state of one candidate. */
export class LightCurve {
  /** Night bins in time order. */
  readonly nights: NightBin[] = [];
  readonly #seen = new Set<string>();
  /** Points used (detections and limits in canonical bands). */
  nPoints = 0;
  /** Detections used. */
  nDet = 0;
  /** Points in bands the classifier does not use (near-IR, UV, unfiltered, ...). */
  nIgnored = 0;
  /** Earliest and latest detection (canonical bands), MJD. */
  firstDetMjd = Infinity;
  lastDetMjd = -Infinity;
  /** Latest observation of any kind, MJD. */
  lastObsMjd = -Infinity;

  constructor(
    /** Candidate id. */
    readonly id: string,
    readonly ra: number,
    readonly dec: number,
  ) {}

  /** Adds one point; O(1) for points in time order. */
  add(p: PhotPoint): AddResult {
    if (!Number.isFinite(p.mjd)) return "invalid";
    const value = p.upperLimit ? p.limit : p.mag;
    if (value === null || value === undefined || !Number.isFinite(value)) return "invalid";
    const key = p.id !== undefined && p.id !== null
      ? `#${p.id}`
      : `${p.mjd}|${p.band}|${p.upperLimit ? "<" : ""}${value}`;
    if (this.#seen.has(key)) return "duplicate";
    this.#seen.add(key);
    const b = bandIndex(p.band);
    if (b < 0) {
      this.nIgnored++;
      return "ignored-band";
    }
    const m = toAb(value, p.band, p.system);
    const bin = this.#bin(Math.floor(p.mjd - 0.5));
    this.nPoints++;
    if (p.mjd > this.lastObsMjd) this.lastObsMjd = p.mjd;
    if (p.upperLimit) {
      if (!(bin.lim[2 * b] >= m)) {
        bin.lim[2 * b] = m;
        bin.lim[2 * b + 1] = p.mjd;
      }
      return "added";
    }
    const err = p.magErr && p.magErr > 0 ? p.magErr : 0.1;
    // 0.05 mag floor: cross-calibration between instruments.
    const w = 1 / (err * err + 0.0025);
    const o = b * D;
    const d = bin.det;
    d[o + SW] += w;
    d[o + SWM] += w * m;
    d[o + SWT] += w * p.mjd;
    if (d[o + N] === 0 || p.mjd < d[o + TMIN]) {
      d[o + TMIN] = p.mjd;
      d[o + MTMIN] = m;
    }
    if (d[o + N] === 0 || p.mjd > d[o + TMAX]) {
      d[o + TMAX] = p.mjd;
      d[o + MTMAX] = m;
    }
    d[o + N]++;
    bin.nDet++;
    this.nDet++;
    if (p.mjd < this.firstDetMjd) this.firstDetMjd = p.mjd;
    if (p.mjd > this.lastDetMjd) this.lastDetMjd = p.mjd;
    return "added";
  }

  /** True when a point with this source id was added. */
  has(id: string | number): boolean {
    return this.#seen.has(`#${id}`);
  }

  /** Nights with at least one detection. */
  get detectionNights(): number {
    let n = 0;
    for (const bin of this.nights) if (bin.nDet > 0) n++;
    return n;
  }

  #bin(night: number): NightBin {
    const ns = this.nights;
    let i = ns.length - 1;
    while (i >= 0 && ns[i].night > night) i--;
    if (i >= 0 && ns[i].night === night) return ns[i];
    const bin: NightBin = {
      night,
      det: new Float64Array(NB * D),
      lim: new Float64Array(2 * NB).fill(NaN),
      nDet: 0,
    };
    ns.splice(i + 1, 0, bin);
    return bin;
  }
}
