/**
 * The sky index of the archive: every stored position carries `hpx`, its
 * HEALPix NESTED pixel at order 24 (NSIDE 2^24, pixels about 0.013″ across;
 * 12·4^24 < 2^53, so the index is an exact JS number and a PostgreSQL
 * `bigint`). A cone search turns the disc into a short list of NESTED index
 * ranges (coarse pixels wholly inside become one range each, boundary pixels
 * are refined to a depth matched to the radius), selects rows with a btree
 * range scan per range, then keeps those within the exact angular distance.
 *
 * Why HEALPix rather than q3c-style cube pixels or a zones index: it runs on
 * plain btree indexes (PostgreSQL and PGlite alike, no extension), and GW sky
 * maps are HEALPix NUNIQ pixels, each of which is also one range of this index —
 * "candidates inside the 90% region" is the same range query as a cone.
 *
 * Written from the published HEALPix algorithm (Górski et al. 2005); checked
 * against the independent `astro/healpix.ts` (itself checked against healpy) and
 * against brute-force angular distances (`healpix_index_test.ts`, `cone_test.ts`).
 *
 * @module
 */

/** Order of the stored index. */
export const INDEX_ORDER = 24;
/** NSIDE of the stored index. */
export const INDEX_NSIDE = 2 ** INDEX_ORDER;

const HALF_PI = Math.PI / 2;
const DEG = Math.PI / 180;
const JRLL = [2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4];
const JPLL = [1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7];
const TWO24 = 2 ** 24;

/** An inclusive range of order-24 NESTED pixels. */
export type PixelRange = readonly [lo: number, hi: number];

/** A unit vector. */
type Vec = readonly [number, number, number];

function spread12(v: number): number {
  v &= 0xfff;
  v = (v | (v << 8)) & 0x00ff00ff;
  v = (v | (v << 4)) & 0x0f0f0f0f;
  v = (v | (v << 2)) & 0x33333333;
  v = (v | (v << 1)) & 0x55555555;
  return v;
}

function compress12(v: number): number {
  v &= 0x55555555;
  v = (v | (v >>> 1)) & 0x33333333;
  v = (v | (v >>> 2)) & 0x0f0f0f0f;
  v = (v | (v >>> 4)) & 0x00ff00ff;
  v = (v | (v >>> 8)) & 0x0000ffff;
  return v;
}

/** Interleaves the bits of ix (even) and iy (odd), each < 2^24, without 32-bit overflow. */
function xy2pix(ix: number, iy: number): number {
  const lo = spread12(ix & 0xfff) + 2 * spread12(iy & 0xfff);
  const hi = spread12(Math.floor(ix / 4096)) + 2 * spread12(Math.floor(iy / 4096));
  return hi * TWO24 + lo;
}

function pix2xy(p: number): [number, number] {
  const hi = Math.floor(p / TWO24);
  const lo = p - hi * TWO24;
  return [
    compress12(lo) + 4096 * compress12(hi),
    compress12(lo >>> 1) + 4096 * compress12(hi >>> 1),
  ];
}

function checkOrder(order: number): void {
  if (!Number.isInteger(order) || order < 0 || order > INDEX_ORDER) {
    throw new RangeError(`HEALPix order ${order} is outside 0..${INDEX_ORDER}`);
  }
}

/**
 * NESTED pixel of (ra, dec) in degrees at `order` (default {@link INDEX_ORDER}).
 * Throws on a position outside the sphere's coordinates.
 */
