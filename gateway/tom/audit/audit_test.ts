/**
 * The audit log on a running TOM (real PostgreSQL, tokens of the TOM's
 * development issuer, the simulated observatory in-process): one row per
 * state-changing action, with the token's subject, username, roles, request
 * id and address; automatic requests with their rule and score; the table is
 * append-only; only admin reads it.
 */
import assert from "node:assert/strict";
import { STREAMS } from "../../../contracts/names.ts";
import { createLogger } from "../../../actors/runtime/log.ts";
import { MemoryTransport } from "../../../actors/runtime/memory_transport.ts";
import { loadObservatoryConfig, startObservatory } from "../../../actors/observatory/server.ts";
import { AT2017GFO } from "../../../actors/observatory/photometry.ts";
import { applyStrategy, DEFAULT_RULE } from "../facilities/strategy.ts";
import { createTestDatabase, derivedAlert, startTestTom } from "../testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const GFO_WINDOW = [{ start: "2017-08-18T18:00:00Z", end: "2017-08-19T06:00:00Z" }];

function subjectOf(jwt: string): string {
  const p = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(p)).sub;
}

function gfoAlert(resultId: string, score: number) {
  const a = derivedAlert({
    name: "AT2017gfo",
    ra: AT2017GFO.ra,
    dec: AT2017GFO.dec,
    resultId,
    revision: 1,
    kilonova: score,
    computedAt: "2017-08-18T12:00:00Z",
    eventId: "S170817a",
  }).content;
  a.data.classification.features = { credible_level: 0.3 };
  const mjd = 57982.98;
  a.data.photometry = [{
    target_name: "AT2017gfo",
    date_obs: new Date((mjd - 40587) * 86_400_000).toISOString(),
    mjd,
    telescope: "Swope",
    instrument: "Direct",
    bandpass: "i",
    brightness: 17.1,
    brightness_unit: "AB mag",
  }];
  return a;
}

interface AuditRow {
  id: number;
  at: string;
  actor_subject: string;
  actor_username: string;
  actor_roles: string[];
  actor_kind: string;
  action: string;
  object_type: string;
  object_id: string | null;
  detail: Record<string, unknown>;
  request_id: string | null;
  source_ip: string | null;
}

