/**
 * UUIDs as hop writes them in the `_id` header: 16 raw bytes.
 *
 * @module
 */
import { createHash } from "node:crypto";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` is a UUID in its canonical text form. */
export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

/** The 16 bytes of a UUID string; throws when it is not one. */
export function uuidToBytes(value: string): Uint8Array {
  if (!isUuid(value)) {
    throw new Error(`"${value}" is not a UUID (expected 8-4-4-4-12 hexadecimal digits)`);
  }
  const hex = value.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The canonical lower-case text of 16 UUID bytes; throws for any other length. */
export function uuidFromBytes(bytes: Uint8Array): string {
  if (bytes.byteLength !== 16) {
    throw new Error(`a UUID has 16 bytes, this one has ${bytes.byteLength}`);
  }
  const b = bytes;
  const h = HEX;
  // One template, no concatenation loop or slices: it runs for every inbound record.
  return `${h[b[0]]}${h[b[1]]}${h[b[2]]}${h[b[3]]}-${h[b[4]]}${h[b[5]]}-${h[b[6]]}${h[b[7]]}-` +
    `${h[b[8]]}${h[b[9]]}-${h[b[10]]}${h[b[11]]}${h[b[12]]}${h[b[13]]}${h[b[14]]}${h[b[15]]}`;
}

/** A UUID (version 5 layout) derived from a name: stable across redeliveries. */
export function uuidFromName(name: string): string {
  const h = createHash("sha1").update(`kilonova-broker:${name}`).digest();
  const b = new Uint8Array(h.subarray(0, 16));
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  return uuidFromBytes(b);
}
