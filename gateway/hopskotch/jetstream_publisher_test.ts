/**
 * The inbound gateway's header sections: encoded as NATS reads them (stored on
 * the real local NATS through the runtime's publisher, headers and
 * `Nats-Msg-Id` read back, a repeated id reported as a duplicate), and invalid
 * headers refused. The publisher itself is tested in
 * actors/runtime/nats_publisher_test.ts.
 */
import assert from "node:assert/strict";
import { PipelinedPublisher } from "../../actors/runtime/nats_publisher.ts";
import { connectTestNats } from "../../actors/runtime/testing.ts";
import { ByteSlab } from "./bytes.ts";
import { HeaderBlock, writeHeaders } from "./jetstream_publisher.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("writeHeaders: the block's lines, Nats-Msg-Id and the blank line; invalid input refused", () => {
  const slab = new ByteSlab(4096);
  const block = new HeaderBlock({ "kb-producer": "test", "kb-hop-format": "json" });
  assert.equal(dec.decode(block.bytes), "NATS/1.0\r\nkb-producer: test\r\nkb-hop-format: json\r\n");
  const a = writeHeaders(block, "m-1", slab);
  const b = writeHeaders(block, "ünïcode-2", slab);
  assert.equal(
    dec.decode(a),
    "NATS/1.0\r\nkb-producer: test\r\nkb-hop-format: json\r\nNats-Msg-Id: m-1\r\n\r\n",
  );
  assert.equal(dec.decode(b).slice(block.bytes.byteLength), "Nats-Msg-Id: ünïcode-2\r\n\r\n");
  assert.equal(dec.decode(a).slice(block.bytes.byteLength), "Nats-Msg-Id: m-1\r\n\r\n", "a kept");
  assert.throws(() => writeHeaders(block, "two\r\nlines", slab), /invalid Nats-Msg-Id/);
  assert.throws(() => new HeaderBlock({ "bad key": "v" }), /invalid NATS header/);
  assert.throws(() => new HeaderBlock({ "k:": "v" }), /invalid NATS header/);
  assert.throws(() => new HeaderBlock({ k: "a\r\nb" }), /invalid NATS header/);
});

Deno.test("header sections stored as written through PipelinedPublisher.send, repeated ids duplicates", async () => {
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
  const p = new PipelinedPublisher(t.nc, 5_000);
  try {
    const slab = new ByteSlab(64 * 1024);
    const block = new HeaderBlock({ "kb-producer": "test", "kb-hop-format": "json" });
    const n = 300;
    // Message n repeats the id of message 7.
    const ids = [...Array.from({ length: n }, (_, i) => `m-${i}`), "m-7"];
    const outcomes = await new Promise<(Error | boolean)[]>((resolve) => {
      const out: (Error | boolean)[] = [];
      let left = ids.length;
      ids.forEach((msgId, i) =>
        p.send(
          `${subject}.a`,
          enc.encode(`{"n":${i}}`),
          writeHeaders(block, msgId, slab),
          (tag, err, duplicate) => {
            out[tag] = err ?? duplicate;
            if (--left === 0) resolve(out);
          },
          i,
        )
      );
    });
    assert.deepEqual(outcomes, [...Array(n).fill(false), true]);

    const stored = [];
    for await (const m of t.read(stream)) stored.push(m);
    assert.equal(stored.length, n);
    assert.equal(dec.decode(stored[7].data), '{"n":7}');
    assert.equal(stored[7].headers["kb-producer"], "test");
    assert.equal(stored[7].headers["kb-hop-format"], "json");
    assert.equal(stored[7].headers["Nats-Msg-Id"], "m-7");
  } finally {
    p.close();
    await t.deleteStream(stream);
    await t.close();
  }
});
