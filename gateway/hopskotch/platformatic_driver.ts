/**
 * The gateway's Kafka interface on `@platformatic/kafka` (a maintained,
 * pure-JavaScript client). Chosen per process by `KB_KAFKA_CLIENT`; see
 * `docs/hopskotch.md` for the measurements.
 *
 * Semantics kept equal to the kafkajs implementation: an idempotent acks=all
 * producer; a consumer group that commits an offset only once the gateway
 * marked the record done (never on fetch, which is what the library's own
 * autocommit does), at most about once a second and when it stops.
 *
 * @module
 */
import {
  Admin,
  Consumer,
  type Message,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  type SASLOptions,
  stringDeserializer,
  stringSerializer,
} from "@platformatic/kafka";
import { Buffer } from "node:buffer";
import type { Logger } from "../../actors/runtime/log.ts";
import { groupIdFor, type KafkaClientConfig } from "./config.ts";
import type { KafkaRecord } from "./envelope.ts";
import type {
  ConsumedBatch,
  KafkaAdmin,
  KafkaDriver,
  PartitionOffset,
  RangeReader,
  WireRecord,
} from "./kafka.ts";
import type { KafkaHeaders } from "./wire.ts";

type Msg = Message<Buffer, Buffer, string, Buffer>;

/** Records handed to the gateway at once (per read of the stream). */
const READ_MAX = 2_000;
/** How often offsets marked done are committed, in milliseconds. */
const COMMIT_EVERY_MS = 1_000;
/**
 * How often a consumer reads its topics' ends for the lag it reports: the
 * library's message stream does not hand out the fetch responses' high
 * watermarks (kafkajs' `offsetLag` comes from those), so they are asked for,
 * one ListOffsets request per interval.
 */
const LAG_EVERY_MS = 2_000;

/**
 * The library reports failures as an AggregateError whose message says only
 * what failed ("Listing topics failed."): this error says why, from its inner
 * errors (e.g. the broker refusing a SASL login), and keeps it as its cause.
 */
export function explained(err: unknown): Error {
  const why = new Set<string>();
  const walk = (e: unknown, depth: number) => {
    if (depth > 10 || !(e instanceof Error)) return;
    const inner = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(inner) && inner.length) { for (const x of inner) walk(x, depth + 1); }
    else if (e.cause instanceof Error) walk(e.cause, depth + 1);
    else why.add(e.message);
  };
  walk(err, 0);
  const top = err instanceof Error ? err.message : String(err);
  const reasons = [...why].filter((m) => m !== top);
  if (!reasons.length) return err instanceof Error ? err : new Error(top);
  return new Error(`${top} ${reasons.join("; ")}`, { cause: err });
}

/** `p`, its failure {@link explained}. */
function plain<T>(p: Promise<T>): Promise<T> {
  return p.catch((err) => {
    throw explained(err);
  });
}

/** The connection options common to every client of `config`. */
function base(config: KafkaClientConfig) {
  const tls = config.protocol === "SSL" || config.protocol === "SASL_SSL";
  const sasl: SASLOptions | undefined = config.sasl
    ? {
      mechanism: config.sasl.mechanism,
      username: config.sasl.username,
      password: config.sasl.password,
    }
    : undefined;
  return {
    clientId: config.clientId,
    bootstrapBrokers: [...config.brokers],
    tls: tls ? (config.caPem ? { ca: [config.caPem] } : {}) : undefined,
    sasl,
    connectTimeout: 5_000,
    timeout: 30_000,
    retries: 10,
    retryDelay: 300,
  };
}

