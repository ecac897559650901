/**
 * The inbound gateway's Kafka side: joins the consumer group, waits for topics
 * that do not exist yet, rebuilds the consumer when it fails, and turns each
 * partition batch into {@link EncodedChunk}s handed to `store` (the publishing
 * side). A chunk's offsets are marked done, so committed, only after `store`
 * resolved for it and for every chunk before it in the partition. It runs on
 * the main thread or in the inbound worker (`inbound_worker.ts`): everything
 * it needs is plain data and it talks to the rest through {@link SourceHooks}.
 *
 * @module
 */
import type { TopicKindRule } from "../../contracts/names.ts";
import type { Logger } from "../../actors/runtime/log.ts";
import { backoff, describe } from "../../actors/runtime/middleware.ts";
import type { KafkaClientConfig } from "./config.ts";
import { type ChunkOptions, encodeChunk, type EncodedChunk } from "./inbound_chunk.ts";
import { type ConsumedBatch, type GroupConsumer, type KafkaAdmin, kafkaDriver } from "./kafka.ts";
import { applyStartPosition, type StartPosition } from "./start.ts";

/** What the Kafka side needs: plain data, so it can be posted to a worker. */
export interface SourceOptions {
  readonly kafka: KafkaClientConfig;
  readonly groupId: string;
  readonly start: StartPosition;
  readonly forceStart: boolean;
  readonly topicKinds: readonly TopicKindRule[];
  readonly includeTest: boolean;
  readonly maxRecordBytes: number;
  /** Records per chunk. */
  readonly chunk: number;
  /** Chunks of one partition in flight (encoded and not yet stored) at once. */
  readonly chunksInFlight: number;
  readonly sessionTimeoutMs: number;
  readonly topicRecheckMs: number;
  readonly maxPayload: number;
  readonly replica: string;
}

/** What the Kafka side reports to, and stores through. */
export interface SourceHooks {
  readonly log: Logger;
  /** Stores a chunk; resolves once every message of it is acknowledged by JetStream. */
  store(chunk: EncodedChunk): Promise<void>;
  /** Records behind the end of a partition after a batch. */
  lag(topic: string, partition: number, lag: number): void;
  /** The consumer's state changed. */
  state(s: SourceState): void;
}

/** Whether the Kafka side consumes, and what. */
export interface SourceState {
  /** Consuming (or waiting for topics); false while Kafka is unreachable. */
  readonly ready: boolean;
  readonly topics: string[];
  readonly waitingFor: string[];
}

/** A running Kafka side. */
export interface Source {
  /** Resolves after the first attempt to join (or at most 15 s). */
  readonly started: Promise<void>;
  /** Finishes the batch under way (its offsets are committed), leaves the group, stops. */
  stop(): Promise<void>;
}

/** How often the group membership is kept alive while a chunk waits for JetStream. */
const HEARTBEAT_MS = 2_000;

/** Waits for `p`, sending a heartbeat every {@link HEARTBEAT_MS} meanwhile (NATS slow or away). */
async function awaitBeating(p: Promise<void>, heartbeat: () => Promise<void>): Promise<void> {
  let settled = false;
  const watched = p.finally(() => settled = true);
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      watched,
      new Promise<void>((r) => timer = setTimeout(r, HEARTBEAT_MS)),
    ]).finally(() => clearTimeout(timer));
    if (settled) return await watched;
    await heartbeat();
  }
}

