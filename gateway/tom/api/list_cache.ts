/**
 * A short-lived cache of `/api/targets/` list and cone-search responses (issue
 * 8): a repeated request — same caller scope, same URL — within `ttlMs` gets
 * the bytes of the previous answer without a database query.
 *
 * Freshness: every write to `tom_targets` or `tom_target_names`, from any
 * replica, the broker module or by hand, commits a PostgreSQL notification on
 * {@link TARGETS_CHANGED_CHANNEL} (migration 0106) and every TOM listening
 * empties its cache when it arrives (milliseconds after the commit); this
 * replica's own API writes empty it before they answer, so a client reads its
 * own writes. A response is never older than `ttlMs` even when notifications
 * are lost (the listening connection down): the TTL is the bound, the
 * notifications make the usual staleness the notification latency. A read
 * that started before an invalidation is not stored (generation check), so it
 * cannot put an older answer back after the invalidation.
 *
 * Scope: the key is the caller's subject, groups and admin flag (they decide
 * which PRIVATE targets are visible) with the full request URL (the links in
 * the body are absolute). Memory: at most `maxEntries` bodies, oldest dropped.
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import type { Principal } from "../auth/roles.ts";

/** The channel migration 0106's triggers notify on. */
export const TARGETS_CHANGED_CHANNEL = "tom_targets_changed";

/** Options of {@link ListCache}. */
export interface ListCacheOptions {
  /** Longest time a body is served from the cache, ms; 0 turns the cache off. */
  readonly ttlMs: number;
  /** Bodies kept at most (default 500: ~12 MB of 50-target pages). */
  readonly maxEntries?: number;
  /** Clock, ms (tests). */
  readonly now?: () => number;
  /**
   * The generation counter shared by the serving threads of one TOM process
   * (an `Int32Array` of length ≥ 1 over a `SharedArrayBuffer`, see
   * serve_threads.ts): an invalidation in any thread — a write through its API,
   * a notification heard by the listening thread — empties every thread's
   * cache before its next answer. Default: a counter of this cache alone.
   */
  readonly sharedGeneration?: Int32Array<SharedArrayBuffer>;
}

/** The cache; see the module documentation. */
export class ListCache {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { body: Uint8Array<ArrayBuffer>; expires: number }>();
  /** The generation counter (slot 0); shared between threads when given. */
  readonly #gen: Int32Array<ArrayBufferLike>;
  /** The generation the held entries were stored under. */
  #held = 0;
  /** Counters (the bench prints them). */
  readonly stats = { hits: 0, misses: 0, invalidations: 0 };

  constructor(options: ListCacheOptions) {
    if (!(options.ttlMs >= 0)) throw new RangeError(`ttlMs ${options.ttlMs} must be ≥ 0`);
    this.#ttlMs = options.ttlMs;
    this.#max = options.maxEntries ?? 500;
    this.#now = options.now ?? Date.now;
    this.#gen = options.sharedGeneration ?? new Int32Array(1);
    this.#held = Atomics.load(this.#gen, 0);
  }

  #off = false;

  /** False when configured off (ttlMs 0) or turned off by {@link disable}. */
  get enabled(): boolean {
    return this.#ttlMs > 0 && !this.#off;
  }

  /** Turns the cache off for good (no way to hear of other writers' changes). */
  disable(): void {
    this.#off = true;
    this.invalidate();
  }

  /** The key of a request: the caller's visibility scope and the URL. */
  key(p: Principal, url: string): string {
    const admin = p.roles.includes("admin");
    return `${
      admin ? "admin" : `${p.subject}\u0000${[...p.groups].sort().join("\u0000")}`
    }\n${url}`;
  }

  /** A fresh body for `key`, or undefined. */
  get(key: string): Uint8Array<ArrayBuffer> | undefined {
    if (!this.enabled) return undefined;
    this.#forgetStale();
    const e = this.#entries.get(key);
    if (e && e.expires > this.#now()) {
      this.stats.hits++;
      return e.body;
    }
    if (e) this.#entries.delete(key);
    this.stats.misses++;
    return undefined;
  }

  /** The generation to hand to {@link put}: take it before reading the database. */
  generation(): number {
    return Atomics.load(this.#gen, 0);
  }

  /** Drops the entries of an older generation (an invalidation in another thread). */
  #forgetStale(): void {
    const g = Atomics.load(this.#gen, 0);
    if (g !== this.#held) {
      this.#entries.clear();
      this.#held = g;
    }
  }

  /** Stores `body` unless an invalidation happened since `generation` was taken. */
  put(key: string, body: Uint8Array<ArrayBuffer>, generation: number): void {
    if (!this.enabled || generation !== this.generation()) return;
    this.#forgetStale();
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { body, expires: this.#now() + this.#ttlMs });
  }

  /** Forgets every body (a target changed somewhere). */
  invalidate(): void {
    this.#held = Atomics.add(this.#gen, 0, 1) + 1;
    this.stats.invalidations++;
    this.#entries.clear();
  }

  /** Bodies held. */
  get size(): number {
    this.#forgetStale();
    return this.#entries.size;
  }
}

/**
 * Empties `cache` on every notification of {@link TARGETS_CHANGED_CHANNEL}, and
 * when the listening connection is (re)established (notifications sent while
 * it was down are lost). Then sends itself a notification: when it does not
 * come back within `probeTimeoutMs` (a server that does not deliver them, such
 * as the embedded PGlite), other writers' changes would go unseen for a whole
 * TTL, so the cache is turned off ({@link ListCache.disable}) and `live` is false.
 */
export async function listenForTargetChanges(
  sql: Sql,
  cache: ListCache,
  probeTimeoutMs = 2_000,
): Promise<{ live: boolean; unlisten: () => Promise<void> }> {
  const probe = `probe-${crypto.randomUUID()}`;
  let heard: (() => void) | undefined;
  const { unlisten } = await sql.listen(
    TARGETS_CHANGED_CHANNEL,
    (payload) => {
      cache.invalidate();
      if (payload === probe) heard?.();
    },
    () => cache.invalidate(),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const live = await Promise.race([
    new Promise<boolean>((resolve) => (heard = () => resolve(true))),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), probeTimeoutMs))),
    sql.notify(TARGETS_CHANGED_CHANNEL, probe).then(() => new Promise<boolean>(() => {})),
  ]).finally(() => clearTimeout(timer));
  if (!live) cache.disable();
  return { live, unlisten };
}
