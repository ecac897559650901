/**
 * End to end on real NATS (a nats-server of the test's own: the pipeline's
 * stream and consumer names are fixed) and PostgreSQL: a derived alert with a
 * high P(kilonova) inside a live event → exactly one automatic request (a
 * replay of the alert makes none) → the simulated observatory completes it →
 * the TOM's record follows the status events → new photometry arrives on
 * alerts.in.optical. Then, by hand through the API: a request for a target that
 * never rises above the airmass limit is refused at validation with the reason,
 * and a request is canceled, the facility's event agreeing. The whole loop,
 * classifier and re-scoring included, is followup_chain_e2e_test.ts.
 */
import assert from "node:assert/strict";
import { STREAMS } from "../../../contracts/names.ts";
import { RESULT_SUBJECTS } from "../../../contracts/names.ts";
import { startPrivateNats, waitFor } from "../../../actors/runtime/testing.ts";
import { NatsTransport } from "../../../actors/runtime/nats_transport.ts";
import { createTarget } from "../store/targets.ts";
import { createLogger } from "../../../actors/runtime/log.ts";
import { loadObservatoryConfig, startObservatory } from "../../../actors/observatory/server.ts";
import { AT2017GFO } from "../../../actors/observatory/photometry.ts";
import { createTestDatabase, derivedAlert, startTestTom } from "../testing.ts";