/** Starts the Kafka side of the inbound gateway. */
export function startSource(options: SourceOptions, hooks: SourceHooks): Source {
  const { log } = hooks;
  const { groupId } = options;
  const wanted = [...options.kafka.topics];
  const encode: ChunkOptions = {
    judge: {
      topicKinds: options.topicKinds,
      maxRecordBytes: options.maxRecordBytes,
      includeTest: options.includeTest,
    },
    maxPayload: options.maxPayload,
    replica: options.replica,
  };
  const kafka = kafkaDriver(options.kafka, log);
  let stopping = false;
  let ready = false;
  let topics: string[] = [];
  let waitingFor: string[] = [];
  let consumer: GroupConsumer | undefined;
  let wake: (() => void) | undefined;
  let rebuild = false;
  let reported = "";
  /** Tells the hooks the state when it changed. */
  const report = () => {
    const s: SourceState = { ready, topics, waitingFor };
    const key = JSON.stringify(s);
    if (key !== reported) {
      reported = key;
      hooks.state(s);
    }
  };

  const eachBatch = async (batch: ConsumedBatch) => {
    // The lag is known when the batch is fetched (the partition's end then, less the batch's last
    // offset): reported first, so a batch that ends in an error (a rebalance while its chunks
    // wait) still reports it.
    const lag = batch.lag;
    if (lag !== undefined) hooks.lag(batch.topic, batch.partition, lag);
    const msgs = batch.records;
    const { chunk } = options;
    // Several chunks in flight: the next are encoded and sent while the stream acknowledges
    // the earlier ones. Offsets are still marked done in order, each once its chunk is stored.
    const pending: { stored: Promise<void>; last: string }[] = [];
    for (let i = 0; i < msgs.length; i += chunk) {
      if (!batch.isRunning()) break;
      const part = i === 0 && msgs.length <= chunk ? msgs : msgs.slice(i, i + chunk);
      const encoded = encodeChunk(
        batch.topic,
        batch.partition,
        part,
        new Date().toISOString(),
        encode,
      );
      const stored = hooks.store(encoded);
      // Awaited below; a failure of an earlier chunk must not leave this one unhandled.
      stored.catch(() => {});
      pending.push({ stored, last: part[part.length - 1].offset });
      if (pending.length >= options.chunksInFlight) {
        const first = pending.shift()!;
        await awaitBeating(first.stored, batch.heartbeat);
        await batch.done(first.last);
      }
    }
    for (const p of pending) {
      await awaitBeating(p.stored, batch.heartbeat);
      await batch.done(p.last);
    }
  };

  let admin: KafkaAdmin | undefined;
  /** Topics seen missing: when they appear, a group without commits reads them from the start. */
  const late = new Set<string>();

  const runConsumer = async (present: string[]) => {
    const known = present.filter((t) => !late.has(t));
    const { fromBeginning } = await applyStartPosition(admin!, groupId, known, options.start, {
      force: options.forceStart,
      log,
    });
    return await kafka.consume({
      groupId,
      // Topics that appeared after start: from their beginning (nothing in them is older than us).
      topics: present.map((name) => ({ name, fromBeginning: late.has(name) || fromBeginning })),
      sessionTimeoutMs: options.sessionTimeoutMs,
      eachBatch,
      onFatal: () => {
        if (!stopping) {
          rebuild = true;
          wake?.();
        }
      },
    });
  };

  const supervise = async () => {
    let attempt = 0;
    let running: string[] = [];
    while (!stopping) {
      try {
        admin ??= await kafka.admin();
        const present = await admin.ledTopics(wanted);
        const missing = wanted.filter((t) => !present.includes(t));
        if (missing.join() !== waitingFor.join() && missing.length) {
          log.info(
            "waiting for topics that do not exist yet or that this credential may not see " +
              "(Kafka lists only the topics a credential may describe: on Hopskotch, ask for " +
              "read access to them)",
            { topics: missing },
          );
        }
        waitingFor = missing;
        for (const t of missing) late.add(t);
        const grew = present.some((t) => !running.includes(t));
        if (rebuild || grew) {
          if (consumer) await consumer.stop().catch(() => {});
          consumer = undefined;
          rebuild = false;
          if (present.length) {
            consumer = await runConsumer(present);
            log.info("consuming", { groupId, topics: present });
          }
          running = present;
          topics = present;
        }
        ready = true;
        report();
        attempt = 0;
      } catch (err) {
        attempt++;
        ready = false;
        report();
        rebuild = true;
        log.error("Kafka unavailable; retrying", { attempt, error: describe(err) });
        const a = admin;
        admin = undefined;
        await a?.close().catch(() => {});
      }
      const wait = attempt ? backoff(attempt, 500, 15_000) : options.topicRecheckMs;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
    await admin?.close().catch(() => {});
  };
  rebuild = true;
  const loop = supervise();
  const started = (async () => {
    // Wait for the first attempt, so start-up errors of the configuration show at once.
    const t0 = Date.now();
    while (!ready && !stopping && Date.now() - t0 < 15_000) {
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  return {
    started,
    async stop() {
      stopping = true;
      wake?.();
      if (consumer) {
        await consumer.stop().catch((err) =>
          log.warn("consumer disconnect failed", { error: describe(err) })
        );
      }
      await loop;
      ready = false;
      report();
    },
  };
}
