/**
 * Replay benchmarks: how fast the synthetic sky generates alerts (light curves,
 * survey, Avro encoding of alerts with their history), and how fast the replay
 * publishes them to Kafka through the Hopskotch writer (on each Kafka client
 * behind the gateway's interface), next to Kafka's own producer-perf ceiling
 * for records of the same size measured in the same run.
 *
 * @module
 */
import { readSkyMapFile } from "../astro/mod.ts";
import { connectHopWriter, type HopRecord, loadKafkaConfig } from "../gateway/hopskotch/mod.ts";
import { KAFKA_CLIENTS, type KafkaClientKind, kafkaDriver } from "../gateway/hopskotch/kafka.ts";
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
    const clients = (Deno.env.get("KB_BENCH_HOP_CLIENTS") ?? KAFKA_CLIENTS.join(","))
      .split(",").map((c) => c.trim()).filter(Boolean) as KafkaClientKind[];
    const configOf = (kc: KafkaClientKind) =>
      loadKafkaConfig({
        url: "kafka://127.0.0.1:19092",
        env: { KB_KAFKA_SECURITY_PROTOCOL: "PLAINTEXT", KB_KAFKA_CLIENT: kc },
      });
    const d = kafkaDriver(loadKafkaConfig({ env: {} }));
    const defaultClient = d.producerKind ?? d.kind;
    const publish: Record<string, { sent: number; wallMs: number; rate: number }> = {};
    // The ceiling before and after the publish runs (the machine is shared: a
    // single figure taken minutes away from a run is a poor yardstick).
    const perfRecords = Math.min(encoded.length, 30_000);
    const ceilings = [await perfCeiling(`${group}.perf-before`, perfRecords, meanBytes)];
    let inline: Awaited<ReturnType<typeof runReplay>> | undefined;
    for (const kc of clients) {
      const writer = await connectHopWriter(configOf(kc), { allowAutoTopicCreation: true });
      // Warm-up: creates the topic and the producer's metadata.
      await writer.publish(`${group}-${kc}.optical-candidates`, [
        { format: "avro", value: new Uint8Array(10) } as HopRecord,
      ]);
      const r = await runReplay(encoded, {
        speed: "max",
        group: `${group}-${kc}`,
        runId: "bench-publish",
        sink: hopSink(writer),
      });
      publish[kc] = { sent: r.sent, wallMs: r.wallMs, rate: r.sent / (r.wallMs / 1000) };
      if (kc === defaultClient) {
        inline = await runReplay(events.slice(0, Math.min(events.length, 30_000)), {
          speed: "max",
          group: `${group}-inline`,
          runId: "bench-inline",
          sink: hopSink(writer),
        });
      }
      await writer.close();
    }
    ceilings.push(await perfCeiling(`${group}.perf-after`, perfRecords, meanBytes));
    const ceiling = (ceilings[0] + ceilings[1]) / 2;
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
        ...Object.entries(publish).map(([kc, p]) => ({
          metric: `replay publish to Kafka (pre-encoded, ${meanBytes} B records, acks=all) [${kc}${
            kc === defaultClient ? ", default" : ""
          }]`,
          value: p.rate,
          unit: "msgs/s",
          ceiling,
          ceilingSource: `kafka perf-producer, same size, acks=all, same run (mean of ${
            ceilings.map((c) => Math.round(c)).join(" before and ")
          } after)`,
          target: kc === defaultClient ? "≥ 20,000 msgs/s" : undefined,
          met: kc === defaultClient ? p.rate >= 20_000 : undefined,
          note: `${p.sent} records; ${(100 * p.rate / ceiling).toFixed(0)}% of ceiling`,
        })),
        ...(inline
          ? [{
            metric: `replay generate + encode + publish (inline) [${defaultClient}]`,
            value: inline.sent / (inline.wallMs / 1000),
            unit: "msgs/s",
            note: `${inline.sent} records`,
          }]
          : []),
      ],
      details: { generator: gen, publish, meanBytes, ceilings, defaultClient, inline },
    };
  },
};
