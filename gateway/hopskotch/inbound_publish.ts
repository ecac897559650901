/**
 * The inbound gateway's publishing side: stores the messages of an
 * {@link EncodedChunk} on JetStream, all in flight at once on the one
 * connection (the server stores them in order), retrying each until it is
 * acknowledged, and counts what was stored. It runs on the main thread, which
 * owns the NATS connection, the metrics and the logs, whichever thread encoded
 * the chunk. A chunk's promise resolves only once every message of it is
 * acknowledged: only then may its offsets be committed.
 *
 * @module
 */
import type { Logger } from "../../actors/runtime/log.ts";
import { backoff, describe } from "../../actors/runtime/middleware.ts";
import type { Transport } from "../../actors/runtime/transport.ts";
import { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import { PipelinedPublisher } from "../../actors/runtime/nats_publisher.ts";
import { type EncodedChunk, envelopeHeaderFields, L, LAYOUT_FIELDS } from "./inbound_chunk.ts";
import type { GatewayMetrics } from "./metrics.ts";

/** Live counters of the inbound gateway. */
export interface InboundStats {
  consumed: number;
  published: number;
  duplicates: number;
  deadLettered: number;
  testSkipped: number;
  topics: string[];
  waitingFor: string[];
}

/** What {@link chunkPublisher} needs. */
export interface ChunkPublisherOptions {
  readonly transport: Transport;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly stats: InboundStats;
  /** True once the gateway stops: failed publishes are not retried any more. */
  readonly stopping: () => boolean;
}

/** Stores encoded chunks on JetStream. */
export interface ChunkPublisher {
  /** Resolves once every message of `chunk` is acknowledged (rejects only when stopping). */
  publish(chunk: EncodedChunk): Promise<void>;
  /** Rejects what still waits. */
  close(): void;
}

/** A publisher of encoded chunks on `options.transport`. */
export function chunkPublisher(options: ChunkPublisherOptions): ChunkPublisher {
  const { transport, metrics, log, stats } = options;
  // On NATS, envelopes go out through a publisher of their own with their headers as
  // encoded; dead letters (and everything on other transports) through the transport.
  const envelopes = transport instanceof NatsTransport
    ? new PipelinedPublisher(transport.nc)
    : undefined;

  return {
    async publish(chunk) {
      const { topic, layout, strings, msgIds } = chunk;
      metrics.consumed.inc({ topic }, chunk.records);
      stats.consumed += chunk.records;
      if (chunk.testSkipped) {
        metrics.testSkipped.inc({ topic }, chunk.testSkipped);
        stats.testSkipped += chunk.testSkipped;
      }
      const views = chunk.buffers.map((b) => new Uint8Array(b));
      const notes = new Map(chunk.deadLetters.map((d) => [d.index, d]));
      const count = layout.length / LAYOUT_FIELDS;
      /** Per message: 0 waiting, 1 stored, 2 duplicate. */
      const outcome = new Uint8Array(count);
      let left = count;
      let finish!: () => void;
      let abort!: (err: unknown) => void;
      const all = new Promise<void>((resolve, reject) => {
        finish = resolve;
        abort = reject;
      });
      let failed = false;

      const dataOf = (i: number) => {
        const at = i * LAYOUT_FIELDS;
        const offset = layout[at + L.dataOffset];
        return views[layout[at + L.buffer]].subarray(offset, offset + layout[at + L.dataLength]);
      };
      /** One attempt at message `i`; the outcome goes to `acked`. */
      const attempt = (i: number) => {
        const at = i * LAYOUT_FIELDS;
        const subject = strings[layout[at + L.subject]];
        const data = dataOf(i);
        const headerLength = layout[at + L.headerLength];
        if (envelopes && headerLength >= 0) {
          const h = layout[at + L.headerOffset];
          const view = views[layout[at + L.buffer]];
          envelopes.send(subject, data, view.subarray(h, h + headerLength), acked, i);
          return;
        }
        const fields = notes.get(i)?.fields ??
          envelopeHeaderFields(topic, strings[layout[at + L.format]]);
        transport.publish(subject, data, { msgId: msgIds[i], headers: fields }).then(
          (ack) => acked(i, undefined, ack.duplicate),
          (err) => acked(i, err, false),
        );
      };
      const tries = new Map<number, number>();
      const acked = (i: number, err: Error | undefined, duplicate: boolean) => {
        if (failed || outcome[i]) return; // given up, or already stored
        if (err) {
          const n = (tries.get(i) ?? 0) + 1;
          tries.set(i, n);
          if (options.stopping()) {
            failed = true;
            abort(err);
            return;
          }
          retryLater(i, n, err);
          return;
        }
        outcome[i] = duplicate ? 2 : 1;
        if (--left === 0) finish();
      };
      /** Sends message `i` again after a back-off (NATS away or slow). */
      const retryLater = (i: number, attemptNo: number, err: unknown) => {
        const subject = strings[layout[i * LAYOUT_FIELDS + L.subject]];
        metrics.publishRetries.inc({ topic });
        const delay = backoff(attemptNo, 200, 5_000);
        if (attemptNo === 1 || attemptNo % 10 === 0) {
          log.warn("NATS publish failed; retrying", {
            subject,
            msgId: msgIds[i],
            attempt: attemptNo,
            retryInMs: delay,
            error: describe(err),
          });
        }
        setTimeout(() => {
          if (failed) return;
          if (options.stopping()) {
            failed = true;
            abort(err);
            return;
          }
          attempt(i);
        }, delay);
      };

      if (count === 0) finish();
      for (let i = 0; i < count; i++) attempt(i);
      await all;
      const published = new Map<number, number>();
      let duplicates = 0;
      for (let i = 0; i < count; i++) {
        if (layout[i * LAYOUT_FIELDS + L.headerLength] < 0) continue; // a dead letter
        if (outcome[i] === 2) duplicates++;
        else {
          const s = layout[i * LAYOUT_FIELDS + L.subject];
          published.set(s, (published.get(s) ?? 0) + 1);
        }
      }
      if (duplicates) {
        metrics.duplicates.inc({ topic }, duplicates);
        stats.duplicates += duplicates;
      }
      for (const [s, n] of published) {
        metrics.published.inc({ topic, subject: strings[s] }, n);
        stats.published += n;
      }
      for (const d of chunk.deadLetters) {
        metrics.deadLettered.inc({ topic, reason: d.reason });
        stats.deadLettered++;
        log.warn("record dead-lettered", {
          topic,
          partition: d.partition,
          offset: d.offset,
          reason: d.reason,
          detail: d.detail,
        });
      }
    },
    close: () => envelopes?.close(),
  };
}
