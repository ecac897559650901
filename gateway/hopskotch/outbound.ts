/**
 * The outbound gateway, an actor: consumes `alerts.out.<topic-token>` and
 * produces each record to its Kafka topic in hop's wire format. The NATS
 * message is acknowledged only after Kafka acknowledged the produce (acks=all,
 * idempotent producer); on failure the runtime retries with back-off, and
 * records that can never be produced (no topic, bad content, over the size
 * limit) are dead-lettered on `dlq.hopskotch-outbound`.
 *
 * The `_id` of a produced record is the message's own `id`, else a UUID derived
 * from the NATS message id, so a redelivered message carries the same `_id`
 * and hop-based archives can drop the copy.
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
import { uuidFromName } from "./uuid.ts";

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
}

let sink: Promise<Sink> | undefined;

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
    return {
      writer,
      batcher: new ProduceBatcher(writer, {
        lingerMs: env.KB_HOP_OUT_LINGER_MS,
        maxBatch: env.KB_HOP_OUT_BATCH,
      }),
      maxRecordBytes: kafka.maxRecordBytes,
      map: parseTopicMap(env.KB_HOP_OUT_TOPICS),
      group: env.KB_HOP_OUT_GROUP,
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
}

/** The outbound gateway actor. */
export const outboundActor = defineActor({
  name: OUTBOUND_NAME,
  description: "produces alerts.out.<topic> records to Hopskotch (Kafka) in hop's wire format",
  version: "1.0.0",
  input: CHANNELS.alertsOut,
  outputs: [],
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
    await s.batcher.send(topic, record);
  },
});
