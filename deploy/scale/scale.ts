/**
 * The scale test: an actor run as 1, 2, 4, ... separate processes sharing one
 * durable consumer on a real NATS server, each run under the same backlog.
 * It measures throughput per replica count and checks that every input was
 * answered exactly once (outputs), that no input was handled twice (the
 * replicas' own counts on a clean stop), and, in the SIGKILL run, that a
 * replica killed mid-run loses nothing: what it held is redelivered.
 *
 * @module
 */
import { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import { natsConnectionOptionsFromEnv } from "../../actors/runtime/nats_auth.ts";
import { sleep, spawnActor, type SpawnedActor } from "../../actors/runtime/testing.ts";
import type { Workload } from "./workloads.ts";

/** One run's measurements. */
export interface RunResult {
  readonly replicas: number;
  /** True for the run in which one replica was SIGKILLed mid-run. */
  readonly killed: boolean;
  readonly messages: number;
  /** From the first publish to the last output. */
  readonly seconds: number;
  readonly perSecond: number;
  /** Outputs per replica (by the replica that handled the input). */
  readonly perReplica: Record<string, number>;
  /** Outputs produced on a second or later delivery. */
  readonly redelivered: number;
  /** Inputs handled, summed over the replicas that stopped cleanly (undefined with a kill). */
  readonly handledTotal?: number;
  /** Inputs without an output. */
  readonly lost: number;
  /** Inputs with more than one output. */
  readonly duplicated: number;
  readonly deadLettered: number;
}

/** Options of {@link runScale}. */
export interface ScaleOptions {
  readonly workload: Workload;
  readonly natsUrl: string;
  /** Replica counts to measure, in order. */
  readonly replicaCounts: readonly number[];
  /** Inputs per run. */
  readonly messages: number;
  /** CPU milliseconds per input. */
  readonly cpuMs: number;
  /** Also run with this many replicas and SIGKILL one of them mid-run (0: no such run). */
  readonly killRunReplicas: number;
  /** Extra environment for every replica (KB_*). */
  readonly env?: Record<string, string>;
  /** Longest a run may take before it is declared stuck. */
  readonly runTimeoutMs?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** Runs every configured run and returns their results, in order. */
export async function runScale(o: ScaleOptions): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const r of o.replicaCounts) results.push(await runOnce(o, r, false));
  if (o.killRunReplicas > 0) results.push(await runOnce(o, o.killRunReplicas, true));
  return results;
}

