/** @jsxImportSource hono/jsx */
/**
 * The TOM's web pages (server-rendered by Hono JSX) and their login:
 *
 * - `/auth/login` → the issuer's authorization endpoint (code + PKCE S256,
 *   `state`, `nonce`), `/auth/callback` → session, `POST /auth/logout` → the
 *   issuer's end-session endpoint → `/auth/logged-out`;
 * - `/targets/`, `/targets/{id}/`, `/events/` for any TOM role; `POST
 *   /targets/{id}/observations` and `POST /observations/{id}/cancel` for `pi`,
 *   each form carrying the session's CSRF token (403 without it).
 *
 * Reads use the store's functions with the signed-in user's visibility; writes
 * go through the JSON API in-process with the session's access token, so the
 * API's validation, roles and facility calls are the only code path.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { Sql } from "../../../db/mod.ts";
import type { Logger } from "../../../actors/runtime/log.ts";
import { allows, type Principal } from "../auth/roles.ts";
import { AuthError, type JwtVerifier } from "../auth/verifier.ts";
import { getExtras, getTarget, listTargets, viewerOf } from "../store/targets.ts";
import { eventSkymap, listEvents, listResults, targetPhotometry } from "../store/history.ts";
import { webSecurityHeaders } from "./headers.ts";
import { LoginError, type OidcClient, safeEqual } from "./oidc.ts";
import {
  clearCookie,
  type CookiePolicy,
  createSession,
  deleteSession,
  loadSession,
  LOGIN_COOKIE,
  LOGIN_MAX_AGE_S,
  readCookie,
  saveLogin,
  SESSION_COOKIE,
  takeLogin,
  updateTokens,
  type WebSession,
  writeCookie,
} from "./session.ts";
import { cachedRegion, type SkyRegion } from "./sky.ts";
import { staticAssets } from "./static.ts";
import { MessagePage, type PageUser } from "./pages/layout.tsx";
import { TargetsPage, type TargetsQuery } from "./pages/targets.tsx";
import { type EventSummary, type RecordView, TargetPage } from "./pages/target.tsx";
import { EventsPage } from "./pages/events.tsx";

/** What the web pages need. */
export interface WebDeps {
  readonly sql: Sql;
  readonly log: Logger;
  /** The API's access-token verifier (the session's access token is checked with it). */
  readonly verifier: JwtVerifier;
  readonly oidc: OidcClient;
  /**
   * The JSON API (the TOM's root app, so its paths match as over HTTP), called
   * in-process with the session's bearer token and the browser's connection
   * info (`env`: the rate limits see the browser's address).
   */
  readonly api: (req: Request, env: unknown) => Response | Promise<Response>;
  /** The TOM's public base URL. */
  readonly publicUrl: string;
  readonly cookies: CookiePolicy;
  /** HSTS: `auto` sends it on requests over TLS (security/headers.ts). */
  readonly hsts: "auto" | "on" | "off";
  /** Proxy hops whose X-Forwarded-Proto is trusted. */
  readonly trustProxyHops: number;
  readonly sessionHours: number;
  /** True when observation requests can be made (a facility is configured). */
  readonly facilities: boolean;
}

/** The paths the web pages own (the security headers apply to these). */
export const WEB_PATHS = [
  "/",
  "/auth/*",
  "/targets",
  "/targets/*",
  "/events",
  "/events/*",
  "/observations/*",
  "/static/*",
  "/favicon.ico",
] as const;

/** A signed-in visitor. */
interface Visitor {
  session: WebSession;
  principal: Principal;
}

/** A path to return to after login: same-site paths only. */
export function safeReturnTo(s: string | undefined): string {
  if (!s || !s.startsWith("/") || s.startsWith("//") || s.startsWith("/\\")) return "/targets/";
  return s;
}

const html = (c: Context, node: unknown, status = 200) => {
  c.header("Cache-Control", "no-store");
  return c.html(`<!doctype html>${node}`, status as 200);
};

const num = (v: string | undefined) => {
  if (v === undefined || v.trim() === "") return undefined;
  const x = Number(v);
  return Number.isFinite(x) ? x : undefined;
};

