/**
 * The pipeline's contracts: names of subjects, streams and consumers, the
 * schemas of the messages that travel on them, and how a Hopskotch record's
 * exact bytes are recovered from an inbound envelope (`hop_raw.ts`).
 *
 * @module
 */
export * from "./names.ts";
export * from "./messages.ts";
export * from "./hop_raw.ts";
