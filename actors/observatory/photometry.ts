/**
 * Photometry the simulated observatory "measures": for AT2017gfo, the real
 * light curve (the replay's literature CSV) interpolated in time per band;
 * for any other target a flat 19.5 mag model. Both with Gaussian noise
 * from a seeded generator, so a run is reproducible.
 *
 * @module
 */
import { parsePhotometry, type PhotometryRow } from "../source_publisher/dataset.ts";

/** AT2017gfo's position (degrees) and merger time (MJD). */
export const AT2017GFO = {
  name: "AT2017gfo",
  ra: 197.450374,
  dec: -23.381495,
  t0Mjd: 57982.528524,
};

/** A simulated measurement. */
export interface Measurement {
  readonly mag: number;
  readonly magErr: number;
  /** Where the magnitude came from. */
  readonly truth: "AT2017gfo literature" | "model";
}

/** A small seeded generator (mulberry32) with a Gaussian draw. */
export function seededRandom(seed: number): { uniform(): number; normal(): number } {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    uniform,
    normal: () => Math.sqrt(-2 * Math.log(uniform() || 1e-12)) * Math.cos(2 * Math.PI * uniform()),
  };
}

/** Light-curve truth for the simulated observatory. */
export class LightCurveTruth {
  readonly #byBand = new Map<string, PhotometryRow[]>();

  constructor(rows: readonly PhotometryRow[]) {
    for (const r of rows) {
      if (r.upperLimit) continue;
      const list = this.#byBand.get(r.band) ?? [];
      list.push(r);
      this.#byBand.set(r.band, list);
    }
    for (const l of this.#byBand.values()) l.sort((a, b) => a.mjd - b.mjd);
  }

  /** Loads the replay's AT2017gfo photometry. */
  static async load(): Promise<LightCurveTruth> {
    const url = new URL("../source_publisher/data/photometry_at2017gfo.csv", import.meta.url);
    return new LightCurveTruth(parsePhotometry(await Deno.readTextFile(url), url.pathname));
  }

  /** True when the position is AT2017gfo's (within 5″) or the name says so. */
  static isAt2017gfo(target: { name: string; ra: number; dec: number }): boolean {
    if (target.name.toLowerCase().replace(/\s/g, "") === "at2017gfo") return true;
    const dRa = (target.ra - AT2017GFO.ra) * Math.cos(AT2017GFO.dec * Math.PI / 180);
    return Math.hypot(dRa, target.dec - AT2017GFO.dec) < 5 / 3600;
  }

  /** AT2017gfo's magnitude in `band` at `mjd` (linear in time between detections), or undefined. */
  interpolate(band: string, mjd: number): number | undefined {
    const l = this.#byBand.get(band);
    if (!l || l.length === 0) return undefined;
    if (mjd <= l[0].mjd) return l[0].mag;
    if (mjd >= l[l.length - 1].mjd) {
      // After the last point: fade at the slope of the last two days of data (≥ 0.3 mag/day).
      const last = l[l.length - 1];
      return last.mag + 0.3 * (mjd - last.mjd);
    }
    let i = 1;
    while (l[i].mjd < mjd) i++;
    const a = l[i - 1], b = l[i];
    const f = b.mjd === a.mjd ? 0 : (mjd - a.mjd) / (b.mjd - a.mjd);
    return a.mag + f * (b.mag - a.mag);
  }

  /** A measurement of `target` in `band` at `mjd`, with noise. */
  measure(
    target: { name: string; ra: number; dec: number },
    band: string,
    mjd: number,
    rng: { normal(): number },
  ): Measurement {
    const magErr = 0.05;
    const real = LightCurveTruth.isAt2017gfo(target) ? this.interpolate(band, mjd) : undefined;
    if (real !== undefined) {
      return { mag: round(real + magErr * rng.normal()), magErr, truth: "AT2017gfo literature" };
    }
    // Model: a flat 19.5 mag source (no light-curve truth for it).
    return { mag: round(19.5 + magErr * rng.normal()), magErr, truth: "model" };
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
