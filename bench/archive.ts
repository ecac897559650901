/**
 * Archive throughput on the real PostgreSQL (issue 6), all in one run:
 * - batched, both statement shapes of `insertAlertBatch` on the same alerts
 *   (interleaved J C C J so table growth favours neither): "json" (each table
 *   one JSON parameter, one round trip) and "copy" (alerts, candidates and
 *   photometry through `COPY … FROM STDIN` into staging tables, then the same
 *   statement over them);
 * - a sweep of batch size × writers for the default shape
 *   (`KB_BENCH_ARCHIVE_SWEEP`, e.g. `250x2,500x2,1000x3`; empty = skip), each on
 *   `KB_BENCH_ARCHIVE_SWEEP_ALERTS` (10000) fresh alerts;
 * - `synchronous_commit = off` for the bench's database (an operator option,
 *   never a default: see docs/archive.md);
 * - one insert per message: the same statement with one alert per
 *   transaction, at the same concurrency (the archiver without batching);
 * - the archiver actor end to end on the in-process transport (decode,
 *   validation, extraction, batching, acks);
 * - ceilings from `pgbench` on the same server in the same run: single-row
 *   insert transactions/s and rows/s of 500-row server-side inserts.
 *
 * Alerts are optical candidates carrying 0–4 earlier points (objects seen 5
 * times), as the archive receives them. `KB_BENCH_ARCHIVE_ALERTS` (30000) sets how
 * many per shape; `KB_BENCH_ARCHIVE_BATCH` and `KB_BENCH_ARCHIVE_WRITERS` the batch
 * size and writers (default: the archiver's defaults).
 *
 * @module
 */
import { type ArchiveItem, type BatchShape, insertAlertBatch } from "../db/archive.ts";
import { connect, type Sql } from "../db/connect.ts";
import { migrate } from "../db/migrate.ts";
import { databaseUrl, dropDatabase, withDatabase } from "../db/testing.ts";
import { extract } from "../actors/archiver/extract.ts";
import { ARCHIVER_DEFAULTS, createArchiver } from "../actors/archiver/archiver.ts";
import { opticalFixture, point } from "../actors/archiver/testing.ts";
import type { OpticalCandidate } from "../contracts/messages.ts";
import { runtimeConfig } from "../actors/runtime/config.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { MemoryTransport } from "../actors/runtime/memory_transport.ts";
import { runtimeMetrics } from "../actors/runtime/metrics.ts";
import { startActor } from "../actors/runtime/runner.ts";
import { waitFor } from "../actors/runtime/testing.ts";
import { type Bench, type BenchRow, run } from "./harness.ts";

const N = Number(Deno.env.get("KB_BENCH_ARCHIVE_ALERTS") ?? 30_000);
const SINGLE_N = Math.max(500, Math.floor(N / 10));
const BATCH = Number(Deno.env.get("KB_BENCH_ARCHIVE_BATCH") ?? ARCHIVER_DEFAULTS.batch);
const WRITERS = Number(Deno.env.get("KB_BENCH_ARCHIVE_WRITERS") ?? ARCHIVER_DEFAULTS.writers);
const SHAPE = ARCHIVER_DEFAULTS.shape;
const SWEEP = (Deno.env.get("KB_BENCH_ARCHIVE_SWEEP") ?? "250x2,500x2,1000x2,1000x3,2000x2")
  .split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    const [batch, writers] = s.split("x").map(Number);
    if (!(batch > 0 && writers > 0)) {
      throw new Error(`KB_BENCH_ARCHIVE_SWEEP: "${s}" is not <batch>x<writers>, e.g. 500x2`);
    }
    return { batch, writers };
  });
const SWEEP_N = Number(Deno.env.get("KB_BENCH_ARCHIVE_SWEEP_ALERTS") ?? 10_000);
const TARGET = 20_000;
const enc = new TextEncoder();

async function alerts(n: number, tag: string) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const obj = Math.floor(i / 5);
    const k = i % 5;
    const pos = { ra: (obj * 0.0137) % 360, dec: ((obj * 3.7) % 170) - 85 };
    const hist: OpticalCandidate[] = [];
    for (let j = 0; j < k; j++) hist.push(point(j + 1, pos));
    out.push(await opticalFixture(`${tag}-${obj}`, point(k + 1, pos), hist));
  }
  return out;
}

