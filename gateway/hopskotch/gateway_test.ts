/**
 * The gateways against the real local Kafka (SCRAM) and the real nats-server:
 * every hop format through the inbound gateway with its headers, `_test`
 * skipping, the group id rule, start positions, topics that appear later, and
 * the outbound gateway producing what hop-client decodes.
 *
 * Every test runs on each Kafka client behind the gateway's interface
 * (`KB_KAFKA_CLIENT`: kafkajs and @platformatic/kafka), as a conformance suite.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import client from "prom-client";
import { hopRecordBytes } from "../../contracts/hop_raw.ts";
import { CHANNELS, type DeadLetter, HopEnvelope } from "../../contracts/messages.ts";
import { STREAMS, SUBJECTS } from "../../contracts/names.ts";
import { startActor } from "../../actors/runtime/runner.ts";
import { runtimeConfig } from "../../actors/runtime/config.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import { runtimeMetrics } from "../../actors/runtime/metrics.ts";
import { connectTestNats, sleep, waitFor } from "../../actors/runtime/testing.ts";
import type { Transport } from "../../actors/runtime/transport.ts";
import { encodeAvroContainer } from "./avro.ts";
import { avroSchemaId } from "./avro_id.ts";
import { utf8 } from "./bytes.ts";
import { startInbound } from "./inbound.ts";
import { KAFKA_CLIENTS, kafkaClient, type KafkaClientKind } from "./kafka.ts";
import { gatewayMetrics } from "./metrics.ts";
import { closeOutboundSink, OUTBOUND_NAME, outboundActor, uuidFromName } from "./outbound.ts";
import type { StartPosition } from "./start.ts";
import { loadKafkaConfig } from "./config.ts";
import { createTopics, kafkaTestConfig, kafkaTestEnv, setTestEnv, testTopic } from "./testing.ts";
import { decodeHopRecord } from "./wire.ts";
import { connectHopWriter, type HopRecord } from "./writer.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const dec = new TextDecoder();
const quiet = createLogger({ level: (Deno.env.get("KB_TEST_LOG") ?? "error") as "error" });

/** The envelopes of `topic` on the shared stream, each with its bytes as stored. */
async function envelopesWithBytes(
  t: Transport,
  topic: string,
): Promise<{ envelope: HopEnvelope; bytes: Uint8Array }[]> {
  const out: { envelope: HopEnvelope; bytes: Uint8Array }[] = [];
  for await (const m of t.read(STREAMS.alertsIn.name)) {
    // The shared stream holds other runs' envelopes (possibly of an older contract).
    const raw = JSON.parse(dec.decode(m.data));
    if (raw?.kafka?.topic === topic) out.push({ envelope: HopEnvelope.parse(raw), bytes: m.data });
  }
  return out;
}

async function envelopes(t: Transport, topic: string): Promise<HopEnvelope[]> {
  return (await envelopesWithBytes(t, topic)).map((e) => e.envelope);
}

async function deadLetters(t: Transport, actor: string): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  try {
    for await (
      const m of t.read(STREAMS.deadLetters.name, { subject: SUBJECTS.deadLetter(actor) })
    ) {
      out.push(CHANNELS.deadLetters.schema.parse(JSON.parse(dec.decode(m.data))));
    }
  } catch (err) {
    if (!/not found/i.test(String(err))) throw err;
  }
  return out;
}

function inbound(
  kc: KafkaClientKind,
  t: Transport,
  topics: string[],
  start: StartPosition,
  extra: Partial<Parameters<typeof startInbound>[0]> = {},
) {
  return startInbound({
    kafka: kafkaTestConfig(topics, kc),
    start,
    transport: t,
    log: quiet,
    metrics: gatewayMetrics(new client.Registry()),
    replica: "test",
    topicRecheckMs: 500,
    ...extra,
  });
}

async function write(kc: KafkaClientKind, topic: string, records: HopRecord[]) {
  const w = await connectHopWriter(kafkaTestConfig([], kc));
  await w.publish(topic, records);
  await w.close();
}

const VOEVENT = `<?xml version="1.0" encoding="UTF-8"?>
<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" ivorn="ivo://gwnet/LVC#S170817a" role="test" version="2.0">
  <Who><Date>2017-08-17T12:41:04</Date></Who>
</voe:VOEvent>`;
const AVRO_SCHEMA = {
  type: "record",
  name: "Alert",
  fields: [{ name: "superevent_id", type: "string" }, { name: "skymap", type: "bytes" }],
};

