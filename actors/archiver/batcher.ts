/**
 * Gathers items handed in one by one (one per message in flight) into batches
 * and writes each batch at once: at most `maxConcurrent` batches are written at
 * a time, and each caller's promise settles when its batch has committed — so a
 * message is acknowledged only after its rows are durable.
 *
 * When a batch leaves: when it holds `maxBatch` items; else, while nothing is
 * being written, at the end of the current burst of work (`setImmediate`: once
 * the current task and its microtasks have run — the messages of one network
 * read are handed in together), since waiting would only add latency (not
 * `setTimeout(0)`, which Deno fires ~2 ms later: a latency paid at every stage
 * that batches, measured in docs/performance.md); while batches are being written, when the last of
 * them has committed or `lingerMs` after its first item, whichever comes first
 * — the items that came meanwhile go together (group commit), so a busy writer
 * still writes large batches. Set `lingerWhenIdle` to wait `lingerMs` even when
 * nothing is being written (the fixed window of old).
 *
 * Failures: a transient error (the database away or restarting) holds the
 * batch and retries it with exponential back-off until it succeeds or the
 * batcher is closed — messages stay in flight (their ack wait kept alive by
 * the runtime) instead of burning delivery attempts. Any other error splits
 * the batch so that only the items that fail on their own are rejected.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";
import type { Logger } from "../../actors/runtime/log.ts";
import { backoff, describe } from "../../actors/runtime/middleware.ts";

/** Options of a {@link WriteBatcher}. */
export interface WriteBatcherOptions<T> {
  /** Writes a batch atomically; throws when nothing was written. */
  readonly write: (items: T[]) => Promise<void>;
  readonly maxBatch: number;
  /** Longest wait of a batch for more items while others are being written. */
  readonly lingerMs: number;
  /** Wait `lingerMs` even when nothing is being written (default false: leave at once). */
  readonly lingerWhenIdle?: boolean;
  readonly maxConcurrent: number;
  /** Errors worth waiting out (e.g. connection lost). */
  readonly isTransient: (err: unknown) => boolean;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly log?: Logger;
  /** Called after each committed batch. */
  readonly onBatch?: (size: number, ms: number) => void;
}

interface Entry<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Raised for items still waiting when the batcher is closed. */
export class BatcherClosedError extends Error {
  constructor() {
    super("the batch writer was closed before this item was written; it will be redelivered");
    this.name = "BatcherClosedError";
  }
}

/** A batching front of a writer. */
export class WriteBatcher<T> {
  #pending: Entry<T>[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The cut at the end of the current burst (idle writer). */
  #immediate: ReturnType<typeof setImmediate> | undefined;
  #queue: Entry<T>[][] = [];
  #running = 0;
  #closed = false;
  #wake = new Set<() => void>();

  constructor(private readonly options: WriteBatcherOptions<T>) {}

  /** Items waiting or being written. */
  get backlog(): number {
    return this.#pending.length + this.#queue.reduce((n, b) => n + b.length, 0);
  }

  /** Adds `item`; resolves once the batch holding it has been written. */
  add(item: T): Promise<void> {
    if (this.#closed) return Promise.reject(new BatcherClosedError());
    const p = new Promise<void>((resolve, reject) => this.#pending.push({ item, resolve, reject }));
    if (this.#pending.length >= this.options.maxBatch) this.#cut();
    else if (this.#timer === undefined && this.#immediate === undefined) {
      if (this.#running === 0 && !this.options.lingerWhenIdle) {
        this.#immediate = setImmediate(() => this.#cut());
      } else this.#timer = setTimeout(() => this.#cut(), this.options.lingerMs);
    }
    return p;
  }

  /** Rejects everything not yet written and stops retrying. */
  close(): void {
    this.#closed = true;
    this.#clearTimers();
    const err = new BatcherClosedError();
    for (const e of this.#pending) e.reject(err);
    for (const b of this.#queue) for (const e of b) e.reject(err);
    this.#pending = [];
    this.#queue = [];
    for (const w of this.#wake) w();
  }

  #clearTimers(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }

  #cut(): void {
    this.#clearTimers();
    while (this.#pending.length) this.#queue.push(this.#pending.splice(0, this.options.maxBatch));
    this.#pump();
  }

  #pump(): void {
    while (this.#running < this.options.maxConcurrent && this.#queue.length) {
      const batch = this.#queue.shift()!;
      this.#running++;
      this.#run(batch).finally(() => {
        this.#running--;
        // The last write committed: what gathered meanwhile goes now (it waited for it).
        if (
          this.#running === 0 && !this.#queue.length && this.#pending.length &&
          !this.#closed && !this.options.lingerWhenIdle
        ) this.#cut();
        else this.#pump();
      });
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#wake.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#wake.add(done);
    });
  }

  async #run(batch: Entry<T>[]): Promise<void> {
    const o = this.options;
    for (let attempt = 1;; attempt++) {
      const started = performance.now();
      try {
        await o.write(batch.map((e) => e.item));
        o.onBatch?.(batch.length, performance.now() - started);
        for (const e of batch) e.resolve();
        return;
      } catch (err) {
        if (this.#closed) {
          for (const e of batch) e.reject(err);
          return;
        }
        if (o.isTransient(err)) {
          const delay = backoff(attempt, o.retryBaseMs ?? 200, o.retryMaxMs ?? 5_000);
          if (attempt === 1 || attempt % 10 === 0) {
            o.log?.warn("database unavailable; holding the batch and retrying", {
              items: batch.length,
              attempt,
              retryInMs: delay,
              error: describe(err),
            });
          }
          await this.#sleep(delay);
          continue;
        }
        if (batch.length > 1) {
          o.log?.warn("batch write failed; writing its items one by one to isolate the bad one", {
            items: batch.length,
            error: describe(err),
          });
          for (const e of batch) await this.#run([e]);
          return;
        }
        batch[0].reject(err);
        return;
      }
    }
  }
}
