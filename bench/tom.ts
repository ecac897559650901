/**
 * TOM API benchmark (issue 8): authenticated request throughput and latency on
 * `/api/targets/` over 1,000,000 targets in PostgreSQL — the first list page,
 * page 21 through its `next` link (keyset cursor) and through `offset`, and a
 * cone search, every request answered from the database (a TOM with the list
 * cache off); then the first page and the cone search on a second TOM with
 * the list cache on, as deployed (gateway/tom/api/list_cache.ts: repeated
 * requests of one caller within its TTL, emptied on every target write) —
 * measured with `wrk` (Debian package, installed here when
 * missing), next to a plain `Deno.serve` hello-world and the TOM's
 * unauthenticated `/healthz` measured in the same run, in interleaved rounds;
 * with the CPU per request of the TOM process and its PostgreSQL backends.
 *
 * Tokens: the local Keycloak's when `KB_OIDC_ISSUER` is set (user `pi`: not an
 * admin, so the permission filter runs), else the development issuer's. Rate
 * limiting is off (wrk is one address with one token).
 * Environment: KB_BENCH_TOM_SECONDS (per measurement, default 5),
 * KB_BENCH_TOM_ROUNDS (default 3), KB_BENCH_TOM_CONNECTIONS (default 32),
 * KB_BENCH_TOM_TARGETS (default 1,000,000).
 *
 * @module
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import process from "node:process";
import { connect, loadMigrations, radecToPixel, type Sql } from "../db/mod.ts";
import { runtimeConfig } from "../actors/runtime/config.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { loadTomConfig } from "../gateway/tom/config.ts";
import { startTom } from "../gateway/tom/server.ts";
import { fetchToken } from "../gateway/tom/testing.ts";
import { type Bench, type BenchRow, run } from "./harness.ts";

const SECONDS = Number(Deno.env.get("KB_BENCH_TOM_SECONDS") ?? 5);
const ROUNDS = Number(Deno.env.get("KB_BENCH_TOM_ROUNDS") ?? 3);
const CONNECTIONS = Number(Deno.env.get("KB_BENCH_TOM_CONNECTIONS") ?? 32);
const TARGETS = Number(Deno.env.get("KB_BENCH_TOM_TARGETS") ?? 1_000_000);
const DB_NAME = `tom_bench_${TARGETS}`;

/** wrk's binary, installed from Debian's package when missing. */
async function ensureWrk(): Promise<string> {
  for (const p of ["/usr/bin/wrk", "/usr/local/bin/wrk"]) {
    try {
      await Deno.stat(p);
      return p;
    } catch { /* next */ }
  }
  console.error("bench tom: installing Debian's wrk package (apt-get) ...");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const lock = ["-o", "DPkg::Lock::Timeout=600"];
  try {
    await run("apt-get", [...lock, "install", "-y", "--no-install-recommends", "wrk"], env);
  } catch {
    await run("apt-get", [...lock, "update"], env);
    await run("apt-get", [...lock, "install", "-y", "--no-install-recommends", "wrk"], env);
  }
  return "/usr/bin/wrk";
}

/** Version of the seeded data: a bench database with another (or none) is made again. */
const SEED_VERSION = 2;

/**
 * The checksums of the shipped migrations, as one digest: a bench database
 * migrated by other migration texts (a migration still being written) is made
 * again rather than refused by the migrator.
 */
async function migrationsDigest(): Promise<string> {
  return (await loadMigrations()).map((m) => `${m.version}:${m.checksum.slice(0, 12)}`).join(",");
}

/** postgres.js URL of database `name` on the server of `base`. */
function databaseUrl(base: string, name: string): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A database for TARGETS targets, kept between runs (seeding takes a while):
 * it carries a `kb_bench_seed` row naming the seed version and size; a database
 * without a matching row (older seed, interrupted seeding) is dropped and made
 * again before the TOM migrates it.
 */
