/**
 * Writes hop records to Kafka exactly as hop-client's `Producer.write` does:
 * headers `_id` (16 raw bytes), `_sender`, `_test` (when a test message) and
 * `_format`, value bytes unchanged. Used by the outbound gateway, the CLI and
 * the GW170817 replay publisher.
 *
 * Delivery: acks=all on an idempotent producer; `publish` resolves only once
 * Kafka acknowledged every record.
 *
 * @module
 */
import type { Producer } from "kafkajs";
import type { Logger } from "../../actors/runtime/log.ts";
import { asBuffer } from "./bytes.ts";
import type { KafkaClientConfig } from "./config.ts";
import type { HopFormat } from "./format.ts";
import { kafkaClient } from "./kafka.ts";
import { isUuid } from "./uuid.ts";
import { hopHeaders } from "./wire.ts";

export type { HopFormat } from "./format.ts";
export type { KafkaClientConfig } from "./config.ts";

/** Bytes of records sent in one produce request (below Hopskotch's ~1 MB batch limit). */
const MAX_REQUEST_BYTES = 512 * 1024;

/** One record to write. */
export interface HopRecord {
  readonly format: HopFormat;
  /** Payload bytes exactly as on the wire (Avro object container, JSON text, XML...). */
  readonly value: Uint8Array;
  /** UUID string → `_id` header as 16 raw bytes; a random UUID when absent. */
  readonly id?: string;
  /** `_sender` (default: the configured sender). */
  readonly sender?: string;
  /** `_test`. */
  readonly test?: boolean;
  readonly key?: Uint8Array | string;
}

/** Writes hop records. */
export interface HopWriter {
  /** Produces to `topic`; resolves once Kafka acknowledged every record (acks=all). */
  publish(topic: string, records: readonly HopRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** Raised before sending when a record is over the size limit (nothing is sent). */
export class RecordTooLargeError extends Error {
  constructor(readonly bytes: number, readonly limit: number, topic: string) {
    super(
      `a record for ${topic} is ${bytes} bytes; the limit is ${limit} (Hopskotch takes about ` +
        `1 MB per record: store large products elsewhere and publish a link)`,
    );
    this.name = "RecordTooLargeError";
  }
}

/** Options of {@link connectHopWriter} beyond the Kafka configuration. */
export interface HopWriterOptions {
  readonly log?: Logger;
  /** Let the broker create missing topics (local Kafka). Default false, as on Hopskotch. */
  readonly allowAutoTopicCreation?: boolean;
}

/** Connects an idempotent, acks=all producer. */
export async function connectHopWriter(
  config: KafkaClientConfig,
  options: HopWriterOptions = {},
): Promise<HopWriter> {
  const kafka = kafkaClient(config, options.log);
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: options.allowAutoTopicCreation ?? false,
    // Bounded so a dead cluster fails publish() instead of hanging it forever.
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 8 },
  });
  try {
    await producer.connect();
  } catch (err) {
    throw new Error(
      `cannot connect to Kafka at ${config.brokers.join(",")} (${config.protocol}, ` +
        `credentials from ${config.credentialSource}): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return {
    async publish(topic, records) {
      if (!records.length) return;
      const messages = records.map((r) => {
        if (r.id !== undefined && !isUuid(r.id)) {
          throw new Error(`record id "${r.id}" is not a UUID: hop's _id header holds a UUID`);
        }
        const size = r.value.byteLength;
        if (size > config.maxRecordBytes) {
          throw new RecordTooLargeError(size, config.maxRecordBytes, topic);
        }
        return {
          key: r.key === undefined ? null : asBuffer(r.key),
          value: asBuffer(r.value),
          headers: hopHeaders({
            format: r.format,
            id: r.id,
            sender: r.sender ?? config.sender,
            test: r.test,
          }),
        };
      });
      // The broker's size limit (message.max.bytes) applies to a whole record
      // batch, and kafkajs sends one batch per partition and request: split.
      let chunk: typeof messages = [];
      let bytes = 0;
      for (const m of messages) {
        const size = m.value.length + (m.key?.length ?? 0) + 64;
        if (chunk.length && bytes + size > MAX_REQUEST_BYTES) {
          await producer.send({ topic, messages: chunk, acks: -1 });
          chunk = [];
          bytes = 0;
        }
        chunk.push(m);
        bytes += size;
      }
      if (chunk.length) await producer.send({ topic, messages: chunk, acks: -1 });
    },
    async close() {
      await producer.disconnect();
    },
  };
}
