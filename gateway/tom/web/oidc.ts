/**
 * The web login's OpenID Connect client: authorization code flow with PKCE
 * (S256), `state` and `nonce`, the ID token verified by the project's jose
 * verifier (`auth/verifier.ts`, in its ID-token mode), refresh, and the URL
 * that ends the identity provider's session (RP-initiated logout).
 *
 * The same code runs against Keycloak and against the built-in development
 * issuer (`auth/dev_issuer.ts`), which serves the same endpoints.
 *
 * @module
 */
import { base64url } from "jose";
import { pkceChallenge } from "../auth/dev_issuer.ts";
import { AuthError, createJwtVerifier, type JwtVerifier } from "../auth/verifier.ts";

/** Options of {@link createOidcClient}. */
export interface OidcClientOptions {
  /** Issuer URL, exactly as in its tokens. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Where the issuer sends the browser back with the code (`<tom>/auth/callback`). */
  readonly redirectUri: string;
  /** Where the issuer sends the browser after logout (`<tom>/auth/logged-out`). */
  readonly postLogoutRedirectUri: string;
  /** Clock skew tolerated on the ID token, seconds (default 30). */
  readonly clockToleranceS?: number;
  /** Timeout of each call to the issuer, ms (default 10 000). */
  readonly fetchTimeoutMs?: number;
}

/** What a login keeps between the redirect to the issuer and the callback. */
export interface PendingLogin {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

/** Tokens of a signed-in user. */
export interface TokenSet {
  readonly accessToken: string;
  /** Seconds the access token lives. */
  readonly expiresIn: number;
  readonly refreshToken?: string;
  /** Seconds the refresh token (the issuer's session) lives, when the issuer says. */
  readonly refreshExpiresIn?: number;
  readonly idToken: string;
}

/** Why a login or refresh failed. */
export type LoginFailure =
  | "state"
  | "nonce"
  | "issuer_error"
  | "token_request"
  | "id_token"
  | "unavailable";

/** A refused login step, with a message fit for the person logging in. */
export class LoginError extends Error {
  constructor(readonly failure: LoginFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LoginError";
  }
}

/** The OIDC client of the web pages. */
export interface OidcClient {
  readonly issuer: string;
  readonly clientId: string;
  /** A fresh state/nonce/PKCE verifier and the issuer URL to send the browser to. */
  startLogin(): Promise<{ url: string; pending: PendingLogin }>;
  /**
   * Checks the callback's `state` against the pending login, exchanges the code
   * (with the PKCE verifier) and verifies the ID token (signature, iss, aud =
   * client id, exp, nonce). Throws {@link LoginError}.
   */
  finishLogin(callback: URLSearchParams, pending: PendingLogin): Promise<TokenSet>;
  /** New tokens for a refresh token; throws {@link LoginError} when the session is over. */
  refresh(refreshToken: string): Promise<TokenSet>;
  /** The end-session URL that also ends the issuer's session. */
  logoutUrl(idToken: string): Promise<string>;
  /** The issuer's origin (the CSP's form-action needs it: logout redirects there). */
  origin(): string;
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

/** A random URL-safe string of `bytes` random bytes. */
export function randomString(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Constant-time string equality (for state and CSRF tokens). */
export function safeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Builds the client. Nothing is fetched until the first login. */
export function createOidcClient(options: OidcClientOptions): OidcClient {
  const issuer = options.issuer.replace(/\/$/, "");
  const timeout = options.fetchTimeoutMs ?? 10_000;
  let discovery: Promise<Discovery> | undefined;
  const getDiscovery = (): Promise<Discovery> => {
    discovery ??= (async () => {
      const url = `${issuer}/.well-known/openid-configuration`;
      let res: Response;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(timeout) });
      } catch (err) {
        throw new LoginError("unavailable", `cannot reach the identity provider (${url})`, {
          cause: err,
        });
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new LoginError("unavailable", `GET ${url} answered ${res.status}`);
      }
      const d = await res.json();
      if (typeof d.authorization_endpoint !== "string" || typeof d.token_endpoint !== "string") {
        throw new LoginError(
          "unavailable",
          `the discovery document of ${issuer} names no authorization or token endpoint`,
        );
      }
      return d as Discovery;
    })();
    discovery.catch(() => (discovery = undefined));
    return discovery;
  };
  const idVerifier: JwtVerifier = createJwtVerifier({
    issuer,
    audience: options.clientId,
    tokenType: "ID",
    clockToleranceS: options.clockToleranceS,
    fetchTimeoutMs: timeout,
  });

