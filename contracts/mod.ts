/**
 * The pipeline's contracts: names of subjects, streams and consumers, and the
 * schemas of the messages that travel on them.
 *
 * @module
 */
export * from "./names.ts";
export * from "./messages.ts";
