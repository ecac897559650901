/**
 * The TOM's web pages: OIDC login (authorization code + PKCE) with a
 * server-side session, targets, target (light curve, score history, sky
 * position, observations), events. See docs/tom.md, "Web pages".
 *
 * @module
 */
import type { Hono } from "hono";
import type { Sql } from "../../../db/mod.ts";
import type { Logger } from "../../../actors/runtime/log.ts";
import type { DevIssuer } from "../auth/dev_issuer.ts";
import { DEV_CLIENTS } from "../auth/dev_issuer.ts";
import type { JwtVerifier } from "../auth/verifier.ts";
import type { TomConfig } from "../config.ts";
import { buildWeb } from "./app.tsx";
import { createOidcClient } from "./oidc.ts";

export { buildWeb, parseTargetsQuery, safeReturnTo, WEB_PATHS, type WebDeps } from "./app.tsx";
export { createOidcClient, LoginError, type OidcClient, type TokenSet } from "./oidc.ts";
export { webCsp, webSecurityHeaders } from "./headers.ts";
export { LOGIN_COOKIE, SESSION_COOKIE } from "./session.ts";

/**
 * The web app of a TOM from its configuration, or undefined when the pages are
 * off (KB_TOM_WEB=false, or an external issuer without KB_OIDC_WEB_CLIENT_SECRET,
 * which is logged).
 */
export async function webPages(
  config: TomConfig,
  deps: {
    sql: Sql;
    log: Logger;
    verifier: JwtVerifier;
    /** The TOM's root app (API routes match there as over HTTP). */
    api: { fetch: (req: Request, env: unknown) => Response | Promise<Response> };
    /** The TOM's public base URL. */
    base: string;
    issuer: string;
    devIssuer?: DevIssuer;
    facilities?: boolean;
  },
): Promise<Hono | undefined> {
  if (!config.KB_TOM_WEB) return undefined;
  const clientId = config.KB_OIDC_WEB_CLIENT_ID;
  const secret = config.KB_OIDC_WEB_CLIENT_SECRET ??
    (deps.devIssuer ? DEV_CLIENTS.find((c) => c.clientId === clientId)?.secret : undefined);
  if (!secret) {
    deps.log.warn(
      "web pages off: set KB_OIDC_WEB_CLIENT_SECRET (the secret of the issuer's client " +
        `${clientId}) to serve them`,
      { issuer: deps.issuer },
    );
    return undefined;
  }
  const tls = deps.base.startsWith("https:");
  return await buildWeb({
    sql: deps.sql,
    log: deps.log,
    verifier: deps.verifier,
    oidc: createOidcClient({
      issuer: deps.issuer,
      clientId,
      clientSecret: secret,
      redirectUri: `${deps.base}/auth/callback`,
      postLogoutRedirectUri: `${deps.base}/auth/logged-out`,
      clockToleranceS: config.KB_OIDC_CLOCK_SKEW_S,
    }),
    api: (req, env) => deps.api.fetch(req, env),
    publicUrl: deps.base,
    cookies: {
      secure: config.KB_TOM_COOKIE_SECURE === "auto" ? tls : config.KB_TOM_COOKIE_SECURE === "true",
    },
    hsts: config.KB_TOM_HSTS === "auto" && tls ? "on" : config.KB_TOM_HSTS,
    trustProxyHops: config.KB_TOM_TRUST_PROXY_HOPS,
    sessionHours: config.KB_TOM_SESSION_HOURS,
    facilities: deps.facilities ?? true,
  });
}
