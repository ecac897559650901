import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { HopEnvelope } from "../../contracts/messages.ts";
import { alertKindForTopic, parseTopicKinds } from "../../contracts/names.ts";
import { decodeAvroContainer, encodeAvroContainer } from "./avro.ts";
import { parseAuthToml, selectCredential } from "./auth.ts";
import { utf8 } from "./bytes.ts";
import { groupIdFor, loadKafkaConfig } from "./config.ts";
import { judgeRecord, type KafkaRecord } from "./envelope.ts";
import { parseStartPosition } from "./start.ts";
import { parseHopUrl } from "./url.ts";
import { isUuid, uuidFromBytes, uuidToBytes } from "./uuid.ts";
import { decodeHopRecord, hopHeaders, type KafkaHeaders } from "./wire.ts";
import { parseCircular } from "./cli.ts";
import { toHopRecord, uuidFromName } from "./outbound.ts";

const SCHEMA = {
  type: "record",
  name: "Alert",
  fields: [
    { name: "superevent_id", type: "string" },
    { name: "far", type: "double" },
    { name: "skymap", type: ["null", "bytes"], default: null },
  ],
};

Deno.test("uuid: 16 raw bytes both ways", () => {
  const id = crypto.randomUUID();
  assert.equal(uuidFromBytes(uuidToBytes(id)), id);
  assert.equal(uuidToBytes(id).byteLength, 16);
  assert.throws(() => uuidFromBytes(new Uint8Array(15)), /16 bytes/);
  assert.throws(() => uuidToBytes("nope"), /not a UUID/);
  assert.ok(isUuid(uuidFromName("x")));
  assert.equal(uuidFromName("x"), uuidFromName("x"));
});

Deno.test("hop URL: users, default port, several topics; passwords refused", () => {
  assert.deepEqual(parseHopUrl("kafka://alice@kafka.example.org/a.b,c-d"), {
    username: "alice",
    brokers: ["kafka.example.org:9092"],
    topics: ["a.b", "c-d"],
  });
  assert.deepEqual(parseHopUrl("kafka://127.0.0.1:19093/").topics, []);
  assert.throws(() => parseHopUrl("kafka://a:pw@host/t"), /password/);
  assert.throws(() => parseHopUrl("http://host/t"), /not a hop URL/);
  assert.throws(() => parseHopUrl("kafka://host/bad topic"), /not a Kafka topic/);
});

Deno.test("auth.toml: parsed and selected as hop-client does", () => {
  const creds = parseAuthToml(`
[[auth]]
username = "alice"
password = "a"
hostname = "kafka.example.org"
mechanism = "SCRAM_SHA_512"
ssl_ca_location = "/ca.pem"

[[auth]]
username = "bob"
password = "b"
hostname = "kafka.example.org:9092"

[[auth]]
username = "local"
password = "l"
hostname = "127.0.0.1:19093"
protocol = "SASL_PLAINTEXT"
`);
  assert.equal(creds[0].protocol, "SASL_SSL");
  assert.equal(creds[0].mechanism, "SCRAM-SHA-512");
  assert.equal(creds[0].caFile, "/ca.pem");
  assert.equal(creds[2].protocol, "SASL_PLAINTEXT");
  assert.equal(selectCredential(creds, "127.0.0.1:19093").username, "local");
  // alice (no port) and bob (:9092) both match the default port: ambiguous without a user.
  assert.throws(() => selectCredential(creds, "kafka.example.org:9092"), /several credentials/);
  assert.equal(selectCredential(creds, "kafka.example.org:9092", "bob").password, "b");
  assert.throws(() => selectCredential(creds, "other:9092"), /no credential/);
  assert.throws(() => parseAuthToml("x = 1"), /no \[\[auth\]\]/);
});

