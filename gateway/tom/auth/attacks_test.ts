/**
 * The JWT attack suite: every forged, mangled or misdirected token is refused
 * with 401, a JSON body and `WWW-Authenticate`, by the same middleware, against
 * the real local Keycloak (realm `kb`) and against the development issuer (whose
 * key the test holds, so it can sign well-formed tokens with bad claims).
 * Positive controls in each group make sure the suite can fail.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import {
  base64url,
  decodeJwt,
  exportSPKI,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  SignJWT,
} from "jose";
import { bearerAuth, requireAccess } from "./middleware.ts";
import { createDevIssuer, type DevIssuer } from "./dev_issuer.ts";
import { createJwtVerifier, type VerifierOptions } from "./verifier.ts";
import { clientToken, keycloak, passwordToken } from "../testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function appFor(options: VerifierOptions) {
  const app = new Hono();
  app.use("/api/*", bearerAuth(createJwtVerifier(options)));
  app.get("/api/read", requireAccess("read"), (c) => c.json({ ok: true }));
  app.get("/api/delete", requireAccess("delete"), (c) => c.json({ ok: true }));
  return app;
}

async function call(app: Hono, auth: string | undefined, path = "/api/read") {
  const res = await app.request(path, {
    headers: auth === undefined ? {} : { authorization: auth },
  });
  const body = await res.json();
  return { status: res.status, body, challenge: res.headers.get("www-authenticate") ?? "" };
}

async function assertRejected(app: Hono, auth: string | undefined, what: string) {
  const r = await call(app, auth);
  assert.equal(r.status, 401, `${what}: expected 401, got ${r.status} ${JSON.stringify(r.body)}`);
  assert.match(r.challenge, /^Bearer realm="kb-tom"/, `${what}: WWW-Authenticate`);
  assert.equal(typeof r.body.error, "string", `${what}: JSON error`);
  assert.equal(typeof r.body.message, "string", `${what}: JSON message`);
  return r;
}

const b64json = (v: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(v)));

/** Serves a development issuer on a free port (its JWKS must be fetched over HTTP). */
async function serveDevIssuer(): Promise<{ dev: DevIssuer; stop: () => Promise<void> }> {
  const holder: { dev?: DevIssuer } = {};
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const u = new URL(req.url);
    u.pathname = u.pathname.replace(/^\/dev-oidc/, "") || "/";
    return holder.dev!.app.fetch(new Request(u, req));
  });
  const port = (server.addr as Deno.NetAddr).port;
  const dev = await createDevIssuer({
    issuer: `http://127.0.0.1:${port}/dev-oidc`,
    audience: "kb-tom",
  });
  holder.dev = dev;
  return { dev, stop: () => server.shutdown() };
}