async function benchDatabase(): Promise<{ url: string; seeded: boolean }> {
  const base = Deno.env.get("KB_DATABASE_URL");
  if (!base) throw new Error("KB_DATABASE_URL is not set: run through `deno task bench`");
  const url = databaseUrl(base, DB_NAME);
  const admin = connect(base, { max: 1 });
  try {
    const [exists] = await admin`select 1 from pg_database where datname = ${DB_NAME}`;
    if (exists) {
      const db = connect(url, { max: 1 });
      try {
        const [m] = await db<{ n: number }[]>`select count(*)::int as n
          from information_schema.columns
          where table_name = 'kb_bench_seed' and column_name = 'migrations'`;
        if (m.n) {
          const [row] = await db`select 1 from kb_bench_seed
            where version = ${SEED_VERSION} and targets = ${TARGETS}
              and migrations = ${await migrationsDigest()}`;
          if (row) return { url, seeded: true };
        }
      } finally {
        await db.end();
      }
      console.error(
        `bench tom: ${DB_NAME} is not seeded (version ${SEED_VERSION}, these migrations): made again`,
      );
      await admin.unsafe(`drop database ${DB_NAME} with (force)`);
    }
    await admin.unsafe(`create database ${DB_NAME}`);
    return { url, seeded: false };
  } finally {
    await admin.end();
  }
}

/** A small seeded PRNG (mulberry32): the same sky on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The bench targets as COPY text lines, 10,000 per chunk (same sky on every run). */
function* seedLines(now: string): Generator<string> {
  const random = prng(20170817);
  const batch = 10_000;
  for (let g = 1; g <= TARGETS; g += batch) {
    let out = "";
    for (let i = g; i < Math.min(g + batch, TARGETS + 1); i++) {
      const ra = random() * 359.999999;
      const dec = Math.asin(2 * random() - 1) * 180 / Math.PI;
      const priv = i % 10 === 0;
      out += `KB-BENCH-${i}\t${ra}\t${dec}\t${radecToPixel(ra, dec)}\t${
        priv ? "PRIVATE\t{other-team}" : "PUBLIC\t{}"
      }\t${random()}\t${now}\n`;
    }
    yield out;
  }
}

/**
 * Fills the (migrated) bench database with TARGETS targets uniform on the sky,
 * streamed with COPY; every tenth is PRIVATE to a group the bench user lacks.
 * Positions carry their HEALPix index as the TOM writes it.
 */