Deno.test("Kafka config: env credentials, auth.toml file, plaintext, and the group id rule", async () => {
  const env = {
    KB_KAFKA_USERNAME: "kb",
    KB_KAFKA_PASSWORD: "pw",
    KB_KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT",
  };
  const c = loadKafkaConfig({ url: "kafka://kb@127.0.0.1:19093/t", env });
  assert.equal(c.sasl?.username, "kb");
  assert.equal(c.protocol, "SASL_PLAINTEXT");
  assert.equal(c.sender, "kb");
  assert.equal(loadKafkaConfig({ url: "kafka://127.0.0.1:19092/t", env: {} }).sasl, undefined);
  const dir = await Deno.makeTempDir();
  const file = `${dir}/auth.toml`;
  await Deno.writeTextFile(
    file,
    `[[auth]]\nusername="u1"\npassword="p1"\nhostname="h:9093"\nprotocol="SASL_PLAINTEXT"\n`,
    { mode: 0o600 },
  );
  const f = loadKafkaConfig({ url: "kafka://h:9093/t", env: { KB_HOP_AUTH: file } });
  assert.equal(f.credentialSource, "auth.toml");
  assert.equal(f.sasl?.password, "p1");
  assert.throws(
    () => loadKafkaConfig({ url: "kafka://zed@h:9093/t", env: { KB_HOP_AUTH: file } }),
    /no credential was found/,
  );
  assert.equal(groupIdFor(c, undefined, "kilonova-inbound"), "kb-kilonova-inbound");
  assert.equal(groupIdFor(c, "kb-mine", "x"), "kb-mine");
  assert.throws(() => groupIdFor(c, "mine", "x"), /must start with "kb-"/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Avro object containers: round trip, bytes as base64, truncation detected", () => {
  const skymap = new Uint8Array([0, 1, 2, 250, 255]);
  const bytes = encodeAvroContainer(SCHEMA, [
    { superevent_id: "S170817a", far: 1e-10, skymap: Buffer.from(skymap) },
  ]);
  const c = decodeAvroContainer(bytes);
  assert.deepEqual(c.records, [{
    superevent_id: "S170817a",
    far: 1e-10,
    skymap: Buffer.from(skymap).toString("base64"),
  }]);
  const again = encodeAvroContainer(c.schema, c.records, { bytesAsBase64: true });
  assert.deepEqual(decodeAvroContainer(again).records, c.records);
  for (const cut of [3, 20, bytes.length - 20, bytes.length - 1]) {
    assert.throws(
      () => decodeAvroContainer(bytes.subarray(0, cut)),
      /truncated|magic|corrupt|sync/,
    );
  }
});

function headers(h: Record<string, string | Uint8Array>): KafkaHeaders {
  return Object.fromEntries(
    Object.entries(h).map(([k, v]) => [k, typeof v === "string" ? Buffer.from(v) : Buffer.from(v)]),
  );
}

Deno.test("decoding order: _format header, legacy envelope, JSON, bytes", () => {
  const id = crypto.randomUUID();
  const h = decodeHopRecord(utf8('{"a":1}'), {
    ...hopHeaders({ format: "json", id, sender: "s" }),
  });
  assert.equal(h.via, "header");
  assert.equal(h.headers.id, id);
  assert.equal(h.headers.sender, "s");
  assert.deepEqual(h.content, { format: "json", json: { a: 1 } });
  const legacy = decodeHopRecord(utf8('{"format":"blob","content":{"x":2}}'), undefined);
  assert.equal(legacy.via, "legacy");
  assert.deepEqual(legacy.content, { format: "json", json: { x: 2 } });
  const circ = decodeHopRecord(
    utf8('{"format":"circular","content":{"header":{"title":"T"},"body":"B"}}'),
    {},
  );
  assert.deepEqual(circ.content, { format: "circular", header: { title: "T" }, body: "B" });
  assert.equal(decodeHopRecord(utf8("[1,2]"), {}).via, "json");
  const raw = decodeHopRecord(new Uint8Array([0xff, 0xfe]), {});
  assert.equal(raw.via, "bytes");
  assert.equal(raw.format, "blob");
  // Unknown format names fall back to a blob, as hop-client does; the header is kept.
  const unknown = decodeHopRecord(utf8("x"), headers({ _format: "lvk-custom" }));
  assert.equal(unknown.format, "blob");
  assert.equal(unknown.headers.formatHeader, "lvk-custom");
  // hop reads the format case-insensitively.
  assert.equal(decodeHopRecord(utf8("1"), headers({ _format: "JSON" })).format, "json");
  assert.equal(decodeHopRecord(utf8("x"), headers({ _test: "true" })).headers.test, true);
});

Deno.test("every format decodes; bad payloads and headers are refused with a reason", () => {
  const vo = '<?xml version="1.0"?><voe:VOEvent ivorn="ivo://x" role="test"></voe:VOEvent>';
  const cases: [string, Uint8Array, string][] = [
    ["voevent", utf8(vo), "voevent"],
    ["gcntextnotice", utf8("TITLE: GCN\nNOTICE_TYPE: Fermi"), "gcntextnotice"],
    ["circular", utf8(JSON.stringify(parseCircular("TITLE: x\nNUMBER: 1\n\nbody"))), "circular"],
    ["external", utf8('{"url":"https://example.org/m"}'), "external"],
    ["blob", new Uint8Array([1, 2, 3]), "blob"],
    ["avro", encodeAvroContainer(SCHEMA, [{ superevent_id: "S", far: 1, skymap: null }]), "avro"],
  ];
  for (const [format, value, want] of cases) {
    assert.equal(decodeHopRecord(value, headers({ _format: format })).content.format, want);
  }
  const bad: [Record<string, string | Uint8Array>, Uint8Array, RegExp][] = [
    [{ _format: "json" }, new Uint8Array([0xff]), /UTF-8/],
    [{ _format: "json" }, utf8("{"), /not JSON/],
    [{ _format: "avro" }, utf8("Obj"), /Avro/],
    [{ _format: "voevent" }, utf8("<html/>"), /VOEvent/],
    [{ _format: "circular" }, utf8('{"header":1}'), /circular/],
    [{ _format: "external" }, utf8("{}"), /external/],
    [{ _format: "json", _id: new Uint8Array(5) }, utf8("1"), /_id has 5 bytes/],
    [{ _format: new Uint8Array([0xc3]) }, utf8("1"), /_format is not valid UTF-8/],
  ];
  for (const [h, value, re] of bad) assert.throws(() => decodeHopRecord(value, headers(h)), re);
  assert.throws(
    () => decodeHopRecord(utf8("1"), { _format: [Buffer.from("json"), Buffer.from("blob")] }),
    /appears 2 times/,
  );
});

Deno.test("envelopes match the HopEnvelope contract; verdicts for test, oversize, bad records", () => {
  const rec = (value: Uint8Array, h: KafkaHeaders): KafkaRecord => ({
    topic: "kilonova.igwn-gwalert",
    partition: 2,
    offset: "9007199254740993",
    timestamp: "1700000000000",
    key: Buffer.from("k"),
    value: Buffer.from(value),
    headers: h,
  });
  const opts = { topicKinds: [], maxRecordBytes: 100, includeTest: false };
  const id = crypto.randomUUID();
  const v = judgeRecord(rec(utf8('{"a":1}'), hopHeaders({ format: "json", id })), opts);
  assert.equal(v.action, "publish");
  if (v.action !== "publish") return;
  assert.equal(v.kind, "gw");
  assert.equal(v.msgId, `hop:${id}`);
  assert.deepEqual(HopEnvelope.parse(JSON.parse(JSON.stringify(v.envelope))), v.envelope);
  assert.equal(v.envelope.kafka.offset, "9007199254740993");
  const noId = judgeRecord(rec(utf8("1"), {}), opts);
  assert.equal(
    noId.action === "publish" && noId.msgId,
    "kafka:kilonova.igwn-gwalert:2:9007199254740993",
  );
  assert.equal(judgeRecord(rec(utf8("1"), headers({ _test: "true" })), opts).action, "skip_test");
  const big = judgeRecord(rec(new Uint8Array(200), {}), opts);
  assert.equal(big.action === "dead_letter" && big.reason, "oversize");
});

Deno.test("topic kinds: defaults by name, overrides first", () => {
  assert.equal(alertKindForTopic("igwn.gwalert"), "gw");
  assert.equal(alertKindForTopic("kilonova.igwn-gwalert"), "gw");
  assert.equal(alertKindForTopic("gcn.classic.voevent.FERMI_GBM_FLT_POS"), "gcn");
  assert.equal(alertKindForTopic("kilonova.gcn-notices"), "gcn");
  assert.equal(alertKindForTopic("ztf.alerts"), "optical");
  assert.equal(alertKindForTopic("anything.else"), "other");
  const rules = parseTopicKinds("kilonova.replay=gw, *.sims=optical");
  assert.equal(alertKindForTopic("kilonova.replay", rules), "gw");
  assert.throws(() => parseTopicKinds("x=planet"), /kind one of/);
});

Deno.test("start positions parse", () => {
  assert.deepEqual(parseStartPosition("EARLIEST"), { kind: "earliest" });
  assert.deepEqual(parseStartPosition("timestamp:1000"), { kind: "timestamp", timestampMs: 1000 });
  assert.equal(
    (parseStartPosition("timestamp:2017-08-17T12:41:04Z") as { timestampMs: number }).timestampMs,
    Date.parse("2017-08-17T12:41:04Z"),
  );
  assert.deepEqual(parseStartPosition("offsets:a.b:0:5,a.b:1:7"), {
    kind: "offsets",
    offsets: [{ topic: "a.b", partition: 0, offset: "5" }, {
      topic: "a.b",
      partition: 1,
      offset: "7",
    }],
  });
  assert.throws(() => parseStartPosition("yesterday"), /not one of/);
});

Deno.test("outbound records: content by format, ids stable, bad content rejected", () => {
  const j = toHopRecord({ format: "json", content: { a: 1 }, test: false }, "nats-1");
  assert.equal(new TextDecoder().decode(j.value), '{"a":1}');
  assert.equal(j.id, uuidFromName("nats-1"));
  const a = toHopRecord({
    format: "avro",
    content: { schema: SCHEMA, records: [{ superevent_id: "S", far: 2, skymap: "AAE=" }] },
    test: false,
  }, "n");
  assert.deepEqual(decodeAvroContainer(a.value).records[0], {
    superevent_id: "S",
    far: 2,
    skymap: "AAE=",
  });
  assert.throws(
    () => toHopRecord({ format: "voevent", content: "<html/>", test: false }, "n"),
    /VOEvent/,
  );
  assert.throws(
    () => toHopRecord({ format: "external", content: {}, test: false }, "n"),
    /external/,
  );
});

Deno.test("Avro: corrupt counts and random bytes fail fast instead of looping", () => {
  const t0 = Date.now();
  for (let i = 0; i < 2000; i++) {
    const junk = new Uint8Array(4 + (i % 60));
    crypto.getRandomValues(junk);
    junk.set([0x4f, 0x62, 0x6a, 0x01]);
    try {
      decodeAvroContainer(junk);
    } catch (err) {
      assert.match((err as Error).message, /.+/);
    }
  }
  // A map count of 2^40 in the header.
  const huge = new Uint8Array([0x4f, 0x62, 0x6a, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
  assert.throws(() => decodeAvroContainer(huge), /implausible|truncated|corrupt/);
  assert.ok(Date.now() - t0 < 5_000, "decoding junk is fast");
});
