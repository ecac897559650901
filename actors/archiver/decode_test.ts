/**
 * The archiver's decoder: a JSON record whose envelope does not repeat it
 * (`raw.sameAsJson`) is archived byte for byte, however it was spelled; older
 * envelopes (raw.base64) pass unchanged.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { HopEnvelope } from "../../contracts/messages.ts";
import { decodeArchiverInput } from "./decode.ts";
import { extract } from "./extract.ts";
import { envelopeOf, fermiNotice } from "./testing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A Fermi notice spelled as JSON.stringify would not write it back. */
function oddlySpelled(): Uint8Array {
  const n = fermiNotice(undefined, "tést \u2603");
  const text = JSON.stringify(n, null, 2)
    .replace('"ra": 176.8', '"ra": 1.7680E2')
    .replace("tést", "t\\u00e9st");
  assert.ok(text.includes("1.7680E2") && text.includes("\\u00e9"), "the fixture is odd");
  return enc.encode(` ${text}\r\n`);
}

Deno.test("decodeArchiverInput: a sameAsJson record is archived byte for byte", () => {
  const record = oddlySpelled();
  const f = envelopeOf("kb-test.gcn-notices", "json", record);
  const onWire = JSON.parse(dec.decode(f.wire));
  assert.deepEqual(onWire.raw, { base64: null, size: record.byteLength, sameAsJson: true });
  assert.ok(f.wire.byteLength < 2 * record.byteLength, "the record is in the envelope once");
  const env = HopEnvelope.parse(decodeArchiverInput(f.wire));
  const row = extract(env, f.msgId, f.subject).item.alert;
  assert.deepEqual(new Uint8Array(Buffer.from(row.payload_base64, "base64")), record);
  assert.equal(row.payload_size, record.byteLength);
  assert.equal(row.status, "typed");
  // What re-serialising the parsed value gives is not the record.
  assert.notEqual(
    JSON.stringify(env.content.format === "json" && env.content.json),
    dec.decode(record),
  );
});

Deno.test("decodeArchiverInput: envelopes with raw.base64 (older gateways) pass unchanged", () => {
  const record = oddlySpelled();
  const f = envelopeOf("kb-test.gcn-notices", "json", record);
  const old = enc.encode(JSON.stringify(f.envelope));
  assert.equal(f.envelope.raw.base64, Buffer.from(record).toString("base64"));
  assert.deepEqual(decodeArchiverInput(old), JSON.parse(dec.decode(old)));
  const row = extract(HopEnvelope.parse(decodeArchiverInput(old)), f.msgId, f.subject).item.alert;
  assert.deepEqual(new Uint8Array(Buffer.from(row.payload_base64, "base64")), record);
});

Deno.test("extract refuses an envelope whose record is only in bytes it no longer has", () => {
  const f = envelopeOf("kb-test.gcn-notices", "json", oddlySpelled());
  const bare = HopEnvelope.parse(JSON.parse(dec.decode(f.wire)));
  assert.throws(() => extract(bare, f.msgId, f.subject), /decodeArchiverInput/);
  // A re-serialised sameAsJson envelope cannot give the record back: refused, not guessed.
  const again = enc.encode(JSON.stringify(JSON.parse(dec.decode(f.wire))));
  assert.throws(() => decodeArchiverInput(again), /re-serialised/);
});
