/**
 * Every message that crosses the bus, as a zod schema, bound to the subject it
 * travels on. Actors name their input and outputs by these channels; the runtime
 * validates every message against them on the way in and on the way out.
 *
 * @module
 */
import { z } from "zod";
import { SUBJECTS } from "./names.ts";

/** A subject (or subject pattern) bound to the schema of what travels on it. */
export interface Channel<S extends z.ZodType = z.ZodType> {
  /** Concrete subject, or a pattern with wildcards when the subject carries a key. */
  readonly subject: string;
  /** Schema of the JSON payload. */
  readonly schema: S;
  /** One line on what the channel carries. */
  readonly description: string;
}

/** Binds a subject to its schema. */
export function channel<S extends z.ZodType>(
  subject: string,
  schema: S,
  description: string,
): Channel<S> {
  return { subject, schema, description };
}

/** The payload type of a channel. */
export type PayloadOf<C> = C extends Channel<infer S> ? z.infer<S> : never;

/** A ping for the demonstration echo actor. */
export const Ping = z.object({
  /** Sender's sequence number. */
  seq: z.number().int().nonnegative(),
  /** Sender's clock when sent, epoch milliseconds (latency measurement). */
  sentAt: z.number(),
  /** Opaque body, e.g. padding to a message size. */
  body: z.string().max(1_000_000).default(""),
  /** Milliseconds the echo actor should spend on it (to simulate work). */
  workMs: z.number().int().nonnegative().max(60_000).default(0),
  /** Make the echo actor throw this many times before succeeding (tests retries). */
  failTimes: z.number().int().nonnegative().max(100).default(0),
});
/** A ping. */
export type Ping = z.infer<typeof Ping>;

/** The echo actor's answer to a ping. */
export const Pong = z.object({
  seq: z.number().int().nonnegative(),
  sentAt: z.number(),
  /** Message id of the ping answered. */
  pingId: z.string(),
  /** Replica that handled the ping. */
  replica: z.string(),
  /** Delivery attempt on which it succeeded (1 = first). */
  attempt: z.number().int().positive(),
  handledAt: z.number(),
});
/** A pong. */
export type Pong = z.infer<typeof Pong>;

/** Why a message was dead-lettered. */
export const DeadLetterReason = z.enum([
  "oversize",
  "undecodable",
  "schema",
  "handler_failed",
  "rejected",
  "redelivery_limit",
  "output_invalid",
]);
/** Why a message was dead-lettered. */
export type DeadLetterReason = z.infer<typeof DeadLetterReason>;

/** A message an actor could not accept or handle, kept whole with the reason. */
export const DeadLetter = z.object({
  actor: z.string(),
  replica: z.string(),
  reason: DeadLetterReason,
  /** Human-readable detail: the validation issues, the error message, ... */
  detail: z.string(),
  /** Delivery attempts made before giving up. */
  attempts: z.number().int().nonnegative(),
  deadLetteredAt: z.string(),
  original: z.object({
    subject: z.string(),
    id: z.string(),
    stream: z.string().optional(),
    streamSeq: z.number().int().optional(),
    headers: z.record(z.string(), z.string()),
    /** Payload bytes, base64. */
    dataBase64: z.string(),
    size: z.number().int().nonnegative(),
  }),
});
/** A dead letter. */
export type DeadLetter = z.infer<typeof DeadLetter>;

/** Every channel of the pipeline. */
export const CHANNELS = {
  demoPing: channel(SUBJECTS.demoPing, Ping, "pings for the demonstration echo actor"),
  demoPong: channel(SUBJECTS.demoPong, Pong, "the echo actor's pongs"),
  deadLetters: channel(SUBJECTS.deadLetterAll, DeadLetter, "dead letters of every actor"),
} as const;
