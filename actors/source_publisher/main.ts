/**
 * `deno task replay [options]`: replays the GW170817 multi-messenger timeline
 * (and optionally a synthetic alert sky) to Hopskotch-style Kafka topics, or
 * onto the internal bus. Runs as a Kubernetes Job: exits 0 when everything was
 * acknowledged, 1 on bad input (before anything is published) or a failed
 * publish, 2 on bad usage.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readSkyMapFile } from "../../astro/mod.ts";
import { STREAMS, SyntheticTruth, topicName } from "../../contracts/mod.ts";
import { connectHopWriter, loadKafkaConfig } from "../../gateway/hopskotch/mod.ts";
import { createLogger } from "../runtime/log.ts";
import { MemoryTransport } from "../runtime/memory_transport.ts";
import { NatsTransport } from "../runtime/nats_transport.ts";
import { natsConnectionOptionsFromEnv } from "../runtime/nats_auth.ts";
import { loadDataset } from "./dataset.ts";
import { loadEncoders } from "./payloads.ts";
import { createProgress } from "./progress.ts";
import { formatOffset, mergeByTime, parseOffset, parseSpeed, runReplay } from "./replay.ts";
import { hopSink, MemorySink, type Sink, transportSink } from "./sinks.ts";
import { SyntheticSky } from "./synthetic/generator.ts";
import { syntheticEvents } from "./synthetic/events.ts";
import { buildTimeline, type TimelineEvent } from "./timeline.ts";

/** Usage text. */
export const USAGE = `deno task replay [options]

Replays GW170817 / GRB 170817A / AT2017gfo as the world sent it, to Hopskotch topics
<group>.igwn-gwalert (Avro), <group>.gcn-notices (JSON), <group>.gcn-circulars and
<group>.optical-candidates (Avro); optionally adds a synthetic alert sky.

  --speed N|max        timeline seconds per second (1 real time, 3600 an hour/s; default max)
  --from OFFSET        start at this offset from the merger (e.g. -1h, 10.9h, 2d; default: all)
  --until OFFSET       stop after this offset
  --backfill           send events before --from at once at the start instead of skipping them
  --group NAME         topic prefix (default kb-demo)
  --run-id ID          run id; the hop _id of every message derives from (run id, event) (default gw170817)
  --sink kafka|nats|memory   destination (default kafka; nats = straight onto alerts.in.* on KB_NATS_URL)
  --url kafka://...    Kafka (hop URL); default KB_KAFKA_URL / KB_KAFKA_BROKERS and KB_KAFKA_* credentials
  --create-topics      let the broker create missing topics (local Kafka)
  --test               mark records as hop test messages
  --synthetic N        add N synthetic candidates (default 0)
  --seed N             synthetic sky seed (default 1)
  --truth FILE         write the true class of every replayed/synthetic object (NDJSON)
  --data DIR           data folder (default: the copy beside the actor)
  --skymap FILE        sky map for synthetic positions (default: the 2017 BAYESTAR map)
  --dry-run            print the timeline, publish nothing
  --only TOPICS        comma-separated topic keys: igwnAlert,gcnNotices,gcnCirculars,optical
  -h, --help`;

