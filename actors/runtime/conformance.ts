/**
 * One conformance suite for every {@link Transport}, after Watermill's
 * `pubsub/tests`: each implementation must pass it unchanged. It checks the
 * semantics the runtime relies on — per-subject order, message-id dedup,
 * redelivery after nak and after the ack wait, the delivery limit, term, work
 * shared among replicas of one durable consumer, hand-back on stop, the
 * byte budget of what a replica holds, request/reply and reading a stream back.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { StreamSpec } from "../../contracts/names.ts";
import { sleep, uniqueToken, waitFor } from "./testing.ts";
import type { ConsumerSpec, Delivery, Subscription, Transport } from "./transport.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A transport under test. */
export interface TransportFactory {
  readonly name: string;
  create(): Promise<Transport>;
}

interface Fixture {
  t: Transport;
  stream: StreamSpec;
  subject: (s: string) => string;
  consumer: (overrides?: Partial<ConsumerSpec>) => Promise<ConsumerSpec>;
}

async function fixture(t: Transport): Promise<Fixture> {
  const tok = uniqueToken();
  const stream: StreamSpec = {
    name: `CONF_${tok}`,
    subjects: [`conf.${tok}.>`],
    description: "conformance test stream",
    maxAgeMs: 10 * 60_000,
    duplicateWindowMs: 60_000,
  };
  await t.ensureStream(stream);
  let n = 0;
  return {
    t,
    stream,
    subject: (s) => `conf.${tok}.${s}`,
    consumer: async (overrides = {}) => {
      const spec: ConsumerSpec = {
        stream: stream.name,
        durable: `c${n++}`,
        filterSubjects: [`conf.${tok}.>`],
        ackWaitMs: 30_000,
        maxDeliver: 10,
        maxAckPending: 1000,
        ...overrides,
      };
      await t.ensureConsumer(spec);
      return spec;
    },
  };
}

/** Pulls deliveries into an array in the background. */
function collector(sub: Subscription, onDelivery: (d: Delivery) => void | Promise<void>) {
  const got: Delivery[] = [];
  const done = (async () => {
    for await (const d of sub) {
      got.push(d);
      await onDelivery(d);
    }
  })();
  return { got, done };
}

