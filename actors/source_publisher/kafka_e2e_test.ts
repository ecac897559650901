/**
 * End to end against the local Kafka (SASL/SCRAM, like Hopskotch): `deno task
 * replay --speed max` publishes the whole GW170817 timeline, hop-client (Python)
 * reads every topic back and decodes each record as the right model, and the
 * IGWN sky map bytes arrive intact. Needs `deploy/local/kafka.sh` and `hop.sh`
 * (started by `deno task test`); fails when their environment is missing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { loadDataset } from "./dataset.ts";
import { loadEncoders } from "./payloads.ts";
import { buildTimeline } from "./timeline.ts";

function env(name: string): string {
  const v = Deno.env.get(name);
  if (!v) {
    throw new Error(`${name} is not set: run through \`deno task test\` (starts kafka and hop)`);
  }
  return v;
}

async function run(cmd: string, args: string[], extraEnv: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env: extraEnv, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "replay --speed max to local Kafka; hop-client reads every topic in the right format",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const brokers = env("KB_KAFKA_SASL_BROKERS");
    const python = env("KB_HOP_PYTHON");
    const configHome = env("KB_HOP_CONFIG_HOME");
    env("KB_HOP_AUTH");
    const url = `kafka://kb@${brokers}`;
    const group = `kb-test-replay-${Date.now().toString(36)}`;
    const main = new URL("./main.ts", import.meta.url).pathname;
    const args = [
      "run",
      "-A",
      main,
      "--speed",
      "max",
      "--group",
      group,
      "--url",
      url,
      "--create-topics",
      "--run-id",
      group,
    ];
    const first = await run(Deno.execPath(), args);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /"msg":"replay done"/);
    // Replaying the same run again writes the same hop _ids (deduplicated downstream).
    const second = await run(Deno.execPath(), [...args, "--only", "igwnAlert,gcnNotices"]);
    assert.equal(second.code, 0, second.stderr);

    const reader = new URL("./testdata/hop_read.py", import.meta.url).pathname;
    const read = await run(python, [reader, url, group], { XDG_CONFIG_HOME: configHome });
    assert.equal(read.code, 0, read.stderr);
    const topics = Object.fromEntries(
      read.stdout.trim().split("\n").map((l) => JSON.parse(l)).map((
        t,
      ) => [t.topic.slice(group.length + 1), t]),
    );
    const built = await buildTimeline(await loadDataset(), await loadEncoders());
    const count = (topic: string) => built.events.filter((e) => e.topic === topic).length;

    const gw = topics["igwn-gwalert"];
    assert.equal(gw.count, 2 * count("igwnAlert"));
    assert.equal(gw.ids, count("igwnAlert"), "the second replay reused the same _ids");
    assert.deepEqual(gw.models, { AvroBlob: gw.count });
    assert.deepEqual(gw.alert_types.slice(0, 4), ["PRELIMINARY", "INITIAL", "UPDATE", "UPDATE"]);
    assert.deepEqual(gw.fields, [
      "alert_type",
      "event",
      "external_coinc",
      "superevent_id",
      "time_created",
      "urls",
    ]);
    const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
    assert.equal(gw.skymap_sha256[0], sha(built.skymaps.preliminary));
    assert.equal(gw.skymap_sha256[1], sha(built.skymaps.bayestar));

    const gcn = topics["gcn-notices"];
    assert.equal(gcn.count, 2 * count("gcnNotices"));
    assert.deepEqual(gcn.models, { JSONBlob: gcn.count });
    assert.ok(gcn.schemas.includes("icecube/lvk_nu_track_search.schema.json"));

    const circ = topics["gcn-circulars"];
    assert.equal(circ.count, 16);
    assert.deepEqual(circ.models, { GCNCircular: 16 });

    const opt = topics["optical-candidates"];
    assert.equal(opt.count, count("optical"));
    assert.deepEqual(opt.models, { AvroBlob: opt.count });
    assert.equal(opt.ids, opt.count);
    assert.equal(opt.at2017gfo, 821);
  },
});
