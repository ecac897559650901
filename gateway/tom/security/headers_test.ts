/** The security headers are exactly Hono's `secureHeaders` with this project's settings, plus CSP. */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { cspValue, JSON_CSP, SECURE_HEADERS, securityHeaders } from "./headers.ts";

const headersOf = async (mw: Parameters<Hono["use"]>[1]) => {
  const app = new Hono();
  app.use("*", mw);
  app.get("/x", (c) => {
    c.header("X-Powered-By", "something");
    return c.json({ ok: true });
  });
  const res = await app.request("http://localhost/x");
  await res.body?.cancel();
  return [...res.headers];
};

Deno.test("security headers: Hono's secureHeaders with our settings, then the CSP", async () => {
  const hono = await headersOf(secureHeaders({
    strictTransportSecurity: false,
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    crossOriginResourcePolicy: "same-origin",
    crossOriginOpenerPolicy: "same-origin",
    permissionsPolicy: {},
    removePoweredBy: true,
  }));
  const ours = await headersOf(securityHeaders());
  assert.deepEqual(
    ours,
    [...hono, ["content-security-policy", cspValue(JSON_CSP)]].sort((a, b) => a[0] < b[0] ? -1 : 1),
  );
  assert.ok(!ours.some(([k]) => k === "x-powered-by"));
  assert.equal(SECURE_HEADERS.length, 10);
});

Deno.test("security headers: HSTS over TLS only (auto), always (on)", async () => {
  const app = (hsts: "auto" | "on") => {
    const a = new Hono();
    a.use("*", securityHeaders({ hsts }));
    a.get("/x", (c) => c.text("ok"));
    return a;
  };
  for (
    const [hsts, url, want] of [
      ["auto", "http://localhost/x", null],
      ["auto", "https://localhost/x", "max-age=31536000; includeSubDomains"],
      ["on", "http://localhost/x", "max-age=31536000; includeSubDomains"],
    ] as const
  ) {
    const res = await app(hsts).request(url);
    await res.body?.cancel();
    assert.equal(res.headers.get("strict-transport-security"), want, `${hsts} ${url}`);
  }
});
