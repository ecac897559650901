/**
 * Small byte helpers: base64 and strict UTF-8.
 *
 * @module
 */
import { Buffer } from "node:buffer";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Bytes of a base64 string; throws when it is not base64. */
export function fromBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new Error("not a base64 string (RFC 4648, with padding)");
  }
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** Decodes UTF-8, throwing on invalid sequences. */
export function utf8Strict(bytes: Uint8Array): string {
  return strictUtf8.decode(bytes);
}

/** Encodes text as UTF-8. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A Node.js Buffer view of bytes (kafkajs wants Buffers for values and header values). */
export function asBuffer(bytes: Uint8Array | string): Buffer {
  if (typeof bytes === "string") return Buffer.from(bytes, "utf8");
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
