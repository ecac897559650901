/**
 * Groups records produced concurrently (one per NATS message in flight) into
 * one Kafka produce request per topic: a batch leaves when it holds `maxBatch`
 * records or `lingerMs` after its first record, and each caller's promise
 * settles with the whole batch's acknowledgement.
 *
 * @module
 */
import type { GatewayMetrics } from "./metrics.ts";
import type { HopRecord, HopWriter } from "./writer.ts";

interface Pending {
  records: HopRecord[];
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
  timer?: ReturnType<typeof setTimeout>;
}

/** A batching front of a {@link HopWriter}. */
export class ProduceBatcher {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly writer: HopWriter,
    private readonly options: { lingerMs: number; maxBatch: number; metrics?: GatewayMetrics },
  ) {}

  /** Produces `record` to `topic`; resolves once Kafka acknowledged it. */
  send(topic: string, record: HopRecord): Promise<void> {
    let p = this.pending.get(topic);
    if (!p) {
      p = { records: [], waiters: [] };
      this.pending.set(topic, p);
      p.timer = setTimeout(() => this.flush(topic), this.options.lingerMs);
    }
    const promise = new Promise<void>((resolve, reject) => p!.waiters.push({ resolve, reject }));
    p.records.push(record);
    if (p.records.length >= this.options.maxBatch) this.flush(topic);
    return promise;
  }

  private flush(topic: string): void {
    const p = this.pending.get(topic);
    if (!p) return;
    this.pending.delete(topic);
    clearTimeout(p.timer);
    const m = this.options.metrics;
    const end = m?.produceLatency.startTimer({ topic });
    this.writer.publish(topic, p.records).then(
      () => {
        end?.();
        m?.produced.inc({ topic }, p.records.length);
        for (const w of p.waiters) w.resolve();
      },
      (err) => {
        for (const w of p.waiters) w.reject(err);
      },
    );
  }

  /** Sends whatever waits now. */
  flushAll(): void {
    for (const topic of [...this.pending.keys()]) this.flush(topic);
  }
}
