/**
 * Hopskotch gateway benchmarks (issue 4), 1 KB records, all against the local
 * Kafka's PLAINTEXT listener and a real nats-server of the bench's own (so the
 * other users of the local one neither disturb it nor are disturbed):
 * - raw ceilings measured in the same run: Kafka's own ProducerPerformance
 *   (acks=all) and ConsumerPerformance (`deploy/local/kafka.sh perf-*`);
 * - Kafka → NATS: the inbound gateway draining a backlog of hop records into
 *   `alerts.in.*` (throughput), and at a fixed offered rate (latency from the
 *   record's Kafka timestamp to its JetStream storage time, p50/p99);
 * - NATS → Kafka: the outbound gateway actor draining a backlog of
 *   `alerts.out.*` records into a topic (throughput), and at a fixed rate
 *   (latency from publish on NATS to receipt by a Kafka consumer, p50/p99);
 * - the HopWriter alone (acks=all, idempotent) for comparison.
 *
 * Every gateway figure is measured on each Kafka client behind the gateway's
 * interface (`KB_KAFKA_CLIENT`: kafkajs and @platformatic/kafka) in the same
 * run, so the default can be chosen by the numbers (docs/hopskotch.md).
 * `KB_BENCH_HOP_CLIENTS=kafkajs` limits the run to some of them. The inbound
 * throughput is measured with each thread layout of `KB_BENCH_HOP_THREADS`
 * (default `1,2`: everything on one thread; the Kafka side in a worker, see
 * `gateway/hopskotch/inbound_worker.ts`), each draining the same backlog with a
 * group of its own; the latency runs use the default layout.
 *
 * @module
 */
import client from "prom-client";
import { STREAMS, SUBJECTS } from "../contracts/names.ts";
import { runtimeConfig } from "../actors/runtime/config.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { runtimeMetrics } from "../actors/runtime/metrics.ts";
import { NatsTransport } from "../actors/runtime/nats_transport.ts";
import { startActor } from "../actors/runtime/runner.ts";
import { sleep, startPrivateNats, waitFor } from "../actors/runtime/testing.ts";
import { loadKafkaConfig } from "../gateway/hopskotch/config.ts";
import { DEFAULT_INBOUND_THREADS, startInbound } from "../gateway/hopskotch/inbound.ts";
import {
  KAFKA_CLIENTS,
  kafkaClient,
  type KafkaClientKind,
  kafkaDriver,
  withAdmin,
} from "../gateway/hopskotch/kafka.ts";
import { gatewayMetrics } from "../gateway/hopskotch/metrics.ts";
import { closeOutboundSink, outboundActor } from "../gateway/hopskotch/outbound.ts";
import { connectHopWriter, type HopRecord } from "../gateway/hopskotch/writer.ts";
import { type Bench, type BenchRow, quantile, run } from "./harness.ts";
import { procCpuTimesSync } from "./proc.ts";

const N = Number(Deno.env.get("KB_BENCH_HOP_RECORDS") ?? 50_000);
const RATE = Number(Deno.env.get("KB_BENCH_HOP_RATE") ?? 1_000);
const RATE_SECONDS = Number(Deno.env.get("KB_BENCH_HOP_RATE_SECONDS") ?? 5);
const ROOT = new URL("../", import.meta.url).pathname;
const THREADS = (Deno.env.get("KB_BENCH_HOP_THREADS") ?? "1,2").split(",").map((v) => {
  const n = Number(v.trim());
  if (n !== 1 && n !== 2) throw new Error(`KB_BENCH_HOP_THREADS: ${v} is not 1 or 2`);
  return n as 1 | 2;
});
const quiet = createLogger({ level: "error" });
const enc = new TextEncoder();
const dec = new TextDecoder();

function brokers(): string {
  const b = Deno.env.get("KB_KAFKA_BROKERS");
  if (!b) throw new Error("KB_KAFKA_BROKERS is not set: run through `deno task bench gateway`");
  return b;
}

/** The clients the default configuration (`KB_KAFKA_CLIENT` unset) consumes and produces with. */
const DEFAULTS = (() => {
  const d = kafkaDriver(loadKafkaConfig({ env: {} }));
  return { consume: d.kind, produce: d.producerKind ?? d.kind };
})();

