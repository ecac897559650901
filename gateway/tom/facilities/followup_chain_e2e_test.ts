/**
 * Issue 9's acceptance, the whole loop on real servers (a nats-server of the
 * test's own, the local PostgreSQL; the TOM's development issuer): the replayed
 * GW170817 alert and AT2017gfo's alerts up to its first detection → archiver,
 * classifier, results publisher → a derived alert the TOM files → exactly one
 * automatic request → the simulated observatory observes it → its photometry
 * arrives on `alerts.in.optical` → the classifier re-scores → the results
 * publisher publishes a changed derived alert → the TOM's score history gains
 * an entry computed from alert ids that include the observatory's photometry.
 * Then a replay of the same alerts, and of every derived alert, makes no
 * second request.
 */
import assert from "node:assert/strict";
import { STREAMS, topicName } from "../../../contracts/names.ts";
import { connect } from "../../../db/mod.ts";
import { createArchiver } from "../../../actors/archiver/archiver.ts";
import { classifierActor, handleEnvelope } from "../../../actors/classifier/actor.ts";
import { ClassifierState } from "../../../actors/classifier/state.ts";
import type { ActorDefinition } from "../../../actors/runtime/actor.ts";
import { createResultsPublisher } from "../../../actors/results_publisher/publisher.ts";
import { runtimeConfig } from "../../../actors/runtime/config.ts";
import { startHost } from "../../../actors/runtime/host.ts";
import { createLogger } from "../../../actors/runtime/log.ts";
import { NatsTransport } from "../../../actors/runtime/nats_transport.ts";
import { startPrivateNats, uniqueToken, waitFor } from "../../../actors/runtime/testing.ts";
import {
  buildTimeline,
  loadDataset,
  loadEncoders,
  runReplay,
  transportSink,
} from "../../../actors/source_publisher/mod.ts";
import { loadObservatoryConfig, startObservatory } from "../../../actors/observatory/server.ts";
import { listResults } from "../store/history.ts";
import { createTestDatabase, startTestTom } from "../testing.ts";

const dec = new TextDecoder();

/** The classifier actor with a state of its own (not the process-wide one other tests share). */
function freshClassifier(): ActorDefinition {
  const state = new ClassifierState();
  const actor: typeof classifierActor = {
    ...classifierActor,
    handler: (msg, ctx) => handleEnvelope(msg.data, msg.id, state, (m, f) => ctx.log.info(m, f)),
  };
  return actor as unknown as ActorDefinition;
}

