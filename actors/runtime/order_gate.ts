/**
 * Ordering keys: lets a replica handle many messages at once while messages
 * that share a key are handled strictly one after another, in the order they
 * entered the gate (the runner enters them in delivery order).
 *
 * - A string key: waits for the messages of the same key that entered before
 *   it; other keys run concurrently.
 * - {@link ORDER_BARRIER}: waits until every message that entered before it
 *   has left, runs alone, and every message that enters after it waits for it
 *   (e.g. an event that changes what later messages of every key must see).
 * - No key (`undefined`): runs at once, ordered with nothing — except that it
 *   still waits behind a pending barrier.
 *
 * Cost when uncontended: one map look-up, insert and delete per message and
 * no promise (`enter` returns `undefined`: go on synchronously).
 *
 * @module
 */

/** The key that orders a message against every other one (see {@link OrderGate}). */
export const ORDER_BARRIER: unique symbol = Symbol("kb.order-barrier");

/** What an actor's `orderKey` returns: a key, the barrier, or nothing (unordered). */
export type OrderKey = string | typeof ORDER_BARRIER | undefined;

interface Held {
  readonly key: OrderKey;
  readonly go: () => void;
}

/** Per-key FIFO admission of messages, with barriers. Single-threaded (one replica's event loop). */
export class OrderGate {
  /** Busy keys → who waits for them (null: busy, nobody waiting yet). */
  readonly #keys = new Map<string, (() => void)[] | null>();
  /** Messages admitted and not yet left (running or waiting for their key). */
  #active = 0;
  /** Set from the moment a barrier enters until it leaves: what entered after it, in order. */
  #held: Held[] | undefined;
  /** Starts the pending barrier once `#active` reaches 0. */
  #barrierReady: (() => void) | undefined;

  /** Keys with work admitted (running or queued), for tests and diagnostics. */
  get busyKeys(): number {
    return this.#keys.size;
  }

  /** Messages waiting for their turn (behind their key or a barrier). */
  get waiting(): number {
    let n = this.#held?.length ?? 0;
    for (const q of this.#keys.values()) n += q?.length ?? 0;
    return n + (this.#barrierReady ? 1 : 0);
  }

  /**
   * Enters a message. Returns `undefined` when it may run now, else a promise
   * that resolves when its turn comes. Every entered message must
   * {@link leave} with the same key exactly once, after it has run.
   */
  enter(key: OrderKey): Promise<void> | undefined {
    if (this.#held !== undefined) {
      return new Promise<void>((go) => this.#held!.push({ key, go }));
    }
    return this.#admit(key);
  }

  /** Marks a message done: the next of its key (or a waiting barrier, or what a barrier held) may run. */
  leave(key: OrderKey): void {
    if (key === ORDER_BARRIER) {
      this.#releaseHeld();
      return;
    }
    if (key !== undefined) {
      const q = this.#keys.get(key);
      if (q) {
        const next = q.shift();
        if (next) {
          if (!q.length) this.#keys.set(key, null);
          this.#active--;
          next();
          this.#barrierCheck();
          return;
        }
      }
      this.#keys.delete(key);
    }
    this.#active--;
    this.#barrierCheck();
  }

  #barrierCheck(): void {
    if (this.#active === 0 && this.#barrierReady) {
      const go = this.#barrierReady;
      this.#barrierReady = undefined;
      go();
    }
  }

  /** Admits a message when no barrier is pending; `undefined` = runs now. */
  #admit(key: OrderKey): Promise<void> | undefined {
    if (key === ORDER_BARRIER) {
      this.#held = [];
      if (this.#active === 0) return undefined;
      return new Promise<void>((go) => (this.#barrierReady = go));
    }
    this.#active++;
    if (key === undefined) return undefined;
    const q = this.#keys.get(key);
    if (q === undefined) {
      this.#keys.set(key, null);
      return undefined;
    }
    return new Promise<void>((go) => {
      if (q === null) this.#keys.set(key, [go]);
      else q.push(go);
    });
  }

  /** A barrier left: admits what it held, in order, until the next barrier among them. */
  #releaseHeld(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (let i = 0; i < held.length; i++) {
      const { key, go } = held[i];
      const pending = this.#held as Held[] | undefined;
      if (pending !== undefined) {
        // A barrier among the held ones is pending again: the rest stay behind it.
        pending.push(...held.slice(i));
        return;
      }
      const admitted = this.#admit(key);
      if (admitted === undefined) go();
      else admitted.then(go);
    }
  }
}
