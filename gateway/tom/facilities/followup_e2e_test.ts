/**
 * End to end on real NATS and PostgreSQL: a derived alert with a high
 * P(kilonova) inside a live event → exactly one automatic request (a replay of
 * the alert makes none) → the simulated observatory completes it → the TOM's
 * record follows the status events → new photometry arrives on alerts.in.optical.
 */
import assert from "node:assert/strict";
import { STREAMS } from "../../../contracts/names.ts";
import { RESULT_SUBJECTS } from "../../../contracts/names.ts";
import { connectTestNats, waitFor } from "../../../actors/runtime/testing.ts";
import { createLogger } from "../../../actors/runtime/log.ts";
import { loadObservatoryConfig, startObservatory } from "../../../actors/observatory/server.ts";
import { AT2017GFO } from "../../../actors/observatory/photometry.ts";
import { createTestDatabase, derivedAlert, startTestTom } from "../testing.ts";

Deno.test({
  name: "follow-up e2e: high P(KN) in the live event → one request → observed → new photometry",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await createTestDatabase("obs_e2e");
    const transport = await connectTestNats("obs-e2e");
    for (const s of [STREAMS.alertsOut, STREAMS.alertsIn, STREAMS.observations]) {
      await transport.deleteStream(s.name).catch(() => {});
      await transport.ensureStream(s);
    }
    const log = createLogger({ level: "error" });
    const obs = await startObservatory(
      loadObservatoryConfig({ KB_OBSERVATORY_PORT: "0", KB_OBSERVATORY_DELAY_MS: "200" }),
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
    } finally {
      await tom.stop();
      await obs.stop();
      await transport.close();
      await db.drop();
    }
  },
});
