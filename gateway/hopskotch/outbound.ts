/**
 * The outbound gateway, an actor: consumes `alerts.out.<topic-token>` and
 * produces each record to its Kafka topic in hop's wire format. The NATS
 * message is acknowledged only after Kafka acknowledged the produce (acks=all,
 * idempotent producer); on failure the runtime retries with back-off, and
 * records that can never be produced (no topic, bad content, over the size
 * limit) are dead-lettered on `dlq.hopskotch-outbound`.
 *
 * The `_id` of a produced record is the message's own `id`, else a UUID derived
 * from the NATS message id, so a redelivered message carries the same `_id`.
 * A redelivered message (deliveryCount > 1: a previous attempt may have been
 * produced and not acknowledged, e.g. the gateway died in between) is first
 * looked for in the topic by that `_id` ({@link ProducedCheck}); when Kafka
 * already holds it, the message is acknowledged without producing a copy.
 *
 * @module
 */
import { z } from "zod";
import { CHANNELS, type HopOutbound } from "../../contracts/messages.ts";
import { kafkaTopicForOutToken } from "../../contracts/names.ts";
import { defineActor, Rejection } from "../../actors/runtime/actor.ts";
import { loadEnv } from "../../actors/runtime/config.ts";
import type { Logger } from "../../actors/runtime/log.ts";
import { encodeAvroContainer } from "./avro.ts";
import { ProduceBatcher } from "./batcher.ts";
import { fromBase64, utf8 } from "./bytes.ts";
import { loadKafkaConfig } from "./config.ts";
import { type KafkaAdmin, kafkaDriver, type RangeReader } from "./kafka.ts";
import { type GatewayMetrics, gatewayMetrics } from "./metrics.ts";
import { ProducedCheck } from "./produced_check.ts";
import { uuidFromName } from "./uuid.ts";
import type client from "prom-client";

export { uuidFromName };
import { decodeAs, HopDecodeError } from "./wire.ts";
import { connectHopWriter, type HopRecord, type HopWriter } from "./writer.ts";

/** The outbound gateway's actor name. */
export const OUTBOUND_NAME = "hopskotch-outbound";

/** Variables of the outbound gateway (besides KB_KAFKA_* and the runtime's). */
export const OUTBOUND_ENV = {
  KB_HOP_OUT_URL: {
    schema: z.string().startsWith("kafka://").optional(),
    doc: "hop URL of the Kafka cluster to produce to (default: KB_KAFKA_URL / KB_KAFKA_BROKERS)",
  },
  KB_HOP_OUT_TOPICS: {
    schema: z.string().default(""),
    doc: "alerts.out token → Kafka topic, <token>=<topic>,... (e.g. results=kilonova.results)",
  },
  KB_HOP_OUT_GROUP: {
    schema: z.string().regex(/^[A-Za-z0-9._-]+$/).optional(),
    doc: "Hopskotch group: an unmapped token T goes to <group>.T (unset: dead-lettered)",
  },
  KB_HOP_OUT_LINGER_MS: {
    schema: z.coerce.number().int().min(0).max(1000).default(2),
    doc: "how long a produce batch waits for more records",
  },
  KB_HOP_OUT_BATCH: {
    schema: z.coerce.number().int().min(1).max(10_000).default(500),
    doc: "most records in one produce request",
  },
  KB_HOP_OUT_MAX_IN_FLIGHT: {
    schema: z.coerce.number().int().min(1).max(10_000).default(256),
    doc:
      "messages the outbound gateway holds at once while their produce batches are acknowledged " +
      "(bounds a produce request to this many records; memory grows with it)",
  },
  KB_HOP_OUT_REDELIVERY_CHECK: {
    schema: z.enum(["true", "false"]).default("true").transform((v) => v === "true"),
    doc: "look for a redelivered message's record in Kafka before producing it again " +
      "(false: a gateway crash between the Kafka ack and the NATS ack duplicates it)",
  },
  KB_HOP_OUT_REDELIVERY_SKEW_MS: {
    schema: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
    doc: "the redelivery check reads the topic from the message's NATS store time minus this " +
      "(clock skew between NATS, the gateway and Kafka)",
  },
  KB_HOP_OUT_REDELIVERY_LINGER_MS: {
    schema: z.coerce.number().int().min(0).max(5_000).default(50),
    doc: "how long a redelivery check waits for others of its topic to share one scan",
  },
  KB_HOP_OUT_CREATE_TOPICS: {
    schema: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
    doc: "let the broker create missing topics (local Kafka only; Hopskotch does not)",
  },
} as const;

