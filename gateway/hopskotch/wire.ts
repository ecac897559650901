/**
 * The hop wire format, both ways: the headers hop-client writes (`_id`,
 * `_sender`, `_test`, `_format`) and the decoding order hop-client's reader
 * applies — the `_format` header, then the legacy `{"format","content"}` JSON
 * envelope, then plain JSON, then raw bytes (a blob).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type AvroContainer, decodeAvroContainer } from "./avro.ts";
import { avroSchemaId } from "./avro_id.ts";
import { fromBase64, toBase64, utf8, utf8Strict } from "./bytes.ts";
import { HOP_HEADERS, type HopFormat, normaliseFormat } from "./format.ts";
import { isUuid, uuidFromBytes, uuidToBytes } from "./uuid.ts";

/** Kafka record headers as kafkajs hands them over (repeated keys become arrays). */
export type KafkaHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

/** The hop headers of one record, decoded. */
export interface HopHeaders {
  /** `_id` as a UUID string, or null when the record has none. */
  readonly id: string | null;
  readonly sender: string | null;
  /** True when a `_test` header is present (hop checks presence only). */
  readonly test: boolean;
  /** The raw `_format` header value, or null. */
  readonly formatHeader: string | null;
  /** Headers other than the hop ones, values as base64. */
  readonly extra: { key: string; base64: string }[];
}

/** Decoded content, by the format hop-client would decode the record into. */
export type HopContent =
  | { readonly format: "json"; readonly json: unknown }
  | {
    readonly format: "avro";
    readonly schemaName: string;
    readonly schemaFingerprint: string;
    readonly records: unknown[];
  }
  | { readonly format: "voevent"; readonly text: string }
  | { readonly format: "gcntextnotice"; readonly text: string }
  | {
    readonly format: "circular";
    readonly header: Record<string, string>;
    readonly body: string;
  }
  | { readonly format: "external"; readonly url: string }
  /** The bytes are the record's raw value (not repeated here). */
  | { readonly format: "blob" };

/** How a record was recognised. */
export type DecodedVia = "header" | "legacy" | "json" | "bytes";

/** A decoded hop record. */
export interface DecodedHop {
  readonly headers: HopHeaders;
  /** The model hop-client would build: the format of {@link content}. */
  readonly format: HopFormat;
  readonly content: HopContent;
  readonly via: DecodedVia;
}

/** Why a record cannot be accepted; matches the dead-letter reasons. */
export type HopRejectReason = "undecodable" | "schema" | "oversize";

/** Raised for a record that no retry can fix. */
export class HopDecodeError extends Error {
  constructor(readonly reason: HopRejectReason, message: string) {
    super(message);
    this.name = "HopDecodeError";
  }
}

function asBytes(v: Buffer | string): Uint8Array {
  // A Buffer is a Uint8Array: used as it is (no view per header value and record).
  return typeof v === "string" ? utf8(v) : v;
}

function single(headers: KafkaHeaders, key: string): Uint8Array | undefined {
  const v = headers[key];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    const values = v.map(asBytes);
    const first = values[0];
    if (values.some((x) => Buffer.compare(x, first) !== 0)) {
      throw new HopDecodeError(
        "schema",
        `header ${key} appears ${values.length} times with different values`,
      );
    }
    return first;
  }
  return asBytes(v);
}

/** Short ASCII text without a decoder call (header values are short); undefined otherwise. */
function shortAscii(v: Uint8Array): string | undefined {
  if (v.byteLength > 64) return undefined;
  for (let i = 0; i < v.byteLength; i++) if (v[i] > 0x7f) return undefined;
  return String.fromCharCode.apply(null, v as unknown as number[]);
}

function text(headers: KafkaHeaders, key: string): string | null {
  const v = single(headers, key);
  if (v === undefined) return null;
  const ascii = shortAscii(v);
  if (ascii !== undefined) return ascii;
  try {
    return utf8Strict(v);
  } catch {
    throw new HopDecodeError("schema", `header ${key} is not valid UTF-8`);
  }
}

const HOP_KEYS = new Set<string>(Object.values(HOP_HEADERS));

