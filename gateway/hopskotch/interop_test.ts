/**
 * Interop with SCiMMA's real hop-client (the pinned Python package of
 * deploy/local/hop.sh): what hop-client publishes reaches NATS through the
 * inbound gateway, and what the outbound gateway (a real actor process)
 * produces reads back in hop-client as the right model class with our `_id`
 * and `_sender`.
 */
import assert from "node:assert/strict";
import client from "prom-client";
import { HopEnvelope } from "../../contracts/messages.ts";
import { STREAMS, SUBJECTS } from "../../contracts/names.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import { connectTestNats, natsUrl, spawnActor, waitFor } from "../../actors/runtime/testing.ts";
import { startInbound } from "./inbound.ts";
import { KAFKA_CLIENTS } from "./kafka.ts";
import { gatewayMetrics } from "./metrics.ts";
import { OUTBOUND_NAME, uuidFromName } from "./outbound.ts";
import { createTopics, kafkaTestConfig, kafkaTestEnv, kafkaTestUrl, testTopic } from "./testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const HERE = new URL(".", import.meta.url).pathname;

function hopEnv(): { python: string; auth: string } {
  const python = Deno.env.get("KB_HOP_PYTHON");
  const auth = Deno.env.get("KB_HOP_AUTH");
  if (!python || !auth) {
    throw new Error(
      "KB_HOP_PYTHON / KB_HOP_AUTH are not set: run with `./kb task test` (KB_TEST_SERVICES must " +
        'include hop) or `eval "$(bash deploy/local/stack.sh env nats kafka hop)"`',
    );
  }
  return { python, auth };
}

async function python(args: string[]): Promise<string> {
  const { python } = hopEnv();
  const out = await new Deno.Command(python, {
    args: [`${HERE}interop/hop_interop.py`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`hop-client ${args[0]} failed:\n${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

const VOEVENT = `<?xml version="1.0" encoding="UTF-8"?>
<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" ivorn="ivo://gwnet/LVC#S170817a-1-Preliminary" role="test" version="2.0">
  <Who><Date>2017-08-17T12:41:04</Date></Who>
  <What><Param name="GraceID" value="S170817a"/></What>
</voe:VOEvent>
`;

// Each test runs on each Kafka client behind the gateway's interface (KB_KAFKA_CLIENT).
for (const kc of KAFKA_CLIENTS) {
  Deno.test(
    `interop: hop-client publishes JSON, blob and VOEvent; the inbound gateway delivers them [${kc}]`,
    opts,
    async () => {
      const { auth } = hopEnv();
      const t = await connectTestNats("hop-interop");
      const topic = testTopic("interop-in");
      await createTopics([topic]);
      const file = await Deno.makeTempFile({ suffix: ".xml" });
      await Deno.writeTextFile(file, VOEVENT);
      await python(["publish", auth, kafkaTestUrl([topic]), file]);
      const gw = await startInbound({
        kafka: kafkaTestConfig([topic], kc),
        start: { kind: "earliest" },
        group: `kb-${topic}`,
        transport: t,
        log: createLogger({ level: "error" }),
        metrics: gatewayMetrics(new client.Registry()),
        replica: "test",
      });
      try {
        const dec = new TextDecoder();
        const got = await waitFor("3 envelopes from hop-client", async () => {
          const out: HopEnvelope[] = [];
          for await (const m of t.read(STREAMS.alertsIn.name)) {
            // The shared stream holds other runs' envelopes (possibly of an older contract).
            const raw = JSON.parse(dec.decode(m.data));
            if (raw?.kafka?.topic === topic) out.push(HopEnvelope.parse(raw));
          }
          return out.length >= 3 && gw.stats().testSkipped === 1 ? out : undefined;
        }, 30_000);
        assert.deepEqual(got.map((e) => e.hop.format), ["json", "blob", "voevent"]);
        for (const e of got) {
          assert.equal(e.hop.sender, "kb");
          assert.match(e.hop.id ?? "", /^[0-9a-f-]{36}$/);
          assert.equal(e.hop.via, "header");
        }
        assert.deepEqual(got[0].content, {
          format: "json",
          json: { superevent_id: "S170817a", far: 1e-10 },
        });
        assert.equal(atob(got[1].raw.base64 ?? "(no base64)"), "\x00\x01binary\xff");
        assert.equal(got[2].content.format === "voevent" && got[2].content.text, VOEVENT);
      } finally {
        await gw.stop();
        await t.close();
        await Deno.remove(file);
      }
    },
  );

  Deno.test(
    `interop: hop-client reads the outbound gateway's topic as the right models with our _id and _sender [${kc}]`,
    opts,
    async () => {
      const { auth } = hopEnv();
      const t = await connectTestNats("hop-interop");
      const topic = testTopic("interop-out");
      await createTopics([topic]);
      const token = `interop${crypto.randomUUID().slice(0, 6)}`;
      const actor = await spawnActor(OUTBOUND_NAME, {
        ...kafkaTestEnv(kc),
        KB_NATS_URL: natsUrl(),
        KB_KAFKA_URL: kafkaTestUrl([]),
        KB_HOP_OUT_TOPICS: `${token}=${topic}`,
      });
      const schema = {
        type: "record",
        name: "Alert",
        fields: [{ name: "superevent_id", type: "string" }, { name: "skymap", type: "bytes" }],
      };
      const outs = [
        ["JSONBlob", { format: "json", content: { kilonova: 0.93 } }, { kilonova: 0.93 }],
        [
          "VOEvent",
          { format: "voevent", content: VOEVENT },
          "ivo://gwnet/LVC#S170817a-1-Preliminary",
        ],
        ["Blob", { format: "blob", dataBase64: "AAH/" }, "0001ff"],
        ["AvroBlob", {
          format: "avro",
          content: { schema, records: [{ superevent_id: "S170817a", skymap: "AQID" }] },
        }, "S170817a"],
        ["GCNCircular", {
          format: "circular",
          content: { header: { title: "GCN CIRCULAR" }, body: "b" },
        }, "GCN CIRCULAR"],
        ["GCNTextNotice", {
          format: "gcntextnotice",
          content: "TITLE:   GCN/LVC NOTICE\nTRIGGER_NUM: 1",
        }, "GCN/LVC NOTICE"],
        [
          "ExternalMessage",
          { format: "external", content: { url: "https://example.org/msg/1" } },
          "https://example.org/msg/1",
        ],
      ] as const;
      try {
        const enc = new TextEncoder();
        const prefix = `interop-${topic}`;
        for (const [i, [, o]] of outs.entries()) {
          await t.publish(SUBJECTS.alertsOut(token), enc.encode(JSON.stringify(o)), {
            msgId: `${prefix}-${i}`,
          });
        }
        const lines = await waitFor(
          "hop-client reads 7 messages",
          async () => {
            const text = await python(["read", auth, kafkaTestUrl([topic])]);
            const l = text.trim().split("\n").filter(Boolean).map((x) => JSON.parse(x));
            return l.length >= outs.length ? l : undefined;
          },
          60_000,
          1_000,
        );
        assert.equal(lines.length, outs.length);
        for (const [i, [model, o, content]] of outs.entries()) {
          assert.equal(lines[i].model, model, `message ${i} decodes as ${model}`);
          assert.equal(lines[i].format, o.format);
          assert.equal(lines[i].id, uuidFromName(`${prefix}-${i}`));
          assert.equal(lines[i].sender, "kb");
          assert.equal(lines[i].test, false);
          assert.deepEqual(lines[i].content, content);
        }
      } finally {
        actor.kill("SIGTERM");
        await actor.status;
        await t.close();
      }
    },
  );
}