Deno.test({
  name: "follow-up loop e2e: AT2017gfo replay → one request → observed → re-scored in the TOM",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startPrivateNats();
    const db = await createTestDatabase("obs_chain");
    const transport = await NatsTransport.connect({ servers: nats.url, name: "obs-chain" });
    for (const s of Object.values(STREAMS)) await transport.ensureStream(s);
    const sql = connect(db.url, { max: 4, applicationName: "kb-chain-test" });
    const log = createLogger({ level: "error" });
    const obs = await startObservatory(
      loadObservatoryConfig({ KB_OBSERVATORY_PORT: "0", KB_OBSERVATORY_DELAY_MS: "300" }),
      transport,
      log,
    );
    const tom = await startTestTom({
      KB_DATABASE_URL: db.url,
      KB_TOM_BROKER: "true",
      KB_TOM_FACILITY_URL: obs.url,
      KB_TOM_RECONCILE_MS: "2000",
      // One night of g, r, i every 8 h; the cooldown covers it.
      KB_TOM_STRATEGY: JSON.stringify({
        cadence: { filters: ["g", "r", "i"], everyHours: 8, forDays: 1 },
      }),
    }, { transport });
    const runtime = runtimeConfig({
      KB_TRANSPORT: "nats",
      KB_NATS_URL: nats.url,
      KB_HTTP_PORT: 0,
      KB_HTTP_HOST: "127.0.0.1",
      KB_LOG_LEVEL: "error",
    });
    const host = await startHost(
      [
        createArchiver({ sql }),
        freshClassifier(),
        createResultsPublisher({ sql }),
      ],
      runtime,
      { transport, log },
    );
    /** What the pipeline holds, for a failure message. */
    const diagnose = async () => {
      const n = async (t: string) => (await sql.unsafe(`select count(*)::int as n from ${t}`))[0].n;
      const dlq: string[] = [];
      for await (const m of transport.read(STREAMS.deadLetters.name)) {
        dlq.push(dec.decode(m.data).slice(0, 300));
      }
      return JSON.stringify({
        alerts: await n("alerts"),
        results: await n("results"),
        targets: await n("tom_targets"),
        tomAlerts: await n("tom_alerts"),
        events: await n("tom_events"),
        records: await sql`select status, detail from tom_observation_records`,
        groups: obs.observatory.list().map((g) => [g.id, g.state]),
        dlq,
        out: await (async () => {
          const o: string[] = [];
          for await (const m of transport.read(STREAMS.alertsOut.name)) {
            o.push(m.subject + " " + dec.decode(m.data).slice(0, 200));
          }
          return o;
        })(),
        consumers: await Promise.all(
          [...host.actors, ...tom.host!.actors].map(async (a) => [
            a.name,
            await transport.consumerState(a.consumer.stream, a.consumer.durable),
          ]),
        ),
      });
    };
    const waitOr = async <T>(what: string, check: () => Promise<T>, ms: number) => {
      try {
        return await waitFor(what, check, ms, 200);
      } catch (err) {
        throw new Error(`${(err as Error).message}\npipeline: ${await diagnose()}`);
      }
    };
    try {
      // The replay: the IGWN alerts, then AT2017gfo up to its first detection (+0.45 d). Two
      // runs, because at full speed a replay publishes its topics concurrently, and the GW
      // alert came ~11 h before the detection.
      const built = await buildTimeline(await loadDataset(), await loadEncoders());
      const gw = built.events.filter((e) => e.topic === "igwnAlert");
      const gfo = built.events.filter((e) =>
        e.topic === "optical" && e.recordKey === "AT2017gfo" && e.t < 0.46 * 86_400
      );
      const runId = `chain-${uniqueToken()}`;
      const replay = async () => {
        let sent = 0;
        for (const events of [gw, gfo]) {
          sent += (await runReplay(events, {
            speed: "max",
            group: "kb-chain",
            runId,
            sink: transportSink(transport, "kb-chain-test"),
          })).sent;
        }
        return sent;
      };
      assert.equal(await replay(), gw.length + gfo.length);

      // Exactly one automatic request, observed to completion.
      const [rec] = await waitOr("the automatic request completes", async () => {
        const rows = await tom.sql<
          { id: number; status: string; rule: string; trigger_score: number; target: string }[]
        >`select r.id, r.status, r.rule, r.trigger_score, t.name as target
          from tom_observation_records r join tom_targets t on t.id = r.target_id`;
        return rows.length === 1 && rows[0].status === "COMPLETED" ? rows : undefined;
      }, 60_000);
      assert.equal(rec.target, "AT2017gfo");
      assert.equal(rec.rule, "kilonova-followup");
      assert.ok(Number(rec.trigger_score) >= 0.5, `trigger score ${rec.trigger_score}`);

      // Everything the follow-up caused has gone through (every consumer drained, 3 looks).
      const consumers = [...host.actors, ...tom.host!.actors].map((a) => a.consumer);
      let quiet = 0;
      await waitOr("the pipeline to settle", async () => {
        let busy = 0;
        for (const c of consumers) {
          const st = await transport.consumerState(c.stream, c.durable);
          busy += st.pending + st.ackPending;
        }
        quiet = busy === 0 ? quiet + 1 : 0;
        return quiet >= 3;
      }, 60_000);

      // The observatory's photometry on the bus (one g, r, i visit per observable epoch).
      const obsTopic = topicName("observatory", "optical");
      const observed = new Set<string>();
      for await (const m of transport.read(STREAMS.alertsIn.name)) {
        const env = JSON.parse(dec.decode(m.data));
        if (env.kafka.topic === obsTopic) observed.add(env.hop.id);
      }
      assert.ok(observed.size >= 3 && observed.size % 3 === 0, `${observed.size} exposures`);

      // The TOM's score history: a later entry computed from the observatory's photometry,
      // with a score that moved (the results publisher only republishes material changes).
      const [{ id: targetId }] = await tom.sql<{ id: number }[]>`
        select id from tom_targets where name = 'AT2017gfo'`;
      const viewer = { subject: "chain-test", groups: [], admin: true };
      const history = await waitOr("a score-history entry from the follow-up", async () => {
        const h = await listResults(tom.sql, viewer, {
          targetId: Number(targetId),
          limit: 100,
          offset: 0,
        });
        const alerts = await tom.sql<
          { result_id: string; inputs: { alert_id: string; hop_id: string | null }[] }[]
        >`
          select result_id, payload #> '{data,inputs}' as inputs from tom_alerts
          where target_id = ${targetId}`;
        const fromFollowUp = new Set(
          alerts.filter((a) => a.inputs.some((i) => i.hop_id !== null && observed.has(i.hop_id)))
            .map((a) => a.result_id),
        );
        const later = h.rows.filter((r) => fromFollowUp.has(r.result_id));
        return later.length ? { rows: h.rows, later } : undefined;
      }, 60_000);
      const first = history.rows[0];
      assert.ok(!history.later.some((r) => r.result_id === first.result_id));
      const moved = history.later.map((r) => Math.abs(Number(r.score) - Number(first.score)));
      assert.ok(Math.max(...moved) >= 0.05, `score moved by ${moved.join(", ")}`);
      const [latest] = await tom.sql<{ score: number }[]>`
        select score from tom_targets where id = ${targetId}`;
      assert.equal(Number(latest.score), Number(history.rows.at(-1)!.score));

      // Idempotency: the same alerts replayed (the bus drops the copies by hop id), and every
      // derived alert delivered to the TOM again under new message ids: still one request.
      const before = await transport.streamState(STREAMS.alertsIn.name);
      await replay();
      assert.equal(
        (await transport.streamState(STREAMS.alertsIn.name)).messages,
        before.messages,
        "a replay of the same alerts adds nothing to the bus",
      );
      let copies = 0;
      for await (const m of transport.read(STREAMS.alertsOut.name)) {
        await transport.publish(m.subject, m.data, { msgId: `replayed-${copies++}` });
      }
      assert.ok(copies >= 2);
      await waitFor(
        "the TOM has read the replayed derived alerts",
        async () => {
          const c = tom.host!.actors.find((a) => a.name === "tom")!.consumer;
          const s = await transport.consumerState(c.stream, c.durable);
          return s.pending + s.ackPending === 0;
        },
        30_000,
        200,
      );
      const [{ n }] = await tom.sql<{ n: number }[]>`
        select count(*)::int as n from tom_observation_records`;
      assert.equal(n, 1, "no second request");
      assert.equal(obs.observatory.list().length, 1);
    } finally {
      await host.stop();
      await tom.stop();
      await obs.stop();
      await sql.end({ timeout: 5 });
      await transport.close();
      await db.drop();
      await nats.stop();
    }
  },
});
