/**
 * Fault suite (issue 11, `deno task test:faults`): 100,000 synthetic-sky alerts
 * at 2,000 alerts/s through the whole pipeline on real servers — Kafka →
 * inbound gateway → archiver + classifier → results publisher → outbound
 * gateway → Kafka results topic, and the TOM's broker module — while every
 * process is SIGKILLed once and NATS, Kafka and PostgreSQL are each restarted
 * once, at seeded random times (`KB_FAULTS_SEED`, printed). Then:
 *
 * - the archive holds exactly the 100,000 alerts, once each;
 * - every alert has exactly one stored classification result, and every
 *   candidate exactly one current result: its publication is its latest
 *   published result, with one revision per published result;
 * - the Kafka results topic holds every derived alert once under its own `_id`: no id twice,
 *   although crashes redeliver messages whose records were already produced;
 * - the TOM has one target per candidate (no duplicate names, aliases or
 *   positions) and one derived-alert row per published result;
 * - nothing was dead-lettered and no process exited on its own.
 *
 * The servers are private (`e2e/stack.ts`, ports from 25420): restarting the
 * shared ones would break other tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import { STREAMS } from "../contracts/names.ts";
import { connect, migrate } from "../db/mod.ts";
import type { NatsTransport } from "../actors/runtime/nats_transport.ts";
import { sleep } from "../actors/runtime/testing.ts";
import { Rng } from "../actors/source_publisher/synthetic/rng.ts";
import { createTopics, plainKafka, produceAtRate, readTopic } from "./kafka.ts";
import { backlog, Pipeline, type Stage, STAGES } from "./pipeline.ts";
import { waitWhileProgressing } from "./progress.ts";
import { skyAlerts } from "./sky.ts";
import { connectStackNats, type PrivateService, startPrivateStack } from "./stack.ts";

/** Alerts sent (`KB_FAULTS_ALERTS` overrides it for a quicker look; the suite's claim is 100,000). */
const TOTAL = Number(Deno.env.get("KB_FAULTS_ALERTS") ?? 100_000);
const RATE = 2_000;
const SEED = Number(Deno.env.get("KB_FAULTS_SEED") ?? 170817);
const BASE_PORT = 25420;

type Fault = { kind: "kill"; stage: Stage } | { kind: "restart"; service: PrivateService };

/** The nine faults in a seeded order, each at a seeded time within the production window. */
export function faultPlan(seed: number, windowS: number): { atS: number; fault: Fault }[] {
  const rng = new Rng(seed, 11);
  const faults: Fault[] = [
    ...STAGES.map((stage) => ({ kind: "kill", stage }) as Fault),
    ...(["nats", "kafka", "postgres"] as const).map((service) =>
      ({ kind: "restart", service }) as Fault
    ),
  ];
  for (let i = faults.length - 1; i > 0; i--) {
    const j = rng.next() % (i + 1);
    [faults[i], faults[j]] = [faults[j], faults[i]];
  }
  const times = faults.map(() => rng.between(0.05, 0.95) * windowS).sort((a, b) => a - b);
  return faults.map((fault, i) => ({ atS: Math.round(times[i] * 10) / 10, fault }));
}

