/**
 * The synthetic alert sky: seeded generator, light-curve models and survey.
 *
 * @module
 */
export * from "./rng.ts";
export * from "./models.ts";
export * from "./generator.ts";
