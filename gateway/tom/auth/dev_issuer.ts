/**
 * A small OpenID Connect issuer for development and the embedded demo, so the
 * TOM runs without Keycloak. It generates an RSA key with jose at start and
 * serves, under its base path:
 *
 * - `/.well-known/openid-configuration` (discovery)
 * - `/protocol/openid-connect/certs` (JWKS)
 * - `/protocol/openid-connect/token` (grants `password` for the dev users,
 *   `client_credentials` for the dev clients, and `authorization_code` (PKCE
 *   S256 required) and `refresh_token` for the web login)
 * - `/protocol/openid-connect/auth` (authorization endpoint: a small form where
 *   a demo user signs in with their password; then a redirect with the code)
 * - `/protocol/openid-connect/logout` (end-session endpoint: forgets the
 *   session's refresh tokens, redirects to `post_logout_redirect_uri`)
 *
 * The web login of the TOM (gateway/tom/web/) runs the very same code against
 * this issuer and against Keycloak.
 *
 * Tokens are shaped like Keycloak's (`realm_access.roles`, `groups`, `azp`,
 * `typ: Bearer`, `preferred_username`), so the same verifier and middleware
 * accept both. Paths follow Keycloak's, so clients switch by changing the
 * issuer URL only. Never expose it outside a developer's machine.
 *
 * @module
 */
import { Hono } from "hono";
import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from "jose";
import type { Role } from "./roles.ts";

/** A user the development issuer knows. */
export interface DevUser {
  readonly username: string;
  readonly password: string;
  readonly roles: readonly Role[];
  readonly groups: readonly string[];
}

/** A client the development issuer knows (client credentials). */
export interface DevClient {
  readonly clientId: string;
  readonly secret: string;
  /** Roles of the client's service account; none means it may only log users in. */
  readonly roles: readonly Role[];
  readonly groups: readonly string[];
}

/** The users of the local Keycloak realm, with the same passwords. */
export const DEV_USERS: readonly DevUser[] = [
  { username: "observer", password: "observer-pw", roles: ["observer"], groups: ["other-team"] },
  { username: "pi", password: "pi-pw", roles: ["pi"], groups: ["kilonova-team"] },
  { username: "admin", password: "admin-pw", roles: ["admin"], groups: [] },
  { username: "nobody", password: "nobody-pw", roles: [], groups: [] },
];

/** The clients of the local Keycloak realm, with the same secrets. */
export const DEV_CLIENTS: readonly DevClient[] = [
  { clientId: "tom-api", secret: "tom-api-dev-secret", roles: ["pi"], groups: ["kilonova-team"] },
  { clientId: "tom-test", secret: "tom-test-dev-secret", roles: [], groups: [] },
  { clientId: "tom-web", secret: "tom-web-dev-secret", roles: [], groups: [] },
];

/** Options of {@link createDevIssuer}. */
export interface DevIssuerOptions {
  /** The issuer URL tokens carry, e.g. `http://127.0.0.1:8090/dev-oidc`. */
  readonly issuer: string;
  /** `aud` of the access tokens. */
  readonly audience: string;
  /** Access token lifetime, seconds (default 300). */
  readonly lifetimeS?: number;
  readonly users?: readonly DevUser[];
  readonly clients?: readonly DevClient[];
  /**
   * Prefixes a `redirect_uri` (and `post_logout_redirect_uri`) must start with
   * (default: the issuer's origin + `/`, i.e. the TOM serving it).
   */
  readonly redirectPrefixes?: readonly string[];
}

/** A running development issuer. */
export interface DevIssuer {
  readonly issuer: string;
  /** The Hono app; mount it at the issuer's path. */
  readonly app: Hono;
  /** Current key id. */
  kid(): string;
  /** Signs arbitrary claims with the issuer's key (tests: valid signatures on bad claims). */
  sign(payload: JWTPayload, header?: { kid?: string }): Promise<string>;
  /** An access token for a dev user, as the password grant returns it. */
  tokenFor(username: string): Promise<string>;
  /** Replaces the signing key (the old one leaves the key set). */
  rotate(): Promise<void>;
}

