/**
 * The classifier's six canonical optical bands (u g r i z y) and how the
 * labels of real data map onto them. Near-IR, UV and unfiltered points are
 * counted but not used (the synthetic training sky has no such bands); Vega
 * magnitudes are converted to AB with the Blanton & Roweis (2007) offsets.
 *
 * @module
 */

/** Canonical bands, bluest first. */
export const BANDS = ["u", "g", "r", "i", "z", "y"] as const;
/** A canonical band. */
export type CanonicalBand = typeof BANDS[number];
/** Number of canonical bands. */
export const NB = BANDS.length;

/** Effective wavelengths of the canonical bands, Å (as the synthetic models use them). */
export const BAND_WAVELENGTH: readonly number[] = [3560, 4770, 6231, 7625, 9134, 10000];

/** Label → canonical band index. Labels not listed are ignored by the features. */
const MAP: Readonly<Record<string, number>> = {
  u: 0,
  U: 0,
  g: 1,
  F475W: 1,
  r: 2,
  R: 2,
  F625W: 2,
  i: 3,
  I: 3,
  F775W: 3,
  F814W: 3,
  z: 4,
  F850W: 4,
  y: 5,
  Y: 5,
};

/** AB − Vega offsets (Blanton & Roweis 2007) for labels that may come in Vega. */
const VEGA_TO_AB: Readonly<Record<string, number>> = {
  U: 0.79,
  B: -0.09,
  V: 0.02,
  R: 0.21,
  I: 0.45,
  Y: 0.63,
};

/** Every label the features use, with its canonical band (e.g. `F625W` → `r`). */
export function bandAliases(): Readonly<Record<string, CanonicalBand>> {
  return Object.fromEntries(Object.entries(MAP).map(([k, b]) => [k, BANDS[b]]));
}

/** Canonical band index of a label, or -1 when the classifier does not use it. */
export function bandIndex(label: string): number {
  return MAP[label] ?? -1;
}

/** AB magnitude of a magnitude given in `system` ("AB", "Vega" or null = AB). */
export function toAb(mag: number, label: string, system: string | null | undefined): number {
  return system === "Vega" ? mag + (VEGA_TO_AB[label] ?? 0) : mag;
}
