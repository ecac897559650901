/**
 * The inbound gateway's thread layouts (`threads: 1` and `2`, the Kafka side in
 * a worker) against the real local Kafka and a private nats-server (these
 * tests delete and recreate `KB_ALERTS_IN`, which the shared server's other
 * users need): offsets are committed only after JetStream stored the records
 * (none while the stream is missing, all once it is back); stopping mid-drain
 * commits only what was stored and a restart completes the topic with each
 * record exactly once; the host's metrics count per topic in both layouts.
 */
import assert from "node:assert/strict";
import client from "prom-client";
import { STREAMS } from "../../contracts/names.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import { sleep, startPrivateNats, waitFor } from "../../actors/runtime/testing.ts";
import { MSG_ID_HEADER } from "../../actors/runtime/transport.ts";
import { utf8 } from "./bytes.ts";
import { startInbound } from "./inbound.ts";
import { withAdmin } from "./kafka.ts";
import { gatewayMetrics } from "./metrics.ts";
import { createTopics, kafkaTestConfig, testTopic } from "./testing.ts";
import { connectHopWriter, type HopRecord } from "./writer.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const quiet = createLogger({ level: (Deno.env.get("KB_TEST_LOG") ?? "error") as "error" });

async function write(topic: string, records: HopRecord[]) {
  const w = await connectHopWriter(kafkaTestConfig());
  for (let i = 0; i < records.length; i += 1000) await w.publish(topic, records.slice(i, i + 1000));
  await w.close();
}

function json(n: number): HopRecord {
  return { format: "json", id: crypto.randomUUID(), value: utf8(`{"n":${n}}`) };
}

/** The group's committed offsets of `topic`, summed over partitions (-1 counted as 0). */
function committed(group: string, topic: string): Promise<number> {
  return withAdmin(
    kafkaTestConfig(),
    async (a) =>
      (await a.committedOffsets(group, topic)).reduce(
        (s, p) => s + Math.max(0, Number(p.offset)),
        0,
      ),
  );
}

async function storedIds(t: NatsTransport): Promise<string[]> {
  const ids: string[] = [];
  for await (const m of t.read(STREAMS.alertsIn.name)) ids.push(m.headers[MSG_ID_HEADER]);
  return ids;
}

for (const threads of [1, 2] as const) {
  Deno.test(
    `inbound (${threads} thread${threads === 1 ? "" : "s"}): nothing committed while JetStream ` +
      `refuses, everything once it accepts; metrics per topic`,
    opts,
    async () => {
      const nats = await startPrivateNats();
      const t = await NatsTransport.connect({ servers: nats.url, name: "kb-test-inbound-threads" });
      const topic = testTopic(`threads${threads}`);
      const group = `kb-${topic}`;
      await createTopics([topic], 2);
      const registry = new client.Registry();
      const gw = await startInbound({
        kafka: kafkaTestConfig([topic]),
        start: { kind: "earliest" },
        group,
        threads,
        chunk: 100,
        transport: t,
        log: quiet,
        metrics: gatewayMetrics(registry),
        replica: "test",
      });
      try {
        assert.ok(gw.ready());
        // No stream captures alerts.in.* any more: every publish fails and is retried.
        await t.deleteStream(STREAMS.alertsIn.name);
        const records = Array.from({ length: 2_000 }, (_, i) => json(i));
        await write(topic, records);
        await waitFor("records read", () => gw.stats().consumed > 0, 30_000);
        await sleep(3_000); // several retries, and commit intervals, go by
        assert.equal(await committed(group, topic), 0, "no offset committed before the acks");
        assert.equal(gw.stats().published, 0);
        await t.ensureStream(STREAMS.alertsIn);
        await waitFor(
          "2,000 stored",
          async () => (await t.streamState(STREAMS.alertsIn.name)).messages >= 2_000,
          30_000,
        );
        await waitFor(
          "offsets committed",
          async () => (await committed(group, topic)) === 2_000,
          30_000,
        );
        const ids = await storedIds(t);
        assert.equal(ids.length, 2_000);
        assert.deepEqual(new Set(ids), new Set(records.map((r) => `hop:${r.id}`)));
        const s = gw.stats();
        assert.equal(s.published + s.duplicates, 2_000);
        const text = await registry.metrics();
        const value = (name: string, labels: string) => {
          const m = new RegExp(`^${name}\\{${labels}[^}]*\\} (\\d+)`, "m").exec(text);
          return m ? Number(m[1]) : undefined;
        };
        assert.ok(value("kb_hop_consumed_total", `topic="${topic}"`)! >= 2_000);
        assert.equal(value("kb_hop_published_total", `topic="${topic}"`), s.published);
        assert.ok(value("kb_hop_publish_retries_total", `topic="${topic}"`)! > 0);
        assert.match(
          text,
          new RegExp(`kb_hop_consumer_lag\\{topic="${topic}",partition="[01]"\\} 0`),
        );
      } finally {
        await gw.stop();
        await t.close();
        await nats.stop();
      }
    },
  );

  Deno.test(
    `inbound (${threads} thread${threads === 1 ? "" : "s"}): stop mid-drain commits only what ` +
      `was stored; a restart completes the topic, each record once`,
    opts,
    async () => {
      const nats = await startPrivateNats();
      const t = await NatsTransport.connect({ servers: nats.url, name: "kb-test-inbound-stop" });
      const topic = testTopic(`stop${threads}`);
      const group = `kb-${topic}`;
      await createTopics([topic], 1);
      const N = 30_000;
      const records = Array.from({ length: N }, (_, i) => json(i));
      await write(topic, records);
      await t.ensureStream(STREAMS.alertsIn);
      const start = () =>
        startInbound({
          kafka: kafkaTestConfig([topic]),
          start: { kind: "earliest" },
          group,
          threads,
          transport: t,
          log: quiet,
          metrics: gatewayMetrics(new client.Registry()),
          replica: "test",
        });
      let gw = await start();
      try {
        await waitFor("some stored", () => gw.stats().published >= 2_000, 60_000, 5);
        await gw.stop();
        const stored = (await t.streamState(STREAMS.alertsIn.name)).messages;
        const done = await committed(group, topic);
        assert.ok(done > 0, "the batch under way was committed on stop");
        assert.ok(done <= stored, `committed ${done} ≤ stored ${stored}`);
        gw = await start();
        await waitFor(
          `${N} stored`,
          async () => (await t.streamState(STREAMS.alertsIn.name)).messages >= N,
          60_000,
        );
        await waitFor("all committed", async () => (await committed(group, topic)) === N, 30_000);
        await sleep(500);
        const ids = await storedIds(t);
        assert.equal(ids.length, N, "each record stored once");
        assert.equal(new Set(ids).size, N);
      } finally {
        await gw.stop();
        await t.close();
        await nats.stop();
      }
    },
  );
}
