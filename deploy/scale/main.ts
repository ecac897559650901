/**
 * `deno task scale-test`: runs an actor as 1, 2 and 4 processes on one durable
 * consumer against the NATS server at KB_NATS_URL (the local stack's by
 * default: `eval "$(bash deploy/local/stack.sh env)"`), the same backlog each
 * time, then once more with one replica SIGKILLed mid-run, and prints the
 * table. It deletes and recreates the actor's streams on that server.
 *
 *   deno task scale-test [--actor echo] [--messages 4000] [--cpu-ms 5]
 *                        [--replicas 1,2,4] [--kill-replicas 2]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { correctnessProblems, formatTable, runScale } from "./scale.ts";
import { WORKLOADS } from "./workloads.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      actor: { type: "string", default: "echo" },
      messages: { type: "string", default: "4000" },
      "cpu-ms": { type: "string", default: "5" },
      replicas: { type: "string", default: "1,2,4" },
      "kill-replicas": { type: "string", default: "2" },
    },
  });
  const workload = WORKLOADS[values.actor];
  if (!workload) {
    console.error(
      `no scale workload for actor "${values.actor}"; known: ${Object.keys(WORKLOADS).join(", ")}` +
        " (add one in deploy/scale/workloads.ts)",
    );
    Deno.exit(2);
  }
  const natsUrl = Deno.env.get("KB_NATS_URL");
  if (!natsUrl) {
    console.error(
      'KB_NATS_URL is not set: start the local stack and run `eval "$(bash deploy/local/stack.sh env)"`',
    );
    Deno.exit(2);
  }
  const num = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      console.error(`--${name} must be a whole number, got "${v}"`);
      Deno.exit(2);
    }
    return n;
  };
  const messages = num("messages", values.messages);
  const cpuMs = num("cpu-ms", values["cpu-ms"]);
  const results = await runScale({
    workload,
    natsUrl,
    replicaCounts: values.replicas.split(",").map((r) => num("replicas", r)),
    messages,
    cpuMs,
    killRunReplicas: num("kill-replicas", values["kill-replicas"]),
    log: (line) => console.error(`scale-test: ${line}`),
  });
  console.log(
    `\nScale test: ${workload.describe(cpuMs)}, ${messages} messages per run, ` +
      `${navigator.hardwareConcurrency} CPU core(s), NATS ${natsUrl}\n`,
  );
  console.log(formatTable(results));
  const problems = results.flatMap(correctnessProblems);
  if (problems.length) {
    console.error(`\nFAILED:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    Deno.exit(1);
  }
  console.log("\nno input lost, none answered twice, none handled twice on a clean run");
}