export function radecToPixel(ra: number, dec: number, order = INDEX_ORDER): number {
  checkOrder(order);
  if (!Number.isFinite(ra) || !(dec >= -90 && dec <= 90)) {
    throw new RangeError(`position ra=${ra} dec=${dec} is not on the sky (dec in [-90, 90])`);
  }
  const nside = 2 ** order;
  const decR = dec * DEG;
  const z = Math.sin(decR);
  const za = Math.abs(z);
  let tt = ((ra * DEG) / HALF_PI) % 4;
  if (tt < 0) tt += 4;
  let face: number;
  let ix: number;
  let iy: number;
  if (za <= 2 / 3) {
    const t1 = nside * (0.5 + tt);
    const t2 = nside * (z * 0.75);
    const jp = Math.floor(t1 - t2);
    const jm = Math.floor(t1 + t2);
    const ifp = Math.floor(jp / nside);
    const ifm = Math.floor(jm / nside);
    face = ifp === ifm ? (ifp % 4) + 4 : ifp < ifm ? ifp : ifm + 8;
    ix = jm % nside;
    iy = nside - (jp % nside) - 1;
  } else {
    const ntt = Math.min(3, Math.floor(tt));
    const tp = tt - ntt;
    // sqrt(3(1-|z|)) with 1-|z| = cos²dec / (1+|z|): no cancellation near the poles.
    const cosDec = Math.cos(decR);
    const tmp = nside * Math.sqrt((3 * cosDec * cosDec) / (1 + za));
    const jp = Math.min(nside - 1, Math.floor(tp * tmp));
    const jm = Math.min(nside - 1, Math.floor((1 - tp) * tmp));
    if (z > 0) {
      face = ntt;
      ix = nside - jm - 1;
      iy = nside - jp - 1;
    } else {
      face = ntt + 8;
      ix = jp;
      iy = jm;
    }
  }
  return face * nside * nside + xy2pix(ix, iy);
}

/** Centre of NESTED pixel `ipix` at `order` as a unit vector. */
function pixelCentre(order: number, ipix: number): Vec {
  const nside = 2 ** order;
  const npface = nside * nside;
  const face = Math.floor(ipix / npface);
  const [ix, iy] = pix2xy(ipix - face * npface);
  const jr = JRLL[face] * nside - ix - iy - 1;
  let nr: number;
  let z: number;
  let sth: number;
  let kshift: number;
  if (jr < nside) {
    nr = jr;
    const oneMinusZ = (nr * nr) / (3 * npface);
    z = 1 - oneMinusZ;
    sth = Math.sqrt(oneMinusZ * (2 - oneMinusZ));
    kshift = 0;
  } else if (jr > 3 * nside) {
    nr = 4 * nside - jr;
    const onePlusZ = (nr * nr) / (3 * npface);
    z = onePlusZ - 1;
    sth = Math.sqrt(onePlusZ * (2 - onePlusZ));
    kshift = 0;
  } else {
    nr = nside;
    z = ((2 * nside - jr) * 2) / (3 * nside);
    sth = Math.sqrt((1 - z) * (1 + z));
    kshift = (jr - nside) % 2;
  }
  let jp = (JPLL[face] * nr + ix - iy + 1 + kshift) / 2;
  const nl4 = 4 * nside;
  if (jp > nl4) jp -= nl4;
  if (jp < 1) jp += nl4;
  const phi = (jp - (kshift + 1) * 0.5) * (HALF_PI / nr);
  return [sth * Math.cos(phi), sth * Math.sin(phi), z];
}

/** Centre of a NESTED pixel in degrees (ra in [0, 360)). */
export function pixelToRadec(ipix: number, order = INDEX_ORDER): { ra: number; dec: number } {
  checkOrder(order);
  const [x, y, z] = pixelCentre(order, ipix);
  let ra = Math.atan2(y, x) / DEG;
  if (ra < 0) ra += 360;
  if (ra >= 360) ra -= 360;
  return { ra, dec: Math.atan2(z, Math.hypot(x, y)) / DEG };
}

function unit(ra: number, dec: number): Vec {
  const r = ra * DEG;
  const d = dec * DEG;
  const c = Math.cos(d);
  return [c * Math.cos(r), c * Math.sin(r), Math.sin(d)];
}

function angle(a: Vec, b: Vec): number {
  const cx = a[1] * b[2] - a[2] * b[1];
  const cy = a[2] * b[0] - a[0] * b[2];
  const cz = a[0] * b[1] - a[1] * b[0];
  return Math.atan2(Math.hypot(cx, cy, cz), a[0] * b[0] + a[1] * b[1] + a[2] * b[2]);
}

/** Angular distance between two positions in degrees (accurate at all separations). */
export function angularDistance(ra1: number, dec1: number, ra2: number, dec2: number): number {
  return angle(unit(ra1, dec1), unit(ra2, dec2)) / DEG;
}

