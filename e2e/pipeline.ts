/**
 * The whole pipeline as real processes, the way a deployment runs it: the
 * Hopskotch inbound gateway (`deno task hop-inbound`), the archiver, the
 * classifier (one replica), the results publisher, the outbound gateway
 * (`deno task actor <name>`) and the TOM with its broker module
 * (`deno task tom`). Each stage can be killed and started again; an exit the
 * suite did not cause is recorded as a crash.
 *
 * @module
 */
import { CONSUMERS, RESULT_SUBJECTS, STREAMS } from "../contracts/names.ts";
import type { Transport } from "../actors/runtime/transport.ts";
import { type SpawnedProcess, spawnProcess } from "../actors/runtime/testing.ts";
import { identityForProcess, seedFileName } from "../deploy/nats/identities.ts";

/** Server variables for a process of `args`: the stack's, with the process's own NATS identity. */
export function processEnv(
  stackEnv: Readonly<Record<string, string>>,
  args: readonly string[],
): Record<string, string> {
  const { KB_NATS_NKEY_FILE: _admin, NATS_NKEY: _cli, ...env } = stackEnv;
  const identity = identityForProcess(args);
  if (!stackEnv.KB_NATS_AUTH_DIR || !identity) return env;
  return {
    ...env,
    KB_NATS_IDENTITY: identity,
    KB_NATS_NKEY_FILE: `${stackEnv.KB_NATS_AUTH_DIR}/${seedFileName(identity)}`,
  };
}

/** Every process of the pipeline, in start order (consumers before the door). */
export const STAGES = [
  "archiver",
  "classifier",
  "results-publisher",
  "hopskotch-outbound",
  "tom",
  "inbound",
] as const;
/** One process of the pipeline. */
export type Stage = typeof STAGES[number];

/** What the pipeline connects to. */
export interface PipelineOptions {
  /** Server addresses (a private stack's `env`, or the shared servers'). */
  readonly env: Readonly<Record<string, string>>;
  /** Kafka brokers (`host:port`, PLAINTEXT). */
  readonly brokers: string;
  /** Kafka topics the inbound gateway reads. */
  readonly sourceTopics: readonly string[];
  /** Kafka topic derived alerts are produced to. */
  readonly resultsTopic: string;
  /** Consumer group of the inbound gateway. */
  readonly group: string;
  /** Extra variables for every process (e.g. KB_ACK_WAIT_MS). */
  readonly extraEnv?: Readonly<Record<string, string>>;
}

function spec(stage: Stage, o: PipelineOptions): { args: string[]; env: Record<string, string> } {
  switch (stage) {
    case "inbound":
      return {
        args: ["gateway/hopskotch/inbound_main.ts"],
        env: {
          KB_HOP_IN_URL: `kafka://${o.brokers}/${o.sourceTopics.join(",")}`,
          KB_HOP_IN_GROUP: o.group,
          KB_HOP_IN_START: "earliest",
        },
      };
    case "results-publisher":
      return { args: ["actors/main.ts", stage], env: { KB_RESULTS_TOPIC: o.resultsTopic } };
    case "hopskotch-outbound":
      return {
        args: ["actors/main.ts", stage],
        env: {
          KB_HOP_OUT_URL: `kafka://${o.brokers}`,
          KB_HOP_OUT_TOPICS: `${RESULT_SUBJECTS.derivedTopicToken}=${o.resultsTopic}`,
        },
      };
    case "tom":
      return { args: ["gateway/tom/main.ts"], env: { KB_TOM_PORT: "0" } };
    default:
      return { args: ["actors/main.ts", stage], env: {} };
  }
}

/** A running pipeline. */
export class Pipeline {
  readonly #o: PipelineOptions;
  readonly #procs = new Map<Stage, SpawnedProcess<string>>();
  readonly #expected = new Set<SpawnedProcess<string>>();
  /** Exits nobody asked for: stage, exit code, last log lines. */
  readonly crashes: { stage: Stage; code: number; logs: string }[] = [];
  /** How many times each stage was started. */
  readonly starts = new Map<Stage, number>();

  constructor(options: PipelineOptions) {
    this.#o = options;
  }