async function runOnce(o: ScaleOptions, replicas: number, kill: boolean): Promise<RunResult> {
  const log = o.log ?? (() => {});
  const t = await NatsTransport.connect({
    servers: o.natsUrl,
    name: "kb-scale-test",
    connection: await natsConnectionOptionsFromEnv(),
  });
  const actors: SpawnedActor[] = [];
  try {
    await o.workload.reset(t);
    const env = {
      KB_NATS_URL: o.natsUrl,
      KB_LOG_LEVEL: "info",
      // Small pulls so a backlog spreads over the replicas; the handler is CPU-bound,
      // so more in flight would only queue.
      KB_PREFETCH: "32",
      KB_MAX_IN_FLIGHT: "4",
      // With a kill, the victim's deliveries come back after this ack wait; without
      // one, the default (30 s) is far above any wait, so nothing is redelivered.
      ...(kill ? { KB_ACK_WAIT_MS: "3000" } : {}),
      ...o.env,
    };
    const started = await Promise.all(
      Array.from(
        { length: replicas },
        (_, i) => spawnActor(o.workload.actor, { ...env, KB_REPLICA_ID: `r${i + 1}` }),
      ),
    );
    actors.push(...started);
    log(
      `${replicas} replica(s) of ${o.workload.actor} ready${kill ? " (one will be killed)" : ""}`,
    );

    const t0 = performance.now();
    await o.workload.publish(t, o.messages, o.cpuMs);
    const deadline = Date.now() + (o.runTimeoutMs ?? 300_000);
    let killedAt = -1;
    while (true) {
      const done = await o.workload.outputCount(t, o.messages);
      if (done >= o.messages) break;
      if (kill && killedAt < 0 && done >= o.messages * 0.3) {
        actors[0].kill("SIGKILL");
        await actors[0].status;
        killedAt = done;
        log(`SIGKILLed replica r1 after ${done} outputs`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${replicas} replica(s): only ${done} of ${o.messages} outputs after ` +
            `${o.runTimeoutMs ?? 300_000} ms`,
        );
      }
      await sleep(kill ? 20 : 100);
    }
    const seconds = (performance.now() - t0) / 1000;

    // Stop the survivors cleanly; each reports what it handled.
    let handledTotal: number | undefined = 0;
    for (const a of actors) {
      if (kill && a === actors[0]) continue;
      a.kill("SIGTERM");
      const s = await a.status;
      if (s.code !== 0) throw new Error(`a replica did not stop cleanly (exit ${s.code})`);
      const stop = a.logs.find((l) => l.msg === "stopped cleanly");
      if (!stop) throw new Error("a replica stopped without reporting its counts");
      handledTotal! += Number(stop.handled);
    }
    if (kill) handledTotal = undefined;

    const outputs = await o.workload.outputs(t);
    const seen = new Map<number, number>();
    const perReplica: Record<string, number> = {};
    for (const out of outputs) {
      seen.set(out.input, (seen.get(out.input) ?? 0) + 1);
      perReplica[out.replica] = (perReplica[out.replica] ?? 0) + 1;
    }
    let lost = 0;
    for (let i = 0; i < o.messages; i++) if (!seen.has(i)) lost++;
    const duplicated = [...seen.values()].filter((c) => c > 1).length;
    return {
      replicas,
      killed: kill,
      messages: o.messages,
      seconds,
      perSecond: o.messages / seconds,
      perReplica,
      redelivered: outputs.filter((x) => x.attempt > 1).length,
      handledTotal,
      lost,
      duplicated,
      deadLettered: await o.workload.deadLetters(t),
    };
  } finally {
    for (const a of actors) {
      try {
        a.kill("SIGKILL");
      } catch { /* exited already */ }
      await a.status;
    }
    await t.close();
  }
}

/** The results as a Markdown table, speed-up relative to the 1-replica run. */
export function formatTable(results: readonly RunResult[]): string {
  const one = results.find((r) => r.replicas === 1 && !r.killed);
  const rows = results.map((r) => {
    const speedup = one ? (r.perSecond / one.perSecond).toFixed(2) : "-";
    const split = Object.entries(r.perReplica).sort().map(([k, v]) => `${k}:${v}`).join(" ");
    return `| ${r.replicas}${r.killed ? " (1 SIGKILLed)" : ""} | ${r.messages} | ` +
      `${r.seconds.toFixed(2)} | ${r.perSecond.toFixed(0)} | ${speedup} | ${split} | ` +
      `${r.redelivered} | ${r.handledTotal ?? "n/a"} | ${r.lost} | ${r.duplicated} | ` +
      `${r.deadLettered} |`;
  });
  return [
    "| replicas | messages | seconds | msg/s | speed-up | outputs per replica | redelivered | handled (clean stops) | lost | duplicated | dead letters |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/** Problems with a run's correctness (empty when every check holds). */
export function correctnessProblems(r: RunResult): string[] {
  const p: string[] = [];
  const what = `${r.replicas} replica(s)${r.killed ? " with a SIGKILL" : ""}`;
  if (r.lost) p.push(`${what}: ${r.lost} input(s) without an output`);
  if (r.duplicated) p.push(`${what}: ${r.duplicated} input(s) with more than one output`);
  if (r.deadLettered) p.push(`${what}: ${r.deadLettered} dead letter(s)`);
  if (r.handledTotal !== undefined && r.handledTotal !== r.messages) {
    p.push(`${what}: replicas handled ${r.handledTotal} inputs for ${r.messages} (twice or lost)`);
  }
  if (r.killed && r.redelivered === 0) {
    p.push(`${what}: nothing was redelivered, so the kill hit no in-flight work`);
  }
  return p;
}

/**
 * How many cores are free right now: runs `n` busy processes for `ms` and
 * returns the CPU time they got divided by the wall time (2.0 = two idle
 * cores). The throughput claims of the scale test only hold with free cores.
 */
export async function freeCores(n = navigator.hardwareConcurrency, ms = 1000): Promise<number> {
  const code = `import process from "node:process";
const c0 = process.cpuUsage(); const t0 = performance.now(); let x = 0;
while (performance.now() - t0 < ${ms}) { for (let i = 0; i < 1e5; i++) x += Math.sqrt(i); }
const c = process.cpuUsage(c0); console.log((c.user + c.system) / 1000, x > 0);`;
  const runs = await Promise.all(
    Array.from({ length: n }, () =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", code],
        stdout: "piped",
        stderr: "piped",
      }).output()),
  );
  let cpuMs = 0;
  for (const r of runs) {
    if (!r.success) throw new Error(`CPU probe failed: ${new TextDecoder().decode(r.stderr)}`);
    cpuMs += Number(new TextDecoder().decode(r.stdout).split(" ")[0]);
  }
  return cpuMs / ms;
}
