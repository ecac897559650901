/**
 * The credible region of an event's sky map as a few hundred HEALPix pixel
 * centres, for the pages' small sky plots: the map (from the archive, via
 * `store/history.ts`) is read with `astro/skymap.ts`, its probabilities summed
 * into coarser NESTED pixels, and the most probable coarse pixels kept until
 * they hold `level` of the probability. Results are cached per sky map version.
 *
 * @module
 */
import { SkyMap } from "../../../astro/skymap.ts";
import { pix2radecNest } from "../../../astro/healpix.ts";

/** A credible region as pixel centres. */
export interface SkyRegion {
  /** The credible level (e.g. 0.9). */
  readonly level: number;
  /** HEALPix order of the pixels. */
  readonly order: number;
  /** Pixel centres, degrees. */
  readonly ra: number[];
  readonly dec: number[];
}

/** Most pixels a region plot gets (the order is lowered until it fits). */
export const MAX_REGION_PIXELS = 1500;

/** The `level` credible region of a map at the finest order ≤ 7 with at most {@link MAX_REGION_PIXELS} pixels. */
export function credibleRegion(map: SkyMap, level = 0.9): SkyRegion {
  for (let order = Math.min(7, map.order); order >= 0; order--) {
    const shift = 2 * (map.order - order);
    const coarse = new Float64Array(12 * 4 ** order);
    for (let i = 0; i < map.prob.length; i++) coarse[Math.floor(i / 2 ** shift)] += map.prob[i];
    const idx = [...coarse.keys()].sort((a, b) => coarse[b] - coarse[a]);
    const keep: number[] = [];
    let cum = 0;
    for (const i of idx) {
      if (cum >= level) break;
      keep.push(i);
      cum += coarse[i];
    }
    if (keep.length <= MAX_REGION_PIXELS || order === 0) {
      const nside = 2 ** order;
      const pts = keep.map((i) => pix2radecNest(nside, i));
      return { level, order, ra: pts.map((p) => p.ra), dec: pts.map((p) => p.dec) };
    }
  }
  throw new Error("unreachable: order 0 always fits");
}

const cache = new Map<string, Promise<SkyRegion>>();

/** {@link credibleRegion} of FITS bytes, cached by the map's SHA-256 (a few maps kept). */
export function cachedRegion(sha256: string, bytes: Uint8Array, level = 0.9): Promise<SkyRegion> {
  const key = `${sha256}:${level}`;
  let r = cache.get(key);
  if (!r) {
    r = SkyMap.fromFits(bytes, `sky map ${sha256.slice(0, 12)}`).then((m) =>
      credibleRegion(m, level)
    );
    r.catch(() => cache.delete(key));
    cache.set(key, r);
    while (cache.size > 8) cache.delete(cache.keys().next().value!);
  }
  return r;
}
