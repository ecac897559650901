/**
 * `deno task hop publish|subscribe` against the real local Kafka, as a person
 * runs it: JSON lines in, decoded envelopes (or raw values) out, test messages
 * skipped unless asked for, and a missing topic is not an error.
 */
import assert from "node:assert/strict";
import { createTopics, kafkaTestEnv, kafkaTestUrl, testTopic } from "./testing.ts";

const ROOT = new URL("../../", import.meta.url);

async function hop(
  args: string[],
  stdin?: string,
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "gateway/hopskotch/cli.ts", ...args],
    cwd: ROOT,
    env: kafkaTestEnv(),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const r = await child.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

Deno.test("CLI: publish JSON lines, subscribe from earliest to the end, raw and decoded", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const topic = testTopic("cli");
  await createTopics([topic]);
  const url = kafkaTestUrl([topic]);
  const pub = await hop(["publish", "-f", "json", url], '{"a":1}\n{"b":[2,3]}\n');
  assert.equal(pub.code, 0, pub.err);
  assert.match(pub.err, /published 2 message/);
  const test = await hop(["publish", "-f", "blob", "-t", url], "a test blob\n");
  assert.equal(test.code, 0, test.err);

  const raw = await hop(["subscribe", "-s", "earliest", "-e", url]);
  assert.equal(raw.code, 0, raw.err);
  assert.deepEqual(raw.out.trim().split("\n"), ['{"a":1}', '{"b":[2,3]}']);

  const decoded = await hop(["subscribe", "-s", "earliest", "-e", "-j", "-t", url]);
  assert.equal(decoded.code, 0, decoded.err);
  const envs = decoded.out.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(envs.length, 3);
  assert.deepEqual(envs[1].content, { format: "json", json: { b: [2, 3] } });
  assert.equal(envs[1].hop.sender, "kb");
  assert.equal(envs[2].hop.test, true);
  assert.equal(envs[2].hop.format, "blob");

  const missing = await hop([
    "subscribe",
    "-s",
    "earliest",
    "-e",
    kafkaTestUrl([testTopic("none")]),
  ]);
  assert.equal(missing.code, 0, missing.err);
  assert.match(missing.err, /does not exist/);
  const bad = await hop(["publish", "-f", "nope", url], "x\n");
  assert.equal(bad.code, 1);
  assert.match(bad.err, /unknown format/);
});
