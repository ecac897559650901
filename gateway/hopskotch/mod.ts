/**
 * The Hopskotch gateway: the pipeline's door to SCiMMA's Kafka, wire-compatible
 * with hop-client. See docs/hopskotch.md.
 *
 * @module
 */
export * from "./format.ts";
export * from "./uuid.ts";
export * from "./url.ts";
export * from "./auth.ts";
export * from "./config.ts";
export * from "./avro.ts";
export * from "./wire.ts";
export * from "./writer.ts";
