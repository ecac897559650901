import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { rawMsgId } from "./nats_transport.ts";
import { connectTestNats } from "./testing.ts";
import { MSG_ID_HEADER } from "./transport.ts";

const enc = new TextEncoder();

Deno.test("rawMsgId reads Nats-Msg-Id from the header bytes as nats.js' headers.get does", async () => {
  const t = await connectTestNats("kb-test-raw-msg-id");
  const id = crypto.randomUUID().slice(0, 8);
  const stream = `KB_TEST_RAWID_${id}`;
  const subject = `kbtest.rawid.${id}`;
  await t.ensureStream({
    name: stream,
    subjects: [`${subject}.>`],
    description: "nats_transport_test (deleted at the end)",
    maxAgeMs: 60_000,
    duplicateWindowMs: 60_000,
  });
  try {
    const sent: (Record<string, string> | undefined)[] = [
      { [MSG_ID_HEADER]: "plain-id" },
      { "kb-producer": "x", "X-Nats-Msg-Id": "not-this", [MSG_ID_HEADER]: "after>others#1" },
      { "kb-producer": "no id here" },
      undefined,
      { [MSG_ID_HEADER]: "ünïcode id" },
    ];
    for (const [i, h] of sent.entries()) {
      const hdrs = h ? natsHeaders() : undefined;
      for (const [k, v] of Object.entries(h ?? {})) hdrs!.set(k, v);
      await t.nc.request(`${subject}.${i}`, enc.encode(String(i)), {
        headers: hdrs,
        timeout: 5000,
      });
    }
    const oc = await jetstream(t.nc).consumers.get(stream);
    const batch = await oc.fetch({ max_messages: sent.length, expires: 2000 });
    const got: { raw: string | undefined | null; nats: string | undefined }[] = [];
    for await (const m of batch) {
      const raw = rawMsgId(m); // before anything decodes the headers
      got.push({ raw, nats: m.headers?.get(MSG_ID_HEADER) || undefined });
      if (got.length === sent.length) break;
    }
    assert.deepEqual(got.map((g) => g.raw), [
      "plain-id",
      "after>others#1",
      undefined,
      undefined,
      "ünïcode id",
    ]);
    for (const g of got) assert.equal(g.raw, g.nats);
  } finally {
    await t.deleteStream(stream);
    await t.close();
  }
});
