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
 * with the CPU per request of the TOM process and its PostgreSQL backends (in
 * all, and the part of it spent in the kernel).
 *
 * The TOMs reach PostgreSQL as `KB_DATABASE_URL` says: loopback TCP by default;
 * `KB_PG_SOCKET=1` before `eval "$(bash deploy/local/stack.sh env)"` names the
 * local cluster's unix-domain socket instead (db/connect.ts, `?host=/dir`).
 *
 * Tokens: the local Keycloak's when `KB_OIDC_ISSUER` is set (user `pi`: not an
 * admin, so the permission filter runs), else the development issuer's. Rate
 * limiting is off (wrk is one address with one token).
 * Environment: KB_BENCH_TOM_SECONDS (per measurement, default 5),
 * KB_BENCH_TOM_ROUNDS (default 3), KB_BENCH_TOM_CONNECTIONS (default 32),
 * KB_BENCH_TOM_TARGETS (default 1,000,000), KB_BENCH_TOM_PROFILE=1 (a CPU profile of
 * the first uncached TOM, summarised on stderr), KB_BENCH_TOM_PIN=0 (leave out the
 * pinned rows: the one-thread TOM and the hello-world again on core 0 alone,
 * PostgreSQL and wrk on the other cores; bench/placement.ts).
 *
 * @module
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { connect, loadMigrations, radecToPixel, type Sql } from "../db/mod.ts";
import { fetchToken } from "../gateway/tom/testing.ts";
import { type Bench, type BenchRow, run } from "./harness.ts";
import { allCpus, otherCpus, pin, pinCommand, postgresPids } from "./placement.ts";
import { backendCpuTimes, type CpuTimes, procCpuTimes } from "./proc.ts";
import { inspectFlag, startCpuProfile, summarizeByFile, summarizeProfile } from "./profile.ts";

const SECONDS = Number(Deno.env.get("KB_BENCH_TOM_SECONDS") ?? 5);
const ROUNDS = Number(Deno.env.get("KB_BENCH_TOM_ROUNDS") ?? 3);
const CONNECTIONS = Number(Deno.env.get("KB_BENCH_TOM_CONNECTIONS") ?? 32);
const TARGETS = Number(Deno.env.get("KB_BENCH_TOM_TARGETS") ?? 1_000_000);
const DB_NAME = `tom_bench_${TARGETS}`;
/** `0` measures the shared placement only (every process on every core). */
const PIN = Deno.env.get("KB_BENCH_TOM_PIN") !== "0";

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

/**
 * A wrk measurement with the CPU the servers spent on it, µs per request: in
 * all, and the part of it in the kernel (system time: sockets, scheduling).
 */
type WrkResult = ReturnType<typeof parseWrk> & {
  cpuDenoUs: number;
  cpuPgUs: number;
  sysDenoUs: number;
  sysPgUs: number;
};

/** What a wrk run's CPU is charged to: the TOM process and the database's backends. */
interface Accounting {
  readonly tomPid: number;
  readonly admin: Sql;
  readonly db: string;
}

/**
 * How wrk is started: directly, or through taskset on the cores but 0 while the
 * TOM is pinned to core 0 (bench/placement.ts).
 */
let wrkPrefix: string[] = [];

