/**
 * Avro object container files, the payload of hop's `avro` format (hop-client
 * writes them with fastavro: header with `avro.schema` and `avro.codec`, then
 * data blocks). Schemas and values are handled by `avsc`, the maintained Avro
 * library for JavaScript; the container framing is read here so a truncated or
 * corrupt payload fails synchronously with a precise reason.
 *
 * Decoded records become plain JSON: `bytes` and `fixed` fields as base64
 * strings, unions as avsc returns them (unwrapped when unambiguous). Longs beyond
 * ±2^53 are refused rather than silently rounded.
 *
 * @module
 */
import avro from "avsc";
import { Buffer } from "node:buffer";
import { inflateRawSync } from "node:zlib";

/** Items in one array or map beyond which a payload is taken as corrupt. */
export const MAX_AVRO_ITEMS = 1_000_000;

interface AvroTap {
  pos: number;
  buf: Buffer;
  readLong(): number;
  skipLong(): void;
  readString(): string;
  isValid(): boolean;
}
interface ContainerType {
  prototype: { _read(tap: AvroTap): unknown };
}

/**
 * avsc trusts the item counts of arrays and maps: a corrupt count of 10^12 makes
 * it loop (or allocate) for ever. Hostile payloads reach us from Kafka, so both
 * readers are replaced by ones that stop at the end of the data and refuse
 * implausible counts. Map keys go on null-prototype objects ("__proto__" is data).
 */
function hardenAvsc(): void {
  const types = avro.types as unknown as { ArrayType: ContainerType; MapType: ContainerType };
  const blockSize = (tap: AvroTap, count: number): number => {
    let n = tap.readLong();
    if (n < 0) {
      n = -n;
      tap.skipLong();
    }
    if (!tap.isValid()) throw new Error("truncated: array/map block header cut off");
    if (n > MAX_AVRO_ITEMS - count) {
      throw new Error(`implausible array/map block of ${n} items (corrupt data)`);
    }
    return n;
  };
  types.ArrayType.prototype._read = function (
    this: { itemsType: { _read(t: AvroTap): unknown } },
    tap,
  ) {
    const out: unknown[] = [];
    let n;
    while ((n = blockSize(tap, out.length))) {
      while (n--) {
        out.push(this.itemsType._read(tap));
        if (!tap.isValid()) throw new Error("truncated: array item cut off");
      }
    }
    return out;
  };
  types.MapType.prototype._read = function (
    this: { valuesType: { _read(t: AvroTap): unknown } },
    tap,
  ) {
    const out: Record<string, unknown> = Object.create(null);
    let count = 0;
    let n;
    while ((n = blockSize(tap, count))) {
      count += n;
      while (n--) {
        const key = tap.readString();
        out[key] = this.valuesType._read(tap);
        if (!tap.isValid()) throw new Error("truncated: map entry cut off");
      }
    }
    return out;
  };
}
hardenAvsc();

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj" 1
const META_TYPE = avro.Type.forSchema({ type: "map", values: "bytes" });
const LONG_TYPE = avro.Type.forSchema("long");

/** The content of one Avro object container. */
export interface AvroContainer {
  /** Writer schema, as JSON. */
  readonly schema: unknown;
  /** Every record, as JSON (bytes as base64). */
  readonly records: unknown[];
}

/** Raised when a payload is not a readable Avro object container. */
export class AvroDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AvroDecodeError";
  }
}

function readLong(buf: Buffer, pos: number, what: string): { value: number; offset: number } {
  let r;
  try {
    r = LONG_TYPE.decode(buf, pos);
  } catch (err) {
    throw new AvroDecodeError(`bad ${what} at byte ${pos}: ${(err as Error).message}`);
  }
  if (r.offset < 0) throw new AvroDecodeError(`truncated: ${what} at byte ${pos} is cut off`);
  return { value: r.value as number, offset: r.offset };
}