Deno.test("JWT attacks against the development issuer are refused with 401", opts, async () => {
  const { dev, stop } = await serveDevIssuer();
  try {
    const app = appFor({ issuer: dev.issuer, audience: "kb-tom", jwksCooldownMs: 0 });
    const now = Math.floor(Date.now() / 1000);
    const good: JWTPayload = {
      iss: dev.issuer,
      aud: "kb-tom",
      sub: "u1",
      typ: "Bearer",
      iat: now,
      exp: now + 300,
      realm_access: { roles: ["admin"] },
    };
    // Positive control: a well-formed token passes, so every refusal below is meaningful.
    assert.equal((await call(app, `Bearer ${await dev.sign(good)}`)).status, 200);
    assert.equal((await call(app, `Bearer ${await dev.tokenFor("observer")}`)).status, 200);

    await assertRejected(
      app,
      `Bearer ${b64json({ alg: "none", typ: "JWT" })}.${b64json(good)}.`,
      "alg none",
    );
    await assertRejected(app, `Bearer ${b64json({ alg: "None" })}.${b64json(good)}.`, "alg None");
    const wrongIss = await assertRejected(
      app,
      `Bearer ${await dev.sign({ ...good, iss: "http://127.0.0.1:1/realms/evil" })}`,
      "wrong iss",
    );
    assert.equal(wrongIss.body.error, "invalid_token");
    await assertRejected(
      app,
      `Bearer ${await dev.sign({ ...good, aud: "another-service" })}`,
      "wrong aud",
    );
    await assertRejected(app, `Bearer ${await dev.sign({ ...good, aud: undefined })}`, "no aud");
    const expired = await assertRejected(
      app,
      `Bearer ${await dev.sign({ ...good, iat: now - 900, exp: now - 120 })}`,
      "expired",
    );
    assert.match(expired.challenge, /error="invalid_token", error_description="token expired"/);
    // Within the clock skew (30 s) an just-expired token is still accepted.
    assert.equal(
      (await call(app, `Bearer ${await dev.sign({ ...good, exp: now - 5 })}`)).status,
      200,
    );
    await assertRejected(
      app,
      `Bearer ${await dev.sign({ ...good, nbf: now + 120 })}`,
      "not yet valid",
    );
    await assertRejected(app, `Bearer ${await dev.sign({ ...good, exp: undefined })}`, "no exp");
    await assertRejected(app, `Bearer ${await dev.sign({ ...good, typ: "ID" })}`, "ID token");
    await assertRejected(
      app,
      `Bearer ${await dev.sign({ ...good, typ: "Refresh" })}`,
      "refresh token",
    );

    // A key the issuer never published, with an unknown kid and with the real kid.
    const rogue = await generateKeyPair("RS256");
    const forged = (kid: string) =>
      new SignJWT(good).setProtectedHeader({ alg: "RS256", kid }).sign(rogue.privateKey);
    const unknown = await assertRejected(app, `Bearer ${await forged("rogue-kid")}`, "unknown kid");
    assert.match(unknown.body.message, /no key/);
    await assertRejected(app, `Bearer ${await forged(dev.kid())}`, "rogue key, real kid");
    // HS256 with the issuer's public key as the HMAC secret.
    const jwks = await (await fetch(`${dev.issuer}/protocol/openid-connect/certs`)).json();
    const pub = await importJWK(jwks.keys[0] as JWK, "RS256", { extractable: true });
    const pem = new TextEncoder().encode(await exportSPKI(pub as CryptoKey));
    const hs = await new SignJWT(good).setProtectedHeader({ alg: "HS256", kid: dev.kid() }).sign(
      pem,
    );
    await assertRejected(app, `Bearer ${hs}`, "HS256 with the public key");
    // Tampered payload: a valid observer token with admin added.
    const obs = await dev.tokenFor("observer");
    const [h, , s] = obs.split(".");
    const claims = decodeJwt(obs);
    const tampered = `${h}.${b64json({ ...claims, realm_access: { roles: ["admin"] } })}.${s}`;
    await assertRejected(app, `Bearer ${tampered}`, "tampered payload");

    // Unknown kid after a key rotation: the key set is fetched again and the new key accepted.
    await dev.rotate();
    assert.equal((await call(app, `Bearer ${await dev.tokenFor("pi")}`)).status, 200);
    // ... and tokens of the retired key no longer are.
    await assertRejected(app, `Bearer ${await dev.sign(good, { kid: "retired" })}`, "retired kid");

    // Garbage and malformed headers.
    const missing = await assertRejected(app, undefined, "no header");
    assert.equal(missing.challenge, 'Bearer realm="kb-tom"');
    for (
      const g of [
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer ...",
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.",
        `Bearer ${"x".repeat(50)}.${"y".repeat(50)}.${"z".repeat(50)}`,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer \u00e9\u00e9.\u00e9.\u00e9",
        `Bearer ${b64json("not an object")}.${b64json(good)}.sig`,
      ]
    ) await assertRejected(app, g, `garbage ${JSON.stringify(g.slice(0, 40))}`);
    const oversize = await assertRejected(app, `Bearer ${"a".repeat(20_000)}`, "oversize header");
    assert.match(oversize.body.message, /longer than/);
    const bigHeader = `${b64json({ alg: "RS256", kid: "k".repeat(9000) })}.${b64json(good)}.sig`;
    await assertRejected(app, `Bearer ${bigHeader}`, "oversize JWT header");

    // 403, not 401, for a valid token without the role.
    const r = await call(app, `Bearer ${await dev.tokenFor("observer")}`, "/api/delete");
    assert.equal(r.status, 403);
    assert.match(r.challenge, /error="insufficient_scope"/);
    assert.equal(r.body.required_role, "admin");
  } finally {
    await stop();
  }
});

