/**
 * Cone searches on targets in SQL. {@link coneWith} is the fast one: the
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
 * the cone: the declination band and the RA intervals of {@link coneWindows}
 * (what the `(dec, ra)` index can narrow), then the exact distance.
 */
export function coneWhere(sql: Sql, cone: Cone) {
  const { decLo, decHi, ra } = coneWindows(cone);
  return sql`t.dec between ${decLo} and ${decHi}
    and (t.ra between ${ra[0]} and ${ra[1]} or t.ra between ${ra[2]} and ${ra[3]})
    and ${distanceSql(sql, cone.ra, cone.dec)} <= ${cone.radius}`;
}

/** SQL for the angular distance (degrees) of `t.ra, t.dec` from a point. */
export function distanceSql(sql: Sql, ra: number, dec: number) {
  return sql`degrees(2 * asin(least(1, sqrt(
    power(sin(radians(t.dec - ${dec}::float8) / 2), 2) +
    cos(radians(t.dec)) * cos(radians(${dec}::float8)) * power(sin(radians(t.ra - ${ra}::float8) / 2), 2)
  ))))`;
}

/**
 * `with kb_cone as materialized (…) `: the targets within the cone (alias `t`)
 * that satisfy `where`, found once per statement for the count and the page.
 * `tom_targets_in_cone()` (migration 0107) scans `hpx` over the HEALPix ranges
 * covering the disc with plain btree range scans and adds the rows whose `hpx`
 * is not filled in yet (their partial `(dec, ra)` index, within
 * {@link coneWindows}); each row is kept when its exact distance
 * ({@link distanceSql}'s expression, written out in the function) is within the
 * radius. The rows carry the columns a target list filters, sorts and answers
 * with: `id, name, ra, dec, score, created, permissions, created_by, groups,
 * api_json`. One postgres.js fragment (each costs ~2 µs of CPU to make).
 */
export function coneWith(sql: Sql, cone: Cone, where: ReturnType<Sql["unsafe"]>) {
  const { loLiteral, hiLiteral } = coneRangeParams(cone);
  // Array literals (untyped text parameters cast in SQL): the bounds are remembered ones
  // (postgres.js would escape every element of a JS array again on each request, ~3% of a
  // cone's CPU), the cone's numbers one parameter instead of nine.
  return sql`with kb_cone as materialized (select t.* from tom_targets_in_cone(${loLiteral}::bigint[],
    ${hiLiteral}::bigint[], ${coneNumbersLiteral(cone)}::float8[]) t where ${where}) `;
}

/**
 * The numbers `tom_targets_in_cone()` takes, as a PostgreSQL array literal:
 * `{ra,dec,radius,dec_lo,dec_hi,ra_lo1,ra_hi1,ra_lo2,ra_hi2}` ({@link coneWindows}).
 * `String(n)` is the shortest decimal that reads back as exactly `n`, as
 * postgres.js writes a number parameter.
 */
export function coneNumbersLiteral(cone: Cone): string {
  const w = coneWindows(cone);
  return `{${cone.ra},${cone.dec},${cone.radius},${w.decLo},${w.decHi},${w.ra[0]},${w.ra[1]},${
    w.ra[2]
  },${w.ra[3]}}`;
}

/**
 * {@link coneBox} as two closed RA intervals `[ra[0], ra[1]]`, `[ra[2], ra[3]]`
 * whose union, on `ra` in [0, 360), is the box's RA window taken modulo 360°: a
 * window wrapped at 0/360° is split in two, an unwrapped one leaves the second
 * interval empty (`[1, 0]`), no window (a pole in the cone) is every RA. The
 * one place the wrap is handled: {@link coneWhere} and `tom_targets_in_cone()`
 * (migration 0107, rows without `hpx`) both take these intervals.
 */
export function coneWindows(
  cone: Cone,
): { decLo: number; decHi: number; ra: readonly [number, number, number, number] } {
  const box = coneBox(cone);
  const { decLo, decHi } = box;
  if (!box.ra) return { decLo, decHi, ra: [-360, 720, 1, 0] };
  const { lo, hi } = box.ra;
  if (lo < 0) return { decLo, decHi, ra: [lo + 360, 720, -360, hi] };
  if (hi >= 360) return { decLo, decHi, ra: [lo, 720, -360, hi - 360] };
  return { decLo, decHi, ra: [lo, hi, 1, 0] };
}

/** Cones whose ranges are remembered (a few KB each at most). */
export const CONE_RANGES_REMEMBERED = 1_000;
const rangeMemo = new Map<string, ConeRangeParams>();

/** The HEALPix ranges of a cone, as {@link coneWith} sends them. */
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
 * The HEALPix ranges of a cone as {@link coneWith} sends them (order-24
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
 * The deepest HEALPix order {@link coneWith} refines a disc to: one coarser than
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

/** The sky index (`hpx`) of a position, as {@link coneWith} expects it. */
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
