/**
 * Cone searches on targets in SQL. {@link coneRows} is the fast one: the
 * archive's HEALPix sky index (`hpx`, order-24 NESTED pixels of
 * `db/healpix_index.ts`, the same ranges the archive's cone search scans) turns
 * the disc into a few btree range scans, then the haversine distance decides;
 * rows not indexed yet (`hpx` null) are found by the older path, kept for them
 * and for the broker module's matching ({@link coneWhere}): a declination band
 * and an RA window (wrapped at 0/360°, dropped near a pole) on the `(dec, ra)`
 * b-tree, then the distance.
 *
 * @module
 */
import {
  coneRanges,
  INDEX_ORDER,
  maxPixelRadius,
  radecToPixel,
  type Sql,
} from "../../../db/mod.ts";

/** A cone on the sky, degrees. */
export interface Cone {
  readonly ra: number;
  readonly dec: number;
  readonly radius: number;
}

/** The RA/Dec box around a cone: `ra` null when every RA is inside (a pole is in the cone). */
export function coneBox(
  cone: Cone,
): { decLo: number; decHi: number; ra: null | { lo: number; hi: number } } {
  const decLo = Math.max(-90, cone.dec - cone.radius);
  const decHi = Math.min(90, cone.dec + cone.radius);
  if (decLo <= -90 || decHi >= 90) return { decLo, decHi, ra: null };
  const rad = Math.PI / 180;
  const s = Math.sin(cone.radius * rad) / Math.cos(cone.dec * rad);
  if (s >= 1) return { decLo, decHi, ra: null };
  const half = Math.asin(s) / rad + 1e-9;
  if (half >= 180) return { decLo, decHi, ra: null };
  return { decLo, decHi, ra: { lo: cone.ra - half, hi: cone.ra + half } };
}

/** Angular distance in degrees (haversine). */
export function angularDistance(ra1: number, dec1: number, ra2: number, dec2: number): number {
  const rad = Math.PI / 180;
  const a = Math.sin((dec2 - dec1) * rad / 2) ** 2 +
    Math.cos(dec1 * rad) * Math.cos(dec2 * rad) * Math.sin((ra2 - ra1) * rad / 2) ** 2;
  return 2 * Math.asin(Math.min(1, Math.sqrt(a))) / rad;
}

/**
 * A WHERE fragment selecting rows of alias `t` (columns `t.ra`, `t.dec`) within
 * the cone.
 */
export function coneWhere(sql: Sql, cone: Cone) {
  const box = coneBox(cone);
  let raPart = sql`true`;
  if (box.ra) {
    const { lo, hi } = box.ra;
    if (lo < 0) raPart = sql`(t.ra >= ${lo + 360} or t.ra <= ${hi})`;
    else if (hi >= 360) raPart = sql`(t.ra >= ${lo} or t.ra <= ${hi - 360})`;
    else raPart = sql`t.ra between ${lo} and ${hi}`;
  }
  return sql`t.dec between ${box.decLo} and ${box.decHi} and ${raPart} and ${
    distanceSql(sql, cone.ra, cone.dec)
  } <= ${cone.radius}`;
}

/** SQL for the angular distance (degrees) of `t.ra, t.dec` from a point. */
export function distanceSql(sql: Sql, ra: number, dec: number) {
  return sql`degrees(2 * asin(least(1, sqrt(
    power(sin(radians(t.dec - ${dec}::float8) / 2), 2) +
    cos(radians(t.dec)) * cos(radians(${dec}::float8)) * power(sin(radians(t.ra - ${ra}::float8) / 2), 2)
  ))))`;
}

/**
 * A row source (`select t.* ...`) of the targets within the cone: btree range
 * scans of `hpx` over the HEALPix ranges covering the disc, plus the rows whose
 * `hpx` is not filled in yet (a partial `(dec, ra)` index keeps that part
 * cheap), each kept when its exact distance is within the radius.
 */
export function coneRows(sql: Sql, cone: Cone) {
  const { loLiteral, hiLiteral } = coneRangeParams(cone);
  // tom_targets_in_ranges (migration 0102): the range scans, planned as such. The bounds go
  // as remembered array literals (an untyped text parameter cast to bigint[]): postgres.js
  // would escape every element of a JS array again on each request (~3% of a cone's CPU).
  return sql`select t.* from tom_targets_in_ranges(${loLiteral}::bigint[], ${hiLiteral}::bigint[]) t
      where ${distanceSql(sql, cone.ra, cone.dec)} <= ${cone.radius}
    union all
    select t.* from tom_targets t where t.hpx is null and ${coneWhere(sql, cone)}`;
}

