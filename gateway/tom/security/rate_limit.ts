/**
 * Rate limiting by token bucket: each key (a token's `sub`, or a client
 * address) has a bucket of `burst` tokens refilled at `perSecond`; a request
 * takes one, and with none left it is refused with `429`, `Retry-After` (whole
 * seconds until a token is back) and a JSON body saying so.
 *
 * The buckets live in this process's memory: with N replicas behind a load
 * balancer a caller gets up to N × the configured rate (divide the rate by the
 * replica count, or use sticky sessions). Memory is bounded: at most
 * `maxKeys` buckets, full ones are dropped first (a full bucket is the same as
 * no bucket).
 *
 * Hand-written rather than a library's: the maintained Hono/Node limiters
 * (hono-rate-limiter, rate-limiter-flexible) count fixed windows, which let a
 * caller send twice the limit across a window edge and cannot express a burst
 * separately from a sustained rate; a token bucket is a few lines.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";

/** A bucket's shape. */
export interface BucketSpec {
  /** Requests at once (bucket size). */
  readonly burst: number;
  /** Tokens added per second. */
  readonly perSecond: number;
}

/** What {@link TokenBuckets.take} decided. */
export interface Take {
  readonly ok: boolean;
  /** Tokens left (whole). */
  readonly remaining: number;
  /** When refused: seconds until one token is back (at least 1). */
  readonly retryAfterS: number;
}

/** Keyed token buckets. */
export class TokenBuckets {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    readonly spec: BucketSpec,
    readonly options: { now?: () => number; maxKeys?: number } = {},
  ) {
    if (!(spec.burst >= 1) || !(spec.perSecond > 0)) {
      throw new Error(`rate limit needs burst ≥ 1 and perSecond > 0, got ${JSON.stringify(spec)}`);
    }
  }

  /** Buckets held now. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token of `key`'s bucket. */
  take(key: string): Take {
    const now = this.options.now ? this.options.now() : performance.now();
    const { burst, perSecond } = this.spec;
    const b = this.#buckets.get(key);
    let tokens = b ? Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond) : burst;
    if (tokens < 1) {
      if (b) {
        b.tokens = tokens;
        b.at = now;
      }
      return {
        ok: false,
        remaining: 0,
        retryAfterS: Math.max(1, Math.ceil((1 - tokens) / perSecond)),
      };
    }
    tokens -= 1;
    if (b) {
      // Re-insert: the map's order is then least recently used first.
      this.#buckets.delete(key);
    } else if (this.#buckets.size >= (this.options.maxKeys ?? 100_000)) {
      this.#evict(now);
    }
    this.#buckets.set(key, { tokens, at: now });
    return { ok: true, remaining: Math.floor(tokens), retryAfterS: 0 };
  }

  #evict(now: number): void {
    const { burst, perSecond } = this.spec;
    for (const [k, v] of this.#buckets) {
      if (v.tokens + ((now - v.at) / 1000) * perSecond >= burst) this.#buckets.delete(k);
    }
    // Still full of busy callers: drop the least recently used tenth.
    if (this.#buckets.size >= (this.options.maxKeys ?? 100_000)) {
      let n = Math.ceil(this.#buckets.size / 10);
      for (const k of this.#buckets.keys()) {
        if (n-- <= 0) break;
        this.#buckets.delete(k);
      }
    }
  }
}

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  readonly buckets: TokenBuckets;
  /** The key of a request; undefined: not limited here. */
  readonly key: (c: Context) => string | undefined;
  /** What is limited, for the message ("token", "client address"). */
  readonly what: string;
  /** Called on each refusal (metrics, logs). */
  readonly onLimited?: (c: Context, key: string) => void;
}

/** Refuses (429) requests whose bucket is empty. */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler {
  const { burst, perSecond } = options.buckets.spec;
  return async (c, next) => {
    const key = options.key(c);
    if (key === undefined) return await next();
    const t = options.buckets.take(key);
    if (!t.ok) {
      options.onLimited?.(c, key);
      c.header("Retry-After", String(t.retryAfterS));
      c.header("RateLimit-Limit", String(burst));
      c.header("RateLimit-Remaining", "0");
      return c.json({
        error: "rate_limited",
        message: `too many requests for this ${options.what} (burst ${burst}, ` +
          `${perSecond}/s sustained): wait ${t.retryAfterS} s (Retry-After) and slow down`,
        retry_after_s: t.retryAfterS,
      }, 429);
    }
    await next();
    // Two limits on one request (address, token): report the tighter one.
    const prev = c.res.headers.get("RateLimit-Remaining");
    if (prev === null || Number(prev) > t.remaining) {
      c.res.headers.set("RateLimit-Limit", String(burst));
      c.res.headers.set("RateLimit-Remaining", String(t.remaining));
    }
  };
}
