/**
 * Gravitational-wave sky maps: HEALPix probability maps with the optional 3D
 * distance ansatz (Singer et al. 2016), read from flat NESTED FITS files (the
 * LIGO/Virgo "flat" format) or multi-order NUNIQ FITS files (the format IGWN
 * alerts carry), written back as multi-order FITS, queried by position
 * (probability, searched credible level) and sampled for positions.
 *
 * @module
 */
import { type HeaderCard, type HeaderValue, readBinTable, writeBinTable } from "./fits.ts";
import {
  MAX_ORDER,
  nest2uniq,
  nside2npix,
  nsideToOrder,
  pix2radecNest,
  pixelArea,
  type RaDec,
  radec2pixNest,
  uniq2nest,
} from "./healpix.ts";
import { reorderRingToNest } from "./ring.ts";

const SR_TO_DEG2 = (180 / Math.PI) ** 2;

/** A single-resolution NESTED sky map. */
export class SkyMap {
  /** HEALPix NSIDE. */
  readonly nside: number;
  /** log2 NSIDE. */
  readonly order: number;
  /** Probability per pixel (sums to 1). */
  readonly prob: Float64Array;
  /** Distance ansatz location parameter per pixel, Mpc (absent for 2D maps). */
  readonly distmu?: Float64Array;
  /** Distance ansatz scale parameter per pixel, Mpc. */
  readonly distsigma?: Float64Array;
  /** Distance ansatz normalisation per pixel, Mpc⁻². */
  readonly distnorm?: Float64Array;
  /** Header values of the source file (OBJECT, DATE-OBS, DISTMEAN, ...). */
  readonly meta: ReadonlyMap<string, HeaderValue>;
  #rank?: Float64Array;
  #cdf?: Float64Array;

  constructor(init: {
    nside: number;
    prob: Float64Array;
    distmu?: Float64Array;
    distsigma?: Float64Array;
    distnorm?: Float64Array;
    meta?: ReadonlyMap<string, HeaderValue>;
  }) {
    this.nside = init.nside;
    this.order = nsideToOrder(init.nside);
    if (init.prob.length !== nside2npix(init.nside)) {
      throw new RangeError(
        `a NSIDE ${init.nside} map needs ${nside2npix(init.nside)} pixels, got ${init.prob.length}`,
      );
    }
    this.prob = init.prob;
    this.distmu = init.distmu;
    this.distsigma = init.distsigma;
    this.distnorm = init.distnorm;
    this.meta = init.meta ?? new Map();
  }

  /**
   * Reads a sky map FITS file: flat (ORDERING=NESTED, column PROB) or
   * multi-order (ORDERING=NUNIQ, columns UNIQ and PROBDENSITY, rasterised to its
   * finest order). `source` names the file in errors.
   */
  static async fromFits(bytes: Uint8Array, source = "sky map"): Promise<SkyMap> {
    const t = await readBinTable(bytes, { source });
    const ordering = String(t.header.get("ORDERING") ?? "").trim();
    const col = (name: string) => t.columns.get(name);
    if (ordering === "NESTED" || ordering === "RING") {
      const nside = Number(t.header.get("NSIDE"));
      // RING maps are reordered to NESTED on reading (astro/ring.ts).
      const ringCol = (name: string) => {
        const c = t.columns.get(name);
        return c && ordering === "RING" ? reorderRingToNest(nside, c) : c;
      };
      const col = ringCol;
      const prob = col("PROB");
      if (!prob) throw new Error(`${source}: flat sky map has no PROB column`);
      if (prob.length !== nside2npix(nside)) {
        throw new Error(
          `${source}: NSIDE ${nside} needs ${nside2npix(nside)} rows, found ${prob.length}`,
        );
      }
      checkProb(prob, source);
      return new SkyMap({
        nside,
        prob,
        distmu: col("DISTMU"),
        distsigma: col("DISTSIGMA"),
        distnorm: col("DISTNORM"),
        meta: t.header,
      });
    }
    if (ordering === "NUNIQ") {
      const uniq = col("UNIQ");
      const density = col("PROBDENSITY");
      if (!uniq || !density) {
        throw new Error(`${source}: multi-order sky map needs UNIQ and PROBDENSITY columns`);
      }
      return rasterise(
        uniq,
        density,
        col("DISTMU"),
        col("DISTSIGMA"),
        col("DISTNORM"),
        t.header,
        source,
      );
    }
    throw new Error(
      `${source}: ORDERING='${ordering}' is not supported (NESTED, RING or NUNIQ)`,
    );
  }

