/**
 * The inbound gateway: consumes Kafka topics and publishes every record on NATS
 * as a `HopEnvelope` on `alerts.in.<kind>`.
 *
 * Delivery is at-least-once end to end without duplicates downstream: a Kafka
 * offset is resolved (and so committed) only after JetStream acknowledged the
 * publish of that record and of every record before it in the partition; the
 * envelope's `Nats-Msg-Id` is the hop `_id` (or topic/partition/offset), so a
 * record read again after a crash is dropped by JetStream's duplicate window.
 *
 * Records that can never be accepted (undecodable, over the size limit,
 * schema-violating, malformed hop headers) go to `dlq.hopskotch-inbound` with
 * the topic, partition, offset and reason; their offsets are committed too.
 * Topics that do not exist yet are waited for, not errors.
 *
 * Threads ({@link InboundOptions.threads}, `KB_HOP_IN_THREADS`): with 2, the
 * Kafka side (`inbound_source.ts`: consumer, judging, encoding) runs in a worker
 * (`inbound_worker.ts`) and this thread only publishes (`inbound_publish.ts`)
 * and answers which chunks JetStream stored; with 1, both run here. The
 * delivery rules are the same either way.
 *
 * @module
 */
import { STREAMS } from "../../contracts/names.ts";
import type { TopicKindRule } from "../../contracts/names.ts";
import { describe } from "../../actors/runtime/middleware.ts";
import type { Transport } from "../../actors/runtime/transport.ts";
import { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import type { Logger } from "../../actors/runtime/log.ts";
import { groupIdFor, type KafkaClientConfig } from "./config.ts";
import { type EncodedChunk, INBOUND_NAME } from "./inbound_chunk.ts";
import { chunkPublisher, type InboundStats } from "./inbound_publish.ts";
import { type SourceOptions, type SourceState, startSource } from "./inbound_source.ts";
import type { FromWorker, ToWorker } from "./inbound_worker.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { StartPosition } from "./start.ts";

export { INBOUND_NAME, type InboundStats };

/** Threads of the inbound gateway when not configured (`KB_HOP_IN_THREADS`; docs/hopskotch.md). */
export const DEFAULT_INBOUND_THREADS: 1 | 2 = 1;

/** What the inbound gateway needs. */
export interface InboundOptions {
  /** Kafka connection; `kafka.topics` are the topics to consume. */
  readonly kafka: KafkaClientConfig;
  /** Consumer group (default `<username>-kilonova-inbound`); must start with `<username>-`. */
  readonly group?: string;
  readonly start: StartPosition;
  /** Apply `start` even to partitions with committed offsets. */
  readonly forceStart?: boolean;
  readonly topicKinds?: readonly TopicKindRule[];
  /** Forward `_test` records instead of skipping them (hop skips them by default). */
  readonly includeTest?: boolean;
  /** Largest record (value + key) accepted, in bytes. */
  readonly maxRecordBytes?: number;
  /** Records published to NATS at once per partition batch. */
  readonly chunk?: number;
  /** Chunks of one partition in flight (encoded, not yet acknowledged) at once (default 2). */
  readonly chunksInFlight?: number;
  /**
   * 1: everything on this thread; 2: the Kafka consumer, judging and encoding in a
   * worker, publishing on this thread (default {@link DEFAULT_INBOUND_THREADS}).
   */
  readonly threads?: 1 | 2;
  /** Kafka group session timeout: how long a dead replica keeps its partitions (default 10 s). */
  readonly sessionTimeoutMs?: number;
  /** How often missing topics are looked for, in milliseconds. */
  readonly topicRecheckMs?: number;
  readonly transport: Transport;
  /** Largest NATS message (the server's max_payload); larger envelopes are dead-lettered. */
  readonly maxPayloadBytes?: number;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  readonly replica: string;
}

/** A running inbound gateway. */
export interface InboundGateway {
  readonly groupId: string;
  /** True once consuming (or waiting for topics) and not stopping. */
  ready(): boolean;
  stats(): InboundStats;
  /** Finishes the batch under way (its offsets are committed), leaves the group, stops. */
  stop(): Promise<void>;
}

/** Starts the inbound gateway. */
export async function startInbound(options: InboundOptions): Promise<InboundGateway> {
  const { transport, metrics } = options;
  const log = options.log.child({ gateway: INBOUND_NAME });
  const groupId = groupIdFor(options.kafka, options.group, "kilonova-inbound");
  if (!options.kafka.topics.length) {
    throw new Error(
      "the inbound gateway has no topics: list them in the hop URL (kafka://host/t1,t2)",
    );
  }
  const threads = options.threads ?? DEFAULT_INBOUND_THREADS;
  const maxPayload = options.maxPayloadBytes ??
    (transport instanceof NatsTransport ? transport.nc.info?.max_payload : undefined) ?? Infinity;
  for (const s of [STREAMS.alertsIn, STREAMS.deadLetters]) await transport.ensureStream(s);
  const sourceOptions: SourceOptions = {
    kafka: options.kafka,
    groupId,
    start: options.start,
    forceStart: options.forceStart ?? false,
    topicKinds: options.topicKinds ?? [],
    includeTest: options.includeTest ?? false,
    maxRecordBytes: options.maxRecordBytes ?? options.kafka.maxRecordBytes,
    chunk: options.chunk ?? 500,
    chunksInFlight: options.chunksInFlight ?? 2,
    sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
    topicRecheckMs: options.topicRecheckMs ?? 30_000,
    maxPayload,
    replica: options.replica,
  };

  const stats: InboundStats = {
    consumed: 0,
    published: 0,
    duplicates: 0,
    deadLettered: 0,
    testSkipped: 0,
    topics: [],
    waitingFor: [],
  };
  let stopping = false;
  let ready = false;
  const publisher = chunkPublisher({ transport, metrics, log, stats, stopping: () => stopping });
  const onState = (s: SourceState) => {
    ready = s.ready;
    stats.topics = s.topics;
    stats.waitingFor = s.waitingFor;
  };
  const onLag = (topic: string, partition: number, lag: number) =>
    metrics.lag.set({ topic, partition: String(partition) }, lag);

  let stopSource: () => Promise<void>;
  if (threads === 1) {
    const source = startSource(sourceOptions, {
      log,
      store: (chunk) => publisher.publish(chunk),
      lag: onLag,
      state: onState,
    });
    await source.started;
    stopSource = () => source.stop();
  } else {
    const worker = startWorker(sourceOptions, {
      log,
      store: (chunk) => publisher.publish(chunk),
      lag: onLag,
      state: onState,
      stopping: () => stopping,
    });
    // Like the one-thread start: at most ~15 s (a worker that cannot start is restarted meanwhile).
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([worker.started, new Promise((r) => timer = setTimeout(r, 20_000))]);
    clearTimeout(timer);
    stopSource = () => worker.stop();
  }
  log.info("inbound gateway started", { threads });

  return {
    groupId,
    ready: () => ready && !stopping,
    stats: () => ({ ...stats }),
    async stop() {
      stopping = true;
      await stopSource();
      publisher.close();
      log.info("inbound gateway stopped", { ...stats });
    },
  };
}

/** What the main thread does for the worker. */
interface WorkerHooks {
  readonly log: Logger;
  store(chunk: EncodedChunk): Promise<void>;
  lag(topic: string, partition: number, lag: number): void;
  state(s: SourceState): void;
  stopping(): boolean;
}

/**
 * Runs the Kafka side in a worker; restarts it (after a pause) if it dies, its
 * uncommitted records are then read again (and dropped by JetStream as duplicates).
 */
function startWorker(options: SourceOptions, hooks: WorkerHooks) {
  const { log } = hooks;
  let worker: Worker;
  let alive = false;
  let started!: () => void;
  const startedOnce = new Promise<void>((r) => started = r);
  let stopped: (() => void) | undefined;
  let restarts = 0;

  const spawn = () => {
    const w = new Worker(new URL("./inbound_worker.ts", import.meta.url).href, {
      type: "module",
      name: `${INBOUND_NAME}-kafka`,
    });
    worker = w;
    alive = true;
    const send = (m: ToWorker) => w.postMessage(m);
    w.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      switch (m.type) {
        case "chunk":
          hooks.store(m.chunk).then(
            () => send({ type: "stored", id: m.id }),
            (err) => send({ type: "failed", id: m.id, error: describe(err) }),
          );
          return;
        case "state":
          hooks.state(m.state);
          return;
        case "started":
          started();
          return;
        case "lag":
          hooks.lag(m.topic, m.partition, m.lag);
          return;
        case "log":
          log[m.level](m.msg, m.fields);
          return;
        case "stopped":
          stopped?.();
          return;
      }
    };
    w.onerror = (e) => {
      e.preventDefault();
      alive = false;
      hooks.state({ ready: false, topics: [], waitingFor: [] });
      if (hooks.stopping()) {
        log.error("inbound worker failed while stopping", { error: e.message });
        stopped?.();
        return;
      }
      restarts++;
      const delay = Math.min(15_000, 500 * 2 ** Math.min(restarts, 5));
      log.error("inbound worker failed; restarting it", {
        error: e.message,
        restartInMs: delay,
      });
      w.terminate();
      setTimeout(() => {
        if (!hooks.stopping()) spawn();
      }, delay);
    };
    send({ type: "start", options });
  };
  spawn();

  return {
    started: startedOnce,
    async stop() {
      if (!alive) return; // died and not restarted: nothing runs
      const done = new Promise<void>((r) => stopped = r);
      worker.postMessage({ type: "stop" } satisfies ToWorker);
      await done;
      worker.terminate();
    },
  };
}
