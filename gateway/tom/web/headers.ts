/**
 * The web pages' Content-Security-Policy, applied with the shared security
 * headers middleware (`security/headers.ts`: nosniff, Referrer-Policy,
 * frame-ancestors 'none' and X-Frame-Options, HSTS only over TLS). No
 * `'unsafe-inline'`: scripts and styles come only from this server's
 * `/static/`; plot data travel in `data-` attributes, never in inline scripts.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { type Csp, securityHeaders } from "../security/headers.ts";

/** The CSP of the web pages. `formOrigins`: the identity provider's origin (see below). */
export function webCsp(formOrigins: readonly string[]): Csp {
  return {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", "data:"],
    connectSrc: ["'self'"],
    // The logout form's answer redirects to the identity provider's end-session
    // endpoint, and Chromium applies form-action to the redirects of a form.
    formAction: ["'self'", ...formOrigins],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  };
}

/** The security headers of every web response. */
export function webSecurityHeaders(
  o: { formOrigins: readonly string[]; hsts: "auto" | "on" | "off"; trustProxyHops: number },
): MiddlewareHandler {
  const shared = securityHeaders({
    csp: webCsp(o.formOrigins),
    hsts: o.hsts,
    trustProxyHops: o.trustProxyHops,
  });
  return async (c, next) => {
    await shared(c, next);
    // `no-referrer` (the API's) makes Chromium send `Origin: null` on the pages'
    // own form posts, which the CSRF check refuses; same-origin keeps the
    // Origin and still sends no referrer to other sites.
    c.res.headers.set("Referrer-Policy", "same-origin");
  };
}