Deno.test({
  name: "follow-up e2e: high P(KN) in the live event → one request → observed → new photometry",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startPrivateNats();
    const db = await createTestDatabase("obs_e2e");
    const transport = await NatsTransport.connect({ servers: nats.url, name: "obs-e2e" });
    for (const s of [STREAMS.alertsOut, STREAMS.alertsIn, STREAMS.observations]) {
      await transport.ensureStream(s);
    }
    const log = createLogger({ level: "error" });
    const obs = await startObservatory(
      loadObservatoryConfig({ KB_OBSERVATORY_PORT: "0", KB_OBSERVATORY_DELAY_MS: "1500" }),
      transport,
      log,
    );
    const tom = await startTestTom({
      KB_DATABASE_URL: db.url,
      KB_TOM_BROKER: "true",
      KB_TOM_FACILITY_URL: obs.url,
      KB_TOM_RECONCILE_MS: "500",
      KB_TOM_STRATEGY: JSON.stringify({
        cadence: { filters: ["g", "r", "i"], everyHours: 8, forDays: 1 },
      }),
    }, { transport });
    try {
      const alert = derivedAlert({
        name: "AT2017gfo",
        ra: AT2017GFO.ra,
        dec: AT2017GFO.dec,
        resultId: "res-gfo-1",
        revision: 1,
        kilonova: 0.93,
        computedAt: "2026-01-01T00:00:00Z",
        eventId: "S170817a",
      });
      alert.content.data.classification.features = { credible_level: 0.31 };
      alert.content.data.photometry = [{
        target_name: "AT2017gfo",
        date_obs: "2017-08-17T23:33:17Z",
        mjd: 57982.9814,
        telescope: "Swope",
        instrument: "Direct/4Kx4K-4",
        bandpass: "i",
        brightness: 17.06,
        brightness_error: 0.02,
        brightness_unit: "AB mag",
      }];
      const enc = new TextEncoder();
      await transport.publish(RESULT_SUBJECTS.derivedAlerts, enc.encode(JSON.stringify(alert)), {
        msgId: "e2e-1",
      });
      // The replay of the same alert (a new message id, so JetStream does not drop it).
      await transport.publish(RESULT_SUBJECTS.derivedAlerts, enc.encode(JSON.stringify(alert)), {
        msgId: "e2e-2",
      });

      const done = await waitFor("the record completes", async () => {
        const rows = await tom.sql<
          { id: number; status: string; rule: string; trigger_score: number }[]
        >`
          select id, status, rule, trigger_score from tom_observation_records`;
        return rows.length === 1 && rows[0].status === "COMPLETED" ? rows : undefined;
      }, 30_000);
      assert.equal(done[0].rule, "kilonova-followup");
      assert.equal(Number(done[0].trigger_score), 0.93);
      const states = await tom.sql<{ status: string }[]>`
        select status from tom_observation_states where record_id = ${done[0].id} order by at`;
      assert.deepEqual(states.map((s) => s.status), ["PENDING", "COMPLETED"]);

      // New photometry on alerts.in.optical, from the AT2017gfo light curve.
      const photometry = await waitFor("follow-up alerts", async () => {
        const out: { band: string; mag: number; mjd: number }[] = [];
        for await (const m of transport.read(STREAMS.alertsIn.name)) {
          const env = JSON.parse(new TextDecoder().decode(m.data));
          const rec = env.content.records?.[0];
          if (env.kind === "optical" && rec?.object_id === "AT2017gfo") {
            out.push({ band: rec.candidate.band, mag: rec.candidate.mag, mjd: rec.candidate.mjd });
          }
        }
        return out.length >= 3 ? out : undefined;
      }, 10_000);
      // One g, r, i visit per observable epoch (the record completed: every exposure is out).
      assert.deepEqual([...new Set(photometry.map((p) => p.band))].sort(), ["g", "i", "r"]);
      assert.equal(photometry.length % 3, 0);
      for (const p of photometry) {
        assert.ok(p.mjd > 57982.98 && p.mjd < 57984, `observed in the window: ${p.mjd}`);
        assert.ok(p.mag > 16 && p.mag < 21, `${p.band} ${p.mag}`);
      }
      // Still exactly one request after everything settled.
      const [{ n }] = await tom.sql<
        { n: number }[]
      >`select count(*)::int as n from tom_observation_records`;
      assert.equal(n, 1);
      assert.equal(obs.observatory.list().length, 1);

      // By hand (role pi): never above the airmass limit → refused at validation, no record.
      const token = await tom.devIssuer!.tokenFor("pi");
      const api = (path: string, body: unknown) =>
        fetch(`${tom.url}${path}`, {
          method: "POST",
          headers: { Authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const windows = [{ start: "2017-08-18T18:00:00Z", end: "2017-08-19T06:00:00Z" }];
      const north = await createTarget(tom.sql, { name: "far-north", ra: 197.45, dec: 88 });
      const refused = await api("/api/observations/", {
        target_id: north,
        filters: ["r"],
        windows,
        max_airmass: 1.5,
      });
      assert.equal(refused.status, 400);
      const why = await refused.json();
      assert.equal(why.error, "not_observable");
      assert.match(
        why.message,
        /far-north is not observable: .*never rises above the airmass limit 1.5/,
      );
      const [{ n: after }] = await tom.sql<{ n: number }[]>`
        select count(*)::int as n from tom_observation_records`;
      assert.equal(after, 1, "a refused request leaves no record");
      assert.equal(obs.observatory.list().length, 1, "nor a request group");

      // Request and cancel: CANCELED in the TOM and at the facility, nothing observed.
      const alertsBefore = (await transport.streamState(STREAMS.alertsIn.name)).messages;
      const [{ id: gfo }] = await tom.sql<{ id: number }[]>`
        select id from tom_targets where name = 'AT2017gfo'`;
      const made = await api("/api/observations/", {
        target_id: Number(gfo),
        filters: ["r"],
        windows,
      });
      assert.equal(made.status, 201, await made.clone().text());
      const rec = await made.json();
      const canceled = await api(`/api/observations/${rec.id}/cancel/`, {});
      assert.equal(canceled.status, 200, await canceled.clone().text());
      assert.equal((await canceled.json()).status, "CANCELED");
      assert.equal(obs.observatory.get(Number(rec.observation_id))!.state, "CANCELED");
      const cancelStates = await waitFor("the CANCELED event is consumed", async () => {
        const c = tom.host!.actors.find((a) => a.name === "tom-observations")!.consumer;
        const st = await transport.consumerState(c.stream, c.durable);
        if (st.pending + st.ackPending) return undefined;
        return await tom.sql<{ status: string; source: string }[]>`
          select status, source from tom_observation_states where record_id = ${rec.id} order by at`;
      }, 10_000);
      // Each state once, from the TOM's own call or the facility's event, whichever came first.
      assert.deepEqual(cancelStates.map((s) => s.status), ["PENDING", "CANCELED"]);
      assert.ok(["submit", "event"].includes(cancelStates[0].source), cancelStates[0].source);
      assert.ok(["cancel", "event"].includes(cancelStates[1].source), cancelStates[1].source);
      await new Promise((r) => setTimeout(r, 2000)); // past the observatory's 1.5 s delay
      assert.equal(
        (await transport.streamState(STREAMS.alertsIn.name)).messages,
        alertsBefore,
        "a canceled request is not observed",
      );
    } finally {
      await tom.stop();
      await obs.stop();
      await transport.close();
      await db.drop();
      await nats.stop();
    }
  },
});
