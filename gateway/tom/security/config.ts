/**
 * Environment variables of the TOM's hardening (spread into `TOM_ENV`):
 * CORS origins, rate limits, body size, HSTS and trusted proxies.
 *
 * @module
 */
import { z } from "zod";

const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) =>
  ["true", "1", "yes"].includes(v)
);

/** An origin as browsers send it: scheme://host[:port], nothing else. */
const origin = z.string().transform((s, ctx) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    ctx.addIssue({ code: "custom", message: `"${s}" is not a URL (give scheme://host[:port])` });
    return z.NEVER;
  }
  if (u.origin === "null" || u.origin !== s.replace(/\/$/, "")) {
    ctx.addIssue({
      code: "custom",
      message: `"${s}" is not an origin: give scheme://host[:port] without path (${u.origin})`,
    });
    return z.NEVER;
  }
  return u.origin;
});

/** The hardening variables. */
export const SECURITY_ENV = {
  KB_TOM_CORS_ORIGINS: {
    schema: z.string().default("").transform((s) =>
      s.split(",").map((o) => o.trim()).filter(Boolean)
    ).pipe(z.array(origin)),
    doc: "comma-separated origins allowed to call the API from a browser (CORS); empty: no " +
      "cross-origin caller (preflights are refused with 403)",
  },
  KB_TOM_RATE_LIMIT: {
    schema: bool.default(true),
    doc: "rate limiting per token and per client address (token buckets, per replica); false " +
      "turns it off (benches)",
  },
  KB_TOM_RATE_LIMIT_BURST: {
    schema: z.coerce.number().int().min(1).max(1_000_000).default(300),
    doc: "requests a token (JWT sub) may send at once before being throttled",
  },
  KB_TOM_RATE_LIMIT_PER_S: {
    schema: z.coerce.number().positive().max(1_000_000).default(50),
    doc: "sustained requests per second of one token (refill rate of its bucket)",
  },
  KB_TOM_RATE_LIMIT_IP_BURST: {
    schema: z.coerce.number().int().min(1).max(1_000_000).default(600),
    doc: "requests one client address may send at once (before authentication)",
  },
  KB_TOM_RATE_LIMIT_IP_PER_S: {
    schema: z.coerce.number().positive().max(1_000_000).default(100),
    doc: "sustained requests per second of one client address",
  },
  KB_TOM_MAX_BODY_BYTES: {
    schema: z.coerce.number().int().min(1024).max(1 << 30).default(1 << 20),
    doc: "largest request body the API reads, bytes (413 beyond; /api/classify has its own)",
  },
  KB_TOM_HSTS: {
    schema: z.enum(["auto", "on", "off"]).default("auto"),
    doc: "Strict-Transport-Security: auto sends it when the request or KB_TOM_PUBLIC_URL is https",
  },
  KB_TOM_TRUST_PROXY_HOPS: {
    schema: z.coerce.number().int().min(0).max(10).default(0),
    doc: "reverse proxies in front of the TOM whose X-Forwarded-For/-Proto are trusted (the " +
      "client address is the entry this many from the right); 0: the socket's peer",
  },
} as const;
