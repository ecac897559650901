/**
 * The archiver: every inbound alert into PostgreSQL, raw and typed, batched,
 * exactly once in effect. See docs/archive.md.
 *
 * @module
 */
export * from "./archiver.ts";
export * from "./batcher.ts";
export * from "./extract.ts";
