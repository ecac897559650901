/**
 * The TOM's hardening on a running TOM (real PostgreSQL, tokens of the TOM's
 * development issuer): strict CORS, security headers on every kind of
 * response, 429 after the configured burst (per token and per address) with
 * Retry-After, 413 on oversized bodies (declared and streamed).
 */
import assert from "node:assert/strict";
import { createTestDatabase, startTestTom } from "../testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function withTom(
  env: Record<string, string>,
  fn: (tom: Awaited<ReturnType<typeof startTestTom>>) => Promise<void>,
) {
  const db = await createTestDatabase("tom_sec");
  const tom = await startTestTom({ KB_DATABASE_URL: db.url, ...env });
  try {
    await fn(tom);
  } finally {
    await tom.stop();
    await db.drop();
  }
}

const ALLOWED = "https://tom-ui.example.org";
const FOREIGN = "https://evil.example.net";

Deno.test(
  "CORS: a foreign preflight is refused, an allowed origin gets its headers",
  opts,
  () =>
    withTom({ KB_TOM_CORS_ORIGINS: `${ALLOWED}, https://second.example.org` }, async (tom) => {
      const preflight = (origin: string) =>
        fetch(`${tom.url}/api/targets/`, {
          method: "OPTIONS",
          headers: {
            Origin: origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
          },
        });
      const bad = await preflight(FOREIGN);
      assert.equal(bad.status, 403);
      assert.equal(bad.headers.get("access-control-allow-origin"), null);
      assert.equal(bad.headers.get("access-control-allow-methods"), null);
      const body = await bad.json();
      assert.equal(body.error, "cors_refused");
      assert.match(body.message, /KB_TOM_CORS_ORIGINS/);

      const good = await preflight(ALLOWED);
      await good.body?.cancel();
      assert.equal(good.status, 204);
      assert.equal(good.headers.get("access-control-allow-origin"), ALLOWED);
      assert.match(good.headers.get("access-control-allow-methods") ?? "", /POST/);
      assert.match(good.headers.get("access-control-allow-headers") ?? "", /Authorization/);
      assert.equal(good.headers.get("access-control-allow-credentials"), null);
      assert.match(good.headers.get("vary") ?? "", /Origin/);

      // Actual requests: the allowed origin may read the answer, a foreign one may not.
      const token = await tom.devIssuer!.tokenFor("observer");
      const get = (origin: string) =>
        fetch(`${tom.url}/api/targets/`, {
          headers: { Origin: origin, Authorization: `Bearer ${token}` },
        });
      const a = await get(ALLOWED);
      await a.body?.cancel();
      assert.equal(a.status, 200);
      assert.equal(a.headers.get("access-control-allow-origin"), ALLOWED);
      assert.match(a.headers.get("access-control-expose-headers") ?? "", /Retry-After/);
      const f = await get(FOREIGN);
      await f.body?.cancel();
      assert.equal(f.headers.get("access-control-allow-origin"), null);
    }),
);

Deno.test(
  "CORS: with no origins configured every cross-origin preflight is refused",
  opts,
  () =>
    withTom({}, async (tom) => {
      const res = await fetch(`${tom.url}/api/observations/`, {
        method: "OPTIONS",
        headers: {
          Origin: tom.url.replace("127.0.0.1", "localhost"),
          "Access-Control-Request-Method": "GET",
        },
      });
      await res.body?.cancel();
      assert.equal(res.status, 403);
      assert.equal(res.headers.get("access-control-allow-origin"), null);
    }),
);

function assertSecurityHeaders(res: Response, what: string) {
  const h = (n: string) => res.headers.get(n);
  assert.equal(h("x-content-type-options"), "nosniff", what);
  assert.equal(h("referrer-policy"), "no-referrer", what);
  assert.equal(h("x-frame-options"), "DENY", what);
  assert.match(h("content-security-policy") ?? "", /frame-ancestors 'none'/, what);
  assert.match(h("x-request-id") ?? "", /^[\w-]{8,}$/, what);
}

Deno.test(
  "security headers on every response: 200, 401, 404, 400, docs; HSTS only on TLS",
  opts,
  () =>
    withTom({}, async (tom) => {
      const token = await tom.devIssuer!.tokenFor("observer");
      const auth = { Authorization: `Bearer ${token}` };
      const cases: [string, string, RequestInit, number][] = [
        ["list", "/api/targets/", { headers: auth }, 200],
        ["no token", "/api/targets/", {}, 401],
        ["not found", "/api/nothing-here", { headers: auth }, 404],
        ["bad query", "/api/targets/?limit=0", { headers: auth }, 400],
        ["health", "/healthz", {}, 200],
        ["openapi", "/openapi.json", {}, 200],
      ];
      for (const [what, path, init, status] of cases) {
        const res = await fetch(`${tom.url}${path}`, init);
        await res.body?.cancel();
        assert.equal(res.status, status, what);
        assertSecurityHeaders(res, what);
        assert.match(res.headers.get("content-security-policy")!, /default-src 'none'/, what);
        assert.equal(res.headers.get("strict-transport-security"), null, `${what}: http, no HSTS`);
      }
      // A request id the client sends is kept (for correlating logs and audit rows).
      const mine = await fetch(`${tom.url}/healthz`, {
        headers: { "X-Request-Id": "abc-123-xyz" },
      });
      await mine.body?.cancel();
      assert.equal(mine.headers.get("x-request-id"), "abc-123-xyz");

      // Swagger UI: its inline script allowed by hash, never 'unsafe-inline'.
      const docs = await fetch(`${tom.url}/docs`);
      const html = await docs.text();
      assert.match(html, /<script>/);
      assertSecurityHeaders(docs, "docs");
      const csp = docs.headers.get("content-security-policy")!;
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src [^;]*'sha256-[A-Za-z0-9+/=]{44}'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    }),
);

