/**
 * The inbound gateway's JetStream publisher: pipelined publishing as the
 * runtime's (`actors/runtime/nats_publisher.ts`: many publishes in flight on
 * one connection, acknowledgements matched back by reply token, a timeout, a
 * `Nats-Msg-Id` per message), specialised for a caller that sends tens of
 * thousands of messages a second with the same few headers:
 * - the headers arrive already encoded ({@link HeaderBlock}: the constant part
 *   built once per topic and format, only `Nats-Msg-Id` written per message,
 *   {@link writeHeaders}), where a `Record` of headers costs a nats.js
 *   `MsgHdrs` map, key canonicalisation and an encoding per message;
 * - {@link JetStreamPublisher.send} reports to a callback with a caller's tag
 *   (no promise, no closure per message), tokens are numbers, and an
 *   acknowledgement is read without `JSON.parse` when it is a plain success
 *   (`{"stream":…,"seq":…}`, `"duplicate":true` or not); anything else is
 *   parsed as the runtime does.
 *
 * @module
 */
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from "@nats-io/nats-core";
import { MSG_ID_HEADER, NoStreamError, type PublishAck } from "../../actors/runtime/transport.ts";
import { ByteSlab, writeUtf8 } from "./bytes.ts";

const encoder = new TextEncoder();

/**
 * Encoded NATS headers (`NATS/1.0` and `Key: value` lines) of the messages that
 * share them, less `Nats-Msg-Id`, which {@link JetStreamPublisher.publish} adds.
 */
export class HeaderBlock {
  /** The encoded lines, `NATS/1.0\r\n` first, each ending in CRLF, without the blank line. */
  readonly bytes: Uint8Array;

  constructor(headers: Readonly<Record<string, string>>) {
    let text = "NATS/1.0\r\n";
    for (const [k, v] of Object.entries(headers)) {
      if (!/^[!-9;-~]+$/.test(k) || /[\r\n]/.test(v)) {
        throw new Error(`invalid NATS header ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
      }
      text += `${k}: ${v}\r\n`;
    }
    this.bytes = encoder.encode(text);
  }
}

/**
 * The header section of one message: the lines of `block`, `Nats-Msg-Id: msgId`
 * and the blank line, written into a range of `slab`. Throws for a `msgId`
 * that is not one header line.
 */
export function writeHeaders(block: HeaderBlock, msgId: string, slab: ByteSlab): Uint8Array {
  if (/[\r\n]/.test(msgId)) throw new Error(`invalid Nats-Msg-Id ${JSON.stringify(msgId)}`);
  const line = `${MSG_ID_HEADER}: ${msgId}\r\n\r\n`;
  const fixed = block.bytes;
  const out = slab.take(fixed.byteLength + 3 * line.length);
  out.set(fixed, 0);
  return slab.keep(out, fixed.byteLength + writeUtf8(out, line, fixed.byteLength));
}

/**
 * What nats.js needs of a message's headers to publish it: their encoding
 * (`protocol.publish` calls `encode()` and nothing else).
 */
class EncodedHeaders {
  constructor(private readonly bytes: Uint8Array) {}
  encode(): Uint8Array {
    return this.bytes;
  }
}

/**
 * Called once per message sent with {@link JetStreamPublisher.send}: `err` when the
 * stream refused it, had no stream for it or did not answer in time; else
 * `duplicate` tells whether the stream already had its `Nats-Msg-Id`.
 */
export type AckCallback = (tag: number, err: Error | undefined, duplicate: boolean) => void;

/** A message waiting for its acknowledgement: a callback's, or a promise's. */
interface Waiter {
  readonly subject: string;
  /** The sweep tick it was sent in. */
  readonly tick: number;
  readonly tag: number;
  readonly done?: AckCallback;
  readonly resolve?: (ack: PublishAck) => void;
  readonly reject?: (err: Error) => void;
}

const dec = new TextDecoder();
const SWEEP_MS = 1_000;

/** The text of a short ASCII payload (an acknowledgement) without a decoder call. */
function shortText(b: Uint8Array): string {
  return b.byteLength <= 256
    ? String.fromCharCode.apply(null, b as unknown as number[])
    : dec.decode(b);
}

/** The acknowledgement in `text` as the runtime reads it; throws for a refusal. */
function parseAck(text: string, subject: string): PublishAck {
  let ack;
  try {
    ack = JSON.parse(text);
  } catch (err) {
    throw new Error(`unreadable JetStream acknowledgement: ${(err as Error).message}`);
  }
  if (ack.error) {
    throw new Error(
      `JetStream refused the publish on ${subject}: ${
        ack.error.description ?? JSON.stringify(ack.error)
      } (code ${ack.error.err_code ?? ack.error.code})`,
    );
  }
  return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true };
}

/** Publishes to JetStream with acknowledgements, many in flight on one connection. */
export class JetStreamPublisher {
  private readonly slab = new ByteSlab(256 * 1024);
  /** Under the connection's inbox prefix: an identity may only receive replies under its own. */
  private readonly prefix: string;
  private readonly waiting = new Map<number, Waiter>();
  private next = 0;
  private tick = 0;
  private sub?: Subscription;
  private sweep?: ReturnType<typeof setInterval>;

  constructor(private readonly nc: NatsConnection, private readonly timeoutMs = 10_000) {
    // NatsConnectionImpl keeps its options; the interface does not show them.
    const options = (nc as { options?: { inboxPrefix?: string } }).options;
    this.prefix = `${createInbox(options?.inboxPrefix)}.`;
  }

  /**
   * Stores `data` on `subject` with the headers of `block` and `Nats-Msg-Id: msgId`;
   * resolves with the stream's acknowledgement (`duplicate` when the stream
   * already had `msgId`), rejects when the stream refused it or did not answer.
   */
  publish(
    subject: string,
    data: Uint8Array,
    block: HeaderBlock,
    msgId: string,
  ): Promise<PublishAck> {
    let headers: Uint8Array;
    try {
      headers = writeHeaders(block, msgId, this.slab);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) =>
      this.emit(subject, data, headers, { subject, tick: this.tick, tag: 0, resolve, reject })
    );
  }

  /**
   * Sends `data` on `subject` with `headers` (a whole encoded header section,
   * {@link writeHeaders}); `done(tag, …)` is called once with the outcome.
   */
  send(
    subject: string,
    data: Uint8Array,
    headers: Uint8Array,
    done: AckCallback,
    tag: number,
  ): void {
    this.emit(subject, data, headers, { subject, tick: this.tick, tag, done });
  }

  /** Rejects what still waits and stops listening. */
  close(): void {
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

  private emit(subject: string, data: Uint8Array, headers: Uint8Array, w: Waiter): void {
    this.start();
    const token = this.next++;
    this.waiting.set(token, w);
    try {
      this.nc.publish(subject, data, {
        reply: this.prefix + token.toString(36),
        headers: new EncodedHeaders(headers) as unknown as MsgHdrs,
      });
    } catch (err) {
      this.waiting.delete(token);
      this.fail(w, err as Error);
    }
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
    const data = m.data;
    if (m.headers?.code === 503 || (data.length === 0 && m.headers?.hasError)) {
      this.fail(w, new NoStreamError(w.subject));
      return;
    }
    const text = shortText(data);
    if (w.done && text.startsWith('{"stream":') && !text.includes('"error"')) {
      // A plain success: only `duplicate` matters to a callback (seq is not read back).
      w.done(w.tag, undefined, text.includes('"duplicate":true'));
      return;
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
