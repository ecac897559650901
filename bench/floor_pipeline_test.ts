/**
 * The e2e bench's floor pipeline does what its figures claim, on the real local Kafka and
 * PostgreSQL: every record read is stored once as a row of its bytes and written to the output
 * topic with its hop headers, and the process stops cleanly on SIGTERM.
 */
import assert from "node:assert/strict";
import { createTestDatabase } from "../db/testing.ts";
import { utf8 } from "../gateway/hopskotch/bytes.ts";
import { plainKafka, readTopic } from "../e2e/kafka.ts";
import { createTopics, testTopic } from "../gateway/hopskotch/testing.ts";
import { connectHopWriter, type HopRecord } from "../gateway/hopskotch/writer.ts";
import { FLOOR_TABLE, spawnFloorPipeline } from "./floor_pipeline.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "floor pipeline: each record stored once and forwarded with its headers",
  opts,
  async () => {
    const brokers = Deno.env.get("KB_KAFKA_BROKERS");
    assert.ok(brokers, "KB_KAFKA_BROKERS is not set: run through `deno task test`");
    const from = testTopic("floor-in");
    const to = testTopic("floor-out");
    await createTopics([from, to]);
    const db = await createTestDatabase("postgres", { migrated: false });
    const proc = await spawnFloorPipeline({ from, to, databaseUrl: db.url, brokers });
    try {
      const records: HopRecord[] = Array.from({ length: 50 }, (_, i) => ({
        format: "json",
        id: crypto.randomUUID(),
        key: `k${i}`,
        value: utf8(`{"n":${i}}`),
      }));
      const w = await connectHopWriter(plainKafka(brokers, [from]));
      await w.publish(from, records);
      await w.close();
      // Read until all 50 are there, then 2 s more: a copy forwarded twice would show.
      const got = await readTopic(plainKafka(brokers, [to]), to, (rs) => rs.length >= 50, {
        timeoutMs: 30_000,
      });
      assert.ok(got.every((r) => r.id !== undefined), "an output record lost its _id header");
      assert.deepEqual(
        got.map((r) => [r.id, new TextDecoder().decode(r.value)]).sort(),
        records.map((r) => [r.id, new TextDecoder().decode(r.value)]).sort(),
      );
      const [{ n, bytes }] = await db.sql`
      select count(*)::int as n, sum(length(value))::int as bytes from ${db.sql(FLOOR_TABLE)}`;
      assert.equal(n, 50);
      assert.equal(bytes, records.reduce((t, r) => t + r.value.byteLength, 0));
    } finally {
      proc.kill("SIGTERM");
      const status = await proc.status;
      await db.drop();
      assert.equal(status.code, 0, `the floor pipeline exited with ${status.code}`);
    }
  },
);
