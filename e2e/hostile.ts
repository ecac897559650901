/**
 * Hostile Kafka records for the abuse suite, generated with fast-check
 * (property-based generators, seeded, so a failing input can be replayed):
 * truncated and invalid Avro, Avro of the wrong schema, invalid UTF-8, deep and
 * huge JSON, wrong types, NaN/Infinity, extreme coordinates, and header
 * injection — malformed hop headers (dead-lettered) and headers that try to
 * steer the bus (`Nats-Msg-Id`, `Nats-Expected-*`, the gateway's own `kafka-*`
 * and `kb-*` names), which must change nothing: those records are valid alerts
 * and must arrive as themselves.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import fc from "fast-check";
import type { OpticalAlertContent, OpticalCandidate } from "../contracts/messages.ts";
import { encodeOpticalAlert, type Encoders } from "../actors/source_publisher/payloads.ts";
import { encodeAvroContainer } from "../gateway/hopskotch/avro.ts";
import { uuidToBytes } from "../gateway/hopskotch/uuid.ts";
import { Rng } from "../actors/source_publisher/synthetic/rng.ts";
import { seededUuid } from "./sky.ts";

/** Kafka headers as kafkajs sends them. */
export type KafkaHeaders = Record<string, Buffer | Buffer[]>;

/** One generated record. */
export interface HostileCase {
  /** What kind of hostility (for the per-category counts). */
  readonly category: string;
  readonly value: Buffer;
  readonly headers: KafkaHeaders;
  /** `dead-letter`: must be dead-lettered with a reason; `arrive`: a valid alert under hostile headers. */
  readonly expect: "dead-letter" | "arrive";
  /** The hop `_id` when the record carries a valid one. */
  readonly id?: string;
}

const b = (s: string | Uint8Array) => Buffer.from(s as Uint8Array);

function hopHeaders(format: string, id: string): KafkaHeaders {
  return { _format: b(format), _id: b(uuidToBytes(id)), _sender: b("kb-e2e-abuse") };
}

/** A well-formed optical measurement; `over` replaces fields. */
function candidate(candid: number, over: Partial<Record<keyof OpticalCandidate, unknown>> = {}) {
  return {
    candid,
    mjd: 60000.5 + (candid % 100_000) / 1e6, // within a day of MJD 60000.5: never "in the future"
    ra: 197.45,
    dec: -23.38,
    band: "r",
    mag: 19.5,
    mag_err: 0.05,
    limiting_mag: 21,
    upper_limit: false,
    mag_system: "AB",
    instrument: "ZTF/ZTF-cam",
    reference: null,
    ...over,
  } as OpticalCandidate;
}

/** A `kb.optical.v1.Alert` Avro container. */
function opticalAvro(enc: Encoders, id: string, cand: OpticalCandidate, objectId: string) {
  const alert: OpticalAlertContent = {
    schemavsn: "1.0",
    publisher: "kb-e2e-abuse",
    alert_id: id,
    object_id: objectId,
    survey: "ZTF",
    candidate: cand,
    prv_candidates: null,
  };
  return encodeOpticalAlert(enc, alert);
}

// Unique, seeded ids: fast-check's own uuid() repeats values on purpose (edge-case bias), and two
// records with one hop `_id` are one record to the gateway (the second is dropped as a duplicate).
let ids = new Rng(0);
const uuid = fc.constant(0).map(() => seededUuid(ids));
const candid = fc.integer({ min: 1, max: 2 ** 31 - 1 });
const extremeNumber = fc.constantFrom(
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
);