/** The gateway's Kafka interface on @platformatic/kafka. */
export function platformaticDriver(config: KafkaClientConfig, log?: Logger): KafkaDriver {
  return {
    kind: "platformatic",
    rangeReader: () => Promise.resolve(platformaticRangeReader(config)),
    producer(options) {
      const producer = new Producer({
        ...base(config),
        idempotent: true,
        acks: ProduceAcks.ALL,
        autocreateTopics: options.allowAutoTopicCreation,
        // Bounded so a dead cluster fails send() instead of retrying forever
        // (the library's default for idempotent producers).
        retries: 8,
        retryDelay: 500,
        serializers: { headerKey: stringSerializer },
      });
      // One request in flight, as kafkajs' idempotent producer: concurrent
      // sends (the outbound batcher's) wait their turn, in order.
      let tail: Promise<unknown> = Promise.resolve();
      const sendOne = async (topic: string, records: readonly WireRecord[]) => {
        const messages = new Array(records.length);
        for (let i = 0; i < records.length; i++) {
          const r = records[i];
          messages[i] = {
            topic,
            key: r.key ?? undefined,
            value: r.value,
            headers: r.headers,
          };
        }
        await plain(producer.send({ messages }));
      };
      return Promise.resolve({
        send(topic, records) {
          const p = tail.then(() => sendOne(topic, records));
          tail = p.catch(() => {});
          return p;
        },
        close: async () => {
          await tail;
          await producer.close();
        },
      });
    },
    admin() {
      const admin = new Admin(base(config));
      const listed = async (topic: string, timestamp: bigint): Promise<PartitionOffset[]> => {
        const md = await plain(admin.metadata({ topics: [topic] }));
        const count = md.topics.get(topic)?.partitionsCount ?? 0;
        const res = await plain(admin.listOffsets({
          topics: [{
            name: topic,
            partitions: Array.from({ length: count }, (_, i) => ({ partitionIndex: i, timestamp })),
          }],
        }));
        return (res[0]?.partitions ?? []).map((p) => ({
          partition: p.partitionIndex,
          offset: String(p.offset),
        }));
      };
      const a: KafkaAdmin = {
        async createTopics(topics, partitions = 1) {
          const exist = new Set(await plain(admin.listTopics()));
          const fresh = topics.filter((t) => !exist.has(t));
          if (fresh.length) {
            await plain(admin.createTopics({ topics: fresh, partitions, replicas: 1 }));
          }
          // Wait for leaders, as kafkajs' waitForLeaders does.
          for (let i = 0; i < 100; i++) {
            if ((await a.ledTopics(topics)).length === topics.length) return;
            await new Promise((r) => setTimeout(r, 100));
          }
        },
        listTopics: () => plain(admin.listTopics()),
        async ledTopics(wanted) {
          const all = new Set(await plain(admin.listTopics()));
          const present = wanted.filter((t) => all.has(t));
          if (!present.length) return [];
          const md = await plain(admin.metadata({ topics: present, forceUpdate: true }));
          return present.filter((t) => {
            const m = md.topics.get(t);
            return m && m.partitions.length && m.partitions.every((p) => p.leader >= 0);
          });
        },
        async committedOffsets(groupId, topic) {
          const md = await plain(admin.metadata({ topics: [topic] }));
          const count = md.topics.get(topic)?.partitionsCount ?? 0;
          const res = await plain(admin.listConsumerGroupOffsets({
            groups: [{
              groupId,
              topics: [{
                name: topic,
                partitionIndexes: Array.from({ length: count }, (_, i) => i),
              }],
            }],
          }));
          const parts = res[0]?.topics.find((t) => t.name === topic)?.partitions ?? [];
          return parts.map((p) => ({
            partition: p.partitionIndex,
            offset: String(p.committedOffset),
          }));
        },
        offsetsForTimestamp: (topic, ms) => listed(topic, BigInt(ms)),
        endOffsets: (topic) => listed(topic, -1n),
        startOffsets: (topic) => listed(topic, -2n),
        async setGroupOffsets(groupId, topic, offsets) {
          await plain(admin.alterConsumerGroupOffsets({
            groupId,
            topics: [{
              name: topic,
              partitionOffsets: offsets.map((o) => ({
                partition: o.partition,
                offset: BigInt(o.offset),
              })),
            }],
          }));
        },
        close: () => admin.close(),
      };
      return Promise.resolve(a);
    },
    async consume(options) {
      const consumer = new Consumer({
        ...base(config),
        groupId: options.groupId,
        sessionTimeout: options.sessionTimeoutMs,
        rebalanceTimeout: 30_000,
        heartbeatInterval: 1_000,
        maxWaitTime: 500,
        maxBytes: 16 * 1024 * 1024,
        maxBytesPerPartition: 4 * 1024 * 1024,
        highWaterMark: 4 * READ_MAX,
        deserializers: { headerKey: stringDeserializer },
      });
      const fromBeginning = options.topics.filter((t) => t.fromBeginning).map((t) => t.name);
      const fromEnd = options.topics.filter((t) => !t.fromBeginning).map((t) => t.name);
      // One stream has one fallback: topics to be read from their end get
      // their committed offsets set there first (only where none is committed).
      const fallback = fromBeginning.length
        ? MessagesStreamFallbackModes.EARLIEST
        : MessagesStreamFallbackModes.LATEST;
      if (fromBeginning.length && fromEnd.length) {
        const admin = await platformaticDriver(config, log).admin();
        try {
          for (const topic of fromEnd) {
            const committed = await admin.committedOffsets(options.groupId, topic);
            const open = new Set(
              committed.filter((p) => Number(p.offset) < 0).map((p) => p.partition),
            );
            const ends = (await admin.endOffsets(topic)).filter((p) => open.has(p.partition));
            if (ends.length) await admin.setGroupOffsets(options.groupId, topic, ends);
          }
        } finally {
          await admin.close();
        }
      }
      const stream = await plain(consumer.consume({
        topics: options.topics.map((t) => t.name),
        mode: MessagesStreamModes.COMMITTED,
        fallbackMode: fallback,
        // Offsets are committed once the gateway is done with a record, below.
        autocommit: false,
      }));
      let running = true;
      let failed: unknown;
      stream.on("error", (err: unknown) => {
        if (!running) return;
        failed = err;
        running = false;
        log?.error("Kafka consumer failed", { error: (err as Error).message });
        options.onFatal(err);
      });
      // Offsets marked done, committed by a timer (as kafkajs' autoCommitInterval).
      const toCommit = new Map<string, Msg>();
      let committing: Promise<void> = Promise.resolve();
      const commit = () => {
        const last = [...toCommit.values()];
        toCommit.clear();
        committing = committing.then(async () => {
          for (const m of last) {
            try {
              await m.commit();
            } catch (err) {
              // After a rebalance the partition's new owner reads these again;
              // JetStream's duplicate window drops the copies.
              log?.warn("offset commit failed; the records will be read again", {
                topic: m.topic,
                partition: m.partition,
                offset: String(m.offset),
                error: (err as Error).message,
              });
            }
          }
        });
        return committing;
      };
      const timer = setInterval(() => void commit(), COMMIT_EVERY_MS);

      // Per partition (`topic\0partition`), its end at the last poll: a batch's lag is
      // measured against it (at most LAG_EVERY_MS old, so under load it is
      // understated by what was produced since; never negative).
      const ends = new Map<string, bigint>();
      const topicNames = options.topics.map((t) => t.name);
      let endsWarned = false;
      const pollEnds = async () => {
        try {
          const got = await plain(consumer.listOffsets({ topics: topicNames }));
          for (const [topic, offsets] of got) {
            offsets.forEach((o, partition) => ends.set(`${topic}\u0000${partition}`, o));
          }
          endsWarned = false;
        } catch (err) {
          // Once per failure streak: the lag metric then keeps its last value.
          if (!endsWarned) {
            log?.warn("could not read the topics' ends; consumer lag not updated until it works", {
              topics: topicNames.join(","),
              error: (err as Error).message,
            });
          }
          endsWarned = true;
        }
      };
      await pollEnds();
      let polling = false;
      const lagTimer = setInterval(() => {
        if (polling) return;
        polling = true;
        void pollEnds().finally(() => polling = false);
      }, LAG_EVERY_MS);
      const lagAfter = (key: string, last: bigint): number | undefined => {
        const end = ends.get(key);
        return end === undefined ? undefined : end > last + 1n ? Number(end - last - 1n) : 0;
      };

      // Flowing mode ('data' events, the library's main path), paused while
      // the gateway holds more than READ_MAX records it has not taken yet.
      let buffered: Msg[] = [];
      /** Per partition, the last offset handed to the gateway. */
      const handed = new Map<string, bigint>();
      let wakeUp: (() => void) | undefined;
      const wake = () => {
        const w = wakeUp;
        wakeUp = undefined;
        w?.();
      };
      stream.on("data", (m: Msg) => {
        buffered.push(m);
        if (buffered.length >= READ_MAX && !stream.isPaused()) stream.pause();
        wake();
      });
      stream.on("close", wake);
      stream.on("error", wake);

      const loop = (async () => {
        while (running) {
          if (!buffered.length) {
            if (stream.destroyed || stream.closed) break;
            await new Promise<void>((resolve) => (wakeUp = resolve));
            continue;
          }
          const got = buffered;
          buffered = [];
          if (stream.isPaused()) stream.resume();
          // Per partition, in offset order. The stream may deliver records again
          // (it fetches from the committed offset after a rebalance, while those
          // records are still being published here): each is handled once per
          // consumer; what another replica took over, it handles itself.
          const parts = new Map<string, Msg[]>();
          for (const x of got) {
            const k = `${x.topic}\u0000${x.partition}`;
            const last = handed.get(k);
            if (last !== undefined && x.offset <= last) continue;
            handed.set(k, x.offset);
            let list = parts.get(k);
            if (!list) parts.set(k, list = []);
            list.push(x);
          }
          await Promise.all([...parts.entries()].map(async ([key, msgs]) => {
            const records: KafkaRecord[] = msgs.map((x) => {
              const offset = String(x.offset);
              const headers: KafkaHeaders = {};
              for (const [hk, hv] of x.headerEntries) {
                const prev = headers[hk];
                headers[hk] = prev === undefined
                  ? hv
                  : Array.isArray(prev)
                  ? [...prev, hv]
                  : [prev as Buffer, hv];
              }
              return {
                topic: x.topic,
                partition: x.partition,
                offset,
                timestamp: String(x.timestamp),
                key: x.key?.length ? x.key : null,
                value: x.value ?? null,
                headers,
              };
            });
            const batch: ConsumedBatch = {
              topic: msgs[0].topic,
              partition: msgs[0].partition,
              records,
              lag: lagAfter(key, msgs[msgs.length - 1].offset),
              isRunning: () => running,
              heartbeat: () => Promise.resolve(),
              done(offset) {
                // Usually the last record of a chunk: look from the end.
                for (let i = records.length - 1; i >= 0; i--) {
                  if (records[i].offset === offset) {
                    toCommit.set(key, msgs[i]);
                    break;
                  }
                }
                return Promise.resolve();
              },
            };
            await options.eachBatch(batch);
          }));
        }
      })().catch((err) => {
        if (failed) return;
        running = false;
        options.onFatal(err);
      });

      return {
        async stop() {
          running = false;
          wake();
          await loop;
          clearInterval(timer);
          clearInterval(lagTimer);
          await commit();
          await stream.close().catch((err: unknown) =>
            log?.warn("consumer stream close failed", { error: (err as Error).message })
          );
          await consumer.close(true);
        },
      };
    },
  };
}

