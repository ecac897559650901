/**
 * Strict CORS for the API (Hono's `cors` middleware behind an origin check):
 * only origins of the allow-list get `Access-Control-Allow-Origin`; a preflight
 * from any other origin is refused with 403 and no CORS header. Credentials
 * (cookies) are never allowed cross-origin: API callers send a bearer token.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";

/** Headers a cross-origin caller may send. */
export const CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "X-Request-Id"];
/** Response headers a cross-origin caller may read. */
export const CORS_EXPOSE_HEADERS = [
  "Retry-After",
  "X-Request-Id",
  "WWW-Authenticate",
  "RateLimit-Limit",
  "RateLimit-Remaining",
];

/** CORS with an allow-list of origins (empty: none). */
export function strictCors(allowedOrigins: readonly string[]): MiddlewareHandler {
  const allowed = new Set(allowedOrigins);
  const inner = cors({
    origin: (o) => (allowed.has(o) ? o : null),
    allowMethods: ["GET", "POST", "PATCH", "DELETE"],
    allowHeaders: CORS_ALLOW_HEADERS,
    exposeHeaders: CORS_EXPOSE_HEADERS,
    maxAge: 600,
    credentials: false,
  });
  return async (c, next) => {
    const o = c.req.header("origin");
    if (c.req.method === "OPTIONS" && o !== undefined && !allowed.has(o)) {
      c.header("Vary", "Origin");
      return c.json({
        error: "cors_refused",
        message: `origin ${JSON.stringify(o.slice(0, 200))} may not call this API from a ` +
          "browser: the operator lists allowed origins in KB_TOM_CORS_ORIGINS",
      }, 403);
    }
    if (c.req.method === "OPTIONS") return await inner(c, next);
    // Any other request: what Hono's `cors` sets, but on the response once it exists. Hono's
    // sets its headers on `c.res` before the handler, which makes a placeholder Response that
    // the handler's response is copied over, and appends `Vary` through `c.header`, which
    // copies the finished Response again: three Responses per request (~5% of a list
    // request's CPU). The handlers and the error handler build their responses through the
    // context (mutable headers), so setting them afterwards gives the same headers.
    const origin = o || "";
    await next();
    const h = c.res.headers;
    if (allowed.has(origin)) h.set("Access-Control-Allow-Origin", origin);
    h.set("Access-Control-Expose-Headers", EXPOSE);
    h.append("Vary", "Origin");
  };
}
const EXPOSE = CORS_EXPOSE_HEADERS.join(",");