/** Parses the targets page's query (bad values are ignored, not errors). */
export function parseTargetsQuery(q: Record<string, string>): TargetsQuery {
  const sortRaw = q.sort ?? "-score";
  const desc = sortRaw.startsWith("-");
  const key = sortRaw.replace(/^-/, "");
  const sort = (["name", "score", "ra", "dec", "created"] as const).find((k) => k === key) ??
    "score";
  const limit = Math.min(200, Math.max(1, Math.floor(num(q.limit) ?? 50)));
  const offset = Math.max(0, Math.floor(num(q.offset) ?? 0));
  const ra = num(q.ra), dec = num(q.dec), radius = num(q.radius);
  const cone = ra !== undefined && dec !== undefined && radius !== undefined &&
    ra >= 0 && ra < 360 && dec >= -90 && dec <= 90 && radius > 0 && radius <= 10;
  const score = (x: number | undefined) => (x !== undefined && x >= 0 && x <= 1 ? x : undefined);
  return {
    sort,
    desc: sortRaw === sort ? false : desc,
    limit,
    offset,
    score_min: score(num(q.score_min)),
    score_max: score(num(q.score_max)),
    event_id: q.event_id?.trim() || undefined,
    name: q.name?.trim() || undefined,
    ...(cone ? { ra, dec, radius } : {}),
  };
}