/** Bit of a record batch's attributes marking transaction markers. */
const CONTROL_BATCH = 0x20;

/**
 * Reads offset ranges with the library's low-level Fetch (no group is
 * joined: the consumer's group id, required by its constructor, is never
 * used), one request per partition leader until every range is read.
 */
export function platformaticRangeReader(config: KafkaClientConfig): RangeReader {
  let consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined;
  return {
    async read(topic, ranges, each, timeoutMs = 60_000) {
      const open = new Map<number, { at: bigint; to: bigint }>();
      for (const r of ranges) {
        if (BigInt(r.from) < BigInt(r.to)) {
          open.set(r.partition, { at: BigInt(r.from), to: BigInt(r.to) });
        }
      }
      if (!open.size) return;
      consumer ??= new Consumer<Buffer, Buffer, Buffer, Buffer>({
        ...base(config),
        groupId: groupIdFor(config, undefined, "kb-range-reader"),
      });
      const c = consumer;
      const deadline = Date.now() + timeoutMs;
      while (open.size) {
        if (Date.now() > deadline) {
          throw new Error(
            `reading ${topic} partitions ${[...open.keys()].join(",")} took over ${timeoutMs} ms`,
          );
        }
        const md = await plain(c.metadata({ topics: [topic] }));
        const t = md.topics.get(topic);
        if (!t) throw new Error(`topic ${topic} has no metadata: does it exist?`);
        const byLeader = new Map<number, number[]>();
        for (const p of open.keys()) {
          const leader = t.partitions[p]?.leader ?? -1;
          if (leader < 0) throw new Error(`partition ${topic}/${p} has no leader now; retry later`);
          let list = byLeader.get(leader);
          if (!list) byLeader.set(leader, list = []);
          list.push(p);
        }
        for (const [node, parts] of byLeader) {
          const res = await plain(c.fetch({
            node,
            maxWaitTime: 100,
            minBytes: 1,
            maxBytes: 16 * 1024 * 1024,
            topics: [{
              topicId: t.id,
              partitions: parts.map((p) => ({
                partition: p,
                fetchOffset: open.get(p)!.at,
                partitionMaxBytes: 4 * 1024 * 1024,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
              })),
            }],
          }));
          for (const tr of res.responses) {
            for (const pr of tr.partitions) {
              const r = open.get(pr.partitionIndex);
              if (!r) continue;
              if (pr.errorCode) {
                throw new Error(
                  `fetching ${topic}/${pr.partitionIndex} at ${r.at} failed (Kafka error code ` +
                    `${pr.errorCode}); the check is retried`,
                );
              }
              for (const batch of pr.records ?? []) {
                if (!(batch.attributes & CONTROL_BATCH)) {
                  const records: KafkaRecord[] = [];
                  for (const rec of batch.records) {
                    const offset = batch.firstOffset + BigInt(rec.offsetDelta);
                    if (offset < r.at || offset >= r.to) continue;
                    const headers: KafkaHeaders = {};
                    for (const [hk, hv] of rec.headers) {
                      if (hk && hv) headers[hk.toString()] = hv;
                    }
                    records.push({
                      topic,
                      partition: pr.partitionIndex,
                      offset: String(offset),
                      timestamp: String(batch.firstTimestamp + rec.timestampDelta),
                      key: rec.key,
                      value: rec.value,
                      headers,
                    });
                  }
                  if (records.length && each(records) === true) return;
                }
                const next = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
                if (next > r.at) r.at = next;
              }
              // Records removed meanwhile (retention) or a log shorter than asked: nothing more.
              if (pr.logStartOffset > r.at) r.at = pr.logStartOffset;
              if (r.at >= r.to || r.at >= pr.highWatermark) open.delete(pr.partitionIndex);
            }
          }
        }
      }
    },
    close: async () => {
      await consumer?.close();
    },
  };
}
