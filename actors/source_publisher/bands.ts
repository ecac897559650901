/**
 * Filter labels the publisher accepts, exactly as the data set's sources write
 * them (see data/README.md), with approximate effective wavelengths for the
 * synthetic light-curve models.
 *
 * @module
 */

/** Every band label of the GW170817 data set and the synthetic survey. */
export const KNOWN_BANDS = [
  // SDSS/PS1/DECam-like AB filters; w = Pan-STARRS/LCO broad w; o = ATLAS orange.
  "u",
  "g",
  "r",
  "i",
  "z",
  "y",
  "w",
  "o",
  // Johnson/Cousins (Swift/UVOT U/B/V when the instrument says so).
  "U",
  "B",
  "V",
  "R",
  "I",
  // Swift/UVOT ultraviolet.
  "W1",
  "W2",
  "M2",
  "UVW1",
  "UVW2",
  "UVM2",
  "UVU",
  "UVB",
  "UVV",
  // Near-infrared; J8.9 = VLT/VISIR 8.9 µm.
  "Y",
  "J",
  "H",
  "K",
  "Ks",
  "J1",
  "J8.9",
  // HST WFC3/ACS.
  "F225W",
  "F275W",
  "F336W",
  "F475W",
  "F606W",
  "F625W",
  "F775W",
  "F814W",
  "F850W",
  "F110W",
  "F160W",
  // Unfiltered (MASTER white, clear) and AstroSat UVIT.
  "W",
  "C",
  "F172",
] as const;

/** A known band label. */
export type Band = typeof KNOWN_BANDS[number];

const KNOWN = new Set<string>(KNOWN_BANDS);

/** True when `band` is a known label. */
export function isKnownBand(band: string): band is Band {
  return KNOWN.has(band);
}

/** Effective wavelengths in ångström of the bands the synthetic survey uses. */
export const SURVEY_BAND_WAVELENGTH: Readonly<Record<string, number>> = {
  u: 3560,
  g: 4770,
  r: 6231,
  i: 7625,
  z: 9134,
  y: 10000,
};
