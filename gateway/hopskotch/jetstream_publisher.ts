/**
 * The inbound gateway's JetStream publisher: the runtime's pipelined publishing
 * (`actors/runtime/nats_publisher.ts`: many publishes in flight on one
 * connection, acknowledgements matched back by reply token, a timeout, a
 * `Nats-Msg-Id` per message) for a caller that sends tens of thousands of
 * messages a second with the same few headers. The headers arrive already
 * encoded ({@link HeaderBlock}: the constant part built once per topic and
 * format, only `Nats-Msg-Id` written per message), where a `Record` of headers
 * costs a nats.js `MsgHdrs` map, key canonicalisation and an encoding per message.
 *
 * @module
 */
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { PipelinedPublisher } from "../../actors/runtime/nats_publisher.ts";
import { MSG_ID_HEADER, type PublishAck } from "../../actors/runtime/transport.ts";
import { ByteSlab } from "./bytes.ts";

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
 * What nats.js needs of a message's headers to publish it: their encoding
 * (`protocol.publish` calls `encode()` and nothing else).
 */
class EncodedHeaders {
  constructor(private readonly bytes: Uint8Array) {}
  encode(): Uint8Array {
    return this.bytes;
  }
}

/** Publishes to JetStream with acknowledgements, many in flight on one connection. */
export class JetStreamPublisher {
  private readonly inner: PipelinedPublisher;
  private readonly slab = new ByteSlab(256 * 1024);

  constructor(nc: NatsConnection, timeoutMs = 10_000) {
    this.inner = new PipelinedPublisher(nc, timeoutMs);
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
    const line = `${MSG_ID_HEADER}: ${msgId}\r\n\r\n`;
    const fixed = block.bytes;
    const out = this.slab.take(fixed.byteLength + 3 * line.length);
    out.set(fixed, 0);
    const { read, written } = encoder.encodeInto(line, out.subarray(fixed.byteLength));
    if (read !== line.length || /[\r\n]/.test(msgId)) {
      return Promise.reject(new Error(`invalid Nats-Msg-Id ${JSON.stringify(msgId)}`));
    }
    const headers = new EncodedHeaders(this.slab.keep(out, fixed.byteLength + written));
    return this.inner.publishWithHeaders(subject, data, headers as unknown as MsgHdrs);
  }

  /** Rejects what still waits and stops listening. */
  close(): void {
    this.inner.close();
  }
}
