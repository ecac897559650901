/**
 * Mounts the hardening on the API app, in this order for every request:
 * request id → client address → security headers (all paths) → strict CORS →
 * rate limit per client address → body size limit (`/api/*`) → [bearer auth,
 * mounted by the app] → rate limit per token (`/api/*`, {@link HardenedApi.afterAuth}).
 *
 * @module
 */
import type { Hono, MiddlewareHandler } from "hono";
import { requestId } from "hono/request-id";
import type { Principal } from "../auth/roles.ts";
import { requestBodyLimit } from "./body_limit.ts";
import { clientIp } from "./client_ip.ts";
import { strictCors } from "./cors.ts";
import { hashedScriptCsp, securityHeaders } from "./headers.ts";
import { type BucketSpec, rateLimit, TokenBuckets } from "./rate_limit.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The caller's address (see client_ip.ts). */
    clientIp: string;
  }
}

/** The hardening's settings (from the KB_TOM_* variables of config.ts). */
export interface HardeningOptions {
  readonly corsOrigins: readonly string[];
  /** Off: no rate limiting at all. */
  readonly rateLimit: boolean;
  readonly perToken: BucketSpec;
  readonly perIp: BucketSpec;
  readonly maxBodyBytes: number;
  readonly hsts: "auto" | "on" | "off";
  readonly trustProxyHops: number;
  /** Paths with a body limit of their own (e.g. /api/classify). */
  readonly bodyLimitExempt?: (path: string) => boolean;
  /** Clock of the buckets, ms (tests). */
  readonly now?: () => number;
}

/** Defaults (the variables' defaults). */
export const DEFAULT_HARDENING: HardeningOptions = {
  corsOrigins: [],
  rateLimit: true,
  perToken: { burst: 300, perSecond: 50 },
  perIp: { burst: 600, perSecond: 100 },
  maxBodyBytes: 1 << 20,
  hsts: "auto",
  trustProxyHops: 0,
};

/** The hardening variables as options; `publicUrl` https forces HSTS in `auto`. */
export function hardeningOf(
  config: {
    KB_TOM_CORS_ORIGINS: string[];
    KB_TOM_RATE_LIMIT: boolean;
    KB_TOM_RATE_LIMIT_BURST: number;
    KB_TOM_RATE_LIMIT_PER_S: number;
    KB_TOM_RATE_LIMIT_IP_BURST: number;
    KB_TOM_RATE_LIMIT_IP_PER_S: number;
    KB_TOM_MAX_BODY_BYTES: number;
    KB_TOM_HSTS: "auto" | "on" | "off";
    KB_TOM_TRUST_PROXY_HOPS: number;
  },
  publicUrl?: string,
): HardeningOptions {
  return {
    corsOrigins: config.KB_TOM_CORS_ORIGINS,
    rateLimit: config.KB_TOM_RATE_LIMIT,
    perToken: { burst: config.KB_TOM_RATE_LIMIT_BURST, perSecond: config.KB_TOM_RATE_LIMIT_PER_S },
    perIp: {
      burst: config.KB_TOM_RATE_LIMIT_IP_BURST,
      perSecond: config.KB_TOM_RATE_LIMIT_IP_PER_S,
    },
    maxBodyBytes: config.KB_TOM_MAX_BODY_BYTES,
    hsts: config.KB_TOM_HSTS === "auto" && publicUrl?.startsWith("https:")
      ? "on"
      : config.KB_TOM_HSTS,
    trustProxyHops: config.KB_TOM_TRUST_PROXY_HOPS,
  };
}

/** What {@link hardenApi} leaves for the app to mount after authentication. */
export interface HardenedApi {
  /** The per-token rate limit: mount on `/api/*` after bearer authentication. */
  readonly afterAuth: MiddlewareHandler;
  readonly perToken?: TokenBuckets;
  readonly perIp?: TokenBuckets;
}

/** Mounts the hardening on `app` (call before the auth middleware and the routes). */
// deno-lint-ignore no-explicit-any
export function hardenApi(app: Hono<any>, o: HardeningOptions = DEFAULT_HARDENING): HardenedApi {
  app.use("*", requestId(), async (c, next) => {
    c.set("clientIp", clientIp(c, o.trustProxyHops));
    await next();
  });
  app.use(
    "*",
    securityHeaders({
      hsts: o.hsts,
      trustProxyHops: o.trustProxyHops,
      skipCsp: (p) => p === "/docs",
    }),
  );
  // Swagger UI: its inline script allowed by hash, its assets by exact URL.
  app.use("/docs", hashedScriptCsp());
  app.use("/api/*", strictCors(o.corsOrigins));
  let perIp: TokenBuckets | undefined;
  let perToken: TokenBuckets | undefined;
  if (o.rateLimit) {
    perIp = new TokenBuckets(o.perIp, { now: o.now });
    perToken = new TokenBuckets(o.perToken, { now: o.now });
    app.use(
      "/api/*",
      rateLimit({ buckets: perIp, key: (c) => c.get("clientIp"), what: "client address" }),
    );
  }
  app.use("/api/*", requestBodyLimit(o.maxBodyBytes, o.bodyLimitExempt));
  const afterAuth: MiddlewareHandler = perToken
    ? rateLimit({
      buckets: perToken,
      key: (c) => (c.get("principal") as Principal | undefined)?.subject,
      what: "token subject",
    })
    : async (_c, next) => await next();
  return { afterAuth, perIp, perToken };
}