function kafkaConfig(topics: string[] = [], client: KafkaClientKind = DEFAULTS.consume) {
  return loadKafkaConfig({
    url: `kafka://${brokers()}/${topics.join(",")}`,
    env: { KB_KAFKA_SECURITY_PROTOCOL: "PLAINTEXT", KB_KAFKA_CLIENT: client },
  });
}

function createTopics(topics: string[]): Promise<void> {
  return withAdmin(kafkaConfig(), (a) => a.createTopics(topics));
}

function highWatermark(topic: string): Promise<number> {
  return withAdmin(
    kafkaConfig(),
    async (a) => (await a.endOffsets(topic)).reduce((s, p) => s + Number(p.offset), 0),
  );
}

/** A JSON hop record of ~1 KB. */
function record(i: number): HopRecord {
  const base = JSON.stringify({ n: i, sentAt: Date.now(), pad: "" });
  return {
    format: "json",
    value: enc.encode(
      JSON.stringify({ n: i, sentAt: Date.now(), pad: "x".repeat(1024 - base.length) }),
    ),
  };
}

async function rawProducer(topic: string): Promise<{ rate: number; p99: number }> {
  const out = await run("bash", [
    `${ROOT}deploy/local/kafka.sh`,
    "perf-producer",
    "--bootstrap-server",
    brokers(),
    "--topic",
    topic,
    "--num-records",
    String(N),
    "--record-size",
    "1024",
    "--throughput",
    "-1",
    "--command-property",
    "acks=all",
  ]);
  const line = out.trim().split("\n").pop()!;
  const m = /([\d.]+) records\/sec.*?(\d+) ms 99th/.exec(line);
  if (!m) throw new Error(`cannot read ProducerPerformance output: ${line}`);
  return { rate: Number(m[1]), p99: Number(m[2]) };
}

/** ConsumerPerformance's rates: over the whole run (group join included) and over its fetches. */
interface ConsumerRates {
  /** nMsg.sec: records over the whole run, rebalance (group join) included. */
  readonly rate: number;
  /** fetch.nMsg.sec: records over the time after the join (steady state). */
  readonly fetchRate: number;
}

async function rawConsumer(topic: string): Promise<ConsumerRates> {
  const out = await run("bash", [
    `${ROOT}deploy/local/kafka.sh`,
    "perf-consumer",
    "--bootstrap-server",
    brokers(),
    "--topic",
    topic,
    "--num-records",
    String(N),
  ]);
  const line = out.trim().split("\n").pop()!.split(",").map((s) => s.trim());
  // nMsg.sec over the whole run (rebalance included), as our figure includes the group join too
  const rate = Number(line[5]);
  const fetchRate = Number(line[9]);
  if (!Number.isFinite(rate) || !Number.isFinite(fetchRate)) {
    throw new Error(`cannot read ConsumerPerformance output: ${out}`);
  }
  return { rate, fetchRate };
}

/** User + system CPU seconds of this process so far (the inbound gateway runs in it). */
function cpuSeconds(): number {
  const t = procCpuTimesSync("self");
  return t.user + t.sys;
}

/** What the inbound throughput run measured. */
interface InboundRun {
  /** Records per second from start (group join included) to the last record stored. */
  readonly rate: number;
  /** Records per second from the first record consumed to the last stored. */
  readonly steadyRate: number;
  /** CPU of the process (the gateway, and the bench's polling) per record, µs. */
  readonly cpuUsPerRecord: number;
}

async function writerThroughput(topic: string, kc: KafkaClientKind): Promise<number> {
  const w = await connectHopWriter(kafkaConfig([], kc));
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1000) {
    await w.publish(topic, Array.from({ length: Math.min(1000, N - i) }, (_, j) => record(i + j)));
  }
  const rate = N / ((performance.now() - t0) / 1000);
  await w.close();
  return rate;
}

