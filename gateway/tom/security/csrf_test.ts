/**
 * CSRF helpers on a Hono app with a cookie session: a form post without the
 * token, with another session's token or from another site is refused; with
 * its token it passes (and the route can still read the form); Bearer
 * requests and requests without a session are exempt.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import {
  createCsrfToken,
  CSRF_FIELD,
  CSRF_HEADER,
  csrfKey,
  csrfProtection,
  generateCsrfSecret,
  verifyCsrfToken,
} from "./csrf.ts";

const ORIGIN = "https://tom.example.org";

async function app() {
  const key = await csrfKey(generateCsrfSecret());
  const a = new Hono();
  a.use(
    "*",
    csrfProtection({ key, sessionOf: (c) => getCookie(c, "kb_session"), trustedOrigins: [ORIGIN] }),
  );
  a.post("/targets/new", async (c) => {
    const form = await c.req.parseBody();
    return c.json({ created: form.name });
  });
  a.get("/form", (c) => c.text("form"));
  return { a, key };
}

const post = (
  a: Hono,
  body: Record<string, string>,
  headers: Record<string, string> = {},
) =>
  a.request("/targets/new", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(body),
  });

Deno.test("CSRF: a form post without a valid token is refused", async () => {
  const { a, key } = await app();
  const cookie = { cookie: "kb_session=s1", origin: ORIGIN };
  const none = await post(a, { name: "x" }, cookie);
  assert.equal(none.status, 403);
  assert.match((await none.json()).message, /no CSRF token/);

  const other = await createCsrfToken(key, "s2");
  const stolen = await post(a, { name: "x", [CSRF_FIELD]: other }, cookie);
  assert.equal(stolen.status, 403);
  assert.match((await stolen.json()).message, /not valid for this session/);

  const forged = await post(a, { name: "x", [CSRF_FIELD]: "abc.def" }, cookie);
  assert.equal(forged.status, 403);

  const mine = await createCsrfToken(key, "s1");
  const fromElsewhere = await post(a, { name: "x", [CSRF_FIELD]: mine }, {
    cookie: "kb_session=s1",
    origin: "https://evil.example.net",
  });
  assert.equal(fromElsewhere.status, 403);
  assert.match((await fromElsewhere.json()).message, /another site/);

  const crossSite = await post(a, { name: "x", [CSRF_FIELD]: mine }, {
    cookie: "kb_session=s1",
    "sec-fetch-site": "cross-site",
  });
  assert.equal(crossSite.status, 403);
});

Deno.test("CSRF: the right token passes (field or header); the form stays readable", async () => {
  const { a, key } = await app();
  const token = await createCsrfToken(key, "s1");
  assert.equal(await verifyCsrfToken(key, "s1", token), true);
  assert.equal(await verifyCsrfToken(key, "s1", `${token}x`), false);
  const ok = await post(a, { name: "AT2017gfo", [CSRF_FIELD]: token }, {
    cookie: "kb_session=s1",
    origin: ORIGIN,
  });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { created: "AT2017gfo" });
  const viaHeader = await post(a, { name: "y" }, { cookie: "kb_session=s1", [CSRF_HEADER]: token });
  assert.equal(viaHeader.status, 200);
  await viaHeader.body?.cancel();
});

Deno.test("CSRF: Bearer requests, safe methods and requests without a session are exempt", async () => {
  const { a } = await app();
  const bearer = await post(a, { name: "b" }, {
    cookie: "kb_session=s1",
    authorization: "Bearer eyJhbGciOi",
    origin: "https://evil.example.net",
  });
  assert.equal(bearer.status, 200);
  await bearer.body?.cancel();
  const noSession = await post(a, { name: "n" });
  assert.equal(noSession.status, 200);
  await noSession.body?.cancel();
  const get = await a.request("/form", { headers: { cookie: "kb_session=s1" } });
  assert.equal(get.status, 200);
  await get.body?.cancel();
  await assert.rejects(() => csrfKey("short"), /at least 32/);
});