  /** Probability of the pixel containing a position. */
  probAt(ra: number, dec: number): number {
    return this.prob[radec2pixNest(this.nside, ra, dec)];
  }

  /** Probability density at a position, per square degree. */
  densityAt(ra: number, dec: number): number {
    return this.probAt(ra, dec) / (pixelArea(this.nside) * SR_TO_DEG2);
  }

  /** Rank-based cumulative probability of each pixel (searched credible level, ligo.skymap convention). */
  #levels(): Float64Array {
    if (this.#rank) return this.#rank;
    const n = this.prob.length;
    const idx = new Uint32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    idx.sort((a, b) => this.prob[b] - this.prob[a]);
    const level = new Float64Array(n);
    let cum = 0;
    for (let k = 0; k < n; k++) {
      cum += this.prob[idx[k]];
      level[idx[k]] = cum;
    }
    this.#rank = level;
    return level;
  }

  /** Searched credible level of the pixel containing a position (0 = the peak, 1 = the least likely pixel). */
  credibleLevelAt(ra: number, dec: number): number {
    return this.#levels()[radec2pixNest(this.nside, ra, dec)];
  }

  /** Area in square degrees of the smallest region holding probability `p` (e.g. 0.9). */
  credibleArea(p: number): number {
    const levels = this.#levels();
    let count = 0;
    for (let i = 0; i < levels.length; i++) if (levels[i] <= p) count++;
    return count * pixelArea(this.nside) * SR_TO_DEG2;
  }

  /** The most probable pixel and its centre. */
  maxPixel(): { ipix: number } & RaDec {
    let best = 0;
    for (let i = 1; i < this.prob.length; i++) if (this.prob[i] > this.prob[best]) best = i;
    return { ipix: best, ...pix2radecNest(this.nside, best) };
  }

  /** Distance ansatz parameters at a position (undefined for 2D maps). */
  distanceAt(ra: number, dec: number): { mu: number; sigma: number; norm: number } | undefined {
    if (!this.distmu || !this.distsigma || !this.distnorm) return undefined;
    const i = radec2pixNest(this.nside, ra, dec);
    return { mu: this.distmu[i], sigma: this.distsigma[i], norm: this.distnorm[i] };
  }

  /**
   * Draws a position from the map's probability: a pixel by its probability,
   * then a point inside it (the centre of a random sub-pixel at a finer order).
   * `u1`, `u2` are uniforms in [0, 1).
   */
  sample(u1: number, u2: number): RaDec & { ipix: number } {
    if (!this.#cdf) {
      const cdf = new Float64Array(this.prob.length);
      let cum = 0;
      for (let i = 0; i < cdf.length; i++) {
        cum += this.prob[i];
        cdf[i] = cum;
      }
      this.#cdf = cdf;
    }
    const cdf = this.#cdf;
    const target = u1 * cdf[cdf.length - 1];
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    const ipix = lo;
    const extra = Math.min(MAX_ORDER - this.order, 8);
    const sub = Math.floor(u2 * 4 ** extra);
    const child = ipix * 4 ** extra + sub;
    return { ipix, ...pix2radecNest(this.nside * 2 ** extra, child) };
  }

