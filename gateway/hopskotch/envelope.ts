/**
 * Turns one Kafka record into the `HopEnvelope` published on `alerts.in.<kind>`,
 * or into the reason it must be dead-lettered, and encodes envelopes for the wire.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type { HopEnvelope } from "../../contracts/messages.ts";
import { type AlertKind, alertKindForTopic, type TopicKindRule } from "../../contracts/names.ts";
import { type ByteSlab, toBase64, writeUtf8 } from "./bytes.ts";
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
    /**
     * The UTF-8 JSON text `envelope.content.json` was parsed from, when it is the
     * record's whole value and can be written into the envelope as it is (see
     * {@link encodeEnvelope}); undefined otherwise. When set, `envelope.raw` is
     * `sameAsJson` (the record's bytes are this text, not repeated as base64),
     * so the envelope must be written with {@link encodeEnvelope}.
     */
    readonly jsonText?: Uint8Array;
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

const EMPTY = new Uint8Array(0);

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

/**
 * Nesting depth up to which a JSON text is written into an envelope as it is.
 * Deeper values (only possible in texts over twice this many bytes) go through
 * `JSON.stringify`, which dead-letters what it cannot write back, as before.
 */
const VERBATIM_DEPTH = 1_000;

/** Whether the JSON text `b` (valid, as JSON.parse accepted it) nests deeper than `limit`. */
function nestsDeeper(b: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * Whether the record value `value`, which parsed as the JSON content, can be
 * written into the envelope byte for byte: not behind a byte order mark (the
 * decoder drops it; JSON does not allow it inside a document), and not nested
 * so deep that `JSON.stringify` could not write the parsed value back.
 */
function verbatimJson(value: Uint8Array): boolean {
  if (value[0] === 0xef && value[1] === 0xbb && value[2] === 0xbf) return false;
  return value.byteLength <= 2 * VERBATIM_DEPTH || !nestsDeeper(value, VERBATIM_DEPTH);
}

/**
 * Decides what happens to one record. `receivedAt` (ISO 8601) is the time the
 * gateway fetched it; the inbound gateway passes one per batch.
 */
export function judgeRecord(
  r: KafkaRecord,
  options: JudgeOptions,
  receivedAt: string = new Date().toISOString(),
): Verdict {
  // The Buffer as it is (a Uint8Array): no view per record.
  const value: Uint8Array = r.value ?? EMPTY;
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
  // A JSON value written into the envelope as it is holds the record's bytes: `raw`
  // does not repeat them (HopRaw's `sameAsJson`).
  const jsonText = decoded.content.format === "json" &&
      (decoded.via === "json" || decoded.via === "header") && verbatimJson(value)
    ? value
    : undefined;
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
    raw: jsonText
      ? { base64: null, size: value.byteLength, sameAsJson: true }
      : { base64: toBase64(value), size: value.byteLength },
    receivedAt,
  };
  return {
    action: "publish",
    kind,
    msgId: msgIdOf(r.topic, r.partition, r.offset, decoded.headers.id),
    envelope,
    jsonText,
  };
}

const encoder = new TextEncoder();
const CLOSE_BRACE = 0x7d;

/** A string or null as JSON. */
function q(s: string | null): string {
  return s === null ? "null" : JSON.stringify(s);
}

const quoted = new Map<string, string>();

/**
 * {@link q} of a string repeated on many records (topic, kind, format, sender):
 * computed once, cached (bounded).
 */
function qc(s: string | null): string {
  if (s === null) return "null";
  let j = quoted.get(s);
  if (j === undefined) {
    if (quoted.size >= 4096) quoted.clear();
    quoted.set(s, j = JSON.stringify(s));
  }
  return j;
}

/** A number as JSON (`null` for what JSON has no number for, as JSON.stringify writes it). */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : "null";
}

/**
 * The envelope of a `publish` verdict as UTF-8 JSON, the bytes published on NATS.
 * The same document as `JSON.stringify(envelope)` (same keys, same order), but
 * when the content is JSON whose text is the record's value
 * ({@link Verdict}'s `jsonText`), that text is copied in as it is instead of
 * being written back from its parsed value: a JSON reader gets the same value
 * either way, and the record's bytes are the envelope's `content.json` text
 * (which is why `raw` is then `sameAsJson` instead of base64: see `HopRaw` in
 * contracts/messages.ts). With `slab`, the bytes are a range of a shared buffer (one
 * allocation per many envelopes). Throws when the content cannot be written as JSON.
 */
export function encodeEnvelope(
  v: { readonly envelope: HopEnvelope; readonly jsonText?: Uint8Array },
  slab?: ByteSlab,
): Uint8Array {
  const e = v.envelope;
  const k = e.kafka;
  const h = e.hop;
  // Written out field by field (twice as fast as JSON.stringify of the two objects);
  // envelope_test.ts checks the text against JSON.stringify(envelope).
  const head = `{"schema":${qc(e.schema)},"kind":${qc(e.kind)},"kafka":{"topic":${qc(k.topic)},` +
    `"partition":${num(k.partition)},"offset":${q(k.offset)},"timestampMs":${num(k.timestampMs)},` +
    `"keyBase64":${q(k.keyBase64)}},"hop":{"id":${q(h.id)},"sender":${qc(h.sender)},` +
    `"test":${h.test},"format":${qc(h.format)},"formatHeader":${qc(h.formatHeader)},` +
    `"via":${qc(h.via)},"extraHeaders":${
      h.extraHeaders.length ? JSON.stringify(h.extraHeaders) : "[]"
    }},"content":`;
  const raw = e.raw.base64 === null
    ? `{"base64":null,"size":${e.raw.size},"sameAsJson":true}`
    : `{"base64":"${e.raw.base64}","size":${e.raw.size}}`;
  const tail = `,"raw":${raw},"receivedAt":${JSON.stringify(e.receivedAt)}}`;
  const text = v.jsonText;
  if (!text) {
    if (e.raw.base64 === null) {
      throw new Error(
        "the envelope's raw is sameAsJson but no jsonText was given: pass the verdict of " +
          "judgeRecord as it is (its jsonText holds the record's bytes)",
      );
    }
    const all = head + JSON.stringify(e.content) + tail;
    if (!slab) return encoder.encode(all);
    const out = slab.take(3 * all.length);
    return slab.keep(out, writeUtf8(out, all));
  }
  const start = `${head}{"format":"json","json":`;
  if (!slab) {
    const headBytes = encoder.encode(start);
    const tailBytes = encoder.encode(tail);
    const whole = new Uint8Array(
      headBytes.byteLength + text.byteLength + 1 + tailBytes.byteLength,
    );
    whole.set(headBytes, 0);
    whole.set(text, headBytes.byteLength);
    whole[headBytes.byteLength + text.byteLength] = CLOSE_BRACE;
    whole.set(tailBytes, headBytes.byteLength + text.byteLength + 1);
    return whole;
  }
  // Sized for the worst case (3 UTF-8 bytes per UTF-16 unit of head and tail); the unused
  // end goes back to the slab.
  const out = slab.take(3 * start.length + text.byteLength + 1 + 3 * tail.length);
  let n = writeUtf8(out, start);
  out.set(text, n);
  n += text.byteLength;
  out[n++] = CLOSE_BRACE;
  return slab.keep(out, n + writeUtf8(out, tail, n));
}
