/**
 * Every route of the API, checked against the role matrix with real tokens of
 * the local Keycloak (password grant per test user, client credentials for the
 * `tom-api` program) on a real PostgreSQL: no token → 401, a role too weak →
 * 403, enough → 2xx. The matrix must cover every operation of /openapi.json.
 * Also: target permissions (PRIVATE to a group) in every read.
 */
import assert from "node:assert/strict";
import { createTarget } from "../store/targets.ts";
import { createLogger } from "../../../actors/runtime/log.ts";
import { MemoryTransport } from "../../../actors/runtime/memory_transport.ts";
import { loadObservatoryConfig, startObservatory } from "../../../actors/observatory/server.ts";
import { submitRecord } from "../facilities/strategy.ts";
import {
  clientToken,
  createTestDatabase,
  keycloak,
  passwordToken,
  startTestTom,
} from "../testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

type Caller = "none" | "nobody" | "observer" | "pi" | "admin" | "tom-api";
const RANK: Record<Caller, number> = {
  none: -2,
  nobody: -1,
  observer: 0,
  pi: 1,
  "tom-api": 1,
  admin: 2,
};
const NEED = { read: 0, write: 1, delete: 2 } as const;

interface Fixture {
  targetId: number;
  listId: number;
  nameId: number;
  eventId: string;
  resultId: string;
  /** A target observable from the simulated observatory, and a PENDING request of it (issue 9). */
  gfoId: number;
  observationId: number;
}

/** A window in which AT2017gfo's position is observable (issue 9 routes). */
const GFO_WINDOW = [{ start: "2017-08-18T18:00:00Z", end: "2017-08-19T06:00:00Z" }];

interface Op {
  method: string;
  path: string;
  access: keyof typeof NEED;
  url(f: Fixture): string;
  body?(f: Fixture, n: string): unknown;
}

const OPS: Op[] = [
  { method: "get", path: "/api/targets/", access: "read", url: () => "/api/targets/?limit=5" },
  {
    method: "post",
    path: "/api/targets/",
    access: "write",
    url: () => "/api/targets/",
    body: (_f, n) => ({ name: `new-${n}`, ra: 10, dec: 20, aliases: [`alias-${n}`] }),
  },
  {
    method: "get",
    path: "/api/targets/{id}/",
    access: "read",
    url: (f) => `/api/targets/${f.targetId}/`,
  },
  {
    method: "patch",
    path: "/api/targets/{id}/",
    access: "write",
    url: (f) => `/api/targets/${f.targetId}/`,
    body: () => ({ ra: 11.5 }),
  },
  {
    method: "delete",
    path: "/api/targets/{id}/",
    access: "delete",
    url: (f) => `/api/targets/${f.targetId}/`,
  },
  {
    method: "get",
    path: "/api/targets/{id}/extras",
    access: "read",
    url: (f) => `/api/targets/${f.targetId}/extras`,
  },
  {
    method: "patch",
    path: "/api/targets/{id}/extras",
    access: "write",
    url: (f) => `/api/targets/${f.targetId}/extras`,
    body: () => ({ redshift: 0.01, note: "bright" }),
  },
  {
    method: "get",
    path: "/api/targets/{id}/names",
    access: "read",
    url: (f) => `/api/targets/${f.targetId}/names`,
  },
  {
    method: "post",
    path: "/api/targets/{id}/names",
    access: "write",
    url: (f) => `/api/targets/${f.targetId}/names`,
    body: (_f, n) => ({ name: `extra-alias-${n}` }),
  },
  {
    method: "delete",
    path: "/api/targets/{id}/names/{name_id}",
    access: "delete",
    url: (f) => `/api/targets/${f.targetId}/names/${f.nameId}`,
  },
  { method: "get", path: "/api/targetlists/", access: "read", url: () => "/api/targetlists/" },
  {
    method: "post",
    path: "/api/targetlists/",
    access: "write",
    url: () => "/api/targetlists/",
    body: (f, n) => ({ name: `list-${n}`, targets: [f.targetId] }),
  },
  {
    method: "get",
    path: "/api/targetlists/{id}/",
    access: "read",
    url: (f) => `/api/targetlists/${f.listId}/`,
  },
  {
    method: "post",
    path: "/api/targetlists/{id}/targets",
    access: "write",
    url: (f) => `/api/targetlists/${f.listId}/targets`,
    body: (f) => ({ targets: [f.targetId] }),
  },
  {
    method: "delete",
    path: "/api/targetlists/{id}/",
    access: "delete",
    url: (f) => `/api/targetlists/${f.listId}/`,
  },
  {
    method: "get",
    path: "/api/alerts/",
    access: "read",
    url: (f) => `/api/alerts/?target_id=${f.targetId}`,
  },
  {
    method: "get",
    path: "/api/results/",
    access: "read",
    url: (f) => `/api/results/?target_id=${f.targetId}`,
  },
  { method: "get", path: "/api/events/", access: "read", url: () => "/api/events/" },
  {
    method: "get",
    path: "/api/events/{event_id}/",
    access: "read",
    url: (f) => `/api/events/${f.eventId}/`,
  },
  {
    method: "get",
    path: "/api/brokers/kilonova/query",
    access: "read",
    url: () => "/api/brokers/kilonova/query?min_score=0.1",
  },
  {
    method: "post",
    path: "/api/brokers/kilonova/targets",
    access: "write",
    url: () => "/api/brokers/kilonova/targets",
    body: (f) => ({ result_id: f.resultId }),
  },
  {
    method: "post",
    path: "/api/classify",
    access: "read",
    url: () => "/api/classify",
    body: () => ({
      points: [{ mjd: 57983, band: "r", mag: 17.5, mag_err: 0.05, upper_limit: false }],
    }),
  },
  // The audit log (issue 13): admin only.
  { method: "get", path: "/api/audit/", access: "delete", url: () => "/api/audit/?limit=5" },
  // Observation requests (issue 9).
  {
    method: "get",
    path: "/api/observations/",
    access: "read",
    url: () => "/api/observations/",
  },
  {
    method: "get",
    path: "/api/observations/{id}/",
    access: "read",
    url: (f) => `/api/observations/${f.observationId}/`,
  },
  {
    method: "post",
    path: "/api/observations/",
    access: "write",
    url: () => "/api/observations/",
    body: (f) => ({ target_id: f.gfoId, filters: ["r"], windows: GFO_WINDOW }),
  },
  {
    method: "post",
    path: "/api/observations/{id}/cancel/",
    access: "write",
    url: (f) => `/api/observations/${f.observationId}/cancel/`,
    body: () => ({}),
  },
];

