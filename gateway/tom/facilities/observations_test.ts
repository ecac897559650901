/**
 * Observation requests through the TOM on a real PostgreSQL, with the simulated
 * observatory in-process (in-memory transport; the NATS path is the e2e test):
 * the strategy's rules and idempotency, a manual request refused for
 * visibility with its reason, cancellation, and reconciliation after a missed
 * status event.
 */
import assert from "node:assert/strict";
import { STREAMS } from "../../../contracts/names.ts";
import { createLogger } from "../../../actors/runtime/log.ts";
import { MemoryTransport } from "../../../actors/runtime/memory_transport.ts";
import { waitFor } from "../../../actors/runtime/testing.ts";
import { loadObservatoryConfig, startObservatory } from "../../../actors/observatory/server.ts";
import { AT2017GFO } from "../../../actors/observatory/photometry.ts";
import { createTarget } from "../store/targets.ts";
import { createTestDatabase, derivedAlert, startTestTom } from "../testing.ts";
import { lcoFacility } from "./lco.ts";
import { reconcile } from "./records.ts";
import {
  applyStrategy,
  cadenceWindows,
  DEFAULT_RULE,
  skyTimeOf,
  type StrategyRule,
} from "./strategy.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const quiet = createLogger({ level: "error" });

async function setup(delayMs = 100) {
  const db = await createTestDatabase("obs_test");
  const transport = new MemoryTransport();
  for (const s of Object.values(STREAMS)) await transport.ensureStream(s);
  const obs = await startObservatory(
    loadObservatoryConfig({ KB_OBSERVATORY_PORT: "0", KB_OBSERVATORY_DELAY_MS: String(delayMs) }),
    transport,
    quiet,
  );
  const tom = await startTestTom({
    KB_DATABASE_URL: db.url,
    KB_TOM_FACILITY_URL: obs.url,
    KB_TOM_RECONCILE_MS: "3600000",
  }, { transport });
  const facility = tom.facilities.get("LCO")!;
  const token = await tom.devIssuer!.tokenFor("pi");
  const observerToken = await tom.devIssuer!.tokenFor("observer");
  const api = (path: string, body?: unknown, t = token) =>
    fetch(`${tom.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { Authorization: `Bearer ${t}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const stop = async () => {
    await tom.stop();
    await obs.stop();
    await transport.close();
    await db.drop();
  };
  return { db, tom, obs, facility, api, observerToken, stop };
}

function gfoAlert(resultId: string, score: number, mjd: number, credible = 0.3) {
  const a = derivedAlert({
    name: "AT2017gfo",
    ra: AT2017GFO.ra,
    dec: AT2017GFO.dec,
    resultId,
    revision: 1,
    kilonova: score,
    computedAt: "2026-01-01T00:00:00Z",
    eventId: "S170817a",
  }).content;
  a.data.classification.features = { credible_level: credible };
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

Deno.test(
  "strategy: rules, recorded trigger, idempotent replay, cooldown and budget",
  opts,
  async () => {
    const s = await setup(60_000);
    try {
      const sql = s.tom.sql;
      const id = await createTarget(sql, {
        name: "AT2017gfo",
        ra: AT2017GFO.ra,
        dec: AT2017GFO.dec,
      });
      await sql`insert into tom_events (event_id) values ('S170817a')`;
      const target = { id, name: "AT2017gfo", ra: AT2017GFO.ra, dec: AT2017GFO.dec };
      const rule: StrategyRule = { ...DEFAULT_RULE, budgetPerEvent: 2, cooldownHours: 12 };
      const t0 = 57982.98;

      const low = await applyStrategy(sql, s.facility, rule, gfoAlert("r0", 0.2, t0), target, 0.2);
      assert.equal(low.action, "skipped");
      assert.match(low.reason, /below 0.5/);
      const outside = await applyStrategy(
        sql,
        s.facility,
        rule,
        gfoAlert("r0b", 0.9, t0, 0.95),
        target,
        0.9,
      );
      assert.match(outside.reason, /credible level 0.95 outside 0.9/);

      const first = await applyStrategy(
        sql,
        s.facility,
        rule,
        gfoAlert("r1", 0.9, t0),
        target,
        0.9,
      );
      assert.equal(first.action, "requested", first.reason);
      // A replay of the same alert (same result) makes no second request.
      const replay = await applyStrategy(
        sql,
        s.facility,
        rule,
        gfoAlert("r1", 0.9, t0),
        target,
        0.9,
      );
      assert.equal(replay.action, "already");
      assert.equal(replay.recordId, first.recordId);
      // A new result 2 h later (sky time) is inside the cooldown.
      const soon = await applyStrategy(
        sql,
        s.facility,
        rule,
        gfoAlert("r2", 0.95, t0 + 2 / 24),
        target,
        0.95,
      );
      assert.equal(soon.action, "skipped");
      assert.match(soon.reason, /within the last 12 h/);
      // After the cooldown: a second request; then the event's budget of 2 is spent.
      const later = await applyStrategy(
        sql,
        s.facility,
        rule,
        gfoAlert("r3", 0.95, t0 + 1),
        target,
        0.95,
      );
      assert.equal(later.action, "requested", later.reason);
      const spent = await applyStrategy(
        sql,
        s.facility,
        rule,
        gfoAlert("r4", 0.95, t0 + 2),
        target,
        0.95,
      );
      assert.match(spent.reason, /budget of 2 requests for S170817a spent/);

      const rows = await sql<
        { rule: string; trigger_result_id: string; trigger_score: number; status: string }[]
      >`
      select rule, trigger_result_id, trigger_score, status from tom_observation_records order by id`;
      assert.deepEqual(
        rows.map((r) => [r.rule, r.trigger_result_id, Number(r.trigger_score), r.status]),
        [
          ["kilonova-followup", "r1", 0.9, "PENDING"],
          ["kilonova-followup", "r3", 0.95, "PENDING"],
        ],
      );
      assert.equal(s.obs.observatory.list().length, 2);
      // g, r, i every 8 h for 3 days: 9 epochs offered; the facility keeps the observable ones.
      assert.equal(cadenceWindows(DEFAULT_RULE, new Date()).length, 9);
    } finally {
      await s.stop();
    }
  },
);

Deno.test(
  "observations API: refused when never above the airmass limit; request, cancel, roles",
  opts,
  async () => {
    const s = await setup(60_000);
    try {
      const sql = s.tom.sql;
      const north = await createTarget(sql, { name: "north", ra: 197.45, dec: 88 });
      const gfo = await createTarget(sql, {
        name: "AT2017gfo",
        ra: AT2017GFO.ra,
        dec: AT2017GFO.dec,
      });
      const windows = [{ start: "2017-08-18T18:00:00Z", end: "2017-08-19T06:00:00Z" }];

      // Dec +88 from the southern sites never rises; from McDonald it stays at airmass > 1.7.
      const refused = await s.api("/api/observations/", {
        target_id: north,
        filters: ["r"],
        windows,
        max_airmass: 1.5,
      });
      assert.equal(refused.status, 400);
      const why = await refused.json();
      assert.equal(why.error, "not_observable");
      assert.match(why.message, /never rises above the airmass limit 1.5/);
      assert.equal((await sql`select * from tom_observation_records`).length, 0);

      const forbidden = await s.api("/api/observations/", {
        target_id: gfo,
        filters: ["r"],
        windows,
      }, s.observerToken);
      assert.equal(forbidden.status, 403);

      const made = await s.api("/api/observations/", {
        target_id: gfo,
        filters: ["g", "r"],
        windows,
      });
      assert.equal(made.status, 201, await made.clone().text());
      const rec = await made.json();
      assert.equal(rec.status, "PENDING");
      assert.equal(rec.requested_by, "pi");
      assert.ok(rec.observation_id);

      const list =
        await (await s.api("/api/observations/?target_id=" + gfo, undefined, s.observerToken))
          .json();
      assert.equal(list.results.length, 1);

      assert.equal(
        (await s.api(`/api/observations/${rec.id}/cancel/`, {}, s.observerToken)).status,
        403,
      );
      const canceled = await s.api(`/api/observations/${rec.id}/cancel/`, {});
      assert.equal(canceled.status, 200);
      assert.equal((await canceled.json()).status, "CANCELED");
      assert.equal(s.obs.observatory.get(Number(rec.observation_id))!.state, "CANCELED");
      const again = await s.api(`/api/observations/${rec.id}/cancel/`, {});
      assert.equal(again.status, 409);
      const detail = await (await s.api(`/api/observations/${rec.id}/`)).json();
      assert.deepEqual(detail.states.map((x: { status: string }) => x.status), [
        "PENDING",
        "CANCELED",
      ]);
    } finally {
      await s.stop();
    }
  },
);

Deno.test(
  "reconciliation: a missed status event is caught up from the facility",
  opts,
  async () => {
    const s = await setup(50);
    try {
      const sql = s.tom.sql;
      const gfo = await createTarget(sql, {
        name: "AT2017gfo",
        ra: AT2017GFO.ra,
        dec: AT2017GFO.dec,
      });
      // A request submitted straight to the facility, recorded without the status actor
      // seeing its events (another facility name → its events go to no record).
      const lco = lcoFacility({ url: s.obs.url, proposal: "KB-TEST", name: "LCO-missed" });
      const st = await lco.submit("missed-1", {
        target: { name: "AT2017gfo", ra: AT2017GFO.ra, dec: AT2017GFO.dec },
        filters: ["r"],
        exposureTimeS: 60,
        exposureCount: 1,
        windows: [{ start: "2017-08-18T18:00:00Z", end: "2017-08-19T06:00:00Z" }],
        maxAirmass: 2,
        minLunarDistance: 30,
      });
      const [{ id }] = await sql<{ id: number }[]>`insert into tom_observation_records
      (target_id, facility, observation_id, status, parameters, requested_by)
      values (${gfo}, 'LCO-missed', ${st.observationId}, 'PENDING', '{}', 'test') returning id`;
      await waitFor(
        "observed",
        () => s.obs.observatory.get(Number(st.observationId))!.state === "COMPLETED",
      );
      const [before] = await sql`select status from tom_observation_records where id = ${id}`;
      assert.equal(before.status, "PENDING");
      const changed = await reconcile(sql, new Map([["LCO-missed", lco]]), quiet);
      assert.equal(changed, 1);
      const [after] =
        await sql`select status, terminal from tom_observation_records where id = ${id}`;
      assert.deepEqual([after.status, after.terminal], ["COMPLETED", true]);
      assert.equal(await reconcile(sql, new Map([["LCO-missed", lco]]), quiet), 0);
    } finally {
      await s.stop();
    }
  },
);

Deno.test(
  "observations API: cancelling a request the facility already finished is a 409, not a 500",
  opts,
  async () => {
    const s = await setup(50);
    try {
      const sql = s.tom.sql;
      const gfo = await createTarget(sql, {
        name: "AT2017gfo",
        ra: AT2017GFO.ra,
        dec: AT2017GFO.dec,
      });
      // Completed at the facility before the TOM recorded it: the TOM still says PENDING.
      const st = await s.facility.submit("finished-1", {
        target: { name: "AT2017gfo", ra: AT2017GFO.ra, dec: AT2017GFO.dec },
        filters: ["r"],
        exposureTimeS: 60,
        exposureCount: 1,
        windows: [{ start: "2017-08-18T18:00:00Z", end: "2017-08-19T06:00:00Z" }],
        maxAirmass: 2,
        minLunarDistance: 30,
      });
      await waitFor(
        "observed",
        () => s.obs.observatory.get(Number(st.observationId))!.state === "COMPLETED",
      );
      const [{ id }] = await sql<{ id: number }[]>`insert into tom_observation_records
      (target_id, facility, observation_id, status, parameters, requested_by)
      values (${gfo}, 'LCO', ${st.observationId}, 'PENDING', '{}', 'test') returning id`;
      const res = await s.api(`/api/observations/${id}/cancel/`, {});
      assert.equal(res.status, 409, await res.clone().text());
      assert.match((await res.json()).message, /COMPLETED/);
      const [after] =
        await sql`select status, terminal from tom_observation_records where id = ${id}`;
      assert.deepEqual([after.status, after.terminal], ["COMPLETED", true]);
    } finally {
      await s.stop();
    }
  },
);

Deno.test("strategy: sky time is the result's newest detection, else the carried photometry", () => {
  const merger = new Date("2017-08-17T12:41:04Z");
  const a = gfoAlert("r9", 0.9, 57990); // carries a point 8 days after the merger
  a.data.classification.features = { credible_level: 0.3, t_last_det: 0.5 };
  assert.equal(skyTimeOf(a, merger).toISOString(), "2017-08-18T00:41:04.000Z");
  // Without the event's time (or the feature): the newest photometry the alert carries.
  assert.equal(
    skyTimeOf(a, null).toISOString(),
    new Date((57990 - 40587) * 86_400_000).toISOString(),
  );
  a.data.classification.features = { credible_level: 0.3 };
  assert.equal(skyTimeOf(a, merger).getTime(), (57990 - 40587) * 86_400_000);
});
