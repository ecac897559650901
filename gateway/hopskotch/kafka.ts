/**
 * The gateway's narrow Kafka interface — what the writer, the inbound gateway
 * and the start positions need from a Kafka client — and its selection by
 * configuration (`KB_KAFKA_CLIENT=auto|kafkajs|platformatic`). Two
 * implementations sit behind it: `kafkajs` (the design card's client,
 * `kafkajs_driver.ts`) and `@platformatic/kafka` (`platformatic_driver.ts`);
 * the integration tests run on both, and `docs/hopskotch.md` gives the
 * benchmark behind the default, `auto` (each role on the faster client).
 *
 * {@link kafkaClient} stays a plain kafkajs client for tools and tests that
 * need more of Kafka than this interface (e.g. the bench's latency consumer).
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type { Logger } from "../../actors/runtime/log.ts";
import type { KafkaClientConfig } from "./config.ts";
import type { KafkaRecord } from "./envelope.ts";
export { kafkaClient } from "./kafkajs_driver.ts";

/** The Kafka client libraries the gateway can run on. */
export const KAFKA_CLIENTS = ["kafkajs", "platformatic"] as const;
/** One of {@link KAFKA_CLIENTS}. */
export type KafkaClientKind = (typeof KAFKA_CLIENTS)[number];

/** A record ready for the wire: Buffers everywhere (kafkajs' rule for header values too). */
export interface WireRecord {
  readonly key: Buffer | null;
  readonly value: Buffer;
  readonly headers: Record<string, Buffer>;
}

/** An idempotent, acks=all producer. */
export interface KafkaProducer {
  /** Sends `records` to `topic` in one request; resolves once every record is acknowledged. */
  send(topic: string, records: readonly WireRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link KafkaDriver.producer}. */
export interface ProducerOptions {
  /** Let the broker create missing topics (local Kafka). */
  readonly allowAutoTopicCreation: boolean;
}

/** One partition's offset. */
export interface PartitionOffset {
  readonly partition: number;
  /** Decimal string (Kafka offsets are 64-bit); "-1" = none committed. */
  readonly offset: string;
}

/** The admin operations of the gateway, its tests and benchmarks. */
export interface KafkaAdmin {
  createTopics(topics: readonly string[], partitions?: number): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Of `topics`, those that exist with a leader for every partition. */
  ledTopics(topics: readonly string[]): Promise<string[]>;
  /** The group's committed offsets of every partition of `topic` ("-1" where none). */
  committedOffsets(groupId: string, topic: string): Promise<PartitionOffset[]>;
  /** Per partition, the first offset at or after `timestampMs` (the end when none). */
  offsetsForTimestamp(topic: string, timestampMs: number): Promise<PartitionOffset[]>;
  /** Per partition, the high watermark (the offset of the next record). */
  endOffsets(topic: string): Promise<PartitionOffset[]>;
  /** Per partition, the first offset still stored. */
  startOffsets(topic: string): Promise<PartitionOffset[]>;
  /** Sets the group's committed offsets (the group must have no live member). */
  setGroupOffsets(
    groupId: string,
    topic: string,
    offsets: readonly PartitionOffset[],
  ): Promise<void>;
  close(): Promise<void>;
}

/** Records of one partition handed to {@link GroupConsumerOptions.eachBatch}. */
export interface ConsumedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly KafkaRecord[];
  /** Records behind the end of the partition after this batch, when known. */
  readonly lag?: number;
  /** False once the consumer stops or lost this partition: leave the batch. */
  isRunning(): boolean;
  /** Keeps the group membership alive during long work. */
  heartbeat(): Promise<void>;
  /**
   * Marks every record up to `offset` (inclusive) as done: its offset may be
   * committed from now on (the client commits at most about once a second
   * and when it stops).
   */
  done(offset: string): Promise<void>;
}

/** Options of {@link KafkaDriver.consume}. */
export interface GroupConsumerOptions {
  readonly groupId: string;
  /** Topics and, for partitions without a committed offset, whether to start at their beginning. */
  readonly topics: readonly { readonly name: string; readonly fromBeginning: boolean }[];
  readonly sessionTimeoutMs: number;
  /** Called for each partition's records in offset order; one call at a time per partition. */
  readonly eachBatch: (batch: ConsumedBatch) => Promise<void>;
  /** Called when the consumer failed and will not restart itself. */
  readonly onFatal: (error: unknown) => void;
}

