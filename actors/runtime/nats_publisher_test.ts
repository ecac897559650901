/**
 * The pipelined JetStream publisher on the real local NATS, both ways in (a
 * promise per publish, a callback per tag with headers already encoded):
 * stored with headers and `Nats-Msg-Id`, in order with many in flight,
 * duplicates flagged, refusals, missing streams, timeouts and closing as errors.
 */
import assert from "node:assert/strict";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { headerSection, PipelinedPublisher } from "./nats_publisher.ts";
import { connectTestNats } from "./testing.ts";
import { MSG_ID_HEADER, NoStreamError, type PublishOptions } from "./transport.ts";

const enc = new TextEncoder();

/** An encoded header section with these lines. */
function section(lines: Record<string, string>): Uint8Array {
  let text = "NATS/1.0\r\n";
  for (const [k, v] of Object.entries(lines)) text += `${k}: ${v}\r\n`;
  return enc.encode(`${text}\r\n`);
}

/** What `send` reported per tag. */
interface Outcome {
  err?: Error;
  duplicate: boolean;
}

/** Sends through `p` and resolves with the outcome of each message, by index. */
function sendAll(
  p: PipelinedPublisher,
  messages: { subject: string; data: Uint8Array; headers: Uint8Array }[],
): Promise<Outcome[]> {
  return new Promise((resolve) => {
    const out: Outcome[] = new Array(messages.length);
    let left = messages.length;
    messages.forEach((m, i) =>
      p.send(m.subject, m.data, m.headers, (tag, err, duplicate) => {
        assert.equal(out[tag], undefined, `tag ${tag} reported twice`);
        out[tag] = { err, duplicate };
        if (--left === 0) resolve(out);
      }, i)
    );
  });
}

async function withStream(
  label: string,
  body: (ctx: {
    t: Awaited<ReturnType<typeof connectTestNats>>;
    stream: string;
    subject: string;
    id: string;
  }) => Promise<void>,
): Promise<void> {
  const t = await connectTestNats(`kb-test-pub-${label}`);
  const id = crypto.randomUUID().slice(0, 8);
  const stream = `KB_TEST_PUB_${label.toUpperCase()}_${id}`;
  const subject = `kbtest.pub-${label}.${id}`;
  await t.ensureStream({
    name: stream,
    subjects: [`${subject}.>`],
    description: "nats_publisher_test (deleted at the end)",
    maxAgeMs: 60_000,
    duplicateWindowMs: 60_000,
  });
  try {
    await body({ t, stream, subject, id });
  } finally {
    await t.deleteStream(stream);
    await t.close();
  }
}

Deno.test("PipelinedPublisher.publish: headers and Nats-Msg-Id stored in order, duplicates flagged", async () => {
  await withStream("promise", async ({ t, stream, subject }) => {
    const p = new PipelinedPublisher(t.nc, 5_000);
    try {
      const acks = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          p.publish(`${subject}.a`, enc.encode(`{"n":${i}}`), {
            msgId: `m-${i}`,
            headers: { "kb-producer": "test" },
          })),
      );
      assert.deepEqual(acks.map((a) => a.seq), Array.from({ length: 300 }, (_, i) => i + 1));
      assert.ok(acks.every((a) => a.stream === stream && !a.duplicate));
      const again = await p.publish(`${subject}.a`, enc.encode("{}"), { msgId: "m-7" });
      assert.deepEqual(again, { stream, seq: 8, duplicate: true });

      const h = natsHeaders();
      h.set("kb-way", "MsgHdrs");
      h.set("Nats-Msg-Id", "hdrs-1");
      const viaHdrs = await p.publishWithHeaders(`${subject}.b`, enc.encode("h"), h);
      assert.deepEqual(viaHdrs, { stream, seq: 301, duplicate: false });
      const encoded = section({ "kb-way": "encoded", "Nats-Msg-Id": "enc-1" });
      const viaBytes = await p.publishWithHeaders(`${subject}.b`, enc.encode("e"), encoded);
      assert.deepEqual(viaBytes, { stream, seq: 302, duplicate: false });
      assert.equal(
        (await p.publishWithHeaders(`${subject}.b`, enc.encode("e"), encoded)).duplicate,
        true,
      );
      assert.equal(p.pending, 0);

      const stored = [];
      for await (const m of t.read(stream)) stored.push(m);
      assert.equal(stored.length, 302);
      assert.equal(new TextDecoder().decode(stored[7].data), '{"n":7}');
      assert.equal(stored[7].headers["kb-producer"], "test");
      assert.equal(stored[7].headers["Nats-Msg-Id"], "m-7");
      assert.equal(stored[300].headers["kb-way"], "MsgHdrs");
      assert.equal(stored[301].headers["kb-way"], "encoded");
      assert.equal(stored[301].headers["Nats-Msg-Id"], "enc-1");
    } finally {
      p.close();
    }
  });
});

