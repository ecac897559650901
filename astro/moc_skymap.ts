/**
 * A multi-order (NUNIQ) sky map kept as it comes — no rasterisation — so a
 * fine-resolution IGWN alert map (orders up to 12 and beyond are common in O4)
 * costs memory in proportion to its rows, not to 12·4^order pixels. Position
 * queries (probability density, searched credible level, distance ansatz)
 * find the containing row by binary search over the rows' NESTED ranges at the
 * finest order.
 *
 * @module
 */
import { readBinTable } from "./fits.ts";
import type { HeaderValue } from "./fits.ts";
import {
  MAX_ORDER,
  nest2uniq,
  nsideToOrder,
  pixelArea,
  radec2pixNest,
  uniq2nest,
} from "./healpix.ts";
import { reorderRingToNest } from "./ring.ts";
import { conditionalDistance, type LineOfSightDistance } from "./distance.ts";

const SR_TO_DEG2 = (180 / Math.PI) ** 2;

/** What the classifier asks of a localization at a position. */
export interface SkyLocation {
  /** Probability density, deg⁻². */
  readonly densityDeg2: number;
  /** Searched credible level (0 at the peak, 1 for the least likely pixel). */
  readonly credibleLevel: number;
  /** Distance ansatz parameters (absent for 2D maps or unsupported pixels). */
  readonly distance?: { mu: number; sigma: number; norm: number };
  /** Conditional distance along the line of sight (absent for 2D maps). */
  readonly conditional?: LineOfSightDistance;
}

/** A multi-order sky map with queries by position. */
export class MocSkyMap {
  /** Finest order present. */
  readonly maxOrder: number;
  /** Header values of the source file. */
  readonly meta: ReadonlyMap<string, HeaderValue>;
  /** Rows sorted by their first NESTED index at maxOrder. */
  readonly #start: Float64Array;
  readonly #end: Float64Array;
  readonly #density: Float64Array;
  readonly #prob: Float64Array;
  readonly #level: Float64Array;
  readonly #mu?: Float64Array;
  readonly #sigma?: Float64Array;
  readonly #norm?: Float64Array;

