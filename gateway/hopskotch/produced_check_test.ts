/**
 * The outbound gateway's redelivery check against the real local Kafka and a
 * private nats-server (the gateway's fixed stream and consumer names to
 * itself), on each Kafka client: a gateway "crashes" with records produced
 * and their NATS messages unacknowledged, a new gateway (a new producer)
 * gets them again and must not produce a second copy; messages whose first
 * attempt died before producing are produced exactly once.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import client from "prom-client";
import { SUBJECTS } from "../../contracts/names.ts";
import { defineActor } from "../../actors/runtime/actor.ts";
import { runtimeConfig } from "../../actors/runtime/config.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import { runtimeMetrics } from "../../actors/runtime/metrics.ts";
import { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import { type RunningActor, startActor } from "../../actors/runtime/runner.ts";
import { startPrivateNats, waitFor } from "../../actors/runtime/testing.ts";
import { loadKafkaConfig } from "./config.ts";
import { KAFKA_CLIENTS, kafkaClient, kafkaDriver } from "./kafka.ts";
import {
  closeOutboundSink,
  isAuthorizationError,
  outboundActor,
  useOutboundMetrics,
} from "./outbound.ts";
import { ProducedCheck, scanRanges } from "./produced_check.ts";
import { createTopics, kafkaTestConfig, kafkaTestEnv, setTestEnv, testTopic } from "./testing.ts";
import { uuidFromBytes } from "./uuid.ts";
import { connectHopWriter } from "./writer.ts";
import { utf8 } from "./bytes.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const quiet = createLogger({ level: (Deno.env.get("KB_TEST_LOG") ?? "error") as "error" });

/** Every record of `topic` (a test topic: few records), as `_id` → count, read with plain kafkajs. */
async function idsInKafka(topic: string, expected: number): Promise<Map<string, number>> {
  const kafka = kafkaClient(kafkaTestConfig());
  const admin = kafka.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(topic))
    .reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `kb-${topic}-${crypto.randomUUID().slice(0, 6)}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const ids = new Map<string, number>();
  let seen = 0;
  await consumer.run({
    eachMessage: ({ message }) => {
      seen++;
      const id = uuidFromBytes(new Uint8Array(message.headers!._id as Buffer));
      ids.set(id, (ids.get(id) ?? 0) + 1);
      return Promise.resolve();
    },
  });
  try {
    await waitFor(`${total} records of ${topic}`, () => seen >= total, 30_000);
  } finally {
    await consumer.disconnect();
  }
  assert.equal(total, expected, `${topic} holds ${total} records; expected ${expected}`);
  return ids;
}

Deno.test("scanRanges: reads [start, end) where a start exists before the end", () => {
  assert.deepEqual(
    scanRanges(
      [{ partition: 0, offset: "5" }, { partition: 1, offset: "9" }, {
        partition: 2,
        offset: "-1",
      }],
      [{ partition: 0, offset: "8" }, { partition: 1, offset: "9" }, {
        partition: 2,
        offset: "4",
      }, { partition: 3, offset: "7" }],
    ),
    [{ partition: 0, from: "5", to: "8" }],
  );
});

Deno.test(
  "ProducedCheck: Kafka unreachable → the check fails (the message is retried), never 'not found'",
  opts,
  async () => {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close(); // nothing listens there now
    const config = loadKafkaConfig({
      url: `kafka://127.0.0.1:${port}/x`,
      env: { KB_KAFKA_CLIENT: "platformatic" },
    });
    const driver = kafkaDriver(config);
    const admin = driver.admin();
    const check = new ProducedCheck({
      admin: () => admin,
      reader: () => driver.rangeReader(),
      skewMs: 1_000,
      lingerMs: 0,
    });
    await assert.rejects(
      check.has("x", crypto.randomUUID(), Date.now()),
      /cannot check whether x already holds 1 redelivered record/,
    );
    await (await admin).close();
  },
);