/** Parses `token=topic,...`. */
export function parseTopicMap(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [token, topic] = entry.split("=").map((s) => s.trim());
    if (!token || !topic || !/^[A-Za-z0-9._-]+$/.test(topic)) {
      throw new Error(`"${entry}" is not <token>=<kafka topic>`);
    }
    out[token] = topic;
  }
  return out;
}

/** Builds the Kafka record for an outbound message; throws {@link Rejection} when impossible. */
export function toHopRecord(out: HopOutbound, natsId: string, sender?: string): HopRecord {
  let value: Uint8Array;
  // JSON we serialised ourselves is valid JSON: hop-client decodes it, no need to parse it again.
  let valid = false;
  try {
    if (out.dataBase64 !== undefined) value = fromBase64(out.dataBase64);
    else {
      const c = out.content;
      switch (out.format) {
        case "json": {
          const text = JSON.stringify(c);
          if (text === undefined) throw new Error("json content is missing");
          value = utf8(text);
          valid = true;
          break;
        }
        case "external":
        case "circular":
          value = utf8(JSON.stringify(c));
          break;
        case "voevent":
        case "gcntextnotice":
        case "blob":
          if (typeof c !== "string") throw new Error(`${out.format} content must be a string`);
          value = utf8(c);
          break;
        case "avro": {
          const a = c as { schema?: unknown; records?: unknown };
          if (!a || typeof a !== "object" || !a.schema || !Array.isArray(a.records)) {
            throw new Error("avro content must be {schema, records: [...]}");
          }
          value = encodeAvroContainer(a.schema, a.records, { bytesAsBase64: true });
          break;
        }
      }
    }
    // What hop-client will decode: refuse now what it could not.
    if (!valid) decodeAs(out.format, value);
  } catch (err) {
    throw new Rejection(
      "schema",
      `cannot build a ${out.format} record: ${
        err instanceof HopDecodeError ? err.message : (err as Error).message
      }`,
    );
  }
  return {
    format: out.format,
    value,
    id: out.id ?? uuidFromName(natsId),
    test: out.test,
    key: out.key,
    sender,
  };
}

interface Sink {
  writer: HopWriter;
  batcher: ProduceBatcher;
  maxRecordBytes: number;
  map: Record<string, string>;
  group?: string;
  /** Undefined when KB_HOP_OUT_REDELIVERY_CHECK=false. */
  check?: ProducedCheck;
  closeCheck(): Promise<void>;
}

let sink: Promise<Sink> | undefined;
let metrics: GatewayMetrics | undefined;

/**
 * Counts the outbound gateway's work (kb_hop_produced_total,
 * kb_hop_redelivery_*) on `registry` from the next connection on.
 */
export function useOutboundMetrics(registry: client.Registry): GatewayMetrics {
  return metrics = gatewayMetrics(registry);
}

function getSink(log: Logger): Promise<Sink> {
  sink ??= (async () => {
    const env = loadEnv(OUTBOUND_ENV);
    const kafka = loadKafkaConfig({ url: env.KB_HOP_OUT_URL });
    const writer = await connectHopWriter(kafka, {
      log: log.child({ gateway: OUTBOUND_NAME }),
      allowAutoTopicCreation: env.KB_HOP_OUT_CREATE_TOPICS,
    });
    log.info("outbound gateway connected to Kafka", {
      brokers: kafka.brokers,
      credentials: kafka.credentialSource,
      sender: kafka.sender,
    });
    // The check's Kafka clients connect on the first redelivery only.
    const driver = kafkaDriver(kafka, log.child({ gateway: OUTBOUND_NAME }));
    let admin: Promise<KafkaAdmin> | undefined;
    let reader: Promise<RangeReader> | undefined;
    const opened = <T>(p: Promise<T>, reset: () => void) =>
      p.catch((err) => {
        reset(); // connect again on the next check
        throw err;
      });
    const closeCheck = async () => {
      const a = await admin?.catch(() => undefined);
      const r = await reader?.catch(() => undefined);
      admin = reader = undefined;
      await a?.close();
      await r?.close();
    };
    const check = env.KB_HOP_OUT_REDELIVERY_CHECK
      ? new ProducedCheck({
        admin: () => admin ??= opened(driver.admin(), () => admin = undefined),
        reader: () => reader ??= opened(driver.rangeReader(), () => reader = undefined),
        skewMs: env.KB_HOP_OUT_REDELIVERY_SKEW_MS,
        lingerMs: env.KB_HOP_OUT_REDELIVERY_LINGER_MS,
        reset: closeCheck,
        log: log.child({ gateway: OUTBOUND_NAME }),
      })
      : undefined;
    return {
      writer,
      batcher: new ProduceBatcher(writer, {
        lingerMs: env.KB_HOP_OUT_LINGER_MS,
        maxBatch: env.KB_HOP_OUT_BATCH,
        metrics,
      }),
      maxRecordBytes: kafka.maxRecordBytes,
      map: parseTopicMap(env.KB_HOP_OUT_TOPICS),
      group: env.KB_HOP_OUT_GROUP,
      check,
      closeCheck,
    };
  })().catch((err) => {
    sink = undefined; // try again with the next message
    throw err;
  });
  return sink;
}

