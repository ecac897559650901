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
import type { Logger } from "../../actors/runtime/log.ts";
import { asBuffer } from "./bytes.ts";
import type { KafkaClientConfig } from "./config.ts";
import type { HopFormat } from "./format.ts";
import { kafkaDriver, type KafkaProducer, type WireRecord } from "./kafka.ts";
import { isUuid } from "./uuid.ts";
import { hopHeaders } from "./wire.ts";

export type { HopFormat } from "./format.ts";
export type { KafkaClientConfig } from "./config.ts";

/**
 * Bytes of records sent in one produce request: under the ~1 MB record-batch
 * limit of Hopskotch and of Kafka's default `message.max.bytes`.
 */
const MAX_REQUEST_BYTES = 900_000;

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

/** Connects an idempotent, acks=all producer (on the client `config.client` names). */
export async function connectHopWriter(
  config: KafkaClientConfig,
  options: HopWriterOptions = {},
): Promise<HopWriter> {
  let producer: KafkaProducer;
  try {
    producer = await kafkaDriver(config, options.log).producer({
      allowAutoTopicCreation: options.allowAutoTopicCreation ?? false,
    });
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
      // Checked and built before anything is sent: a bad record sends nothing.
      const messages: WireRecord[] = new Array(records.length);
      const sizes = new Array<number>(records.length);
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        if (r.id !== undefined && !isUuid(r.id)) {
          throw new Error(`record id "${r.id}" is not a UUID: hop's _id header holds a UUID`);
        }
        const size = r.value.byteLength;
        if (size > config.maxRecordBytes) {
          throw new RecordTooLargeError(size, config.maxRecordBytes, topic);
        }
        const key = r.key === undefined ? null : asBuffer(r.key);
        messages[i] = {
          key,
          value: asBuffer(r.value),
          headers: hopHeaders({
            format: r.format,
            id: r.id,
            sender: r.sender ?? config.sender,
            test: r.test,
          }),
        };
        sizes[i] = size + (key?.length ?? 0) + 64;
      }
      // The broker's size limit (message.max.bytes) applies to a whole record
      // batch, and the clients send one batch per partition and request: split.
      let from = 0;
      let bytes = 0;
      for (let i = 0; i < messages.length; i++) {
        if (i > from && bytes + sizes[i] > MAX_REQUEST_BYTES) {
          await producer.send(topic, messages.slice(from, i));
          from = i;
          bytes = 0;
        }
        bytes += sizes[i];
      }
      await producer.send(topic, from ? messages.slice(from) : messages);
    },
    async close() {
      await producer.close();
    },
  };
}
