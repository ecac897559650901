/**
 * Request body size limit (Hono's `bodyLimit`): a body over `maxBytes` — by
 * `Content-Length`, or counted while streaming — is refused with `413` and a
 * JSON body.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";

/** Default limit of API bodies: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

/** Limits bodies to `maxBytes`; paths `exempt` returns true for set their own limit. */
export function requestBodyLimit(
  maxBytes: number = DEFAULT_MAX_BODY_BYTES,
  exempt: (path: string) => boolean = () => false,
): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      c.json({
        error: "too_large",
        message: `request body over ${maxBytes} bytes: send less (e.g. page through a batch); ` +
          "the operator sets the limit with KB_TOM_MAX_BODY_BYTES",
        max_bytes: maxBytes,
      }, 413),
  });
  return async (c, next) => {
    if (exempt(c.req.path)) return await next();
    return await limit(c, next);
  };
}