/** A running group consumer. */
export interface GroupConsumer {
  /** Finishes the batch under way (its offsets are committed) and leaves the group. */
  stop(): Promise<void>;
}

/** Offsets `[from, to)` of one partition (decimal strings, as {@link PartitionOffset}). */
export interface PartitionRange {
  readonly partition: number;
  /** First offset to read. */
  readonly from: string;
  /** Offset after the last one to read (e.g. an end offset captured earlier). */
  readonly to: string;
}

/**
 * Reads given offset ranges of a topic without committing anything: what the
 * outbound gateway's redelivery check ({@link ./produced_check.ts}) needs.
 */
export interface RangeReader {
  /**
   * Reads every record of `topic` in `ranges` and hands them to `each`, in
   * offset order within a partition (batches of partitions may interleave).
   * Resolves once every range is read, or as soon as `each` returns true.
   * Offsets missing from the log (compacted, transaction markers) are
   * skipped; rejects on any failure, or when the ranges were not read within
   * `timeoutMs`.
   */
  read(
    topic: string,
    ranges: readonly PartitionRange[],
    each: (records: readonly KafkaRecord[]) => boolean | void,
    timeoutMs?: number,
  ): Promise<void>;
  close(): Promise<void>;
}

/** One Kafka client library behind the gateway's interface (or, for `auto`, two). */
export interface KafkaDriver {
  /** The client of the consumer and the admin. */
  readonly kind: KafkaClientKind;
  /** The client of the producer, when not `kind`. */
  readonly producerKind?: KafkaClientKind;
  producer(options: ProducerOptions): Promise<KafkaProducer>;
  admin(): Promise<KafkaAdmin>;
  consume(options: GroupConsumerOptions): Promise<GroupConsumer>;
  /** A reader of offset ranges (no committed offsets; see {@link RangeReader}). */
  rangeReader(): Promise<RangeReader>;
}

/**
 * The driver `config.client` names. `auto` (the default) takes each role from
 * the client that measured faster in it (docs/hopskotch.md): producing with
 * @platformatic/kafka, consuming and administering with kafkajs.
 */
export function kafkaDriver(config: KafkaClientConfig, log?: Logger): KafkaDriver {
  const kafkajs = () =>
    lazyDriver(
      "kafkajs",
      async () => (await import("./kafkajs_driver.ts")).kafkajsDriver(config, log),
    );
  const platformatic = () =>
    lazyDriver(
      "platformatic",
      async () => (await import("./platformatic_driver.ts")).platformaticDriver(config, log),
    );
  switch (config.client) {
    case "kafkajs":
      return kafkajs();
    case "platformatic":
      return platformatic();
    case "auto": {
      const consumer = kafkajs();
      const producer = platformatic();
      return {
        kind: "kafkajs",
        producerKind: "platformatic",
        producer: (options) => producer.producer(options),
        admin: () => consumer.admin(),
        consume: (options) => consumer.consume(options),
        // No group to join: a short check of a redelivery, not a consumer.
        rangeReader: () => producer.rangeReader(),
      };
    }
  }
}

/**
 * A driver whose library is imported on first use: @platformatic/kafka alone adds ~35 MiB
 * to a process, so a gateway that only consumes (or only produces) never loads the other.
 */
function lazyDriver(kind: KafkaClientKind, load: () => Promise<KafkaDriver>): KafkaDriver {
  let loaded: Promise<KafkaDriver> | undefined;
  const driver = () => (loaded ??= load());
  return {
    kind,
    producer: async (options) => (await driver()).producer(options),
    admin: async () => (await driver()).admin(),
    consume: async (options) => (await driver()).consume(options),
    rangeReader: async () => (await driver()).rangeReader(),
  };
}

/** Runs `f` with an admin client of `config`, closing it afterwards. */
export async function withAdmin<T>(
  config: KafkaClientConfig,
  f: (admin: KafkaAdmin) => Promise<T>,
): Promise<T> {
  const admin = await kafkaDriver(config).admin();
  try {
    return await f(admin);
  } finally {
    await admin.close();
  }
}
