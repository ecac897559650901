/**
 * Web sessions, kept server-side in PostgreSQL (`tom_web_logins`,
 * `tom_web_sessions`, migration 0104): the browser holds only a random id in an
 * HttpOnly, SameSite=Lax cookie (Secure, with the `__Host-` prefix, on TLS); the
 * tables hold the SHA-256 of that id, so a leaked table row is not a cookie.
 * The identity provider's tokens never reach the browser.
 *
 * @module
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Sql } from "../../../db/mod.ts";
import type { PendingLogin, TokenSet } from "./oidc.ts";
import { randomString } from "./oidc.ts";

/** How cookies are set. */
export interface CookiePolicy {
  /** Secure cookies (and the `__Host-` prefix): on TLS or when configured. */
  readonly secure: boolean;
}

/** Name of the session cookie. */
export const SESSION_COOKIE = "kb_session";
/** Name of the cookie of a login in progress. */
export const LOGIN_COOKIE = "kb_login";
/** How long a login may take between /auth/login and the callback, seconds. */
export const LOGIN_MAX_AGE_S = 600;

/** SHA-256 (hex) of a cookie value: what the tables store. */
export async function hashId(id: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(id));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const cookieOptions = (policy: CookiePolicy, maxAge: number) => ({
  httpOnly: true,
  sameSite: "Lax" as const,
  secure: policy.secure,
  path: "/",
  maxAge,
  ...(policy.secure ? { prefix: "host" as const } : {}),
});

const prefixOf = (policy: CookiePolicy) => (policy.secure ? "host" as const : undefined);

/** Reads a cookie set with {@link CookiePolicy}. */
export function readCookie(c: Context, name: string, policy: CookiePolicy): string | undefined {
  return getCookie(c, name, prefixOf(policy));
}

/** Sets a cookie: HttpOnly, SameSite=Lax, Path=/, Secure + `__Host-` when secure. */
export function writeCookie(
  c: Context,
  name: string,
  value: string,
  policy: CookiePolicy,
  maxAgeS: number,
): void {
  setCookie(c, name, value, cookieOptions(policy, Math.floor(maxAgeS)));
}

/** Removes a cookie. */
export function clearCookie(c: Context, name: string, policy: CookiePolicy): void {
  deleteCookie(c, name, {
    path: "/",
    secure: policy.secure,
    httpOnly: true,
    sameSite: "Lax",
    ...(policy.secure ? { prefix: "host" as const } : {}),
  });
}

// ---- logins in progress ----------------------------------------------------------

/** Files a pending login; returns the id for the login cookie. */
export async function saveLogin(sql: Sql, p: PendingLogin, returnTo: string): Promise<string> {
  const id = randomString();
  await sql`delete from tom_web_logins where created < now() - make_interval(secs => ${LOGIN_MAX_AGE_S})`;
  await sql`insert into tom_web_logins (id_hash, state, nonce, code_verifier, return_to)
    values (${await hashId(id)}, ${p.state}, ${p.nonce}, ${p.codeVerifier}, ${returnTo})`;
  return id;
}

/** Takes (reads and deletes: a login is used once) a pending login younger than the limit. */
export async function takeLogin(
  sql: Sql,
  id: string,
): Promise<(PendingLogin & { returnTo: string }) | undefined> {
  const [r] = await sql<
    { state: string; nonce: string; code_verifier: string; return_to: string; fresh: boolean }[]
  >`delete from tom_web_logins where id_hash = ${await hashId(id)}
      returning state, nonce, code_verifier, return_to,
        created > now() - make_interval(secs => ${LOGIN_MAX_AGE_S}) as fresh`;
  if (!r || !r.fresh) return undefined;
  return { state: r.state, nonce: r.nonce, codeVerifier: r.code_verifier, returnTo: r.return_to };
}

// ---- sessions ----------------------------------------------------------------------

/** A signed-in browser's session. */
export interface WebSession {
  readonly idHash: string;
  readonly subject: string;
  readonly username: string;
  readonly accessToken: string;
  readonly accessExpires: Date;
  readonly refreshToken: string | null;
  readonly idToken: string;
  /** The token every form of this session carries. */
  readonly csrfToken: string;
  readonly expires: Date;
}

// deno-lint-ignore no-explicit-any
const toSession = (r: any): WebSession => ({
  idHash: r.id_hash,
  subject: r.subject,
  username: r.username,
  accessToken: r.access_token,
  accessExpires: new Date(r.access_expires),
  refreshToken: r.refresh_token,
  idToken: r.id_token,
  csrfToken: r.csrf_token,
  expires: new Date(r.expires),
});

/** Creates a session; returns the cookie value and the session's end. */
export async function createSession(
  sql: Sql,
  who: { subject: string; username: string },
  tokens: TokenSet,
  maxHours: number,
): Promise<{ id: string; expires: Date }> {
  const id = randomString();
  const lifeS = Math.min(maxHours * 3600, tokens.refreshExpiresIn ?? Infinity);
  const expires = new Date(Date.now() + lifeS * 1000);
  await sql`delete from tom_web_sessions where expires < now()`;
  await sql`insert into tom_web_sessions (id_hash, subject, username, access_token,
      access_expires, refresh_token, id_token, csrf_token, expires)
    values (${await hashId(id)}, ${who.subject}, ${who.username}, ${tokens.accessToken},
      ${new Date(Date.now() + tokens.expiresIn * 1000)}, ${tokens.refreshToken ?? null},
      ${tokens.idToken}, ${randomString()}, ${expires})`;
  return { id, expires };
}

/** The live session of a cookie value, or undefined. */
export async function loadSession(sql: Sql, id: string): Promise<WebSession | undefined> {
  const [r] = await sql`update tom_web_sessions set last_seen = now()
    where id_hash = ${await hashId(id)} and expires > now() returning *`;
  return r ? toSession(r) : undefined;
}

/** Stores refreshed tokens. */
export async function updateTokens(sql: Sql, idHash: string, t: TokenSet): Promise<void> {
  await sql`update tom_web_sessions set access_token = ${t.accessToken},
      access_expires = ${new Date(Date.now() + t.expiresIn * 1000)},
      refresh_token = coalesce(${t.refreshToken ?? null}, refresh_token),
      id_token = ${t.idToken}
    where id_hash = ${idHash}`;
}

/** Ends a session (the row goes). */
export async function deleteSession(sql: Sql, idHash: string): Promise<void> {
  await sql`delete from tom_web_sessions where id_hash = ${idHash}`;
}
