/**
 * The results publisher: classification results stored once, material changes
 * published to Hopskotch as HERMES-shaped derived alerts. See docs/archive.md.
 *
 * @module
 */
export * from "./derived.ts";
export * from "./publisher.ts";