for (const kc of KAFKA_CLIENTS) {
  Deno.test(
    `inbound: every hop format arrives on NATS with its headers; _test skipped and counted [${kc}]`,
    opts,
    async () => {
      const t = await connectTestNats("hop-test");
      const topic = `${testTopic("formats")}.igwn-gwalert`;
      await createTopics([topic]);
      const avro = encodeAvroContainer(AVRO_SCHEMA, [{
        superevent_id: "S170817a",
        skymap: Buffer.from([1, 2, 3]),
      }]);
      const records: HopRecord[] = [
        { format: "json", value: utf8('{"superevent_id":"S170817a","far":1e-10}') },
        { format: "blob", value: new Uint8Array([0, 255, 7]) },
        { format: "voevent", value: utf8(VOEVENT) },
        { format: "avro", value: avro },
        { format: "gcntextnotice", value: utf8("TITLE: GCN/FERMI NOTICE\nTRIGGER_NUM: 524666471") },
        {
          format: "circular",
          value: utf8(JSON.stringify({ header: { title: "GRB 170817A" }, body: "text" })),
        },
        { format: "external", value: utf8('{"url":"https://example.org/msg/1"}') },
      ].map((r, i) =>
        ({ ...r, id: crypto.randomUUID(), sender: "kb-sender", key: `k${i}` }) as HopRecord
      );
      const tests: HopRecord[] = [1, 2, 3].map((i) => ({
        format: "json",
        value: utf8(`{"t":${i}}`),
        test: true,
      }));
      await write(kc, topic, [...records.slice(0, 3), ...tests, ...records.slice(3)]);
      const gw = await inbound(kc, t, [topic], { kind: "earliest" });
      try {
        const wire = await waitFor("7 envelopes", async () => {
          const e = await envelopesWithBytes(t, topic);
          return e.length >= 7 && gw.stats().testSkipped === 3 ? e : undefined;
        }, 30_000);
        const got = wire.map((w) => w.envelope);
        assert.equal(got.length, 7);
        for (const [i, r] of records.entries()) {
          const { envelope: e, bytes } = wire.find((x) => x.envelope.hop.id === r.id)!;
          assert.ok(e, `record ${r.format} arrived`);
          assert.equal(e.kind, "gw");
          assert.equal(e.hop.format, r.format);
          assert.equal(e.hop.sender, "kb-sender");
          assert.equal(e.hop.test, false);
          assert.equal(e.hop.via, "header");
          assert.equal(e.kafka.keyBase64, Buffer.from(`k${i}`).toString("base64"));
          // The record's exact bytes: for JSON, the envelope's content.json text (not repeated).
          assert.deepEqual(
            e.raw,
            r.format === "json"
              ? { base64: null, size: r.value.byteLength, sameAsJson: true }
              : { base64: Buffer.from(r.value).toString("base64"), size: r.value.byteLength },
            r.format,
          );
          assert.deepEqual(new Uint8Array(hopRecordBytes(e, bytes)), new Uint8Array(r.value));
          assert.equal(e.content.format, r.format);
        }
        const byFormat = Object.fromEntries(got.map((e) => [e.hop.format, e.content]));
        assert.deepEqual(byFormat.json, {
          format: "json",
          json: { superevent_id: "S170817a", far: 1e-10 },
        });
        assert.deepEqual(byFormat.avro, {
          format: "avro",
          schemaName: "Alert",
          schemaFingerprint: avroSchemaId(AVRO_SCHEMA).fingerprint,
          records: [{ superevent_id: "S170817a", skymap: "AQID" }],
        });
        assert.equal((byFormat.voevent as { text: string }).text, VOEVENT);
        assert.deepEqual(byFormat.external, {
          format: "external",
          url: "https://example.org/msg/1",
        });
        assert.equal(gw.stats().testSkipped, 3);
        // Offsets are committed after the acks: the group's position is the end of the topic.
        const admin = kafkaClient(kafkaTestConfig()).admin();
        await admin.connect();
        const committed = await waitFor("offsets committed", async () => {
          const o = await admin.fetchOffsets({ groupId: gw.groupId, topics: [topic] });
          return o[0].partitions[0].offset === "10" ? o : undefined;
        });
        assert.ok(committed);
        await admin.disconnect();
      } finally {
        await gw.stop();
        await t.close();
      }
    },
  );

  Deno.test(
    `inbound: group ids must start with <username>-, as Hopskotch requires [${kc}]`,
    opts,
    async () => {
      const t = await connectTestNats("hop-test");
      try {
        await assert.rejects(
          inbound(kc, t, ["kb-test.any"], { kind: "earliest" }, { group: "someone-else" }),
          /must start with "kb-"/,
        );
        const topic = testTopic("group");
        await createTopics([topic]);
        const gw = await inbound(kc, t, [topic], { kind: "earliest" }, { group: `kb-${topic}` });
        try {
          assert.equal(gw.groupId, `kb-${topic}`);
          const admin = kafkaClient(kafkaTestConfig()).admin();
          await admin.connect();
          await waitFor("the group on the broker", async () => {
            const { groups } = await admin.listGroups();
            return groups.some((g) => g.groupId === `kb-${topic}`);
          }, 20_000);
          await admin.disconnect();
        } finally {
          await gw.stop();
        }
      } finally {
        await t.close();
      }
    },
  );

  Deno.test(
    `inbound: start from earliest, latest, a timestamp or explicit offsets [${kc}]`,
    opts,
    async () => {
      const t = await connectTestNats("hop-test");
      const topic = testTopic("start");
      await createTopics([topic]);
      const batch = (from: number, n: number): HopRecord[] =>
        Array.from({ length: n }, (_, i) => ({ format: "json", value: utf8(`{"n":${from + i}}`) }));
      await write(kc, topic, batch(0, 5));
      await sleep(50);
      const middle = Date.now();
      await sleep(50);
      await write(kc, topic, batch(5, 5));
      const consumed = async (start: StartPosition, expect: number, more?: () => Promise<void>) => {
        const gw = await inbound(kc, t, [topic], start, { group: `kb-${topic}-${start.kind}` });
        try {
          await waitFor("consumer running", () => gw.stats().topics.length === 1);
          if (more) {
            await sleep(3_000); // joined the group and positioned at the end
            await more();
          }
          await waitFor(
            `${expect} records from ${start.kind}`,
            () => gw.stats().consumed >= expect,
            30_000,
          );
          await sleep(500);
          return gw.stats().consumed;
        } finally {
          await gw.stop();
        }
      };
      try {
        assert.equal(await consumed({ kind: "earliest" }, 10), 10);
        assert.equal(await consumed({ kind: "timestamp", timestampMs: middle }, 5), 5);
        assert.equal(
          await consumed({ kind: "offsets", offsets: [{ topic, partition: 0, offset: "8" }] }, 2),
          2,
        );
        assert.equal(
          await consumed({ kind: "latest" }, 3, () => write(kc, topic, batch(10, 3))),
          3,
        );
        // A restarted group resumes from its commits, not from the start position.
        assert.equal(
          await consumed({ kind: "offsets", offsets: [{ topic, partition: 0, offset: "0" }] }, 3),
          3,
        );
      } finally {
        await t.close();
      }
    },
  );

  Deno.test(
    `inbound: a topic that does not exist yet is waited for, then consumed [${kc}]`,
    opts,
    async () => {
      const t = await connectTestNats("hop-test");
      const present = testTopic("present");
      const later = testTopic("later");
      await createTopics([present]);
      const gw = await inbound(kc, t, [present, later], { kind: "latest" });
      try {
        assert.ok(gw.ready());
        assert.deepEqual(gw.stats().waitingFor, [later]);
        await createTopics([later]);
        await write(kc, later, [{ format: "json", value: utf8('{"late":true}') }]);
        const got = await waitFor("the late topic's record", async () => {
          const e = await envelopes(t, later);
          return e.length ? e : undefined;
        }, 30_000);
        assert.deepEqual(got[0].content, { format: "json", json: { late: true } });
      } finally {
        await gw.stop();
        await t.close();
      }
    },
  );

  Deno.test(
    `outbound: alerts.out records reach Kafka in hop's wire format; unmapped tokens dead-lettered [${kc}]`,
    opts,
    async () => {
      const t = await connectTestNats("hop-test");
      const topic = testTopic("out");
      await createTopics([topic]);
      const token = "results";
      const restoreEnv = setTestEnv({
        ...kafkaTestEnv(kc),
        KB_KAFKA_URL: kafkaTestConfig().brokers.map((b) => `kafka://kb@${b}`)[0],
        KB_HOP_OUT_TOPICS: `${token}=${topic}`,
      });
      await t.deleteStream(STREAMS.alertsOut.name);
      const config = runtimeConfig({ KB_BACKOFF_BASE_MS: 50, KB_MAX_ATTEMPTS: 2 });
      const actor = await startActor(outboundActor, {
        transport: t,
        config,
        log: quiet,
        metrics: runtimeMetrics(new client.Registry()),
        replica: "test",
      });
      const enc = new TextEncoder();
      const outs = [
        { format: "json", content: { classification: "kilonova", p: 0.9 } },
        { format: "voevent", content: VOEVENT },
        { format: "blob", dataBase64: "AP8H" },
        {
          format: "avro",
          content: { schema: AVRO_SCHEMA, records: [{ superevent_id: "S1", skymap: "AQID" }] },
        },
        { format: "json", content: { t: 1 }, test: true },
      ];
      try {
        for (const [i, o] of outs.entries()) {
          await t.publish(SUBJECTS.alertsOut(token), enc.encode(JSON.stringify(o)), {
            msgId: `out-${topic}-${i}`,
          });
        }
        await t.publish(SUBJECTS.alertsOut("nowhere"), enc.encode(JSON.stringify(outs[0])), {
          msgId: `out-${topic}-x`,
        });
        const kafka = kafkaClient(kafkaTestConfig());
        const consumer = kafka.consumer({ groupId: `kb-${topic}` });
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        const seen: { value: Buffer; headers: Record<string, Buffer> }[] = [];
        await consumer.run({
          eachMessage: ({ message }) => {
            seen.push({
              value: message.value!,
              headers: message.headers as Record<string, Buffer>,
            });
            return Promise.resolve();
          },
        });
        await waitFor("5 Kafka records", () => seen.length >= 5, 30_000);
        await consumer.disconnect();
        for (const [i, o] of outs.entries()) {
          const r = seen[i];
          const d = decodeHopRecord(new Uint8Array(r.value), r.headers);
          assert.equal(d.format, o.format);
          assert.equal(d.headers.id, uuidFromName(`out-${topic}-${i}`));
          assert.equal(d.headers.sender, "kb");
          assert.equal(d.headers.test, o.test === true);
          assert.ok(Buffer.isBuffer(r.headers._id) && r.headers._id.length === 16);
        }
        assert.equal(seen[2].value.toString("base64"), "AP8H");
        const dl = await waitFor("dead letter", async () => {
          const d = await deadLetters(t, OUTBOUND_NAME);
          return d.find((x) => x.original.id === `out-${topic}-x`);
        });
        assert.equal(dl.reason, "rejected");
        assert.match(dl.detail, /KB_HOP_OUT_TOPICS/);
      } finally {
        restoreEnv();
        await actor.stop(5_000);
        await closeOutboundSink();
        await t.close();
      }
    },
  );

  Deno.test(
    `inbound: an envelope over NATS max_payload is dead-lettered (truncated), not retried for ever [${kc}]`,
    opts,
    async () => {
      const t = await connectTestNats("hop-test");
      const topic = testTopic("payload");
      await createTopics([topic]);
      const big = JSON.stringify({ pad: "x".repeat(40_000) });
      await write(kc, topic, [
        { format: "json", value: utf8(big) },
        { format: "json", value: utf8('{"small":true}') },
      ]);
      const gw = await inbound(kc, t, [topic], { kind: "earliest" }, {
        group: `kb-${topic}`,
        maxPayloadBytes: 30_000,
      });
      try {
        const dl = await waitFor("dead letter", async () => {
          const d = await deadLetters(t, "hopskotch-inbound");
          return d.find((x) => x.original.headers["kafka-topic"] === topic);
        }, 30_000);
        assert.equal(dl.reason, "oversize");
        assert.match(dl.detail, /max_payload 30000/);
        assert.equal(dl.original.size, big.length);
        assert.ok(Buffer.from(dl.original.dataBase64, "base64").length < big.length);
        await waitFor("the next record", async () => (await envelopes(t, topic)).length === 1);
      } finally {
        await gw.stop();
        await t.close();
      }
    },
  );
  Deno.test(
    `SCRAM-SHA-512 over TLS: the writer and the inbound gateway on the TLS listener [${kc}]`,
    opts,
    async () => {
      const tlsBrokers = Deno.env.get("KB_KAFKA_SSL_BROKERS");
      const ca = Deno.env.get("KB_KAFKA_CA_FILE");
      assert.ok(tlsBrokers && ca, "KB_KAFKA_SSL_BROKERS / KB_KAFKA_CA_FILE unset: ./kb task test");
      const t = await connectTestNats("hop-test");
      const topic = testTopic("tls");
      await createTopics([topic]);
      const config = loadKafkaConfig({
        url: `kafka://kb@${tlsBrokers}/${topic}`,
        env: { ...kafkaTestEnv(kc), KB_KAFKA_SECURITY_PROTOCOL: "SASL_SSL", KB_KAFKA_CA_FILE: ca },
      });
      assert.equal(config.protocol, "SASL_SSL");
      assert.ok(config.caPem?.includes("BEGIN CERTIFICATE"));
      const w = await connectHopWriter(config);
      const id = crypto.randomUUID();
      await w.publish(topic, [{ format: "json", id, value: utf8('{"over":"tls"}') }]);
      await w.close();
      const gw = await startInbound({
        kafka: config,
        start: { kind: "earliest" },
        transport: t,
        log: quiet,
        metrics: gatewayMetrics(new client.Registry()),
        replica: "test",
        group: `kb-${topic}`,
      });
      try {
        const got = await waitFor("the record read over TLS", async () => {
          const e = await envelopes(t, topic);
          return e.length ? e : undefined;
        }, 30_000);
        assert.equal(got[0].hop.id, id);
        assert.deepEqual(got[0].content, { format: "json", json: { over: "tls" } });
      } finally {
        await gw.stop();
        await t.close();
      }
    },
  );
}
