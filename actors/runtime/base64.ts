/**
 * Base64 (RFC 4648, with padding) of bytes and back: the one pair of helpers
 * the runtime's dead letters, the Hopskotch gateway and the tools share.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** A Buffer over the same memory (the bytes themselves when they are one). */
export function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  return bufferOf(bytes).toString("base64");
}

/** Bytes of a base64 string; throws when it is not base64. */
export function fromBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new Error("not a base64 string (RFC 4648, with padding)");
  }
  return new Uint8Array(Buffer.from(text, "base64"));
}