async function seed(url: string): Promise<void> {
  const sql = connect(url, { max: 1 });
  try {
    console.error(`bench tom: generating ${TARGETS.toLocaleString("en-US")} targets (COPY) ...`);
    const t0 = performance.now();
    await sql`truncate tom_targets cascade`;
    const copy = await sql`copy tom_targets (name, ra, dec, hpx, permissions, groups, score,
      score_at) from stdin`.writable();
    await pipeline(Readable.from(seedLines(new Date().toISOString())), copy);
    // VACUUM sets the visibility map, so list pages can filter on the index alone.
    await sql.unsafe("vacuum analyze tom_targets");
    await sql`create table kb_bench_seed (version int not null, targets int not null,
      migrations text not null, seeded_at timestamptz not null default now())`;
    await sql`insert into kb_bench_seed (version, targets, migrations)
      values (${SEED_VERSION}, ${TARGETS}, ${await migrationsDigest()})`;
    console.error(`bench tom: generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await sql.end();
  }
}

/** Parses wrk's output: requests/s and the 50/99th percentile latencies in ms. */
export function parseWrk(out: string): { rps: number; p50: number; p99: number; errors: number } {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const ms = (pct: string) => {
    const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? sock.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0);
  if (!Number.isFinite(rps)) throw new Error(`cannot read wrk's output:\n${out}`);
  return { rps, p50: ms("50"), p99: ms("99"), errors };
}

/** A wrk measurement with the CPU the servers spent on it, µs per request. */
type WrkResult = ReturnType<typeof parseWrk> & { cpuDenoUs: number; cpuPgUs: number };

/** CPU seconds used so far by the PostgreSQL backends serving database `db` (from /proc). */
async function pgCpu(admin: Sql, db: string): Promise<Map<number, number>> {
  const pids = await admin<{ pid: number }[]>`select pid from pg_stat_activity
    where datname = ${db} and pid <> pg_backend_pid()`;
  const out = new Map<number, number>();
  for (const { pid } of pids) {
    try {
      // Fields after the command name: utime and stime are the 12th and 13th (clock ticks).
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(pid, (Number(f[11]) + Number(f[12])) / CLOCK_TICKS);
    } catch { /* backend gone, or no /proc: not counted */ }
  }
  return out;
}
const CLOCK_TICKS = 100;

async function wrk(
  bin: string,
  url: string,
  token?: string,
  pg?: { admin: Sql; db: string },
): Promise<WrkResult> {
  const args = ["-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", url];
  if (token) args.unshift("-H", `Authorization: Bearer ${token}`);
  const deno0 = process.cpuUsage();
  const pg0 = pg ? await pgCpu(pg.admin, pg.db) : new Map<number, number>();
  const r = parseWrk(await run(bin, args));
  const deno = process.cpuUsage(deno0);
  const pg1 = pg ? await pgCpu(pg.admin, pg.db) : new Map<number, number>();
  let pgS = 0;
  for (const [pid, s] of pg1) pgS += s - (pg0.get(pid) ?? 0); // a new backend: all its CPU
  const requests = r.rps * SECONDS;
  return {
    ...r,
    cpuDenoUs: (deno.user + deno.system) / requests,
    cpuPgUs: pgS * 1e6 / requests,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The TOM bench. */
export const tomBench: Bench = {
  name: "tom",
  description: "TOM API: authenticated /api/targets/ throughput on 1M targets (wrk)",
  needs: ["postgres", "keycloak"],
  async run() {
    const bin = await ensureWrk();
    const { url, seeded } = await benchDatabase();
    const issuer = Deno.env.get("KB_OIDC_ISSUER");
    // Two TOMs on the same database: the list cache off (every request queries PostgreSQL)
    // and on, as deployed (KB_TOM_LIST_CACHE_MS default; gateway/tom/api/list_cache.ts).
    const startBenchTom = (cacheMs: string | undefined) =>
      startTom(
        loadTomConfig({
          KB_TOM_PORT: "0",
          KB_TOM_BROKER: "false",
          KB_TOM_RATE_LIMIT: "false", // wrk from one address with one token measures the API
          KB_TOM_LIST_CACHE_MS: cacheMs,
          KB_DATABASE_URL: url,
          KB_OIDC_ISSUER: issuer,
          KB_OIDC_AUDIENCE: Deno.env.get("KB_OIDC_AUDIENCE"),
        }),
        runtimeConfig({ KB_TRANSPORT: "memory", KB_HTTP_PORT: 0, KB_LOG_LEVEL: "error" }),
        { log: createLogger({ level: "error" }) },
      );
    const tom = await startBenchTom("0");
    const cachedTom = await startBenchTom(undefined);
    const hello = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response("hello"),
    );
    try {
      if (!seeded) await seed(url);
      const token = issuer
        ? await fetchToken(issuer, {
          grant_type: "password",
          client_id: Deno.env.get("KB_OIDC_TEST_CLIENT_ID") ?? "tom-test",
          client_secret: Deno.env.get("KB_OIDC_TEST_CLIENT_SECRET") ?? "tom-test-dev-secret",
          username: "pi",
          password: "pi-pw",
        })
        : await tom.devIssuer!.tokenFor("pi");
      const get = async (u: string) => {
        const res = await fetch(u, { headers: { authorization: `Bearer ${token}` } });
        const body = await res.json();
        if (res.status !== 200) throw new Error(`${u}: ${res.status} ${JSON.stringify(body)}`);
        return body;
      };
      const first = `${tom.url}/api/targets/?limit=50`;
      const deep = `${tom.url}/api/targets/?limit=50&offset=1000`;
      // The `next` link of the page before `deep`: the same rows, reached as a client
      // following links does (a keyset cursor).
      const next: string = (await get(`${tom.url}/api/targets/?limit=50&offset=950`)).next;
      const cone = `${tom.url}/api/targets/?ra=180&dec=10&radius=0.5`;
      // Sanity: the authenticated routes answer 200 with the right data before measuring.
      const firstPage = await get(first);
      if (firstPage.results.length !== 50 || firstPage.results[0].permissions === "PRIVATE") {
        throw new Error(`${first}: not a page of 50 visible targets`);
      }
      const [deepIds, nextIds] = [await get(deep), await get(next)].map((b) =>
        b.results.map((r: { id: number }) => r.id).join(",")
      );
      if (deepIds !== nextIds) throw new Error(`${next} and ${deep} differ`);
      const coneRows = (await get(cone)).results.length;
      if (coneRows < 1) throw new Error(`${cone}: no targets in the cone`);
      const cachedFirst = first.replace(tom.url, cachedTom.url);
      const cachedCone = cone.replace(tom.url, cachedTom.url);
      for (const [a, b] of [[first, cachedFirst], [cone, cachedCone]]) {
        const [x, y] = [await get(a), await get(b)];
        if (JSON.stringify(x.results) !== JSON.stringify(y.results)) {
          throw new Error(`${b} (cache on) differs from ${a}`);
        }
      }

      const runs: Record<string, WrkResult[]> = {
        base: [],
        health: [],
        first: [],
        next: [],
        deep: [],
        cone: [],
        cachedFirst: [],
        cachedCone: [],
      };
      const pg = { admin: connect(url, { max: 1 }), db: DB_NAME };
      // Rounds interleave the baseline with the TOM so noise from a shared machine hits both.
      for (let r = 0; r < ROUNDS; r++) {
        const helloPort = (hello.addr as Deno.NetAddr).port;
        runs.base.push(await wrk(bin, `http://127.0.0.1:${helloPort}/`));
        runs.health.push(await wrk(bin, `${tom.url}/healthz`));
        runs.first.push(await wrk(bin, first, token, pg));
        runs.next.push(await wrk(bin, next, token, pg));
        runs.deep.push(await wrk(bin, deep, token, pg));
        runs.cone.push(await wrk(bin, cone, token, pg));
        runs.cachedFirst.push(await wrk(bin, cachedFirst, token, pg));
        runs.cachedCone.push(await wrk(bin, cachedCone, token, pg));
      }
      await pg.admin.end();
      const base = median(runs.base.map((x) => x.rps));
      const baseP99 = median(runs.base.map((x) => x.p99));
      const rows: BenchRow[] = [];
      const add = (metric: string, rs: WrkResult[], target: boolean) => {
        const rps = median(rs.map((x) => x.rps));
        const p99 = median(rs.map((x) => x.p99));
        const errors = rs.reduce((a, x) => a + x.errors, 0);
        rows.push({
          metric: `${metric} throughput`,
          value: rps,
          unit: "req/s",
          ceiling: base,
          ceilingSource: "Deno.serve hello-world, same run, same wrk settings",
          target: target ? "≥ 5,000 req/s" : undefined,
          met: target ? rps >= 5000 && errors === 0 : undefined,
          note: `median of ${rs.length} (min ${
            Math.round(Math.min(...rs.map((x) => x.rps)))
          }), ${(100 * rps / base).toFixed(1)}% of baseline` + (errors ? `, ${errors} errors` : ""),
        });
        rows.push({
          metric: `${metric} p99 latency`,
          value: p99,
          unit: "ms",
          ceiling: baseP99,
          ceilingSource: "Deno.serve hello-world p99",
          target: target ? "< 50 ms" : undefined,
          met: target ? p99 < 50 : undefined,
          note: `median of ${rs.length} (max ${Math.max(...rs.map((x) => x.p99)).toFixed(1)}); ` +
            `p50 ${median(rs.map((x) => x.p50)).toFixed(2)} ms, ${CONNECTIONS} connections`,
        });
        {
          const deno = median(rs.map((x) => x.cpuDenoUs));
          const pgUs = median(rs.map((x) => x.cpuPgUs));
          rows.push({
            metric: `${metric} CPU per request`,
            value: (deno + pgUs) / 1000,
            unit: "ms",
            note: `TOM process ${(deno / 1000).toFixed(3)} ms + PostgreSQL ${
              (pgUs / 1000).toFixed(3)
            } ms (median of ${rs.length}); less noisy than req/s on a shared machine`,
          });
        }
      };
      const n = TARGETS.toLocaleString("en-US");
      add("hello-world baseline", runs.base, false);
      add("TOM /healthz (no auth, no DB)", runs.health, false);
      add(`TOM list, first page (${n} targets, auth), uncached`, runs.first, true);
      add("TOM list, page 21 via its `next` link (cursor), uncached", runs.next, true);
      add("TOM list, page 21 via offset=1000, uncached", runs.deep, false);
      add(`TOM cone search r=0.5° (${coneRows} targets, auth), uncached`, runs.cone, true);
      const ttl = cachedTom.listCache.enabled
        ? "list cache on (same request repeated within its TTL)"
        : "list cache unexpectedly off";
      add(`TOM list, first page, ${ttl}`, runs.cachedFirst, true);
      add(`TOM cone search r=0.5°, ${ttl}`, runs.cachedCone, true);
      return {
        rows,
        details: {
          targets: TARGETS,
          seconds: SECONDS,
          connections: CONNECTIONS,
          rounds: ROUNDS,
          rateLimit: "off (KB_TOM_RATE_LIMIT=false)",
          issuer: tom.verifier.issuer,
          urls: { first, next, deep, cone, cachedFirst, cachedCone },
          listCache: { ...cachedTom.listCache.stats },
          wrk: runs,
        },
      };
    } finally {
      await hello.shutdown();
      await tom.stop();
      await cachedTom.stop();
    }
  },
};