/** Cones whose ranges are remembered (a few KB each at most). */
export const CONE_RANGES_REMEMBERED = 1_000;
const rangeMemo = new Map<string, ConeRangeParams>();

/** The HEALPix ranges of a cone, as {@link coneRows} sends them. */
export interface ConeRangeParams {
  /** Lower bounds of the ranges (order-24 pixel indices, as `coneRanges` gives them), decimal. */
  readonly lo: readonly string[];
  /** Upper bounds, likewise. */
  readonly hi: readonly string[];
  /** {@link lo} as a PostgreSQL array literal (`{1,2}`). */
  readonly loLiteral: string;
  /** {@link hi} as a PostgreSQL array literal. */
  readonly hiLiteral: string;
}

/**
 * The HEALPix ranges of a cone as {@link coneRows} sends them (order-24
 * bounds as decimal strings), remembered for the last
 * {@link CONE_RANGES_REMEMBERED} cones by their exact centre and radius: the
 * ranges are a pure function of the three numbers (the key is their exact
 * decimal form, no rounding), and computing them is ~0.05 ms of JavaScript,
 * the largest single part of a cone request in the TOM — a client polling the
 * same cone for new targets pays it once.
 */
export function coneRangeParams(cone: Cone): ConeRangeParams {
  const key = `${cone.ra},${cone.dec},${cone.radius}`;
  const hit = rangeMemo.get(key);
  if (hit) return hit;
  const ranges = coneRanges(cone.ra, cone.dec, cone.radius, { maxDepth: coneDepth(cone.radius) });
  const lo = Object.freeze(ranges.map((r) => String(r[0])));
  const hi = Object.freeze(ranges.map((r) => String(r[1])));
  const out = { lo, hi, loLiteral: `{${lo.join(",")}}`, hiLiteral: `{${hi.join(",")}}` };
  if (rangeMemo.size >= CONE_RANGES_REMEMBERED) rangeMemo.delete(rangeMemo.keys().next().value!);
  rangeMemo.set(key, out);
  return out;
}

/**
 * The deepest HEALPix order {@link coneRows} refines a disc to: one coarser than
 * `coneRanges`' own choice (boundary pixels at most the radius across instead of
 * half of it). Measured on 1M targets, r = 0.5°: the ranges take half the
 * JavaScript time (0.13 against 0.28 ms, the largest part of a cone request in
 * the TOM) for 56 candidate rows instead of 43, which the distance filter drops.
 */
export function coneDepth(radiusDeg: number): number {
  const r = radiusDeg * Math.PI / 180;
  let depth = 0;
  while (depth < INDEX_ORDER && maxPixelRadius(depth) > r) depth++;
  return depth;
}

/** The sky index (`hpx`) of a position, as {@link coneRows} expects it. */
export function skyIndex(ra: number, dec: number): number {
  return radecToPixel(ra, dec);
}

/**
 * Fills in `hpx` of targets that lack it (rows written before migration 0102,
 * by hand, or moved by a writer that did not set it), `batch` rows at a time;
 * a row whose position changed meanwhile is left for the next call. Returns
 * how many rows were filled.
 */
export async function fillSkyIndex(sql: Sql, batch = 5_000): Promise<number> {
  let filled = 0;
  for (;;) {
    const rows = await sql<{ id: number; ra: number; dec: number }[]>`
      select id, ra, dec from tom_targets where hpx is null order by dec, ra limit ${batch}`;
    if (!rows.length) return filled;
    const r = await sql`update tom_targets t set hpx = v.hpx
      from unnest(${rows.map((x) => String(x.id))}::bigint[],
                  ${rows.map((x) => String(skyIndex(x.ra, x.dec)))}::bigint[],
                  ${rows.map((x) => x.ra)}::float8[], ${rows.map((x) => x.dec)}::float8[])
        as v(id, hpx, ra, dec)
      where t.id = v.id and t.hpx is null and t.ra = v.ra and t.dec = v.dec`;
    filled += r.count;
    if (rows.length < batch) return filled;
    // Nothing filled in a full batch: every row moved meanwhile; the next start retries.
    if (r.count === 0) return filled;
  }
}