Deno.test("JWT attacks against the real Keycloak are refused with 401", opts, async () => {
  const kc = keycloak();
  let clock: Date | undefined;
  const app = appFor({
    issuer: kc.issuer,
    audience: kc.audience,
    jwksCooldownMs: 0,
    now: () => clock ?? new Date(),
  });
  const pi = await passwordToken(kc.issuer, kc.testClient, "pi", kc.users.pi);
  const svc = await clientToken(kc.issuer, kc.apiClient);
  // Positive controls: a user's and a program's tokens pass.
  assert.equal((await call(app, `Bearer ${pi}`)).status, 200);
  assert.equal((await call(app, `Bearer ${svc}`)).status, 200);

  const claims = decodeJwt(pi);
  const [h, p, s] = pi.split(".");
  await assertRejected(app, `Bearer ${b64json({ alg: "none", typ: "JWT" })}.${p}.`, "alg none");
  const tampered = await assertRejected(
    app,
    `Bearer ${h}.${b64json({ ...claims, realm_access: { roles: ["admin"] } })}.${s}`,
    "tampered payload",
  );
  assert.match(tampered.body.message, /signature verification failed/);
  await assertRejected(app, `Bearer ${h}.${p}.${s.slice(0, -4)}AAAA`, "tampered signature");
  // HS256 signed with Keycloak's RSA public key (PEM and raw modulus as the secret).
  const jwks = await (await fetch(`${kc.issuer}/protocol/openid-connect/certs`)).json();
  const rsa = (jwks.keys as JWK[]).find((k) => k.kty === "RSA" && k.use !== "enc")!;
  const pub = await importJWK({ ...rsa, alg: "RS256" }, "RS256", { extractable: true });
  const pem = new TextEncoder().encode(await exportSPKI(pub as CryptoKey));
  for (const secret of [pem, base64url.decode(rsa.n!)]) {
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: rsa.kid })
      .sign(secret);
    const r = await assertRejected(app, `Bearer ${hs}`, "HS256 with the public key");
    assert.match(r.body.message, /algorithm "HS256" is not accepted/);
  }
  // A key Keycloak never published.
  const rogue = await generateKeyPair("RS256");
  for (const kid of ["unknown-kid", rsa.kid!]) {
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid })
      .sign(rogue.privateKey);
    await assertRejected(app, `Bearer ${forged}`, `rogue key, kid ${kid}`);
  }
  // Another realm of the same server (its own keys and issuer; it even has the audience).
  const other = await passwordToken(kc.otherIssuer, kc.testClient, "intruder", "intruder-pw");
  assert.equal(decodeJwt(other).aud, kc.audience);
  await assertRejected(app, `Bearer ${other}`, "token from another realm");
  // A real token of the right realm without the TOM's audience.
  const noAud = await passwordToken(kc.issuer, kc.noAudClient, "admin", kc.users.admin);
  const r = await assertRejected(app, `Bearer ${noAud}`, "wrong aud");
  assert.match(r.body.message, /aud/);
  // Expired: the same real token, with the verifier's clock past exp + skew.
  clock = new Date((Number(claims.exp) + 31) * 1000);
  const expired = await assertRejected(app, `Bearer ${pi}`, "expired");
  assert.match(expired.body.message, /expired/);
  // Not yet valid: issued "in the future" relative to the verifier's clock has no
  // nbf in Keycloak tokens; the dev-issuer suite covers nbf. Back to now:
  clock = undefined;
  assert.equal((await call(app, `Bearer ${pi}`)).status, 200);
  // Wrong issuer configured: the same valid token is refused.
  const wrongIssuer = appFor({
    issuer: kc.otherIssuer,
    audience: kc.audience,
    jwksCooldownMs: 0,
  });
  await assertRejected(wrongIssuer, `Bearer ${pi}`, "issuer mismatch");
  await assertRejected(app, "Bearer garbage", "garbage");
  await assertRejected(app, `Bearer ${"a".repeat(20_000)}`, "oversize");
  // 403 for a real user without the role.
  const obs = await passwordToken(kc.issuer, kc.testClient, "observer", kc.users.observer);
  assert.equal((await call(app, `Bearer ${obs}`, "/api/delete")).status, 403);
});

Deno.test("an unreachable identity provider answers 503, not 401", opts, async () => {
  const app = appFor({
    issuer: "http://127.0.0.1:9/realms/none",
    audience: "kb-tom",
    fetchTimeoutMs: 500,
  });
  const now = Math.floor(Date.now() / 1000);
  const { privateKey } = await generateKeyPair("RS256");
  const t = await new SignJWT({ iss: "x", sub: "s", exp: now + 60 }).setProtectedHeader({
    alg: "RS256",
    kid: "k",
  }).sign(privateKey);
  const res = await app.request("/api/read", { headers: { authorization: `Bearer ${t}` } });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "5");
  assert.equal((await res.json()).error, "unavailable");
});
