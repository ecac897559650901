/**
 * Visibility of a fixed target from an observatory: sidereal time, hour angle,
 * altitude and airmass (sec z, as astroplan's airmass constraint), the Sun's
 * altitude (night) and the Moon's distance, from low-precision formulae (Sun
 * and Moon: the Astronomical Almanac's, ~0.01° and ~0.3°; J2000 → date:
 * first-order precession). Good to ~0.01 in airmass below airmass 3 — the
 * tests compare with astropy.
 *
 * @module
 */

const RAD = Math.PI / 180;
const DAY_MS = 86_400_000;

/** An observatory site. */
export interface Site {
  /** Short code (LCO's site codes). */
  readonly code: string;
  readonly name: string;
  /** Geodetic latitude, degrees north. */
  readonly lat: number;
  /** Longitude, degrees east. */
  readonly lon: number;
  /** Elevation, metres. */
  readonly elevation: number;
}

/** Sites of the simulated network (real coordinates of the LCO sites). */
export const SITES: readonly Site[] = [
  { code: "lsc", name: "Cerro Tololo", lat: -30.1673833, lon: -70.8047888, elevation: 2198 },
  { code: "coj", name: "Siding Spring", lat: -31.272932, lon: 149.070648, elevation: 1116 },
  { code: "elp", name: "McDonald", lat: 30.679653, lon: -104.015193, elevation: 2070 },
];

/** Julian date of a time. */
export function julianDate(t: Date | number): number {
  return (typeof t === "number" ? t : t.getTime()) / DAY_MS + 2440587.5;
}

const norm360 = (x: number) => ((x % 360) + 360) % 360;

/** Greenwich mean sidereal time, degrees (IAU 1982; UT1 ≈ UTC). */
export function gmstDeg(t: Date | number): number {
  const d = julianDate(t) - 2451545.0;
  const T = d / 36525;
  return norm360(280.46061837 + 360.98564736629 * d + 0.000387933 * T * T - T * T * T / 38710000);
}

/** Local mean sidereal time at east longitude `lon`, degrees. */
export function lstDeg(t: Date | number, lon: number): number {
  return norm360(gmstDeg(t) + lon);
}

/** J2000 RA/Dec → mean equator of date (first-order precession), degrees. */
export function precess(ra: number, dec: number, t: Date | number): { ra: number; dec: number } {
  const years = (julianDate(t) - 2451545.0) / 365.25;
  const m = 46.1244 / 3600; // degrees per year
  const n = 20.0431 / 3600;
  const dRa = (m + n * Math.sin(ra * RAD) * Math.tan(dec * RAD)) * years;
  const dDec = n * Math.cos(ra * RAD) * years;
  return { ra: norm360(ra + dRa), dec: dec + dDec };
}

/** Altitude of an RA/Dec (of date) at a site, degrees (geometric, no refraction). */
export function altitudeDeg(ra: number, dec: number, site: Site, t: Date | number): number {
  const ha = (lstDeg(t, site.lon) - ra) * RAD;
  const s = Math.sin(dec * RAD) * Math.sin(site.lat * RAD) +
    Math.cos(dec * RAD) * Math.cos(site.lat * RAD) * Math.cos(ha);
  return Math.asin(Math.max(-1, Math.min(1, s))) / RAD;
}

/** Hour angle of an RA at a site, hours in (−12, 12]. */
export function hourAngleH(ra: number, site: Site, t: Date | number): number {
  let h = (lstDeg(t, site.lon) - ra) / 15;
  while (h > 12) h -= 24;
  while (h <= -12) h += 24;
  return h;
}

/** Airmass sec z of a J2000 position; `Infinity` below the horizon. */
export function airmass(ra: number, dec: number, site: Site, t: Date | number): number {
  const p = precess(ra, dec, t);
  const alt = altitudeDeg(p.ra, p.dec, site, t);
  return alt <= 0 ? Infinity : 1 / Math.sin(alt * RAD);
}

/** The Sun's apparent RA/Dec, degrees (Astronomical Almanac low precision). */
export function sunPosition(t: Date | number): { ra: number; dec: number } {
  const n = julianDate(t) - 2451545.0;
  const L = 280.46 + 0.9856474 * n;
  const g = (357.528 + 0.9856003 * n) * RAD;
  const lambda = (L + 1.915 * Math.sin(g) + 0.02 * Math.sin(2 * g)) * RAD;
  const eps = (23.439 - 0.0000004 * n) * RAD;
  return {
    ra: norm360(Math.atan2(Math.cos(eps) * Math.sin(lambda), Math.cos(lambda)) / RAD),
    dec: Math.asin(Math.sin(eps) * Math.sin(lambda)) / RAD,
  };
}

/** The Sun's altitude at a site, degrees. */
export function sunAltitudeDeg(site: Site, t: Date | number): number {
  const s = sunPosition(t);
  return altitudeDeg(s.ra, s.dec, site, t);
}