  /**
   * Converts to a multi-order (NUNIQ) map: groups of four sibling pixels whose
   * total probability is at most `mergeBelow` are merged into their parent,
   * recursively, so the likely region keeps full resolution and the rest of the
   * sky is tiled coarsely. Probability is conserved exactly; the distance
   * parameters of a merged pixel are the probability-weighted means of its
   * children's (an approximation of the ansatz, fine for coarse low-probability
   * tiles).
   */
  toMultiOrder(options: { mergeBelow?: number } = {}): MultiOrderMap {
    const mergeBelow = options.mergeBelow ?? 1e-5;
    const has3d = !!(this.distmu && this.distsigma && this.distnorm);
    const out = {
      uniq: [] as number[],
      prob: [] as number[],
      mu: [] as number[],
      sigma: [] as number[],
      norm: [] as number[],
    };
    let prob = Float64Array.from(this.prob);
    let mu = has3d ? Float64Array.from(this.distmu!) : undefined;
    let sigma = has3d ? Float64Array.from(this.distsigma!) : undefined;
    let norm = has3d ? Float64Array.from(this.distnorm!) : undefined;
    let mergeable = new Uint8Array(prob.length).fill(1);
    const emit = (order: number, i: number) => {
      out.uniq.push(nest2uniq(order, i));
      out.prob.push(prob[i]);
      if (has3d) {
        out.mu.push(mu![i]);
        out.sigma.push(sigma![i]);
        out.norm.push(norm![i]);
      }
    };
    for (let order = this.order; order > 0; order--) {
      const nParent = prob.length / 4;
      const pProb = new Float64Array(nParent);
      const pMu = has3d ? new Float64Array(nParent) : undefined;
      const pSigma = has3d ? new Float64Array(nParent) : undefined;
      const pNorm = has3d ? new Float64Array(nParent) : undefined;
      const pMerge = new Uint8Array(nParent);
      for (let q = 0; q < nParent; q++) {
        const c = 4 * q;
        const total = prob[c] + prob[c + 1] + prob[c + 2] + prob[c + 3];
        const all = mergeable[c] & mergeable[c + 1] & mergeable[c + 2] & mergeable[c + 3];
        if (all && total <= mergeBelow) {
          pMerge[q] = 1;
          pProb[q] = total;
          if (has3d) {
            const w = total > 0 ? total : 4;
            const wt = (k: number) => (total > 0 ? prob[c + k] : 1);
            let m = 0, s = 0, n = 0;
            for (let k = 0; k < 4; k++) {
              m += wt(k) * mu![c + k];
              s += wt(k) * sigma![c + k];
              n += wt(k) * norm![c + k];
            }
            pMu![q] = m / w;
            pSigma![q] = s / w;
            pNorm![q] = n / w;
          }
        } else {
          for (let k = 0; k < 4; k++) if (mergeable[c + k]) emit(order, c + k);
        }
      }
      prob = pProb;
      mu = pMu;
      sigma = pSigma;
      norm = pNorm;
      mergeable = pMerge;
    }
    for (let i = 0; i < 12; i++) if (mergeable[i]) emit(0, i);
    const n = out.uniq.length;
    const order = new Int32Array(n);
    const uniq = Float64Array.from(out.uniq);
    const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => uniq[a] - uniq[b]);
    const pick = (arr: number[]) => Float64Array.from(idx, (i) => arr[i]);
    const sortedUniq = pick(out.uniq);
    const sortedProb = pick(out.prob);
    const density = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const o = uniq2nest(sortedUniq[i]).order;
      order[i] = o;
      density[i] = sortedProb[i] / pixelArea(2 ** o);
    }
    return {
      uniq: sortedUniq,
      probdensity: density,
      distmu: has3d ? pick(out.mu) : undefined,
      distsigma: has3d ? pick(out.sigma) : undefined,
      distnorm: has3d ? pick(out.norm) : undefined,
      maxOrder: this.order,
      meta: this.meta,
    };
  }
}

/** A multi-order (NUNIQ) sky map as columns. */
export interface MultiOrderMap {
  /** NUNIQ pixel indices, ascending. */
  readonly uniq: Float64Array;
  /** Probability density per pixel, sr⁻¹. */
  readonly probdensity: Float64Array;
  readonly distmu?: Float64Array;
  readonly distsigma?: Float64Array;
  readonly distnorm?: Float64Array;
  /** Finest order present. */
  readonly maxOrder: number;
  /** Header values carried over from the source map. */
  readonly meta: ReadonlyMap<string, HeaderValue>;
}

/** Header keywords copied from the source map into a written multi-order file. */
const COPIED_KEYS = [
  "OBJECT",
  "REFERENC",
  "INSTRUME",
  "DATE-OBS",
  "MJD-OBS",
  "DATE",
  "CREATOR",
  "ORIGIN",
  "DISTMEAN",
  "DISTSTD",
];

/**
 * Writes a multi-order map as a FITS file in the LIGO/Virgo multi-order layout:
 * columns UNIQ (K), PROBDENSITY (D, sr-1) and, for 3D maps, DISTMU, DISTSIGMA
 * (D, Mpc) and DISTNORM (D, Mpc-2); header PIXTYPE=HEALPIX, ORDERING=NUNIQ,
 * COORDSYS=C, MOCORDER, INDXSCHM=EXPLICIT and the source's event keywords.
 */
