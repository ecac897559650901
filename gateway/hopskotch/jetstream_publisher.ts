/**
 * The inbound gateway's side of JetStream publishing: the header sections of
 * its messages, encoded where the records are (the Kafka side, possibly in a
 * worker). The constant part of a topic's and format's headers is built once
 * ({@link HeaderBlock}); per message only `Nats-Msg-Id` is written, into a
 * slab range ({@link writeHeaders}), where a `Record` of headers would cost a
 * nats.js `MsgHdrs` map, key canonicalisation and an encoding per message.
 * The sections are sent with the runtime's publisher
 * (`PipelinedPublisher.send`, `actors/runtime/nats_publisher.ts`), which
 * pipelines the publishes and reads the acknowledgements.
 *
 * @module
 */
import { MSG_ID_HEADER } from "../../actors/runtime/transport.ts";
import { ByteSlab, writeUtf8 } from "./bytes.ts";

const encoder = new TextEncoder();

/**
 * Encoded NATS headers (`NATS/1.0` and `Key: value` lines) of the messages that
 * share them, less `Nats-Msg-Id`, which {@link writeHeaders} adds per message.
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
