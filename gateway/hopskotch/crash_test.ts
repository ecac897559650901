/**
 * Crash test: 100,000 records go through the inbound gateway (a real process)
 * while it is SIGKILLed twice and Kafka is restarted once, with a producer
 * writing all along. The NATS stream must end with exactly 100,000 messages,
 * one per record id: offsets committed only after JetStream acks lose nothing,
 * and `Nats-Msg-Id` = hop `_id` drops what is read (or written) twice.
 *
 * It restarts Kafka and empties `KB_ALERTS_IN`, so it runs on a private NATS and
 * Kafka of its own (e2e/stack.ts, ports 25440 and up), never on the servers the
 * rest of the suite (or a colleague's run) shares.
 */
import assert from "node:assert/strict";
import { STREAMS } from "../../contracts/names.ts";
import { MSG_ID_HEADER } from "../../actors/runtime/transport.ts";
import { connectTestNats, natsUrl, sleep, waitFor } from "../../actors/runtime/testing.ts";
import { utf8 } from "./bytes.ts";
import { startPrivateStack } from "../../e2e/stack.ts";
import {
  createTopics,
  type GatewayProcess,
  kafkaTestConfig,
  kafkaTestEnv,
  kafkaTestUrl,
  setTestEnv,
  spawnGateway,
  testTopic,
} from "./testing.ts";
import { connectHopWriter, type HopRecord, type HopWriter } from "./writer.ts";

const TOTAL = 100_000;
const BATCH = 1_000;
const RATE = 3_000; // records/s written, so the kills and the restart land mid-stream
const BASE_PORT = 25440; // the private stack's ports (e2e's suites use 25420 and 25430)

Deno.test(
  "crash: 100,000 records, inbound SIGKILLed twice, Kafka restarted once → exactly 100,000 unique on NATS",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const stack = await startPrivateStack("hop-crash", BASE_PORT, ["nats", "kafka"]);
    const restoreEnv = setTestEnv(stack.env);
    try {
      await crashRun(() => stack.restart("kafka"));
    } finally {
      restoreEnv();
      await stack.destroy();
    }
  },
);

/** The run itself, on whatever NATS and Kafka the environment names; `restartKafka` restarts that Kafka. */
async function crashRun(restartKafka: () => Promise<number>): Promise<void> {
  const t = await connectTestNats("hop-crash-test");
  await t.deleteStream(STREAMS.alertsIn.name);
  await t.ensureStream(STREAMS.alertsIn);
  const topic = testTopic("crash");
  await createTopics([topic], 3);
  const env = {
    ...kafkaTestEnv(),
    KB_NATS_URL: natsUrl(),
    KB_HOP_IN_URL: kafkaTestUrl([topic]),
    KB_HOP_IN_GROUP: `kb-${topic}`,
    KB_HOP_IN_START: "earliest",
    KB_GRACE_MS: "10000",
  };
  const script = "gateway/hopskotch/inbound_main.ts";
  const count = async () => (await t.streamState(STREAMS.alertsIn.name)).messages;
  const ids: string[] = [];
  let produced = 0;
  let pause: Promise<void> | undefined;
  const events: string[] = [];
  const started = Date.now();
  const mark = (what: string) =>
    events.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${what}`);

  const produce = async () => {
    let writer: HopWriter | undefined;
    while (produced < TOTAL) {
      const batch: HopRecord[] = Array.from({ length: BATCH }, (_, i) => {
        const id = crypto.randomUUID();
        return { format: "json", id, value: utf8(`{"n":${produced + i},"id":"${id}"}`) };
      });
      for (let attempt = 1;; attempt++) {
        if (pause) await pause;
        try {
          writer ??= await connectHopWriter(kafkaTestConfig());
          await writer.publish(topic, batch); // the same ids on a retry
          break;
        } catch (err) {
          if (attempt === 1) mark(`producer retrying: ${(err as Error).message.slice(0, 80)}`);
          await writer?.close().catch(() => {});
          writer = undefined;
          await sleep(500);
        }
      }
      for (const r of batch) ids.push(r.id!);
      produced += batch.length;
      const ahead = produced / RATE * 1000 - (Date.now() - started);
      if (ahead > 0) await sleep(ahead);
    }
    await writer?.close();
    mark("producer done");
  };

  let gw: GatewayProcess = await spawnGateway(script, [], env);
  const producing = produce();
  try {
    for (const at of [15_000, 40_000]) {
      await waitFor(`${at} messages on NATS`, async () => (await count()) >= at, 60_000, 20);
      gw.kill("SIGKILL");
      await gw.status;
      mark(`SIGKILL at ${await count()} messages`);
      gw = await spawnGateway(script, [], env);
    }
    await waitFor("60,000 written", () => produced >= 60_000, 60_000, 20);
    mark(`Kafka restart at ${await count()} messages`);
    let resume: () => void = () => {};
    pause = new Promise((r) => (resume = r));
    const restartMs = await restartKafka();
    pause = undefined;
    resume();
    mark(`Kafka back after ${(restartMs / 1000).toFixed(1)} s`);
    await producing;
    await waitFor("100,000 messages on NATS", async () => (await count()) >= TOTAL, 120_000, 100);
    mark("100,000 on NATS");
    await sleep(2_000); // anything read twice has had its chance to show up
    assert.equal(await count(), TOTAL);
    const seen = new Set<string>();
    for await (const m of t.read(STREAMS.alertsIn.name)) seen.add(m.headers[MSG_ID_HEADER]);
    assert.equal(seen.size, TOTAL);
    for (const id of ids) assert.ok(seen.has(`hop:${id}`), `record ${id} is on NATS`);
    gw.kill("SIGTERM");
    assert.equal((await gw.status).code, 0, "clean exit on SIGTERM");
    const dups = gw.logs.find((l) => l.msg === "inbound gateway stopped");
    console.log(events.join("\n"), "\nlast gateway:", JSON.stringify(dups));
  } finally {
    pause = undefined;
    try {
      gw.kill("SIGKILL");
    } catch { /* already gone */ }
    await producing.catch(() => {});
    await t.deleteStream(STREAMS.alertsIn.name);
    await t.close();
  }
}