export function writeMultiOrderFits(
  map: MultiOrderMap,
  history: readonly string[] = [],
): Uint8Array {
  const cols = [
    { name: "UNIQ", format: "K" as const, data: map.uniq },
    { name: "PROBDENSITY", format: "D" as const, unit: "sr-1", data: map.probdensity },
  ];
  if (map.distmu && map.distsigma && map.distnorm) {
    cols.push(
      { name: "DISTMU", format: "D" as const, unit: "Mpc", data: map.distmu },
      { name: "DISTSIGMA", format: "D" as const, unit: "Mpc", data: map.distsigma },
      { name: "DISTNORM", format: "D" as const, unit: "Mpc-2", data: map.distnorm },
    );
  }
  const extra: HeaderCard[] = [
    { key: "PIXTYPE", value: "HEALPIX", comment: "HEALPIX pixelisation" },
    { key: "ORDERING", value: "NUNIQ", comment: "Pixel ordering scheme: RING, NESTED, or NUNIQ" },
    { key: "COORDSYS", value: "C", comment: "Ecliptic, Galactic or Celestial (equatorial)" },
    { key: "MOCORDER", value: map.maxOrder, comment: "MOC resolution (best order)" },
    { key: "INDXSCHM", value: "EXPLICIT", comment: "Indexing: IMPLICIT or EXPLICIT" },
  ];
  for (const k of COPIED_KEYS) {
    const v = map.meta.get(k);
    if (v !== undefined) extra.push({ key: k, value: v });
  }
  for (const h of history) {
    for (let i = 0; i < h.length || i === 0; i += 70) {
      extra.push({ key: "HISTORY", comment: h.slice(i, i + 70) });
    }
  }
  return writeBinTable(cols, extra);
}

function checkProb(prob: Float64Array, source: string): void {
  let sum = 0;
  for (let i = 0; i < prob.length; i++) {
    const p = prob[i];
    if (!(p >= 0) || !Number.isFinite(p)) {
      throw new Error(`${source}: PROB of pixel ${i} is ${p} (must be ≥ 0)`);
    }
    sum += p;
  }
  if (Math.abs(sum - 1) > 1e-3) throw new Error(`${source}: PROB sums to ${sum}, expected 1`);
}

function rasterise(
  uniq: Float64Array,
  density: Float64Array,
  mu: Float64Array | undefined,
  sigma: Float64Array | undefined,
  norm: Float64Array | undefined,
  header: ReadonlyMap<string, HeaderValue>,
  source: string,
): SkyMap {
  let maxOrder = 0;
  for (const u of uniq) maxOrder = Math.max(maxOrder, uniq2nest(u).order);
  if (maxOrder > MAX_ORDER) {
    throw new Error(`${source}: order ${maxOrder} exceeds the supported ${MAX_ORDER}`);
  }
  const nside = 2 ** maxOrder;
  const npix = nside2npix(nside);
  const prob = new Float64Array(npix);
  const has3d = !!(mu && sigma && norm);
  const dm = has3d ? new Float64Array(npix) : undefined;
  const ds = has3d ? new Float64Array(npix) : undefined;
  const dn = has3d ? new Float64Array(npix) : undefined;
  const area = pixelArea(nside);
  let covered = 0;
  for (let r = 0; r < uniq.length; r++) {
    const { order, ipix } = uniq2nest(uniq[r]);
    const span = 4 ** (maxOrder - order);
    const first = ipix * span;
    covered += span;
    for (let i = first; i < first + span; i++) {
      prob[i] = density[r] * area;
      if (has3d) {
        dm![i] = mu![r];
        ds![i] = sigma![r];
        dn![i] = norm![r];
      }
    }
  }
  if (covered !== npix) {
    throw new Error(`${source}: the NUNIQ pixels cover ${covered} of ${npix} sky pixels`);
  }
  checkProb(prob, source);
  return new SkyMap({ nside, prob, distmu: dm, distsigma: ds, distnorm: dn, meta: header });
}

/** Reads a sky map file from disk (flat or multi-order, gzip or not). */
export async function readSkyMapFile(path: string | URL): Promise<SkyMap> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`sky map ${path}: cannot read (${(e as Error).message})`);
  }
  return await SkyMap.fromFits(bytes, String(path));
}
