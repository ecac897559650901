/**
 * The distance ansatz of 3D gravitational-wave sky maps (Singer et al. 2016,
 * ApJL 829 L15): along one line of sight the luminosity distance has density
 * p(r) = DISTNORM · r² · N(r; DISTMU, DISTSIGMA) for r > 0. This module gives
 * that density and its conditional mean and standard deviation.
 *
 * @module
 */

const SQRT2 = Math.SQRT2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Complementary error function (Numerical Recipes' Chebyshev fit, |relative error| < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 +
            t * (0.37409196 +
                t * (0.09678418 +
                    t * (-0.18628806 +
                        t * (0.27886807 +
                            t *
                              (-1.13520398 +
                                t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal cumulative distribution. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / SQRT2);
}

/** Density of the distance ansatz at `r` Mpc (Mpc⁻¹). */
export function distancePdf(r: number, mu: number, sigma: number, norm: number): number {
  if (!(r > 0)) return 0;
  const z = (r - mu) / sigma;
  return norm * r * r * Math.exp(-0.5 * z * z) * INV_SQRT_2PI / sigma;
}

/** Conditional distance along a line of sight: mean and standard deviation, Mpc. */
export interface LineOfSightDistance {
  readonly mean: number;
  readonly std: number;
}

/**
 * Mean and standard deviation of p(r) ∝ r² N(r; mu, sigma), r > 0 (the
 * conditional distance of one pixel). Closed form from the moments of a
 * truncated normal; undefined when the parameters are not usable (sigma ≤ 0,
 * non-finite values, as ligo.skymap writes for pixels without support).
 */
export function conditionalDistance(mu: number, sigma: number): LineOfSightDistance | undefined {
  if (!Number.isFinite(mu) || !Number.isFinite(sigma) || !(sigma > 0)) return undefined;
  const x = mu / sigma;
  if (x < -30) return undefined;
  // E[Z^k; Z > −x] for a standard normal Z.
  const a = normalCdf(x);
  const b = Math.exp(-0.5 * x * x) * INV_SQRT_2PI;
  const e0 = a;
  const e1 = b;
  const e2 = a - x * b;
  const e3 = (x * x + 2) * b;
  const e4 = -x * x * x * b + 3 * (a - x * b);
  // Moments of r = mu + sigma Z weighted by r²: I_k ∝ E[(mu + sigma Z)^k].
  const m = mu, s = sigma;
  const i2 = m * m * e0 + 2 * m * s * e1 + s * s * e2;
  const i3 = m ** 3 * e0 + 3 * m * m * s * e1 + 3 * m * s * s * e2 + s ** 3 * e3;
  const i4 = m ** 4 * e0 + 4 * m ** 3 * s * e1 + 6 * m * m * s * s * e2 + 4 * m * s ** 3 * e3 +
    s ** 4 * e4;
  if (!(i2 > 0)) return undefined;
  const mean = i3 / i2;
  const variance = i4 / i2 - mean * mean;
  return { mean, std: Math.sqrt(Math.max(0, variance)) };
}

/** Distance modulus of a luminosity distance in Mpc. */
export function distanceModulus(mpc: number): number {
  return 5 * Math.log10(mpc * 1e6) - 5;
}