interface KeyPair {
  kid: string;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  publicKey: Awaited<ReturnType<typeof generateKeyPair>>["publicKey"];
  jwk: JWK;
}

async function newKey(): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, publicKey, jwk: { ...jwk, kid, alg: "RS256", use: "sig" } };
}

/** A code issued by the authorization endpoint, waiting for the token request. */
interface PendingCode {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce?: string;
  user: DevUser;
  sid: string;
  expires: number;
}

/** A refresh token's grant. */
interface RefreshGrant {
  clientId: string;
  user: DevUser;
  sid: string;
  nonce?: string;
  expires: number;
}

const randomToken = () => base64url.encode(crypto.getRandomValues(new Uint8Array(32)));

/** base64url(SHA-256(verifier)): the PKCE S256 challenge of a verifier (RFC 7636). */
export async function pkceChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url.encode(new Uint8Array(digest));
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Creates an issuer with a fresh key. */
export async function createDevIssuer(options: DevIssuerOptions): Promise<DevIssuer> {
  const issuer = options.issuer.replace(/\/$/, "");
  const redirectPrefixes = options.redirectPrefixes ?? [`${new URL(issuer).origin}/`];
  const redirectAllowed = (uri: string | undefined): uri is string =>
    typeof uri === "string" && redirectPrefixes.some((p) => uri.startsWith(p));
  const codes = new Map<string, PendingCode>();
  const refreshGrants = new Map<string, RefreshGrant>();
  const sweep = () => {
    const now = Date.now();
    for (const [k, v] of codes) if (v.expires < now) codes.delete(k);
    for (const [k, v] of refreshGrants) if (v.expires < now) refreshGrants.delete(k);
  };
  const users = options.users ?? DEV_USERS;
  const clients = options.clients ?? DEV_CLIENTS;
  const lifetimeS = options.lifetimeS ?? 300;
  let key = await newKey();

  const sign = (payload: JWTPayload, header: { kid?: string } = {}) =>
    new SignJWT(payload)
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: header.kid ?? key.kid })
      .sign(key.privateKey);

  const accessToken = (
    sub: string,
    username: string,
    azp: string,
    roles: readonly string[],
    groups: readonly string[],
  ) => {
    const now = Math.floor(Date.now() / 1000);
    return sign({
      iss: issuer,
      aud: options.audience,
      sub,
      typ: "Bearer",
      azp,
      iat: now,
      exp: now + lifetimeS,
      jti: crypto.randomUUID(),
      preferred_username: username,
      realm_access: { roles: [...roles] },
      groups: [...groups],
    });
  };

  const userToken = (u: DevUser, azp: string) =>
    accessToken(`dev-user-${u.username}`, u.username, azp, u.roles, u.groups);

  const app = new Hono();
  app.get("/.well-known/openid-configuration", (c) =>
    c.json({
      issuer,
      jwks_uri: `${issuer}/protocol/openid-connect/certs`,
      token_endpoint: `${issuer}/protocol/openid-connect/token`,
      authorization_endpoint: `${issuer}/protocol/openid-connect/auth`,
      end_session_endpoint: `${issuer}/protocol/openid-connect/logout`,
      grant_types_supported: [
        "password",
        "client_credentials",
        "authorization_code",
        "refresh_token",
      ],
      response_types_supported: ["code"],
      code_challenge_methods_supported: ["S256"],
      id_token_signing_alg_values_supported: ["RS256"],
      token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
    }));
  app.get("/protocol/openid-connect/certs", (c) => c.json({ keys: [key.jwk] }));
  app.post("/protocol/openid-connect/token", async (c) => {
    const form = await c.req.parseBody();
    const field = (k: string) => (typeof form[k] === "string" ? form[k] as string : undefined);
    let clientId = field("client_id");
    let secret = field("client_secret");
    const basic = /^Basic (.+)$/i.exec(c.req.header("authorization") ?? "");
    if (basic) {
      const [id, s] = atob(basic[1]).split(":");
      clientId = decodeURIComponent(id);
      secret = decodeURIComponent(s ?? "");
    }
    const client = clients.find((cl) => cl.clientId === clientId && cl.secret === secret);
    if (!client) {
      return c.json(
        { error: "invalid_client", error_description: "unknown client or secret" },
        401,
      );
    }
    const grant = field("grant_type");
    let token: string;
    if (grant === "password") {
      const user = users.find((u) =>
        u.username === field("username") && u.password === field("password")
      );
      if (!user) {
        return c.json(
          { error: "invalid_grant", error_description: "invalid user credentials" },
          401,
        );
      }
      token = await userToken(user, client.clientId);
    } else if (grant === "client_credentials") {
      token = await accessToken(
        `dev-client-${client.clientId}`,
        `service-account-${client.clientId}`,
        client.clientId,
        client.roles,
        client.groups,
      );
    } else if (grant === "authorization_code") {
      sweep();
      const code = field("code") ?? "";
      const pending = codes.get(code);
      codes.delete(code); // a code is used once, whatever happens next
      const verifier = field("code_verifier");
      if (
        !pending || pending.clientId !== client.clientId ||
        pending.redirectUri !== field("redirect_uri")
      ) {
        return c.json({
          error: "invalid_grant",
          error_description: "unknown, used or expired code, or another client/redirect_uri",
        }, 400);
      }
      if (!verifier || await pkceChallenge(verifier) !== pending.codeChallenge) {
        return c.json(
          { error: "invalid_grant", error_description: "PKCE verification failed" },
          400,
        );
      }
      return c.json(await userGrant(pending.user, client.clientId, pending.sid, pending.nonce));
    } else if (grant === "refresh_token") {
      sweep();
      const old = field("refresh_token") ?? "";
      const g = refreshGrants.get(old);
      if (!g || g.clientId !== client.clientId) {
        return c.json({
          error: "invalid_grant",
          error_description: "unknown, expired or revoked refresh token (session ended)",
        }, 400);
      }
      refreshGrants.delete(old); // rotated
      return c.json(await userGrant(g.user, client.clientId, g.sid, g.nonce));
    } else {
      return c.json({
        error: "unsupported_grant_type",
        error_description: "use password, client_credentials, authorization_code or refresh_token",
      }, 400);
    }
    return c.json({ access_token: token, token_type: "Bearer", expires_in: lifetimeS });
  });

  /** Access, ID and refresh tokens of a browser login (authorization code or refresh). */
  const userGrant = async (u: DevUser, clientId: string, sid: string, nonce?: string) => {
    const now = Math.floor(Date.now() / 1000);
    const refresh = randomToken();
    refreshGrants.set(refresh, {
      clientId,
      user: u,
      sid,
      nonce,
      expires: Date.now() + 8 * 3600_000,
    });
    return {
      access_token: await userToken(u, clientId),
      token_type: "Bearer",
      expires_in: lifetimeS,
      refresh_token: refresh,
      refresh_expires_in: 8 * 3600,
      id_token: await sign({
        iss: issuer,
        aud: clientId,
        azp: clientId,
        sub: `dev-user-${u.username}`,
        typ: "ID",
        iat: now,
        exp: now + lifetimeS,
        auth_time: now,
        sid,
        ...(nonce ? { nonce } : {}),
        preferred_username: u.username,
      }),
      scope: "openid",
    };
  };

  /** The sign-in form of the authorization endpoint (no script, no style: any CSP fits). */
  const loginForm = (params: Record<string, string>, error?: string) => {
    const hidden = Object.entries(params).map(([k, v]) =>
      `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`
    ).join("");
    const options = users.map((u) =>
      `<option value="${escapeHtml(u.username)}">${escapeHtml(u.username)} (${
        escapeHtml(u.roles.join(", ") || "no role")
      })</option>`
    ).join("");
    return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in (development issuer)</title></head><body><main>
<h1>Sign in to the TOM</h1>
<p>Development issuer: never expose it. Passwords are the Keycloak test realm's
(<code>&lt;user&gt;-pw</code>).</p>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ""}
<form method="post">${hidden}
<p><label for="username">User</label> <select id="username" name="username">${options}</select></p>
<p><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit" id="kc-login">Sign in</button></p>
</form></main></body></html>`;
  };
  const pageHeaders = {
    "Content-Security-Policy":
      "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
  };
  const AUTH_PARAMS = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
  ] as const;
  /** Checks an authorization request; returns the problem, if any. */
  const authProblem = (p: Record<string, string>): string | undefined => {
    if (!clients.some((cl) => cl.clientId === p.client_id)) return "unknown client_id";
    if (!redirectAllowed(p.redirect_uri)) {
      return `redirect_uri must start with ${redirectPrefixes.join(" or ")}`;
    }
    if (p.response_type !== "code") return "response_type must be code";
    if (!/(^| )openid( |$)/.test(p.scope ?? "")) return "scope must include openid";
    if (p.code_challenge_method !== "S256" || !/^[A-Za-z0-9_-]{43,128}$/.test(p.code_challenge)) {
      return "PKCE is required: code_challenge with code_challenge_method=S256";
    }
    return undefined;
  };
  const authParams = (get: (k: string) => string | undefined) =>
    Object.fromEntries(
      AUTH_PARAMS.map((k) => [k, get(k) ?? ""]).filter(([, v]) => v !== ""),
    ) as Record<string, string>;

  app.get("/protocol/openid-connect/auth", (c) => {
    const p = authParams((k) => c.req.query(k));
    const problem = authProblem(p);
    if (problem) {
      return c.html(
        `<!doctype html><title>Bad request</title><p>${escapeHtml(problem)}</p>`,
        400,
        pageHeaders,
      );
    }
    return c.html(loginForm(p), 200, pageHeaders);
  });
  app.post("/protocol/openid-connect/auth", async (c) => {
    const form = await c.req.parseBody();
    const field = (k: string) => (typeof form[k] === "string" ? form[k] as string : undefined);
    const p = authParams(field);
    const problem = authProblem(p);
    if (problem) {
      return c.html(
        `<!doctype html><title>Bad request</title><p>${escapeHtml(problem)}</p>`,
        400,
        pageHeaders,
      );
    }
    const user = users.find((u) =>
      u.username === field("username") && u.password === field("password")
    );
    if (!user) return c.html(loginForm(p, "Invalid username or password."), 401, pageHeaders);
    sweep();
    const code = randomToken();
    codes.set(code, {
      clientId: p.client_id,
      redirectUri: p.redirect_uri,
      codeChallenge: p.code_challenge,
      nonce: p.nonce,
      user,
      sid: crypto.randomUUID(),
      expires: Date.now() + 60_000,
    });
    const to = new URL(p.redirect_uri);
    to.searchParams.set("code", code);
    if (p.state) to.searchParams.set("state", p.state);
    to.searchParams.set("iss", issuer);
    return c.redirect(to.toString(), 302);
  });
  app.get("/protocol/openid-connect/logout", async (c) => {
    const hint = c.req.query("id_token_hint");
    if (hint) {
      try {
        const { payload } = await jwtVerify(hint, key.publicKey, { issuer });
        for (const [k, g] of refreshGrants) if (g.sid === payload.sid) refreshGrants.delete(k);
      } catch {
        return c.html(
          "<!doctype html><title>Bad request</title><p>id_token_hint is not a token of this issuer</p>",
          400,
          pageHeaders,
        );
      }
    }
    const back = c.req.query("post_logout_redirect_uri");
    if (back !== undefined) {
      if (!redirectAllowed(back) || !hint) {
        return c.html(
          "<!doctype html><title>Bad request</title><p>post_logout_redirect_uri needs " +
            "id_token_hint and a registered URI</p>",
          400,
          pageHeaders,
        );
      }
      const to = new URL(back);
      const state = c.req.query("state");
      if (state) to.searchParams.set("state", state);
      return c.redirect(to.toString(), 302);
    }
    return c.html(
      "<!doctype html><title>Signed out</title><p>You are signed out.</p>",
      200,
      pageHeaders,
    );
  });

  return {
    issuer,
    app,
    kid: () => key.kid,
    sign,
    tokenFor: (username) => {
      const u = users.find((x) => x.username === username);
      if (!u) throw new Error(`no dev user "${username}" (have ${users.map((x) => x.username)})`);
      return userToken(u, "tom-test");
    },
    rotate: async () => {
      key = await newKey();
    },
  };
}
