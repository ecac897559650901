/** Outside preflights, strictCors answers with exactly the headers of Hono's `cors`. */
import assert from "node:assert/strict";
import { Hono, type MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, strictCors } from "./cors.ts";

const ALLOWED = "https://tom.example.org";

const app = (mw: MiddlewareHandler) => {
  const a = new Hono();
  a.use("*", async (c, next) => {
    c.header("X-Request-Id", "r1"); // a header set before, as requestId does
    await next();
  });
  a.use("/api/*", mw);
  a.get("/api/ok", (c) => c.json({ ok: true }));
  a.get("/api/refused", (c) => {
    c.header("WWW-Authenticate", 'Bearer realm="kb-tom"');
    return c.json({ error: "unauthorized" }, 401);
  });
  a.get("/api/bytes", (c) => c.body(new Uint8Array([123, 125]), 200, { "content-type": "x/y" }));
  a.get("/api/throws", () => {
    throw new Error("boom");
  });
  a.onError((_e, c) => c.json({ error: "internal" }, 500));
  return a;
};

Deno.test("strictCors: the same headers as Hono's cors on every non-preflight response", async () => {
  const hono = app(cors({
    origin: (o) => (o === ALLOWED ? o : null),
    allowMethods: ["GET", "POST", "PATCH", "DELETE"],
    allowHeaders: CORS_ALLOW_HEADERS,
    exposeHeaders: CORS_EXPOSE_HEADERS,
    maxAge: 600,
    credentials: false,
  }));
  const ours = app(strictCors([ALLOWED]));
  for (const path of ["/api/ok", "/api/refused", "/api/bytes", "/api/throws", "/api/none"]) {
    for (const origin of [ALLOWED, "https://evil.example", undefined]) {
      for (const method of ["GET", "POST"]) {
        const init = { method, headers: origin ? { origin } : undefined };
        const [a, b] = [
          await hono.request(`http://localhost${path}`, init),
          await ours.request(`http://localhost${path}`, init),
        ];
        const what = `${method} ${path} from ${origin}`;
        assert.equal(b.status, a.status, what);
        assert.deepEqual([...b.headers], [...a.headers], what);
        assert.equal(await b.text(), await a.text(), what);
      }
    }
  }
  const res = await ours.request("http://localhost/api/ok", { headers: { origin: ALLOWED } });
  await res.body?.cancel();
  assert.equal(res.headers.get("access-control-allow-origin"), ALLOWED);
  assert.equal(res.headers.get("vary"), "Origin");
});
