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
 * @module
 */
import type { DeadLetter } from "../../contracts/messages.ts";
import { STREAMS, SUBJECTS, type TopicKindRule } from "../../contracts/names.ts";
import type { Logger } from "../../actors/runtime/log.ts";
import { backoff, describe } from "../../actors/runtime/middleware.ts";
import type { Transport } from "../../actors/runtime/transport.ts";
import { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import { toBase64 } from "./bytes.ts";
import { groupIdFor, type KafkaClientConfig } from "./config.ts";
import { judgeRecord, type KafkaRecord } from "./envelope.ts";
import { type ConsumedBatch, type GroupConsumer, type KafkaAdmin, kafkaDriver } from "./kafka.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { applyStartPosition, type StartPosition } from "./start.ts";

/** The inbound gateway's name: its dead-letter subject and log field. */
export const INBOUND_NAME = "hopskotch-inbound";

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

/** Live counters of the inbound gateway. */
export interface InboundStats {
  consumed: number;
  published: number;
  duplicates: number;
  deadLettered: number;
  testSkipped: number;
  topics: string[];
  waitingFor: string[];
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

const encoder = new TextEncoder();

/** Starts the inbound gateway. */
export async function startInbound(options: InboundOptions): Promise<InboundGateway> {
  const { transport, metrics } = options;
  const log = options.log.child({ gateway: INBOUND_NAME });
  const groupId = groupIdFor(options.kafka, options.group, "kilonova-inbound");
  const wanted = [...options.kafka.topics];
  if (!wanted.length) {
    throw new Error(
      "the inbound gateway has no topics: list them in the hop URL (kafka://host/t1,t2)",
    );
  }
  const judge = {
    topicKinds: options.topicKinds ?? [],
    maxRecordBytes: options.maxRecordBytes ?? options.kafka.maxRecordBytes,
    includeTest: options.includeTest ?? false,
  };
  const chunk = options.chunk ?? 500;
  const maxPayload = options.maxPayloadBytes ??
    (transport instanceof NatsTransport ? transport.nc.info?.max_payload : undefined) ?? Infinity;
  const recheckMs = options.topicRecheckMs ?? 30_000;
  const dlqSubject = SUBJECTS.deadLetter(INBOUND_NAME);
  for (const s of [STREAMS.alertsIn, STREAMS.deadLetters]) await transport.ensureStream(s);

  const kafka = kafkaDriver(options.kafka, log);
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
  let consumer: GroupConsumer | undefined;
  let wake: (() => void) | undefined;
  let rebuild = false;

  /** Publishes until JetStream acknowledges, retrying with back-off while running. */
  const publishSure = async (
    topic: string,
    subject: string,
    data: Uint8Array,
    msgId: string,
    headers: Record<string, string>,
    heartbeat: () => Promise<void>,
  ) => {
    for (let attempt = 1;; attempt++) {
      try {
        // NatsTransport publishes pipelined, many records in flight at once.
        return await transport.publish(subject, data, { msgId, headers });
      } catch (err) {
        if (stopping) throw err;
        metrics.publishRetries.inc({ topic });
        const delay = backoff(attempt, 200, 5_000);
        if (attempt === 1 || attempt % 10 === 0) {
          log.warn("NATS publish failed; retrying", {
            subject,
            msgId,
            attempt,
            retryInMs: delay,
            error: describe(err),
          });
        }
        await new Promise((r) => setTimeout(r, delay));
        await heartbeat();
      }
    }
  };

  const deadLetter = async (
    r: KafkaRecord,
    reason: DeadLetter["reason"],
    detail: string,
    heartbeat: () => Promise<void>,
  ) => {
    const value = r.value ?? new Uint8Array();
    const position = `${r.topic}:${r.partition}:${r.offset}`;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers ?? {})) {
      if (v === undefined) continue;
      const first = Array.isArray(v) ? v[0] : v;
      headers[k] = typeof first === "string" ? first : `base64:${toBase64(first)}`;
    }
    headers["kafka-topic"] = r.topic;
    headers["kafka-partition"] = String(r.partition);
    headers["kafka-offset"] = r.offset;
    headers["kafka-timestamp"] = r.timestamp;
    const letterOf = (kept: number): DeadLetter => ({
      actor: INBOUND_NAME,
      replica: options.replica,
      reason,
      detail: `${detail} (kafka ${position})` +
        (kept < value.byteLength
          ? `; dataBase64 holds the first ${kept} of ${value.byteLength} bytes (NATS max_payload ` +
            `${maxPayload}); the whole record stays in Kafka at that position`
          : ""),
      attempts: 1,
      deadLetteredAt: new Date().toISOString(),
      original: {
        subject: `kafka:${r.topic}`,
        id: position,
        headers,
        dataBase64: toBase64(value.subarray(0, kept)),
        size: value.byteLength,
      },
    });
    let data = encoder.encode(JSON.stringify(letterOf(value.byteLength)));
    if (data.byteLength > maxPayload) {
      // Base64 is 4/3 of the bytes; leave room for the rest of the letter.
      const kept = Math.max(0, Math.floor((maxPayload - 8192) * 3 / 4));
      data = encoder.encode(JSON.stringify(letterOf(kept)));
    }
    await publishSure(
      r.topic,
      dlqSubject,
      data,
      `dlq:${INBOUND_NAME}:${position}`,
      {
        "kb-producer": INBOUND_NAME,
        "kb-dead-letter-reason": reason,
        "kb-kafka-topic": r.topic,
        "kb-kafka-partition": String(r.partition),
        "kb-kafka-offset": r.offset,
      },
      heartbeat,
    );
    metrics.deadLettered.inc({ topic: r.topic, reason });
    stats.deadLettered++;
    log.warn("record dead-lettered", {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      reason,
      detail,
    });
  };

  const handle = async (r: KafkaRecord, heartbeat: () => Promise<void>) => {
    metrics.consumed.inc({ topic: r.topic });
    stats.consumed++;
    const v = judgeRecord(r, judge);
    if (v.action === "skip_test") {
      metrics.testSkipped.inc({ topic: r.topic });
      stats.testSkipped++;
      return;
    }
    if (v.action === "dead_letter") return await deadLetter(r, v.reason, v.detail, heartbeat);
    let data: Uint8Array;
    try {
      data = encoder.encode(JSON.stringify(v.envelope));
    } catch (err) {
      // JSON.parse takes nesting JSON.stringify cannot write back (~10,000 levels: a stack
      // overflow). Thrown here it failed the whole batch, which was then read again forever.
      return await deadLetter(
        r,
        "undecodable",
        `the record cannot be forwarded: ${(err as Error).message} (JSON nested too deeply?)`,
        heartbeat,
      );
    }
    if (data.byteLength > maxPayload) {
      return await deadLetter(
        r,
        "oversize",
        `the envelope is ${data.byteLength} bytes, over NATS max_payload ${maxPayload}`,
        heartbeat,
      );
    }
    const subject = SUBJECTS.alertsIn(v.kind);
    const ack = await publishSure(r.topic, subject, data, v.msgId, {
      "kb-producer": INBOUND_NAME,
      "kb-hop-format": v.envelope.hop.format,
      "kb-kafka-topic": r.topic,
    }, heartbeat);
    if (ack.duplicate) {
      metrics.duplicates.inc({ topic: r.topic });
      stats.duplicates++;
    } else {
      metrics.published.inc({ topic: r.topic, subject });
      stats.published++;
    }
  };

  const eachBatch = async (batch: ConsumedBatch) => {
    const msgs = batch.records;
    for (let i = 0; i < msgs.length; i += chunk) {
      if (!batch.isRunning()) return;
      const part = i === 0 && msgs.length <= chunk ? msgs : msgs.slice(i, i + chunk);
      // Published concurrently on one connection: the server stores them in order.
      await Promise.all(part.map((r) => handle(r, batch.heartbeat)));
      await batch.done(part[part.length - 1].offset);
    }
    const lag = batch.lag;
    if (lag !== undefined) {
      metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, lag);
    }
  };

  let admin: KafkaAdmin | undefined;
  /** Topics seen missing: when they appear, a group without commits reads them from the start. */
  const late = new Set<string>();

  const runConsumer = async (present: string[]) => {
    const known = present.filter((t) => !late.has(t));
    const { fromBeginning } = await applyStartPosition(admin!, groupId, known, options.start, {
      force: options.forceStart ?? false,
      log,
    });
    return await kafka.consume({
      groupId,
      // Topics that appeared after start: from their beginning (nothing in them is older than us).
      topics: present.map((name) => ({ name, fromBeginning: late.has(name) || fromBeginning })),
      sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
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
        if (missing.join() !== stats.waitingFor.join() && missing.length) {
          log.info("waiting for topics that do not exist yet", { topics: missing });
        }
        stats.waitingFor = missing;
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
          stats.topics = present;
        }
        ready = true;
        attempt = 0;
      } catch (err) {
        attempt++;
        ready = false;
        rebuild = true;
        log.error("Kafka unavailable; retrying", { attempt, error: describe(err) });
        const a = admin;
        admin = undefined;
        await a?.close().catch(() => {});
      }
      const wait = attempt ? backoff(attempt, 500, 15_000) : recheckMs;
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
  // Wait for the first attempt, so start-up errors of the configuration show at once.
  const t0 = Date.now();
  while (!ready && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));

  return {
    groupId,
    ready: () => ready && !stopping,
    stats: () => ({ ...stats }),
    async stop() {
      stopping = true;
      wake?.();
      if (consumer) {
        await consumer.stop().catch((err) =>
          log.warn("consumer disconnect failed", { error: describe(err) })
        );
      }
      await loop;
      log.info("inbound gateway stopped", { ...stats });
    },
  };
}
