/**
 * Results flow end to end: a classification result published on NATS is
 * stored, becomes one derived alert, crosses the outbound gateway (a process)
 * to the local Kafka, and hop-client (Python) reads it back as JSON with hop's
 * headers; an unchanged re-score and a redelivered result add nothing.
 */
import assert from "node:assert/strict";
import { DerivedAlert } from "../../contracts/messages.ts";
import { RESULT_SUBJECTS, STREAMS } from "../../contracts/names.ts";
import { insertAlertBatch } from "../../db/archive.ts";
import { createTestDatabase } from "../../db/testing.ts";
import {
  createTopics,
  type GatewayProcess,
  kafkaTestEnv,
  kafkaTestUrl,
  spawnGateway,
  testTopic,
} from "../../gateway/hopskotch/testing.ts";
import { extract } from "../archiver/extract.ts";
import { opticalFixture, point } from "../archiver/testing.ts";
import { runtimeConfig } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import { runtimeMetrics } from "../runtime/metrics.ts";
import { startActor } from "../runtime/runner.ts";
import { connectTestNats, natsUrl, sleep, waitFor } from "../runtime/testing.ts";
import { createResultsPublisher } from "./publisher.ts";
import { resultFixture } from "./testing.ts";

const enc = new TextEncoder();

function env(name: string): string {
  const v = Deno.env.get(name);
  if (!v) {
    throw new Error(`${name} is not set: run through \`./kb task test\` (starts kafka and hop)`);
  }
  return v;
}

async function hopRead(
  url: string,
): Promise<{ model: string; content: unknown; headers: Record<string, string> }[]> {
  const out = await new Deno.Command(env("KB_HOP_PYTHON"), {
    args: [new URL("./testdata/hop_read_json.py", import.meta.url).pathname, url],
    env: { XDG_CONFIG_HOME: env("KB_HOP_CONFIG_HOME") },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

Deno.test(
  "results flow: result → derived alert on Kafka once, hop-client reads JSON; re-score and redelivery add nothing",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    env("KB_HOP_AUTH");
    const db = await createTestDatabase("postgres");
    const t = await connectTestNats("results-flow-test");
    for (const s of [STREAMS.results, STREAMS.alertsOut, STREAMS.deadLetters]) {
      await t.deleteStream(s.name);
      await t.ensureStream(s);
    }
    const topic = testTopic("results");
    await createTopics([topic], 1);
    let outbound: GatewayProcess | undefined;
    const config = { minChange: 0.05, topic, submitter: "kb-test", maxPhotometry: 50 };
    const publisher = await startActor(createResultsPublisher({ sql: db.sql, config }), {
      transport: t,
      config: runtimeConfig({ KB_BACKOFF_BASE_MS: 50 }),
      log: createLogger({ level: "error" }),
      metrics: runtimeMetrics(),
      replica: "test",
    });
    try {
      outbound = await spawnGateway("actors/main.ts", ["hopskotch-outbound"], {
        ...kafkaTestEnv(),
        KB_NATS_URL: natsUrl(),
        KB_HOP_OUT_URL: kafkaTestUrl([]),
        KB_HOP_OUT_TOPICS: `${RESULT_SUBJECTS.derivedTopicToken}=${topic}`,
      });
      const a1 = await opticalFixture("ZTF-FLOW", point(1));
      await insertAlertBatch(db.sql, [extract(a1.envelope, a1.msgId, a1.subject).item]);
      const send = (id: string, kn: number) =>
        t.publish(
          RESULT_SUBJECTS.results("kilonova"),
          enc.encode(JSON.stringify(resultFixture("ZTF-FLOW", kn, [a1.msgId]))),
          { msgId: id },
        );
      await send("flow-r1", 0.9);
      await send("flow-r1", 0.9); // a duplicate publish of the same result
      await send("flow-r2", 0.91); // unchanged re-score
      await waitFor("both results handled", () => publisher.stats().handled >= 2, 20_000);
      await waitFor(
        "the derived alert produced to Kafka",
        async () => {
          const s = await t.consumerState(STREAMS.alertsOut.name, "hopskotch-outbound");
          return s.pending === 0 && s.ackPending === 0 &&
            (await t.streamState(STREAMS.alertsOut.name)).messages === 1;
        },
        30_000,
        100,
      );
      await sleep(1_000);
      const url = `kafka://${env("KB_KAFKA_USERNAME")}@${env("KB_KAFKA_SASL_BROKERS")}/${topic}`;
      const msgs = await hopRead(url);
      assert.equal(msgs.length, 1, `exactly one record on ${topic}`);
      const m = msgs[0];
      assert.equal(m.model, "JSONBlob");
      assert.equal(m.headers._format, "json");
      assert.match(m.headers._id, /^[0-9a-f-]{36}$/);
      const alert = DerivedAlert.parse(m.content);
      assert.equal(alert.topic, topic);
      assert.equal(alert.data.targets[0].name, "ZTF-FLOW");
      assert.equal(alert.data.classification.score, 0.9);
      assert.equal(alert.data.inputs[0].alert_id, a1.msgId);
      assert.equal(alert.data.inputs[0].hop_id, a1.envelope.hop.id);
      const [pub] = await db.sql`select hop_id::text as hop_id from publications`;
      assert.equal(m.headers._id, pub.hop_id, "the hop _id is the publication's");
    } finally {
      await publisher.stop(5_000);
      try {
        outbound?.kill("SIGTERM");
      } catch { /* gone */ }
      await outbound?.status.catch(() => {});
      await t.close();
      await db.drop();
    }
  },
);