/**
 * Closes the outbound gateway's Kafka producer; the next message connects
 * again. For tests that run the gateway on several Kafka clients in one
 * process: call it once the actor has stopped.
 */
export async function closeOutboundSink(): Promise<void> {
  const s = await sink?.catch(() => undefined);
  sink = undefined;
  if (!s) return;
  s.batcher.flushAll();
  await s.writer.close();
  await s.closeCheck();
}

let maxInFlight: number | undefined;

/** Messages handled at once: `KB_HOP_OUT_MAX_IN_FLIGHT`, read once. */
export function outboundMaxInFlight(): number {
  return maxInFlight ??=
    loadEnv({ KB_HOP_OUT_MAX_IN_FLIGHT: OUTBOUND_ENV.KB_HOP_OUT_MAX_IN_FLIGHT }, {
      KB_HOP_OUT_MAX_IN_FLIGHT: Deno.env.get("KB_HOP_OUT_MAX_IN_FLIGHT"),
    }).KB_HOP_OUT_MAX_IN_FLIGHT;
}

/** Topics the credential was refused reading (the redelivery check is skipped for them). */
const unreadableTopics = new Set<string>();

/** Whether `err` (or its cause chain) is Kafka refusing the credential, not a passing fault. */
export function isAuthorizationError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === "string" && /AUTHORIZATION_FAILED/.test(type)) return true;
    if (/not authori[sz]ed|authori[sz]ation failed/i.test(e.message)) return true;
  }
  return false;
}

/** The outbound gateway actor. */
export const outboundActor = defineActor({
  name: OUTBOUND_NAME,
  description: "produces alerts.out.<topic> records to Hopskotch (Kafka) in hop's wire format",
  version: "1.0.0",
  input: CHANNELS.alertsOut,
  outputs: [],
  useMetrics: (registry) => void useOutboundMetrics(registry),
  // Read when a replica starts: several produce batches in flight, not one round trip per 64.
  get tuning() {
    return { maxInFlight: outboundMaxInFlight() };
  },
  async handler(msg, ctx) {
    const s = await getSink(ctx.log);
    const tokenOfSubject = msg.subject.split(".").slice(2).join(".");
    const topic = kafkaTopicForOutToken(tokenOfSubject, { map: s.map, group: s.group });
    if (!topic) {
      throw new Rejection(
        "rejected",
        `no Kafka topic for ${msg.subject}: map it in KB_HOP_OUT_TOPICS (${tokenOfSubject}=<topic>) ` +
          `or set KB_HOP_OUT_GROUP`,
      );
    }
    const record = toHopRecord(msg.data, msg.id);
    if (record.value.byteLength > s.maxRecordBytes) {
      throw new Rejection(
        "oversize",
        `record for ${topic} is ${record.value.byteLength} bytes; limit is ${s.maxRecordBytes}`,
      );
    }
    if (msg.deliveryCount > 1 && s.check) {
      // A previous attempt may be in Kafka without its NATS ack: look before producing.
      // A failed look throws, and the runtime retries the message later.
      metrics?.redeliveryChecked.inc({ topic });
      let already: boolean;
      try {
        already = await s.check.has(topic, record.id!, msg.timestampMs);
      } catch (err) {
        if (!isAuthorizationError(err)) throw err;
        // No retry can fix a credential that may write but not read the topic: produce, as
        // the gateway did before the check existed (at least once), and say so once per topic.
        if (!unreadableTopics.has(topic)) {
          unreadableTopics.add(topic);
          ctx.log.warn(
            "the Kafka credential may not read this topic: redeliveries are produced without " +
              "the check, so a copy may reach Kafka; grant it read on the topic, or set " +
              "KB_HOP_OUT_REDELIVERY_CHECK=false to silence this",
            { topic, error: (err as Error).message },
          );
        }
        already = false;
      }
      if (already) {
        metrics?.redeliveryAlreadyProduced.inc({ topic });
        ctx.log.info("redelivered message already in Kafka: acknowledged, not produced again", {
          msgId: msg.id,
          topic,
          hopId: record.id,
          deliveryCount: msg.deliveryCount,
        });
        return;
      }
    }
    await s.batcher.send(topic, record);
  },
});