Deno.test("role matrix: every route, every role, real Keycloak tokens", opts, async () => {
  const kc = keycloak();
  const db = await createTestDatabase();
  // The simulated observatory behind the observation routes (delay long enough to stay PENDING).
  const obsTransport = new MemoryTransport();
  const observatory = await startObservatory(
    loadObservatoryConfig({ KB_OBSERVATORY_PORT: "0", KB_OBSERVATORY_DELAY_MS: "3600000" }),
    obsTransport,
    createLogger({ level: "error" }),
  );
  const tom = await startTestTom({
    KB_DATABASE_URL: db.url,
    KB_OIDC_ISSUER: kc.issuer,
    KB_OIDC_AUDIENCE: kc.audience,
    KB_TOM_FACILITY_URL: observatory.url,
  });
  try {
    const tokens: Record<Caller, string | undefined> = {
      none: undefined,
      nobody: await passwordToken(kc.issuer, kc.testClient, "nobody", kc.users.nobody),
      observer: await passwordToken(kc.issuer, kc.testClient, "observer", kc.users.observer),
      pi: await passwordToken(kc.issuer, kc.testClient, "pi", kc.users.pi),
      admin: await passwordToken(kc.issuer, kc.testClient, "admin", kc.users.admin),
      "tom-api": await clientToken(kc.issuer, kc.apiClient),
    };

    // The matrix covers exactly the operations of the OpenAPI document.
    const doc = await (await fetch(`${tom.url}/openapi.json`)).json();
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    assert.deepEqual(OPS.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort(), documented);

    const sql = tom.sql;
    let n = 0;
    const fixture = async (): Promise<Fixture> => {
      n++;
      const targetId = await createTarget(sql, {
        name: `fx-${n}`,
        ra: (n * 7.3) % 360,
        dec: ((n * 3.1) % 160) - 80,
        aliases: [`fx-${n}-alias`],
        extras: { color: "red" },
      });
      const [{ id: nameId }] =
        await sql`select id from tom_target_names where target_id = ${targetId}`;
      const [{ id: listId }] =
        await sql`insert into tom_target_lists (name) values (${`fx-list-${n}`}) returning id`;
      await sql`insert into tom_events (event_id) values (${`S${n}`}) on conflict do nothing`;
      await sql`insert into tom_target_events values (${targetId}, ${`S${n}`})`;
      await sql`insert into candidates (candidate_id, survey, ra, dec, hpx, first_mjd, last_mjd,
          n_alerts, first_alert_id, last_alert_id)
        values (${`cand-${n}`}, 'test', ${(n * 11.7) % 360}, ${
        ((n * 5.3) % 160) - 80
      }, 0, 60000, 60001, 1, 1, 1)`;
      await sql`insert into results (result_id, subject, candidate_id, model_name, model_version,
          scores, top_class, top_score, features, explanation, input_alert_ids, computed_at, decision)
        values (${`res-${n}`}, 'results.kilonova', ${`cand-${n}`}, 'kn', '1', '{"kilonova": 0.9}',
          'kilonova', 0.9, '{}', '{}', '{a}', now(), 'published')`;
      const gfoId = await createTarget(sql, { name: `gfo-${n}`, ra: 197.450374, dec: -23.381495 });
      const [{ id: observationId }] = await sql`insert into tom_observation_records
        (target_id, facility, parameters, requested_by) values (${gfoId}, 'LCO', ${
        sql.json({
          target: { name: `gfo-${n}`, ra: 197.450374, dec: -23.381495 },
          filters: ["r"],
          exposureTimeS: 60,
          exposureCount: 1,
          windows: GFO_WINDOW,
          maxAirmass: 2,
          minLunarDistance: 30,
        })
      }, 'fixture') returning id`;
      await submitRecord(sql, tom.facilities.get("LCO")!, Number(observationId));
      return {
        gfoId,
        observationId: Number(observationId),
        targetId,
        listId: Number(listId),
        nameId: Number(nameId),
        eventId: `S${n}`,
        resultId: `res-${n}`,
      };
    };

    const failures: string[] = [];
    for (const op of OPS) {
      for (const caller of Object.keys(RANK) as Caller[]) {
        const f = await fixture();
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (tokens[caller]) headers.authorization = `Bearer ${tokens[caller]}`;
        const res = await fetch(`${tom.url}${op.url(f)}`, {
          method: op.method.toUpperCase(),
          headers,
          body: op.body ? JSON.stringify(op.body(f, `${caller}-${n}`)) : undefined,
        });
        const text = await res.text();
        const want = caller === "none" ? 401 : RANK[caller] >= NEED[op.access] ? "2xx" : 403;
        const ok = want === "2xx" ? res.status >= 200 && res.status < 300 : res.status === want;
        if (!ok) {
          failures.push(
            `${op.method.toUpperCase()} ${
              op.url(f)
            } as ${caller}: want ${want}, got ${res.status} ${text.slice(0, 200)}`,
          );
        }
        if (res.status === 401 || res.status === 403) {
          assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="kb-tom"/);
          assert.equal(typeof JSON.parse(text).error, "string");
        }
      }
    }
    assert.deepEqual(failures, []);
  } finally {
    await tom.stop();
    await observatory.stop();
    await obsTransport.close();
    await db.drop();
  }
});

