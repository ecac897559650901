/**
 * Envelope encoding: the bytes published are the envelope's JSON, with plain
 * JSON values copied in as they are only where that reads back the same.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { hopRecordBytes, withRawBase64 } from "../../contracts/hop_raw.ts";
import { HopEnvelope } from "../../contracts/messages.ts";
import { ByteSlab, utf8Strict } from "./bytes.ts";
import { encodeEnvelope, judgeRecord, type KafkaRecord } from "./envelope.ts";
import { hopHeaders, type KafkaHeaders } from "./wire.ts";
import { decodeAvroContainer } from "./avro.ts";
import { avroSchemaId } from "./avro_id.ts";
import { fromBase64 } from "../../actors/runtime/base64.ts";
import { gwFixture, opticalFixture, point } from "../../actors/archiver/testing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const opts = { topicKinds: [], maxRecordBytes: 1 << 24, includeTest: false };

function record(value: Uint8Array, headers: KafkaHeaders = {}): KafkaRecord {
  const extra = headers.trace !== undefined;
  return {
    topic: "kilonova.igwn-gwalert",
    partition: 1,
    offset: "42",
    timestamp: extra ? "not a number" : "1700000000000",
    key: extra ? Buffer.from("key \u2603") : null,
    value: Buffer.from(value),
    headers,
  };
}

function publishVerdict(value: Uint8Array, headers?: KafkaHeaders) {
  const v = judgeRecord(record(value, headers), opts, "2026-01-01T00:00:00.000Z");
  if (v.action !== "publish") throw new Error(`expected a publish verdict, got ${v.action}`);
  return v;
}

Deno.test("encodeEnvelope: reads back as the envelope, verbatim where safe, with or without a slab", () => {
  const json = hopHeaders({ format: "json", sender: "kb-test" });
  const cases: [string, Uint8Array, KafkaHeaders | undefined, boolean][] = [
    ["_format json", enc.encode('{"a": [1, 2.50, "x\\u0041"], "b": {"c": null}}'), json, true],
    ["plain JSON, no headers", enc.encode(' \n{"n": 1e3, "s": "é ☃ 😀"}\r\n'), undefined, true],
    ["a JSON number", enc.encode("12345678901234567890"), json, true],
    ["byte order mark", enc.encode('\ufeff{"bom": true}'), json, false],
    ["legacy envelope", enc.encode('{"format":"blob","content":{"x":1}}'), undefined, false],
    ["blob", new Uint8Array([0, 1, 2, 255]), undefined, false],
    ["deep nesting", enc.encode("[".repeat(1500) + "]".repeat(1500)), json, false],
    ["key, extra headers, no timestamp", enc.encode('{"k": 1}'), {
      ...json,
      trace: [Buffer.from('a"b'), Buffer.from([0xff])],
    }, true],
    ["long and shallow", enc.encode(JSON.stringify({ pad: "x".repeat(5000) })), json, true],
  ];
  const slab = new ByteSlab(64 * 1024);
  for (const [name, value, headers, verbatim] of cases) {
    const v = publishVerdict(value, headers);
    assert.equal(v.jsonText !== undefined, verbatim, name);
    const expected = JSON.stringify(v.envelope);
    for (const bytes of [encodeEnvelope(v), encodeEnvelope(v, slab)]) {
      const text = dec.decode(bytes);
      const back = JSON.parse(text);
      // Compared as text: deepEqual recurses, and one case nests 1,500 levels.
      assert.equal(JSON.stringify(back), expected, name);
      if (name !== "deep nesting") assert.deepEqual(HopEnvelope.parse(back), back, name);
      if (verbatim) assert.ok(text.includes(dec.decode(value)), `${name}: value copied as it is`);
      else assert.equal(text, JSON.stringify(v.envelope), name);
      // The record's exact bytes come back either way: from content.json's text when
      // verbatim (raw does not repeat them), else from raw.base64.
      assert.deepEqual(
        back.raw,
        verbatim
          ? { base64: null, size: value.byteLength, sameAsJson: true }
          : { base64: Buffer.from(value).toString("base64"), size: value.byteLength },
        name,
      );
      if (name !== "deep nesting") {
        assert.deepEqual(new Uint8Array(hopRecordBytes(back, bytes)), value, name);
        const full = withRawBase64(JSON.parse(text), bytes) as HopEnvelope;
        assert.deepEqual(full.raw, {
          base64: Buffer.from(value).toString("base64"),
          size: value.byteLength,
        }, name);
      }
    }
  }
});

Deno.test("encodeEnvelope: a sameAsJson envelope without its JSON text is refused", () => {
  const v = publishVerdict(enc.encode('{"a": 1}'), hopHeaders({ format: "json" }));
  assert.equal(v.envelope.raw.base64, null);
  assert.throws(
    () => encodeEnvelope({ envelope: v.envelope }),
    /raw is sameAsJson but no jsonText was given/,
  );
});

Deno.test("encodeEnvelope: a receivedAt that is not ASCII still makes valid JSON in a slab", () => {
  const v = judgeRecord(
    record(enc.encode('{"a":1}'), hopHeaders({ format: "json" })),
    opts,
    // Longer than the room the slab range has to spare past an ASCII tail.
    `jetzt ${"☃".repeat(2000)}`,
  );
  assert.equal(v.action, "publish");
  if (v.action !== "publish") return;
  assert.ok(v.jsonText);
  const slab = new ByteSlab(64 * 1024);
  const back = JSON.parse(dec.decode(encodeEnvelope(v, slab)));
  assert.equal(back.receivedAt, `jetzt ${"☃".repeat(2000)}`);
  assert.deepEqual(back.content, { format: "json", json: { a: 1 } });
});

Deno.test("ByteSlab: ranges never overlap; the unused end of the last one is reused", () => {
  const slab = new ByteSlab(1024);
  const a = slab.take(100);
  a.fill(1);
  const kept = slab.keep(a, 10);
  const b = slab.take(50);
  b.fill(2);
  assert.equal(kept.byteLength, 10);
  assert.equal(b.byteOffset, kept.byteOffset + 10);
  assert.ok(kept.every((x) => x === 1));
  const rest = slab.take(900); // does not fit after b: a new slab
  assert.notEqual(rest.buffer, b.buffer);
  const own = slab.take(600); // over a quarter of a slab: its own buffer
  assert.equal(own.byteLength, 600);
  own.fill(3);
  const small = slab.keep(own, 100); // mostly unused: copied, so the 600 bytes can go
  assert.equal(small.buffer.byteLength, 100);
  assert.ok(small.every((x) => x === 3));
  assert.ok(b.every((x) => x === 2));
});

Deno.test("utf8Strict: ASCII fast path and the decoder agree; invalid UTF-8 throws", () => {
  for (const s of ["", "plain ascii {}", "é ☃ 😀", "\u007f\u0080"]) {
    assert.equal(utf8Strict(enc.encode(s)), s);
  }
  const view = enc.encode("xxhello").subarray(2);
  assert.equal(utf8Strict(view), "hello");
  assert.throws(() => utf8Strict(new Uint8Array([0x61, 0xc3, 0x28])));
});

Deno.test("Avro content names its writer schema (full name, fingerprint) instead of carrying it", async () => {
  const optical = await opticalFixture("ZTF17aaaaaaa", point(2), [point(1)]);
  const gw = await gwFixture("S170817a", "PRELIMINARY", new Uint8Array(1000).fill(7));
  for (const [f, name] of [[optical, "kb.optical.v1.Alert"], [gw, "igwn.alerts.Alert"]] as const) {
    const c = f.envelope.content;
    assert.equal(c.format, "avro");
    if (c.format !== "avro") return;
    assert.equal(c.schemaName, name);
    assert.equal("schema" in c, false, "the writer schema is not repeated beside raw.base64");
    // The fingerprint is that of the schema in the container's own header.
    const b64 = f.envelope.raw.base64;
    assert.ok(b64 !== null, "an Avro record is kept as base64");
    const container = decodeAvroContainer(fromBase64(b64));
    assert.equal(c.schemaFingerprint, avroSchemaId(container.schema).fingerprint);
    assert.match(c.schemaFingerprint, /^[0-9a-f]{64}$/);
    assert.equal(c.records.length, 1);
    const bytes = encodeEnvelope({ envelope: f.envelope });
    assert.deepEqual(HopEnvelope.parse(JSON.parse(dec.decode(bytes))), f.envelope);
  }
});

Deno.test("avroSchemaId: the Avro specification's canonical form, so formatting does not matter", () => {
  const a = {
    type: "record",
    name: "alert",
    namespace: "ztf",
    fields: [{ name: "x", type: "int" }],
  };
  const b = JSON.parse(JSON.stringify({ ...a, doc: "same schema, other text" }));
  assert.equal(avroSchemaId(a).name, "ztf.alert");
  assert.equal(avroSchemaId(a).fingerprint, avroSchemaId(b).fingerprint);
  const other = { ...a, fields: [{ name: "x", type: "long" }] };
  assert.notEqual(avroSchemaId(a).fingerprint, avroSchemaId(other).fingerprint);
  assert.equal(avroSchemaId({ type: "array", items: "int" }).name, "array");
});
