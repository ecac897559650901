/**
 * Deterministic message ids: UUID version 5 (RFC 9562, name-based, SHA-1) of
 * `<run id>/<event key>` in the project's namespace. Replaying the same run
 * twice gives every message the same hop `_id`, so downstream deduplication
 * (the gateway's `Nats-Msg-Id: hop:<_id>`) drops the second copy.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Namespace UUID of the source publisher (a fixed random UUID). */
export const REPLAY_NAMESPACE = "6f1c2a7e-3b8d-4e55-9a41-0c7d2f9e8b13";

function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** UUID v5 of `name` in `namespace` (RFC 9562 §5.5). */
export function uuidV5(name: string, namespace: string = REPLAY_NAMESPACE): string {
  const h = createHash("sha1");
  h.update(uuidBytes(namespace));
  h.update(name, "utf8");
  const b = h.digest();
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  let s = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += "-";
    s += HEX[b[i]];
  }
  return s;
}

/** The hop `_id` of one event of one run. */
export function eventId(runId: string, eventKey: string): string {
  return uuidV5(`${runId}/${eventKey}`);
}
