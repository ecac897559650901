/**
 * The source publisher: replays the GW170817 multi-messenger timeline and a
 * synthetic alert sky to Hopskotch topics (`deno task replay`). See README.md.
 *
 * @module
 */
export * from "./bands.ts";
export * from "./dataset.ts";
export * from "./ids.ts";
export * from "./avro.ts";
export * from "./payloads.ts";
export * from "./timeline.ts";
export * from "./replay.ts";
export * from "./sinks.ts";
export * from "./progress.ts";
export * from "./synthetic/mod.ts";
export { SkyAlertEncoder, syntheticEvents } from "./synthetic/events.ts";
export * from "./fast_optical.ts";
