/**
 * Bad input: 1,100 generated hostile records (truncated Avro, invalid UTF-8,
 * over the size limit, malformed hop headers, `_id`s of the wrong length,
 * schema-violating payloads) interleaved with 600 valid ones. Every hostile
 * record is dead-lettered with its topic/partition/offset and reason, every
 * valid record arrives, and the gateway keeps going.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import client from "prom-client";
import { CHANNELS, type DeadLetter, HopEnvelope } from "../../contracts/messages.ts";
import { STREAMS, SUBJECTS } from "../../contracts/names.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import { connectTestNats, waitFor } from "../../actors/runtime/testing.ts";
import { encodeAvroContainer } from "./avro.ts";
import { INBOUND_NAME, startInbound } from "./inbound.ts";
import { kafkaClient } from "./kafka.ts";
import { gatewayMetrics } from "./metrics.ts";
import { createTopics, kafkaTestConfig, testTopic } from "./testing.ts";
import { uuidToBytes } from "./uuid.ts";

type Headers = Record<string, Buffer | Buffer[]>;
interface Case {
  value: Buffer;
  headers: Headers;
  /** Expected dead-letter reason, or undefined for a valid record. */
  reason?: "undecodable" | "schema" | "oversize";
  id?: string;
}

const LIMIT = 64 * 1024;
const b = (s: string | Uint8Array) => typeof s === "string" ? Buffer.from(s) : Buffer.from(s);
const rand = (n: number) => Math.floor(Math.random() * n);
import { randomBytes } from "node:crypto";
const badUtf8 = () =>
  Buffer.concat([b('{"a":"'), b(new Uint8Array([0xc3, 0x28, 0xff, 0xfe])), b('"}')]);
const AVRO = encodeAvroContainer(
  {
    type: "record",
    name: "A",
    fields: [{ name: "s", type: "string" }, { name: "b", type: "bytes" }],
  },
  [{ s: "S170817a", b: randomBytes(300) }, { s: "S190425z", b: randomBytes(300) }],
);

/** Where the container's header ends (its first sync marker, as the last 16 bytes). */
const AVRO_HEADER_END = Buffer.from(AVRO).indexOf(Buffer.from(AVRO.subarray(AVRO.length - 16))) +
  16;

function hostile(i: number): Case {
  const kind = i % 11;
  switch (kind) {
    case 0: // truncated Avro
    case 1: {
      // Any cut but the header's end: a header alone is a valid, empty container.
      let cut = 1 + rand(AVRO.length - 2);
      if (cut === AVRO_HEADER_END) cut++;
      return {
        value: b(AVRO.subarray(0, cut)),
        headers: { _format: b("avro") },
        reason: "undecodable",
      };
    }
    case 2: // invalid UTF-8 where text is promised
      return {
        value: badUtf8(),
        headers: { _format: b(["json", "voevent", "gcntextnotice", "circular"][rand(4)]) },
        reason: "undecodable",
      };
    case 3: // not JSON
      return {
        value: b(['{"a":', "nope", "{]", ""][rand(4)]),
        headers: { _format: b("json") },
        reason: "undecodable",
      };
    case 4: // huge
      return {
        value: randomBytes(LIMIT + 1 + rand(LIMIT)),
        headers: { _format: b("blob") },
        reason: "oversize",
      };
    case 5: // _id of the wrong length
    case 6: {
      const len = [0, 1, 8, 15, 17, 32, 36][rand(7)];
      return {
        value: b('{"ok":1}'),
        headers: { _format: b("json"), _id: randomBytes(len) },
        reason: "schema",
      };
    }
    case 7: // conflicting or non-UTF-8 headers
      return rand(2)
        ? { value: b("1"), headers: { _format: [b("json"), b("avro")] }, reason: "schema" }
        : {
          value: b("1"),
          headers: { _format: b(new Uint8Array([0xff, 0x00])), _sender: b("x") },
          reason: "schema",
        };
    case 8:
      return {
        value: b("1"),
        headers: { _format: b("json"), _sender: b(new Uint8Array([0xc0, 0xaf])) },
        reason: "schema",
      };
    case 9: // payloads that violate their format's structure
      return [
        {
          value: b('{"header":{"title":"x"}}'),
          headers: { _format: b("circular") },
          reason: "schema" as const,
        },
        { value: b('{"uri":"x"}'), headers: { _format: b("external") }, reason: "schema" as const },
        {
          value: b("<html>not a VOEvent</html>"),
          headers: { _format: b("voevent") },
          reason: "schema" as const,
        },
      ][rand(3)];
    default: // Avro with garbage after the magic
      return {
        value: Buffer.concat([b("Obj\x01"), randomBytes(40)]),
        headers: { _format: b("avro") },
        reason: "undecodable",
      };
  }
}

