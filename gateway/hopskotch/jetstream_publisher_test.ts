/**
 * The inbound gateway's JetStream publisher on the real local NATS: stored with
 * its headers and `Nats-Msg-Id`, duplicates reported, refusals and missing
 * streams as errors, many publishes in flight at once.
 */
import assert from "node:assert/strict";
import { connectTestNats } from "../../actors/runtime/testing.ts";
import { NoStreamError } from "../../actors/runtime/transport.ts";
import { HeaderBlock, JetStreamPublisher } from "./jetstream_publisher.ts";

const enc = new TextEncoder();

Deno.test("JetStream publisher: headers and Nats-Msg-Id stored, duplicates flagged, errors", async () => {
  const t = await connectTestNats("kb-test-jspub");
  const id = crypto.randomUUID().slice(0, 8);
  const stream = `KB_TEST_JSPUB_${id}`;
  const subject = `kbtest.jspub.${id}`;
  await t.ensureStream({
    name: stream,
    subjects: [`${subject}.>`],
    description: "jetstream_publisher_test (deleted at the end)",
    maxAgeMs: 60_000,
    duplicateWindowMs: 60_000,
  });
  const p = new JetStreamPublisher(t.nc, 2_000);
  try {
    const block = new HeaderBlock({ "kb-producer": "test", "kb-hop-format": "json" });
    const acks = await Promise.all(
      Array.from(
        { length: 300 },
        (_, i) => p.publish(`${subject}.a`, enc.encode(`{"n":${i}}`), block, `m-${i}`),
      ),
    );
    assert.deepEqual(acks.map((a) => a.seq), Array.from({ length: 300 }, (_, i) => i + 1));
    assert.ok(acks.every((a) => a.stream === stream && !a.duplicate));
    const again = await p.publish(`${subject}.a`, enc.encode("{}"), block, "m-7");
    assert.equal(again.duplicate, true);

    const stored = [];
    for await (const m of t.read(stream)) stored.push(m);
    assert.equal(stored.length, 300);
    assert.equal(new TextDecoder().decode(stored[7].data), '{"n":7}');
    assert.equal(stored[7].headers["kb-producer"], "test");
    assert.equal(stored[7].headers["kb-hop-format"], "json");
    assert.equal(stored[7].headers["Nats-Msg-Id"], "m-7");

    await assert.rejects(
      p.publish(`kbtest.jspub-nostream.${id}`, enc.encode("{}"), block, "x"),
      NoStreamError,
    );
    await assert.rejects(
      p.publish(`${subject}.a`, enc.encode("{}"), block, "two\r\nlines"),
      /invalid Nats-Msg-Id/,
    );
    assert.throws(() => new HeaderBlock({ "bad key": "v" }), /invalid NATS header/);
    assert.throws(() => new HeaderBlock({ k: "a\r\nb" }), /invalid NATS header/);
  } finally {
    p.close();
    await t.deleteStream(stream);
    await t.close();
  }
});
