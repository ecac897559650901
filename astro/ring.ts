/**
 * HEALPix RING ordering (Górski et al. 2005): pixel centre ↔ direction and the
 * conversion between RING and NESTED indices. Written from the published
 * algorithm; cross-checked against healpy in `ring_test.ts`. Same conventions
 * and limits as {@link ./healpix.ts}.
 *
 * @module
 */
import {
  ang2pixNest,
  nside2npix,
  nsideToOrder,
  pix2angNest,
  type RaDec,
  radec,
  type ThetaPhi,
  thetaPhi,
} from "./healpix.ts";

const HALF_PI = Math.PI / 2;

function isqrt(v: number): number {
  let r = Math.floor(Math.sqrt(v));
  while (r * r > v) r--;
  while ((r + 1) * (r + 1) <= v) r++;
  return r;
}

function checkPixel(nside: number, ipix: number): void {
  if (!Number.isInteger(ipix) || ipix < 0 || ipix >= nside2npix(nside)) {
    throw new RangeError(
      `pixel ${ipix} is outside a NSIDE ${nside} map (0 … ${nside2npix(nside) - 1})`,
    );
  }
}

/** RING pixel containing a direction (healpy `ang2pix(nest=False)`). */
export function ang2pixRing(nside: number, theta: number, phi: number): number {
  nsideToOrder(nside);
  if (!(theta >= 0 && theta <= Math.PI) || !Number.isFinite(phi)) {
    throw new RangeError(
      `direction theta=${theta} phi=${phi} is invalid (theta must be in [0, π])`,
    );
  }
  const z = Math.cos(theta);
  const za = Math.abs(z);
  let tt = (phi / HALF_PI) % 4;
  if (tt < 0) tt += 4;
  const nl4 = 4 * nside;
  if (za <= 2 / 3) {
    const temp1 = nside * (0.5 + tt);
    const temp2 = nside * z * 0.75;
    const jp = Math.floor(temp1 - temp2);
    const jm = Math.floor(temp1 + temp2);
    const ir = nside + 1 + jp - jm;
    const kshift = 1 - (ir & 1);
    let ip = Math.floor((jp + jm - nside + kshift + 1) / 2);
    ip = ((ip % nl4) + nl4) % nl4;
    return 2 * nside * (nside - 1) + (ir - 1) * nl4 + ip;
  }
  const tp = tt - Math.floor(tt);
  const tmp = nside * Math.sqrt(3 * (1 - za));
  const jp = Math.floor(tp * tmp);
  const jm = Math.floor((1 - tp) * tmp);
  const ir = jp + jm + 1;
  let ip = Math.floor(tt * ir);
  ip = ip % (4 * ir);
  return z > 0 ? 2 * ir * (ir - 1) + ip : nside2npix(nside) - 2 * ir * (ir + 1) + ip;
}

/** Centre of RING pixel `ipix` as colatitude/longitude in radians (healpy `pix2ang(nest=False)`). */
export function pix2angRing(nside: number, ipix: number): ThetaPhi {
  nsideToOrder(nside);
  checkPixel(nside, ipix);
  const npix = nside2npix(nside);
  const ncap = 2 * nside * (nside - 1);
  let z: number;
  let phi: number;
  // 1 − |z| computed exactly in the caps (acos loses precision near the poles).
  let oneMinusAbsZ = NaN;
  if (ipix < ncap) {
    const iring = (1 + isqrt(1 + 2 * ipix)) >> 1;
    const iphi = ipix + 1 - 2 * iring * (iring - 1);
    oneMinusAbsZ = (iring * iring * 4) / npix;
    z = 1 - oneMinusAbsZ;
    phi = (iphi - 0.5) * (HALF_PI / iring);
  } else if (ipix < npix - ncap) {
    const ip = ipix - ncap;
    const iring = Math.floor(ip / (4 * nside)) + nside;
    const iphi = (ip % (4 * nside)) + 1;
    const fodd = ((iring + nside) & 1) ? 1 : 0.5;
    z = ((2 * nside - iring) * 2 * nside * 4) / npix;
    phi = (iphi - fodd) * (HALF_PI / nside);
  } else {
    const ip = npix - ipix;
    const iring = (1 + isqrt(2 * ip - 1)) >> 1;
    const iphi = 4 * iring + 1 - (ip - 2 * iring * (iring - 1));
    oneMinusAbsZ = (iring * iring * 4) / npix;
    z = oneMinusAbsZ - 1;
    phi = (iphi - 0.5) * (HALF_PI / iring);
  }
  const theta = Number.isNaN(oneMinusAbsZ)
    ? Math.acos(z)
    : Math.atan2(Math.sqrt(oneMinusAbsZ * (2 - oneMinusAbsZ)), z);
  return { theta, phi };
}

/** RING pixel of a position in degrees. */
export function radec2pixRing(nside: number, ra: number, dec: number): number {
  const { theta, phi } = thetaPhi(ra, dec);
  return ang2pixRing(nside, theta, phi);
}

/** Centre of a RING pixel in degrees. */
export function pix2radecRing(nside: number, ipix: number): RaDec {
  return radec(pix2angRing(nside, ipix));
}

/** NESTED index of a RING pixel (through its centre, which lies inside exactly one pixel). */
export function ring2nest(nside: number, ipix: number): number {
  const { theta, phi } = pix2angRing(nside, ipix);
  return ang2pixNest(nside, theta, phi);
}

/** RING index of a NESTED pixel. */
export function nest2ring(nside: number, ipix: number): number {
  const { theta, phi } = pix2angNest(nside, ipix);
  return ang2pixRing(nside, theta, phi);
}

/** Reorders a RING-ordered column into NESTED order (healpy `reorder(r2n=True)`). */
export function reorderRingToNest(nside: number, ring: Float64Array): Float64Array {
  const npix = nside2npix(nside);
  if (ring.length !== npix) {
    throw new RangeError(`a NSIDE ${nside} map needs ${npix} pixels, got ${ring.length}`);
  }
  const nest = new Float64Array(npix);
  for (let r = 0; r < npix; r++) nest[ring2nest(nside, r)] = ring[r];
  return nest;
}
