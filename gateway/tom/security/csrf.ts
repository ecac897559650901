/**
 * CSRF protection for cookie-session forms (the web pages): a synchronizer
 * token bound to the session by HMAC — `<nonce>.<HMAC(key, session id, nonce)>`
 * — that the page puts in each form (`csrf_token` field) or script request
 * (`X-CSRF-Token` header), plus an Origin / `Sec-Fetch-Site` check.
 *
 * The web pages call {@link createCsrfToken} when rendering a form and mount
 * {@link csrfProtection} on their routes. Requests with `Authorization:
 * Bearer` are exempt (no ambient credential a foreign site could borrow), and
 * so are requests without a session (nothing to ride on).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";

/** Form field holding the token. */
export const CSRF_FIELD = "csrf_token";
/** Header holding the token (script requests). */
export const CSRF_HEADER = "X-CSRF-Token";

const enc = new TextEncoder();
const b64url = (b: Uint8Array) =>
  btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** A new random secret for {@link csrfKey} (32 bytes). */
export function generateCsrfSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

/** The HMAC key of `secret` (at least 32 bytes; share it between replicas). */
export async function csrfKey(secret: Uint8Array | string): Promise<CryptoKey> {
  const raw = typeof secret === "string" ? enc.encode(secret) : secret;
  if (raw.length < 32) {
    throw new Error(`CSRF secret too short (${raw.length} bytes): give at least 32 random bytes`);
  }
  return await crypto.subtle.importKey(
    "raw",
    raw as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

async function mac(key: CryptoKey, sessionId: string, nonce: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", key, enc.encode(`kb-csrf\n${sessionId}\n${nonce}`)),
  );
}

/** A token for a form of session `sessionId`. */
export async function createCsrfToken(key: CryptoKey, sessionId: string): Promise<string> {
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(16)));
  return `${nonce}.${b64url(await mac(key, sessionId, nonce))}`;
}

/** True when `token` was made by {@link createCsrfToken} for `sessionId` with `key`. */
export async function verifyCsrfToken(
  key: CryptoKey,
  sessionId: string,
  token: string | undefined | null,
): Promise<boolean> {
  if (!token || token.length > 200) return false;
  const [nonce, sig, extra] = token.split(".");
  if (!nonce || !sig || extra !== undefined) return false;
  let given: Uint8Array;
  try {
    given = Uint8Array.from(
      atob(sig.replace(/-/g, "+").replace(/_/g, "/")),
      (ch) => ch.charCodeAt(0),
    );
  } catch {
    return false;
  }
  // crypto.subtle.verify compares in constant time.
  return await crypto.subtle.verify(
    "HMAC",
    key,
    given as Uint8Array<ArrayBuffer>,
    enc.encode(`kb-csrf\n${sessionId}\n${nonce}`),
  );
}

/** Options of {@link csrfProtection}. */
export interface CsrfOptions {
  readonly key: CryptoKey;
  /** The cookie session's id of a request; undefined when it has none. */
  readonly sessionOf: (c: Context) => string | undefined | Promise<string | undefined>;
  /** Origins a form may be posted from (the TOM's own public origin, at least). */
  readonly trustedOrigins: readonly string[];
  /** The refusal (default: 403 JSON `{error: "csrf_refused", message}`). */
  readonly onRefused?: (c: Context, reason: string) => Response | Promise<Response>;
}

const SAFE = /^(GET|HEAD|OPTIONS)$/;

/** Why a state-changing request is refused, or null when it may pass. */
export async function csrfRefusal(c: Context, o: CsrfOptions): Promise<string | null> {
  if (SAFE.test(c.req.method)) return null;
  if (/^Bearer\s/i.test(c.req.header("authorization") ?? "")) return null;
  const sid = await o.sessionOf(c);
  if (sid === undefined) return null;
  const origin = c.req.header("origin");
  if (origin !== undefined && !o.trustedOrigins.includes(origin)) {
    return `the form was posted from another site (${origin.slice(0, 100)})`;
  }
  if (origin === undefined && c.req.header("sec-fetch-site") === "cross-site") {
    return "the form was posted from another site";
  }
  let token = c.req.header(CSRF_HEADER);
  if (
    !token && /^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(
      c.req.header("content-type") ?? "",
    )
  ) {
    // parseBody caches the body: the route can parse it again.
    const v = (await c.req.parseBody())[CSRF_FIELD];
    token = typeof v === "string" ? v : undefined;
  }
  if (!token) return `no CSRF token (form field ${CSRF_FIELD} or header ${CSRF_HEADER})`;
  if (!await verifyCsrfToken(o.key, sid, token)) {
    return "the CSRF token is not valid for this session";
  }
  return null;
}

/** Refuses (403) cookie-session requests that change state without a valid token. */
export function csrfProtection(o: CsrfOptions): MiddlewareHandler {
  return async (c, next) => {
    const reason = await csrfRefusal(c, o);
    if (reason !== null) {
      if (o.onRefused) return await o.onRefused(c, reason);
      return c.json({
        error: "csrf_refused",
        message: `${reason}: reload the page and submit the form again`,
      }, 403);
    }
    await next();
  };
}
