/**
 * Client CPU per query of a long-lived busy PostgreSQL pool, round after round:
 * postgres.js's own pool (`postgres(url, {max: 4})`) against `db/connect.ts`'s
 * pool of one-connection clients (`db/shards.ts`), the same `select 1` with 32
 * queries in flight, alternated on the same server. postgres.js's pool leaves
 * one blank slot per query in its connection queues and scans them on every
 * move, so its cost per query grows with the queries it has made
 * (docs/archive.md, "Why not postgres.js's own pool"); ours should stay flat.
 *
 * `./kb task bench db-pool`. Knobs: `KB_BENCH_DB_POOL_ROUNDS` (default 6),
 * `KB_BENCH_DB_POOL_QUERIES` (per round, default 40,000).
 *
 * @module
 */
import process from "node:process";
import postgres from "postgres";
import { connect, type Sql } from "../db/connect.ts";
import type { Bench, BenchRow } from "./harness.ts";

const ROUNDS = Number(Deno.env.get("KB_BENCH_DB_POOL_ROUNDS") ?? 6);
const QUERIES = Number(Deno.env.get("KB_BENCH_DB_POOL_QUERIES") ?? 40_000);
const IN_FLIGHT = 32;
const POOL = 4;

/** Client CPU µs per query of one round of `QUERIES` queries, `IN_FLIGHT` at a time. */
async function round(sql: Sql): Promise<number> {
  const c0 = process.cpuUsage();
  let i = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (i++ < QUERIES) await sql`select 1`;
    }),
  );
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / QUERIES;
}

/** The pool bench. */
export const dbPoolBench: Bench = {
  name: "db-pool",
  description: `PostgreSQL client pools: CPU per query round after round (${POOL} connections)`,
  needs: ["postgres"],
  async run() {
    const url = Deno.env.get("KB_DATABASE_URL");
    if (!url) throw new Error("KB_DATABASE_URL is not set: run through `deno task bench`");
    const pools: Record<string, Sql> = {
      "postgres.js pool": postgres(url, { max: POOL, onnotice: () => {} }),
      "db/connect.ts (one-connection clients in turns)": connect(url, { max: POOL }),
    };
    const rounds: Record<string, number[]> = {};
    try {
      for (const name of Object.keys(pools)) rounds[name] = [];
      for (let r = 0; r < ROUNDS; r++) {
        for (const [name, sql] of Object.entries(pools)) rounds[name].push(await round(sql));
      }
    } finally {
      await Promise.all(Object.values(pools).map((s) => s.end()));
    }
    const rows: BenchRow[] = [];
    const n = (QUERIES * ROUNDS).toLocaleString("en-US");
    for (const [name, us] of Object.entries(rounds)) {
      // Round 1 includes connecting and JIT warm-up: growth is measured from round 2.
      const second = us[1] ?? us[0];
      const last = us.at(-1)!;
      const growth = last / second;
      rows.push({
        metric: `${name}: client CPU per query, last round`,
        value: last,
        unit: "µs",
        target: "≤ 1.2 × round 2 (flat)",
        met: growth <= 1.2,
        note: `rounds of ${QUERIES.toLocaleString("en-US")} (${n} in all), ${IN_FLIGHT} in ` +
          `flight: ${us.map((x) => x.toFixed(1)).join(", ")} µs; last/round 2 = ` +
          growth.toFixed(2),
      });
    }
    return {
      rows,
      details: { rounds, queries: QUERIES, inFlight: IN_FLIGHT, pool: POOL },
    };
  },
};
