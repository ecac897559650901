/**
 * The inbound gateway's per-record work, done where the Kafka consumer runs
 * (the main thread, or the inbound worker, see `inbound_worker.ts`): each
 * record of a chunk is judged (`judgeRecord`), and its envelope, or its dead
 * letter, encoded together with its NATS headers into a few large buffers.
 * The result, an {@link EncodedChunk}, is what the publishing side
 * (`inbound_publish.ts`) sends to JetStream as it is; its buffers can be
 * transferred to another thread without a copy ({@link chunkTransfer}).
 *
 * @module
 */
import type { DeadLetter } from "../../contracts/messages.ts";
import { SUBJECTS } from "../../contracts/names.ts";
import { ByteSlab, toBase64 } from "./bytes.ts";
import { encodeEnvelope, type JudgeOptions, judgeRecord, type KafkaRecord } from "./envelope.ts";
import { HeaderBlock, writeHeaders } from "./jetstream_publisher.ts";

/** The inbound gateway's name: its dead-letter subject and log field. */
export const INBOUND_NAME = "hopskotch-inbound";

/** Fields of {@link EncodedChunk.layout} per message. */
export const LAYOUT_FIELDS = 7;
/** Offsets into one message's fields of {@link EncodedChunk.layout}. */
export const L = {
  /** Index of the subject in `strings`. */
  subject: 0,
  /** Index of the hop format in `strings` (-1 for a dead letter). */
  format: 1,
  /** Index of the buffer in `buffers` holding the message's data and headers. */
  buffer: 2,
  dataOffset: 3,
  dataLength: 4,
  /** Encoded NATS headers (`Nats-Msg-Id` included); length -1 for a dead letter. */
  headerOffset: 5,
  headerLength: 6,
} as const;

/** A dead letter of a chunk: what is logged and counted once it is stored. */
export interface DeadLetterNote {
  /** The message's index in the chunk. */
  readonly index: number;
  readonly partition: number;
  readonly offset: string;
  readonly reason: DeadLetter["reason"];
  readonly detail: string;
  /** The NATS headers of the dead letter (besides `Nats-Msg-Id`). */
  readonly fields: Record<string, string>;
}

/**
 * One chunk of one partition's records, encoded: the messages to store on
 * JetStream, in offset order. Plain data (numbers, strings, ArrayBuffers),
 * so it crosses threads by structured clone with its buffers transferred.
 */
export interface EncodedChunk {
  readonly topic: string;
  readonly partition: number;
  /** Records of the chunk (the `consumed` counter). */
  readonly records: number;
  /** `_test` records skipped. */
  readonly testSkipped: number;
  /** {@link LAYOUT_FIELDS} numbers per message (see {@link L}). */
  readonly layout: Int32Array;
  /** Subjects and hop formats the layout points to. */
  readonly strings: string[];
  /** `Nats-Msg-Id` of each message (also inside its encoded headers). */
  readonly msgIds: string[];
  readonly buffers: ArrayBuffer[];
  readonly deadLetters: DeadLetterNote[];
}

/** What {@link encodeChunk} needs besides the records. */
export interface ChunkOptions {
  readonly judge: JudgeOptions;
  /** Largest NATS message (the server's max_payload): larger envelopes are dead-lettered. */
  readonly maxPayload: number;
  readonly replica: string;
}

const encoder = new TextEncoder();
const DLQ_SUBJECT = SUBJECTS.deadLetter(INBOUND_NAME);

/** Header blocks of the envelopes of one topic and format (built once: every record uses them). */
const headerBlocks = new Map<string, HeaderBlock>();
function headerBlockOf(topic: string, format: string): HeaderBlock {
  const key = `${format}\u0000${topic}`;
  let h = headerBlocks.get(key);
  if (!h) {
    if (headerBlocks.size >= 1024) headerBlocks.clear();
    h = new HeaderBlock(envelopeHeaderFields(topic, format));
    headerBlocks.set(key, h);
  }
  return h;
}

/** The NATS headers of an envelope besides `Nats-Msg-Id`. */
export function envelopeHeaderFields(topic: string, format: string): Record<string, string> {
  return { "kb-producer": INBOUND_NAME, "kb-hop-format": format, "kb-kafka-topic": topic };
}

/** The dead letter of a record, as the bytes stored on `dlq.hopskotch-inbound`. */
export function deadLetterBytes(
  r: KafkaRecord,
  reason: DeadLetter["reason"],
  detail: string,
  options: Pick<ChunkOptions, "maxPayload" | "replica">,
): Uint8Array {
  const { maxPayload } = options;
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
  return data;
}

/**
 * Judges and encodes `records` (one partition's, in offset order; `receivedAt`
 * is the chunk's hand-over time). Never throws for a record: what cannot be
 * forwarded becomes a dead letter.
 */
