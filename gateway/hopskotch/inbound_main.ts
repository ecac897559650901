/**
 * `deno task hop-inbound`: the inbound gateway as its own process (it consumes
 * Kafka, not NATS, so it is not an actor): configuration from `KB_*`
 * variables, JSON logs, `/healthz` `/readyz` `/metrics`, drain on SIGTERM.
 *
 * @module
 */
import { z } from "zod";
import { ConfigError, loadEnv, loadRuntimeConfig } from "../../actors/runtime/config.ts";
import { connectTransport } from "../../actors/runtime/host.ts";
import { serveOps } from "../../actors/runtime/http.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import { parseTopicKinds } from "../../contracts/names.ts";
import { loadKafkaConfig } from "./config.ts";
import { DEFAULT_INBOUND_THREADS, INBOUND_NAME, startInbound } from "./inbound.ts";
import { gatewayMetrics } from "./metrics.ts";
import { processRegistry } from "../../actors/runtime/metrics.ts";
import { parseStartPosition } from "./start.ts";
import { memoryNow } from "../../actors/runtime/memory.ts";

/** Variables of the inbound gateway (besides KB_KAFKA_* and the runtime's). */
export const INBOUND_ENV = {
  KB_HOP_IN_URL: {
    schema: z.string().startsWith("kafka://"),
    doc: "hop URL of the topics to consume, kafka://[user@]host:port/topic1,topic2",
  },
  KB_HOP_IN_GROUP: {
    schema: z.string().regex(/^[A-Za-z0-9._-]+$/).optional(),
    doc: "consumer group id (default <username>-kilonova-inbound; must start with <username>-)",
  },
  KB_HOP_IN_START: {
    schema: z.string().default("earliest"),
    doc: "where a new group starts: earliest, latest, timestamp:<ms|ISO>, offsets:<t>:<p>:<o>,...",
  },
  KB_HOP_IN_START_FORCE: {
    schema: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
    doc: "apply KB_HOP_IN_START even where the group has committed offsets",
  },
  KB_HOP_TOPIC_KINDS: {
    schema: z.string().default(""),
    doc: "extra topic→kind rules before the defaults, <glob>=<gw|gcn|optical|other>,...",
  },
  KB_HOP_IN_INCLUDE_TEST: {
    schema: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
    doc: "forward _test records instead of skipping them",
  },
  KB_HOP_IN_CHUNK: {
    schema: z.coerce.number().int().min(1).max(10_000).default(500),
    doc: "records published to NATS at once per partition",
  },
  KB_HOP_IN_THREADS: {
    schema: z.enum(["1", "2"]).default(String(DEFAULT_INBOUND_THREADS) as "1" | "2")
      .transform((v) => Number(v) as 1 | 2),
    doc: "2: Kafka consumer and encoding in a worker thread, NATS publishing in the main one; " +
      "1: both in one thread",
  },
  KB_HOP_IN_SESSION_TIMEOUT_MS: {
    schema: z.coerce.number().int().min(6_000).max(300_000).default(10_000),
    doc: "Kafka group session timeout: how long a crashed replica keeps its partitions",
  },
  KB_HOP_IN_TOPIC_RECHECK_MS: {
    schema: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    doc: "how often topics that do not exist yet are looked for",
  },
} as const;

if (import.meta.main) {
  let runtime, env, kafka, start, kinds;
  try {
    runtime = loadRuntimeConfig();
    env = loadEnv(INBOUND_ENV);
    kafka = loadKafkaConfig({ url: env.KB_HOP_IN_URL });
    start = parseStartPosition(env.KB_HOP_IN_START);
    kinds = parseTopicKinds(env.KB_HOP_TOPIC_KINDS);
  } catch (err) {
    console.error(
      `${INBOUND_NAME}: ${err instanceof ConfigError ? err.message : (err as Error).message}`,
    );
    Deno.exit(2);
  }
  const replica = runtime.KB_REPLICA_ID ?? `${Deno.hostname()}-${Deno.pid}`;
  const log = createLogger({ level: runtime.KB_LOG_LEVEL, fields: { replica } });
  const registry = processRegistry({ replica });
  const metrics = gatewayMetrics(registry);
  let transport;
  try {
    transport = await connectTransport(runtime, `kb:${INBOUND_NAME}:${replica}`);
  } catch (err) {
    log.error("cannot connect to NATS", { error: (err as Error).message });
    Deno.exit(1);
  }
  let gateway: Awaited<ReturnType<typeof startInbound>> | undefined;
  let stopping = false;
  const server = serveOps({
    registry,
    notReady: () =>
      stopping ? ["shutting down"] : gateway?.ready() ? [] : [`${INBOUND_NAME}: not consuming`],
  }, { host: runtime.KB_HTTP_HOST, port: runtime.KB_HTTP_PORT });
  // Memory before the consumer starts: with records waiting, the first fetch (up to 16 MiB)
  // can land before startInbound returns, and "when ready" would count what was read.
  const memoryAtStart = memoryNow();
  try {
    gateway = await startInbound({
      kafka,
      group: env.KB_HOP_IN_GROUP,
      start,
      forceStart: env.KB_HOP_IN_START_FORCE,
      topicKinds: kinds,
      includeTest: env.KB_HOP_IN_INCLUDE_TEST,
      chunk: env.KB_HOP_IN_CHUNK,
      threads: env.KB_HOP_IN_THREADS,
      topicRecheckMs: env.KB_HOP_IN_TOPIC_RECHECK_MS,
      sessionTimeoutMs: env.KB_HOP_IN_SESSION_TIMEOUT_MS,
      transport,
      log,
      metrics,
      replica,
    });
  } catch (err) {
    log.error("inbound gateway could not start", { error: (err as Error).message });
    await server.stop();
    await transport.close();
    Deno.exit(1);
  }
  log.info("host ready", {
    actors: [INBOUND_NAME],
    opsPort: server.port,
    groupId: gateway.groupId,
    topics: kafka.topics,
    brokers: kafka.brokers,
    credentials: kafka.credentialSource,
    ...memoryAtStart,
  });
  const onSignal = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("signal received; draining", { signal });
    const timer = setTimeout(() => {
      log.warn("grace period expired; exiting (uncommitted records are read again)");
      Deno.exit(1);
    }, runtime.KB_GRACE_MS);
    await gateway?.stop();
    await server.stop();
    await transport.close();
    clearTimeout(timer);
    log.info("host stopped", { clean: true });
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => onSignal("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => onSignal("SIGINT"));
}