const pixradCache: number[] = [];

/**
 * An upper bound of the angular distance, in radians, from a pixel's centre to
 * any point of the pixel at `order`: HEALPix's largest pixel radius (between a
 * centre at z = 2/3 and the corner nearest the pole) with a 10% margin.
 */
export function maxPixelRadius(order: number): number {
  if (pixradCache[order] !== undefined) return pixradCache[order];
  const nside = 2 ** order;
  const za = 2 / 3;
  const pa = Math.PI / (4 * nside);
  const t1 = (1 - 1 / nside) ** 2;
  const zb = 1 - t1 / 3;
  const sa = Math.sqrt(1 - za * za);
  const sb = Math.sqrt((t1 / 3) * (2 - t1 / 3));
  const a: Vec = [sa * Math.cos(pa), sa * Math.sin(pa), za];
  const b: Vec = [sb, 0, zb];
  return (pixradCache[order] = angle(a, b) * 1.1 + 1e-15);
}

/** Options of {@link coneRanges}. */
export interface ConeRangeOptions {
  /** Deepest order refined (default: chosen from the radius, at most 24). */
  readonly maxDepth?: number;
}

/**
 * The order-24 index ranges whose pixels may lie within `radiusDeg` of (ra, dec).
 * Every pixel touching the disc is covered (a superset: filter by exact
 * distance afterwards). Ranges are sorted, disjoint and merged when adjacent.
 */
export function coneRanges(
  ra: number,
  dec: number,
  radiusDeg: number,
  options: ConeRangeOptions = {},
): PixelRange[] {
  if (!Number.isFinite(ra) || !(dec >= -90 && dec <= 90)) {
    throw new RangeError(`cone centre ra=${ra} dec=${dec} is not on the sky`);
  }
  if (!(radiusDeg >= 0) || !Number.isFinite(radiusDeg)) {
    throw new RangeError(`cone radius ${radiusDeg}° must be a finite number ≥ 0`);
  }
  const total = 12 * 4 ** INDEX_ORDER;
  if (radiusDeg >= 180) return [[0, total - 1]];
  const r = radiusDeg * DEG;
  let depth = options.maxDepth ?? 0;
  if (options.maxDepth === undefined) {
    // Refine until boundary pixels are small next to the disc (few false candidates).
    while (depth < INDEX_ORDER && maxPixelRadius(depth) > r / 2) depth++;
  }
  checkOrder(depth);
  const centre = unit(ra, dec);
  const out: [number, number][] = [];
  const visit = (order: number, ipix: number) => {
    const d = angle(pixelCentre(order, ipix), centre);
    const R = maxPixelRadius(order);
    if (d - R > r) return;
    if (d + R <= r || order === depth) {
      const scale = 4 ** (INDEX_ORDER - order);
      out.push([ipix * scale, (ipix + 1) * scale - 1]);
      return;
    }
    for (let k = 0; k < 4; k++) visit(order + 1, ipix * 4 + k);
  };
  for (let f = 0; f < 12; f++) visit(0, f);
  out.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const rg of out) {
    const last = merged[merged.length - 1];
    if (last && rg[0] <= last[1] + 1) last[1] = Math.max(last[1], rg[1]);
    else merged.push([rg[0], rg[1]]);
  }
  return merged;
}

/** The order-24 index range of a NUNIQ pixel (multi-order sky maps), for region queries. */
export function uniqToRange(uniq: number): PixelRange {
  if (!Number.isSafeInteger(uniq) || uniq < 4) {
    throw new RangeError(`NUNIQ ${uniq} is not a valid pixel (an integer ≥ 4)`);
  }
  const order = Math.floor(Math.log2(uniq / 4) / 2);
  // Guard against floating-point rounding of log2 at powers of four.
  let o = order;
  while (4 * 4 ** (o + 1) <= uniq) o++;
  while (4 * 4 ** o > uniq) o--;
  checkOrder(o);
  const ipix = uniq - 4 * 4 ** o;
  const scale = 4 ** (INDEX_ORDER - o);
  return [ipix * scale, (ipix + 1) * scale - 1];
}
