/**
 * Keeps batches that share a key in the order they started: with several
 * batches decided at once (`KB_RESULTS_WRITERS` > 1), a batch waits for every
 * earlier running batch holding one of its (candidate, model) pairs, so results
 * of one candidate are still decided in arrival order; batches with no pair in
 * common run side by side.
 *
 * @module
 */

interface Running {
  readonly keys: ReadonlySet<string>;
  readonly done: Promise<void>;
}

/** Orders overlapping runs by their start. */
export class KeyOrder {
  #running: Running[] = [];

  /** Batches running or waiting. */
  get size(): number {
    return this.#running.length;
  }

  /**
   * Runs `fn` once every earlier run sharing a key with `keys` has settled.
   * Runs are ordered by the call of `run`, so call it in the order batches
   * should be decided.
   */
  async run<T>(keys: Iterable<string>, fn: () => Promise<T>): Promise<T> {
    const mine = new Set(keys);
    const before = this.#running.filter((r) => [...mine].some((k) => r.keys.has(k)));
    let settle!: () => void;
    const entry: Running = { keys: mine, done: new Promise<void>((r) => settle = r) };
    this.#running.push(entry);
    try {
      // An earlier run's failure is its own caller's: here it only means "settled".
      await Promise.all(before.map((r) => r.done));
      return await fn();
    } finally {
      this.#running.splice(this.#running.indexOf(entry), 1);
      settle();
    }
  }
}