/** The Moon's geocentric RA/Dec, degrees (Astronomical Almanac low precision, ~0.3°). */
export function moonPosition(t: Date | number): { ra: number; dec: number } {
  const T = (julianDate(t) - 2451545.0) / 36525;
  const s = (a: number, b: number) => Math.sin((a + b * T) * RAD);
  const lambda = (218.32 + 481267.881 * T + 6.29 * s(135.0, 477198.87) -
    1.27 * s(259.3, -413335.36) + 0.66 * s(235.7, 890534.22) + 0.21 * s(269.9, 954397.74) -
    0.19 * s(357.5, 35999.05) - 0.11 * s(186.5, 966404.03)) * RAD;
  const beta = (5.13 * s(93.3, 483202.02) + 0.28 * s(228.2, 960400.89) -
    0.28 * s(318.3, 6003.15) - 0.17 * s(217.6, -407332.21)) * RAD;
  const eps = 23.439 * RAD;
  const x = Math.cos(beta) * Math.cos(lambda);
  const y = Math.cos(eps) * Math.cos(beta) * Math.sin(lambda) - Math.sin(eps) * Math.sin(beta);
  const z = Math.sin(eps) * Math.cos(beta) * Math.sin(lambda) + Math.cos(eps) * Math.sin(beta);
  return { ra: norm360(Math.atan2(y, x) / RAD), dec: Math.asin(z) / RAD };
}

/** Angular distance between two positions, degrees. */
export function separationDeg(a: { ra: number; dec: number }, b: { ra: number; dec: number }) {
  const c = Math.sin(a.dec * RAD) * Math.sin(b.dec * RAD) +
    Math.cos(a.dec * RAD) * Math.cos(b.dec * RAD) * Math.cos((a.ra - b.ra) * RAD);
  return Math.acos(Math.max(-1, Math.min(1, c))) / RAD;
}

/** What an observation needs. */
export interface VisibilityConstraints {
  readonly maxAirmass: number;
  /** Minimum Moon distance, degrees (0: any). */
  readonly minLunarDistance: number;
  /** The Sun must be below this altitude, degrees (default −12: nautical twilight). */
  readonly maxSunAltitude?: number;
}

/** The result of a visibility search over a window. */
export interface Visibility {
  /** First time the target is observable from a site, with the site and airmass. */
  readonly first?: { site: Site; at: Date; airmass: number };
  /** Observable minutes in the window, summed over the sites. */
  readonly minutes: number;
  /** Best (lowest) airmass reached in the dark, and where; Infinity when never up in the dark. */
  readonly bestDarkAirmass: { site: Site | null; airmass: number; at: Date | null };
  /** Why not observable (empty when observable). */
  readonly reason: string;
}

/**
 * Searches a window for times a target is observable (dark, under the airmass
 * limit, far enough from the Moon) from any of `sites`, on a `stepMinutes` grid.
 */
export function findVisibility(
  target: { ra: number; dec: number },
  window: { start: Date; end: Date },
  constraints: VisibilityConstraints,
  sites: readonly Site[] = SITES,
  stepMinutes = 5,
): Visibility {
  const sunMax = constraints.maxSunAltitude ?? -12;
  let first: Visibility["first"];
  let minutes = 0;
  let best = { site: null as Site | null, airmass: Infinity, at: null as Date | null };
  let dark = 0;
  let moonBlocked = 0;
  const step = stepMinutes * 60_000;
  for (let t = window.start.getTime(); t <= window.end.getTime(); t += step) {
    for (const site of sites) {
      if (sunAltitudeDeg(site, t) > sunMax) continue;
      dark++;
      const x = airmass(target.ra, target.dec, site, t);
      if (x < best.airmass) best = { site, airmass: x, at: new Date(t) };
      if (x > constraints.maxAirmass) continue;
      if (
        constraints.minLunarDistance > 0 &&
        separationDeg(target, moonPosition(t)) < constraints.minLunarDistance
      ) {
        moonBlocked++;
        continue;
      }
      minutes += stepMinutes;
      if (!first) first = { site, at: new Date(t), airmass: x };
    }
  }
  let reason = "";
  if (!first) {
    const span = `${window.start.toISOString()} – ${window.end.toISOString()}`;
    const names = sites.map((s) => s.name).join(", ");
    if (dark === 0) {
      reason = `no dark time (Sun below ${sunMax}°) at ${names} during ${span}`;
    } else if (best.airmass > constraints.maxAirmass) {
      reason = `the target never rises above the airmass limit ${constraints.maxAirmass} ` +
        `in the dark at ${names} during ${span} (best airmass ` +
        `${Number.isFinite(best.airmass) ? best.airmass.toFixed(2) : "∞: below the horizon"}` +
        `${best.site ? ` at ${best.site.name}` : ""})`;
    } else if (moonBlocked > 0) {
      reason = `the target is closer than ${constraints.minLunarDistance}° to the Moon ` +
        `whenever it is above the airmass limit during ${span}`;
    } else reason = `not observable during ${span}`;
  }
  return { first, minutes, bestDarkAirmass: best, reason };
}
