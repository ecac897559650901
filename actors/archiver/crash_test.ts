/**
 * Crash test: 100,000 optical alerts go Kafka → inbound gateway (a process) →
 * NATS → archiver (a process) → PostgreSQL, while the archiver is SIGKILLed
 * twice and PostgreSQL is restarted once. The archive must end with exactly
 * 100,000 alerts, one per record, and their typed rows: acknowledging only
 * after commit loses nothing, the unique message id duplicates nothing.
 *
 * Uses its own database (kb_test_*), Kafka topic and a fresh KB_ALERTS_IN.
 */
import assert from "node:assert/strict";
import { STREAMS } from "../../contracts/names.ts";
import { encodeOpticalAlert } from "../source_publisher/payloads.ts";
import { connectTestNats, natsUrl, sleep, waitFor } from "../runtime/testing.ts";
import { createTestDatabase } from "../../db/testing.ts";
import {
  createTopics,
  type GatewayProcess,
  kafkaTestConfig,
  kafkaTestEnv,
  kafkaTestUrl,
  spawnGateway,
} from "../../gateway/hopskotch/testing.ts";
import { connectHopWriter, type HopRecord } from "../../gateway/hopskotch/writer.ts";
import { point, testEncoders } from "./testing.ts";

const TOTAL = 100_000;
const OBJECTS = 20_000;
const ROOT = new URL("../../", import.meta.url);

Deno.test(
  "crash: 100,000 alerts gateway → archiver, archiver SIGKILLed twice, PostgreSQL restarted once → exactly 100,000",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const started = Date.now();
    const events: string[] = [];
    const mark = (what: string) =>
      events.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${what}`);
    const db = await createTestDatabase("postgres");
    const t = await connectTestNats("archive-crash-test");
    for (const s of [STREAMS.alertsIn, STREAMS.deadLetters]) {
      await t.deleteStream(s.name);
      await t.ensureStream(s);
    }
    const topic = `kb-test.optical-crash-${crypto.randomUUID().slice(0, 8)}`;
    await createTopics([topic], 3);

    // 100,000 optical alerts (20,000 objects × 5 detections), produced up front.
    const enc = await testEncoders();
    const ids: string[] = [];
    const writer = await connectHopWriter(kafkaTestConfig());
    for (let i = 0; i < TOTAL; i += 2000) {
      const batch: HopRecord[] = [];
      for (let k = i; k < i + 2000; k++) {
        const id = crypto.randomUUID();
        ids.push(id);
        const obj = k % OBJECTS;
        batch.push({
          format: "avro",
          id,
          value: encodeOpticalAlert(enc, {
            schemavsn: "1.0",
            publisher: "kb-test",
            alert_id: id,
            object_id: `obj-${obj}`,
            survey: "ZTF",
            candidate: point(Math.floor(k / OBJECTS) + 1, {
              ra: (obj * 0.018) % 360,
              dec: ((obj * 7.3) % 170) - 85,
            }),
            prv_candidates: null,
          }),
        });
      }
      await writer.publish(topic, batch);
    }
    await writer.close();
    mark("100,000 produced to Kafka");

    const natsEnv = { KB_NATS_URL: natsUrl(), KB_GRACE_MS: "5000" };
    const gatewayEnv = {
      ...kafkaTestEnv(),
      ...natsEnv,
      KB_HOP_IN_URL: kafkaTestUrl([topic]),
      KB_HOP_IN_GROUP: `kb-${topic}`,
      KB_HOP_IN_START: "earliest",
    };
    const archiverEnv = {
      ...natsEnv,
      KB_DATABASE_URL: db.url,
      KB_ACK_WAIT_MS: "4000",
    };
    const archiverArgs = ["archiver"];
    const count = async () => {
      const [r] = await db.sql`select count(*)::int as n from alerts`;
      return r.n as number;
    };
    let gw: GatewayProcess | undefined;
    let archiver: GatewayProcess | undefined;
    const spawnArchiver = () => spawnGateway("actors/main.ts", archiverArgs, archiverEnv);
    try {
      gw = await spawnGateway("gateway/hopskotch/inbound_main.ts", [], gatewayEnv);
      archiver = await spawnArchiver();
      for (const at of [15_000, 35_000]) {
        await waitFor(`${at} archived`, async () => (await count()) >= at, 90_000, 50);
        archiver.kill("SIGKILL");
        await archiver.status;
        mark(`archiver SIGKILLed at ${await count()} rows`);
        archiver = await spawnArchiver();
      }
      await waitFor("55,000 archived", async () => (await count()) >= 55_000, 90_000, 50);
      mark(`PostgreSQL restart at ${await count()} rows`);
      const out = await new Deno.Command("bash", {
        args: ["deploy/local/postgres.sh", "restart"],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, `postgres.sh restart failed: ${new TextDecoder().decode(out.stderr)}`);
      mark("PostgreSQL back");
      await waitFor("100,000 archived", async () => (await count()) >= TOTAL, 150_000, 200);
      mark("100,000 archived");
      await sleep(3_000); // anything delivered twice has had its chance to show up
      const [c] = await db.sql`select count(*)::int as n, count(distinct hop_id)::int as ids,
        count(*) filter (where status = 'typed')::int as typed,
        count(*) filter (where hop_id = any(${ids}::uuid[]))::int as ours from alerts`;
      assert.deepEqual(c, { n: TOTAL, ids: TOTAL, typed: TOTAL, ours: TOTAL });
      const [p] = await db.sql`select (select count(*) from photometry)::int as phot,
        (select count(*) from candidates)::int as cands,
        (select sum(n_alerts) from candidates)::int as n_alerts`;
      assert.deepEqual(p, { phot: TOTAL, cands: OBJECTS, n_alerts: TOTAL });
      const dlq = await t.streamState(STREAMS.deadLetters.name);
      assert.equal(dlq.messages, 0, "nothing dead-lettered");
      const transient = archiver.logs.filter((l) => String(l.msg).includes("database unavailable"));
      console.log(events.join("\n"), `\n(${transient.length} 'database unavailable' warnings)`);
      archiver.kill("SIGTERM");
      assert.equal((await archiver.status).code, 0, "clean exit on SIGTERM");
    } finally {
      for (const p of [gw, archiver]) {
        try {
          p?.kill("SIGKILL");
        } catch { /* already gone */ }
        await p?.status.catch(() => {});
      }
      await t.deleteStream(STREAMS.alertsIn.name).catch(() => {});
      await t.close();
      await db.drop().catch((err) => console.error(`dropping the test database: ${err}`));
    }
  },
);
