/**
 * Test helpers of the gateway: the real local Kafka's address and credentials
 * from the environment the test command sets (failing, never skipping, when it
 * is missing), topic creation, and gateway processes.
 *
 * @module
 */
import { KAFKA_CLIENTS, kafkaClient, type KafkaClientKind } from "./kafka.ts";
import { type KafkaClientConfig, loadKafkaConfig } from "./config.ts";
import { type SpawnedProcess, spawnProcess } from "../../actors/runtime/testing.ts";

function need(name: string): string {
  const v = Deno.env.get(name);
  if (!v) {
    throw new Error(
      `${name} is not set: run the suite with \`./kb task test\` (KB_TEST_SERVICES must include ` +
        `kafka), or \`eval "$(bash deploy/local/stack.sh env nats kafka hop)"\``,
    );
  }
  return v;
}

/**
 * The Kafka client library tests use when they do not run on each: `KB_KAFKA_CLIENT`
 * (e.g. `KB_KAFKA_CLIENT=platformatic ./kb test -A gateway/hopskotch/crash_test.ts`),
 * else the gateway's default.
 */
export function testKafkaClient(): KafkaClientKind | "auto" {
  const v = Deno.env.get("KB_KAFKA_CLIENT");
  if (v === undefined) return loadKafkaConfig({ env: {} }).client;
  if (v !== "auto" && !(KAFKA_CLIENTS as readonly string[]).includes(v)) {
    throw new Error(`KB_KAFKA_CLIENT=${v} is not one of auto, ${KAFKA_CLIENTS.join(", ")}`);
  }
  return v as KafkaClientKind | "auto";
}

/** Environment for a SCRAM (SASL_PLAINTEXT) client of the local Kafka on `client`. */
export function kafkaTestEnv(
  client: KafkaClientKind | "auto" = testKafkaClient(),
): Record<string, string> {
  return {
    KB_KAFKA_USERNAME: need("KB_KAFKA_USERNAME"),
    KB_KAFKA_PASSWORD: need("KB_KAFKA_PASSWORD"),
    KB_KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT",
    KB_KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
    KB_KAFKA_CLIENT: client,
  };
}

/** Hop URL of the local Kafka's SCRAM listener for `topics`. */
export function kafkaTestUrl(topics: readonly string[]): string {
  return `kafka://${need("KB_KAFKA_USERNAME")}@${need("KB_KAFKA_SASL_BROKERS")}/${
    topics.join(",")
  }`;
}

/** A client configuration for the local Kafka (SCRAM over plaintext) on `client`. */
export function kafkaTestConfig(
  topics: readonly string[] = [],
  client: KafkaClientKind | "auto" = testKafkaClient(),
): KafkaClientConfig {
  return loadKafkaConfig({ url: kafkaTestUrl(topics), env: kafkaTestEnv(client) });
}

/** Creates topics (no error when they exist). */
export async function createTopics(
  topics: readonly string[],
  partitions = 1,
): Promise<void> {
  const admin = kafkaClient(kafkaTestConfig()).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** A gateway started as its own process. */
export interface GatewayProcess extends SpawnedProcess<number> {
  /** Port of its /healthz /readyz /metrics server. */
  readonly port: number;
}

/** Starts `deno run -A <script>` and waits for its "host ready" log line. */
export async function spawnGateway(
  script: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<GatewayProcess> {
  const p = await spawnProcess({
    name: script,
    args: [script, ...args],
    env,
    readyWhen: (e) => (e.msg === "host ready" ? Number(e.opsPort) : undefined),
    timeoutMs,
  });
  return { ...p, port: p.ready };
}

/** A unique topic name for one test run. */
export function testTopic(prefix: string): string {
  return `kb-test.${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Sets environment variables for one test and returns the function that puts back what was
 * there before (call it in `finally`): `deno test` runs every file in one process, so a variable
 * left set (e.g. `KB_KAFKA_CLIENT`) would change the tests of the files that follow.
 */
export function setTestEnv(vars: Record<string, string>): () => void {
  const before = Object.keys(vars).map((k) => [k, Deno.env.get(k)] as const);
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  return () => {
    for (const [k, v] of before) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  };
}