/** Runs the CLI; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const log = createLogger({ fields: { tool: "replay" } });
  let v;
  try {
    v = parseArgs({
      args,
      options: {
        speed: { type: "string", default: "max" },
        from: { type: "string" },
        until: { type: "string" },
        backfill: { type: "boolean", default: false },
        group: { type: "string", default: "kb-demo" },
        "run-id": { type: "string", default: "gw170817" },
        sink: { type: "string", default: "kafka" },
        url: { type: "string" },
        "create-topics": { type: "boolean", default: false },
        test: { type: "boolean", default: false },
        synthetic: { type: "string", default: "0" },
        seed: { type: "string", default: "1" },
        truth: { type: "string" },
        data: { type: "string" },
        skymap: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        only: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    console.error(`replay: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  let speed, fromS, untilS, nSynthetic, seed;
  try {
    speed = parseSpeed(v.speed);
    fromS = v.from === undefined ? undefined : parseOffset(v.from, "--from");
    untilS = v.until === undefined ? undefined : parseOffset(v.until, "--until");
    nSynthetic = Number(v.synthetic);
    if (!Number.isInteger(nSynthetic) || nSynthetic < 0) {
      throw new Error(`--synthetic: "${v.synthetic}" must be a whole number ≥ 0`);
    }
    seed = Number(v.seed);
    if (!Number.isInteger(seed)) throw new Error(`--seed: "${v.seed}" must be an integer`);
    if (!["kafka", "nats", "memory"].includes(v.sink)) {
      throw new Error(`--sink: "${v.sink}" must be kafka, nats or memory`);
    }
    topicName(v.group, "optical");
  } catch (err) {
    console.error(`replay: ${(err as Error).message}`);
    return 2;
  }
  const only = v.only?.split(",").map((s) => s.trim()).filter(Boolean);
  const keys = ["igwnAlert", "gcnNotices", "gcnCirculars", "optical"];
  for (const k of only ?? []) {
    if (!keys.includes(k)) {
      console.error(`replay: --only: unknown topic key "${k}" (known: ${keys.join(", ")})`);
      return 2;
    }
  }

  // Everything is read and checked before anything is published.
  let events: TimelineEvent[];
  let total: number;
  let stream: Iterable<TimelineEvent>;
  const truthLines: string[] = [];
  try {
    const enc = await loadEncoders();
    const ds = await loadDataset(v.data);
    const built = await buildTimeline(ds, enc);
    events = built.events;
    for (const t of built.truth) {
      truthLines.push(
        JSON.stringify({
          run_id: v["run-id"],
          object_id: t.objectId,
          class: t.class,
          source: t.source,
          ra: t.ra,
          dec: t.dec,
        }),
      );
    }
    const streams: Iterable<TimelineEvent>[] = [events];
    total = events.length;
    if (nSynthetic > 0) {
      const map = v.skymap ? await readSkyMapFile(v.skymap) : built.map;
      const sky = new SyntheticSky({
        n: nSynthetic,
        seed,
        t0Mjd: ds.facts.t0Mjd,
        map,
        runId: v["run-id"],
      });
      const synth = [...syntheticEvents(sky, enc)];
      total += synth.length;
      streams.push(synth);
      for (const c of sky.candidates()) {
        truthLines.push(JSON.stringify(SyntheticTruth.parse(c.truth)));
      }
    }
    stream = mergeByTime(...streams);
    if (only) {
      const inner = stream;
      stream = (function* () {
        for (const e of inner) if (only.includes(e.topic)) yield e;
      })();
      total = [...mergeByTime(...streams)].filter((e) => only.includes(e.topic)).length;
    }
  } catch (err) {
    log.error("bad input: nothing was published", { error: (err as Error).message });
    console.error(`replay: ${(err as Error).message}`);
    return 1;
  }
  if (v.truth) {
    await Deno.writeTextFile(v.truth, truthLines.join("\n") + "\n");
    log.info("truth written", { file: v.truth, objects: truthLines.length });
  }

  if (v["dry-run"]) {
    const out: string[] = [];
    let n = 0;
    for (const e of stream) {
      if (untilS !== undefined && e.t > untilS) break;
      if (fromS !== undefined && e.t < fromS && !v.backfill) continue;
      out.push(
        `${formatOffset(e.t).padEnd(18)} ${topicName(v.group, e.topic).padEnd(28)} ${
          e.format.padEnd(8)
        } ${e.label}`,
      );
      n++;
      if (out.length >= 1000) {
        console.log(out.join("\n"));
        out.length = 0;
      }
    }
    if (out.length) console.log(out.join("\n"));
    console.log(`${n} messages (dry run: nothing published)`);
    return 0;
  }

  let sink: Sink;
  let closeTransport: (() => Promise<void>) | undefined;
  try {
    if (v.sink === "kafka") {
      const config = loadKafkaConfig({ url: v.url });
      sink = hopSink(
        await connectHopWriter(config, { log, allowAutoTopicCreation: v["create-topics"] }),
      );
    } else if (v.sink === "nats") {
      const url = Deno.env.get("KB_NATS_URL") ?? "nats://127.0.0.1:4222";
      const t = await NatsTransport.connect({
        servers: url.split(","),
        name: "replay",
        connection: await natsConnectionOptionsFromEnv(),
      });
      await t.ensureStream(STREAMS.alertsIn);
      sink = transportSink(t);
      closeTransport = () => t.close();
    } else {
      const t = new MemoryTransport();
      await t.ensureStream(STREAMS.alertsIn);
      sink = new MemorySink();
      closeTransport = () => t.close();
    }
  } catch (err) {
    console.error(`replay: ${(err as Error).message}`);
    return 1;
  }
  const progress = createProgress(total, log);
  const ac = new AbortController();
  const stop = () => ac.abort();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  try {
    log.info("replay starting", {
      total,
      speed,
      group: v.group,
      sink: sink.kind,
      runId: v["run-id"],
    });
    const r = await runReplay(stream, {
      speed,
      fromS,
      untilS,
      backfill: v.backfill,
      group: v.group,
      runId: v["run-id"],
      test: v.test,
      sink,
      signal: ac.signal,
      onProgress: (sent, last) => progress.update(sent, last),
    });
    progress.stop();
    log.info(ac.signal.aborted ? "replay interrupted" : "replay done", {
      sent: r.sent,
      skipped: r.skipped,
      byTopic: r.byTopic,
      seconds: Math.round(r.wallMs) / 1000,
      rate: Math.round(r.sent / Math.max(r.wallMs / 1000, 1e-3)),
    });
    return ac.signal.aborted ? 1 : 0;
  } catch (err) {
    progress.stop();
    log.error("replay failed", { error: (err as Error).message });
    console.error(`replay: ${(err as Error).message}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGTERM", stop);
    Deno.removeSignalListener("SIGINT", stop);
    await sink.close();
    await closeTransport?.();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