Deno.test(
  `faults: ${TOTAL} alerts at ${RATE}/s, every process SIGKILLed once, NATS, Kafka and PostgreSQL restarted once → nothing lost, nothing twice by id`,
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const started = performance.now();
    const events: string[] = [];
    const mark = (what: string) => {
      events.push(`${((performance.now() - started) / 1000).toFixed(1)}s ${what}`);
      console.error(`[faults] ${events.at(-1)}`);
    };
    const stack = await startPrivateStack("faults", BASE_PORT);
    mark("private NATS, PostgreSQL, Kafka started");
    const brokers = stack.env.KB_KAFKA_BROKERS;
    // Connected only around the fault window: a client idle through a restart is reset.
    let sql = connect(stack.env.KB_DATABASE_URL, { max: 1 });
    const kafka = plainKafka(brokers);
    const source = "kb-e2e.optical-candidates";
    const results = "kb-e2e.results";
    const pipeline = new Pipeline({
      env: stack.env,
      brokers,
      sourceTopics: [source],
      resultsTopic: results,
      group: "kb-e2e-faults-inbound",
      // A starved event loop (2 shared cores) must not cost the gateway its Kafka group membership.
      extraEnv: {
        KB_ACK_WAIT_MS: "10000",
        KB_GRACE_MS: "5000",
        KB_HOP_IN_SESSION_TIMEOUT_MS: "30000",
      },
    });
    let nats: NatsTransport | undefined;
    try {
      await migrate(sql);
      await sql.end({ timeout: 5 });
      await createTopics(kafka, [source], 3);
      await createTopics(kafka, [results], 1);
      const alerts = await skyAlerts(TOTAL, {
        seed: SEED,
        candidates: TOTAL / 10,
        prefix: "KBF",
      });
      mark(`${TOTAL} alerts of ${alerts.candidates.size} candidates generated (seed ${SEED})`);
      await pipeline.startAll();
      mark("pipeline started (6 processes)");

      const plan = faultPlan(SEED, TOTAL / RATE);
      const producer = produceAtRate(kafka, source, TOTAL, alerts.record, {
        rate: RATE,
        onRetry: (err) => mark(`producer retrying: ${err.message.slice(0, 80)}`),
      });
      const t0 = performance.now();
      const faultTimes: Record<string, number> = {};
      for (const { atS, fault } of plan) {
        const wait = atS * 1000 - (performance.now() - t0);
        if (wait > 0) await sleep(wait);
        const at = producer.produced();
        if (fault.kind === "kill") {
          const ms = await pipeline.crash(fault.stage);
          faultTimes[`kill ${fault.stage}`] = ms;
          mark(`SIGKILL ${fault.stage} at ${at} produced; back in ${(ms / 1000).toFixed(1)} s`);
        } else {
          const release = fault.service === "kafka" ? producer.hold() : () => {};
          const ms = await stack.restart(fault.service).finally(release);
          faultTimes[`restart ${fault.service}`] = ms;
          mark(`${fault.service} restarted at ${at} produced; took ${(ms / 1000).toFixed(1)} s`);
        }
      }
      await producer.done;
      const produceS = (performance.now() - t0) / 1000;
      mark(`all ${TOTAL} produced (${producer.retries()} batch retries)`);

      // Convergence: every stage has caught up.
      sql = connect(stack.env.KB_DATABASE_URL, { max: 2 });
      nats = await connectStackNats(stack.env, "kb-e2e-faults");
      const count = async (table: string) =>
        Number((await sql.unsafe(`select count(*)::int as n from ${table}`))[0].n);
      await waitWhileProgressing(
        "every alert archived and classified, every stage idle",
        async () => {
          const [alertsN, resultsN, tomN] = [
            await count("alerts"),
            await count("results"),
            await count("tom_alerts"),
          ];
          const b = await backlog(nats!);
          return {
            done: alertsN >= TOTAL && resultsN >= TOTAL && b.idle,
            progress: alertsN + resultsN + tomN - b.left,
            detail: `archive ${alertsN}, results ${resultsN}, TOM alerts ${tomN}; ${b.detail}; ` +
              `crashes ${JSON.stringify(pipeline.crashes.map((c) => c.stage))}`,
          };
        },
      );
      const drainS = (performance.now() - t0) / 1000;
      mark("every stage idle");
      await sleep(3_000); // anything delivered twice has had its chance to show up

      // 1. The archive: exactly the 100,000 alerts, once each.
      const [a] = await sql`select count(*)::int as n, count(distinct hop_id)::int as ids,
        count(*) filter (where hop_id = any(${alerts.ids as string[]}::uuid[]))::int as ours
        from alerts`;
      assert.deepEqual(a, { n: TOTAL, ids: TOTAL, ours: TOTAL }, "archive");
      const [cand] = await sql`select count(*)::int as n, sum(n_alerts)::int as alerts
        from candidates`;
      assert.deepEqual(cand, { n: alerts.candidates.size, alerts: TOTAL }, "candidates");

      // 2. One result per alert; one current result per candidate.
      const [r] = await sql`select count(*)::int as n, count(distinct result_id)::int as ids,
        count(distinct candidate_id)::int as cands,
        count(*) filter (where decision = 'published')::int as published from results`;
      assert.equal(r.n, TOTAL, "one stored result per alert");
      assert.equal(r.ids, TOTAL);
      assert.equal(r.cands, alerts.candidates.size, "every candidate has results");
      const [p] = await sql`select count(*)::int as n,
        count(distinct candidate_id)::int as cands, coalesce(sum(revision), 0)::int as revisions
        from publications`;
      assert.equal(p.n, alerts.candidates.size, "exactly one current result per candidate");
      assert.equal(p.cands, alerts.candidates.size);
      assert.equal(p.revisions, r.published, "one revision per published result");
      const stale = await sql`select p.candidate_id from publications p
        where p.result_id is distinct from (select r.result_id from results r
          where r.candidate_id = p.candidate_id and r.decision = 'published'
          order by r.id desc limit 1)
        or p.revision <> (select count(*) from results r
          where r.candidate_id = p.candidate_id and r.decision = 'published')`;
      assert.deepEqual(stale.map((s) => s.candidate_id), [], "publications are current");

      // 3. The Kafka results topic: every derived alert once.
      const records = await readTopic(kafka, results, (rs) => rs.length >= r.published, {
        timeoutMs: 120_000,
      });
      const ids = records.map((x) => x.id);
      assert.ok(ids.every((id) => id !== undefined), "every derived alert has a hop _id");
      const byId = new Map<string, Uint8Array>();
      const copies: string[] = [];
      for (const rec of records) {
        if (byId.has(rec.id!)) copies.push(rec.id!);
        else byId.set(rec.id!, rec.value);
      }
      // A SIGKILL or a Kafka restart between Kafka's ack and the NATS ack redelivers a message
      // whose record is already on the topic: the outbound gateway finds its `_id` there
      // (gateway/hopskotch/produced_check.ts) and does not produce it again.
      const duplicates = copies.length;
      assert.deepEqual(
        copies.slice(0, 10),
        [],
        `no derived alert id twice on Kafka (${duplicates})`,
      );
      const hopIds = await sql`select hop_id::text as id from publications`;
      assert.equal(byId.size, r.published, "every published result reached Kafka, once by _id");
      for (const h of hopIds) assert.ok(byId.has(h.id), `current derived alert ${h.id}`);

      // 4. The TOM: one target per candidate, one alert row per published result.
      const [tom] = await sql`select
        (select count(*) from tom_targets)::int as targets,
        (select count(*) from tom_target_names)::int as aliases,
        (select count(*) from tom_alerts)::int as alerts,
        (select count(distinct result_id) from tom_alerts)::int as results`;
      const near = await sql`select a.name, b.name as other from tom_targets a
        join tom_targets b on b.id > a.id and b.dec between a.dec - 0.0005 and a.dec + 0.0005
        where degrees(acos(least(1, sin(radians(a.dec)) * sin(radians(b.dec)) +
          cos(radians(a.dec)) * cos(radians(b.dec)) * cos(radians(a.ra - b.ra))))) < 1.5 / 3600`;
      assert.deepEqual(
        near.map((n) => `${n.name} ~ ${n.other}`),
        [],
        "no two TOM targets within the 1.5″ deduplication radius",
      );
      assert.equal(tom.targets + tom.aliases, alerts.candidates.size, "one TOM name per candidate");
      assert.equal(tom.alerts, r.published, "one TOM alert row per derived alert");
      assert.equal(tom.results, r.published);
      const unnamed = await sql`select p.candidate_id from publications p
        where not exists (select 1 from tom_targets t where t.name = p.candidate_id)
          and not exists (select 1 from tom_target_names n where n.name = p.candidate_id)`;
      assert.deepEqual(unnamed.map((u) => u.candidate_id), [], "every candidate is a TOM target");

      // 5. Nothing dead-lettered, nothing crashed.
      const dlq = await nats.streamState(STREAMS.deadLetters.name).catch(() => ({ messages: 0 }));
      const [rejected] = await sql`select count(*)::int as n from alerts where status = 'rejected'`;
      assert.equal(dlq.messages, 0, "nothing dead-lettered");
      assert.deepEqual(pipeline.crashes, [], "no process exited on its own");

      const inbound = await nats.streamState(STREAMS.alertsIn.name);
      console.log(
        [
          ...events,
          `seed ${SEED}; plan: ${
            plan.map((x) =>
              `${x.atS}s ${x.fault.kind === "kill" ? x.fault.stage : x.fault.service}`
            ).join(", ")
          }`,
          `produced ${TOTAL} in ${produceS.toFixed(1)} s (${(TOTAL / produceS).toFixed(0)}/s); ` +
          `pipeline drained ${drainS.toFixed(1)} s after the first record`,
          `KB_ALERTS_IN ${inbound.messages} messages; results ${r.n} (${r.published} published); ` +
          `Kafka results ${records.length} records, ${byId.size} ids, ${duplicates} re-produced copies; ` +
          `TOM ${tom.targets} targets + ${tom.aliases} aliases, ${tom.alerts} alert rows; ` +
          `archive rejected ${rejected.n}; dead letters ${dlq.messages}`,
        ].join("\n"),
      );
    } finally {
      await pipeline.stopAll();
      await nats?.close().catch(() => {});
      await sql.end({ timeout: 5 }).catch(() => {});
      await stack.destroy();
    }
  },
);