Deno.test(
  "HSTS when forced on (TLS terminated in front of the TOM)",
  opts,
  () =>
    withTom({ KB_TOM_HSTS: "on" }, async (tom) => {
      const res = await fetch(`${tom.url}/healthz`);
      await res.body?.cancel();
      assert.match(res.headers.get("strict-transport-security") ?? "", /^max-age=31536000/);
    }),
);

Deno.test(
  "HSTS auto: from a trusted proxy's X-Forwarded-Proto https, not from a client's",
  opts,
  async () => {
    await withTom({ KB_TOM_TRUST_PROXY_HOPS: "1" }, async (tom) => {
      const res = await fetch(`${tom.url}/healthz`, { headers: { "X-Forwarded-Proto": "https" } });
      await res.body?.cancel();
      assert.match(res.headers.get("strict-transport-security") ?? "", /^max-age=/);
    });
    await withTom({}, async (tom) => {
      const res = await fetch(`${tom.url}/healthz`, { headers: { "X-Forwarded-Proto": "https" } });
      await res.body?.cancel();
      assert.equal(res.headers.get("strict-transport-security"), null);
    });
  },
);

Deno.test(
  "rate limit per token: 429 with Retry-After after the burst; other tokens unaffected",
  opts,
  () =>
    withTom({
      KB_TOM_RATE_LIMIT_BURST: "5",
      KB_TOM_RATE_LIMIT_PER_S: "0.1",
    }, async (tom) => {
      const pi = await tom.devIssuer!.tokenFor("pi");
      const observer = await tom.devIssuer!.tokenFor("observer");
      const get = (t: string) =>
        fetch(`${tom.url}/api/targets/?limit=1`, { headers: { Authorization: `Bearer ${t}` } });
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) {
        const res = await get(pi);
        statuses.push(res.status);
        if (res.status === 429) {
          assert.equal(res.headers.get("retry-after"), "10");
          assertSecurityHeaders(res, "429");
          const body = await res.json();
          assert.equal(body.error, "rate_limited");
          assert.match(body.message, /wait 10 s/);
        } else {
          assert.equal(res.headers.get("ratelimit-remaining"), String(4 - i));
          await res.body?.cancel();
        }
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
      const other = await get(observer);
      await other.body?.cancel();
      assert.equal(other.status, 200, "another token has its own bucket");
    }),
);

Deno.test(
  "rate limit per address: 429 before authentication",
  opts,
  () =>
    withTom({ KB_TOM_RATE_LIMIT_IP_BURST: "3", KB_TOM_RATE_LIMIT_IP_PER_S: "0.5" }, async (tom) => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${tom.url}/api/targets/`, {
          headers: { Authorization: "Bearer not-a-token" },
        });
        statuses.push(res.status);
        if (res.status === 429) {
          assert.equal(res.headers.get("retry-after"), "2");
          assert.match((await res.json()).message, /client address/);
        } else await res.body?.cancel();
      }
      assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
      // Health checks are never throttled.
      const h = await fetch(`${tom.url}/healthz`);
      await h.body?.cancel();
      assert.equal(h.status, 200);
    }),
);

Deno.test(
  "rate limit off: no limit, no RateLimit headers",
  opts,
  () =>
    withTom({ KB_TOM_RATE_LIMIT: "false", KB_TOM_RATE_LIMIT_IP_BURST: "1" }, async (tom) => {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${tom.url}/api/targets/`);
        await res.body?.cancel();
        assert.equal(res.status, 401);
        assert.equal(res.headers.get("ratelimit-limit"), null);
      }
    }),
);

Deno.test(
  "body limit: 413 with a JSON body, declared or streamed",
  opts,
  () =>
    withTom({ KB_TOM_MAX_BODY_BYTES: "65536" }, async (tom) => {
      const token = await tom.devIssuer!.tokenFor("pi");
      const headers = { Authorization: `Bearer ${token}`, "content-type": "application/json" };
      // Valid JSON padded with whitespace: only the size is wrong.
      const big = JSON.stringify({ name: "big", ra: 1, dec: 1 }) + " ".repeat(70_000);
      const declared = await fetch(`${tom.url}/api/targets/`, {
        method: "POST",
        headers,
        body: big,
      });
      assert.equal(declared.status, 413);
      const body = await declared.json();
      assert.equal(body.error, "too_large");
      assert.equal(body.max_bytes, 65536);
      assertSecurityHeaders(declared, "413");

      // Chunked (no Content-Length): counted while reading.
      const bytes = new TextEncoder().encode(big);
      const stream = new ReadableStream<Uint8Array>({
        start(ctl) {
          for (let i = 0; i < bytes.length; i += 8192) ctl.enqueue(bytes.slice(i, i + 8192));
          ctl.close();
        },
      });
      const streamed = await fetch(`${tom.url}/api/targets/`, {
        method: "POST",
        headers,
        body: stream,
      });
      assert.equal(streamed.status, 413);
      assert.equal((await streamed.json()).error, "too_large");

      // Under the limit: accepted.
      const ok = await fetch(`${tom.url}/api/targets/`, {
        method: "POST",
        headers,
        body: JSON.stringify({ name: "small", ra: 1, dec: 1 }) + " ".repeat(60_000),
      });
      await ok.body?.cancel();
      assert.equal(ok.status, 201);
    }),
);