async function inboundThroughput(
  t: NatsTransport,
  topic: string,
  kc: KafkaClientKind,
  threads: 1 | 2,
): Promise<InboundRun> {
  await t.deleteStream(STREAMS.alertsIn.name);
  await t.ensureStream(STREAMS.alertsIn);
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const gw = await startInbound({
    kafka: kafkaConfig([topic], kc),
    start: { kind: "earliest" },
    group: `kb-bench-${topic}-t${threads}`,
    threads,
    transport: t,
    log: quiet,
    metrics: gatewayMetrics(new client.Registry()),
    replica: "bench",
  });
  let first = 0;
  // Polled every 5 ms: `first` is within 5 ms of the first record handed to the gateway.
  await waitFor(
    "first record",
    () => {
      first = performance.now();
      return gw.stats().consumed > 0;
    },
    60_000,
    5,
  );
  // Polled every 10 ms (a stream info request), so the end is not overstated by much.
  await waitFor(
    "backlog drained",
    async () => (await t.streamState(STREAMS.alertsIn.name)).messages >= N,
    300_000,
    10,
  );
  const end = performance.now();
  const cpuUsPerRecord = 1e6 * (cpuSeconds() - cpu0) / N;
  await gw.stop();
  return {
    rate: N / ((end - t0) / 1000),
    steadyRate: N / ((end - first) / 1000),
    cpuUsPerRecord,
  };
}

async function inboundLatency(
  t: NatsTransport,
  topic: string,
  kc: KafkaClientKind,
): Promise<number[]> {
  await t.deleteStream(STREAMS.alertsIn.name);
  await t.ensureStream(STREAMS.alertsIn);
  const gw = await startInbound({
    kafka: kafkaConfig([topic], kc),
    start: { kind: "latest" },
    group: `kb-bench-${topic}`,
    transport: t,
    log: quiet,
    metrics: gatewayMetrics(new client.Registry()),
    replica: "bench",
  });
  await sleep(3_000); // joined and positioned
  const w = await connectHopWriter(kafkaConfig([], kc));
  const total = RATE * RATE_SECONDS;
  const t0 = Date.now();
  for (let i = 0; i < total; i += 10) {
    await w.publish(topic, Array.from({ length: 10 }, (_, j) => record(i + j)));
    const ahead = (i + 10) / RATE * 1000 - (Date.now() - t0);
    if (ahead > 0) await sleep(ahead);
  }
  await w.close();
  await waitFor(
    "rate run delivered",
    async () => (await t.streamState(STREAMS.alertsIn.name)).messages >= total,
    60_000,
  );
  await gw.stop();
  const lat: number[] = [];
  for await (const m of t.read(STREAMS.alertsIn.name)) {
    const e = JSON.parse(dec.decode(m.data));
    lat.push(m.timestampMs - e.kafka.timestampMs);
  }
  return lat.sort((a, b) => a - b);
}

