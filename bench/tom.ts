/**
 * TOM API benchmark (issue 8): authenticated request throughput and latency on
 * `/api/targets/` over 1,000,000 targets in PostgreSQL — a list page and a cone
 * search — measured with `wrk` (Debian package, installed here when missing),
 * next to a plain `Deno.serve` hello-world and the TOM's unauthenticated
 * `/healthz` measured in the same run.
 *
 * Tokens: the local Keycloak's when `KB_OIDC_ISSUER` is set (user `pi`: not an
 * admin, so the permission filter runs), else the development issuer's.
 * Environment: KB_BENCH_TOM_SECONDS (per measurement, default 10),
 * KB_BENCH_TOM_CONNECTIONS (default 32), KB_BENCH_TOM_TARGETS (default 1,000,000).
 *
 * @module
 */
import { connect } from "../db/mod.ts";
import { runtimeConfig } from "../actors/runtime/config.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { loadTomConfig } from "../gateway/tom/config.ts";
import { startTom } from "../gateway/tom/server.ts";
import { fetchToken } from "../gateway/tom/testing.ts";
import { type Bench, type BenchRow, run } from "./harness.ts";

const SECONDS = Number(Deno.env.get("KB_BENCH_TOM_SECONDS") ?? 10);
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

/** A database with TARGETS targets (kept between runs: generating it takes a while). */
async function benchDatabase(): Promise<string> {
  const base = Deno.env.get("KB_DATABASE_URL");
  if (!base) throw new Error("KB_DATABASE_URL is not set: run through `deno task bench`");
  const admin = connect(base, { max: 1 });
  const [exists] = await admin`select 1 from pg_database where datname = ${DB_NAME}`;
  if (!exists) await admin.unsafe(`create database ${DB_NAME}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${DB_NAME}`;
  return u.toString();
}

async function seed(url: string): Promise<void> {
  const sql = connect(url, { max: 1 });
  try {
    const [{ n }] = await sql`select count(*)::int as n from tom_targets`;
    if (n >= TARGETS) return;
    console.error(`bench tom: generating ${TARGETS.toLocaleString("en-US")} targets ...`);
    const t0 = performance.now();
    await sql`truncate tom_targets cascade`;
    // Uniform on the sphere; every tenth target PRIVATE to a group the bench user lacks.
    await sql`insert into tom_targets (name, ra, dec, permissions, groups, score, score_at)
      select 'KB-BENCH-' || g, random() * 359.999999, degrees(asin(2 * random() - 1)),
        case when g % 10 = 0 then 'PRIVATE' else 'PUBLIC' end,
        case when g % 10 = 0 then '{other-team}'::text[] else '{}'::text[] end,
        random(), now()
      from generate_series(1, ${TARGETS}::int) g`;
    await sql`analyze tom_targets`;
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

async function wrk(bin: string, url: string, token?: string) {
  const args = ["-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", url];
  if (token) args.unshift("-H", `Authorization: Bearer ${token}`);
  return parseWrk(await run(bin, args));
}

/** The TOM bench. */
export const tomBench: Bench = {
  name: "tom",
  description: "TOM API: authenticated /api/targets/ throughput on 1M targets (wrk)",
  needs: ["postgres", "keycloak"],
  async run() {
    const bin = await ensureWrk();
    const url = await benchDatabase();
    const issuer = Deno.env.get("KB_OIDC_ISSUER");
    const tom = await startTom(
      loadTomConfig({
        KB_TOM_PORT: "0",
        KB_TOM_BROKER: "false",
        KB_DATABASE_URL: url,
        KB_OIDC_ISSUER: issuer,
        KB_OIDC_AUDIENCE: Deno.env.get("KB_OIDC_AUDIENCE"),
      }),
      runtimeConfig({ KB_TRANSPORT: "memory", KB_HTTP_PORT: 0, KB_LOG_LEVEL: "error" }),
      { log: createLogger({ level: "error" }) },
    );
    const hello = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response("hello"),
    );
    try {
      await seed(url);
      const token = issuer
        ? await fetchToken(issuer, {
          grant_type: "password",
          client_id: Deno.env.get("KB_OIDC_TEST_CLIENT_ID") ?? "tom-test",
          client_secret: Deno.env.get("KB_OIDC_TEST_CLIENT_SECRET") ?? "tom-test-dev-secret",
          username: "pi",
          password: "pi-pw",
        })
        : await tom.devIssuer!.tokenFor("pi");
      const list = `${tom.url}/api/targets/?limit=50&offset=1000`;
      const cone = `${tom.url}/api/targets/?ra=180&dec=10&radius=0.5`;
      // Sanity: the authenticated routes answer 200 with data before measuring.
      for (const u of [list, cone]) {
        const res = await fetch(u, { headers: { authorization: `Bearer ${token}` } });
        const body = await res.json();
        if (res.status !== 200) throw new Error(`${u}: ${res.status} ${JSON.stringify(body)}`);
      }
      const helloPort = (hello.addr as Deno.NetAddr).port;
      const base = await wrk(bin, `http://127.0.0.1:${helloPort}/`);
      const health = await wrk(bin, `${tom.url}/healthz`);
      const listR = await wrk(bin, list, token);
      const coneR = await wrk(bin, cone, token);
      const rows: BenchRow[] = [];
      const add = (metric: string, r: typeof base, target: boolean) => {
        rows.push({
          metric: `${metric} throughput`,
          value: r.rps,
          unit: "req/s",
          ceiling: base.rps,
          ceilingSource: "Deno.serve hello-world, same run, same wrk settings",
          target: target ? "≥ 5,000 req/s" : undefined,
          met: target ? r.rps >= 5000 && r.errors === 0 : undefined,
          note: r.errors ? `${r.errors} errors` : undefined,
        });
        rows.push({
          metric: `${metric} p99 latency`,
          value: r.p99,
          unit: "ms",
          ceiling: base.p99,
          ceilingSource: "Deno.serve hello-world p99",
          target: target ? "< 50 ms" : undefined,
          met: target ? r.p99 < 50 : undefined,
          note: `p50 ${r.p50.toFixed(2)} ms, ${CONNECTIONS} connections`,
        });
      };
      add("hello-world baseline", base, false);
      add("TOM /healthz (no auth, no DB)", health, false);
      add(`TOM list page (${TARGETS.toLocaleString("en-US")} targets, auth)`, listR, true);
      add("TOM cone search r=0.5° (auth)", coneR, true);
      return {
        rows,
        details: {
          targets: TARGETS,
          seconds: SECONDS,
          connections: CONNECTIONS,
          issuer: tom.verifier.issuer,
          wrk: { base, health, list: listR, cone: coneR },
        },
      };
    } finally {
      await hello.shutdown();
      await tom.stop();
    }
  },
};
