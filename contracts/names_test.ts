import assert from "node:assert/strict";
import {
  streamForSubject,
  STREAMS,
  subjectMatches,
  SUBJECTS,
  subjectsOverlap,
  token,
} from "./names.ts";

Deno.test("names: NATS wildcard matching", () => {
  assert.ok(subjectMatches("demo.>", "demo.ping"));
  assert.ok(subjectMatches("demo.>", "demo.a.b"));
  assert.ok(!subjectMatches("demo.>", "demo"));
  assert.ok(subjectMatches("a.*.c", "a.b.c"));
  assert.ok(!subjectMatches("a.*.c", "a.b.c.d"));
  assert.ok(!subjectMatches("a.*", "a"));
  assert.ok(subjectMatches("a.b", "a.b"));
  assert.ok(!subjectMatches("a.b", "a.c"));
});

Deno.test("names: streams never overlap, so every subject has one home", () => {
  const all = Object.values(STREAMS);
  for (const a of all) {
    for (const b of all) {
      if (a === b) continue;
      for (const p of a.subjects) {
        for (const q of b.subjects) {
          assert.ok(!subjectsOverlap(p, q), `${a.name} ${p} vs ${b.name} ${q}`);
        }
      }
    }
  }
  assert.equal(streamForSubject(SUBJECTS.demoPing)?.name, "KB_DEMO");
  assert.equal(streamForSubject(SUBJECTS.deadLetter("echo"))?.name, "KB_DLQ");
  assert.equal(streamForSubject("nowhere.at.all"), undefined);
});

Deno.test("names: tokens refuse dots and wildcards with a clear message", () => {
  assert.equal(token("echo-1_a"), "echo-1_a");
  assert.throws(() => token("a.b"), /cannot be used as a subject token/);
  assert.throws(() => token("a*"), /letters, digits/);
});