for (const kc of KAFKA_CLIENTS) {
  Deno.test(
    `ProducedCheck: finds ids written since a time in any partition, in one scan [${kc}]`,
    opts,
    async () => {
      const topic = testTopic("pcheck");
      await createTopics([topic], 3);
      const before = Date.now();
      const ids = Array.from({ length: 30 }, () => crypto.randomUUID());
      const w = await connectHopWriter(kafkaTestConfig([], kc));
      // Keys spread the records over the three partitions.
      await w.publish(
        topic,
        ids.map((id, i) => ({ format: "json", id, key: `k${i}`, value: utf8(`{"i":${i}}`) })),
      );
      await w.close();
      const driver = kafkaDriver(kafkaTestConfig([], kc));
      const admin = driver.admin();
      const reader = driver.rangeReader();
      const check = new ProducedCheck({
        admin: () => admin,
        reader: () => reader,
        skewMs: 5_000,
        lingerMs: 20,
      });
      try {
        const absent = crypto.randomUUID();
        const got = await Promise.all([
          ...ids.map((id) => check.has(topic, id, before)),
          check.has(topic, absent, before),
        ]);
        assert.deepEqual(got, [...ids.map(() => true), false]);
        // Written before the window (minus the margin): not looked at, so not found.
        assert.equal(await check.has(topic, ids[0], Date.now() + 60_000), false);
      } finally {
        await (await admin).close();
        await (await reader).close();
      }
    },
  );

  Deno.test(
    `outbound: a redelivered message already in Kafka is acked, not produced again; one never produced is produced once [${kc}]`,
    opts,
    async () => {
      const nats = await startPrivateNats();
      const t = await NatsTransport.connect({ servers: nats.url, name: "hop-redelivery-test" });
      const topic = testTopic("redeliver");
      await createTopics([topic], 3);
      const token = "results";
      const restoreEnv = setTestEnv({
        ...kafkaTestEnv(kc),
        KB_KAFKA_URL: kafkaTestConfig().brokers.map((b) => `kafka://kb@${b}`)[0],
        KB_HOP_OUT_TOPICS: `${token}=${topic}`,
        KB_HOP_OUT_REDELIVERY_SKEW_MS: "5000",
      });
      const config = runtimeConfig({
        KB_ACK_WAIT_MS: 1_500,
        KB_BACKOFF_BASE_MS: 50,
        KB_MAX_ATTEMPTS: 5,
      });
      // The first gateway "dies": "after" messages are produced (Kafka acked them)
      // and never acknowledged on NATS; "before" ones die before producing.
      let release: (e: Error) => void = () => {};
      const dead = new Promise<never>((_, reject) => (release = reject));
      dead.catch(() => {});
      const crashing = defineActor({
        ...outboundActor,
        async handler(msg, ctx) {
          const when = (msg.data.content as { when?: string }).when;
          if (when === "before") await dead;
          await outboundActor.handler(msg, ctx);
          if (when === "after") await dead;
        },
      });
      const deps = (registry: client.Registry) => ({
        transport: t,
        config,
        log: quiet,
        metrics: runtimeMetrics(registry),
        replica: "test",
      });
      const msgs = [
        ...Array.from({ length: 10 }, (_, i) => ({ when: "after", i })),
        ...Array.from({ length: 5 }, (_, i) => ({ when: "before", i })),
        ...Array.from({ length: 5 }, (_, i) => ({ when: "normal", i })),
      ];
      let first: RunningActor | undefined;
      let second: RunningActor | undefined;
      const enc = new TextEncoder();
      try {
        first = await startActor(crashing, deps(new client.Registry()));
        for (const [n, content] of msgs.entries()) {
          await t.publish(
            SUBJECTS.alertsOut(token),
            enc.encode(JSON.stringify({ format: "json", content })),
            { msgId: `redeliver-${topic}-${n}` },
          );
        }
        const kafka = kafkaClient(kafkaTestConfig());
        const admin = kafka.admin();
        await admin.connect();
        const inKafka = async () =>
          (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
        await waitFor("the 15 records of the first gateway", async () => await inKafka() >= 15);
        await admin.disconnect();
        // The crash: nothing of the first gateway acknowledges anything any more,
        // and its producer is gone (a new one has a new producer id).
        await first.stop(200);
        await closeOutboundSink();

        const registry = new client.Registry();
        const gm = useOutboundMetrics(registry);
        second = await startActor(outboundActor, deps(registry));
        const value = async (c: client.Counter<"topic">) =>
          (await c.get()).values.find((v) => v.labels.topic === topic)?.value ?? 0;
        const spec = second.consumer;
        await waitFor("every message acknowledged", async () => {
          const s = await t.consumerState(spec.stream, spec.durable);
          return s.ackPending === 0 && s.pending === 0;
        }, 60_000);
        const ids = await idsInKafka(topic, 20);
        assert.equal(ids.size, 20, "one record per message");
        for (const [id, count] of ids) assert.equal(count, 1, `record ${id} is in Kafka once`);
        assert.equal(await value(gm.redeliveryChecked), 15);
        assert.equal(await value(gm.redeliveryAlreadyProduced), 10);
        assert.equal(await value(gm.produced), 5, "only the 5 never produced are produced now");
      } finally {
        restoreEnv();
        release(new Error("the first gateway is dead"));
        await second?.stop(5_000);
        await first?.stop(0);
        await closeOutboundSink();
        await t.close();
        await nats.stop();
      }
    },
  );
}

Deno.test("outbound: a refused read is told from a passing fault", () => {
  const kafkajsLike = Object.assign(new Error("Not authorized to access topics: [x]"), {
    type: "TOPIC_AUTHORIZATION_FAILED",
  });
  assert.ok(isAuthorizationError(new Error("cannot check", { cause: kafkajsLike })));
  assert.ok(isAuthorizationError(new Error("Topic authorization failed.")));
  assert.ok(!isAuthorizationError(new Error("Connection error: ECONNREFUSED 127.0.0.1:19092")));
  assert.ok(!isAuthorizationError(new Error("KafkaJSNumberOfRetriesExceeded")));
});
