/**
 * The least a pipeline can do per alert on this machine, as one process, for the `e2e` bench
 * (issue 11): read each record from Kafka, store its bytes in PostgreSQL (one row per record, a
 * table with only its primary key, one statement per fetched batch), write it back to Kafka
 * (acks=all, headers kept) and commit. No NATS, no decoding, no classification, no results: what
 * any pipeline that archives every alert and answers on Kafka starts from, in latency and CPU,
 * at an offered load. The bench offers the load, reads the output topic and times each record
 * from its produce time (its `_id` header) to its output record's CreateTime.
 *
 * Run by the bench: `deno run -A bench/floor_pipeline.ts`, with `KB_FLOOR_FROM`, `KB_FLOOR_TO`,
 * `KB_FLOOR_GROUP`, `KB_DATABASE_URL` and `KB_KAFKA_BROKERS` (plaintext). It logs `floor ready`
 * (a JSON line on stderr) once its consumer has joined its group, and stops on SIGTERM.
 *
 * @module
 */
import { type SpawnedProcess, spawnProcess } from "../actors/runtime/testing.ts";
import { connect, type Sql } from "../db/connect.ts";
import { plainKafka } from "../e2e/kafka.ts";
import { kafkaClient } from "../gateway/hopskotch/kafka.ts";

/** The table the floor writes: each record's bytes under its position, primary key only. */
export const FLOOR_TABLE = "floor_raw";

/** Creates {@link FLOOR_TABLE} when missing. */
export async function createFloorTable(sql: Sql): Promise<void> {
  await sql.unsafe(
    `create table if not exists ${FLOOR_TABLE} (msg_id text primary key, value bytea not null)`,
  );
}

/** Stores records of one partition as rows of {@link FLOOR_TABLE}, in one statement. */
export async function storeFloorRows(
  sql: Sql,
  partition: number,
  records: readonly { readonly offset: string; readonly value: Uint8Array | null }[],
): Promise<void> {
  await sql`insert into ${sql(FLOOR_TABLE)} (msg_id, value)
    select * from unnest(${sql.array(records.map((r) => `${partition}:${r.offset}`))}::text[],
                         ${sql.array(records.map((r) => r.value ?? new Uint8Array()))}::bytea[])
    on conflict do nothing`;
}

/** Starts the floor pipeline as its own process and waits until its consumer has joined. */
export function spawnFloorPipeline(options: {
  readonly from: string;
  readonly to: string;
  readonly databaseUrl: string;
  /** host:port of a plaintext Kafka listener. */
  readonly brokers: string;
}): Promise<SpawnedProcess<true>> {
  return spawnProcess({
    name: "floor pipeline",
    args: ["bench/floor_pipeline.ts"],
    env: {
      KB_FLOOR_FROM: options.from,
      KB_FLOOR_TO: options.to,
      KB_FLOOR_GROUP: `${options.from}-floor`,
      KB_DATABASE_URL: options.databaseUrl,
      KB_KAFKA_BROKERS: options.brokers,
    },
    readyWhen: (e) => e.msg === "floor ready" ? true : undefined,
    timeoutMs: 60_000,
    identity: "", // no NATS
  });
}

function need(name: string): string {
  const v = Deno.env.get(name);
  if (!v) throw new Error(`${name} is not set: bench/floor_pipeline.ts is run by the e2e bench`);
  return v;
}

const log = (msg: string, fields: Record<string, unknown> = {}) =>
  console.error(JSON.stringify({ msg, ...fields }));

if (import.meta.main) {
  const from = need("KB_FLOOR_FROM");
  const to = need("KB_FLOOR_TO");
  const sql = connect(need("KB_DATABASE_URL"), { max: 1 });
  await createFloorTable(sql);
  const kafka = kafkaClient(plainKafka(need("KB_KAFKA_BROKERS"), [from]));
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  // The inbound gateway's fetch settings: a fetch returns as soon as a record is there.
  const consumer = kafka.consumer({ groupId: need("KB_FLOOR_GROUP"), maxWaitTimeInMs: 500 });
  consumer.on(consumer.events.GROUP_JOIN, () => log("floor ready"));
  await consumer.connect();
  await consumer.subscribe({ topics: [from], fromBeginning: false });
  await consumer.run({
    autoCommitInterval: 1_000,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const ms = batch.messages;
      if (!ms.length) return;
      await storeFloorRows(sql, batch.partition, ms);
      await producer.send({
        topic: to,
        acks: -1,
        messages: ms.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
      resolveOffset(ms[ms.length - 1].offset);
      await heartbeat();
    },
  });
  let stopping = false;
  Deno.addSignalListener("SIGTERM", async () => {
    if (stopping) return;
    stopping = true;
    await consumer.disconnect();
    await producer.disconnect();
    await sql.end();
    Deno.exit(0);
  });
}