/** Registers the suite for one transport. */
export function conformance(factory: TransportFactory): void {
  const test = (name: string, fn: (f: Fixture) => Promise<void>) =>
    Deno.test({
      name: `transport conformance [${factory.name}]: ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      async fn() {
        const t = await factory.create();
        const f = await fixture(t);
        try {
          await fn(f);
        } finally {
          await t.deleteStream(f.stream.name);
          await t.close();
        }
      },
    });

  test("keeps publish order per subject and delivers everything", async (f) => {
    for (let i = 0; i < 200; i++) {
      await f.t.publish(f.subject(i % 2 ? "a" : "b"), enc.encode(String(i)));
    }
    const spec = await f.consumer();
    const sub = await f.t.consume(spec.stream, spec.durable, { maxMessages: 10 });
    const c = collector(sub, (d) => d.ack());
    await waitFor("200 deliveries", () => c.got.length >= 200);
    await sub.stop();
    await c.done;
    for (const s of ["a", "b"]) {
      const values = c.got.filter((d) => d.subject === f.subject(s)).map((d) =>
        Number(dec.decode(d.data))
      );
      assert.deepEqual(values.length, 100);
      assert.deepEqual(values, [...values].sort((x, y) => x - y), `order on subject ${s}`);
    }
    assert.ok(c.got.every((d) => d.deliveryCount === 1));
  });

  test("drops a repeated message id inside the duplicate window", async (f) => {
    const a = await f.t.publish(f.subject("x"), enc.encode("1"), { msgId: "same" });
    const b = await f.t.publish(f.subject("x"), enc.encode("2"), { msgId: "same" });
    const c = await f.t.publish(f.subject("x"), enc.encode("3"), { msgId: "other" });
    assert.deepEqual([a.duplicate, b.duplicate, c.duplicate], [false, true, false]);
    assert.deepEqual(b.seq, a.seq);
    assert.deepEqual((await f.t.streamState(f.stream.name)).messages, 2);
    const spec = await f.consumer();
    const sub = await f.t.consume(spec.stream, spec.durable, { maxMessages: 10 });
    const col = collector(sub, (d) => d.ack());
    await waitFor("2 deliveries", () => col.got.length >= 2);
    await sleep(200);
    await sub.stop();
    await col.done;
    assert.deepEqual(col.got.map((d) => d.msgId), ["same", "other"]);
    assert.deepEqual(dec.decode(col.got[0].data), "1");
  });

  test("redelivers after nak, honouring the delay", async (f) => {
    await f.t.publish(f.subject("x"), enc.encode("n"));
    const spec = await f.consumer();
    const sub = await f.t.consume(spec.stream, spec.durable, { maxMessages: 5 });
    const times: number[] = [];
    const col = collector(sub, (d) => {
      times.push(Date.now());
      if (d.deliveryCount === 1) d.nak(0);
      else if (d.deliveryCount === 2) d.nak(400);
      else d.ack();
    });
    await waitFor("3 deliveries", () => col.got.length >= 3);
    await sub.stop();
    await col.done;
    assert.deepEqual(col.got.map((d) => d.deliveryCount), [1, 2, 3]);
    assert.ok(times[2] - times[1] >= 300, `nak delay honoured (${times[2] - times[1]} ms)`);
  });

  test("redelivers when the ack wait lapses", async (f) => {
    await f.t.publish(f.subject("x"), enc.encode("w"));
    const spec = await f.consumer({ ackWaitMs: 1000 });
    const sub = await f.t.consume(spec.stream, spec.durable, { maxMessages: 5 });
    const times: number[] = [];
    const col = collector(sub, (d) => {
      times.push(Date.now());
      if (d.deliveryCount >= 2) return d.ack();
    });
    await waitFor("redelivery", () => col.got.length >= 2, 10_000);
    await sub.stop();
    await col.done;
    assert.deepEqual(col.got[1].deliveryCount, 2);
    assert.ok(times[1] - times[0] >= 800, `waited the ack wait (${times[1] - times[0]} ms)`);
  });

  test("working() holds off the ack-wait redelivery", async (f) => {
    await f.t.publish(f.subject("x"), enc.encode("slow"));
    const spec = await f.consumer({ ackWaitMs: 1000 });
    const sub = await f.t.consume(spec.stream, spec.durable, { maxMessages: 5 });
    const col = collector(sub, async (d) => {
      for (let i = 0; i < 6; i++) {
        await sleep(300);
        d.working();
      }
      await d.ack();
    });
    await waitFor("first delivery", () => col.got.length >= 1);
    await sleep(2600);
    await sub.stop();
    await col.done;
    assert.deepEqual(col.got.length, 1, "no redelivery while working");
  });

  test("stops delivering after maxDeliver attempts; term is final", async (f) => {
    await f.t.publish(f.subject("limit"), enc.encode("l"));
    await f.t.publish(f.subject("term"), enc.encode("t"));
    const spec = await f.consumer({ maxDeliver: 3 });
    const sub = await f.t.consume(spec.stream, spec.durable, { maxMessages: 5 });
    const col = collector(sub, (d) => {
      if (d.subject.endsWith("term")) d.term("final");
      else d.nak(0);
    });
    await waitFor(
      "3 attempts",
      () => col.got.filter((d) => d.subject.endsWith("limit")).length >= 3,
    );
    await sleep(700);
    await sub.stop();
    await col.done;
    assert.deepEqual(col.got.filter((d) => d.subject.endsWith("limit")).length, 3);
    assert.deepEqual(col.got.filter((d) => d.subject.endsWith("term")).length, 1);
  });

  test("shares one durable consumer among replicas, each message to one", async (f) => {
    const spec = await f.consumer();
    const subs = [
      await f.t.consume(spec.stream, spec.durable, { maxMessages: 20 }),
      await f.t.consume(spec.stream, spec.durable, { maxMessages: 20 }),
    ];
    const cols = subs.map((s) =>
      collector(s, async (d) => {
        await sleep(1);
        await d.ack();
      })
    );
    for (let i = 0; i < 400; i++) await f.t.publish(f.subject("w"), enc.encode(String(i)));
    await waitFor("400 deliveries", () => cols[0].got.length + cols[1].got.length >= 400);
    await sleep(300);
    for (const s of subs) await s.stop();
    await Promise.all(cols.map((c) => c.done));
    const all = cols.flatMap((c) => c.got.map((d) => dec.decode(d.data)));
    assert.deepEqual(all.length, 400, "no message delivered twice");
    assert.deepEqual(new Set(all).size, 400);
    assert.ok(cols[0].got.length > 20 && cols[1].got.length > 20, "both replicas worked");
    const state = await subs[0].state();
    assert.deepEqual(state.pending + state.ackPending, 0);
  });

  test("stop() hands buffered deliveries to another replica at once", async (f) => {
    for (let i = 0; i < 50; i++) await f.t.publish(f.subject("s"), enc.encode(String(i)));
    const spec = await f.consumer({ ackWaitMs: 60_000 });
    const first = await f.t.consume(spec.stream, spec.durable, { maxMessages: 50 });
    const firstGot: string[] = [];
    let stopped: Promise<void> | undefined;
    const firstDone = (async () => {
      for await (const d of first) {
        firstGot.push(dec.decode(d.data));
        await d.ack();
        stopped ??= first.stop();
      }
    })();
    await waitFor("first replica got one", () => firstGot.length >= 1);
    await stopped;
    await firstDone;
    const second = await f.t.consume(spec.stream, spec.durable, { maxMessages: 50 });
    const col = collector(second, (d) => d.ack());
    await waitFor(
      "the rest, long before the ack wait",
      () => firstGot.length + col.got.length >= 50,
      15_000,
    );
    await second.stop();
    await col.done;
    const all = [...firstGot, ...col.got.map((d) => dec.decode(d.data))];
    assert.deepEqual(new Set(all).size, 50);
  });

  for (const maxMessages of [1000, 10]) {
    test(`never holds more payload bytes than maxBytes (maxMessages ${maxMessages})`, async (f) => {
      const size = 10_000;
      const maxBytes = 35_000; // three messages
      for (let i = 0; i < 40; i++) {
        await f.t.publish(f.subject("big"), new Uint8Array(size).fill(i));
      }
      const spec = await f.consumer();
      const sub = await f.t.consume(spec.stream, spec.durable, { maxMessages, maxBytes });
      let held = 0;
      let most = 0;
      const c = collector(sub, (d) => {
        held += d.data.byteLength;
        most = Math.max(most, held);
        // Settled a little later, so that deliveries pile up if nothing bounds them.
        setTimeout(() => {
          held -= d.data.byteLength;
          d.ack();
        }, 5);
      });
      await waitFor("40 deliveries", () => c.got.length >= 40, 15_000);
      await sub.stop();
      await c.done;
      assert.ok(most <= maxBytes, `held ${most} bytes at once; the budget is ${maxBytes}`);
      assert.deepEqual(new Set(c.got.map((d) => d.data[0])).size, 40);
    });
  }

  test("delivers a message larger than maxBytes alone", async (f) => {
    const sizes = [4_000, 4_000, 50_000, 4_000, 4_000];
    for (const [i, n] of sizes.entries()) {
      await f.t.publish(f.subject("mixed"), new Uint8Array(n).fill(i));
    }
    const spec = await f.consumer();
    const sub = await f.t.consume(spec.stream, spec.durable, {
      maxMessages: 1000,
      maxBytes: 10_000,
    });
    const heldWithBig: number[] = [];
    let held = 0;
    const c = collector(sub, (d) => {
      held++;
      if (d.data.byteLength === 50_000) heldWithBig.push(held);
      setTimeout(() => {
        held--;
        d.ack();
      }, 5);
    });
    await waitFor("every message", () => c.got.length >= sizes.length, 15_000);
    await sub.stop();
    await c.done;
    assert.deepEqual(c.got.map((d) => d.data.byteLength), sizes);
    assert.deepEqual(heldWithBig, [1], "the large message came while nothing else was held");
  });

  test("answers requests", async (f) => {
    // Outside every stream: a captured subject would be answered by the stream itself.
    const subject = `rpc.${f.stream.name}`;
    const svc = await f.t.serve(subject, (data) => enc.encode(dec.decode(data).toUpperCase()));
    const reply = await f.t.request(subject, enc.encode("ping"), { timeoutMs: 2000 });
    assert.deepEqual(dec.decode(reply), "PING");
    await svc.stop();
  });

  test("reads a stream back by sequence and subject", async (f) => {
    for (let i = 0; i < 30; i++) {
      await f.t.publish(f.subject(i % 3 === 0 ? "r" : "q"), enc.encode(String(i)), {
        headers: { "x-i": String(i) },
      });
    }
    const all: string[] = [];
    for await (const m of f.t.read(f.stream.name)) all.push(dec.decode(m.data));
    assert.deepEqual(all.length, 30);
    const rs: string[] = [];
    for await (const m of f.t.read(f.stream.name, { subject: f.subject("r") })) {
      rs.push(m.headers["x-i"]);
    }
    assert.deepEqual(rs, ["0", "3", "6", "9", "12", "15", "18", "21", "24", "27"]);
    const tail: number[] = [];
    for await (const m of f.t.read(f.stream.name, { fromSeq: 28 })) tail.push(m.seq);
    assert.deepEqual(tail, [28, 29, 30]);
  });
}