Deno.test(
  "target permissions: PRIVATE targets only for their groups, creator and admins",
  opts,
  async () => {
    const kc = keycloak();
    const db = await createTestDatabase();
    const tom = await startTestTom({
      KB_DATABASE_URL: db.url,
      KB_OIDC_ISSUER: kc.issuer,
      KB_OIDC_AUDIENCE: kc.audience,
    });
    try {
      const t = {
        observer: await passwordToken(kc.issuer, kc.testClient, "observer", kc.users.observer),
        pi: await passwordToken(kc.issuer, kc.testClient, "pi", kc.users.pi),
        admin: await passwordToken(kc.issuer, kc.testClient, "admin", kc.users.admin),
      };
      const api = (who: keyof typeof t, path: string, init: RequestInit = {}) =>
        fetch(`${tom.url}${path}`, {
          ...init,
          headers: { authorization: `Bearer ${t[who]}`, "content-type": "application/json" },
        });
      // The admin creates a target private to kilonova-team (the pi's group, not the observer's).
      const created = await api("admin", "/api/targets/", {
        method: "POST",
        body: JSON.stringify({
          name: "secret-1",
          ra: 150,
          dec: 2,
          permissions: "PRIVATE",
          groups: ["kilonova-team"],
        }),
      });
      assert.equal(created.status, 201);
      const { id } = await created.json();
      const open = await (await api("pi", "/api/targets/", {
        method: "POST",
        body: JSON.stringify({ name: "open-1", ra: 150.001, dec: 2, permissions: "OPEN" }),
      })).json();
      const names = async (who: keyof typeof t, q = "") =>
        (await (await api(who, `/api/targets/?ra=150&dec=2&radius=1${q}`)).json()).results.map((
          r: { name: string },
        ) => r.name).sort();
      assert.deepEqual(await names("admin"), ["open-1", "secret-1"]);
      assert.deepEqual(await names("pi"), ["open-1", "secret-1"]);
      assert.deepEqual(await names("observer"), ["open-1"]);
      const hidden = await api("observer", `/api/targets/${id}/`);
      assert.equal(hidden.status, 404);
      await hidden.body?.cancel();
      assert.equal((await api("observer", `/api/targets/${id}/extras`)).status, 404);
      assert.equal((await api("pi", `/api/targets/${id}/`)).status, 200);
      // The observer cannot add the hidden target to a list either.
      const list = await api("pi", "/api/targetlists/", {
        method: "POST",
        body: JSON.stringify({ name: "mixed", targets: [id, open.id] }),
      });
      assert.equal(list.status, 201);
      const lid = (await list.json()).id;
      assert.deepEqual((await (await api("observer", `/api/targetlists/${lid}/`)).json()).targets, [
        open.id,
      ]);
      // Name conflicts are 409, aliases included.
      const dup = await api("pi", "/api/targets/", {
        method: "POST",
        body: JSON.stringify({ name: "secret-1", ra: 1, dec: 1 }),
      });
      assert.equal(dup.status, 409);
      await dup.body?.cancel();
    } finally {
      await tom.stop();
      await db.drop();
    }
  },
);
