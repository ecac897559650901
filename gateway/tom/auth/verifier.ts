/**
 * Verifies bearer JWTs against an OpenID Connect issuer's JSON Web Key Set with
 * jose: the key set is found by discovery (`<issuer>/.well-known/openid-configuration`
 * → `jwks_uri`), cached, and fetched again when a token names an unknown `kid`
 * (at most once per cooldown). Checks: signature with an allow-list of
 * algorithms, `iss`, `aud`, `exp` and `nbf` with a small clock skew, `typ`
 * (access tokens only) and the presence of `sub`.
 *
 * Keycloak and the built-in development issuer ({@link DevIssuer}) are verified
 * by the very same code.
 *
 * @module
 */
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import { type Principal, tomRoles } from "./roles.ts";

/** Signature algorithms accepted (asymmetric only: a shared-secret HS* token is never valid). */
export const ALLOWED_ALGORITHMS = ["RS256", "ES256"] as const;

/** Longest `Authorization` header accepted, in bytes. */
export const MAX_AUTHORIZATION_BYTES = 8192;

/** Options of {@link createJwtVerifier}. */
export interface VerifierOptions {
  /** Expected `iss`, exactly as the issuer writes it (Keycloak: `<url>/realms/<realm>`). */
  readonly issuer: string;
  /** Expected `aud` (one of the token's audiences). */
  readonly audience: string;
  /** JWKS URL; default: found by OIDC discovery from the issuer. */
  readonly jwksUrl?: string;
  /** Clock skew tolerated on `exp`/`nbf`, seconds (default 30). */
  readonly clockToleranceS?: number;
  /** Shortest time between two key-set fetches, ms (default 30 000; tests use 0). */
  readonly jwksCooldownMs?: number;
  /** How long a fetched key set is trusted without a refetch, ms (default 10 minutes). */
  readonly jwksMaxAgeMs?: number;
  /** Timeout of a discovery or key-set fetch, ms (default 5 000). */
  readonly fetchTimeoutMs?: number;
  /** The verifier's clock (tests). */
  readonly now?: () => Date;
  /**
   * Kind of token verified: `Bearer` (default: access tokens; any other `typ` is
   * refused) or `ID` (OpenID Connect ID tokens, for the web login: `typ` must be
   * `ID` when present; the audience is then the client id).
   */
  readonly tokenType?: "Bearer" | "ID";
  /**
   * How long a verified token is remembered, ms (default 30 000; 0 turns the
   * cache off). A repeated token string is then accepted without a signature
   * check until the earlier of this and its own `exp` (+ clock skew); see
   * {@link createJwtVerifier}.
   */
  readonly cacheMs?: number;
  /** Most tokens remembered (default 10 000; the oldest is dropped first). */
  readonly cacheMax?: number;
}

/** Why a token was refused. `unavailable` means the issuer could not be reached (HTTP 503). */
export type AuthFailure =
  | "missing"
  | "malformed"
  | "oversize"
  | "algorithm"
  | "signature"
  | "unknown_key"
  | "expired"
  | "not_yet_valid"
  | "issuer"
  | "audience"
  | "claims"
  | "unavailable";

/** A refused token, with a message fit for the client. */
export class AuthError extends Error {
  constructor(readonly failure: AuthFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AuthError";
  }
}

/** A verified token. */
export interface Verified {
  readonly principal: Principal;
  readonly payload: JWTPayload;
}

/** Verifies tokens of one issuer and audience. */
export interface JwtVerifier {
  readonly issuer: string;
  readonly audience: string;
  /** Verifies a compact JWS; throws {@link AuthError}. */
  verify(token: string): Promise<Verified>;
}