  const tokenRequest = async (form: Record<string, string>): Promise<TokenSet> => {
    const { token_endpoint } = await getDiscovery();
    let res: Response;
    try {
      res = await fetch(token_endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${
            btoa(
              `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
            )
          }`,
        },
        body: new URLSearchParams(form),
        signal: AbortSignal.timeout(timeout),
      });
    } catch (err) {
      throw new LoginError("unavailable", `cannot reach the token endpoint ${token_endpoint}`, {
        cause: err,
      });
    }
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text);
    } catch { /* reported below with the status */ }
    if (!res.ok || typeof body.access_token !== "string") {
      throw new LoginError(
        "token_request",
        `the token endpoint refused (${res.status}): ${
          String(body.error_description ?? body.error ?? text.slice(0, 200))
        }`,
      );
    }
    if (typeof body.id_token !== "string") {
      throw new LoginError("id_token", "the token response has no id_token (scope openid?)");
    }
    return {
      accessToken: body.access_token,
      expiresIn: Number(body.expires_in ?? 60),
      refreshToken: typeof body.refresh_token === "string" ? body.refresh_token : undefined,
      refreshExpiresIn: typeof body.refresh_expires_in === "number" && body.refresh_expires_in > 0
        ? body.refresh_expires_in
        : undefined,
      idToken: body.id_token,
    };
  };

  return {
    issuer,
    clientId: options.clientId,
    origin: () => new URL(issuer).origin,
    async startLogin() {
      const d = await getDiscovery();
      const pending: PendingLogin = {
        state: randomString(),
        nonce: randomString(),
        codeVerifier: randomString(48),
      };
      const url = new URL(d.authorization_endpoint);
      url.searchParams.set("response_type", "code");
      url.searchParams.set("client_id", options.clientId);
      url.searchParams.set("redirect_uri", options.redirectUri);
      url.searchParams.set("scope", "openid");
      url.searchParams.set("state", pending.state);
      url.searchParams.set("nonce", pending.nonce);
      url.searchParams.set("code_challenge", await pkceChallenge(pending.codeVerifier));
      url.searchParams.set("code_challenge_method", "S256");
      return { url: url.toString(), pending };
    },
    async finishLogin(callback, pending) {
      const state = callback.get("state") ?? "";
      if (!safeEqual(state, pending.state)) {
        throw new LoginError("state", "the login's state does not match: start the login again");
      }
      const error = callback.get("error");
      if (error) {
        throw new LoginError(
          "issuer_error",
          `the identity provider refused the login: ${error} ${
            callback.get("error_description") ?? ""
          }`.trim(),
        );
      }
      const iss = callback.get("iss");
      if (iss !== null && iss !== issuer) {
        throw new LoginError("issuer_error", `the callback names issuer ${iss}, not ${issuer}`);
      }
      const code = callback.get("code");
      if (!code) throw new LoginError("issuer_error", "the callback carries no code");
      const tokens = await tokenRequest({
        grant_type: "authorization_code",
        code,
        redirect_uri: options.redirectUri,
        code_verifier: pending.codeVerifier,
      });
      let nonce: unknown;
      try {
        ({ payload: { nonce } } = await idVerifier.verify(tokens.idToken));
      } catch (err) {
        if (err instanceof AuthError && err.failure === "unavailable") {
          throw new LoginError("unavailable", err.message, { cause: err });
        }
        throw new LoginError("id_token", `the ID token is not valid: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (typeof nonce !== "string" || !safeEqual(nonce, pending.nonce)) {
        throw new LoginError("nonce", "the ID token's nonce does not match: start the login again");
      }
      return tokens;
    },
    refresh(refreshToken) {
      return tokenRequest({ grant_type: "refresh_token", refresh_token: refreshToken });
    },
    async logoutUrl(idToken) {
      const d = await getDiscovery();
      if (!d.end_session_endpoint) {
        throw new LoginError("unavailable", `${issuer} has no end_session_endpoint`);
      }
      const url = new URL(d.end_session_endpoint);
      url.searchParams.set("id_token_hint", idToken);
      url.searchParams.set("post_logout_redirect_uri", options.postLogoutRedirectUri);
      url.searchParams.set("client_id", options.clientId);
      return url.toString();
    },
  };
}
