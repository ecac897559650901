/**
 * Results publisher cost per result: a fresh PostgreSQL database holding the
 * archived inputs (candidates with a few alerts each, photometry growing), then
 * N classification results (several per candidate, scores moving so about half
 * become derived alerts) through the actor on the in-process transport. Reports
 * results/s and this process's CPU ms per result (the publisher's side; the
 * server's work is not in it) — the number issue #11 tracks.
 *
 * `./kb task bench results-publisher`, or standalone `./kb run -A
 * bench/results_publisher.ts` (needs KB_DATABASE_URL: `eval "$(bash
 * deploy/local/stack.sh env postgres)"`). Knobs:
 * `KB_BENCH_RP_RESULTS` (default 3000), `KB_BENCH_RP_PER_CANDIDATE` (default 5), and the
 * publisher's `KB_RESULTS_BATCH`, `KB_RESULTS_LINGER_MS`, `KB_RESULTS_WRITERS`.
 *
 * @module
 */
import process from "node:process";
import { RESULT_SUBJECTS, STREAMS } from "../contracts/names.ts";
import { insertAlertBatch } from "../db/archive.ts";
import { createTestDatabase } from "../db/testing.ts";
import { extract } from "../actors/archiver/extract.ts";
import { type Fixture, opticalFixture, point } from "../actors/archiver/testing.ts";
import { runtimeConfig } from "../actors/runtime/config.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { MemoryTransport } from "../actors/runtime/memory_transport.ts";
import { runtimeMetrics } from "../actors/runtime/metrics.ts";
import { startActor } from "../actors/runtime/runner.ts";
import { waitFor } from "../actors/runtime/testing.ts";
import { createResultsPublisher } from "../actors/results_publisher/publisher.ts";
import { resultFixture } from "../actors/results_publisher/testing.ts";
import type { Bench, BenchRow } from "./harness.ts";
import { backendCpuTimes } from "./proc.ts";

const enc = new TextEncoder();

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Runs the measurement; returns its rows. */
export async function runResultsPublisherBench(
  o: {
    results?: number;
    perCandidate?: number;
    /** Batching knobs (default: the publisher's defaults). */
    batching?: { batch?: number; lingerMs?: number; writers?: number };
  } = {},
): Promise<BenchRow[]> {
  const n = o.results ?? Number(Deno.env.get("KB_BENCH_RP_RESULTS") ?? 3000);
  const per = o.perCandidate ?? Number(Deno.env.get("KB_BENCH_RP_PER_CANDIDATE") ?? 5);
  const db = await createTestDatabase("postgres");
  const t = new MemoryTransport();
  try {
    // Inputs: candidate c has alerts 1..per, alert k carrying points 1..k.
    const candidates = Math.ceil(n / per);
    const fixtures: Fixture[][] = [];
    for (let c = 0; c < candidates; c++) {
      const row: Fixture[] = [];
      for (let k = 1; k <= per; k++) {
        const pts = Array.from({ length: k }, (_, i) => point(c * 100 + i + 1));
        row.push(await opticalFixture(`BENCH-${c}`, pts[k - 1], pts.slice(0, -1)));
      }
      fixtures.push(row);
    }
    const items = fixtures.flat().map((f) => extract(f.envelope, f.msgId, f.subject).item);
    for (let i = 0; i < items.length; i += 500) {
      await insertAlertBatch(db.sql, items.slice(i, i + 500));
    }
    const actor = await startActor(
      createResultsPublisher({
        sql: db.sql,
        config: {
          minChange: 0.05,
          topic: "bench.results",
          submitter: "bench",
          maxPhotometry: 200,
          ...o.batching,
        },
      }),
      {
        transport: t,
        config: runtimeConfig({}),
        log: createLogger({ level: (Deno.env.get("KB_BENCH_RP_LOG") ?? "error") as "error" }),
        metrics: runtimeMetrics(),
        replica: "bench",
      },
    );
    try {
      // Results in arrival order: round k of every candidate, then round k + 1. Scores move
      // by 0.03 per round (wrapping every 20): every other result is a material change.
      const payloads: { id: string; data: Uint8Array }[] = [];
      for (let k = 0; k < per && payloads.length < n; k++) {
        for (let c = 0; c < candidates && payloads.length < n; c++) {
          const inputs = fixtures[c].slice(0, k + 1).map((f) => f.msgId);
          const kn = Math.round((0.2 + 0.03 * (k % 20)) * 1000) / 1000;
          payloads.push({
            id: `bench-r-${c}-${k}`,
            data: enc.encode(JSON.stringify(resultFixture(`BENCH-${c}`, kn, inputs))),
          });
        }
      }
      const server0 = await backendCpuTimes(db.sql);
      const cpu0 = cpuMs();
      const t0 = performance.now();
      for (const p of payloads) {
        await t.publish(RESULT_SUBJECTS.results("kilonova"), p.data, { msgId: p.id });
      }
      await waitFor(`${payloads.length} results handled`, () => {
        const st = actor.stats();
        return st.handled + st.deadLettered >= payloads.length;
      }, 600_000);
      if (actor.stats().deadLettered) {
        throw new Error(`${actor.stats().deadLettered} results were dead-lettered: fix the bench`);
      }
      const wallMs = performance.now() - t0;
      const cpu = cpuMs() - cpu0;
      let serverCpu = 0;
      for (const [pid, t] of await backendCpuTimes(db.sql)) {
        const before = server0.get(pid) ?? { user: 0, sys: 0 };
        serverCpu += (t.user + t.sys - before.user - before.sys) * 1000;
      }
      let published = 0;
      for await (const _ of t.read(STREAMS.alertsOut.name)) published++;
      const note = `${payloads.length} results, ${candidates} candidates × ${per}, ` +
        `${published} derived alerts; in-process transport, PostgreSQL`;
      return [
        {
          metric: "results publisher throughput",
          value: payloads.length / (wallMs / 1000),
          unit: "results/s",
          note,
        },
        {
          metric: "results publisher CPU per result (this process)",
          value: cpu / payloads.length,
          unit: "ms",
          note,
        },
        {
          metric: "PostgreSQL CPU per result (its processes serving the bench database)",
          value: serverCpu / payloads.length,
          unit: "ms",
          note: `${note}; /proc of the local server, 10 ms ticks`,
        },
      ];
    } finally {
      await actor.stop(5_000);
    }
  } finally {
    await t.close();
    await db.drop();
  }
}

/** The publisher's batching knobs set in the environment (the others: its defaults). */
function batchingFromEnv(): { batch?: number; lingerMs?: number; writers?: number } {
  const knob = (name: string) => Deno.env.get(name) ? Number(Deno.env.get(name)) : undefined;
  return Object.fromEntries(
    Object.entries({
      batch: knob("KB_RESULTS_BATCH"),
      lingerMs: knob("KB_RESULTS_LINGER_MS"),
      writers: knob("KB_RESULTS_WRITERS"),
    }).filter(([, v]) => v !== undefined),
  );
}

/** The results publisher benchmark. */
export const resultsPublisherBench: Bench = {
  name: "results-publisher",
  description: "results publisher: results/s and CPU ms per result (in-process transport)",
  needs: ["postgres"],
  async run() {
    return { rows: await runResultsPublisherBench({ batching: batchingFromEnv() }) };
  },
};

if (import.meta.main) {
  console.log(`batching: ${JSON.stringify(batchingFromEnv())} (unset: the defaults)`);
  for (const r of await runResultsPublisherBench({ batching: batchingFromEnv() })) {
    console.log(`${r.metric}: ${r.value.toFixed(3)} ${r.unit} (${r.note})`);
  }
}
