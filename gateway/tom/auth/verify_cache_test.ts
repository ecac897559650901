/**
 * The verifier's cache of verified tokens: a remembered token skips the
 * signature check only while it is fresh, unexpired and byte-identical. The
 * cache is made observable by retiring the signing key: a remembered token of
 * the retired key is still accepted, a forgotten one is not.
 */
import assert from "node:assert/strict";
import { createDevIssuer, type DevIssuer } from "./dev_issuer.ts";
import { AuthError, createJwtVerifier, type VerifierOptions } from "./verifier.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A development issuer served on a free port (its key set is fetched over HTTP). */
async function serveDevIssuer(): Promise<{ dev: DevIssuer; stop: () => Promise<void> }> {
  const holder: { dev?: DevIssuer } = {};
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const u = new URL(req.url);
    u.pathname = u.pathname.replace(/^\/dev-oidc/, "") || "/";
    return holder.dev!.app.fetch(new Request(u, req));
  });
  const port = (server.addr as Deno.NetAddr).port;
  holder.dev = await createDevIssuer({
    issuer: `http://127.0.0.1:${port}/dev-oidc`,
    audience: "kb-tom",
  });
  return { dev: holder.dev, stop: () => server.shutdown() };
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AuthError) return err.failure;
    throw err;
  }
  return "accepted";
}

Deno.test(
  "verified tokens are remembered only while fresh, unexpired and identical",
  opts,
  async () => {
    const { dev, stop } = await serveDevIssuer();
    try {
      let clock = Date.now();
      const verifierWith = (o: Partial<VerifierOptions>) =>
        createJwtVerifier({
          issuer: dev.issuer,
          audience: "kb-tom",
          jwksCooldownMs: 0,
          now: () => new Date(clock),
          ...o,
        });
      const cached = verifierWith({ cacheMs: 10_000, cacheMax: 3 });
      const uncached = verifierWith({ cacheMs: 0 });
      const pi = await dev.tokenFor("pi");
      const observer = await dev.tokenFor("observer");
      const admin = await dev.tokenFor("admin");
      for (const v of [cached, uncached]) {
        assert.equal((await v.verify(pi)).principal.roles.includes("pi"), true);
      }
      await cached.verify(observer);
      await cached.verify(admin);

      // The key of these tokens leaves the key set; a token of the new key makes
      // both verifiers fetch the set again (and, cacheMax 3, drops the oldest entry: pi).
      await dev.rotate();
      const fresh = await dev.tokenFor("pi");
      for (const v of [cached, uncached]) assert.equal(await failure(v.verify(fresh)), "accepted");

      // Remembered: still accepted without a signature check. Not remembered: refused.
      assert.equal(await failure(cached.verify(admin)), "accepted");
      assert.equal(await failure(cached.verify(observer)), "accepted");
      assert.equal(await failure(cached.verify(pi)), "unknown_key", "evicted by cacheMax");
      assert.equal(await failure(uncached.verify(admin)), "unknown_key", "cache off");
      // A changed signature is another string: verified in full.
      const [h, p, s] = admin.split(".");
      const tampered = `${h}.${p}.${s.slice(0, -4)}${s.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
      assert.notEqual(await failure(cached.verify(tampered)), "accepted");

      // Stale after cacheMs: verified in full again (and refused: its key is gone).
      clock += 10_001;
      assert.equal(await failure(cached.verify(admin)), "unknown_key", "stale entry");
    } finally {
      await stop();
    }
  },
);

Deno.test("a remembered token is refused once expired, with the clock skew", opts, async () => {
  const { dev, stop } = await serveDevIssuer();
  try {
    let clock = Date.now();
    const v = createJwtVerifier({
      issuer: dev.issuer,
      audience: "kb-tom",
      clockToleranceS: 30,
      cacheMs: 3_600_000,
      now: () => new Date(clock),
    });
    const now = Math.floor(clock / 1000);
    const token = await dev.sign({
      iss: dev.issuer,
      aud: "kb-tom",
      sub: "u1",
      typ: "Bearer",
      iat: now,
      exp: now + 60,
      realm_access: { roles: ["observer"] },
    });
    assert.equal(await failure(v.verify(token)), "accepted");
    clock = (now + 60 + 29) * 1000;
    assert.equal(await failure(v.verify(token)), "accepted", "within the skew");
    clock = (now + 60 + 31) * 1000;
    assert.equal(await failure(v.verify(token)), "expired");
  } finally {
    await stop();
  }
});