export function encodeChunk(
  topic: string,
  partition: number,
  records: readonly KafkaRecord[],
  receivedAt: string,
  options: ChunkOptions,
): EncodedChunk {
  // A slab of its own per chunk: its buffers leave with the chunk (possibly to another thread).
  // Sized for the chunk (a JSON envelope is ~2.4 times its record plus ~1 KB of fields and
  // headers), so a chunk of one record does not allocate megabytes; larger chunks take more slabs.
  let estimate = 0;
  for (const r of records) estimate += 2.5 * (r.value?.byteLength ?? 0) + 1024;
  const slab = new ByteSlab(Math.min(2 << 20, Math.max(16 * 1024, Math.ceil(estimate))));
  const buffers: ArrayBuffer[] = [];
  const indexOf = interner<ArrayBufferLike>(buffers as ArrayBufferLike[]);
  const strings: string[] = [];
  const str = interner(strings);
  const layout = new Int32Array(records.length * LAYOUT_FIELDS);
  const msgIds: string[] = [];
  const deadLetters: DeadLetterNote[] = [];
  let testSkipped = 0;
  let n = 0;
  let lastSubject = "";
  let lastSubjectIndex = -1;

  const put = (subject: string, format: number, data: Uint8Array, headers?: Uint8Array) => {
    const at = n * LAYOUT_FIELDS;
    const b = indexOf(data.buffer);
    if (subject !== lastSubject) {
      lastSubject = subject;
      lastSubjectIndex = str(subject);
    }
    layout[at + L.subject] = lastSubjectIndex;
    layout[at + L.format] = format;
    layout[at + L.buffer] = b;
    layout[at + L.dataOffset] = data.byteOffset;
    layout[at + L.dataLength] = data.byteLength;
    if (headers) {
      if (headers.buffer !== data.buffer) throw new Error("headers outside their envelope's slab");
      layout[at + L.headerOffset] = headers.byteOffset;
      layout[at + L.headerLength] = headers.byteLength;
    } else {
      layout[at + L.headerOffset] = 0;
      layout[at + L.headerLength] = -1;
    }
    return n++;
  };

  const dead = (r: KafkaRecord, reason: DeadLetter["reason"], detail: string) => {
    const data = deadLetterBytes(r, reason, detail, options);
    const position = `${r.topic}:${r.partition}:${r.offset}`;
    msgIds.push(`dlq:${INBOUND_NAME}:${position}`);
    const index = put(DLQ_SUBJECT, -1, data);
    deadLetters.push({
      index,
      partition: r.partition,
      offset: r.offset,
      reason,
      detail,
      fields: {
        "kb-producer": INBOUND_NAME,
        "kb-dead-letter-reason": reason,
        "kb-kafka-topic": r.topic,
        "kb-kafka-partition": String(r.partition),
        "kb-kafka-offset": r.offset,
      },
    });
  };

  for (const r of records) {
    const v = judgeRecord(r, options.judge, receivedAt);
    if (v.action === "skip_test") {
      testSkipped++;
      continue;
    }
    if (v.action === "dead_letter") {
      dead(r, v.reason, v.detail);
      continue;
    }
    let data: Uint8Array;
    try {
      data = encodeEnvelope(v, slab);
    } catch (err) {
      // JSON.parse takes nesting JSON.stringify cannot write back (~10,000 levels: a stack
      // overflow). Thrown here it failed the whole batch, which was then read again forever.
      dead(
        r,
        "undecodable",
        `the record cannot be forwarded: ${(err as Error).message} (JSON nested too deeply?)`,
      );
      continue;
    }
    if (data.byteLength > options.maxPayload) {
      dead(
        r,
        "oversize",
        `the envelope is ${data.byteLength} bytes, over NATS max_payload ${options.maxPayload}`,
      );
      continue;
    }
    const format = v.envelope.hop.format;
    let headers = writeHeaders(headerBlockOf(topic, format), v.msgId, slab);
    if (headers.buffer !== data.buffer) {
      // The envelope has a buffer of its own (a large one): its headers go with it.
      const own = new Uint8Array(data.byteLength + headers.byteLength);
      own.set(data, 0);
      own.set(headers, data.byteLength);
      data = own.subarray(0, data.byteLength);
      headers = own.subarray(data.byteLength);
    }
    msgIds.push(v.msgId);
    put(SUBJECTS.alertsIn(v.kind), str(format), data, headers);
  }
  return {
    topic,
    partition,
    records: records.length,
    testSkipped,
    layout: n * LAYOUT_FIELDS === layout.length ? layout : layout.slice(0, n * LAYOUT_FIELDS),
    strings,
    msgIds,
    buffers,
    deadLetters,
  };
}

/**
 * The index of a value in `items`, appending it the first time it is seen (the
 * chunk's tables of buffers and of strings).
 */
function interner<T>(items: T[]): (v: T) => number {
  const index = new Map<T, number>();
  return (v) => {
    let i = index.get(v);
    if (i === undefined) {
      i = items.length;
      items.push(v);
      index.set(v, i);
    }
    return i;
  };
}

/** The buffers to transfer with `chunk` when posting it to another thread. */
export function chunkTransfer(chunk: EncodedChunk): Transferable[] {
  return [...chunk.buffers, chunk.layout.buffer as ArrayBuffer];
}
