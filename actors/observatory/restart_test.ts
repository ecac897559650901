/**
 * The simulated observatory as its own process with a state directory, on a
 * real nats-server and PostgreSQL with the TOM: SIGKILLed while a request is
 * pending, restarted on the same port, it resumes the request, observes it, and
 * the TOM's ObservationRecord reaches COMPLETED from the status events.
 */
import assert from "node:assert/strict";
import { STREAMS } from "../../contracts/names.ts";
import { NatsTransport } from "../runtime/nats_transport.ts";
import {
  type SpawnedProcess,
  spawnProcess,
  startPrivateNats,
  waitFor,
} from "../runtime/testing.ts";
import { createTarget } from "../../gateway/tom/store/targets.ts";
import { createTestDatabase, startTestTom } from "../../gateway/tom/testing.ts";
import { submitRecord } from "../../gateway/tom/facilities/strategy.ts";
import { AT2017GFO } from "./photometry.ts";

function spawnObservatory(env: Record<string, string>): Promise<SpawnedProcess<string>> {
  return spawnProcess({
    name: "observatory",
    args: ["actors/observatory/main.ts"],
    env,
    readyWhen: (e) => (e.msg === "observatory ready" ? String(e.url) : undefined),
    timeoutMs: 60_000,
  });
}

Deno.test({
  name: "observatory process: SIGKILL mid-request, restart, the request completes in the TOM",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startPrivateNats();
    const db = await createTestDatabase("obs_restart");
    const stateDir = await Deno.makeTempDir({ prefix: "kb-obs-restart-" });
    const transport = await NatsTransport.connect({ servers: nats.url, name: "obs-restart" });
    for (const s of [STREAMS.alertsIn, STREAMS.observations, STREAMS.deadLetters]) {
      await transport.ensureStream(s);
    }
    const env = {
      KB_NATS_URL: nats.url,
      KB_OBSERVATORY_PORT: "0",
      KB_OBSERVATORY_DELAY_MS: "4000",
      KB_OBSERVATORY_STATE_DIR: stateDir,
      KB_LOG_LEVEL: "info",
    };
    let obs: SpawnedProcess<string> | undefined = await spawnObservatory(env);
    const url = obs.ready;
    const tom = await startTestTom({
      KB_DATABASE_URL: db.url,
      KB_TOM_BROKER: "true",
      KB_TOM_FACILITY_URL: url,
      KB_TOM_RECONCILE_MS: "3600000", // the status events must do it, not reconciliation
    }, { transport });
    try {
      const gfo = await createTarget(tom.sql, {
        name: "AT2017gfo",
        ra: AT2017GFO.ra,
        dec: AT2017GFO.dec,
      });
      // What `POST /api/observations/` does (record, then validate and submit), minus HTTP.
      const [{ id }] = await tom.sql<{ id: number }[]>`insert into tom_observation_records
        (target_id, facility, parameters, requested_by) values (${gfo}, 'LCO', ${
        tom.sql.json({
          target: { name: "AT2017gfo", ra: AT2017GFO.ra, dec: AT2017GFO.dec },
          filters: ["g", "r"],
          exposureTimeS: 300,
          exposureCount: 1,
          windows: [{ start: "2017-08-18T18:00:00Z", end: "2017-08-19T06:00:00Z" }],
          maxAirmass: 2,
          minLunarDistance: 30,
        })
      }, 'pi') returning id`;
      const decision = await submitRecord(tom.sql, tom.facilities.get("LCO")!, Number(id));
      assert.equal(decision.action, "requested", decision.reason);
      const [rec] = await tom.sql<{ id: number; status: string; observation_id: string }[]>`
        select id, status, observation_id from tom_observation_records where id = ${id}`;
      assert.equal(rec.status, "PENDING");

      // Killed before its observation (4 s after submission): nothing observed yet.
      obs.kill("SIGKILL");
      await obs.status;
      const saved = JSON.parse(await Deno.readTextFile(`${stateDir}/observatory-LCO.json`));
      assert.equal(saved.groups.length, 1);
      assert.equal(saved.groups[0].state, "PENDING");
      const [before] = await tom.sql<{ status: string }[]>`
        select status from tom_observation_records where id = ${rec.id}`;
      assert.equal(before.status, "PENDING");

      obs = await spawnObservatory({ ...env, KB_OBSERVATORY_PORT: new URL(url).port });
      const loaded = obs.logs.find((l) => l.msg === "observatory state loaded");
      assert.deepEqual([loaded?.groups, loaded?.resumed], [1, 1], JSON.stringify(obs.logs));
      const group = await (await fetch(`${url}/api/requestgroups/${rec.observation_id}/`)).json();
      assert.equal(group.name, `kb-${rec.id}`, "the restarted observatory knows the request");

      const done = await waitFor(
        "the record completes after the restart",
        async () => {
          const [r] = await tom.sql<{ status: string; terminal: boolean }[]>`
          select status, terminal from tom_observation_records where id = ${rec.id}`;
          return r.status === "COMPLETED" ? r : undefined;
        },
        30_000,
        100,
      );
      assert.equal(done.terminal, true);
      const states = await tom.sql<{ status: string; source: string }[]>`
        select status, source from tom_observation_states where record_id = ${rec.id} order by at`;
      // PENDING from the submission or its event, whichever came first; COMPLETED from the event.
      assert.deepEqual(states.map((s) => s.status), ["PENDING", "COMPLETED"]);
      assert.ok(["submit", "event"].includes(states[0].source), states[0].source);
      assert.equal(states[1].source, "event");
      // Its photometry reached the bus: one g and one r exposure.
      const bands: string[] = [];
      for await (const m of transport.read(STREAMS.alertsIn.name)) {
        const e = JSON.parse(new TextDecoder().decode(m.data));
        bands.push(e.content.records[0].candidate.band);
      }
      assert.deepEqual(bands.sort(), ["g", "r"]);
    } finally {
      obs?.kill("SIGTERM");
      await obs?.status;
      await tom.stop();
      await transport.close();
      await db.drop();
      await nats.stop();
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});