async function wrk(
  bin: string,
  url: string,
  token?: string,
  acct?: Accounting,
  script?: string,
): Promise<WrkResult> {
  const args = ["-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", url];
  if (script) args.unshift("-s", script);
  if (token) args.unshift("-H", `Authorization: Bearer ${token}`);
  if (wrkPrefix.length) args.unshift(...wrkPrefix.slice(1), bin);
  const none: CpuTimes = { user: 0, sys: 0 };
  const tom0 = acct ? await procCpuTimes(acct.tomPid) : none;
  const pg0 = acct ? await backendCpuTimes(acct.admin, acct.db) : new Map<number, CpuTimes>();
  const r = parseWrk(await run(wrkPrefix[0] ?? bin, args));
  const tom1 = acct ? await procCpuTimes(acct.tomPid) : none;
  const pg1 = acct ? await backendCpuTimes(acct.admin, acct.db) : new Map<number, CpuTimes>();
  let pgUser = 0, pgSys = 0;
  for (const [pid, t] of pg1) { // a new backend: all its CPU
    pgUser += t.user - (pg0.get(pid)?.user ?? 0);
    pgSys += t.sys - (pg0.get(pid)?.sys ?? 0);
  }
  const us = 1e6 / (r.rps * SECONDS);
  return {
    ...r,
    cpuDenoUs: (tom1.user + tom1.sys - tom0.user - tom0.sys) * us,
    cpuPgUs: (pgUser + pgSys) * us,
    sysDenoUs: (tom1.sys - tom0.sys) * us,
    sysPgUs: pgSys * us,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** A free TCP port on 127.0.0.1 (for a TOM process to listen on). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A TOM process of the bench. */
interface BenchTom {
  readonly url: string;
  readonly pid: number;
  /** Its log so far (warnings and errors). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts `gateway/tom/main.ts` as deployed (its own process, `--unstable-net`
 * as the Helm chart runs it) with `threads` serving threads (KB_TOM_WORKERS),
 * the broker module off; waits for `/healthz`.
 */
async function spawnTom(
  dbUrl: string,
  issuer: string,
  threads: number,
  listCacheMs: string | undefined,
  inspectPort?: number,
): Promise<BenchTom> {
  const port = freePort();
  const env: Record<string, string> = {
    KB_TOM_HOST: "127.0.0.1",
    KB_TOM_PORT: String(port),
    KB_TOM_WORKERS: String(threads),
    KB_TOM_BROKER: "false",
    KB_TOM_RATE_LIMIT: "false", // wrk from one address with one token measures the API
    KB_TOM_WEB: "false", // the API alone, as the bench has always measured it
    KB_DATABASE_URL: dbUrl,
    KB_OIDC_ISSUER: issuer,
    KB_OIDC_AUDIENCE: Deno.env.get("KB_OIDC_AUDIENCE") ?? "kb-tom",
    KB_TRANSPORT: "memory",
    KB_HTTP_PORT: "0",
    KB_LOG_LEVEL: "warn",
  };
  if (listCacheMs !== undefined) env.KB_TOM_LIST_CACHE_MS = listCacheMs;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-net",
      ...(inspectPort ? [inspectFlag(inspectPort)] : []),
      new URL("../gateway/tom/main.ts", import.meta.url).pathname,
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) log += chunk;
  };
  const drained = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const url = `http://127.0.0.1:${port}`;
  const exited = child.status.then((s) => s);
  for (let i = 0;; i++) {
    const done = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 100))]);
    if (done) {
      await drained;
      throw new Error(`bench tom: the TOM (${threads} threads) exited at start:\n${log}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (i > 600) throw new Error(`bench tom: the TOM did not answer /healthz in 60 s:\n${log}`);
  }
  return {
    url,
    pid: child.pid,
    log: () => log,
    async stop() {
      child.kill("SIGTERM");
      const s = await child.status;
      await drained;
      if (!s.success) console.error(`bench tom: a TOM exited with ${s.code}:\n${log}`);
    },
  };
}

/**
 * A wrk script asking for a cone of radius 0.5° at a new random centre (uniform
 * on the sky) with every request: what cone searches cost when no part of the
 * answer can have been remembered (the fixed cone's HEALPix ranges are; see
 * gateway/tom/store/sky.ts). Each wrk thread has its own seed.
 */
const RANDOM_CONE_LUA = `
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads * 7919)
end
function init(args)
  math.randomseed(seed)
end
function request()
  local ra = math.random() * 359.999
  local dec = math.deg(math.asin(2 * math.random() - 1))
  return wrk.format("GET", string.format("/api/targets/?ra=%.6f&dec=%.6f&radius=0.5", ra, dec))
end
`;

/**
 * KB_BENCH_TOM_PROFILE=1: the first uncached TOM runs with the V8 inspector, and
 * a CPU profile of it under wrk on the first list page and on the cone search is
 * summarised on stderr (the functions and files with the most self time) before
 * the measurements (with KB_BENCH_TOM_ROUNDS=0, only that).
 */
const PROFILE = Deno.env.get("KB_BENCH_TOM_PROFILE") === "1";

/** Serving-thread counts measured uncached (KB_BENCH_TOM_THREADS, default "1,2"). */
const THREADS = (Deno.env.get("KB_BENCH_TOM_THREADS") ?? "1,2").split(",").map(Number);

/** The TOM bench. */
export const tomBench: Bench = {
  name: "tom",
  description: "TOM API: authenticated /api/targets/ throughput on 1M targets (wrk)",
  needs: ["postgres", "keycloak"],
  async run() {
    const bin = await ensureWrk();
    const { url, seeded } = await benchDatabase();
    const issuer = Deno.env.get("KB_OIDC_ISSUER");
    if (!issuer) throw new Error("KB_OIDC_ISSUER is not set: run through `deno task bench`");
    if (!seeded) {
      // Migrated by a TOM first (the seed needs the tables), then filled.
      const t = await spawnTom(url, issuer, 1, "0");
      await t.stop();
      await seed(url);
    }
    // TOM processes on the same database: the list cache off (every request queries
    // PostgreSQL) with 1 and more serving threads, and on, as deployed (KB_TOM_LIST_CACHE_MS
    // default; gateway/tom/api/list_cache.ts).
    const toms = new Map<number, BenchTom>();
    let cachedTom: BenchTom | undefined;
    let admin: Sql | undefined;
    let taskset: string | undefined;
    /**
     * The one-thread TOM and this process (the hello-world) on core 0, PostgreSQL and wrk on
     * the other cores; or every one of them back on every core.
     */
    const pinned = async (on: boolean) => {
      if (!taskset || !admin) return;
      const pg = await postgresPids(admin);
      if (on) {
        await pin(taskset, pg, otherCpus());
        await pin(taskset, [Deno.pid, toms.get(1)!.pid], "0");
        wrkPrefix = [taskset, "-c", otherCpus()];
      } else {
        await pin(taskset, [...pg, Deno.pid, toms.get(1)!.pid], allCpus());
        wrkPrefix = [];
      }
    };
    const hello = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response("hello"),
    );
    try {
      const inspectPort = PROFILE ? freePort() : undefined;
      for (const n of THREADS) {
        toms.set(
          n,
          await spawnTom(url, issuer, n, "0", n === THREADS[0] ? inspectPort : undefined),
        );
      }
      cachedTom = await spawnTom(url, issuer, 1, undefined);
      const tom = toms.get(THREADS[0])!;
      const token = await fetchToken(issuer, {
        grant_type: "password",
        client_id: Deno.env.get("KB_OIDC_TEST_CLIENT_ID") ?? "tom-test",
        client_secret: Deno.env.get("KB_OIDC_TEST_CLIENT_SECRET") ?? "tom-test-dev-secret",
        username: "pi",
        password: "pi-pw",
      });
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
      const on = (t: BenchTom, u: string) => u.replace(tom.url, t.url);
      // Every TOM answers the same (each thread: several requests, so both threads are hit).
      for (const t of [...toms.values(), cachedTom]) {
        for (const u of [first, next, cone]) {
          for (let i = 0; i < 4; i++) {
            const [x, y] = [await get(u), await get(on(t, u))];
            if (JSON.stringify(x.results) !== JSON.stringify(y.results)) {
              throw new Error(`${on(t, u)} differs from ${u}`);
            }
          }
        }
      }
      const cachedFirst = on(cachedTom, first);
      const cachedCone = on(cachedTom, cone);

      const coneScript = await Deno.makeTempFile({ prefix: "kb-bench-cone-", suffix: ".lua" });
      await Deno.writeTextFile(coneScript, RANDOM_CONE_LUA);
      const runs: Record<string, WrkResult[]> = {
        base: [],
        health: [],
        coneRandom: [],
        deep: [],
        cachedFirst: [],
        cachedCone: [],
      };
      for (const n of THREADS) for (const k of ["first", "next", "cone"]) runs[`${k}${n}`] = [];
      // On the server's own database: its backend is not one of the bench database's.
      admin = connect(Deno.env.get("KB_DATABASE_URL")!, { max: 1 });
      const acct = (t: BenchTom): Accounting => ({ tomPid: t.pid, admin: admin!, db: DB_NAME });
      // The one-thread TOM is measured a second time on core 0 alone, PostgreSQL and wrk on
      // the other cores (bench/placement.ts), next to the hello-world placed alike.
      taskset = PIN && toms.has(1) ? await pinCommand() : undefined;
      if (PIN && toms.has(1) && !taskset) {
        console.error("bench tom: no taskset or one core: the pinned placement is left out");
      }
      for (const k of ["base", "first", "next", "cone"]) runs[`${k}Pinned`] = [];
      await pinned(false); // a bench killed while pinned left the server on one core
      if (inspectPort) {
        for (const [what, u] of [["first page", first], ["cone", cone]]) {
          await wrk(bin, u, token); // warm-up
          const rec = await startCpuProfile(inspectPort, { samplingIntervalUs: 200 });
          const r = await wrk(bin, u, token, acct(tom));
          const prof = await rec.stop();
          const s = summarizeProfile(prof, 40);
          console.error(
            `bench tom: profile of the TOM on the ${what} (${Math.round(r.rps)} req/s under the ` +
              `profiler, CPU per request TOM ${(r.cpuDenoUs / 1000).toFixed(3)} ms + PostgreSQL ${
                (r.cpuPgUs / 1000).toFixed(3)
              } ms; busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms):`,
          );
          for (const h of s.hot) {
            console.error(
              `  ${h.pct.toFixed(1).padStart(5)}%  ${
                h.selfMs.toFixed(0).padStart(6)
              } ms  ${h.name}`,
            );
          }
          console.error("  by file:");
          for (const h of summarizeByFile(prof, 25)) {
            console.error(
              `  ${h.pct.toFixed(1).padStart(5)}%  ${
                h.selfMs.toFixed(0).padStart(6)
              } ms  ${h.name}`,
            );
          }
          await Deno.writeTextFile(
            `/tmp/kb-bench-tom-${what.replace(/ /g, "-")}.cpuprofile`,
            JSON.stringify(prof),
          );
        }
      }
      // Rounds interleave the baseline with the TOM so noise from a shared machine hits both.
      for (let r = 0; r < ROUNDS; r++) {
        const helloPort = (hello.addr as Deno.NetAddr).port;
        runs.base.push(await wrk(bin, `http://127.0.0.1:${helloPort}/`));
        runs.health.push(await wrk(bin, `${tom.url}/healthz`, undefined, acct(tom)));
        for (const n of THREADS) {
          const t = toms.get(n)!;
          runs[`first${n}`].push(await wrk(bin, on(t, first), token, acct(t)));
          runs[`next${n}`].push(await wrk(bin, on(t, next), token, acct(t)));
          runs[`cone${n}`].push(await wrk(bin, on(t, cone), token, acct(t)));
        }
        runs.coneRandom.push(await wrk(bin, `${tom.url}/`, token, acct(tom), coneScript));
        runs.deep.push(await wrk(bin, deep, token, acct(tom)));
        runs.cachedFirst.push(await wrk(bin, cachedFirst, token, acct(cachedTom)));
        runs.cachedCone.push(await wrk(bin, cachedCone, token, acct(cachedTom)));
        if (taskset) {
          const t = toms.get(1)!;
          await pinned(true);
          runs.basePinned.push(await wrk(bin, `http://127.0.0.1:${helloPort}/`));
          runs.firstPinned.push(await wrk(bin, on(t, first), token, acct(t)));
          runs.nextPinned.push(await wrk(bin, on(t, next), token, acct(t)));
          runs.conePinned.push(await wrk(bin, on(t, cone), token, acct(t)));
          await pinned(false);
        }
      }
      await Deno.remove(coneScript);
      const baseOf = (rs: WrkResult[]) => ({
        rps: median(rs.map((x) => x.rps)),
        p99: median(rs.map((x) => x.p99)),
      });
      const rows: BenchRow[] = [];
      const add = (
        metric: string,
        rs: WrkResult[],
        target: boolean,
        cpu = true,
        baseline = runs.base,
      ) => {
        const { rps: base, p99: baseP99 } = baseOf(baseline);
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
        if (cpu) {
          const deno = median(rs.map((x) => x.cpuDenoUs));
          const pgUs = median(rs.map((x) => x.cpuPgUs));
          const kernel = (us: number) => `${(us / 1000).toFixed(3)} ms of it in the kernel`;
          rows.push({
            metric: `${metric} CPU per request`,
            value: (deno + pgUs) / 1000,
            unit: "ms",
            note: `TOM process ${(deno / 1000).toFixed(3)} ms (${
              kernel(median(rs.map((x) => x.sysDenoUs)))
            }) + PostgreSQL ${(pgUs / 1000).toFixed(3)} ms (${
              kernel(median(rs.map((x) => x.sysPgUs)))
            }) (medians of ${rs.length}); less noisy than req/s on a shared machine`,
          });
        }
      };
      const n = TARGETS.toLocaleString("en-US");
      const th = (k: number) => `${k} serving thread${k === 1 ? "" : "s"}`;
      add("hello-world baseline", runs.base, false, false);
      add(`TOM /healthz (no auth, no DB), ${th(THREADS[0])}`, runs.health, false);
      for (const k of THREADS) {
        add(
          `TOM list, first page (${n} targets, auth), uncached, ${th(k)}`,
          runs[`first${k}`],
          k === 1, // the target applies to the default (KB_TOM_WORKERS=1)
        );
        add(
          `TOM list, page 21 via its \`next\` link (cursor), uncached, ${th(k)}`,
          runs[`next${k}`],
          k === 1,
        );
        add(
          `TOM cone search r=0.5° (${coneRows} targets, auth), uncached, ${th(k)}`,
          runs[`cone${k}`],
          k === 1,
        );
      }
      add(
        `TOM cone search r=0.5°, a new random centre per request, uncached, ${th(THREADS[0])}`,
        runs.coneRandom,
        false,
      );
      add(`TOM list, page 21 via offset=1000, uncached, ${th(THREADS[0])}`, runs.deep, false);
      if (runs.basePinned.length) {
        // The same TOM and requests, the TOM (and the hello-world) alone on core 0.
        const own = "on core 0 alone (PostgreSQL and wrk on the others)";
        add(`hello-world baseline, ${own}`, runs.basePinned, false, false, runs.basePinned);
        for (
          const [k, what] of [
            ["first", `TOM list, first page (${n} targets, auth)`],
            ["next", "TOM list, page 21 via its `next` link (cursor)"],
            ["cone", `TOM cone search r=0.5° (${coneRows} targets, auth)`],
          ]
        ) {
          add(
            `${what}, uncached, 1 serving thread, ${own}`,
            runs[`${k}Pinned`],
            true,
            true,
            runs.basePinned,
          );
        }
      }
      const ttl = /list cache is off/.test(cachedTom.log())
        ? "list cache unexpectedly off"
        : "list cache on (same request repeated within its TTL)";
      // Not judged against the target: wrk repeats one URL, so every request after the first hits.
      add(`TOM list, first page, ${ttl}, 1 serving thread`, runs.cachedFirst, false);
      add(`TOM cone search r=0.5°, ${ttl}, 1 serving thread`, runs.cachedCone, false);
      return {
        rows,
        details: {
          targets: TARGETS,
          seconds: SECONDS,
          connections: CONNECTIONS,
          rounds: ROUNDS,
          threads: THREADS,
          placement: runs.basePinned.length
            ? "every row with all processes free on every core; rows marked 'on core 0 alone' " +
              "again with the TOM and the hello-world on core 0, PostgreSQL and wrk on the others"
            : "all processes free on every core (KB_BENCH_TOM_PIN=0, one core, or no taskset)",
          rateLimit: "off (KB_TOM_RATE_LIMIT=false)",
          issuer,
          loadAverage: await Deno.readTextFile("/proc/loadavg").then((s) => s.trim()),
          urls: { first, next, deep, cone, cachedFirst, cachedCone },
          wrk: runs,
        },
      };
    } finally {
      await pinned(false); // whatever happened: every process may use every core again
      await admin?.end();
      await hello.shutdown();
      for (const t of toms.values()) await t.stop();
      await cachedTom?.stop();
    }
  },
};