  /**
   * Builds from NUNIQ columns (any row order). `probdensity` is sr⁻¹ as in the
   * files. Throws when the rows overlap or do not cover the sky.
   */
  constructor(init: {
    uniq: Float64Array;
    probdensity: Float64Array;
    distmu?: Float64Array;
    distsigma?: Float64Array;
    distnorm?: Float64Array;
    meta?: ReadonlyMap<string, HeaderValue>;
    source?: string;
  }) {
    const source = init.source ?? "multi-order sky map";
    const n = init.uniq.length;
    if (init.probdensity.length !== n) {
      throw new Error(`${source}: UNIQ has ${n} rows but PROBDENSITY ${init.probdensity.length}`);
    }
    const orders = new Int32Array(n);
    const ipixs = new Float64Array(n);
    let maxOrder = 0;
    for (let i = 0; i < n; i++) {
      const { order, ipix } = uniq2nest(init.uniq[i]);
      orders[i] = order;
      ipixs[i] = ipix;
      if (order > maxOrder) maxOrder = order;
    }
    if (maxOrder > MAX_ORDER) {
      throw new Error(`${source}: order ${maxOrder} exceeds the supported ${MAX_ORDER}`);
    }
    this.maxOrder = maxOrder;
    this.meta = init.meta ?? new Map();
    const idx = Array.from({ length: n }, (_, i) => i);
    const startOf = (i: number) => ipixs[i] * 4 ** (maxOrder - orders[i]);
    idx.sort((a, b) => startOf(a) - startOf(b));
    this.#start = new Float64Array(n);
    this.#end = new Float64Array(n);
    this.#density = new Float64Array(n);
    this.#prob = new Float64Array(n);
    const has3d = !!(init.distmu && init.distsigma && init.distnorm);
    if (has3d) {
      this.#mu = new Float64Array(n);
      this.#sigma = new Float64Array(n);
      this.#norm = new Float64Array(n);
    }
    let total = 0;
    let covered = 0;
    for (let k = 0; k < n; k++) {
      const i = idx[k];
      const span = 4 ** (maxOrder - orders[i]);
      this.#start[k] = startOf(i);
      this.#end[k] = startOf(i) + span;
      if (k > 0 && this.#start[k] < this.#end[k - 1]) {
        throw new Error(`${source}: NUNIQ rows overlap at UNIQ ${init.uniq[i]}`);
      }
      covered += span;
      const d = init.probdensity[i];
      if (!(d >= 0) || !Number.isFinite(d)) {
        throw new Error(`${source}: PROBDENSITY of UNIQ ${init.uniq[i]} is ${d} (must be ≥ 0)`);
      }
      this.#density[k] = d;
      this.#prob[k] = d * pixelArea(2 ** orders[i]);
      total += this.#prob[k];
      if (has3d) {
        this.#mu![k] = init.distmu![i];
        this.#sigma![k] = init.distsigma![i];
        this.#norm![k] = init.distnorm![i];
      }
    }
    if (covered !== 12 * 4 ** maxOrder) {
      throw new Error(
        `${source}: the NUNIQ rows cover ${covered} of ${
          12 * 4 ** maxOrder
        } pixels at order ${maxOrder}`,
      );
    }
    if (Math.abs(total - 1) > 1e-3) {
      throw new Error(`${source}: probabilities sum to ${total}, expected 1`);
    }
    // Searched credible level: rows by density, densest first (ligo.skymap's convention).
    const byDensity = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
      this.#density[b] - this.#density[a]
    );
    this.#level = new Float64Array(n);
    let cum = 0;
    for (const k of byDensity) {
      cum += this.#prob[k];
      this.#level[k] = cum / total;
    }
  }

  /**
   * Reads a sky map FITS file (gzip or not): multi-order (ORDERING=NUNIQ) as
   * is; flat NESTED or RING maps become one row per pixel.
   */
  static async fromFits(bytes: Uint8Array, source = "sky map"): Promise<MocSkyMap> {
    const t = await readBinTable(bytes, { source });
    const ordering = String(t.header.get("ORDERING") ?? "").trim();
    const col = (name: string) => t.columns.get(name);
    if (ordering === "NUNIQ") {
      const uniq = col("UNIQ");
      const density = col("PROBDENSITY");
      if (!uniq || !density) {
        throw new Error(`${source}: multi-order sky map needs UNIQ and PROBDENSITY columns`);
      }
      return new MocSkyMap({
        uniq,
        probdensity: density,
        distmu: col("DISTMU"),
        distsigma: col("DISTSIGMA"),
        distnorm: col("DISTNORM"),
        meta: t.header,
        source,
      });
    }
    if (ordering === "NESTED" || ordering === "RING") {
      const nside = Number(t.header.get("NSIDE"));
      const order = nsideToOrder(nside);
      const prob = col("PROB");
      if (!prob) throw new Error(`${source}: flat sky map has no PROB column`);
      const fix = (c: Float64Array | undefined) =>
        c && ordering === "RING" ? reorderRingToNest(nside, c) : c;
      const p = fix(prob)!;
      const area = pixelArea(nside);
      const uniq = new Float64Array(p.length);
      const density = new Float64Array(p.length);
      for (let i = 0; i < p.length; i++) {
        uniq[i] = nest2uniq(order, i);
        density[i] = p[i] / area;
      }
      return new MocSkyMap({
        uniq,
        probdensity: density,
        distmu: fix(col("DISTMU")),
        distsigma: fix(col("DISTSIGMA")),
        distnorm: fix(col("DISTNORM")),
        meta: t.header,
        source,
      });
    }
    throw new Error(
      `${source}: ORDERING='${ordering}' is not a sky map ordering (NUNIQ, NESTED or RING)`,
    );
  }

  /** Number of rows. */
  get rows(): number {
    return this.#start.length;
  }

  /** Row index containing a position. */
  #row(ra: number, dec: number): number {
    const p = radec2pixNest(2 ** this.maxOrder, ra, dec);
    let lo = 0;
    let hi = this.#start.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#start[mid] <= p) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Probability density at a position, deg⁻². */
  densityAt(ra: number, dec: number): number {
    return this.#density[this.#row(ra, dec)] / SR_TO_DEG2;
  }

  /** Searched credible level at a position (0 = the peak, 1 = the least likely pixel). */
  credibleLevelAt(ra: number, dec: number): number {
    return this.#level[this.#row(ra, dec)];
  }

  /** Area in square degrees of the smallest region holding probability `p`. */
  credibleArea(p: number): number {
    let sr = 0;
    for (let k = 0; k < this.#level.length; k++) {
      if (this.#level[k] <= p) {
        sr += (this.#end[k] - this.#start[k]) * pixelArea(2 ** this.maxOrder);
      }
    }
    return sr * SR_TO_DEG2;
  }

  /** Everything the classifier needs at one position. */
  locate(ra: number, dec: number): SkyLocation {
    const k = this.#row(ra, dec);
    const base = { densityDeg2: this.#density[k] / SR_TO_DEG2, credibleLevel: this.#level[k] };
    if (!this.#mu || !this.#sigma || !this.#norm) return base;
    const distance = { mu: this.#mu[k], sigma: this.#sigma[k], norm: this.#norm[k] };
    const conditional = conditionalDistance(distance.mu, distance.sigma);
    return conditional ? { ...base, distance, conditional } : { ...base, distance };
  }
}
