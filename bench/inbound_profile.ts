/**
 * Where the inbound Hopskotch gateway's time goes: fills a Kafka topic with
 * `KB_BENCH_HOP_RECORDS` (default 50,000) 1 KB JSON hop records, then drains it
 * with the gateway running in this process into a private nats-server, and
 * prints the rate, the process' CPU time per record (from /proc/self/stat,
 * the steadier number on a shared machine) and, when the process was started
 * with `--inspect=127.0.0.1:<KB_PROFILE_PORT>`, the functions and files with
 * the most self time. `KB_KAFKA_CLIENT` picks the client (default kafkajs),
 * `KB_HOP_IN_CHUNK` the records per chunk, `KB_HOP_IN_CHUNKS_IN_FLIGHT` the chunks in
 * flight per partition, `KB_HOP_IN_THREADS` 1 or 2 threads (the profile shows the
 * main thread only), `KB_PROFILE_TOPIC` an
 * already filled topic to drain again (with a new group).
 *
 *   eval "$(bash deploy/local/stack.sh env)"
 *   KB_PROFILE_PORT=9339 ./kb run -A --inspect=127.0.0.1:9339 bench/inbound_profile.ts
 *
 * @module
 */
import client from "prom-client";
import { STREAMS } from "../contracts/names.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { NatsTransport } from "../actors/runtime/nats_transport.ts";
import { startPrivateNats, waitFor } from "../actors/runtime/testing.ts";
import { loadKafkaConfig } from "../gateway/hopskotch/config.ts";
import { startInbound } from "../gateway/hopskotch/inbound.ts";
import { type KafkaClientKind, withAdmin } from "../gateway/hopskotch/kafka.ts";
import { gatewayMetrics } from "../gateway/hopskotch/metrics.ts";
import { connectHopWriter, type HopRecord } from "../gateway/hopskotch/writer.ts";
import { type Recording, startCpuProfile, summarizeByFile, summarizeProfile } from "./profile.ts";
import { procCpuTimesSync } from "./proc.ts";

const N = Number(Deno.env.get("KB_BENCH_HOP_RECORDS") ?? 50_000);
const CLIENT = (Deno.env.get("KB_KAFKA_CLIENT") ?? "kafkajs") as KafkaClientKind;
const PORT = Deno.env.get("KB_PROFILE_PORT");
const THREADS = Deno.env.get("KB_HOP_IN_THREADS")
  ? Number(Deno.env.get("KB_HOP_IN_THREADS")) as 1 | 2
  : undefined;
const enc = new TextEncoder();

/** User and system CPU seconds of this process so far. */
export function cpuTimes(): { user: number; system: number } {
  const t = procCpuTimesSync("self");
  return { user: t.user, system: t.sys };
}

/** User + system CPU seconds of this process so far. */
export function cpuSeconds(): number {
  const t = cpuTimes();
  return t.user + t.system;
}

/** CPU seconds (user + system) of each thread of this process, by thread name. */
export function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of Deno.readDirSync("/proc/self/task")) {
    try {
      const stat = Deno.readTextFileSync(`/proc/self/task/${e.name}/stat`);
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const key = e.name === String(Deno.pid) ? "main" : name;
      out.set(key, (out.get(key) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // the thread ended between the listing and the read: not counted
    }
  }
  return out;
}

/** CPU seconds of the process whose command line contains every one of `parts` (0 if none). */
export function processCpu(...parts: string[]): number {
  let total = 0;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (!parts.every((p) => cmd.includes(p))) continue;
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // the process ended between the listing and the read: not counted
    }
  }
  return total;
}

function kafkaConfig(topics: string[] = []) {
  const brokers = Deno.env.get("KB_KAFKA_BROKERS");
  if (!brokers) throw new Error("KB_KAFKA_BROKERS is not set: eval the stack's env first");
  return loadKafkaConfig({
    url: `kafka://${brokers}/${topics.join(",")}`,
    env: { KB_KAFKA_SECURITY_PROTOCOL: "PLAINTEXT", KB_KAFKA_CLIENT: CLIENT },
  });
}

function record(i: number): HopRecord {
  const base = JSON.stringify({ n: i, sentAt: Date.now(), pad: "" });
  return {
    format: "json",
    value: enc.encode(
      JSON.stringify({ n: i, sentAt: Date.now(), pad: "x".repeat(1024 - base.length) }),
    ),
  };
}

