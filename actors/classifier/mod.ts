/**
 * The kilonova classifier: sky-map-aware, explainable scoring of optical
 * candidates (docs/classifier.md). `score(lightCurve, context)` is the one
 * scoring path; the actor, the evaluation, the benchmark and future CLI/HTTP
 * front ends use it.
 *
 * @module
 */
export * from "./bands.ts";
export * from "./lightcurve.ts";
export * from "./context.ts";
export * from "./features.ts";
export * from "./gbdt.ts";
export * from "./model.ts";
export * from "./explain.ts";
export * from "./state.ts";
export * from "./actor.ts";
export * from "./lightcurve_file.ts";
export * from "./on_demand.ts";
