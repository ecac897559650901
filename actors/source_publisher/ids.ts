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

const namespaces = new Map<string, Uint8Array>();

function uuidBytes(uuid: string): Uint8Array {
  const known = namespaces.get(uuid);
  if (known) return known;
  const hex = uuid.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  if (namespaces.size < 64) namespaces.set(uuid, out);
  return out;
}

/** The hex digit of the variant nibble: `10xx` in its two high bits (RFC 9562 §4.1). */
const VARIANT = Array.from({ length: 16 }, (_, i) => ((i & 0x3) | 0x8).toString(16));

/** UUID v5 of `name` in `namespace` (RFC 9562 §5.5). */
export function uuidV5(name: string, namespace: string = REPLAY_NAMESPACE): string {
  const h = createHash("sha1");
  h.update(uuidBytes(namespace));
  h.update(name, "utf8");
  // The hex digest is about twice as fast as the bytes (no Buffer to build);
  // version and variant are set on its digits.
  const x = h.digest("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-5${x.slice(13, 16)}-${VARIANT[parseInt(x[16], 16)]}${
    x.slice(17, 20)
  }-${x.slice(20, 32)}`;
}

/** The hop `_id` of one event of one run. */
export function eventId(runId: string, eventKey: string): string {
  return uuidV5(`${runId}/${eventKey}`);
}
