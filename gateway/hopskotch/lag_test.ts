/**
 * Consumer lag (`kb_hop_consumer_lag`) on each Kafka client behind the
 * gateway's interface, against the real local Kafka and NATS: every partition
 * read reports its lag, 0 once the gateway has read to its end.
 */
import assert from "node:assert/strict";
import client from "prom-client";
import { createLogger } from "../../actors/runtime/log.ts";
import { connectTestNats, waitFor } from "../../actors/runtime/testing.ts";
import { utf8 } from "./bytes.ts";
import { startInbound } from "./inbound.ts";
import { KAFKA_CLIENTS } from "./kafka.ts";
import { gatewayMetrics } from "./metrics.ts";
import { createTopics, kafkaTestConfig, testTopic } from "./testing.ts";
import { connectHopWriter, type HopRecord } from "./writer.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const quiet = createLogger({ level: (Deno.env.get("KB_TEST_LOG") ?? "error") as "error" });

/** The values of `kb_hop_consumer_lag` for `topic`, by partition. */
function lags(text: string, topic: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = /^kb_hop_consumer_lag\{([^}]*)\} (\d+)/gm;
  for (const m of text.matchAll(re)) {
    if (!m[1].includes(`topic="${topic}"`)) continue;
    out.set(/partition="(\d+)"/.exec(m[1])![1], Number(m[2]));
  }
  return out;
}

for (const kc of KAFKA_CLIENTS) {
  Deno.test(
    `inbound: consumer lag per partition, 0 once read to the end [${kc}]`,
    opts,
    async () => {
      const t = await connectTestNats("hop-test-lag");
      const topic = testTopic("lag");
      await createTopics([topic], 2);
      const records: HopRecord[] = Array.from({ length: 3_000 }, (_, i) => ({
        format: "json",
        id: crypto.randomUUID(),
        key: `k${i}`,
        value: utf8(`{"n":${i}}`),
      }));
      const w = await connectHopWriter(kafkaTestConfig([], kc));
      await w.publish(topic, records);
      await w.close();
      const registry = new client.Registry();
      const gw = await startInbound({
        kafka: kafkaTestConfig([topic], kc),
        start: { kind: "earliest" },
        chunk: 100,
        transport: t,
        log: quiet,
        metrics: gatewayMetrics(registry),
        replica: "test",
      });
      try {
        await waitFor(
          "all read and lag 0 on both partitions",
          async () => {
            const l = lags(await registry.metrics(), topic);
            const s = gw.stats();
            return s.published + s.duplicates >= 3_000 && l.size === 2 &&
              [...l.values()].every((v) => v === 0);
          },
          60_000,
          5,
        );
        assert.equal(gw.stats().published, 3_000);
      } finally {
        await gw.stop();
        await t.close();
      }
    },
  );
}
