/**
 * Astronomy helpers shared by the source publisher and the classifier: HEALPix
 * (NESTED and NUNIQ), FITS binary tables and gravitational-wave sky maps.
 *
 * @module
 */
export * from "./healpix.ts";
export * from "./fits.ts";
export * from "./skymap.ts";
export * from "./ring.ts";
export * from "./distance.ts";
export * from "./moc_skymap.ts";
