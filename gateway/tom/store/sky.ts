/**
 * Cone searches in SQL on plain `ra`/`dec` columns with a `(dec, ra)` b-tree:
 * a declination band and an RA window (wrapped at 0/360°, dropped near a pole)
 * narrow the index scan, then the haversine distance decides.
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";

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
