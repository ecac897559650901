/**
 * Runtime benchmarks on the real nats-server (issue 3):
 * - the raw JetStream consume ceiling twice: `nats bench js consume` (Go) and a
 *   bare nats.js consume loop (the client library the runtime uses);
 * - the runtime consuming the same backlog with a no-op actor (validation,
 *   middleware, metrics, acks): its overhead over the bare nats.js loop;
 * - actor-to-actor throughput: the echo actor consuming pings and publishing
 *   pongs (1 KB messages);
 * - end-to-end latency ping → echo → pong at a fixed offered rate, p50/p99.
 *
 * @module
 */
import process from "node:process";
import { jetstream } from "@nats-io/jetstream";
import { CHANNELS } from "../contracts/messages.ts";
import { CONSUMERS, STREAMS, SUBJECTS } from "../contracts/names.ts";
import { echoActor } from "../actors/echo/mod.ts";
import { defineActor } from "../actors/runtime/actor.ts";
import type { ActorDefinition } from "../actors/runtime/actor.ts";
import { runtimeConfig } from "../actors/runtime/config.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { runtimeMetrics } from "../actors/runtime/metrics.ts";
import { NatsTransport } from "../actors/runtime/nats_transport.ts";
import { natsConnectionOptionsFromEnv } from "../actors/runtime/nats_auth.ts";
import { startActor } from "../actors/runtime/runner.ts";
import { natsUrl, sleep, waitFor } from "../actors/runtime/testing.ts";
import { type Bench, type BenchRow, quantile, run } from "./harness.ts";

const enc = new TextEncoder();
const N = Number(Deno.env.get("KB_BENCH_MESSAGES") ?? 50_000);
const RATE = Number(Deno.env.get("KB_BENCH_RATE") ?? 1_000);
const RATE_SECONDS = Number(Deno.env.get("KB_BENCH_RATE_SECONDS") ?? 5);
const quiet = createLogger({ level: "error" });

/** A ping padded so its JSON is ~1 KB. */
function ping(seq: number): Uint8Array {
  const base = JSON.stringify({ seq, sentAt: Date.now(), body: "" });
  return enc.encode(
    JSON.stringify({ seq, sentAt: Date.now(), body: "x".repeat(1024 - base.length) }),
  );
}

async function freshDemo(t: NatsTransport): Promise<void> {
  await t.deleteStream(STREAMS.demo.name);
  await t.ensureStream(STREAMS.demo);
}

async function prefill(t: NatsTransport, n: number): Promise<void> {
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    inflight.push(t.publish(SUBJECTS.demoPing, ping(i), { msgId: `bench-${i}` }));
    if (inflight.length >= 1000) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
}

async function natsCliConsume(n: number): Promise<number> {
  const bin = new URL("../.tools/bin/nats", import.meta.url).pathname;
  const server = ["--server", natsUrl()];
  const stream = `kbbench${Date.now()}`;
  await run(bin, [
    ...server,
    "bench",
    "js",
    "pub",
    "async",
    `kbbench.${stream}`,
    "--stream",
    stream,
    "--create",
    "--msgs",
    String(n),
    "--size",
    "1KB",
    "--no-progress",
  ]);
  const out = await run(bin, [
    ...server,
    "bench",
    "js",
    "consume",
    "--stream",
    stream,
    "--msgs",
    String(n),
    "--size",
    "1KB",
    "--no-progress",
  ]);
  await run(bin, [...server, "stream", "rm", stream, "-f"]);
  const m = out.match(/stats: ([\d,]+) msgs\/sec/);
  if (!m) throw new Error(`cannot read nats bench output:\n${out}`);
  return Number(m[1].replaceAll(",", ""));
}

/** Bare nats.js: a durable pull consumer, ack each message, nothing else. */
/** Throughput and this process's CPU time per message (steadier than wall time on a busy machine). */
interface Measured {
  rate: number;
  cpuUsPerMsg: number;
}

