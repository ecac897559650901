/**
 * Archive throughput on the real PostgreSQL (issue 6), all in one run:
 * - batched: the archiver's write path (`insertAlertBatch`: one statement per
 *   batch of 500 alerts with their typed rows, 2 batches written at once);
 * - one insert per message: the same statement with one alert per transaction,
 *   at the same concurrency (what the archiver would do without batching);
 * - COPY: the alerts table alone loaded through `COPY … FROM STDIN` into a
 *   staging table then `INSERT … SELECT … ON CONFLICT DO NOTHING`, against the
 *   same alerts-only statement (which bulk path is faster here);
 * - the archiver actor end to end on the in-process transport (decode,
 *   validation, extraction, batching, acks);
 * - ceilings from `pgbench` on the same server in the same run: single-row
 *   insert transactions/s and rows/s of 500-row server-side inserts.
 *
 * Alerts are optical candidates carrying 0–4 earlier points (objects seen 5
 * times), as the archive receives them. `KB_BENCH_ARCHIVE_ALERTS` sets how many;
 * `KB_BENCH_ARCHIVE_BATCH` and `KB_BENCH_ARCHIVE_WRITERS` the batch size and writers (500, 2).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type ArchiveItem, insertAlertBatch } from "../db/archive.ts";
import { connect, type Sql } from "../db/connect.ts";
import { migrate } from "../db/migrate.ts";
import { databaseUrl, withDatabase } from "../db/testing.ts";
import { extract } from "../actors/archiver/extract.ts";
import { createArchiver } from "../actors/archiver/archiver.ts";
import { opticalFixture, point } from "../actors/archiver/testing.ts";
import type { OpticalCandidate } from "../contracts/messages.ts";
import { runtimeConfig } from "../actors/runtime/config.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { MemoryTransport } from "../actors/runtime/memory_transport.ts";
import { runtimeMetrics } from "../actors/runtime/metrics.ts";
import { startActor } from "../actors/runtime/runner.ts";
import { waitFor } from "../actors/runtime/testing.ts";
import { type Bench, type BenchRow, run } from "./harness.ts";

const N = Number(Deno.env.get("KB_BENCH_ARCHIVE_ALERTS") ?? 50_000);
const SINGLE_N = Math.max(500, Math.floor(N / 10));
const BATCH = Number(Deno.env.get("KB_BENCH_ARCHIVE_BATCH") ?? 500);
const WRITERS = Number(Deno.env.get("KB_BENCH_ARCHIVE_WRITERS") ?? 2);
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

async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `kb_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const admin = connect(databaseUrl(), { max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  return {
    url: withDatabase(databaseUrl(), name),
    drop: async () => {
      const a = connect(databaseUrl(), { max: 1 });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

/** Runs `write` over `batches` with `concurrency` workers; returns items/s. */
async function throughput<T>(
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

function chunk<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

function copyEscape(v: unknown): string {
  if (v === null || v === undefined) return "\\N";
  return String(v).replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r");
}

const ALERT_COLS = [
  "msg_id",
  "kind",
  "subject",
  "topic",
  "kafka_partition",
  "kafka_offset",
  "hop_id",
  "hop_format",
  "hop_via",
  "payload",
  "payload_size",
  "received_at",
  "status",
] as const;

function alertLine(i: ArchiveItem): string {
  const a = i.alert;
  const hex = "\\\\x" +
    Array.from(atob(a.payload_base64), (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(
      "",
    );
  return [
    a.msg_id,
    a.kind,
    a.subject,
    a.topic,
    a.kafka_partition,
    a.kafka_offset,
    a.hop_id,
    a.hop_format,
    a.hop_via,
  ].map(copyEscape).join("\t") + "\t" + hex + "\t" +
    [a.payload_size, a.received_at, a.status].map(copyEscape).join("\t") + "\n";
}

/** Alerts table only, through COPY into a staging table, then one INSERT … SELECT. */
async function copyBatch(sql: Sql, items: ArchiveItem[]): Promise<void> {
  await sql.begin(async (tx) => {
    await tx.unsafe(
      `create temp table if not exists alerts_stage on commit delete rows as
       select ${ALERT_COLS.join(", ")} from alerts with no data`,
    );
    const stream = await tx.unsafe(
      `copy alerts_stage (${ALERT_COLS.join(", ")}) from stdin`,
    ).writable() as Writable;
    await pipeline(Readable.from([Buffer.from(items.map(alertLine).join(""))]), stream);
    await tx.unsafe(
      `insert into alerts (${ALERT_COLS.join(", ")}) select ${ALERT_COLS.join(", ")}
       from alerts_stage on conflict (msg_id) do nothing`,
    );
  });
}

/** Alerts table only, the archiver's way (json_to_recordset, one statement). */
async function jsonAlertsOnly(sql: Sql, items: ArchiveItem[]): Promise<void> {
  await insertAlertBatch(sql, items.map((i) => ({ ...i, candidates: [], photometry: [] })));
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
  description: "archive writes: batched vs one insert per message vs COPY, pgbench ceilings",
  needs: ["postgres"],
  async run() {
    const db = await createDatabase();
    const sql = connect(db.url, { max: WRITERS + 1 });
    try {
      await migrate(sql);
      await sql`create table bench_insert (id bigserial primary key, a double precision,
        b text, t timestamptz default now())`;
      const say = (what: string) => console.error(`archive bench: ${what}`);
      say(`building ${N} alerts`);
      const fixtures = await alerts(N, "b");
      const items = fixtures.map((f) => extract(f.envelope, f.msgId, f.subject).item);
      say("batched writes");
      const batched = await throughput(chunk(items, BATCH), WRITERS, async (b) => {
        await insertAlertBatch(sql, b);
      });
      const singles = (await alerts(SINGLE_N, "s")).map((f) =>
        extract(f.envelope, f.msgId, f.subject).item
      );
      say("one insert per message");
      const single = await throughput(chunk(singles, 1), WRITERS, async (b) => {
        await insertAlertBatch(sql, b);
      });
      const copyItems = (await alerts(Math.min(N, 20_000), "c")).map((f) =>
        extract(f.envelope, f.msgId, f.subject).item
      );
      const half = Math.floor(copyItems.length / 2);
      say("alerts only: statement vs COPY");
      const jsonOnly = await throughput(
        chunk(copyItems.slice(0, half), BATCH),
        WRITERS,
        (b) => jsonAlertsOnly(sql, b),
      );
      const copy = await throughput(
        chunk(copyItems.slice(half), BATCH),
        WRITERS,
        (b) => copyBatch(sql, b),
      );

      say("the actor end to end");
      // The actor end to end (in-process transport: decode, validate, extract, batch, ack).
      const e2e = await alerts(Math.min(N, 20_000), "e");
      const t = new MemoryTransport();
      const actor = await startActor(
        createArchiver({ sql, config: { batch: BATCH, writers: WRITERS, lingerMs: 5 } }),
        {
          transport: t,
          config: runtimeConfig(),
          log: createLogger({ level: "error" }),
          metrics: runtimeMetrics(),
          replica: "bench",
        },
      );
      for (const f of e2e) {
        await t.publish(f.subject, enc.encode(JSON.stringify(f.envelope)), { msgId: f.msgId });
      }
      const t0 = performance.now();
      const before = actor.stats().handled;
      await waitFor(
        "the actor to archive the backlog",
        () => actor.stats().handled - before >= e2e.length,
        300_000,
        20,
      );
      const actorRate = e2e.length / ((performance.now() - t0) / 1000);
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
          metric: `archive, batched (${BATCH}/statement, ${WRITERS} writers)`,
          value: batched,
          unit: "alerts/s",
          ceiling: pgBulk,
          ceilingSource: "pgbench: 500-row server-side inserts, rows/s",
          target: `≥ ${TARGET.toLocaleString("en-US")} alerts/s`,
          met: batched >= TARGET,
          note: "alerts + candidates + photometry (0–4 history points) in one statement",
        },
        {
          metric: `archive, one insert per message (${WRITERS} writers)`,
          value: single,
          unit: "alerts/s",
          ceiling: pgSingle,
          ceilingSource: "pgbench: single-row insert transactions/s",
        },
        {
          metric: "alerts table only: json_to_recordset statement",
          value: jsonOnly,
          unit: "alerts/s",
        },
        {
          metric: "alerts table only: COPY to staging + INSERT … SELECT",
          value: copy,
          unit: "alerts/s",
          note: copy > jsonOnly ? "COPY faster here" : "the single statement is faster here",
        },
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
          stored: n,
          batchedOverSingle: batched / single,
        },
      };
    } finally {
      await sql.end();
      await db.drop();
    }
  },
};
