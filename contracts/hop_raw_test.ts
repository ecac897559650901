/**
 * The record's bytes of an envelope: from `raw.base64`, or from the text of
 * `content.json` in the envelope's bytes when `raw` is `sameAsJson`.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { contentJsonBytes, hopRecordBytes, withRawBase64 } from "./hop_raw.ts";
import { HopEnvelope } from "./messages.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const HEAD = {
  schema: "kb.hop-envelope.v1",
  kind: "gcn",
  kafka: { topic: "gcn.notices", partition: 0, offset: "7", timestampMs: 1, keyBase64: null },
  hop: {
    id: null,
    sender: null,
    test: false,
    format: "json",
    formatHeader: "json",
    via: "header",
    extraHeaders: [],
  },
};

/** An envelope's text with `record` written into content.json as it is. */
function envelopeText(record: string, rawFirst = false): string {
  const size = enc.encode(record).byteLength;
  const raw = `"raw":{"base64":null,"size":${size},"sameAsJson":true}`;
  const head = JSON.stringify(HEAD).slice(0, -1);
  const content = `"content":{"format":"json","json":${record}}`;
  return rawFirst
    ? `${head},${raw},${content},"receivedAt":"now"}`
    : `${head},${content},${raw},"receivedAt":"now"}`;
}

const RECORDS = [
  '{"a": [1, 2.50, "x\\u0041"], "b": {"c": null}}',
  ' \n{"n": 1e3, "s": "é ☃ 😀"}\r\n',
  "12345678901234567890",
  '"a string with \\"quotes\\" and a backslash \\\\"',
  '"ends with a backslash \\\\"',
  '{"json": {"json": 1}, "content": {"format": "json", "json": 2}}',
  '{"fake": "},\\"raw\\":{\\"base64\\":null", "x": [[], {}, [{}]]}',
  "true",
  "null",
  "[]",
  '{"\\"": "\\\\\\""}',
];

Deno.test("contentJsonBytes: the text of content.json as it stands, whitespace included", () => {
  for (const record of RECORDS) {
    for (const rawFirst of [false, true]) {
      const bytes = enc.encode(envelopeText(record, rawFirst));
      JSON.parse(dec.decode(bytes)); // the fixture is valid JSON
      assert.equal(dec.decode(contentJsonBytes(bytes)), record, record);
    }
  }
});

Deno.test("hopRecordBytes: sameAsJson gives the record byte for byte; base64 decodes", () => {
  for (const record of RECORDS) {
    const bytes = enc.encode(envelopeText(record));
    const env = HopEnvelope.parse(JSON.parse(dec.decode(bytes)));
    assert.equal(env.raw.base64, null);
    const got = hopRecordBytes(env, bytes);
    assert.deepEqual(got, enc.encode(record), record);
    // Not what re-serialising the parsed value gives (spelling of numbers, whitespace).
    if (record.includes("2.50")) {
      assert.notEqual(JSON.stringify(env.content.format === "json" && env.content.json), record);
    }
  }
  const old = { ...JSON.parse(envelopeText("{}")), raw: { base64: "AAH/", size: 3 } };
  assert.deepEqual(
    hopRecordBytes(HopEnvelope.parse(old), new Uint8Array()),
    Uint8Array.of(0, 1, 255),
  );
});

Deno.test("withRawBase64: fills raw.base64 in from the bytes; base64 envelopes unchanged", () => {
  const record = ' {"v": 1.0, "u": "\\u00e9"} ';
  const bytes = enc.encode(envelopeText(record));
  const value = withRawBase64(JSON.parse(dec.decode(bytes)), bytes) as HopEnvelope;
  assert.deepEqual(value.raw, {
    base64: Buffer.from(record).toString("base64"),
    size: enc.encode(record).byteLength,
  });
  assert.deepEqual(HopEnvelope.parse(value).raw, value.raw);
  const old = { ...JSON.parse(envelopeText("{}")), raw: { base64: "AAH/", size: 3 } };
  assert.equal(withRawBase64(old, bytes), old);
  assert.deepEqual(old.raw, { base64: "AAH/", size: 3 });
  for (const other of [null, 3, "x", {}, { raw: null }, { raw: { base64: null } }]) {
    assert.equal(withRawBase64(other, bytes), other);
  }
});

Deno.test("sameAsJson bytes that cannot be the record are refused with what to do", () => {
  // Re-serialised after the gateway wrote it: content.json is no longer the record's text.
  const text = envelopeText('{"a":  1.50}');
  const again = enc.encode(JSON.stringify(JSON.parse(text)));
  const env = HopEnvelope.parse(JSON.parse(text));
  assert.throws(() => hopRecordBytes(env, again), /re-serialised/);
  assert.throws(() => withRawBase64(JSON.parse(text), again), /re-serialised/);
  // No content.json member at all.
  const none = enc.encode(JSON.stringify({ ...JSON.parse(text), content: { format: "blob" } }));
  assert.throws(() => hopRecordBytes(env, none), /no content\.json member/);
  assert.equal(contentJsonBytes(enc.encode("{}")), undefined);
  assert.equal(contentJsonBytes(enc.encode('{"content": 1, "json": 2}')), undefined);
  // A repeated name: the last one counts, as for JSON.parse.
  const twice = '{"content": {"json": 1}, "content": {"json":  [2] }, "x": {"content": 3}}';
  assert.equal(dec.decode(contentJsonBytes(enc.encode(twice))), "  [2] ");
  assert.equal(contentJsonBytes(enc.encode('{"content": {"json": 1}, "content": {}}')), undefined);
  assert.throws(() => contentJsonBytes(enc.encode("[1]")), SyntaxError);
});

Deno.test("HopEnvelope: raw is base64, or sameAsJson with JSON content only", () => {
  const base = JSON.parse(envelopeText("{}"));
  assert.ok(HopEnvelope.safeParse(base).success);
  assert.ok(HopEnvelope.safeParse({ ...base, raw: { base64: "", size: 0 } }).success);
  const blob = { ...base, content: { format: "blob" } };
  const r = HopEnvelope.safeParse(blob);
  assert.equal(r.success, false);
  assert.match(JSON.stringify(r.error?.issues), /sameAsJson needs JSON content/);
  for (const raw of [{ base64: null, size: 2 }, { base64: null, size: 2, sameAsJson: false }]) {
    assert.equal(HopEnvelope.safeParse({ ...base, raw }).success, false, JSON.stringify(raw));
  }
});
