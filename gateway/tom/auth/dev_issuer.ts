/**
 * A small OpenID Connect issuer for development and the embedded demo, so the
 * TOM runs without Keycloak. It generates an RSA key with jose at start and
 * serves, under its base path:
 *
 * - `/.well-known/openid-configuration` (discovery)
 * - `/protocol/openid-connect/certs` (JWKS)
 * - `/protocol/openid-connect/token` (grants `password` for the dev users and
 *   `client_credentials` for the dev clients)
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
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
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
  jwk: JWK;
}

async function newKey(): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, jwk: { ...jwk, kid, alg: "RS256", use: "sig" } };
}

/** Creates an issuer with a fresh key. */
export async function createDevIssuer(options: DevIssuerOptions): Promise<DevIssuer> {
  const issuer = options.issuer.replace(/\/$/, "");
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
      grant_types_supported: ["password", "client_credentials"],
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
    } else {
      return c.json({
        error: "unsupported_grant_type",
        error_description: "use password or client_credentials",
      }, 400);
    }
    return c.json({ access_token: token, token_type: "Bearer", expires_in: lifetimeS });
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