async function bareConsume(t: NatsTransport, n: number): Promise<Measured> {
  await freshDemo(t);
  await prefill(t, n);
  await t.manager.consumers.add(STREAMS.demo.name, {
    durable_name: "bare",
    ack_policy: "explicit" as never,
    filter_subjects: [SUBJECTS.demoPing],
  });
  const consumer = await jetstream(t.nc).consumers.get(STREAMS.demo.name, "bare");
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const msgs = await consumer.consume({ max_messages: 256 });
  let got = 0;
  for await (const m of msgs) {
    JSON.parse(new TextDecoder().decode(m.data));
    m.ack();
    if (++got >= n) break;
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  await msgs.close();
  return { rate: n / secs, cpuUsPerMsg: (cpu.user + cpu.system) / n };
}

/** Runs an actor replica on a prefilled backlog and measures until all handled. */
async function actorConsume(
  t: NatsTransport,
  def: ActorDefinition,
  n: number,
  maxInFlight: number,
  done: () => Promise<boolean>,
): Promise<Measured> {
  const cfg = runtimeConfig({ KB_MAX_IN_FLIGHT: maxInFlight, KB_PREFETCH: 512 });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const actor = await startActor(def, {
    transport: t,
    config: cfg,
    log: quiet,
    metrics: runtimeMetrics(),
    replica: "bench",
  });
  await waitFor("backlog handled", done, 600_000, 5);
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  await actor.stop();
  return { rate: n / secs, cpuUsPerMsg: (cpu.user + cpu.system) / n };
}

const sink = defineActor({
  name: "bench-sink",
  description: "validates and acknowledges pings, publishes nothing (benchmark)",
  version: "1.0.0",
  input: CHANNELS.demoPing,
  outputs: [],
  handler: () => {},
}) as unknown as ActorDefinition;

async function latencyAtRate(t: NatsTransport, rate: number, seconds: number) {
  await freshDemo(t);
  const actor = await startActor(echoActor as unknown as ActorDefinition, {
    transport: t,
    config: runtimeConfig({ KB_MAX_IN_FLIGHT: 64, KB_PREFETCH: 64 }),
    log: quiet,
    metrics: runtimeMetrics(),
    replica: "bench",
  });
  const latencies: number[] = [];
  const sub = t.nc.subscribe(SUBJECTS.demoPong, {
    callback: (_err, msg) => {
      const p = JSON.parse(new TextDecoder().decode(msg.data));
      latencies.push(performance.timeOrigin + performance.now() - p.sentAt);
    },
  });
  const total = rate * seconds;
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const sentAt = performance.timeOrigin + performance.now();
    t.publish(
      SUBJECTS.demoPing,
      enc.encode(JSON.stringify({ seq: i, sentAt, body: "x".repeat(980) })),
      {
        msgId: `lat-${i}`,
      },
    );
  }
  await waitFor("all pongs", () => latencies.length >= total, 60_000);
  sub.unsubscribe();
  await actor.stop();
  latencies.sort((a, b) => a - b);
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), n: latencies.length };
}

/** The runtime benchmark. */
export const runtimeBench: Bench = {
  name: "runtime",
  description:
    "actor runtime on NATS JetStream: consume overhead, actor-to-actor throughput, latency",
  needs: ["nats"],
  async run() {
    const t = await NatsTransport.connect({
      servers: natsUrl(),
      name: "kb-bench",
      connection: await natsConnectionOptionsFromEnv(),
    });
    try {
      const goCeiling = await natsCliConsume(N);
      const bare = await bareConsume(t, N);

      await freshDemo(t);
      await prefill(t, N);
      const runtimeRate = await actorConsume(t, sink, N, 64, async () => {
        const s = await t.consumerState(STREAMS.demo.name, CONSUMERS.ofActor("bench-sink")).catch(
          () => undefined,
        );
        return !!s && s.pending === 0 && s.ackPending === 0;
      });

      await freshDemo(t);
      await prefill(t, N);
      const echoRate = await actorConsume(
        t,
        echoActor as unknown as ActorDefinition,
        N,
        256,
        async () => (await t.streamState(STREAMS.demo.name)).messages >= 2 * N,
      );

      const lat = await latencyAtRate(t, RATE, RATE_SECONDS);
      await t.deleteStream(STREAMS.demo.name);

      const overhead = 1 - runtimeRate.rate / bare.rate;
      const cpuOverhead = runtimeRate.cpuUsPerMsg / bare.cpuUsPerMsg - 1;
      const rows: BenchRow[] = [
        {
          metric: "raw JetStream consume, Go client (nats bench js consume, 1 KB)",
          value: goCeiling,
          unit: "msgs/s",
        },
        {
          metric: "raw JetStream consume, nats.js (same client as the runtime, 1 KB)",
          value: bare.rate,
          unit: "msgs/s",
          note: `${bare.cpuUsPerMsg.toFixed(1)} µs CPU/msg in this process`,
        },
        {
          metric: "runtime consume: validate + middleware + metrics + ack (1 KB)",
          value: runtimeRate.rate,
          unit: "msgs/s",
          ceiling: bare.rate,
          ceilingSource: "raw nats.js consume, same run",
          target: "runtime adds < 30% (≥ 70% of ceiling)",
          met: overhead < 0.3,
          note: `throughput overhead ${(overhead * 100).toFixed(1)}%; ` +
            `${runtimeRate.cpuUsPerMsg.toFixed(1)} µs CPU/msg ` +
            `(+${(cpuOverhead * 100).toFixed(0)}% over bare nats.js); ` +
            `${(runtimeRate.rate / goCeiling * 100).toFixed(0)}% of the Go ceiling`,
        },
        {
          metric: "actor-to-actor: echo consumes ping, publishes pong (1 KB)",
          value: echoRate.rate,
          unit: "msgs/s",
          ceiling: bare.rate,
          ceilingSource: "raw nats.js consume, same run",
          note: `${echoRate.cpuUsPerMsg.toFixed(1)} µs CPU/msg`,
        },
        {
          metric: `latency ping → echo → pong at ${RATE} msgs/s, p50`,
          value: lat.p50,
          unit: "ms",
        },
        {
          metric: `latency ping → echo → pong at ${RATE} msgs/s, p99`,
          value: lat.p99,
          unit: "ms",
        },
      ];
      return {
        rows,
        details: { messages: N, rate: RATE, seconds: RATE_SECONDS, latencySamples: lat.n },
      };
    } finally {
      await t.close();
    }
  },
};
