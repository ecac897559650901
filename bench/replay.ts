/**
 * Replay benchmarks: how fast the synthetic sky generates alerts (light curves,
 * survey, Avro encoding of alerts with their history), and how fast the replay
 * publishes them to Kafka through the Hopskotch writer, next to Kafka's own
 * producer-perf ceiling for records of the same size measured in the same run.
 *
 * @module
 */
import { readSkyMapFile } from "../astro/mod.ts";
import { connectHopWriter, type HopRecord, loadKafkaConfig } from "../gateway/hopskotch/mod.ts";
import { eventId } from "../actors/source_publisher/ids.ts";
import { loadEncoders } from "../actors/source_publisher/payloads.ts";
import { runReplay } from "../actors/source_publisher/replay.ts";
import { hopSink } from "../actors/source_publisher/sinks.ts";
import { SkyAlertEncoder, syntheticEvents } from "../actors/source_publisher/synthetic/events.ts";
import { SyntheticSky } from "../actors/source_publisher/synthetic/generator.ts";
import { type Bench, run } from "./harness.ts";

const T0 = 57982.52852314815;
const MAP = new URL(
  "../actors/source_publisher/data/skymap/bayestar_2017_G298107.flat.fits.gz",
  import.meta.url,
);

/** Generates and encodes alerts candidate by candidate (constant memory) for about `seconds`. */
async function generatorRate(seconds: number) {
  const enc = await loadEncoders();
  const map = await readSkyMapFile(MAP);
  const sky = new SyntheticSky({ n: 10_000_000, seed: 1, t0Mjd: T0, map });
  const alertsOf = new SkyAlertEncoder(sky, enc);
  let alerts = 0;
  let bytes = 0;
  let candidates = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  for (let i = 0; performance.now() < end; i++) {
    const c = sky.candidate(i);
    candidates++;
    for (let k = 0; k < c.observations.length; k++) {
      if (!c.observations[k].detected) continue;
      const v = alertsOf.encode(c, k, eventId("bench", `${i}/${k}`));
      bytes += v.byteLength;
      alerts++;
    }
  }
  const s = (performance.now() - start) / 1000;
  return {
    rate: alerts / s,
    candidates,
    alerts,
    meanBytes: bytes / Math.max(alerts, 1),
    seconds: s,
  };
}

async function perfCeiling(topic: string, records: number, size: number): Promise<number> {
  const out = await run("bash", [
    "deploy/local/kafka.sh",
    "perf-producer",
    "--bootstrap-server",
    "127.0.0.1:19092",
    "--topic",
    topic,
    "--num-records",
    String(records),
    "--record-size",
    String(size),
    "--throughput",
    "-1",
    "--producer-props",
    "acks=all",
  ]);
  const m = /(\d+) records sent, ([\d.]+) records\/sec/.exec(
    out.split("\n").filter(Boolean).pop() ?? "",
  );
  if (!m) throw new Error(`cannot parse perf-producer output: ${out.slice(-300)}`);
  return Number(m[2]);
}

/** `deno task bench replay`. */
export const replayBench: Bench = {
  name: "replay",
  description: "synthetic sky generation and replay publish rate to Kafka (hop wire format)",
  needs: ["kafka"],
  async run() {
    const gen = await generatorRate(Number(Deno.env.get("KB_BENCH_REPLAY_GEN_SECONDS") ?? 5));

    // Publish: the synthetic sky in time order through runReplay → hop writer → Kafka (PLAINTEXT).
    const n = Number(Deno.env.get("KB_BENCH_REPLAY_CANDIDATES") ?? 4000);
    const enc = await loadEncoders();
    const map = await readSkyMapFile(MAP);
    const sky = new SyntheticSky({ n, seed: 2, t0Mjd: T0, map });
    const events = [...syntheticEvents(sky, enc)];
    // Pre-encode so the publish figure is Kafka's side alone.
    const encoded = events.map((e) => {
      const id = eventId("bench-publish", e.key);
      const v = e.encode(id);
      return { ...e, encode: (_id: string) => v };
    });
    const meanBytes = Math.round(
      encoded.reduce((s, e) => s + e.encode("").byteLength, 0) / encoded.length,
    );
    const group = `kb-bench-${Date.now().toString(36)}`;
    const config = loadKafkaConfig({
      url: "kafka://127.0.0.1:19092",
      env: { KB_KAFKA_SECURITY_PROTOCOL: "PLAINTEXT" },
    });
    const writer = await connectHopWriter(config, { allowAutoTopicCreation: true });
    // Warm-up: creates the topic and the producer's metadata.
    await writer.publish(`${group}.optical-candidates`, [
      { format: "avro", value: new Uint8Array(10) } as HopRecord,
    ]);
    const r = await runReplay(encoded, {
      speed: "max",
      group,
      runId: "bench-publish",
      sink: hopSink(writer),
    });
    const publishRate = r.sent / (r.wallMs / 1000);
    const inline = await runReplay(events.slice(0, Math.min(events.length, 30_000)), {
      speed: "max",
      group: `${group}-inline`,
      runId: "bench-inline",
      sink: hopSink(writer),
    });
    await writer.close();
    const inlineRate = inline.sent / (inline.wallMs / 1000);
    const ceiling = await perfCeiling(`${group}.perf`, Math.min(r.sent, 50_000), meanBytes);
    return {
      rows: [
        {
          metric: "synthetic alerts generated + Avro-encoded (with 30-day history)",
          value: gen.rate,
          unit: "msgs/s",
          target: "≥ 50,000 msgs/s",
          met: gen.rate >= 50_000,
          note: `${gen.alerts} alerts from ${gen.candidates} candidates, ${
            Math.round(gen.meanBytes)
          } B each`,
        },
        {
          metric: `replay publish to Kafka (pre-encoded, ${meanBytes} B records, acks=all)`,
          value: publishRate,
          unit: "msgs/s",
          ceiling,
          ceilingSource: "kafka perf-producer, same size, acks=all",
          target: "≥ 20,000 msgs/s",
          met: publishRate >= 20_000,
          note: `${r.sent} records`,
        },
        {
          metric: "replay generate + encode + publish (inline)",
          value: inlineRate,
          unit: "msgs/s",
          note: `${inline.sent} records`,
        },
      ],
      details: { generator: gen, publish: { sent: r.sent, wallMs: r.wallMs, meanBytes }, inline },
    };
  },
};
