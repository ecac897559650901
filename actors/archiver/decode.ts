/**
 * The archiver's decoder of `alerts.in.<kind>` payloads: the envelope's JSON,
 * with `raw` always in its base64 form. The archive keeps the record's exact
 * bytes; an envelope whose `raw` is `sameAsJson` (a JSON record the gateway
 * wrote into `content.json` as it is) holds them only in its own bytes, which
 * the handler no longer sees, so they are taken from there while the bytes are
 * at hand (`withRawBase64`, contracts/hop_raw.ts). Envelopes with `raw.base64`
 * (older gateways, every non-JSON record) pass unchanged.
 *
 * @module
 */
import { withRawBase64 } from "../../contracts/hop_raw.ts";

const utf8 = new TextDecoder();

/**
 * Parses an envelope's bytes, `raw.base64` filled in from them when the record
 * is its `content.json` text. Throws (the runtime dead-letters as `undecodable`)
 * when they are not JSON or a `sameAsJson` envelope does not hold its record.
 */
export function decodeArchiverInput(data: Uint8Array): unknown {
  return withRawBase64(JSON.parse(utf8.decode(data)), data);
}
