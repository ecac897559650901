/**
 * Pipelined JetStream publishing: every publish goes out on the connection with
 * a reply subject under one inbox subscription, and the stream's
 * acknowledgements are matched back by token. nats.js' `js.publish` does the
 * same per message with its own inbox request, timer and error objects, which
 * costs more than most handlers' work; this keeps the semantics (a PubAck or an
 * error, a timeout, `Nats-Msg-Id` deduplication) at a fraction of the cost.
 *
 * Two ways in, one engine:
 * - {@link PipelinedPublisher.publish} / {@link PipelinedPublisher.publishWithHeaders}
 *   return a promise of the {@link PublishAck} ({@link NatsTransport} publishes
 *   through them, so every actor gets this);
 * - {@link PipelinedPublisher.send} takes the header section already encoded
 *   and reports to a callback with the caller's tag: no promise, no closure and
 *   no `JSON.parse` per message for a plain success. The Hopskotch inbound
 *   gateway sends tens of thousands of messages a second through it, with
 *   headers its Kafka side encoded (`gateway/hopskotch/jetstream_publisher.ts`).
 *
 * Acknowledgements are read by `jetstream_ack.ts`.
 *
 * @module
 */
import {
  createInbox,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from "@nats-io/nats-core";
import { MSG_ID_HEADER, NoStreamError, type PublishAck, type PublishOptions } from "./transport.ts";
import { ackText, isNoStream, parseAck, plainSuccess } from "./jetstream_ack.ts";
import { atTurnEnd } from "./turn_end.ts";

/**
 * Called once per message sent with {@link PipelinedPublisher.send}: `err` when
 * the stream refused it, had no stream for it, did not answer in time or the
 * publisher closed; else `duplicate` tells whether the stream already had its
 * `Nats-Msg-Id`.
 */
export type AckCallback = (tag: number, err: Error | undefined, duplicate: boolean) => void;

/**
 * A message waiting for its acknowledgement: a callback's (`done`), or a
 * promise's (`resolve`, `reject`). Always built by {@link waiter}: one object
 * shape for both, so reading one stays monomorphic.
 */
interface Waiter {
  readonly subject: string;
  /** The sweep tick it was sent in. */
  readonly tick: number;
  readonly tag: number;
  readonly done: AckCallback | undefined;
  readonly resolve: ((ack: PublishAck) => void) | undefined;
  readonly reject: ((err: Error) => void) | undefined;
}

function waiter(
  subject: string,
  tick: number,
  tag: number,
  done: AckCallback | undefined,
  resolve: ((ack: PublishAck) => void) | undefined,
  reject: ((err: Error) => void) | undefined,
): Waiter {
  return { subject, tick, tag, done, resolve, reject };
}

/** A message queued for the connection. */
interface Outgoing {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs;
  readonly token: number;
}

function outgoing(subject: string, data: Uint8Array, headers: MsgHdrs, token: number): Outgoing {
  return { subject, data, headers, token };
}

/** Queued messages that are sent at once rather than at the end of the burst. */
const OUTBOX_MAX = 256;

/**
 * A header section already encoded, as nats.js takes it: its `protocol.publish`
 * calls `encode()` on the headers and nothing else.
 */
class EncodedHeaders {
  constructor(private readonly bytes: Uint8Array) {}
  encode(): Uint8Array {
    return this.bytes;
  }
}

const encoder = new TextEncoder();
/** A header name nats.js accepts (printable ASCII but `:`). */
const HEADER_NAME = /^[!-9;-~]+$/;
const LINE_BREAK = /[\r\n]/;

/**
 * The header section nats.js' `MsgHdrs` would encode for these options (the
 * same text: names as given, values trimmed, `Nats-Msg-Id` last), written
 * directly: no header object, no canonical-name lookups per key. `undefined`
 * when there is no header at all. Throws, as nats.js does, on a name or value
 * a header cannot carry.
 */
export function headerSection(options: PublishOptions): Uint8Array | undefined {
  let text = "NATS/1.0";
  let n = 0;
  const headers = options.headers;
  if (headers !== undefined) {
    for (const k in headers) {
      if (options.msgId && k === MSG_ID_HEADER) continue;
      const v = headers[k];
      if (!HEADER_NAME.test(k)) throw new TypeError(`"${k}" is not a valid header name`);
      if (LINE_BREAK.test(v)) {
        throw new TypeError(`header ${k}: values cannot contain \\r or \\n`);
      }
      text += `\r\n${k}: ${v.trim()}`;
      n++;
    }
  }
  if (options.msgId) {
    if (LINE_BREAK.test(options.msgId)) {
      throw new TypeError(`header ${MSG_ID_HEADER}: values cannot contain \\r or \\n`);
    }
    text += `\r\n${MSG_ID_HEADER}: ${options.msgId.trim()}`;
    n++;
  }
  return n === 0 ? undefined : encoder.encode(`${text}\r\n\r\n`);
}

/** How often unanswered publishes are looked at (at most; less for shorter timeouts). */
const SWEEP_MS = 1_000;

/** Publishes to JetStream with acknowledgements, many in flight on one connection. */
export class PipelinedPublisher {
  /** Under the connection's inbox prefix (an identity may only receive replies under its own), with the dot. */
  private readonly prefix: string;
  private readonly waiting = new Map<number, Waiter>();
  private next = 0;
  /** Sweeps so far: a publish records the tick it was sent in, not a clock reading. */
  private tick = 0;
  private sub?: Subscription;
  /** Messages queued for the end of the burst. */
  private outbox: Outgoing[] = [];
  private sweep?: ReturnType<typeof setInterval>;

  /** `timeoutMs`: a publish not acknowledged within it (plus up to one sweep) fails. */
  constructor(private readonly nc: NatsConnection, private readonly timeoutMs = 10_000) {
    // NatsConnectionImpl keeps its options; the interface does not show them.
    const options = (nc as { options?: { inboxPrefix?: string } }).options;
    this.prefix = `${createInbox(options?.inboxPrefix)}.`;
  }

  /** Stores a message; resolves with the stream's acknowledgement. */
  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): Promise<PublishAck> {
    const section = headerSection(options);
    if (section === undefined) return this.publishWithHeaders(subject, data, natsHeaders());
    return this.publishWithHeaders(subject, data, section);
  }

  /**
   * Same, with headers the caller built: a nats.js `MsgHdrs`, or a whole header
   * section already encoded (`NATS/1.0` line, `Key: value` lines, blank line).
   */
  publishWithHeaders(
    subject: string,
    data: Uint8Array,
    headers: MsgHdrs | Uint8Array,
  ): Promise<PublishAck> {
    const h = headers instanceof Uint8Array
      ? new EncodedHeaders(headers) as unknown as MsgHdrs
      : headers;
    return new Promise((resolve, reject) =>
      this.emit(subject, data, h, waiter(subject, this.tick, 0, undefined, resolve, reject))
    );
  }

  /**
   * Sends `data` on `subject` with `headers`, a whole header section already
   * encoded (`NATS/1.0` line, `Key: value` lines, blank line); `done(tag, …)`
   * is called once with the outcome.
   */
  send(
    subject: string,
    data: Uint8Array,
    headers: Uint8Array,
    done: AckCallback,
    tag: number,
  ): void {
    this.emit(
      subject,
      data,
      new EncodedHeaders(headers) as unknown as MsgHdrs,
      waiter(subject, this.tick, tag, done, undefined, undefined),
    );
  }

  /** Publishes awaiting their acknowledgement. */
  get pending(): number {
    return this.waiting.size;
  }

  /** Fails what still waits ("publisher closed"), queued or sent, and stops listening. */
  close(): void {
    this.outbox = [];
    if (this.sweep !== undefined) clearInterval(this.sweep);
    this.sweep = undefined;
    this.sub?.unsubscribe();
    const left = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of left) this.fail(w, new Error("publisher closed"));
  }

  private fail(w: Waiter, err: Error): void {
    if (w.done) w.done(w.tag, err, false);
    else w.reject!(err);
  }

  /**
   * Registers `w` and queues the message: the queue goes to the connection at
   * the end of the burst (`turn_end.ts`, with the acknowledgements queued
   * meanwhile: one socket write for the lot), or at once when it is long.
   */
  private emit(subject: string, data: Uint8Array, headers: MsgHdrs, w: Waiter): void {
    const token = this.next++;
    this.waiting.set(token, w);
    this.outbox.push(outgoing(subject, data, headers, token));
    if (this.outbox.length >= OUTBOX_MAX) this.flush();
    else if (this.outbox.length === 1) atTurnEnd(this.flush);
  }

  /** Sends what is queued; a connection that cannot send (closed) fails those messages. */
  private readonly flush = (): void => {
    const batch = this.outbox;
    if (!batch.length) return;
    this.outbox = [];
    try {
      this.start();
    } catch (err) {
      for (const o of batch) this.failToken(o.token, err as Error);
      return;
    }
    for (const o of batch) {
      try {
        this.nc.publish(o.subject, o.data, {
          reply: this.prefix + o.token.toString(36),
          headers: o.headers,
        });
      } catch (err) {
        this.failToken(o.token, err as Error);
      }
    }
  };

  private failToken(token: number, err: Error): void {
    const w = this.waiting.get(token);
    if (!w) return;
    this.waiting.delete(token);
    this.fail(w, err);
  }

  private start(): void {
    if (this.sub && !this.sub.isClosed()) return;
    this.sub = this.nc.subscribe(`${this.prefix}*`, {
      callback: (err, m) => {
        if (!err) this.settle(m);
      },
    });
    const every = Math.min(SWEEP_MS, this.timeoutMs);
    // Sent at least timeoutMs ago (ticks count whole sweeps).
    const late = Math.ceil(this.timeoutMs / every);
    this.sweep ??= setInterval(() => {
      this.tick++;
      for (const [token, w] of this.waiting) {
        if (this.tick - w.tick > late) {
          this.waiting.delete(token);
          this.fail(
            w,
            new Error(`no JetStream acknowledgement for ${w.subject} within ${this.timeoutMs} ms`),
          );
        }
      }
    }, every);
    Deno.unrefTimer(this.sweep);
  }

  private settle(m: Msg): void {
    const token = parseInt(m.subject.slice(this.prefix.length), 36);
    const w = this.waiting.get(token);
    if (!w) return;
    this.waiting.delete(token);
    if (isNoStream(m)) {
      this.fail(w, new NoStreamError(w.subject));
      return;
    }
    const text = ackText(m.data);
    if (w.done) {
      // A callback reads no sequence number: a plain success needs no JSON.parse.
      const duplicate = plainSuccess(text);
      if (duplicate !== undefined) {
        w.done(w.tag, undefined, duplicate);
        return;
      }
    }
    let ack: PublishAck;
    try {
      ack = parseAck(text, w.subject);
    } catch (err) {
      this.fail(w, err as Error);
      return;
    }
    if (w.done) w.done(w.tag, undefined, ack.duplicate);
    else w.resolve!(ack);
  }
}