/** Turns avsc values into JSON values (Buffers → base64). */
function toJson(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "object") {
    if (Buffer.isBuffer(value)) return value.toString("base64");
    if (Array.isArray(value)) {
      const out = new Array(value.length);
      for (let i = 0; i < value.length; i++) out[i] = toJson(value[i]);
      return out;
    }
    const out: Record<string, unknown> = {};
    const v = value as Record<string, unknown>;
    for (const k of Object.keys(v)) {
      if (k === "__proto__") {
        // defineProperty: a "__proto__" key stays data instead of replacing the prototype.
        Object.defineProperty(out, k, {
          value: toJson(v[k]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else out[k] = toJson(v[k]);
    }
    return out;
  }
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return value;
}

/** Compiled writer schemas by their text: every alert of a stream carries the same one. */
const typeCache = new Map<string, { schema: unknown; type: avro.Type }>();
/** Distinct writer schemas kept compiled (a hostile stream of new schemas only evicts). */
const TYPE_CACHE_SIZE = 64;

function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/** The writer schema (parsed, frozen: shared by every container that names it) and its type. */
function compiledSchema(schemaText: string): { schema: unknown; type: avro.Type } {
  const hit = typeCache.get(schemaText);
  if (hit) return hit;
  let compiled;
  try {
    const schema = deepFreeze(JSON.parse(schemaText));
    compiled = { schema, type: avro.Type.forSchema(schema as avro.Schema) };
  } catch (err) {
    throw new AvroDecodeError(`invalid writer schema: ${(err as Error).message}`);
  }
  if (typeCache.size >= TYPE_CACHE_SIZE) typeCache.delete(typeCache.keys().next().value!);
  typeCache.set(schemaText, compiled);
  return compiled;
}

/** Decodes an Avro object container; throws {@link AvroDecodeError} with the reason. */
export function decodeAvroContainer(bytes: Uint8Array): AvroContainer {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) {
    throw new AvroDecodeError("not an Avro object container (no 'Obj\\x01' magic)");
  }
  let meta;
  try {
    meta = META_TYPE.decode(buf, 4);
  } catch (err) {
    throw new AvroDecodeError(`corrupt container header: ${(err as Error).message}`);
  }
  if (meta.offset < 0) throw new AvroDecodeError("truncated: the container header is cut off");
  const header = meta.value as Record<string, Buffer>;
  let pos = meta.offset;
  if (pos + 16 > buf.length) throw new AvroDecodeError("truncated: sync marker missing");
  const sync = buf.subarray(pos, pos + 16);
  pos += 16;
  const schemaText = header["avro.schema"]?.toString("utf8");
  if (!schemaText) throw new AvroDecodeError("container header has no avro.schema");
  const { schema, type } = compiledSchema(schemaText);
  const codec = header["avro.codec"]?.toString("utf8") ?? "null";
  if (codec !== "null" && codec !== "deflate") {
    throw new AvroDecodeError(`unsupported Avro codec "${codec}" (null and deflate are read)`);
  }
  const records: unknown[] = [];
  while (pos < buf.length) {
    const count = readLong(buf, pos, "block count");
    const size = readLong(buf, count.offset, "block size");
    pos = size.offset;
    if (count.value < 0 || size.value < 0) throw new AvroDecodeError("negative block count/size");
    if (pos + size.value + 16 > buf.length) {
      throw new AvroDecodeError(
        `truncated: block of ${size.value} bytes at byte ${pos} runs past the end (${buf.length})`,
      );
    }
    let block = buf.subarray(pos, pos + size.value);
    pos += size.value;
    if (!buf.subarray(pos, pos + 16).equals(sync)) {
      throw new AvroDecodeError(`sync marker mismatch after the block ending at byte ${pos}`);
    }
    pos += 16;
    if (codec === "deflate") {
      try {
        block = inflateRawSync(block);
      } catch (err) {
        throw new AvroDecodeError(`deflate block does not inflate: ${(err as Error).message}`);
      }
    }
    let at = 0;
    for (let i = 0; i < count.value; i++) {
      let r;
      try {
        r = type.decode(block, at);
      } catch (err) {
        throw new AvroDecodeError(`record ${records.length}: ${(err as Error).message}`);
      }
      if (r.offset < 0) throw new AvroDecodeError(`truncated: record ${records.length} cut off`);
      records.push(toJson(r.value));
      at = r.offset;
    }
    if (at !== block.length) {
      throw new AvroDecodeError(`block has ${block.length - at} bytes after its last record`);
    }
  }
  return { schema, records };
}

/**
 * Encodes records as an Avro object container (null codec, one block), readable
 * by hop-client's `AvroBlob`. Byte fields take `Uint8Array`s (or base64 strings
 * when `bytesAsBase64` is set, the inverse of {@link decodeAvroContainer}).
 */
export function encodeAvroContainer(
  schema: unknown,
  records: readonly unknown[],
  options: { bytesAsBase64?: boolean } = {},
): Uint8Array {
  const type = avro.Type.forSchema(schema as avro.Schema);
  const values = options.bytesAsBase64 ? records.map((r) => fromJson(type, r)) : records;
  const meta = META_TYPE.toBuffer({
    "avro.schema": Buffer.from(JSON.stringify(type.schema()), "utf8"),
    "avro.codec": Buffer.from("null", "utf8"),
  });
  const sync = Buffer.from(crypto.getRandomValues(new Uint8Array(16)));
  const data = Buffer.concat(values.map((v) => {
    try {
      return type.toBuffer(v);
    } catch (err) {
      throw new Error(`record does not match the Avro schema: ${(err as Error).message}`);
    }
  }));
  return new Uint8Array(Buffer.concat([
    MAGIC,
    meta,
    sync,
    LONG_TYPE.toBuffer(values.length),
    LONG_TYPE.toBuffer(data.length),
    data,
    sync,
  ]));
}

/** Replaces base64 strings by Buffers where the schema has bytes or fixed. */
function fromJson(type: avro.Type, value: unknown): unknown {
  const t = type as unknown as {
    typeName: string;
    fields?: { name: string; type: avro.Type }[];
    itemsType?: avro.Type;
    valuesType?: avro.Type;
    types?: avro.Type[];
  };
  switch (t.typeName) {
    case "bytes":
    case "fixed":
      return typeof value === "string" ? Buffer.from(value, "base64") : value;
    case "record":
    case "error": {
      if (value === null || typeof value !== "object") return value;
      const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      for (const f of t.fields ?? []) {
        if (f.name in out) out[f.name] = fromJson(f.type, out[f.name]);
      }
      return out;
    }
    case "array":
      return Array.isArray(value) ? value.map((v) => fromJson(t.itemsType!, v)) : value;
    case "map": {
      if (value === null || typeof value !== "object") return value;
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [
          k,
          fromJson(t.valuesType!, v),
        ]),
      );
    }
    case "union:unwrapped": {
      if (value === null) return null;
      const candidates = (t.types ?? []).filter((u) => u.typeName !== "null");
      for (const c of candidates) {
        const v = fromJson(c, value);
        if (c.isValid(v)) return v;
      }
      return value;
    }
    default:
      return value;
  }
}