Deno.test("PipelinedPublisher.send: one callback per tag, duplicates flagged, headers as encoded", async () => {
  await withStream("send", async ({ t, stream, subject }) => {
    const p = new PipelinedPublisher(t.nc, 5_000);
    try {
      const messages = Array.from({ length: 500 }, (_, i) => ({
        subject: `${subject}.${i % 3}`,
        data: enc.encode(`{"n":${i}}`),
        // Every tenth repeats the id of the one before it: stored once, the repeat a duplicate.
        headers: section({
          "kb-hop-format": "json",
          "Nats-Msg-Id": `s-${i - (i % 10 === 9 ? 1 : 0)}`,
        }),
      }));
      const first = await sendAll(p, messages);
      first.forEach((o, i) => {
        assert.equal(o.err, undefined, `message ${i}: ${o.err?.message}`);
        assert.equal(o.duplicate, i % 10 === 9, `message ${i} duplicate`);
      });
      // The whole batch again: every one a duplicate, nothing more stored.
      const second = await sendAll(p, messages);
      assert.ok(second.every((o) => o.err === undefined && o.duplicate));
      assert.equal(p.pending, 0);
      assert.equal((await t.streamState(stream)).messages, 450);

      const stored = [];
      for await (const m of t.read(stream)) stored.push(m);
      assert.equal(new TextDecoder().decode(stored[0].data), '{"n":0}');
      assert.equal(stored[0].headers["kb-hop-format"], "json");
      assert.equal(stored[0].headers["Nats-Msg-Id"], "s-0");
    } finally {
      p.close();
    }
  });
});

Deno.test("PipelinedPublisher: no stream, refusals, timeouts and closing are errors both ways", async () => {
  await withStream("errors", async ({ t, subject, id }) => {
    const p = new PipelinedPublisher(t.nc, 300);
    try {
      // No stream captures the subject: the server answers "no responders".
      const nowhere = `kbtest.pub-nostream.${id}`;
      await assert.rejects(p.publish(nowhere, enc.encode("{}"), { msgId: "x" }), NoStreamError);
      const [none] = await sendAll(p, [{
        subject: nowhere,
        data: enc.encode("{}"),
        headers: section({ a: "b" }),
      }]);
      assert.ok(none.err instanceof NoStreamError, `got ${none.err}`);

      // A refusal: the stream's last sequence is not the one expected.
      await assert.rejects(
        p.publish(`${subject}.a`, enc.encode("{}"), {
          headers: { "Nats-Expected-Last-Sequence": "999" },
        }),
        /JetStream refused the publish on kbtest\.pub-errors\..*wrong last sequence.*\(code 10071\)/,
      );
      const [refused] = await sendAll(p, [{
        subject: `${subject}.a`,
        data: enc.encode("{}"),
        headers: section({ "Nats-Expected-Last-Sequence": "999" }),
      }]);
      assert.match(refused.err?.message ?? "", /wrong last sequence.*\(code 10071\)/);
      assert.equal(refused.duplicate, false);

      // Someone answers nothing on this subject (a plain subscriber, no stream): a timeout.
      const silent = `kbtest.pub-silent.${id}`;
      const sub = t.nc.subscribe(silent, { callback: () => {} });
      await t.nc.flush();
      try {
        await assert.rejects(
          p.publish(silent, enc.encode("{}")),
          /no JetStream acknowledgement for kbtest\.pub-silent\..* within 300 ms/,
        );
        const [late] = await sendAll(p, [{
          subject: silent,
          data: enc.encode("{}"),
          headers: section({ a: "b" }),
        }]);
        assert.match(late.err?.message ?? "", /no JetStream acknowledgement/);
        assert.equal(p.pending, 0);

        // Closing fails what still waits, either way.
        const waiting = p.publish(silent, enc.encode("{}"));
        const reported = sendAll(p, [{
          subject: silent,
          data: enc.encode("{}"),
          headers: section({ a: "b" }),
        }]);
        assert.equal(p.pending, 2);
        p.close();
        await assert.rejects(waiting, /publisher closed/);
        assert.match((await reported)[0].err?.message ?? "", /publisher closed/);
        assert.equal(p.pending, 0);
      } finally {
        sub.unsubscribe();
      }
    } finally {
      p.close();
    }
  });
});

Deno.test("PipelinedPublisher: a closed connection fails each publish, either way, without throwing", async () => {
  const t = await connectTestNats("kb-test-pub-closed");
  const p = new PipelinedPublisher(t.nc, 5_000);
  await t.close();
  await assert.rejects(p.publish("kbtest.pub-closed", enc.encode("{}")), /closed/i);
  const [closed] = await sendAll(p, [{
    subject: "kbtest.pub-closed",
    data: enc.encode("{}"),
    headers: section({ a: "b" }),
  }]);
  assert.match(closed.err?.message ?? "", /closed/i);
  assert.equal(p.pending, 0);
  p.close();
});

Deno.test("headerSection writes the bytes nats.js' MsgHdrs encodes", () => {
  const cases: PublishOptions[] = [
    { headers: { "kb-producer": "classifier", "kb-cause": "in-1" }, msgId: "in-1>results.x#a/0" },
    { headers: { a: " padded ", [MSG_ID_HEADER]: "replaced" }, msgId: "m" },
    { headers: { only: "headers" } },
    { msgId: "only-id" },
  ];
  const td = new TextDecoder();
  for (const o of cases) {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(o.headers ?? {})) h.set(k, v);
    if (o.msgId) h.set(MSG_ID_HEADER, o.msgId);
    const encoded = (h as unknown as { encode(): Uint8Array }).encode();
    assert.equal(td.decode(headerSection(o)), td.decode(encoded));
  }
  assert.equal(headerSection({}), undefined);
  assert.throws(() => headerSection({ headers: { "bad:name": "x" } }), /header name/);
  assert.throws(() => headerSection({ headers: { k: "a\r\nb" } }), /cannot contain/);
  assert.throws(() => headerSection({ msgId: "a\nb" }), /cannot contain/);
});
