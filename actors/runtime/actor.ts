/**
 * What an actor is: a name, one input channel, the channels it may publish on,
 * and a handler — a plain function of a typed message that returns its outputs.
 * Everything else (validation, retries, dead letters, metrics, health, shutdown,
 * service registration) is the runtime's job.
 *
 * @module
 */
import type { Registry } from "prom-client";
import type { z } from "zod";
import type { Channel, PayloadOf } from "../../contracts/messages.ts";
import { token } from "../../contracts/names.ts";
import type { DeadLetterReason } from "../../contracts/messages.ts";
import type { Headers } from "./transport.ts";
import type { Logger } from "./log.ts";
import type { OrderKey } from "./order_gate.ts";

export { ORDER_BARRIER, type OrderKey } from "./order_gate.ts";

/** An input message, decoded and validated. */
export interface InputMessage<T> {
  /** Message id: the publisher's `Nats-Msg-Id`, or `<stream>:<seq>` when it had none. */
  readonly id: string;
  readonly subject: string;
  readonly data: T;
  readonly headers: Headers;
  /** 1 on the first attempt. */
  readonly deliveryCount: number;
  /** When the stream stored it, epoch milliseconds. */
  readonly timestampMs: number;
}

/** What a handler may use besides its message. */
export interface ActorContext {
  readonly actor: string;
  readonly replica: string;
  readonly log: Logger;
  /** Aborted when the grace period of a shutdown runs out. */
  readonly signal: AbortSignal;
}

/** One message a handler asks the runtime to publish. */
export interface Output {
  readonly channel: Channel;
  /** Concrete subject when the channel's subject is a pattern. */
  readonly subject?: string;
  readonly data: unknown;
  /**
   * Distinguishes several outputs of one input on one subject. The output's
   * message id derives from the input id, the subject and this key, so a
   * redelivered input republishes the same ids and JetStream drops the copies.
   */
  readonly key?: string;
  /** Explicit message id, replacing the derived one. */
  readonly id?: string;
  readonly headers?: Headers;
  /**
   * `data` already encoded by the caller: its JSON text (or that text's UTF-8
   * bytes), sent as it is instead of encoding `data` again (e.g. a handler
   * that stored the same JSON in a database). It must be `data`'s JSON — the
   * runtime still validates `data`, and sends its own encoding of zod's copy
   * when `data` only passes as a copy (a default filled, a key stripped).
   */
  readonly encoded?: string | Uint8Array;
}

/** Builds a typed {@link Output}. */
export function emit<C extends Channel>(
  channel: C,
  data: PayloadOf<C>,
  options: {
    subject?: string;
    key?: string;
    id?: string;
    headers?: Headers;
    encoded?: string | Uint8Array;
  } = {},
): Output {
  return { channel, data, ...options };
}

/** A handler's result: outputs to publish (possibly none). */
export type HandlerResult = Output[] | Output | void;

/** The handler of an actor. */
export type Handler<T> = (
  message: InputMessage<T>,
  context: ActorContext,
) => HandlerResult | Promise<HandlerResult>;

/**
 * Turns raw payload bytes into a value for the input schema (default: UTF-8
 * JSON). The message's headers are decoded only if the decoder reads
 * `message.headers`.
 */
export type Decoder = (data: Uint8Array, message: { readonly headers: Headers }) => unknown;

/**
 * Orders a message against the others a replica handles at once (see
 * {@link ActorDefinition.orderKey}); sees the decoded, validated message.
 */
export type OrderKeyOf<T> = (message: InputMessage<T>) => OrderKey;

/** Per-actor tuning that overrides the runtime configuration. */
export interface ActorTuning {
  maxInFlight: number;
  maxAttempts: number;
  ackWaitMs: number;
}

/** An actor definition. */
export interface ActorDefinition<C extends Channel = Channel> {
  /** Unique name: the durable consumer, the micro service and the dead-letter subject carry it. */
  readonly name: string;
  readonly description: string;
  /** Semantic version, shown by `nats micro ls`. */
  readonly version: string;
  readonly input: C;
  /** Subjects within the input channel to consume (default: the channel's subject). */
  readonly inputSubjects?: readonly string[];
  readonly outputs: readonly Channel[];
  readonly handler: Handler<z.infer<C["schema"]>>;
  readonly decode?: Decoder;
  /**
   * Ordering key of a message. Without it, up to `maxInFlight` messages run at
   * once in any order. With it, messages of one key are handled strictly one
   * after another in delivery order (different keys still run concurrently);
   * {@link ORDER_BARRIER} waits for everything delivered before it and holds
   * everything delivered after it; `undefined` orders the message with
   * nothing. A keyed message whose handler fails is retried in place (with
   * back-off, its key held) instead of being handed back to the server, so
   * later messages of its key wait; once it is dead-lettered they proceed.
   * Order holds within one replica (see docs/runtime.md).
   */
  readonly orderKey?: OrderKeyOf<z.infer<C["schema"]>>;
  readonly tuning?: Partial<ActorTuning>;
  /**
   * Called once by the host with its metrics registry (the one `/metrics` serves),
   * for metrics of the actor's own (e.g. the gateway's per-topic counters).
   */
  readonly useMetrics?: (registry: Registry) => void;
}

/** Checks an actor definition and returns it, typed. */
export function defineActor<C extends Channel>(def: ActorDefinition<C>): ActorDefinition<C> {
  token(def.name);
  if (!/^\d+\.\d+\.\d+/.test(def.version)) {
    throw new Error(`actor ${def.name}: version "${def.version}" is not semantic (e.g. 1.0.0)`);
  }
  return def;
}

/**
 * Thrown by a handler (or the runtime) for a message that no retry can fix:
 * it goes to the dead-letter stream at once with the given reason.
 */
export class Rejection extends Error {
  constructor(readonly reason: DeadLetterReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "Rejection";
  }
}
