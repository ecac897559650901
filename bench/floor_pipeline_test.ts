/**
 * The e2e bench's floor pipeline does what its figures claim, on the real local Kafka and
 * PostgreSQL: every record read is stored once as a row of its bytes and written to the output
 * topic with its hop headers, and the process stops cleanly on SIGTERM.
 */
import assert from "node:assert/strict";
import { waitFor } from "../actors/runtime/testing.ts";
import { createTestDatabase } from "../db/testing.ts";
import { utf8 } from "../gateway/hopskotch/bytes.ts";
import { loadKafkaConfig } from "../gateway/hopskotch/config.ts";
import { kafkaClient } from "../gateway/hopskotch/kafka.ts";
import { createTopics, testTopic } from "../gateway/hopskotch/testing.ts";
import { uuidFromBytes } from "../gateway/hopskotch/uuid.ts";
import { connectHopWriter, type HopRecord } from "../gateway/hopskotch/writer.ts";
import { FLOOR_TABLE, spawnFloorPipeline } from "./floor_pipeline.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "floor pipeline: each record stored once and forwarded with its headers",
  opts,
  async () => {
    const brokers = Deno.env.get("KB_KAFKA_BROKERS");
    assert.ok(brokers, "KB_KAFKA_BROKERS is not set: run through `deno task test`");
    const config = (topic: string) =>
      loadKafkaConfig({
        url: `kafka://${brokers}/${topic}`,
        env: { KB_KAFKA_SECURITY_PROTOCOL: "PLAINTEXT" },
      });
    const from = testTopic("floor-in");
    const to = testTopic("floor-out");
    await createTopics([from, to]);
    const db = await createTestDatabase("postgres", { migrated: false });
    const proc = await spawnFloorPipeline({ from, to, databaseUrl: db.url, brokers });
    const reader = kafkaClient(config(to)).consumer({
      groupId: `${to}-read`,
      maxWaitTimeInMs: 100,
    });
    try {
      const records: HopRecord[] = Array.from({ length: 50 }, (_, i) => ({
        format: "json",
        id: crypto.randomUUID(),
        key: `k${i}`,
        value: utf8(`{"n":${i}}`),
      }));
      const w = await connectHopWriter(config(from));
      await w.publish(from, records);
      await w.close();
      const got = new Map<string, string>();
      await reader.connect();
      await reader.subscribe({ topics: [to], fromBeginning: true });
      await reader.run({
        eachMessage: ({ message }) => {
          const id = message.headers?._id;
          assert.ok(id instanceof Uint8Array, "the output record lost its _id header");
          got.set(uuidFromBytes(id), message.value!.toString("utf8"));
          return Promise.resolve();
        },
      });
      await waitFor("50 records on the output topic", () => got.size >= 50, 30_000);
      assert.deepEqual(
        [...got].sort(),
        records.map((r) => [r.id, new TextDecoder().decode(r.value)]).sort(),
      );
      const [{ n, bytes }] = await db.sql`
      select count(*)::int as n, sum(length(value))::int as bytes from ${db.sql(FLOOR_TABLE)}`;
      assert.equal(n, 50);
      assert.equal(bytes, records.reduce((t, r) => t + r.value.byteLength, 0));
    } finally {
      await reader.disconnect();
      proc.kill("SIGTERM");
      const status = await proc.status;
      await db.drop();
      assert.equal(status.code, 0, `the floor pipeline exited with ${status.code}`);
    }
  },
);