  /** Starts every stage. */
  async startAll(): Promise<void> {
    for (const s of STAGES) await this.start(s);
  }

  /** Starts one stage and waits until it is ready. */
  async start(stage: Stage): Promise<SpawnedProcess<string>> {
    const s = spec(stage, this.#o);
    const p = await spawnProcess({
      name: stage,
      args: s.args,
      env: {
        ...processEnv(this.#o.env, s.args),
        KB_KAFKA_SECURITY_PROTOCOL: "PLAINTEXT",
        KB_KAFKA_BROKERS: this.#o.brokers,
        KB_LOG_LEVEL: "info",
        ...this.#o.extraEnv,
        ...s.env,
      },
      readyWhen: (e) =>
        e.msg === "host ready" || e.msg === "tom ready" ? String(e.url ?? e.opsPort) : undefined,
      timeoutMs: 90_000,
    });
    this.#procs.set(stage, p);
    this.starts.set(stage, (this.starts.get(stage) ?? 0) + 1);
    p.status.then((st) => {
      if (!this.#expected.has(p)) {
        const logs = p.logs.slice(-30).map((l) => JSON.stringify(l)).join("\n");
        this.crashes.push({ stage, code: st.code, logs });
        console.error(
          `[pipeline] ${stage} exited on its own (code ${st.code}); last lines:\n${logs}`,
        );
      }
    });
    return p;
  }

  /** The running process of a stage. */
  process(stage: Stage): SpawnedProcess<string> {
    const p = this.#procs.get(stage);
    if (!p) throw new Error(`stage ${stage} was never started`);
    return p;
  }

  /** SIGKILLs a stage, waits for the exit, starts it again; resolves with the time taken, ms. */
  async crash(stage: Stage): Promise<number> {
    const t0 = performance.now();
    const p = this.process(stage);
    this.#expected.add(p);
    p.kill("SIGKILL");
    await p.status;
    await this.start(stage);
    return performance.now() - t0;
  }

  /** Stops every stage (SIGTERM, then SIGKILL after `graceMs`). */
  async stopAll(graceMs = 15_000): Promise<void> {
    await Promise.all([...this.#procs.values()].map(async (p) => {
      if (this.#expected.has(p)) return;
      this.#expected.add(p);
      try {
        p.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          p.kill("SIGKILL");
        } catch { /* already gone */ }
      }, graceMs);
      await p.status.catch(() => {});
      clearTimeout(timer);
    }));
  }

  /** Log lines of every current process matching `pred`, with their stage. */
  logs(pred: (e: Record<string, unknown>) => boolean): { stage: Stage; entry: unknown }[] {
    const out: { stage: Stage; entry: unknown }[] = [];
    for (const [stage, p] of this.#procs) {
      for (const e of p.logs) if (pred(e)) out.push({ stage, entry: e });
    }
    return out;
  }
}

/** The durable consumers of the NATS-side stages, with their streams. */
export const CONSUMER_STAGES = [
  { stream: STREAMS.alertsIn.name, durable: CONSUMERS.ofActor("archiver") },
  { stream: STREAMS.alertsIn.name, durable: CONSUMERS.ofActor("classifier") },
  { stream: STREAMS.results.name, durable: CONSUMERS.ofActor("results-publisher") },
  { stream: STREAMS.alertsOut.name, durable: CONSUMERS.ofActor("hopskotch-outbound") },
  { stream: STREAMS.alertsOut.name, durable: CONSUMERS.ofActor("tom") },
] as const;

/**
 * Every stage consumer's backlog: idle when nothing is pending or unacknowledged
 * anywhere; `left` (pending + unacknowledged) shrinks while the pipeline works.
 */
export async function backlog(
  nats: Transport,
): Promise<{ idle: boolean; left: number; detail: string }> {
  let left = 0;
  const parts: string[] = [];
  for (const c of CONSUMER_STAGES) {
    const s = await nats.consumerState(c.stream, c.durable);
    left += s.pending + s.ackPending;
    parts.push(`${c.durable} ${s.pending}+${s.ackPending}`);
  }
  return { idle: left === 0, left, detail: `backlog (pending+unacked): ${parts.join(", ")}` };
}
