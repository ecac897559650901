/**
 * The web login and the pages' guards, on a TOM with its development issuer
 * (the same login code path as with Keycloak) and the real PostgreSQL:
 * PKCE S256, state and nonce mismatches refused, cookie attributes, session
 * and logout (the issuer's refresh tokens revoked), security headers, role
 * checks (observer: no request button, 403 on POST) and CSRF (403 without the
 * token).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Hono } from "hono";
import { pkceChallenge } from "../auth/dev_issuer.ts";
import { createLogger } from "../../../actors/runtime/log.ts";
import { MemoryTransport } from "../../../actors/runtime/memory_transport.ts";
import { loadObservatoryConfig, startObservatory } from "../../../actors/observatory/server.ts";
import { createTarget } from "../store/targets.ts";
import { createTestDatabase, startTestTom } from "../testing.ts";
import { createOidcClient, LoginError } from "./oidc.ts";
import { writeCookie } from "./session.ts";
import { parseTargetsQuery, safeReturnTo } from "./app.tsx";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A tiny browser: a cookie jar and manual redirects. */
class Browser {
  readonly jar = new Map<string, string>();
  readonly setCookies: string[] = [];
  async go(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.jar.size) {
      headers.set("cookie", [...this.jar].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const sc of res.headers.getSetCookie()) {
      this.setCookies.push(sc);
      const [pair] = sc.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i), value = pair.slice(i + 1);
      if (/max-age=0/i.test(sc) || value === "") this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return res;
  }
  async post(url: string, form: Record<string, string>): Promise<Response> {
    return await this.go(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form),
    });
  }
}

const formFields = (html: string) =>
  Object.fromEntries(
    [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [
      m[1],
      m[2].replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d))).replace(/&amp;/g, "&"),
    ]),
  );

/** Logs `user` in through /auth/login and the dev issuer's form; returns the browser. */
async function login(base: string, user: string, returnTo = "/targets/"): Promise<Browser> {
  const b = new Browser();
  const start = await b.go(`${base}/auth/login?return_to=${encodeURIComponent(returnTo)}`);
  assert.equal(start.status, 302);
  const authUrl = start.headers.get("location")!;
  const form = await b.go(authUrl);
  assert.equal(form.status, 200);
  const fields = formFields(await form.text());
  const back = await b.post(authUrl.split("?")[0], {
    ...fields,
    username: user,
    password: `${user}-pw`,
  });
  assert.equal(back.status, 302);
  const done = await b.go(back.headers.get("location")!);
  assert.equal(done.status, 303, await done.text());
  assert.equal(done.headers.get("location"), returnTo);
  return b;
}

Deno.test("PKCE S256 challenge is base64url(SHA-256(verifier)) (checked with node:crypto)", async () => {
  for (const v of ["dBjftJeZ4CVP-mJ92IrJ7aS4Vw9nGYzi1hsHcJ1-hUv", "a".repeat(43), "x-y_z~0.9"]) {
    assert.equal(await pkceChallenge(v), createHash("sha256").update(v).digest("base64url"));
  }
});

