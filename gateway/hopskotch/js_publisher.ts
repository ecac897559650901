/**
 * Pipelined JetStream publishing for the inbound gateway's hot path: every
 * publish goes out on one connection with a reply subject under one inbox
 * subscription, and the stream's acknowledgements are matched back by token.
 * nats.js' `js.publish` does the same per message with its own inbox request,
 * timer and error objects, which costs more than the rest of the gateway's
 * work per record; this keeps the same semantics (PubAck or error, a timeout,
 * `Nats-Msg-Id` deduplication) at a fraction of the cost.
 *
 * On a transport other than NATS it falls back to `Transport.publish`.
 *
 * @module
 */
import {
  createInbox,
  headers as natsHeaders,
  type Msg,
  type Subscription,
} from "@nats-io/nats-core";
import { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import {
  MSG_ID_HEADER,
  NoStreamError,
  type PublishAck,
  type PublishOptions,
  type Transport,
} from "../../actors/runtime/transport.ts";

interface Waiter {
  resolve: (a: PublishAck) => void;
  reject: (e: Error) => void;
  subject: string;
  at: number;
}

const dec = new TextDecoder();

/** Publishes to JetStream with acknowledgements, many in flight on one connection. */
export interface StreamPublisher {
  publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PublishAck>;
  close(): void;
}

/** A {@link StreamPublisher} for `transport` (pipelined on NATS). */
export function streamPublisher(transport: Transport, timeoutMs = 10_000): StreamPublisher {
  if (!(transport instanceof NatsTransport)) {
    return { publish: (s, d, o) => transport.publish(s, d, o), close() {} };
  }
  const nc = transport.nc;
  const prefix = createInbox();
  const waiting = new Map<string, Waiter>();
  let next = 0;
  let sub: Subscription | undefined;
  const settle = (token: string, m: Msg) => {
    const w = waiting.get(token);
    if (!w) return;
    waiting.delete(token);
    if (m.headers?.code === 503 || (m.data.length === 0 && m.headers?.hasError)) {
      w.reject(new NoStreamError(w.subject));
      return;
    }
    try {
      const ack = JSON.parse(dec.decode(m.data));
      if (ack.error) {
        w.reject(
          new Error(
            `JetStream refused the publish on ${w.subject}: ${
              ack.error.description ?? JSON.stringify(ack.error)
            } (code ${ack.error.err_code ?? ack.error.code})`,
          ),
        );
      } else {
        w.resolve({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true });
      }
    } catch (err) {
      w.reject(new Error(`unreadable JetStream acknowledgement: ${(err as Error).message}`));
    }
  };
  const ensureSub = () => {
    if (sub && !sub.isClosed()) return;
    sub = nc.subscribe(`${prefix}.*`, {
      callback: (err, m) => {
        if (err) return;
        settle(m.subject.slice(prefix.length + 1), m);
      },
    });
  };
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [token, w] of waiting) {
      if (now - w.at > timeoutMs) {
        waiting.delete(token);
        w.reject(new Error(`no JetStream acknowledgement for ${w.subject} within ${timeoutMs} ms`));
      }
    }
  }, Math.min(1_000, timeoutMs));
  Deno.unrefTimer(sweep);
  return {
    publish(subject, data, options = {}) {
      ensureSub();
      const token = (next++).toString(36);
      const h = natsHeaders();
      for (const [k, v] of Object.entries(options.headers ?? {})) h.set(k, v);
      if (options.msgId) h.set(MSG_ID_HEADER, options.msgId);
      return new Promise<PublishAck>((resolve, reject) => {
        waiting.set(token, { resolve, reject, subject, at: Date.now() });
        try {
          nc.publish(subject, data, { reply: `${prefix}.${token}`, headers: h });
        } catch (err) {
          waiting.delete(token);
          reject(err as Error);
        }
      });
    },
    close() {
      clearInterval(sweep);
      sub?.unsubscribe();
      for (const w of waiting.values()) w.reject(new Error("publisher closed"));
      waiting.clear();
    },
  };
}