async function outboundRun(
  t: NatsTransport,
  tpTopic: string,
  latTopic: string,
  kc: KafkaClientKind,
) {
  await closeOutboundSink();
  for (
    const [k, v] of Object.entries({
      KB_KAFKA_URL: `kafka://${brokers()}`,
      KB_KAFKA_SECURITY_PROTOCOL: "PLAINTEXT",
      KB_KAFKA_CLIENT: kc,
      KB_HOP_OUT_TOPICS: `benchtp=${tpTopic},benchlat=${latTopic}`,
      KB_HOP_OUT_MAX_IN_FLIGHT: "1000",
    })
  ) Deno.env.set(k, v);
  await t.deleteStream(STREAMS.alertsOut.name);
  await t.ensureStream(STREAMS.alertsOut);
  const pad = "x".repeat(900);
  const prefill: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    const data = enc.encode(JSON.stringify({ format: "json", content: { n: i, pad } }));
    prefill.push(
      t.publish(SUBJECTS.alertsOut("benchtp"), data, { msgId: `bench-out-${tpTopic}-${i}` }),
    );
    if (prefill.length >= 1000) await Promise.all(prefill.splice(0));
  }
  await Promise.all(prefill);
  const config = runtimeConfig({
    KB_MAX_IN_FLIGHT: 1000,
    KB_PREFETCH: 2000,
    KB_MAX_ACK_PENDING: 20_000,
  });
  const t0 = performance.now();
  const actor = await startActor(outboundActor, {
    transport: t,
    config,
    log: quiet,
    metrics: runtimeMetrics(new client.Registry()),
    replica: "bench",
  });
  await waitFor(
    "outbound backlog produced",
    async () => (await highWatermark(tpTopic)) >= N,
    300_000,
    100,
  );
  const rate = N / ((performance.now() - t0) / 1000);

  // Latency: publish on NATS at a fixed rate, receive with a Kafka consumer.
  const consumer = kafkaClient(kafkaConfig()).consumer({
    groupId: `kb-bench-${latTopic}`,
    maxWaitTimeInMs: 20,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [latTopic], fromBeginning: true });
  const lat: number[] = [];
  await consumer.run({
    eachMessage: ({ message }) => {
      const c = JSON.parse(message.value!.toString("utf8"));
      lat.push(Date.now() - c.sentAt);
      return Promise.resolve();
    },
  });
  await sleep(3_000);
  const total = RATE * RATE_SECONDS;
  const start = Date.now();
  for (let i = 0; i < total; i++) {
    const data = enc.encode(
      JSON.stringify({ format: "json", content: { n: i, sentAt: Date.now(), pad } }),
    );
    await t.publish(SUBJECTS.alertsOut("benchlat"), data, { msgId: `bench-lat-${latTopic}-${i}` });
    const ahead = (i + 1) / RATE * 1000 - (Date.now() - start);
    if (ahead > 0) await sleep(ahead);
  }
  await waitFor("latency run received", () => lat.length >= total, 60_000);
  await consumer.disconnect();
  await actor.stop(5_000);
  await closeOutboundSink();
  return { rate, lat: lat.sort((a, b) => a - b) };
}

