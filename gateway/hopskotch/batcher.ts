/**
 * Groups records produced concurrently (one per NATS message in flight) into
 * one Kafka produce request per topic, and each caller's promise settles with
 * the whole batch's acknowledgement. A batch leaves when it holds `maxBatch`
 * records; else, while no produce request of its topic is waiting for Kafka, at
 * the end of the current burst of work (`setImmediate`: once the current task
 * and its microtasks have run; not `setTimeout(0)`, which Deno fires ~2 ms
 * later), since waiting would only add latency; while one is, when the last of them is acknowledged
 * or `lingerMs` after its first record, whichever comes first.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";
import type { GatewayMetrics } from "./metrics.ts";
import type { HopRecord, HopWriter } from "./writer.ts";

interface Pending {
  records: HopRecord[];
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
  timer?: ReturnType<typeof setTimeout>;
  /** The send at the end of the current burst (nothing of its topic waiting for Kafka). */
  immediate?: ReturnType<typeof setImmediate>;
}

/** A batching front of a {@link HopWriter}. */
export class ProduceBatcher {
  private readonly pending = new Map<string, Pending>();
  /** Produce requests of each topic waiting for Kafka's acknowledgement. */
  private readonly inFlight = new Map<string, number>();

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
      if (this.inFlight.get(topic)) {
        p.timer = setTimeout(() => this.flush(topic), this.options.lingerMs);
      } else p.immediate = setImmediate(() => this.flush(topic));
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
    if (p.immediate !== undefined) clearImmediate(p.immediate);
    const m = this.options.metrics;
    const end = m?.produceLatency.startTimer({ topic });
    this.inFlight.set(topic, (this.inFlight.get(topic) ?? 0) + 1);
    const settled = () => {
      const left = this.inFlight.get(topic)! - 1;
      if (left) this.inFlight.set(topic, left);
      else {
        this.inFlight.delete(topic);
        // The last request is acknowledged: what gathered meanwhile goes now.
        if (this.pending.has(topic)) this.flush(topic);
      }
    };
    this.writer.publish(topic, p.records).then(
      () => {
        end?.();
        m?.produced.inc({ topic }, p.records.length);
        for (const w of p.waiters) w.resolve();
        settled();
      },
      (err) => {
        for (const w of p.waiters) w.reject(err);
        settled();
      },
    );
  }

  /** Sends whatever waits now. */
  flushAll(): void {
    for (const topic of [...this.pending.keys()]) this.flush(topic);
  }
}