Deno.test("cookies: HttpOnly, SameSite=Lax, Path=/; Secure with the __Host- prefix on TLS", async () => {
  const app = new Hono();
  app.get("/plain", (c) => {
    writeCookie(c, "kb_session", "abc", { secure: false }, 60);
    return c.text("ok");
  });
  app.get("/tls", (c) => {
    writeCookie(c, "kb_session", "abc", { secure: true }, 60);
    return c.text("ok");
  });
  const plain = (await app.request("/plain")).headers.get("set-cookie")!;
  assert.match(plain, /^kb_session=abc;/);
  assert.match(plain, /HttpOnly/);
  assert.match(plain, /SameSite=Lax/);
  assert.match(plain, /Path=\//);
  assert.doesNotMatch(plain, /Secure/);
  const tls = (await app.request("/tls")).headers.get("set-cookie")!;
  assert.match(tls, /^__Host-kb_session=abc;/);
  assert.match(tls, /Secure/);
  assert.match(tls, /HttpOnly/);
  assert.match(tls, /SameSite=Lax/);
});

Deno.test("return_to is same-site only; the targets query is parsed defensively", () => {
  assert.equal(safeReturnTo("/targets/3/"), "/targets/3/");
  for (
    const bad of ["https://evil.example/", "//evil.example/", "/\\evil.example", "", undefined]
  ) {
    assert.equal(safeReturnTo(bad), "/targets/");
  }
  const q = parseTargetsQuery({ sort: "-score", score_min: "0.5", ra: "10", dec: "5" });
  assert.deepEqual([q.sort, q.desc, q.score_min, q.radius], ["score", true, 0.5, undefined]);
  assert.equal(parseTargetsQuery({ sort: "name; drop table x" }).sort, "score");
  assert.equal(parseTargetsQuery({ sort: "name" }).desc, false);
});

Deno.test({
  name:
    "web login on the dev issuer: code + PKCE, state/nonce checks, session, pages, CSRF, logout",
  ...opts,
  async fn(t) {
    const db = await createTestDatabase("tom_web");
    const obsTransport = new MemoryTransport();
    const observatory = await startObservatory(
      loadObservatoryConfig({ KB_OBSERVATORY_PORT: "0", KB_OBSERVATORY_DELAY_MS: "3600000" }),
      obsTransport,
      createLogger({ level: "error" }),
    );
    const tom = await startTestTom({
      KB_DATABASE_URL: db.url,
      KB_TOM_FACILITY_URL: observatory.url,
    });
    const base = tom.url;
    try {
      const targetId = await createTarget(tom.sql, {
        name: "AT2017gfo",
        ra: 197.450374,
        dec: -23.381495,
      });

      await t.step("anonymous page → login redirect; login cookie attributes; S256", async () => {
        const b = new Browser();
        const r = await b.go(`${base}/targets/`);
        assert.equal(r.status, 302);
        assert.equal(r.headers.get("location"), "/auth/login?return_to=%2Ftargets%2F");
        const l = await b.go(`${base}/auth/login`);
        const to = new URL(l.headers.get("location")!);
        assert.equal(to.origin + to.pathname, `${base}/dev-oidc/protocol/openid-connect/auth`);
        assert.equal(to.searchParams.get("code_challenge_method"), "S256");
        assert.match(to.searchParams.get("code_challenge")!, /^[A-Za-z0-9_-]{43}$/);
        assert.ok(to.searchParams.get("state")!.length >= 43);
        assert.ok(to.searchParams.get("nonce")!.length >= 43);
        assert.equal(to.searchParams.get("redirect_uri"), `${base}/auth/callback`);
        const sc = b.setCookies.find((c) => c.startsWith("kb_login="))!;
        assert.match(sc, /HttpOnly/);
        assert.match(sc, /SameSite=Lax/);
        assert.doesNotMatch(sc, /Secure/); // plain http here
      });

      await t.step(
        "a callback whose state differs is refused, and no session is made",
        async () => {
          const b = new Browser();
          const l = await b.go(`${base}/auth/login`);
          const authUrl = l.headers.get("location")!;
          const fields = formFields(await (await b.go(authUrl)).text());
          const back = await b.post(authUrl.split("?")[0], {
            ...fields,
            username: "pi",
            password: "pi-pw",
          });
          const cb = new URL(back.headers.get("location")!);
          cb.searchParams.set("state", "forged-state");
          const r = await b.go(cb.toString());
          assert.equal(r.status, 400);
          assert.match(await r.text(), /state does not match/);
          assert.ok(![...b.jar.keys()].includes("kb_session"));
          // The login was used up: the right state cannot be replayed.
          cb.searchParams.set("state", fields.state);
          const again = await b.go(cb.toString());
          assert.equal(again.status, 400);
          await again.body?.cancel();
        },
      );

      await t.step("the OIDC client refuses a wrong nonce and a wrong PKCE verifier", async () => {
        const oidc = createOidcClient({
          issuer: tom.devIssuer!.issuer,
          clientId: "tom-web",
          clientSecret: "tom-web-dev-secret",
          redirectUri: `${base}/auth/callback`,
          postLogoutRedirectUri: `${base}/auth/logged-out`,
        });
        const code = async () => {
          const { url, pending } = await oidc.startLogin();
          const b = new Browser();
          const fields = formFields(await (await b.go(url)).text());
          const back = await b.post(url.split("?")[0], {
            ...fields,
            username: "observer",
            password: "observer-pw",
          });
          return { pending, params: new URL(back.headers.get("location")!).searchParams };
        };
        const a = await code();
        await assert.rejects(
          oidc.finishLogin(a.params, { ...a.pending, nonce: "another-nonce" }),
          (e) => e instanceof LoginError && e.failure === "nonce",
        );
        const p = await code();
        await assert.rejects(
          oidc.finishLogin(p.params, { ...p.pending, codeVerifier: "x".repeat(64) }),
          (e) => e instanceof LoginError && e.failure === "token_request" && /PKCE/.test(e.message),
        );
        const ok = await code();
        const tokens = await oidc.finishLogin(ok.params, ok.pending);
        assert.ok(tokens.refreshToken && tokens.idToken && tokens.accessToken);
      });

      await t.step("pi: session cookie, headers, request button; observer: none, 403", async () => {
        const pi = await login(base, "pi");
        const sc = pi.setCookies.find((c) => c.startsWith("kb_session="))!;
        assert.match(sc, /HttpOnly/);
        assert.match(sc, /SameSite=Lax/);
        const page = await pi.go(`${base}/targets/`);
        assert.equal(page.status, 200);
        const csp = page.headers.get("content-security-policy")!;
        assert.match(csp, /script-src 'self'/);
        assert.match(csp, /frame-ancestors 'none'/);
        assert.doesNotMatch(csp, /unsafe-inline/);
        assert.equal(page.headers.get("x-content-type-options"), "nosniff");
        assert.ok(page.headers.get("referrer-policy"));
        assert.equal(page.headers.get("strict-transport-security"), null); // not on TLS
        const html = await page.text();
        assert.match(html, /AT2017gfo/);
        assert.doesNotMatch(html, /<script>|style="/); // nothing inline

        const tp = await pi.go(`${base}/targets/${targetId}/`);
        const tpHtml = await tp.text();
        assert.equal(tp.status, 200);
        assert.match(tpHtml, /id="request-button"/);
        assert.match(tpHtml, /data-plot="lightcurve"/);

        const obs = await login(base, "observer", `/targets/${targetId}/`);
        const op = await obs.go(`${base}/targets/${targetId}/`);
        const opHtml = await op.text();
        assert.equal(op.status, 200);
        assert.doesNotMatch(opHtml, /request-button|request-form/);
        const csrf = formFields(opHtml)._csrf;
        assert.ok(csrf);
        const refused = await obs.post(`${base}/targets/${targetId}/observations`, {
          _csrf: csrf,
          filters: "r",
          start: "2017-08-18T18:00",
          end: "2017-08-19T06:00",
        });
        assert.equal(refused.status, 403);
        assert.match(await refused.text(), /needs the pi role/);

        // pi without the CSRF token, and with another session's token: 403, no record.
        for (const bad of [{}, { _csrf: csrf }] as Record<string, string>[]) {
          const r = await pi.post(`${base}/targets/${targetId}/observations`, {
            ...bad,
            filters: "r",
            start: "2017-08-18T18:00",
            end: "2017-08-19T06:00",
          });
          assert.equal(r.status, 403);
          assert.match(await r.text(), /CSRF/);
        }
        const [{ n }] = await tom.sql<{ n: number }[]>`
          select count(*)::int as n from tom_observation_records`;
        assert.equal(n, 0);

        // pi with the token: the request goes through the API to the observatory.
        const piCsrf = formFields(tpHtml)._csrf;
        const ok = await pi.post(`${base}/targets/${targetId}/observations`, {
          _csrf: piCsrf,
          filters: "g, r",
          exposure_time: "120",
          start: "2017-08-18T18:00",
          end: "2017-08-19T06:00",
          max_airmass: "2",
        });
        assert.equal(ok.status, 303, await ok.text());
        const after = await pi.go(`${base}${ok.headers.get("location")}`);
        const afterHtml = await after.text();
        assert.match(afterHtml, /Observation \d+ requested/);
        assert.match(afterHtml, /<td class="state">PENDING<\/td>/);
      });

      await t.step("logout ends the TOM session and the issuer's (refresh revoked)", async () => {
        const b = await login(base, "pi");
        const sid = b.jar.get("kb_session")!;
        const [row] = await tom.sql<{ refresh_token: string }[]>`
          select refresh_token from tom_web_sessions order by created desc limit 1`;
        const page = await b.go(`${base}/targets/`);
        const csrf = formFields(await page.text())._csrf;
        const out = await b.post(`${base}/auth/logout`, { _csrf: csrf });
        assert.equal(out.status, 303);
        const end = new URL(out.headers.get("location")!);
        assert.equal(end.pathname, "/dev-oidc/protocol/openid-connect/logout");
        assert.ok(end.searchParams.get("id_token_hint"));
        assert.equal(end.searchParams.get("post_logout_redirect_uri"), `${base}/auth/logged-out`);
        assert.ok(!b.jar.has("kb_session"));
        const back = await b.go(end.toString());
        assert.equal(back.status, 302);
        assert.equal(back.headers.get("location"), `${base}/auth/logged-out`);
        // The old cookie is worthless now, and the issuer forgot the refresh token.
        b.jar.set("kb_session", sid);
        const again = await b.go(`${base}/targets/`);
        assert.equal(again.status, 302);
        const refresh = await fetch(`${tom.devIssuer!.issuer}/protocol/openid-connect/token`, {
          method: "POST",
          body: new URLSearchParams({
            grant_type: "refresh_token",
            refresh_token: row.refresh_token,
            client_id: "tom-web",
            client_secret: "tom-web-dev-secret",
          }),
        });
        assert.equal(refresh.status, 400);
        await refresh.body?.cancel();
      });

      await t.step(
        "static assets: uPlot from its npm package and our script, no inline code",
        async () => {
          for (const p of ["/static/uPlot.iife.min.js", "/static/app.js", "/static/app.css"]) {
            const r = await fetch(`${base}${p}`);
            assert.equal(r.status, 200, p);
            assert.match(r.headers.get("content-type")!, /text\/(javascript|css)/);
            assert.ok((await r.text()).length > 500, p);
          }
          const r = await fetch(`${base}/static/nope.js`);
          assert.equal(r.status, 404);
          await r.body?.cancel();
        },
      );
    } finally {
      await tom.stop();
      await observatory.stop();
      await db.drop();
    }
  },
});
