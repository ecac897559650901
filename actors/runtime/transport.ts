/**
 * The narrow interface between actors and the message bus. Two implementations
 * stand behind it: {@link NatsTransport} (NATS JetStream, production) and
 * {@link MemoryTransport} (in-process, the zero-set-up default). One
 * conformance suite (`conformance_test.ts`) runs unchanged against both.
 *
 * Semantics follow JetStream: streams capture subjects and keep messages;
 * durable consumers deliver each message to one of their subscribers, expect an
 * explicit ack, redeliver after a negative ack or when the ack wait lapses, and
 * stop delivering a message after `maxDeliver` attempts.
 *
 * @module
 */
import type { StreamSpec } from "../../contracts/names.ts";

/** Message headers (single-valued). */
export type Headers = Record<string, string>;

/** Header carrying the message id that deduplicates publishes. */
export const MSG_ID_HEADER = "Nats-Msg-Id";

/** Options of one publish. */
export interface PublishOptions {
  /** Message id: a second publish with the same id inside the stream's duplicate window is dropped. */
  readonly msgId?: string;
  /** Extra headers. */
  readonly headers?: Headers;
}

/** The stream's acknowledgement of a publish. */
export interface PublishAck {
  readonly stream: string;
  readonly seq: number;
  /** True when the stream already had a message with this id (nothing was stored). */
  readonly duplicate: boolean;
}

/** A durable consumer as the runtime declares it. */
export interface ConsumerSpec {
  readonly stream: string;
  /** Durable name shared by every replica. */
  readonly durable: string;
  readonly filterSubjects: readonly string[];
  readonly description?: string;
  /** How long a delivered message may stay unacknowledged before it is redelivered. */
  readonly ackWaitMs: number;
  /** Deliveries of one message before the consumer gives up on it. */
  readonly maxDeliver: number;
  /** Messages delivered and not yet acknowledged, across all replicas. */
  readonly maxAckPending: number;
}

/** One delivery of a stored message to a consumer. */
export interface Delivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  /** The publish's message id, when it had one. */
  readonly msgId?: string;
  readonly stream: string;
  readonly streamSeq: number;
  /** 1 on first delivery, then 2, 3, ... */
  readonly deliveryCount: number;
  /** When the stream stored the message, epoch milliseconds. */
  readonly timestampMs: number;
  /** Confirms the message was handled; resolves when the server has recorded it. */
  ack(): Promise<void>;
  /** Asks for redelivery, after `delayMs` when given. */
  nak(delayMs?: number): void;
  /** Gives up on the message: it is never redelivered. */
  term(reason?: string): void;
  /** Resets the ack-wait timer while long work is under way. */
  working(): void;
}

/** Counters of a durable consumer, shared by its replicas. */
export interface ConsumerState {
  /** Messages in the stream not yet delivered to this consumer. */
  readonly pending: number;
  /** Messages delivered and not yet acknowledged. */
  readonly ackPending: number;
  /** Messages delivered more than once and not yet acknowledged. */
  readonly redelivered: number;
}

/** One replica's subscription to a durable consumer. */
export interface Subscription extends AsyncIterable<Delivery> {
  /** Stops fetching; iteration ends once buffered deliveries are handed back for redelivery. */
  stop(): Promise<void>;
  /** The durable consumer's counters. */
  state(): Promise<ConsumerState>;
}

/** Options of a subscription. */
export interface ConsumeOptions {
  /** Deliveries a replica may hold (buffered and in flight) at once. */
  readonly maxMessages: number;
  /**
   * Payload bytes (`data`) a replica may hold (buffered and in flight) at once,
   * beside {@link maxMessages}: whichever bound is reached first stops fetching.
   * One delivery larger than the budget still comes when nothing else is held
   * (else it could never be handled). Unset: no byte bound.
   */
  readonly maxBytes?: number;
  /** Told about fetch failures the subscription is retrying (e.g. while the server is away). */
  readonly onError?: (error: Error, consecutive: number) => void;
}

/** A message kept by a stream, as read back by {@link Transport.read}. */
export interface StoredMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly seq: number;
  readonly timestampMs: number;
}

/** Counters of a stream. */
export interface StreamState {
  readonly messages: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/** Handles a request and returns the reply payload. */
export type RequestHandler = (
  data: Uint8Array,
  headers: Headers,
) => Promise<Uint8Array> | Uint8Array;

/** Something that can be stopped. */
export interface Stoppable {
  stop(): Promise<void>;
}

/** The bus as actors see it. */
export interface Transport {
  /** `"nats"` or `"memory"`. */
  readonly kind: string;
  /** Creates the stream, or updates it to the spec when it exists. */
  ensureStream(spec: StreamSpec): Promise<void>;
  /** Creates the durable consumer, or updates it to the spec when it exists. */
  ensureConsumer(spec: ConsumerSpec): Promise<void>;
  /** Stores a message in the stream that captures `subject`. */
  publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PublishAck>;
  /** Joins a durable consumer as one more replica. */
  consume(stream: string, durable: string, options: ConsumeOptions): Promise<Subscription>;
  /** Sends a core request and waits for one reply. */
  request(subject: string, data: Uint8Array, options: { timeoutMs: number }): Promise<Uint8Array>;
  /** Answers requests on `subject`; replicas sharing `queue` split them. */
  serve(subject: string, handler: RequestHandler, options?: { queue?: string }): Promise<Stoppable>;
  /** A durable consumer's counters, without joining it. */
  consumerState(stream: string, durable: string): Promise<ConsumerState>;
  /** Stream counters. */
  streamState(stream: string): Promise<StreamState>;
  /** Reads stored messages in sequence order from `fromSeq` (default the first), without a consumer. */
  read(
    stream: string,
    options?: { fromSeq?: number; max?: number; subject?: string },
  ): AsyncIterable<StoredMessage>;
  /** Deletes a stream and its consumers (tests and tools). */
  deleteStream(stream: string): Promise<void>;
  /** Flushes what is pending and closes. */
  close(): Promise<void>;
}

/** Raised when a publish finds no stream for its subject. */
export class NoStreamError extends Error {
  constructor(subject: string) {
    super(
      `no stream captures subject "${subject}": declare it in contracts/names.ts (STREAMS) and ` +
        `make sure the actor's topology was ensured before publishing`,
    );
    this.name = "NoStreamError";
  }
}