/** Builds the web app (mount at `/`). */
export async function buildWeb(deps: WebDeps): Promise<Hono> {
  const { sql, log, oidc, cookies } = deps;
  const base = deps.publicUrl.replace(/\/$/, "");
  const app = new Hono();
  // Scoped to the pages' paths: the API's /docs (Swagger UI) needs inline scripts.
  const headers = webSecurityHeaders({
    formOrigins: [oidc.origin()],
    hsts: deps.hsts,
    trustProxyHops: deps.trustProxyHops,
  });
  for (const path of WEB_PATHS) app.use(path, headers);
  app.route("/", await staticAssets());

  const pageUser = (v: Visitor): PageUser => ({
    username: v.principal.username,
    roles: v.principal.roles,
    csrf: v.session.csrfToken,
  });

  /** The signed-in visitor of a request, refreshing tokens when needed. */
  const visitor = async (c: Context): Promise<Visitor | undefined> => {
    const id = readCookie(c, SESSION_COOKIE, cookies);
    if (!id) return undefined;
    let session = await loadSession(sql, id);
    if (!session) return undefined;
    if (session.accessExpires.getTime() < Date.now() + 10_000) {
      if (!session.refreshToken) {
        await deleteSession(sql, session.idHash);
        return undefined;
      }
      try {
        const t = await oidc.refresh(session.refreshToken);
        await updateTokens(sql, session.idHash, t);
        session = {
          ...session,
          accessToken: t.accessToken,
          accessExpires: new Date(Date.now() + t.expiresIn * 1000),
          refreshToken: t.refreshToken ?? session.refreshToken,
          idToken: t.idToken,
        };
      } catch (err) {
        if (err instanceof LoginError && err.failure === "unavailable") throw err;
        log.info("web session ended: the issuer refused the refresh", {
          user: session.username,
          error: (err as Error).message,
        });
        await deleteSession(sql, session.idHash);
        return undefined;
      }
    }
    try {
      const { principal } = await deps.verifier.verify(session.accessToken);
      return { session, principal };
    } catch (err) {
      if (err instanceof AuthError && err.failure === "unavailable") throw err;
      log.warn("web session ended: its access token does not verify", {
        user: session.username,
        error: (err as Error).message,
      });
      await deleteSession(sql, session.idHash);
      return undefined;
    }
  };

  const toLogin = (c: Context) => {
    const u = new URL(c.req.url);
    return c.redirect(`/auth/login?return_to=${encodeURIComponent(u.pathname + u.search)}`, 302);
  };

  /** The visitor when they may read pages; otherwise the response to send. */
  const reader = async (c: Context): Promise<Visitor | Response> => {
    const v = await visitor(c);
    if (!v) return toLogin(c);
    if (!allows(v.principal.roles, "read")) {
      return html(
        c,
        <MessagePage
          title="No access"
          user={pageUser(v)}
          message={`${v.principal.username} has no TOM role (observer, pi or admin): ask an admin.`}
        />,
        403,
      );
    }
    return v;
  };

  /** The visitor of a form POST: signed in, CSRF token right, role pi; else the refusal. */
  const writer = async (
    c: Context,
  ): Promise<{ v: Visitor; form: Record<string, string> } | Response> => {
    const v = await visitor(c);
    if (!v) {
      return html(
        c,
        <MessagePage
          title="Signed out"
          message="Your session is over: sign in again, then repeat the action."
          link={{ href: "/auth/login", text: "Sign in" }}
        />,
        401,
      );
    }
    const body = await c.req.parseBody();
    const form: Record<string, string> = {};
    for (const [k, x] of Object.entries(body)) if (typeof x === "string") form[k] = x;
    const origin = c.req.header("origin");
    if (
      !form._csrf || !safeEqual(form._csrf, v.session.csrfToken) ||
      (origin && origin !== new URL(base).origin)
    ) {
      log.warn("web form refused: CSRF token missing or wrong", {
        user: v.principal.username,
        path: c.req.path,
      });
      return html(
        c,
        <MessagePage
          title="Refused"
          user={pageUser(v)}
          message="The form's security token is missing or stale (CSRF protection): reload the page and try again."
        />,
        403,
      );
    }
    if (!allows(v.principal.roles, "write")) {
      return html(
        c,
        <MessagePage
          title="Not allowed"
          user={pageUser(v)}
          message={`This needs the pi role; ${v.principal.username} has ${
            v.principal.roles.join(", ") || "none"
          }.`}
        />,
        403,
      );
    }
    return { v, form };
  };

  /** Calls the JSON API in-process as the visitor. */
  const callApi = async (
    c: Context,
    v: Visitor,
    method: string,
    path: string,
    body?: unknown,
  ) => {
    const res = await deps.api(
      new Request(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${v.session.accessToken}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
      c.env,
    );
    const json = await res.json().catch(() => ({}));
    return { status: res.status, json };
  };

  // ---- login and logout -------------------------------------------------------------

  app.get("/", (c) => c.redirect("/targets/", 302));
  // Browsers ask for it on every page; there is none (204, not the API's JSON 404).
  app.get("/favicon.ico", (c) => c.body(null, 204, { "Cache-Control": "public, max-age=86400" }));

  app.get("/auth/login", async (c) => {
    const { url, pending } = await oidc.startLogin();
    const id = await saveLogin(sql, pending, safeReturnTo(c.req.query("return_to")));
    writeCookie(c, LOGIN_COOKIE, id, cookies, LOGIN_MAX_AGE_S);
    c.header("Cache-Control", "no-store");
    return c.redirect(url, 302);
  });

  app.get("/auth/callback", async (c) => {
    const id = readCookie(c, LOGIN_COOKIE, cookies);
    clearCookie(c, LOGIN_COOKIE, cookies);
    const pending = id ? await takeLogin(sql, id) : undefined;
    const again = { href: "/auth/login", text: "Sign in again" };
    if (!pending) {
      return html(
        c,
        <MessagePage
          title="Login failed"
          message="No login in progress in this browser (or it took over 10 minutes): start again."
          link={again}
        />,
        400,
      );
    }
    let tokens;
    let principal: Principal;
    try {
      tokens = await oidc.finishLogin(new URL(c.req.url).searchParams, pending);
      ({ principal } = await deps.verifier.verify(tokens.accessToken));
    } catch (err) {
      if (err instanceof LoginError || err instanceof AuthError) {
        log.warn("web login refused", { error: err.message });
        const unavailable = err.failure === "unavailable";
        return html(
          c,
          <MessagePage title="Login failed" message={err.message} link={again} />,
          unavailable ? 503 : 400,
        );
      }
      throw err;
    }
    const s = await createSession(sql, principal, tokens, deps.sessionHours);
    writeCookie(c, SESSION_COOKIE, s.id, cookies, (s.expires.getTime() - Date.now()) / 1000);
    log.info("web login", { user: principal.username, roles: principal.roles.join(",") });
    return c.redirect(pending.returnTo, 303);
  });

  /** Logout needs the session and its CSRF token, not a role. */
  const writerForLogout = async (c: Context): Promise<Response | { session: WebSession }> => {
    const id = readCookie(c, SESSION_COOKIE, cookies);
    const session = id ? await loadSession(sql, id) : undefined;
    if (!session) return c.redirect("/auth/logged-out", 303);
    const body = await c.req.parseBody();
    if (typeof body._csrf !== "string" || !safeEqual(body._csrf, session.csrfToken)) {
      return html(
        c,
        <MessagePage
          title="Refused"
          message="The form's security token is missing or stale (CSRF protection): reload the page and try again."
        />,
        403,
      );
    }
    return { session };
  };

  app.post("/auth/logout", async (c) => {
    const r = await writerForLogout(c);
    if (r instanceof Response) return r;
    await deleteSession(sql, r.session.idHash);
    clearCookie(c, SESSION_COOKIE, cookies);
    log.info("web logout", { user: r.session.username });
    return c.redirect(await oidc.logoutUrl(r.session.idToken), 303);
  });

  app.get("/auth/logged-out", (c) =>
    html(
      c,
      <MessagePage
        title="Signed out"
        message="You are signed out of the TOM and of the identity provider."
        link={{ href: "/auth/login", text: "Sign in" }}
      />,
    ));

  // ---- pages -----------------------------------------------------------------------

  app.get("/targets", (c) => c.redirect("/targets/", 301));
  app.get("/targets/", async (c) => {
    const v = await reader(c);
    if (v instanceof Response) return v;
    const q = parseTargetsQuery(c.req.query());
    const { rows, count, exact } = await listTargets(sql, viewerOf(v.principal), {
      scoreMin: q.score_min,
      scoreMax: q.score_max,
      eventId: q.event_id,
      nameContains: q.name,
      cone: q.radius !== undefined ? { ra: q.ra!, dec: q.dec!, radius: q.radius } : undefined,
      order: { by: q.sort, desc: q.desc },
      limit: q.limit,
      offset: q.offset,
    });
    return html(
      c,
      <TargetsPage user={pageUser(v)} q={q} rows={rows} count={count} exact={exact} />,
    );
  });

  const region = async (eventId: string | null): Promise<SkyRegion | undefined> => {
    if (!eventId) return undefined;
    const map = await eventSkymap(sql, eventId);
    if (!map) return undefined;
    try {
      return await cachedRegion(map.sha256, map.bytes);
    } catch (err) {
      log.warn("sky map of an event could not be read for its plot", {
        event: eventId,
        error: (err as Error).message,
      });
      return undefined;
    }
  };

  const targetPage = async (
    c: Context,
    v: Visitor,
    id: number,
    message: { notice?: string; error?: string; status?: number } = {},
  ) => {
    const viewer = viewerOf(v.principal);
    const target = await getTarget(sql, viewer, id);
    if (!target) {
      return html(
        c,
        <MessagePage
          title="Not found"
          user={pageUser(v)}
          message={`No target ${id}, or it is not visible to you.`}
          link={{ href: "/targets/", text: "All targets" }}
        />,
        404,
      );
    }
    const [extras, history, photometry, events, records, sky] = await Promise.all([
      getExtras(sql, id),
      listResults(sql, viewer, { targetId: id, limit: 1000, offset: 0 }),
      targetPhotometry(sql, viewer, id),
      target.event_id
        ? listEvents(sql, viewer, { limit: 1, offset: 0 }, target.event_id)
        : Promise.resolve({ rows: [] as EventSummary[] }),
      callApi(c, v, "GET", `/api/observations/?target_id=${id}&limit=100`),
      region(target.event_id),
    ]);
    if (records.status !== 200) {
      throw new Error(
        `the API answered ${records.status} listing observations: ${JSON.stringify(records.json)}`,
      );
    }
    return html(
      c,
      <TargetPage
        user={pageUser(v)}
        canWrite={allows(v.principal.roles, "write")}
        target={target}
        extras={extras}
        history={history.rows}
        photometry={photometry}
        event={events.rows[0] as EventSummary | undefined}
        region={sky}
        records={records.json.results as RecordView[]}
        facilities={deps.facilities}
        notice={message.notice}
        error={message.error}
      />,
      message.status ?? 200,
    );
  };

  app.get("/targets/:id{[0-9]+}", (c) => c.redirect(`/targets/${c.req.param("id")}/`, 301));
  app.get("/targets/:id{[0-9]+}/", async (c) => {
    const v = await reader(c);
    if (v instanceof Response) return v;
    const requested = c.req.query("requested");
    const canceled = c.req.query("canceled");
    return await targetPage(c, v, Number(c.req.param("id")), {
      notice: requested && /^\d+$/.test(requested)
        ? `Observation ${requested} requested.`
        : canceled && /^\d+$/.test(canceled)
        ? `Observation ${canceled} canceled.`
        : undefined,
    });
  });

  app.post("/targets/:id{[0-9]+}/observations", async (c) => {
    const w = await writer(c);
    if (w instanceof Response) return w;
    const id = Number(c.req.param("id"));
    const f = w.form;
    const utc = (
      s: string | undefined,
    ) => (s && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(s) ? `${s.slice(0, 16)}:00Z` : s ?? "");
    const r = await callApi(c, w.v, "POST", "/api/observations/", {
      target_id: id,
      filters: (f.filters ?? "").split(",").map((x) => x.trim()).filter(Boolean),
      exposure_time: num(f.exposure_time) ?? 300,
      windows: [{ start: utc(f.start), end: utc(f.end) }],
      max_airmass: num(f.max_airmass) ?? 2,
    });
    if (r.status === 201) return c.redirect(`/targets/${id}/?requested=${r.json.id}`, 303);
    return await targetPage(c, w.v, id, {
      error: `The request was refused: ${r.json.message ?? `HTTP ${r.status}`}`,
      status: r.status >= 400 && r.status < 500 ? r.status : 502,
    });
  });

  app.post("/observations/:id{[0-9]+}/cancel", async (c) => {
    const w = await writer(c);
    if (w instanceof Response) return w;
    const id = Number(c.req.param("id"));
    const targetId = Number(w.form.target_id);
    const r = await callApi(c, w.v, "POST", `/api/observations/${id}/cancel/`);
    const back = Number.isInteger(targetId) && targetId > 0 ? targetId : Number(r.json.target_id);
    if (r.status === 200) return c.redirect(`/targets/${back}/?canceled=${id}`, 303);
    return await targetPage(c, w.v, back, {
      error: `The cancellation was refused: ${r.json.message ?? `HTTP ${r.status}`}`,
      status: r.status >= 400 && r.status < 500 ? r.status : 502,
    });
  });

  app.get("/events", (c) => c.redirect("/events/", 301));
  app.get("/events/", async (c) => {
    const v = await reader(c);
    if (v instanceof Response) return v;
    const viewer = viewerOf(v.principal);
    const { rows } = await listEvents(sql, viewer, { limit: 20, offset: 0 });
    const events = await Promise.all((rows as EventSummary[]).map(async (event) => ({
      event,
      top: (await listTargets(sql, viewer, {
        eventId: event.event_id,
        order: { by: "score", desc: true },
        limit: 10,
        offset: 0,
      })).rows,
      region: await region(event.event_id),
    })));
    return html(c, <EventsPage user={pageUser(v)} events={events} />);
  });

  app.onError((err, c) => {
    if (
      (err instanceof LoginError || err instanceof AuthError) && err.failure === "unavailable"
    ) {
      c.header("Retry-After", "5");
      return html(
        c,
        <MessagePage
          title="Unavailable"
          message={`The identity provider is unreachable: ${err.message}. Retry in a moment.`}
        />,
        503,
      );
    }
    log.error("web page failed", { path: c.req.path, error: err.message, stack: err.stack });
    return html(
      c,
      <MessagePage title="Error" message="Something went wrong on our side (it is logged)." />,
      500,
    );
  });
  return app;
}