/** Fetches JSON with a timeout, failing with what was asked and what went wrong. */
async function fetchJson(url: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET ${url} answered ${res.status}`);
  }
  return await res.json();
}

/**
 * Builds a verifier. Nothing is fetched until the first token arrives.
 *
 * Verified tokens are remembered by their exact compact string (header,
 * payload and signature: any change is a different key and is verified in
 * full) for `cacheMs` (default 30 s): an RS256 signature check costs 0.3–0.5 ms
 * of CPU, more than the rest of a typical API request, and programs send the
 * same token for minutes. A remembered token is re-checked against `exp`/`nbf`
 * (with the clock skew, on the verifier's clock) on every use and verified in
 * full again once stale; only tokens that passed every check are remembered.
 * What the cache gives up: a key withdrawn from the issuer's key set is
 * noticed for a remembered token up to `cacheMs` later (tokens themselves
 * cannot be revoked early under either scheme).
 */
export function createJwtVerifier(options: VerifierOptions): JwtVerifier {
  const issuer = options.issuer;
  const fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
  const skewS = options.clockToleranceS ?? 30;
  const cacheMs = options.cacheMs ?? 30_000;
  const cacheMax = options.cacheMax ?? 10_000;
  /** Token → verified result and when the entry goes stale (ms since epoch). Insertion-ordered. */
  const cache = new Map<string, { verified: Verified; staleAt: number }>();
  const nowMs = () => options.now?.().getTime() ?? Date.now();
  const remembered = (token: string): Verified | undefined => {
    if (cacheMs <= 0) return undefined;
    const hit = cache.get(token);
    if (!hit) return undefined;
    const now = nowMs();
    const { exp, nbf } = hit.verified.payload;
    const valid = now < hit.staleAt && now <= (Number(exp) + skewS) * 1000 &&
      (nbf === undefined || now >= (Number(nbf) - skewS) * 1000);
    if (valid) return hit.verified;
    cache.delete(token);
    return undefined;
  };
  const remember = (token: string, verified: Verified): void => {
    if (cacheMs <= 0) return;
    if (cache.size >= cacheMax) cache.delete(cache.keys().next().value!);
    cache.set(token, { verified, staleAt: nowMs() + cacheMs });
  };
  let keySet: Promise<JWTVerifyGetKey> | undefined;

  const getKeySet = (): Promise<JWTVerifyGetKey> => {
    keySet ??= (async () => {
      let jwksUrl = options.jwksUrl;
      if (!jwksUrl) {
        const discovery = await fetchJson(
          `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`,
          fetchTimeoutMs,
        );
        if (discovery.issuer !== issuer) {
          throw new Error(
            `the discovery document of ${issuer} names issuer ${
              JSON.stringify(discovery.issuer)
            }: set KB_OIDC_ISSUER to exactly the issuer the server writes into its tokens`,
          );
        }
        if (typeof discovery.jwks_uri !== "string") {
          throw new Error(`the discovery document of ${issuer} has no jwks_uri`);
        }
        jwksUrl = discovery.jwks_uri;
      }
      return createRemoteJWKSet(new URL(jwksUrl), {
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
        cacheMaxAge: options.jwksMaxAgeMs ?? 600_000,
        timeoutDuration: fetchTimeoutMs,
      });
    })();
    // A failed discovery is retried on the next token, not cached.
    keySet.catch(() => (keySet = undefined));
    return keySet;
  };

  return {
    issuer,
    audience: options.audience,
    async verify(token: string): Promise<Verified> {
      if (token.length > MAX_AUTHORIZATION_BYTES) {
        throw new AuthError("oversize", `token longer than ${MAX_AUTHORIZATION_BYTES} bytes`);
      }
      // A remembered token is this exact string, which passed every check below.
      const known = remembered(token);
      if (known) return known;
      if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
        throw new AuthError("malformed", "not a compact JWS (header.payload.signature)");
      }
      let alg: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch (err) {
        throw new AuthError("malformed", "the token header is not valid base64url JSON", {
          cause: err,
        });
      }
      if (!(ALLOWED_ALGORITHMS as readonly unknown[]).includes(alg)) {
        throw new AuthError(
          "algorithm",
          `algorithm ${JSON.stringify(alg)} is not accepted (use ${ALLOWED_ALGORITHMS.join(", ")})`,
        );
      }
      let getKey: JWTVerifyGetKey;
      try {
        getKey = await getKeySet();
      } catch (err) {
        throw new AuthError(
          "unavailable",
          `cannot reach the identity provider's keys: ${(err as Error).message}`,
          { cause: err },
        );
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          issuer,
          audience: options.audience,
          algorithms: [...ALLOWED_ALGORITHMS],
          clockTolerance: skewS,
          requiredClaims: ["exp", "sub"],
          currentDate: options.now?.(),
        }));
      } catch (err) {
        throw mapJoseError(err);
      }
      const wanted = options.tokenType ?? "Bearer";
      if (payload.typ !== undefined && payload.typ !== wanted) {
        throw new AuthError(
          "claims",
          wanted === "Bearer"
            ? `a ${JSON.stringify(payload.typ)} token is not an access token: send the access token`
            : `a ${JSON.stringify(payload.typ)} token is not an ID token`,
        );
      }
      // Frozen: a remembered result is shared by every request carrying the token.
      const principal = principalOf(payload);
      Object.freeze(principal.roles);
      Object.freeze(principal.groups);
      const verified = { payload: Object.freeze(payload), principal: Object.freeze(principal) };
      remember(token, verified);
      return verified;
    },
  };
}

/** The caller described by a verified payload. */
export function principalOf(payload: JWTPayload): Principal {
  const realm = payload.realm_access as { roles?: unknown } | undefined;
  const roleNames = Array.isArray(realm?.roles) ? realm.roles : [];
  const groups = Array.isArray(payload.groups)
    ? payload.groups.filter((g): g is string => typeof g === "string").map((g) =>
      g.replace(/^\//, "")
    )
    : [];
  return {
    subject: String(payload.sub),
    username: typeof payload.preferred_username === "string"
      ? payload.preferred_username
      : String(payload.sub),
    clientId: typeof payload.azp === "string" ? payload.azp : null,
    roles: tomRoles(roleNames),
    groups,
    expiresAt: Number(payload.exp),
  };
}

function mapJoseError(err: unknown): AuthError {
  const o = { cause: err };
  if (err instanceof errors.JWTExpired) return new AuthError("expired", "token expired", o);
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "nbf":
        return new AuthError("not_yet_valid", "token not valid yet (nbf)", o);
      case "iss":
        return new AuthError("issuer", "token from an issuer this service does not trust", o);
      case "aud":
        return new AuthError("audience", "token not meant for this service (aud)", o);
      default:
        return new AuthError("claims", `invalid claim ${err.claim}: ${err.reason}`, o);
    }
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return new AuthError("unknown_key", "no key of the identity provider matches the token", o);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new AuthError("signature", "signature verification failed", o);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new AuthError("algorithm", "algorithm not accepted", o);
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return new AuthError("unavailable", `identity provider keys: ${(err as Error).message}`, o);
  }
  if (err instanceof errors.JOSEError) {
    return new AuthError("malformed", `invalid token (${err.code})`, o);
  }
  if (err instanceof TypeError || (err as Error)?.name === "AbortError") {
    // fetch of the key set failed (network).
    return new AuthError("unavailable", `identity provider keys: ${(err as Error).message}`, o);
  }
  return new AuthError("malformed", `invalid token: ${(err as Error)?.message ?? err}`, o);
}