/** Reads the hop headers; throws {@link HopDecodeError} for malformed ones. */
export function readHopHeaders(headers: KafkaHeaders | undefined): HopHeaders {
  const h = headers ?? {};
  const rawId = single(h, HOP_HEADERS.id);
  let id: string | null = null;
  if (rawId !== undefined) {
    if (rawId.byteLength !== 16) {
      throw new HopDecodeError(
        "schema",
        `header _id has ${rawId.byteLength} bytes; hop writes the 16 raw bytes of a UUID`,
      );
    }
    id = uuidFromBytes(rawId);
  }
  const extra: { key: string; base64: string }[] = [];
  for (const key in h) {
    const v = h[key];
    if (HOP_KEYS.has(key) || v === undefined || !Object.hasOwn(h, key)) continue;
    for (const one of Array.isArray(v) ? v : [v]) {
      extra.push({ key, base64: toBase64(asBytes(one)) });
    }
  }
  return {
    id,
    sender: text(h, HOP_HEADERS.sender),
    test: h[HOP_HEADERS.test] !== undefined,
    formatHeader: text(h, HOP_HEADERS.format),
    extra,
  };
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  let s: string;
  try {
    s = utf8Strict(bytes);
  } catch {
    throw new HopDecodeError("undecodable", `${what} is not valid UTF-8`);
  }
  try {
    return JSON.parse(s);
  } catch (err) {
    throw new HopDecodeError("undecodable", `${what} is not JSON: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function circularOf(v: unknown, what: string): HopContent {
  if (
    !isObject(v) || !isObject(v.header) || typeof v.body !== "string" ||
    !Object.values(v.header).every((x) => typeof x === "string")
  ) {
    throw new HopDecodeError(
      "schema",
      `${what} is not a GCN circular: expected {"header": {name: text}, "body": text}`,
    );
  }
  return { format: "circular", header: v.header as Record<string, string>, body: v.body };
}

function externalOf(v: unknown, what: string): HopContent {
  if (!isObject(v) || typeof v.url !== "string") {
    throw new HopDecodeError(
      "schema",
      `${what} is not an external message: expected {"url": text}`,
    );
  }
  return { format: "external", url: v.url };
}

const VOEVENT_ROOT = /<([A-Za-z_][\w.-]*:)?VOEvent[\s/>]/;

/** Decodes a payload labelled with a known format (as hop's `Model.deserialize`). */
export function decodeAs(format: HopFormat, value: Uint8Array): HopContent {
  switch (format) {
    case "json":
      return { format, json: parseJson(value, "JSON payload") };
    case "blob":
      return { format };
    case "avro": {
      let c: AvroContainer;
      try {
        c = decodeAvroContainer(value);
      } catch (err) {
        throw new HopDecodeError("undecodable", `Avro payload: ${(err as Error).message}`);
      }
      const id = avroSchemaId(c.schema);
      return { format, schemaName: id.name, schemaFingerprint: id.fingerprint, records: c.records };
    }
    case "voevent":
    case "gcntextnotice": {
      let s: string;
      try {
        s = utf8Strict(value);
      } catch {
        throw new HopDecodeError("undecodable", `${format} payload is not valid UTF-8`);
      }
      if (format === "voevent" && !VOEVENT_ROOT.test(s)) {
        throw new HopDecodeError("schema", "voevent payload has no <VOEvent> root element");
      }
      return { format, text: s };
    }
    case "circular":
      return circularOf(parseJson(value, "circular payload"), "circular payload");
    case "external":
      return externalOf(parseJson(value, "external payload"), "external payload");
  }
}

/**
 * Decodes one Kafka record the way hop-client's reader does. Throws
 * {@link HopDecodeError} for records no retry can fix.
 */
export function decodeHopRecord(value: Uint8Array, headers: KafkaHeaders | undefined): DecodedHop {
  const h = readHopHeaders(headers);
  if (h.formatHeader !== null) {
    const format = normaliseFormat(h.formatHeader);
    // hop-client falls back to a Blob for a format no installed model names.
    if (!format) return { headers: h, format: "blob", content: { format: "blob" }, via: "header" };
    return { headers: h, format, content: decodeAs(format, value), via: "header" };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8Strict(value));
  } catch {
    return { headers: h, format: "blob", content: { format: "blob" }, via: "bytes" };
  }
  if (isObject(parsed) && "format" in parsed && "content" in parsed) {
    const declared = String(parsed.format);
    const c = parsed.content;
    // hop: "blob" was the old label for JSON.
    if (declared === "blob") {
      return { headers: h, format: "json", content: { format: "json", json: c }, via: "legacy" };
    }
    const format = normaliseFormat(declared);
    if (format === "circular") {
      return { headers: h, format, content: circularOf(c, "legacy circular"), via: "legacy" };
    }
    if (format === "external") {
      return { headers: h, format, content: externalOf(c, "legacy external"), via: "legacy" };
    }
    if (format === "json" && isObject(c) && "content" in c) {
      return { headers: h, format, content: { format: "json", json: c.content }, via: "legacy" };
    }
    // Other legacy models were dictionaries of the model's fields: kept as JSON.
    return {
      headers: h,
      format: format ?? "blob",
      content: { format: "json", json: c },
      via: "legacy",
    };
  }
  return { headers: h, format: "json", content: { format: "json", json: parsed }, via: "json" };
}

/** What a writer needs to build hop headers. */
export interface HopHeaderInput {
  readonly format: HopFormat;
  readonly id?: string;
  readonly sender?: string;
  readonly test?: boolean;
}

/**
 * The headers hop-client's `Producer.pack` writes, as Buffers (kafkajs needs
 * Buffers: the broker rejects a batch whose header values are plain Uint8Arrays).
 */
export function hopHeaders(input: HopHeaderInput): Record<string, Buffer> {
  const id = input.id ?? crypto.randomUUID();
  if (!isUuid(id)) uuidToBytes(id); // throws, naming the value
  const out: Record<string, Buffer> = {
    [HOP_HEADERS.id]: Buffer.from(id.replaceAll("-", ""), "hex"),
  };
  if (input.sender) out[HOP_HEADERS.sender] = constantBytes(input.sender);
  if (input.test) out[HOP_HEADERS.test] = constantBytes("true");
  out[HOP_HEADERS.format] = constantBytes(input.format);
  return out;
}

const constants = new Map<string, Buffer>();

/**
 * The UTF-8 bytes of a header value repeated on every record (sender, format):
 * built once and shared, since the clients only read header buffers.
 */
function constantBytes(text: string): Buffer {
  let b = constants.get(text);
  if (!b) {
    if (constants.size >= 256) constants.clear();
    constants.set(text, b = Buffer.from(text, "utf8"));
  }
  return b;
}

/** Re-export for callers that carry raw bytes as base64. */
export { fromBase64, toBase64 };
