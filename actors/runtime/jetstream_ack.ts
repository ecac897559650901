/**
 * Reading JetStream's answer to a publish (the reply to a message sent with a
 * reply subject on a stream's subject): a PubAck (`{"stream":…,"seq":…}`, with
 * `"duplicate":true` when the stream already had the `Nats-Msg-Id`), an error
 * (`{"error":{…}}`), or the server's "no responders" status when no stream
 * captures the subject. {@link PipelinedPublisher} reads every acknowledgement
 * with these.
 *
 * @module
 */
import type { Msg } from "@nats-io/nats-core";
import type { PublishAck } from "./transport.ts";

const dec = new TextDecoder();

/**
 * The text of an acknowledgement's payload. Acknowledgements are short ASCII
 * JSON: up to 256 bytes are read as char codes, cheaper than a decoder call.
 */
export function ackText(data: Uint8Array): string {
  return data.byteLength <= 256
    ? String.fromCharCode.apply(null, data as unknown as number[])
    : dec.decode(data);
}

/** True when `m` is the server's answer that no stream captured the subject (503, no responders). */
export function isNoStream(m: Msg): boolean {
  return m.headers?.code === 503 || (m.data.length === 0 && m.headers?.hasError === true);
}

/** `"duplicate": true` as nats-server 2.x writes it (with a space), or as JSON encoders do. */
const DUPLICATE = /"duplicate":\s*true/;

/**
 * For a plain success (`{"stream":…}` without an error), whether it was a
 * duplicate; `undefined` for anything else, which {@link parseAck} must read.
 * Spares `JSON.parse` to callers that need no sequence number.
 */
export function plainSuccess(text: string): boolean | undefined {
  if (!text.startsWith('{"stream":') || text.includes('"error"')) return undefined;
  return text.includes('"duplicate"') && DUPLICATE.test(text);
}

/**
 * The acknowledgement in `text` of a publish on `subject`. Throws for a refusal
 * (the server's description and code in the message) and for text that is not
 * JSON.
 */
export function parseAck(text: string, subject: string): PublishAck {
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