async function createDatabase(): Promise<{
  name: string;
  url: string;
  drop: () => Promise<void>;
}> {
  const name = `kb_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const admin = connect(databaseUrl(), { max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  return {
    name,
    url: withDatabase(databaseUrl(), name),
    drop: () => dropDatabase(databaseUrl(), name),
  };
}

/** Runs `write` over `batches` with `concurrency` workers; returns items/s. */
export async function throughput<T>(
  batches: T[][],
  concurrency: number,
  write: (b: T[]) => Promise<void>,
): Promise<number> {
  let next = 0;
  const total = batches.reduce((n, b) => n + b.length, 0);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < batches.length) await write(batches[next++]);
  }));
  return total / ((performance.now() - t0) / 1000);
}

/** `xs` in consecutive slices of `n` (the last one shorter). */
export function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Items of `n` fresh alerts. */
async function items(n: number, tag: string): Promise<ArchiveItem[]> {
  return (await alerts(n, tag)).map((f) => extract(f.envelope, f.msgId, f.subject).item);
}

/** Alerts/s of each shape over the same number of alerts, interleaved J C C J. */
async function shapes(sql: Sql, n: number): Promise<Record<BatchShape, number>> {
  const order: BatchShape[] = ["json", "copy", "copy", "json"];
  const time: Record<BatchShape, number> = { json: 0, copy: 0 };
  const count: Record<BatchShape, number> = { json: 0, copy: 0 };
  for (const [i, shape] of order.entries()) {
    const xs = await items(Math.floor(n / 2), `${shape}${i}`);
    const rate = await throughput(chunk(xs, BATCH), WRITERS, async (b) => {
      await insertAlertBatch(sql, b, shape);
    });
    time[shape] += xs.length / rate;
    count[shape] += xs.length;
  }
  return { json: count.json / time.json, copy: count.copy / time.copy };
}

async function pgbench(url: string, script: string, seconds: number): Promise<number> {
  const file = await Deno.makeTempFile({ suffix: ".sql" });
  await Deno.writeTextFile(file, script);
  try {
    const bin = new URL("../.tools/bin/pgbench", import.meta.url).pathname;
    const out = await run(bin, [
      "-n",
      "-c",
      String(WRITERS),
      "-j",
      String(WRITERS),
      "-T",
      String(seconds),
      "-f",
      file,
      url,
    ]);
    const m = /tps = ([\d.]+)/.exec(out);
    if (!m) throw new Error(`pgbench printed no tps:\n${out}`);
    return Number(m[1]);
  } finally {
    await Deno.remove(file);
  }
}

/** Archive throughput. */
export const archiveBench: Bench = {
  name: "archive",
  description:
    "archive writes: json vs COPY shapes, batch × writers sweep, one insert per message, pgbench ceilings",
  needs: ["postgres"],
  async run() {
    const db = await createDatabase();
    const sql = connect(db.url, { max: Math.max(WRITERS, ...SWEEP.map((w) => w.writers)) + 1 });
    try {
      await migrate(sql);
      await sql`create table bench_insert (id bigserial primary key, a double precision,
        b text, t timestamptz default now())`;
      const say = (what: string) => console.error(`archive bench: ${what}`);
      say("batched writes: json and copy shapes");
      const byShape = await shapes(sql, N);
      const batched = byShape[SHAPE];
      const sweep: { batch: number; writers: number; rate: number }[] = [];
      for (const { batch, writers } of SWEEP) {
        say(`sweep: ${batch} per batch, ${writers} writers`);
        const xs = await items(SWEEP_N, `w${batch}x${writers}`);
        const rate = await throughput(chunk(xs, batch), writers, async (b) => {
          await insertAlertBatch(sql, b, SHAPE);
        });
        sweep.push({ batch, writers, rate });
      }
      const singles = await items(SINGLE_N, "s");
      say("one insert per message");
      const single = await throughput(chunk(singles, 1), WRITERS, async (b) => {
        await insertAlertBatch(sql, b);
      });
      // An operator option, never a default: commits stop waiting for the WAL flush (a server
      // crash may lose the last ~3 × wal_writer_delay of acknowledged alerts).
      say("synchronous_commit = off (operator option)");
      await sql.unsafe(`alter database ${db.name} set synchronous_commit = off`);
      const noSyncSql = connect(db.url, { max: WRITERS + 1 });
      const noSync = await throughput(
        chunk(await items(Math.floor(N / 2), "nosync"), BATCH),
        WRITERS,
        async (b) => {
          await insertAlertBatch(noSyncSql, b, SHAPE);
        },
      );
      await noSyncSql.end();
      await sql.unsafe(`alter database ${db.name} reset synchronous_commit`);

      say("the actor end to end");
      // The actor end to end (in-process transport: decode, validate, extract, batch, ack).
      const e2e = await alerts(Math.min(N, 20_000), "e");
      const t = new MemoryTransport();
      const actor = await startActor(
        createArchiver({
          sql,
          config: { batch: BATCH, writers: WRITERS, lingerMs: 5, shape: SHAPE },
        }),
        {
          transport: t,
          config: runtimeConfig(),
          log: createLogger({ level: "error" }),
          metrics: runtimeMetrics(),
          replica: "bench",
        },
      );
      const wire = e2e.map((f) => enc.encode(JSON.stringify(f.envelope)));
      // One message first: the actor connects and migrates outside the timed part.
      await t.publish(e2e[0].subject, wire[0], { msgId: e2e[0].msgId });
      await waitFor("the actor's first alert", () => actor.stats().handled >= 1, 60_000, 20);
      // Counted from before the first publish: the actor works while messages arrive.
      const before = actor.stats().handled;
      const t0 = performance.now();
      for (let i = 1; i < e2e.length; i++) {
        await t.publish(e2e[i].subject, wire[i], { msgId: e2e[i].msgId });
      }
      await waitFor(
        "the actor to archive the backlog",
        () => actor.stats().handled - before >= e2e.length - 1,
        300_000,
        20,
      );
      const actorRate = (e2e.length - 1) / ((performance.now() - t0) / 1000);
      await actor.stop(5_000);
      await t.close();

      say("pgbench");
      const pgSingle = await pgbench(
        db.url,
        "insert into bench_insert (a, b) values (random(), 'x');\n",
        5,
      );
      const pgBulk = 500 * await pgbench(
        db.url,
        "insert into bench_insert (a, b) select random(), 'x' from generate_series(1, 500);\n",
        5,
      );
      const [{ n }] = await sql`select count(*)::int as n from alerts`;
      const rows: BenchRow[] = [
        {
          metric:
            `archive, batched: archiver defaults (${SHAPE}, ${BATCH}/batch, ${WRITERS} writers)`,
          value: batched,
          unit: "alerts/s",
          ceiling: pgBulk,
          ceilingSource: "pgbench: 500-row server-side inserts, rows/s",
          target: `≥ ${TARGET.toLocaleString("en-US")} alerts/s`,
          met: batched >= TARGET,
          note: "alerts + candidates + photometry (0–4 history points) in one statement",
        },
        {
          metric:
            `archive, ${SHAPE} shape, synchronous_commit = off (operator option, not default)`,
          value: noSync,
          unit: "alerts/s",
          note: "a server crash may lose the last few hundred ms of acknowledged alerts",
        },
        {
          metric: `archive, one insert per message (${WRITERS} writers)`,
          value: single,
          unit: "alerts/s",
          ceiling: pgSingle,
          ceilingSource: "pgbench: single-row insert transactions/s",
        },
        {
          metric: `archive, batched, json shape (${BATCH}/batch, ${WRITERS} writers)`,
          value: byShape.json,
          unit: "alerts/s",
          note: "one statement, each table one JSON parameter (json_to_recordset)",
        },
        {
          metric: `archive, batched, copy shape (${BATCH}/batch, ${WRITERS} writers)`,
          value: byShape.copy,
          unit: "alerts/s",
          note: `COPY into staging tables + the same statement; ${
            byShape.copy > byShape.json ? "COPY" : "json"
          } faster by ${
            (100 * (Math.max(byShape.copy, byShape.json) /
                Math.min(byShape.copy, byShape.json) - 1)).toFixed(0)
          }%`,
        },
        ...sweep.map((w): BenchRow => ({
          metric: `sweep: ${SHAPE} shape, ${w.batch}/batch, ${w.writers} writers`,
          value: w.rate,
          unit: "alerts/s",
        })),
        {
          metric: "archiver actor end to end (in-process transport)",
          value: actorRate,
          unit: "alerts/s",
          note: "decode + zod + extraction + batching + acks",
        },
      ];
      return {
        rows,
        details: {
          alerts: N,
          singleAlerts: SINGLE_N,
          batch: BATCH,
          writers: WRITERS,
          shape: SHAPE,
          byShape,
          sweep,
          sweepAlerts: SWEEP_N,
          loadAverage: Deno.loadavg(),
          stored: n,
          batchedOverSingle: batched / single,
          synchronousCommitOff: noSync,
        },
      };
    } finally {
      await sql.end();
      await db.drop();
    }
  },
};