/** The gateway benchmark. */
export const gatewayBench: Bench = {
  name: "gateway",
  description:
    "Hopskotch gateway: Kafka → NATS and NATS → Kafka, 1 KB records, next to Kafka's own perf tools",
  needs: ["nats", "kafka"],
  async run() {
    const id = Date.now().toString(36);
    const clients = (Deno.env.get("KB_BENCH_HOP_CLIENTS") ?? KAFKA_CLIENTS.join(","))
      .split(",").map((c) => c.trim()).filter(Boolean) as KafkaClientKind[];
    for (const c of clients) {
      if (!KAFKA_CLIENTS.includes(c)) throw new Error(`KB_BENCH_HOP_CLIENTS: unknown client ${c}`);
    }
    const topicsOf = (kc: string) => ({
      in: `kb-bench.in-${kc}-${id}`,
      lat: `kb-bench.inlat-${kc}-${id}`,
      out: `kb-bench.out-${kc}-${id}`,
      outLat: `kb-bench.outlat-${kc}-${id}`,
    });
    const raw = `kb-bench.raw-${id}`;
    const all = [raw, ...clients.flatMap((c) => Object.values(topicsOf(c)))];
    await createTopics(all);
    // A nats-server of its own: the bench deletes and fills the pipeline's streams
    // (KB_ALERTS_IN/OUT) and runs the outbound actor's durable consumer, which
    // other tests share on the local server.
    const nats = await startPrivateNats();
    const t = await NatsTransport.connect({ servers: nats.url, name: "kb-bench-gateway" });
    try {
      const producer = await rawProducer(raw);
      const consumer = await rawConsumer(raw);
      const rows: BenchRow[] = [];
      const figures: Record<string, unknown> = {};
      for (const kc of clients) {
        const topics = topicsOf(kc);
        const inDefault = kc === DEFAULTS.consume;
        const outDefault = kc === DEFAULTS.produce;
        const inTag = `[${kc}${inDefault ? ", default" : ""}]`;
        const tag = `[${kc}${outDefault ? ", default" : ""}]`;
        const writer = await writerThroughput(topics.in, kc); // also the inbound backlog
        const inbounds = new Map<1 | 2, InboundRun>();
        for (const th of THREADS) inbounds.set(th, await inboundThroughput(t, topics.in, kc, th));
        const inLat = await inboundLatency(t, topics.lat, kc);
        const out = await outboundRun(t, topics.out, topics.outLat, kc);
        figures[kc] = { writer, inbound: Object.fromEntries(inbounds), outbound: out.rate };
        const load = Deno.loadavg()[0].toFixed(1);
        for (const [th, inbound] of inbounds) {
          const isDefault = inDefault && th === DEFAULT_INBOUND_THREADS;
          const thTag = `[${kc}, ${th} thread${th === 1 ? "" : "s"}${
            isDefault ? ", default" : ""
          }]`;
          rows.push(
            {
              metric: `Kafka → NATS throughput (inbound gateway, 1 KB) ${thTag}`,
              value: inbound.rate,
              unit: "records/s",
              ceiling: consumer.rate,
              ceilingSource: "kafka-consumer-perf-test (ConsumerPerformance nMsg.sec), same run",
              target: isDefault ? "≥ 50% of ceiling and ≥ 20,000 records/s" : undefined,
              met: isDefault
                ? inbound.rate >= 0.5 * consumer.rate && inbound.rate >= 20_000
                : undefined,
              note: `${
                (100 * inbound.rate / consumer.rate).toFixed(0)
              }% of ceiling; both include their group join; load ${load}`,
            },
            {
              metric: `Kafka → NATS after the first record (steady state) ${thTag}`,
              value: inbound.steadyRate,
              unit: "records/s",
              ceiling: consumer.fetchRate,
              ceilingSource: "ConsumerPerformance fetch.nMsg.sec (after its join), same run",
              note: `${(100 * inbound.steadyRate / consumer.fetchRate).toFixed(0)}% of ceiling`,
            },
            {
              metric: `Kafka → NATS CPU per record (inbound gateway process) ${thTag}`,
              value: inbound.cpuUsPerRecord,
              unit: "µs",
              note: "user + system CPU of the process during the drain / records: steadier " +
                "than rates on a shared machine (the nats-server's own CPU not included)",
            },
          );
        }
        rows.push(
          {
            metric: `Kafka → NATS latency p50 at ${RATE}/s ${inTag}`,
            value: quantile(inLat, 0.5),
            unit: "ms",
            note: "Kafka CreateTime → JetStream stored",
          },
          {
            metric: `Kafka → NATS latency p99 at ${RATE}/s ${inTag}`,
            value: quantile(inLat, 0.99),
            unit: "ms",
          },
          {
            metric: `NATS → Kafka throughput (outbound gateway, 1 KB) ${tag}`,
            value: out.rate,
            unit: "records/s",
            ceiling: producer.rate,
            ceilingSource: "kafka-producer-perf-test (ProducerPerformance, acks=all), same run",
            target: outDefault ? "≥ 50% of ceiling and ≥ 20,000 records/s" : undefined,
            met: outDefault ? out.rate >= 0.5 * producer.rate && out.rate >= 20_000 : undefined,
            note: `${(100 * out.rate / producer.rate).toFixed(0)}% of ceiling`,
          },
          {
            metric: `NATS → Kafka latency p50 at ${RATE}/s ${tag}`,
            value: quantile(out.lat, 0.5),
            unit: "ms",
            note: "NATS publish → Kafka consumer receipt",
          },
          {
            metric: `NATS → Kafka latency p99 at ${RATE}/s ${tag}`,
            value: quantile(out.lat, 0.99),
            unit: "ms",
          },
          {
            metric: `HopWriter alone (acks=all, idempotent, batches of 1000) ${tag}`,
            value: writer,
            unit: "records/s",
            ceiling: producer.rate,
            ceilingSource: "kafka-producer-perf-test, same run",
            note: `${(100 * writer / producer.rate).toFixed(0)}% of ceiling`,
          },
        );
      }
      rows.push({
        metric: "kafka-producer-perf-test p99 latency (saturated)",
        value: producer.p99,
        unit: "ms",
      });
      await t.deleteStream(STREAMS.alertsIn.name);
      await t.deleteStream(STREAMS.alertsOut.name);
      return {
        rows,
        details: {
          records: N,
          rate: RATE,
          seconds: RATE_SECONDS,
          raw,
          clients: figures,
          defaults: DEFAULTS,
          ceilings: { producer, consumer },
        },
      };
    } finally {
      await t.close();
      await nats.stop();
    }
  },
};
