/**
 * The gateway's Kafka interface on `kafkajs` (the design card's client), with
 * kafkajs' own log lines routed to the gateway's JSON logger.
 *
 * @module
 */
import { Kafka, logLevel, type SASLOptions } from "kafkajs";
// kafkajs 2.2.4 wakes every process ~500 times a second through an idle timer loop: fixed here.
import "./kafkajs_patch.ts";
import type { Logger } from "../../actors/runtime/log.ts";
import { groupIdFor, type KafkaClientConfig } from "./config.ts";
import type { KafkaRecord } from "./envelope.ts";
import type { KafkaAdmin, KafkaDriver, PartitionOffset, RangeReader } from "./kafka.ts";

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

/** A kafkajs message as the narrow interface's record (what `judgeRecord` reads). */
export function toRecord(
  topic: string,
  partition: number,
  m: {
    offset: string;
    timestamp: string;
    key: Buffer | null;
    value: Buffer | null;
    headers?: KafkaRecord["headers"];
  },
): KafkaRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    timestamp: m.timestamp,
    key: m.key,
    value: m.value,
    headers: m.headers,
  };
}

/** A kafkajs client for `config`. kafkajs' INFO chatter is logged at debug level. */
export function kafkaClient(config: KafkaClientConfig, log?: Logger): Kafka {
  const sasl: SASLOptions | undefined = config.sasl
    ? {
      mechanism: config.sasl.mechanism.toLowerCase() as "scram-sha-512",
      username: config.sasl.username,
      password: config.sasl.password,
    }
    : undefined;
  const tls = config.protocol === "SSL" || config.protocol === "SASL_SSL";
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    ssl: tls ? (config.caPem ? { ca: [config.caPem] } : true) : false,
    sasl,
    connectionTimeout: 5_000,
    authenticationTimeout: 10_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries: 10 },
    logLevel: log ? logLevel.INFO : logLevel.NOTHING,
    logCreator: () => ({ namespace, level, label: _label, log: entry }) => {
      if (!log) return;
      const { message, timestamp: _t, logger: _l, ...fields } = entry as Record<string, unknown>;
      const lvl = LEVELS[level] ?? "info";
      (lvl === "info" ? log.debug : log[lvl])(`kafkajs: ${message}`, { namespace, ...fields });
    },
  });
}

/** The gateway's Kafka interface on kafkajs. */
export function kafkajsDriver(config: KafkaClientConfig, log?: Logger): KafkaDriver {
  const kafka = kafkaClient(config, log);
  return {
    kind: "kafkajs",
    rangeReader: () => Promise.resolve(kafkajsRangeReader(kafka, config, log)),
    async producer(options) {
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: options.allowAutoTopicCreation,
        // Bounded so a dead cluster fails send() instead of hanging it forever.
        retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 8 },
      });
      await producer.connect();
      return {
        async send(topic, records) {
          await producer.send({ topic, messages: records as never, acks: -1 });
        },
        close: () => producer.disconnect(),
      };
    },
    async admin() {
      const admin = kafka.admin();
      await admin.connect();
      const offsets = (list: { partition: number; offset: string }[]): PartitionOffset[] =>
        list.map((p) => ({ partition: p.partition, offset: String(p.offset) }));
      const a: KafkaAdmin = {
        async createTopics(topics, partitions = 1) {
          await admin.createTopics({
            waitForLeaders: true,
            topics: topics.map((topic) => ({
              topic,
              numPartitions: partitions,
              replicationFactor: 1,
            })),
          });
        },
        listTopics: () => admin.listTopics(),
        async ledTopics(wanted) {
          const all = new Set(await admin.listTopics());
          const listed = wanted.filter((t) => all.has(t));
          if (!listed.length) return [];
          const { topics } = await admin.fetchTopicMetadata({ topics: listed });
          return topics.filter((t) =>
            t.partitions.length && t.partitions.every((p) => p.leader >= 0)
          ).map((t) => t.name);
        },
        async committedOffsets(groupId, topic) {
          const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
          return offsets(committed[0]?.partitions ?? []);
        },
        async offsetsForTimestamp(topic, timestampMs) {
          return offsets(await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs));
        },
        async endOffsets(topic) {
          return (await admin.fetchTopicOffsets(topic)).map((p) => ({
            partition: p.partition,
            offset: p.high,
          }));
        },
        async startOffsets(topic) {
          return (await admin.fetchTopicOffsets(topic)).map((p) => ({
            partition: p.partition,
            offset: p.low,
          }));
        },
        async setGroupOffsets(groupId, topic, partitions) {
          await admin.setOffsets({ groupId, topic, partitions: [...partitions] });
        },
        close: () => admin.disconnect(),
      };
      return a;
    },
    async consume(options) {
      const c = kafka.consumer({
        groupId: options.groupId,
        allowAutoTopicCreation: false,
        // A SIGKILLed replica holds its partitions until its session times out.
        sessionTimeout: options.sessionTimeoutMs,
        rebalanceTimeout: 30_000,
        heartbeatInterval: 1_000,
        // One partition may fill a whole fetch (the total stays 16 MiB): a backlog is read in
        // 4x fewer batches, each batch end being a pause (last acks, then a fetch round trip);
        // +3% on a 50,000-record drain (docs/hopskotch.md), 1 MiB was 12% slower.
        maxBytesPerPartition: 16 * 1024 * 1024,
        maxBytes: 16 * 1024 * 1024,
        maxWaitTimeInMs: 500,
        retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries: 20 },
      });
      c.on(c.events.CRASH, (e) => {
        const { error, restart } = e.payload as { error: Error; restart: boolean };
        log?.error("Kafka consumer crashed", { error: error.message, restartsItself: restart });
        if (!restart) options.onFatal(error);
      });
      await c.connect();
      for (const fromBeginning of [false, true]) {
        const topics = options.topics.filter((t) => t.fromBeginning === fromBeginning)
          .map((t) => t.name);
        if (topics.length) await c.subscribe({ topics, fromBeginning });
      }
      await c.run({
        autoCommit: true,
        // At most every second, so a crash re-reads about a second of records.
        autoCommitInterval: 1_000,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 4,
        eachBatch: async (p) => {
          const { batch } = p;
          const records = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
          await options.eachBatch({
            topic: batch.topic,
            partition: batch.partition,
            records,
            get lag() {
              return Number(batch.offsetLag());
            },
            isRunning: () => p.isRunning() && !p.isStale(),
            heartbeat: p.heartbeat,
            async done(offset) {
              p.resolveOffset(offset);
              await p.heartbeat();
              await p.commitOffsetsIfNecessary();
            },
          });
          await p.commitOffsetsIfNecessary();
        },
      });
      return { stop: () => c.disconnect() };
    },
  };
}