function valid(i: number): Case {
  const id = crypto.randomUUID();
  const headers = { _id: b(uuidToBytes(id)), _sender: b("kb") };
  switch (i % 3) {
    case 0:
      return {
        id,
        value: b(JSON.stringify({ valid: i })),
        headers: { ...headers, _format: b("json") },
      };
    case 1:
      return {
        id,
        value: b(`<voe:VOEvent ivorn="ivo://x#${i}"></voe:VOEvent>`),
        headers: { ...headers, _format: b("voevent") },
      };
    default:
      return { id, value: randomBytes(100), headers: { ...headers, _format: b("blob") } };
  }
}

// On both thread layouts: with 2, the records are judged and dead letters built in the worker.
for (const threads of [1, 2] as const) {
  Deno.test(
    `bad input: 1,100 hostile records dead-lettered with reasons, 600 valid ones arrive [${threads} thread${
      threads === 1 ? "" : "s"
    }]`,
    {
      sanitizeOps: false,
      sanitizeResources: false,
    },
    async () => {
      const t = await connectTestNats("hop-hostile-test");
      const topic = testTopic("hostile");
      await createTopics([topic], 2);
      const cases: Case[] = [];
      for (let i = 0, h = 0, v = 0; h < 1100 || v < 600; i++) {
        if ((i % 3 === 2 && v < 600) || h >= 1100) cases.push(valid(v++));
        else cases.push(hostile(h++));
      }
      const producer = kafkaClient(kafkaTestConfig()).producer({ allowAutoTopicCreation: false });
      await producer.connect();
      for (let i = 0; i < cases.length; i += 100) {
        await producer.send({
          topic,
          acks: -1,
          messages: cases.slice(i, i + 100).map((c) => ({ value: c.value, headers: c.headers })),
        });
      }
      await producer.disconnect();
      const gw = await startInbound({
        kafka: kafkaTestConfig([topic]),
        start: { kind: "earliest" },
        group: `kb-${topic}`,
        threads,
        maxRecordBytes: LIMIT,
        transport: t,
        log: createLogger({ level: "error" }),
        metrics: gatewayMetrics(new client.Registry()),
        replica: "test",
      });
      const dec = new TextDecoder();
      try {
        await waitFor("every record handled", () => {
          const s = gw.stats();
          return s.deadLettered + s.published + s.duplicates >= cases.length;
        }, 60_000);
        assert.ok(gw.ready(), "the gateway keeps going");
        const letters: DeadLetter[] = [];
        for await (
          const m of t.read(STREAMS.deadLetters.name, {
            subject: SUBJECTS.deadLetter(INBOUND_NAME),
          })
        ) {
          const d = CHANNELS.deadLetters.schema.parse(JSON.parse(dec.decode(m.data)));
          if (d.original.headers["kafka-topic"] === topic) letters.push(d);
        }
        const hostileCases = cases.filter((c) => c.reason);
        assert.equal(letters.length, hostileCases.length, "one dead letter per hostile record");
        const byReason = (list: { reason?: string }[]) =>
          list.reduce<Record<string, number>>(
            (acc, c) => ({ ...acc, [c.reason!]: (acc[c.reason!] ?? 0) + 1 }),
            {},
          );
        assert.deepEqual(byReason(letters), byReason(hostileCases));
        for (const d of letters) {
          assert.match(d.detail, new RegExp(`kafka ${topic.replaceAll(".", "\\.")}:\\d:\\d+`));
          assert.match(d.original.headers["kafka-offset"], /^\d+$/);
          assert.match(d.original.headers["kafka-partition"], /^[01]$/);
          assert.ok(d.detail.length > 10);
        }
        // Kept whole: the bytes of a dead letter are the record's.
        const huge = letters.find((d) => d.reason === "oversize")!;
        assert.ok(huge.original.size > LIMIT);
        assert.equal(Buffer.from(huge.original.dataBase64, "base64").length, huge.original.size);
        const arrived = new Set<string>();
        for await (const m of t.read(STREAMS.alertsIn.name)) {
          // The shared stream holds other runs' envelopes (possibly of an older contract).
          const raw = JSON.parse(dec.decode(m.data));
          if (raw?.kafka?.topic !== topic) continue;
          const e = HopEnvelope.parse(raw);
          if (e.hop.id) arrived.add(e.hop.id);
        }
        const validCases = cases.filter((c) => !c.reason);
        assert.equal(validCases.length, 600);
        for (const c of validCases) assert.ok(arrived.has(c.id!), `valid record ${c.id} arrived`);
        assert.equal(gw.stats().deadLettered, 1100);
      } finally {
        await gw.stop();
        await t.close();
      }
    },
  );
}