Deno.test(
  "audit log: every state-changing action, who and what, admin-only, append-only",
  opts,
  async () => {
    const db = await createTestDatabase("tom_audit");
    const transport = new MemoryTransport();
    for (const s of Object.values(STREAMS)) await transport.ensureStream(s);
    const obs = await startObservatory(
      loadObservatoryConfig({ KB_OBSERVATORY_PORT: "0", KB_OBSERVATORY_DELAY_MS: "3600000" }),
      transport,
      createLogger({ level: "error" }),
    );
    const tom = await startTestTom({
      KB_DATABASE_URL: db.url,
      KB_TOM_FACILITY_URL: obs.url,
      KB_TOM_RECONCILE_MS: "3600000",
    }, { transport });
    try {
      const t = {
        pi: await tom.devIssuer!.tokenFor("pi"),
        admin: await tom.devIssuer!.tokenFor("admin"),
        observer: await tom.devIssuer!.tokenFor("observer"),
      };
      let seq = 0;
      const api = async (who: keyof typeof t, method: string, path: string, body?: unknown) => {
        const res = await fetch(`${tom.url}${path}`, {
          method,
          headers: {
            Authorization: `Bearer ${t[who]}`,
            "content-type": "application/json",
            "X-Request-Id": `audit-test-${++seq}`,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : null };
      };
      const ok = (r: { status: number; body: unknown }, status: number) =>
        assert.equal(r.status, status, JSON.stringify(r.body));

      // Targets, extras, names.
      const created = await api("pi", "POST", "/api/targets/", {
        name: "AT2017gfo",
        ra: AT2017GFO.ra,
        dec: AT2017GFO.dec,
        aliases: ["SSS17a"],
      });
      ok(created, 201);
      const id = created.body.id as number;
      ok(await api("pi", "PATCH", `/api/targets/${id}/`, { permissions: "OPEN" }), 200);
      ok(await api("pi", "PATCH", `/api/targets/${id}/extras`, { redshift: 0.0098 }), 200);
      const alias = await api("pi", "POST", `/api/targets/${id}/names`, { name: "DLT17ck" });
      ok(alias, 201);
      ok(await api("admin", "DELETE", `/api/targets/${id}/names/${alias.body.id}`), 204);
      // A refused change leaves no row.
      ok(await api("observer", "PATCH", `/api/targets/${id}/`, { ra: 1 }), 403);
      ok(await api("pi", "PATCH", "/api/targets/999999/", { ra: 1 }), 404);

      // Target lists.
      const list = await api("pi", "POST", "/api/targetlists/", { name: "gw", targets: [id] });
      ok(list, 201);
      ok(
        await api("pi", "POST", `/api/targetlists/${list.body.id}/targets`, { targets: [id] }),
        200,
      );
      ok(await api("admin", "DELETE", `/api/targetlists/${list.body.id}/`), 204);

      // Observations: by hand, canceled; then automatically by the strategy.
      const req = await api("pi", "POST", "/api/observations/", {
        target_id: id,
        filters: ["r"],
        windows: GFO_WINDOW,
      });
      ok(req, 201);
      ok(await api("pi", "POST", `/api/observations/${req.body.id}/cancel/`, {}), 200);
      await tom.sql`insert into tom_events (event_id) values ('S170817a')`;
      const decision = await applyStrategy(
        tom.sql,
        tom.facilities.get("LCO")!,
        DEFAULT_RULE,
        gfoAlert("res-audit-1", 0.91),
        { id, name: "AT2017gfo", ra: AT2017GFO.ra, dec: AT2017GFO.dec },
        0.91,
      );
      assert.equal(decision.action, "requested", decision.reason);

      ok(await api("admin", "DELETE", `/api/targets/${id}/`), 204);

      // The log, newest first.
      const page = await api("admin", "GET", "/api/audit/?limit=100");
      ok(page, 200);
      const rows = (page.body.results as AuditRow[]).slice().reverse();
      assert.deepEqual(rows.map((r) => r.action), [
        "target.create",
        "target.update",
        "target.extras.update",
        "target.name.add",
        "target.name.delete",
        "targetlist.create",
        "targetlist.add",
        "targetlist.delete",
        "observation.request",
        "observation.cancel",
        "observation.auto_request",
        "target.delete",
      ]);
      const by = (action: string) => rows.find((r) => r.action === action)!;
      const piSub = subjectOf(t.pi);
      const adminSub = subjectOf(t.admin);
      for (const r of rows) {
        if (r.actor_kind === "strategy") continue;
        const admin = r.action.endsWith(".delete");
        assert.equal(r.actor_subject, admin ? adminSub : piSub, r.action);
        assert.equal(r.actor_username, admin ? "admin" : "pi", r.action);
        assert.deepEqual(r.actor_roles, admin ? ["admin"] : ["pi"], r.action);
        assert.equal(r.source_ip, "127.0.0.1", r.action);
        assert.match(r.request_id ?? "", /^audit-test-\d+$/, r.action);
        assert.ok(Date.parse(r.at) > Date.now() - 600_000, r.action);
      }
      assert.equal(by("target.create").object_id, String(id));
      assert.equal(by("target.create").request_id, "audit-test-1");
      assert.deepEqual(by("target.update").detail, {
        changes: { permissions: { from: "PUBLIC", to: "OPEN" } },
      });
      assert.deepEqual(by("target.extras.update").detail, {
        changes: { redshift: { from: null, to: 0.0098 } },
      });
      assert.deepEqual(by("target.name.delete").detail, { target_id: id, name: "DLT17ck" });
      assert.deepEqual(by("observation.cancel").detail.status, { from: "PENDING", to: "CANCELED" });
      assert.equal((by("target.delete").detail.deleted as { name: string }).name, "AT2017gfo");
      const auto = by("observation.auto_request");
      assert.equal(auto.actor_subject, `strategy:${DEFAULT_RULE.name}`);
      assert.equal(auto.object_id, String(decision.recordId));
      assert.equal(auto.detail.rule, DEFAULT_RULE.name);
      assert.equal(auto.detail.score, 0.91);
      assert.equal(auto.detail.result_id, "res-audit-1");
      assert.equal(auto.request_id, null);

      // Filters and pages.
      const q = async (query: string) => {
        const r = await api("admin", "GET", `/api/audit/?${query}`);
        ok(r, 200);
        return (r.body.results as AuditRow[]).map((x) => x.action);
      };
      assert.deepEqual(await q("action=targetlist."), [
        "targetlist.delete",
        "targetlist.add",
        "targetlist.create",
      ]);
      assert.deepEqual(await q("action=target.update"), ["target.update"]);
      assert.deepEqual((await q("actor=admin")).sort(), [
        "target.delete",
        "target.name.delete",
        "targetlist.delete",
      ]);
      assert.deepEqual(await q(`actor=${encodeURIComponent(adminSub)}&object_type=target`), [
        "target.delete",
      ]);
      assert.deepEqual(await q("actor_kind=strategy"), ["observation.auto_request"]);
      assert.deepEqual(await q(`object_type=observation&object_id=${req.body.id}`), [
        "observation.cancel",
        "observation.request",
      ]);
      assert.deepEqual(await q(`until=${encodeURIComponent(rows[0].at)}`), []);
      assert.equal((await q(`since=${encodeURIComponent(rows[0].at)}`)).length, 12);
      const p1 = await api("admin", "GET", "/api/audit/?limit=5");
      assert.equal(p1.body.count, 12);
      assert.equal(p1.body.results.length, 5);
      assert.match(p1.body.next, /offset=5/);
      ok(await api("admin", "GET", "/api/audit/?since=yesterday"), 400);

      // Only admin reads it.
      for (const who of ["pi", "observer"] as const) {
        const r = await api(who, "GET", "/api/audit/");
        ok(r, 403);
        assert.equal(r.body.required_role, "admin");
      }
      const anon = await fetch(`${tom.url}/api/audit/`);
      await anon.body?.cancel();
      assert.equal(anon.status, 401);

      // Append-only, whoever asks (the TOM's own database user included).
      await assert.rejects(
        () => tom.sql`update tom_audit_log set action = 'target.create' where id = ${rows[1].id}`,
        /append-only: UPDATE refused/,
      );
      await assert.rejects(() => tom.sql`delete from tom_audit_log`, /append-only: DELETE refused/);
      await assert.rejects(() => tom.sql`truncate tom_audit_log`, /append-only: TRUNCATE refused/);
      const [{ n }] = await tom.sql<{ n: number }[]>`select count(*)::int as n from tom_audit_log`;
      assert.equal(n, 12);
    } finally {
      await tom.stop();
      await obs.stop();
      await transport.close();
      await db.drop();
    }
  },
);
