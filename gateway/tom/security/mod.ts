/**
 * The TOM's hardening (issue 13): strict CORS, security headers, rate limits
 * per token and per client address, body size limits, CSRF helpers for
 * cookie-session forms. See docs/tom.md, "Hardening".
 *
 * For HTML pages: `securityHeaders({ csp: { ... } })` gives the same headers
 * with the page's CSP; `csrfProtection` / `createCsrfToken` protect forms.
 *
 * @module
 */
export * from "./body_limit.ts";
export * from "./client_ip.ts";
export * from "./config.ts";
export * from "./cors.ts";
export * from "./csrf.ts";
export * from "./harden.ts";
export * from "./headers.ts";
export * from "./rate_limit.ts";