if (import.meta.main) {
  const topic = Deno.env.get("KB_PROFILE_TOPIC") ?? `kb-bench.prof-${Date.now().toString(36)}`;
  const fill = !Deno.env.get("KB_PROFILE_TOPIC");
  if (fill) {
    await withAdmin(kafkaConfig(), (a) => a.createTopics([topic]));
    const w = await connectHopWriter(kafkaConfig());
    for (let i = 0; i < N; i += 1000) {
      await w.publish(
        topic,
        Array.from({ length: Math.min(1000, N - i) }, (_, j) => record(i + j)),
      );
    }
    await w.close();
    console.log(`filled ${topic} with ${N} records`);
  }
  const nats = await startPrivateNats();
  const t = await NatsTransport.connect({ servers: nats.url, name: "kb-inbound-profile" });
  await t.ensureStream(STREAMS.alertsIn);
  if (Deno.env.get("KB_PROFILE_PENDING")) {
    (t.nc as unknown as { protocol: { pendingLimit: number } }).protocol.pendingLimit = Number(
      Deno.env.get("KB_PROFILE_PENDING"),
    );
  }
  let rec: Recording | undefined;
  if (PORT) rec = await startCpuProfile(Number(PORT), { samplingIntervalUs: 250 });
  const natsPort = new URL(nats.url).port;
  const n0 = processCpu("nats-server", natsPort);
  const th0 = threadCpu();
  const s0 = cpuTimes().system;
  const c0 = cpuSeconds();
  const t0 = performance.now();
  let firstAt = 0;
  const gw = await startInbound({
    kafka: kafkaConfig([topic]),
    start: { kind: "earliest" },
    group: `kb-bench-prof-${Date.now().toString(36)}`,
    transport: t,
    log: createLogger({ level: "error" }),
    metrics: gatewayMetrics(new client.Registry()),
    replica: "profile",
    chunk: Deno.env.get("KB_HOP_IN_CHUNK") ? Number(Deno.env.get("KB_HOP_IN_CHUNK")) : undefined,
    chunksInFlight: Deno.env.get("KB_HOP_IN_CHUNKS_IN_FLIGHT")
      ? Number(Deno.env.get("KB_HOP_IN_CHUNKS_IN_FLIGHT"))
      : undefined,
    threads: THREADS,
  });
  let c1 = 0;
  await waitFor(
    "first record",
    () => {
      if (gw.stats().consumed > 0) {
        firstAt = performance.now();
        c1 = cpuSeconds();
        return true;
      }
      return false;
    },
    60_000,
    5,
  );
  await waitFor(
    "backlog drained",
    async () => (await t.streamState(STREAMS.alertsIn.name)).messages >= N,
    300_000,
    20,
  );
  const t1 = performance.now();
  const c2 = cpuSeconds();
  const s2 = cpuTimes().system;
  const th2 = threadCpu();
  const n2 = processCpu("nats-server", natsPort);
  const profile = await rec?.stop();
  await gw.stop();
  await t.close();
  await nats.stop();
  const total = (t1 - t0) / 1000;
  const steady = (t1 - firstAt) / 1000;
  console.log(
    `${CLIENT}, ${THREADS ?? "default"} thread(s): ${N} records in ${total.toFixed(2)} s = ${
      (N / total).toFixed(0)
    } rec/s ` +
      `(join ${((firstAt - t0) / 1000).toFixed(2)} s; after first record ${
        (N / steady).toFixed(0)
      } rec/s); CPU ${(c2 - c0).toFixed(2)} s = ${(1e6 * (c2 - c0) / N).toFixed(1)} µs/record ` +
      `(after first record ${(1e6 * (c2 - c1) / N).toFixed(1)} µs/record; system ${
        (1e6 * (s2 - s0) / N).toFixed(1)
      } µs/record); load ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
  );
  console.log(
    "CPU by thread, µs/record: " +
      [...th2].map(([k, v]) => [k, 1e6 * (v - (th0.get(k) ?? 0)) / N] as const)
        .filter(([, us]) => us >= 0.5).sort((a, b) => b[1] - a[1])
        .map(([k, us]) => `${k} ${us.toFixed(1)}`).join(", ") +
      `; nats-server ${(1e6 * (n2 - n0) / N).toFixed(1)}`,
  );
  if (profile) {
    const s = summarizeProfile(profile, 40);
    console.log(`busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms`);
    for (const h of s.hot) console.log(`${h.pct.toFixed(1).padStart(5)}% ${h.name}`);
    console.log("--- by file");
    for (const h of summarizeByFile(profile, 25)) {
      console.log(`${h.pct.toFixed(1).padStart(5)}% ${h.name}`);
    }
    if (Deno.env.get("KB_PROFILE_OUT")) {
      Deno.writeTextFileSync(Deno.env.get("KB_PROFILE_OUT")!, JSON.stringify(profile));
    }
  }
}
