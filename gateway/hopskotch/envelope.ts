/**
 * Turns one Kafka record into the `HopEnvelope` published on `alerts.in.<kind>`,
 * or into the reason it must be dead-lettered.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type { HopEnvelope } from "../../contracts/messages.ts";
import { type AlertKind, alertKindForTopic, type TopicKindRule } from "../../contracts/names.ts";
import { toBase64 } from "./bytes.ts";
import { type DecodedHop, decodeHopRecord, HopDecodeError, type KafkaHeaders } from "./wire.ts";

/** A Kafka record as the gateway reads it. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: KafkaHeaders;
}

/** What to do with a record. */
export type Verdict =
  | {
    readonly action: "publish";
    readonly kind: AlertKind;
    readonly msgId: string;
    readonly envelope: HopEnvelope;
  }
  | { readonly action: "skip_test"; readonly decoded: DecodedHop }
  | {
    readonly action: "dead_letter";
    readonly reason: HopDecodeError["reason"];
    readonly detail: string;
  };

/** Options of {@link judgeRecord}. */
export interface JudgeOptions {
  readonly topicKinds: readonly TopicKindRule[];
  /** Largest value + key accepted, in bytes. */
  readonly maxRecordBytes: number;
  /** Forward `_test` records instead of skipping them. */
  readonly includeTest: boolean;
}

const kinds = new WeakMap<readonly TopicKindRule[], Map<string, AlertKind>>();

/** The kind of a topic, cached per rule list (it is asked for every record). */
function kindOf(topic: string, rules: readonly TopicKindRule[]): AlertKind {
  let m = kinds.get(rules);
  if (!m) kinds.set(rules, m = new Map());
  let k = m.get(topic);
  if (!k) m.set(topic, k = alertKindForTopic(topic, rules));
  return k;
}

/** The `Nats-Msg-Id` of a record: its hop `_id`, else its Kafka position. */
export function msgIdOf(
  topic: string,
  partition: number,
  offset: string,
  id: string | null,
): string {
  return id ? `hop:${id}` : `kafka:${topic}:${partition}:${offset}`;
}

/** Decides what happens to one record. */
export function judgeRecord(r: KafkaRecord, options: JudgeOptions): Verdict {
  const value = r.value
    ? new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength)
    : new Uint8Array();
  const size = value.byteLength + (r.key?.byteLength ?? 0);
  if (size > options.maxRecordBytes) {
    return {
      action: "dead_letter",
      reason: "oversize",
      detail: `record is ${size} bytes (value + key); limit is ${options.maxRecordBytes}`,
    };
  }
  let decoded: DecodedHop;
  try {
    decoded = decodeHopRecord(value, r.headers);
  } catch (err) {
    if (err instanceof HopDecodeError) {
      return { action: "dead_letter", reason: err.reason, detail: err.message };
    }
    return { action: "dead_letter", reason: "undecodable", detail: String(err) };
  }
  if (decoded.headers.test && !options.includeTest) return { action: "skip_test", decoded };
  const kind = kindOf(r.topic, options.topicKinds);
  const ts = Number(r.timestamp);
  const envelope: HopEnvelope = {
    schema: "kb.hop-envelope.v1",
    kind,
    kafka: {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      timestampMs: Number.isFinite(ts) ? ts : 0,
      keyBase64: r.key ? toBase64(r.key) : null,
    },
    hop: {
      id: decoded.headers.id,
      sender: decoded.headers.sender,
      test: decoded.headers.test,
      format: decoded.format,
      formatHeader: decoded.headers.formatHeader,
      via: decoded.via,
      extraHeaders: decoded.headers.extra,
    },
    content: decoded.content as HopEnvelope["content"],
    raw: { base64: toBase64(value), size: value.byteLength },
    receivedAt: new Date().toISOString(),
  };
  return {
    action: "publish",
    kind,
    msgId: msgIdOf(r.topic, r.partition, r.offset, decoded.headers.id),
    envelope,
  };
}
