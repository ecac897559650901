/**
 * Hono middleware for bearer tokens (RFC 6750): {@link bearerAuth} verifies the
 * `Authorization: Bearer <JWT>` of every request and puts the caller in
 * `c.var.principal`; {@link requireAccess} checks the caller's role.
 *
 * - no or unusable credentials → 401, `WWW-Authenticate: Bearer realm=…, error="invalid_token"`
 *   (no `error` at all when no credentials were sent)
 * - a valid token without the role → 403, `error="insufficient_scope"`
 * - the identity provider unreachable → 503 with `Retry-After`
 *
 * Every refusal has a JSON body `{error, message}`.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { type Access, ACCESS_ROLE, allows, type Principal } from "./roles.ts";
import { AuthError, type JwtVerifier, MAX_AUTHORIZATION_BYTES } from "./verifier.ts";

/** Variables the auth middleware sets. */
export interface AuthVariables {
  principal: Principal;
}

/** The realm named in `WWW-Authenticate`. */
export const AUTH_REALM = "kb-tom";

function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, "\\$&").replace(/[^\x20-\x7e]/g, "?")}"`;
}

/** A 401 response for `err` (or for missing credentials). */
export function unauthorized(c: Context, err: AuthError): Response {
  if (err.failure === "unavailable") {
    c.header("Retry-After", "5");
    return c.json({ error: "unavailable", message: err.message }, 503);
  }
  const challenge = err.failure === "missing"
    ? `Bearer realm=${quoted(AUTH_REALM)}`
    : `Bearer realm=${quoted(AUTH_REALM)}, error="${
      err.failure === "malformed" && err.message.startsWith("Authorization")
        ? "invalid_request"
        : "invalid_token"
    }", error_description=${quoted(err.message)}`;
  c.header("WWW-Authenticate", challenge);
  c.header("Cache-Control", "no-store");
  return c.json({
    error: err.failure === "missing" ? "unauthorized" : "invalid_token",
    message: err.message,
  }, 401);
}

/** Extracts the token of an `Authorization` header value. */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header === "") {
    throw new AuthError("missing", "send Authorization: Bearer <access token>");
  }
  if (header.length > MAX_AUTHORIZATION_BYTES) {
    throw new AuthError(
      "oversize",
      `Authorization header longer than ${MAX_AUTHORIZATION_BYTES} bytes`,
    );
  }
  const m = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!m) {
    throw new AuthError("malformed", "Authorization header is not 'Bearer <token>'");
  }
  return m[1];
}

/**
 * Verifies the bearer token of every request. Requests to paths `skip` returns
 * true for pass through untouched (the OpenAPI document, docs, health).
 */
export function bearerAuth(
  verifier: JwtVerifier,
  options: { skip?: (path: string) => boolean } = {},
): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    if (options.skip?.(c.req.path)) return await next();
    try {
      const token = bearerToken(c.req.header("authorization"));
      const { principal } = await verifier.verify(token);
      c.set("principal", principal);
    } catch (err) {
      if (err instanceof AuthError) return unauthorized(c, err);
      throw err;
    }
    await next();
  };
}

/** Refuses (403) callers whose roles do not allow `access`. */
export function requireAccess(access: Access): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    const principal = c.get("principal");
    if (!principal) {
      return unauthorized(c, new AuthError("missing", "send Authorization: Bearer <access token>"));
    }
    if (!allows(principal.roles, access)) {
      const need = ACCESS_ROLE[access];
      const message = `this needs the ${need} role (or a higher one); the token has ${
        principal.roles.length ? principal.roles.join(", ") : "no TOM role"
      }`;
      c.header(
        "WWW-Authenticate",
        `Bearer realm=${quoted(AUTH_REALM)}, error="insufficient_scope", error_description=${
          quoted(message)
        }`,
      );
      return c.json({ error: "forbidden", message, required_role: need }, 403);
    }
    await next();
  };
}
