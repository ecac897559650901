import assert from "node:assert/strict";
import { z } from "zod";
import {
  ClassificationResult,
  DeadLetter,
  DerivedAlertOutbound,
  HopEnvelope,
  HopOutbound,
  Pong,
} from "../../contracts/messages.ts";
import { resultFixture } from "../results_publisher/testing.ts";
import { buildDerivedAlert } from "../results_publisher/derived.ts";
import { envelope } from "../classifier/testing.ts";
import { inPlaceCheck, validate } from "./in_place.ts";

const derived = {
  format: "json" as const,
  content: buildDerivedAlert(resultFixture("ZTF25aaaaaaa", 0.8, ["a1", "a2"]), {
    resultId: "r1",
    revision: 2,
    topic: "kilonova.results",
    submitter: "kb",
    authors: "kb",
    candidate: {
      candidate_id: "ZTF25aaaaaaa",
      ra: 197.45,
      dec: -23.38,
      first_mjd: 57983.5,
    } as never,
    photometry: [
      {
        candidate_id: "ZTF25aaaaaaa",
        mjd: 57983.97,
        band: "g",
        mag: 17.5,
        mag_err: 0.03,
        limiting_mag: 20.1,
        upper_limit: false,
        mag_system: "AB",
        instrument: "ZTF/ZTF",
      },
      {
        candidate_id: "ZTF25aaaaaaa",
        mjd: 57984.97,
        band: "r",
        mag: null,
        mag_err: null,
        limiting_mag: 20.4,
        upper_limit: true,
        mag_system: "AB",
        instrument: "ZTF",
      },
    ] as never,
    inputs: [
      { msg_id: "a1", hop_id: null, topic: "t", kafka_partition: 0, kafka_offset: 7 },
    ] as never,
  }),
  id: "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f",
  test: false,
  key: "ZTF25aaaaaaa",
};

/** Valid messages as the pipeline makes them, by schema. */
const SAMPLES: [string, z.ZodType, unknown][] = [
  ["ClassificationResult", ClassificationResult, resultFixture("ZTF25x", 0.7, ["m1", "m2"])],
  ["DerivedAlertOutbound", DerivedAlertOutbound, derived],
  ["HopOutbound", HopOutbound, derived],
  [
    "HopEnvelope",
    HopEnvelope,
    envelope("optical", { object_id: "ZTF25x", candidate: { jd: 2460000.5, magpsf: 18 } }, 3),
  ],
  ["Pong", Pong, {
    seq: 1,
    sentAt: 2,
    pingId: "p",
    replica: "r",
    attempt: 1,
    handledAt: 3,
  }],
  ["DeadLetter", DeadLetter, {
    actor: "a",
    replica: "r",
    reason: "schema",
    detail: "",
    attempts: 1,
    deadLetteredAt: "x",
    original: { subject: "s", id: "i", headers: { a: "b" }, dataBase64: "", size: 0 },
  }],
];

const clone = <T>(v: T): T => structuredClone(v);

/** Every path to a value inside `v` (objects and arrays), the root first. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  }
  return out;
}

const REPLACEMENTS: unknown[] = [
  undefined,
  null,
  "",
  "x",
  "2017-08-17T12:41:04.446Z",
  0,
  -1,
  1.5,
  2,
  1e300,
  NaN,
  Infinity,
  true,
  {},
  [],
  ["x"],
  { a: 1 },
  new Date(0),
];

/** `v` with the value at `path` replaced (`undefined`: deleted). */
function replaced(v: unknown, path: (string | number)[], x: unknown): unknown {
  if (!path.length) return x;
  const root = clone(v) as Record<string | number, unknown>;
  let o = root;
  for (const p of path.slice(0, -1)) o = o[p] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (x === undefined && !Array.isArray(o)) delete o[last];
  else o[last] = x;
  return root;
}

