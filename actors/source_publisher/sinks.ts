/**
 * Where the replay publishes: Kafka through the Hopskotch gateway's writer
 * (hop wire format, as any Hopskotch producer), or straight onto the internal
 * bus through the runtime `Transport` as the inbound gateway would deliver the
 * records (`HopEnvelope` on `alerts.in.<kind>`, `Nats-Msg-Id: hop:<_id>`), so the
 * embedded demo runs without Kafka; or an in-memory list (tests, dry runs).
 *
 * @module
 */
import { alertKindForTopic, type HopEnvelope, SUBJECTS } from "../../contracts/mod.ts";
import type { Transport } from "../runtime/transport.ts";
import { decodeAs, type HopRecord, type HopWriter, toBase64 } from "../../gateway/hopskotch/mod.ts";

/** A destination for hop records. */
export interface Sink {
  /** Short name for logs ("kafka", "nats", "memory"). */
  readonly kind: string;
  /** Publishes records to a topic; resolves when the destination has them. */
  publish(topic: string, records: readonly HopRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** Publishes through the gateway's Kafka writer. */
export function hopSink(writer: HopWriter): Sink {
  return {
    kind: "kafka",
    publish: (topic, records) => writer.publish(topic, records),
    close: () => writer.close(),
  };
}

/** Keeps what was published (tests, dry runs). */
export class MemorySink implements Sink {
  readonly kind = "memory";
  readonly published: { topic: string; record: HopRecord }[] = [];
  publish(topic: string, records: readonly HopRecord[]): Promise<void> {
    for (const record of records) this.published.push({ topic, record });
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The envelope the inbound gateway would publish for a record read from `topic`. */
export function envelopeOf(
  topic: string,
  record: HopRecord,
  seq: number,
  sender: string,
): HopEnvelope {
  const now = Date.now();
  return {
    schema: "kb.hop-envelope.v1",
    kind: alertKindForTopic(topic),
    kafka: {
      topic,
      partition: 0,
      offset: String(seq),
      timestampMs: now,
      keyBase64: record.key === undefined ? null : toBase64(
        typeof record.key === "string" ? new TextEncoder().encode(record.key) : record.key,
      ),
    },
    hop: {
      id: record.id ?? null,
      sender: record.sender ?? sender,
      test: record.test ?? false,
      format: record.format,
      formatHeader: record.format,
      via: "header",
      extraHeaders: [],
    },
    content: decodeAs(record.format, record.value) as HopEnvelope["content"],
    raw: { base64: toBase64(record.value), size: record.value.byteLength },
    receivedAt: new Date(now).toISOString(),
  };
}

/**
 * Publishes through the runtime transport as the inbound gateway would: one
 * `HopEnvelope` per record on `alerts.in.<kind>`, deduplicated by `hop:<_id>`.
 * The streams must exist (the caller ensures `STREAMS.alertsIn`).
 */
export function transportSink(transport: Transport, sender = "kilonova-broker-replay"): Sink {
  let seq = 0;
  const enc = new TextEncoder();
  return {
    kind: transport.kind,
    async publish(topic, records) {
      await Promise.all(records.map((r) => {
        const env = envelopeOf(topic, r, seq++, sender);
        return transport.publish(SUBJECTS.alertsIn(env.kind), enc.encode(JSON.stringify(env)), {
          msgId: r.id ? `hop:${r.id}` : undefined,
        });
      }));
    },
    close: () => Promise.resolve(),
  };
}
