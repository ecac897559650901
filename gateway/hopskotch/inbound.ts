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
import type { PublishAck, Transport } from "../../actors/runtime/transport.ts";
import { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import { ByteSlab, toBase64 } from "./bytes.ts";
import { groupIdFor, type KafkaClientConfig } from "./config.ts";
import { encodeEnvelope, judgeRecord, type KafkaRecord } from "./envelope.ts";
import { type ConsumedBatch, type GroupConsumer, type KafkaAdmin, kafkaDriver } from "./kafka.ts";
import { HeaderBlock, JetStreamPublisher } from "./jetstream_publisher.ts";
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

/** The NATS headers of a message besides `Nats-Msg-Id`, and their encoding when reused. */
interface EnvelopeHeaders {
  readonly fields: Record<string, string>;
  readonly block?: HeaderBlock;
}

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

  // On NATS, envelopes go out through a publisher of their own, with headers encoded once
  // per topic and format; dead letters (and other transports) through the transport.
  const envelopes = transport instanceof NatsTransport
    ? new JetStreamPublisher(transport.nc)
    : undefined;
  const slab = new ByteSlab();

  /** One publish attempt; pipelined: many records in flight at once on the one connection. */
  const send = (subject: string, data: Uint8Array, msgId: string, headers: EnvelopeHeaders) =>
    envelopes && headers.block
      ? envelopes.publish(subject, data, headers.block, msgId)
      : transport.publish(subject, data, { msgId, headers: headers.fields });

  /**
   * Publishes until JetStream acknowledges, retrying with back-off while running.
   * The first attempt is a plain promise (no async frame per record on the hot path).
   */
  const publishSure = (
    topic: string,
    subject: string,
    data: Uint8Array,
    msgId: string,
    headers: EnvelopeHeaders,
    heartbeat: () => Promise<void>,
  ): Promise<PublishAck> =>
    send(subject, data, msgId, headers).catch(async (first: unknown) => {
      let err = first;
      for (let attempt = 1;; attempt++) {
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
        try {
          return await send(subject, data, msgId, headers);
        } catch (e) {
          err = e;
        }
      }
    });

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
        fields: {
          "kb-producer": INBOUND_NAME,
          "kb-dead-letter-reason": reason,
          "kb-kafka-topic": r.topic,
          "kb-kafka-partition": String(r.partition),
          "kb-kafka-offset": r.offset,
        },
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

  /** NATS headers of the envelopes of one topic and format (built once: every record uses them). */
  const headerSets = new Map<string, EnvelopeHeaders>();
  const headersOf = (topic: string, format: string) => {
    const key = `${format}\u0000${topic}`;
    let h = headerSets.get(key);
    if (!h) {
      if (headerSets.size >= 1024) headerSets.clear();
      const fields = {
        "kb-producer": INBOUND_NAME,
        "kb-hop-format": format,
        "kb-kafka-topic": topic,
      };
      h = { fields, block: new HeaderBlock(fields) };
      headerSets.set(key, h);
    }
    return h;
  };

  /**
   * Starts what one record needs: nothing (a skipped test record), a dead letter,
   * or the publish of its envelope, whose subject it returns with the promise.
   */
  const handle = (
    r: KafkaRecord,
    receivedAt: string,
    heartbeat: () => Promise<void>,
  ): [string, Promise<PublishAck>] | Promise<void> | undefined => {
    const v = judgeRecord(r, judge, receivedAt);
    if (v.action === "skip_test") {
      metrics.testSkipped.inc({ topic: r.topic });
      stats.testSkipped++;
      return undefined;
    }
    if (v.action === "dead_letter") return deadLetter(r, v.reason, v.detail, heartbeat);
    let data: Uint8Array;
    try {
      data = encodeEnvelope(v, slab);
    } catch (err) {
      // JSON.parse takes nesting JSON.stringify cannot write back (~10,000 levels: a stack
      // overflow). Thrown here it failed the whole batch, which was then read again forever.
      return deadLetter(
        r,
        "undecodable",
        `the record cannot be forwarded: ${(err as Error).message} (JSON nested too deeply?)`,
        heartbeat,
      );
    }
    if (data.byteLength > maxPayload) {
      return deadLetter(
        r,
        "oversize",
        `the envelope is ${data.byteLength} bytes, over NATS max_payload ${maxPayload}`,
        heartbeat,
      );
    }
    const subject = SUBJECTS.alertsIn(v.kind);
    const headers = headersOf(r.topic, v.envelope.hop.format);
    return [subject, publishSure(r.topic, subject, data, v.msgId, headers, heartbeat)];
  };

  /**
   * Publishes one chunk of a partition's records, all in flight at once on the
   * one connection (the server stores them in order), and resolves once every
   * publish is acknowledged and every dead letter stored. Counters are added
   * per chunk, not per record.
   */
  const publishChunk = async (
    topic: string,
    part: readonly KafkaRecord[],
    heartbeat: () => Promise<void>,
  ) => {
    const receivedAt = new Date().toISOString();
    metrics.consumed.inc({ topic }, part.length);
    stats.consumed += part.length;
    const subjects: string[] = [];
    const acks: Promise<PublishAck>[] = [];
    const others: Promise<void>[] = [];
    for (const r of part) {
      const started = handle(r, receivedAt, heartbeat);
      if (started === undefined) continue;
      if (Array.isArray(started)) {
        subjects.push(started[0]);
        acks.push(started[1]);
      } else others.push(started);
    }
    const [done] = await Promise.all([Promise.all(acks), Promise.all(others)]);
    const published = new Map<string, number>();
    let duplicates = 0;
    for (let i = 0; i < done.length; i++) {
      if (done[i].duplicate) duplicates++;
      else published.set(subjects[i], (published.get(subjects[i]) ?? 0) + 1);
    }
    if (duplicates) {
      metrics.duplicates.inc({ topic }, duplicates);
      stats.duplicates += duplicates;
    }
    for (const [subject, n] of published) {
      metrics.published.inc({ topic, subject }, n);
      stats.published += n;
    }
  };

  const eachBatch = async (batch: ConsumedBatch) => {
    const msgs = batch.records;
    // Two chunks in flight: the next is encoded and sent while the stream acknowledges the
    // last. Offsets are still marked done in order, each once its whole chunk is stored.
    let previous: { stored: Promise<void>; last: string } | undefined;
    for (let i = 0; i < msgs.length; i += chunk) {
      if (!batch.isRunning()) break;
      const part = i === 0 && msgs.length <= chunk ? msgs : msgs.slice(i, i + chunk);
      const stored = publishChunk(batch.topic, part, batch.heartbeat);
      // Awaited below; a failure of the earlier chunk must not leave this one unhandled.
      stored.catch(() => {});
      if (previous) {
        await previous.stored;
        await batch.done(previous.last);
      }
      previous = { stored, last: part[part.length - 1].offset };
    }
    if (previous) {
      await previous.stored;
      await batch.done(previous.last);
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
      envelopes?.close();
      log.info("inbound gateway stopped", { ...stats });
    },
  };
}