/**
 * Reads offset ranges on kafkajs, which has no consumer outside a group: each
 * read joins a consumer group of its own (named by Hopskotch's `<username>-`
 * rule, see {@link groupIdFor}), seeks each partition to its range, commits
 * nothing, and deletes the group when done (an empty group without offsets
 * also expires by itself when deleting is not allowed).
 */
export function kafkajsRangeReader(
  kafka: Kafka,
  config: KafkaClientConfig,
  log?: Logger,
): RangeReader {
  return {
    async read(topic, ranges, each, timeoutMs = 60_000) {
      const open = new Map(
        ranges.filter((r) => BigInt(r.from) < BigInt(r.to)).map((r) => [r.partition, r]),
      );
      if (!open.size) return;
      const groupId = groupIdFor(config, undefined, `kb-range-${crypto.randomUUID()}`);
      const c = kafka.consumer({
        groupId,
        allowAutoTopicCreation: false,
        sessionTimeout: 10_000,
        heartbeatInterval: 1_000,
        maxWaitTimeInMs: 100,
        maxBytesPerPartition: 4 * 1024 * 1024,
        retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 5 },
      });
      let finish = () => {};
      let fail: (e: unknown) => void = () => {};
      const done = new Promise<void>((resolve, reject) => {
        finish = resolve;
        fail = reject;
      });
      c.on(c.events.CRASH, (e) => fail((e.payload as { error: Error }).error));
      const timer = setTimeout(
        () =>
          fail(
            new Error(
              `reading ${topic} ${JSON.stringify([...open.values()])} took over ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      try {
        await c.connect();
        await c.subscribe({ topics: [topic], fromBeginning: false });
        await c.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: ({ batch }) => {
            const r = open.get(batch.partition);
            if (!r) return Promise.resolve();
            const to = BigInt(r.to);
            const records: KafkaRecord[] = [];
            for (const m of batch.messages) {
              if (BigInt(m.offset) >= to) break;
              records.push(toRecord(topic, batch.partition, m));
            }
            if (records.length && each(records) === true) {
              finish();
              return Promise.resolve();
            }
            if (BigInt(batch.lastOffset()) >= to - 1n) {
              open.delete(batch.partition);
              if (!open.size) finish();
            }
            return Promise.resolve();
          },
        });
        for (const r of open.values()) c.seek({ topic, partition: r.partition, offset: r.from });
        await done;
      } finally {
        clearTimeout(timer);
        await c.disconnect();
        const admin = kafka.admin();
        try {
          await admin.connect();
          await admin.deleteGroups([groupId]);
        } catch (err) {
          log?.warn("could not delete the range reader's consumer group; it expires by itself", {
            groupId,
            error: (err as Error).message,
          });
        } finally {
          await admin.disconnect();
        }
      }
    },
    close: () => Promise.resolve(),
  };
}
