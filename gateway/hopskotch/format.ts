/**
 * hop-client's message formats and headers, as its source defines them
 * (`hop/models.py`, `hop/io.py`, hop-client 0.13): the `_format` header holds the
 * lower-case model name, and readers look it up case-insensitively.
 *
 * @module
 */

/** Every `_format` value hop-client's built-in models write. */
export const HOP_FORMATS = [
  "json",
  "blob",
  "voevent",
  "avro",
  "gcntextnotice",
  "circular",
  "external",
] as const;

/** A hop `_format` value: JSONBlob, Blob, VOEvent, AvroBlob, GCNTextNotice, GCNCircular, ExternalMessage. */
export type HopFormat = typeof HOP_FORMATS[number];

/** Header names of the hop wire format. */
export const HOP_HEADERS = {
  /** 16 raw bytes of a UUID (hop: `uuid.uuid4().bytes`). */
  id: "_id",
  /** UTF-8 user name of the credential that wrote the message. */
  sender: "_sender",
  /** Present on test messages (hop writes `b"true"`; readers only check presence). */
  test: "_test",
  /** UTF-8 format name, see {@link HOP_FORMATS}. */
  format: "_format",
} as const;

/** True when `value` names a built-in hop format (case-insensitively, as hop reads it). */
export function isHopFormat(value: string): value is HopFormat {
  return (HOP_FORMATS as readonly string[]).includes(value);
}

/** Normalises a `_format` header value as hop does (`format.upper()` lookup). */
export function normaliseFormat(value: string): HopFormat | undefined {
  const lower = value.toLowerCase();
  return isHopFormat(lower) ? lower : undefined;
}