/** Variants of a valid value: each place replaced by each odd value, and an extra key in each object. */
function variants(v: unknown): unknown[] {
  const out: unknown[] = [];
  for (const p of paths(v)) {
    for (const x of REPLACEMENTS) out.push(replaced(v, p, x));
    const here = p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], v);
    if (here && typeof here === "object" && !Array.isArray(here)) {
      out.push(replaced(v, p, { ...here, zzExtra: 1 }));
    }
    if (Array.isArray(here)) out.push(replaced(v, p, []));
  }
  return out;
}

Deno.test("valid pipeline messages pass in place, as they are", () => {
  for (const [name, schema, sample] of SAMPLES) {
    assert.equal(inPlaceCheck(schema)(sample), true, `${name}: in-place check refused it`);
    assert.deepEqual(schema.parse(sample), sample, `${name}: zod changes it`);
    const v = validate(schema, sample);
    assert.ok(v.success);
    assert.equal(v.data, sample, `${name}: validate should return the value itself`);
  }
});

Deno.test("the in-place check never passes what zod rejects or changes", () => {
  let passed = 0, refused = 0;
  for (const [name, schema, sample] of SAMPLES) {
    const check = inPlaceCheck(schema);
    for (const v of variants(sample)) {
      const z = schema.safeParse(v);
      if (check(v)) {
        passed++;
        assert.ok(z.success, `${name}: passed in place, zod rejects ${JSON.stringify(v)}`);
        assert.deepEqual(z.data, v, `${name}: passed in place, zod changes ${JSON.stringify(v)}`);
      } else {
        refused++;
        // validate gives zod's verdict.
        assert.equal(validate(schema, v, check).success, z.success);
      }
    }
  }
  // Both sides were exercised (replacements that keep a message valid, and ones that break it).
  assert.ok(passed > 50 && refused > 500, `passed ${passed}, refused ${refused}`);
});

Deno.test("what the check leaves to zod: defaults, stripped keys, transforms, class instances", () => {
  const withDefault = z.object({ a: z.string(), b: z.number().default(1) });
  assert.equal(inPlaceCheck(withDefault)({ a: "x" }), false);
  assert.equal(inPlaceCheck(withDefault)({ a: "x", b: 2 }), true);
  assert.deepEqual(validate(withDefault, { a: "x" }), { success: true, data: { a: "x", b: 1 } });
  const stripped = z.object({ a: z.string() });
  assert.equal(inPlaceCheck(stripped)({ a: "x", extra: 1 }), false);
  assert.equal(inPlaceCheck(z.looseObject({ a: z.string() }))({ a: "x", extra: 1 }), true);
  assert.equal(inPlaceCheck(z.strictObject({ a: z.string() }))({ a: "x", extra: 1 }), false);
  assert.equal(inPlaceCheck(z.string().trim())(" x"), false);
  assert.equal(inPlaceCheck(z.string().transform((s) => s.length))("x"), false);
  assert.equal(inPlaceCheck(z.coerce.number())(1), false);
  class P {
    a = "x";
  }
  assert.equal(inPlaceCheck(stripped)(new P()), false);
  // refine and formats are zod's own checks, run on the value.
  const refined = z.record(z.string(), z.number()).refine((r) => Object.keys(r).length > 0);
  assert.equal(inPlaceCheck(refined)({}), false);
  assert.equal(inPlaceCheck(refined)({ a: 1 }), true);
  assert.equal(inPlaceCheck(z.guid())("not-a-guid"), false);
  assert.equal(inPlaceCheck(z.iso.datetime())("2017-08-17T12:41:04.446Z"), true);
  assert.equal(inPlaceCheck(z.number().int())(1.5), false);
  assert.equal(inPlaceCheck(z.string().min(2))("é"), false);
});

Deno.test("unions: an option answers only when every earlier one surely rejects the value", () => {
  // zod returns the first option that accepts: here the object with the default filled.
  const u = z.union([z.object({ a: z.number().default(1) }), z.object({})]);
  assert.equal(inPlaceCheck(u)({}), false);
  assert.deepEqual(u.parse({}), { a: 1 });
  const v = z.union([z.string(), z.number()]);
  assert.equal(inPlaceCheck(v)(1), true);
  assert.equal(inPlaceCheck(v)(true), false);
});