/** The hostile-record generator. */
export function hostileArbitrary(enc: Encoders): fc.Arbitrary<HostileCase> {
  const truncatedAvro = fc.tuple(uuid, candid, fc.double({ min: 0, max: 1, noNaN: true })).map(
    ([id, c, frac]) => {
      const whole = opticalAvro(enc, id, candidate(c), `KBX-${c}`);
      const cut = 1 + Math.floor(frac * (whole.length - 2));
      return {
        category: "truncated Avro",
        value: b(whole.subarray(0, cut)),
        headers: hopHeaders("avro", id),
        expect: "dead-letter" as const,
      };
    },
  );
  const garbageAvro = fc.tuple(uuid, fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.boolean())
    .map(([id, bytes, magic]) => ({
      category: "invalid Avro",
      value: magic ? Buffer.concat([b("Obj\x01"), b(bytes)]) : b(bytes),
      headers: hopHeaders("avro", id),
      expect: "dead-letter" as const,
    }));
  const wrongSchemaAvro = fc.tuple(
    uuid,
    fc.constantFrom("string", "int", "boolean", "bytes"),
    fc.oneof(fc.string(), fc.integer(), fc.boolean()),
  ).map(([id, type, v]) => {
    const value = type === "string"
      ? String(v)
      : type === "int"
      ? Number(v) | 0
      : type === "boolean"
      ? Boolean(v)
      : b(String(v));
    return {
      category: "wrong types (Avro of another schema)",
      value: b(encodeAvroContainer(
        {
          type: "record",
          name: "Alert",
          namespace: "kb.optical.v1",
          fields: [{ name: "alert_id", type: "string" }, { name: "candidate", type }],
        },
        [{ alert_id: id, candidate: value }],
      )),
      headers: hopHeaders("avro", id),
      expect: "dead-letter" as const,
    };
  });
  const invalidUtf8 = fc.tuple(
    uuid,
    fc.constantFrom("json", "voevent", "gcntextnotice", "circular"),
    fc.constantFrom([0xc3, 0x28], [0xff], [0xfe, 0xff], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x80]),
    fc.nat({ max: 20 }),
  ).map(([id, format, bad, at]) => {
    const text = b(`{"alert":"${"x".repeat(20)}"}`);
    const i = Math.min(at + 2, text.length - 1);
    return {
      category: "invalid UTF-8",
      value: Buffer.concat([text.subarray(0, i), b(new Uint8Array(bad)), text.subarray(i)]),
      headers: hopHeaders(format, id),
      expect: "dead-letter" as const,
    };
  });
  const deepJson = fc.tuple(uuid, fc.integer({ min: 2_000, max: 50_000 }), fc.boolean()).map(
    ([id, depth, arr]) => ({
      category: "deep JSON",
      value: b(
        arr ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" +
          "}".repeat(depth),
      ),
      headers: hopHeaders("json", id),
      expect: "dead-letter" as const,
    }),
  );
  const wrongTypesJson = fc.tuple(uuid, fc.jsonValue({ maxDepth: 4 })).map(([id, v]) => ({
    category: "wrong types (JSON for an Avro topic)",
    value: b(JSON.stringify({ candidate: v, ra: "NaN", dec: [v] })),
    headers: hopHeaders("json", id),
    expect: "dead-letter" as const,
  }));
  const badNumbers = fc.tuple(
    uuid,
    candid,
    fc.constantFrom("ra", "dec", "mag", "mag_err", "mjd", "limiting_mag"),
    extremeNumber,
  ).map(([id, c, field, x]) => ({
    category: "NaN/Infinity",
    value: b(opticalAvro(enc, id, candidate(c, { [field]: x }), `KBX-${c}`)),
    headers: hopHeaders("avro", id),
    expect: "dead-letter" as const,
    id,
  }));
  const extremeCoords = fc.tuple(
    uuid,
    candid,
    fc.oneof(
      fc.record({
        ra: fc.oneof(
          fc.double({ min: 360, max: 1e300, noNaN: true }),
          fc.double({
            min: -1e300,
            max: -1e-9,
            noNaN: true,
          }),
        ),
        dec: fc.double({ min: -90, max: 90, noNaN: true }),
      }),
      fc.record({
        ra: fc.double({ min: 0, max: 359.999, noNaN: true }),
        dec: fc.oneof(
          fc.double({ min: 90.000001, max: 1e300, noNaN: true }),
          fc.double({ min: -1e300, max: -90.000001, noNaN: true }),
        ),
      }),
    ),
  ).map(([id, c, pos]) => ({
    category: "extreme coordinates",
    value: b(opticalAvro(enc, id, candidate(c, pos), `KBX-${c}`)),
    headers: hopHeaders("avro", id),
    expect: "dead-letter" as const,
    id,
  }));
  const badHeaders = fc.tuple(uuid, candid, fc.nat({ max: 6 }), fc.string({ maxLength: 12 })).map(
    ([id, c, kind, s]) => {
      const value = b(opticalAvro(enc, id, candidate(c), `KBX-${c}`));
      const h = hopHeaders("avro", id);
      switch (kind) {
        case 0:
          h._format = b(`avro\r\nNats-Msg-Id: ${s}`);
          break;
        case 1:
          h._format = [b("avro"), b("json")];
          break;
        case 2:
          h._format = b(new Uint8Array([0xff, 0xfe, 0x00]));
          break;
        case 3:
          h._id = b(uuidToBytes(id).subarray(0, 15));
          break;
        case 4:
          h._id = Buffer.concat([b(uuidToBytes(id)), b("\r\n")]);
          break;
        case 5:
          h._sender = b(new Uint8Array([0xc0, 0xaf, 0x0d, 0x0a]));
          break;
        default:
          h._format = b(`x-${s}`); // no hop format starts with "x-"
      }
      return {
        category: "header injection (malformed hop headers)",
        value,
        headers: h,
        expect: "dead-letter" as const,
      };
    },
  );
  const steeringHeaders = fc.tuple(uuid, uuid, candid, fc.nat({ max: 3 })).map(
    ([id, other, c, kind]) => {
      const h = hopHeaders("avro", id);
      const injected: KafkaHeaders = [
        { "Nats-Msg-Id": b(`hop:${other}`) },
        { "Nats-Expected-Last-Sequence": b("1"), "Nats-Expected-Stream": b("KB_DLQ") },
        { "kafka-offset": b("0"), "kafka-topic": b("igwn.gwalert"), "Nats-Rollup": b("all") },
        { "kb-dead-letter-reason": b("schema"), "kb-producer": b("attacker") },
      ][kind];
      return {
        category: "header injection (bus-steering headers on a valid alert)",
        value: b(opticalAvro(enc, id, candidate(c), `KBH-${c % 500}`)),
        headers: { ...h, ...injected },
        expect: "arrive" as const,
        id,
      };
    },
  );
  return fc.oneof(
    { arbitrary: truncatedAvro, weight: 3 },
    { arbitrary: garbageAvro, weight: 2 },
    { arbitrary: wrongSchemaAvro, weight: 2 },
    { arbitrary: invalidUtf8, weight: 2 },
    { arbitrary: deepJson, weight: 1 },
    { arbitrary: wrongTypesJson, weight: 2 },
    { arbitrary: badNumbers, weight: 3 },
    { arbitrary: extremeCoords, weight: 3 },
    { arbitrary: badHeaders, weight: 3 },
    { arbitrary: steeringHeaders, weight: 1 },
  );
}

/** `n` records of `arbitrary` from `seed`, each with a hop `_id` of its own. */
export function sampleCases(
  arbitrary: fc.Arbitrary<HostileCase>,
  n: number,
  seed: number,
): HostileCase[] {
  ids = new Rng(seed, 7);
  return fc.sample(arbitrary, { numRuns: n, seed });
}

/** Huge JSON (valid, 300–880 kB: over the gateway limit the suite sets, under Kafka's). */
export function hugeJsonArbitrary(): fc.Arbitrary<HostileCase> {
  return fc.tuple(uuid, fc.integer({ min: 300_000, max: 880_000 })).map(
    ([id, size]) => ({
      category: "huge JSON",
      value: b(JSON.stringify({ pad: "k".repeat(size) })),
      headers: hopHeaders("json", id),
      expect: "dead-letter" as const,
    }),
  );
}
