/**
 * Kafka helpers of the suites: a PLAINTEXT client configuration for a broker,
 * topic creation, a producer that keeps its rate and retries the same records
 * through a broker restart, and a reader of every record of a topic.
 *
 * @module
 */
import { type KafkaClientConfig, loadKafkaConfig } from "../gateway/hopskotch/config.ts";
import { kafkaClient } from "../gateway/hopskotch/kafka.ts";
import { uuidFromBytes } from "../gateway/hopskotch/uuid.ts";
import { connectHopWriter, type HopRecord, type HopWriter } from "../gateway/hopskotch/writer.ts";
import { sleep } from "../actors/runtime/testing.ts";

/** A client configuration for the PLAINTEXT listener `brokers`. */
export function plainKafka(brokers: string, topics: readonly string[] = []): KafkaClientConfig {
  return loadKafkaConfig({
    url: `kafka://${brokers}/${topics.join(",")}`,
    env: { KB_KAFKA_SECURITY_PROTOCOL: "PLAINTEXT" },
  });
}

/** Creates topics (no error when they exist). */
export async function createTopics(
  config: KafkaClientConfig,
  topics: readonly string[],
  partitions: number,
): Promise<void> {
  const admin = kafkaClient(config).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** A running rate-limited producer. */
export interface RateProducer {
  /** Records acknowledged by Kafka so far. */
  produced(): number;
  /** Batches that had to be sent again (broker down, connection lost). */
  retries(): number;
  /** Holds the next batch until the returned function is called (e.g. while the broker restarts). */
  hold(): () => void;
  /** Resolves when every record is acknowledged. */
  readonly done: Promise<void>;
}

/**
 * Produces `count` records (`record(i)`) to `topic` at `rate` records/s in
 * batches of `batch`; a failed batch is sent again with the same `_id`s, so the
 * gateway's duplicate detection is what keeps it once.
 */
export function produceAtRate(
  config: KafkaClientConfig,
  topic: string,
  count: number,
  record: (i: number) => HopRecord,
  options: { rate: number; batch?: number; onRetry?: (err: Error) => void },
): RateProducer {
  const batchSize = options.batch ?? 200;
  let produced = 0;
  let retries = 0;
  let gate: Promise<void> | undefined;
  const done = (async () => {
    let writer: HopWriter | undefined;
    const started = performance.now();
    try {
      while (produced < count) {
        const n = Math.min(batchSize, count - produced);
        const batch = Array.from({ length: n }, (_, j) => record(produced + j));
        for (let attempt = 1;; attempt++) {
          if (gate) await gate;
          try {
            writer ??= await connectHopWriter(config);
            await writer.publish(topic, batch);
            break;
          } catch (err) {
            retries++;
            if (attempt === 1) options.onRetry?.(err as Error);
            await writer?.close().catch(() => {});
            writer = undefined;
            if (attempt > 200) throw err;
            await sleep(500);
          }
        }
        produced += n;
        const ahead = (produced / options.rate) * 1000 - (performance.now() - started);
        if (ahead > 0) await sleep(ahead);
      }
    } finally {
      await writer?.close().catch(() => {});
    }
  })();
  return {
    produced: () => produced,
    retries: () => retries,
    hold() {
      let release: () => void = () => {};
      gate = new Promise((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
    done,
  };
}

/** One record read back from Kafka. */
export interface ReadRecord {
  readonly partition: number;
  readonly offset: string;
  /** The hop `_id` header as a UUID string (undefined when absent or not 16 bytes). */
  readonly id?: string;
  readonly value: Uint8Array;
}

/**
 * Reads `topic` from the beginning until `until(records)` holds (then for
 * `settleMs` more, so late copies show up) or `timeoutMs` passes.
 */
export async function readTopic(
  config: KafkaClientConfig,
  topic: string,
  until: (records: readonly ReadRecord[]) => boolean,
  options: { timeoutMs?: number; settleMs?: number } = {},
): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  const consumer = kafkaClient(config).consumer({
    groupId: `kb-e2e-read-${crypto.randomUUID().slice(0, 8)}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        const raw = message.headers?._id;
        const bytes = Array.isArray(raw) ? undefined : raw;
        records.push({
          partition,
          offset: message.offset,
          id: bytes && typeof bytes !== "string" && bytes.length === 16
            ? uuidFromBytes(new Uint8Array(bytes))
            : undefined,
          value: new Uint8Array(message.value ?? []),
        });
        return Promise.resolve();
      },
    });
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    while (!until(records) && Date.now() < deadline) await sleep(200);
    await sleep(options.settleMs ?? 2_000);
    return [...records];
  } finally {
    await consumer.disconnect();
  }
}
