/**
 * The whole pipeline, measured (issue 11), on real servers, every stage its own
 * process:
 *
 *   synthetic sky → Kafka `<run>.optical-candidates` → inbound gateway →
 *   KB_ALERTS_IN → archiver (PostgreSQL) + classifier → KB_RESULTS → results
 *   publisher → KB_ALERTS_OUT → outbound gateway → Kafka `<run>.results`
 *
 * - **Sustained throughput**: a backlog of alerts is produced to the source
 *   topic before the processes start; the figure is backlog / (first alert on
 *   NATS → every stage drained: archived, classified, every result decided,
 *   every derived alert acknowledged by Kafka). Per-stage rates say which stage
 *   bounds it.
 * - **Latency at fixed offered loads** (100, 1,000, 5,000 alerts/s): from the
 *   produce time of an alert (the bench's clock just before it hands the record
 *   to the Kafka producer, which stamps CreateTime with the same clock) to the
 *   CreateTime of the Kafka record of the derived alert computed from it. A
 *   derived alert names its inputs (`data.inputs`, oldest first, the alert that
 *   triggered the result last); its latency is measured from that last input.
 *   The classifier scores every optical alert but the publisher only publishes
 *   a material change, so not every alert has a derived alert: the headline
 *   figure is the **first derived alert of each new candidate** (its first
 *   detection always publishes); all derived alerts are reported beside it.
 * - **Where the latency goes** (`e2e_stages.ts`): after each offered load, the
 *   first derived alert of each new candidate is followed through the marks the
 *   pipeline keeps (envelope `receivedAt`, JetStream store times of the three
 *   streams, `alerts.archived_at`, `results.stored_at`, the derived record's
 *   CreateTime) and each stage's p50/p95/p99 is logged and kept in the JSON.
 * - **CPU and RSS of every process** from /proc (utime+stime, VmRSS, VmHWM);
 *   per offered load, the CPU per alert of each process and of the PostgreSQL
 *   backends serving the bench's database, from the step's start until it drained.
 * - **Ceilings in the same run**: a raw Kafka → Kafka pass-through with the same
 *   client (kafkajs: consume the same backlog, produce with acks=all) and
 *   `nats bench` (JetStream publish + consume, 1 KB) on the bench's NATS.
 * - **The floor, same run**: what any pipeline on this machine starts from.
 *   The machine's CPU per record of the pass-through and per alert of the
 *   archive's batch insert alone (the archiver's statement, batch size and
 *   writers on the same alerts, rows built beforehand; and each record's bytes
 *   as one row, the least any archive could store) give the most alerts/s any
 *   pipeline that reads from Kafka, archives and writes back could reach here;
 *   and a minimal one-process pipeline (`floor_pipeline.ts`: Kafka → one row
 *   of bytes → Kafka) is timed at `KB_BENCH_E2E_FLOOR` offered loads (1000)
 *   with the same latency definition.
 * - **Seed-style baseline**: a loop that reads new archive rows every 10 s, as
 *   the seed's classifier polled its table, measured on the same alerts (time
 *   to *notice* an alert: a lower bound of the seed's latency).
 *
 * Isolation: the pipeline's stream and consumer names are fixed
 * (`contracts/names.ts`), so the bench runs a private nats-server without auth
 * on its own port (25330 and up) and store (the shared server's NATS
 * credential variables are removed from the bench's environment meanwhile); Kafka topics, the consumer groups and the
 * database (`kb_bench_e2e_*`) are unique per run and removed at the end.
 *
 * Knobs: `KB_BENCH_E2E_BACKLOG` (10000), `KB_BENCH_E2E_RATES` (100,1000,5000),
 * `KB_BENCH_E2E_SECONDS` (20,10,4: one per rate), `KB_BENCH_E2E_POLL_S` (10),
 * `KB_BENCH_E2E_IDLE_S` (5: seconds measured idle at the end),
 * `KB_BENCH_E2E_PROFILE=1` (CPU profile of every process while it drains the
 * backlog: top functions and files printed, `.cpuprofile` files written to
 * `.local/artifacts/profiles/`; `KB_BENCH_E2E_PROFILE=<rate>`, e.g. 1000: the same
 * during that offered load instead, where small batches cost more per alert),
 * `KB_BENCH_E2E_SYNC_COMMIT=off` (`synchronous_commit = off` for the bench's
 * database), `KB_BENCH_E2E_TOGETHER=1` (the archiver, classifier, results publisher and
 * outbound gateway in one process instead of one each), `KB_BENCH_E2E_V8_FLAGS`
 * (V8 flags of every process, comma-separated; default none), `KB_BENCH_E2E_FLOOR`
 * (offered loads of the floor pipeline, 10 s each; default 1000; empty: none). Runtime variables such as
 * `KB_MAX_IN_FLIGHT_BYTES` set in the bench's environment reach every process.
 *
 * @module
 */
import { CONSUMERS, RESULT_SUBJECTS, STREAMS, SUBJECTS } from "../contracts/names.ts";
import type { HopEnvelope } from "../contracts/messages.ts";
import { ARCHIVER_DEFAULTS } from "../actors/archiver/archiver.ts";
import { decodeArchiverInput } from "../actors/archiver/decode.ts";
import { extract } from "../actors/archiver/extract.ts";
import { KnownPoints } from "../actors/archiver/known_points.ts";
import { type ArchiveItem, insertAlertBatch } from "../db/archive.ts";
import { migrate } from "../db/migrate.ts";
import { encodeEnvelope, judgeRecord, type KafkaRecord } from "../gateway/hopskotch/envelope.ts";
import { uuidFromBytes } from "../gateway/hopskotch/uuid.ts";
import { createFloorTable, spawnFloorPipeline, storeFloorRows } from "./floor_pipeline.ts";
import { NatsTransport } from "../actors/runtime/nats_transport.ts";
import { type SpawnedProcess, spawnProcess } from "../actors/runtime/testing.ts";
import { sleep, waitFor } from "../actors/runtime/testing.ts";
import { readSkyMapFile } from "../astro/mod.ts";
import { connect, type Sql } from "../db/connect.ts";
import { databaseUrl, dropDatabase, withDatabase } from "../db/testing.ts";
import { plainKafka } from "../e2e/kafka.ts";
import { kafkaClient } from "../gateway/hopskotch/kafka.ts";
import { toRecord } from "../gateway/hopskotch/kafkajs_driver.ts";
import { connectHopWriter, type HopRecord, type HopWriter } from "../gateway/hopskotch/writer.ts";
import { loadEncoders } from "../actors/source_publisher/payloads.ts";
import { SkyAlertEncoder } from "../actors/source_publisher/synthetic/events.ts";
import { SyntheticSky } from "../actors/source_publisher/synthetic/generator.ts";
import { type Bench, benchKnobs, type BenchRow, quantile, run } from "./harness.ts";
import { chunk, throughput as writeRate } from "./archive.ts";
import { inspectFlag, startCpuProfile, summarizeByFile, summarizeProfile } from "./profile.ts";
import { formatBudget, stageBudget, streamMarks } from "./e2e_stages.ts";
import {
  childCpuTimesOf,
  cpuTimesOf,
  fieldsAfterName,
  machineContextSwitches,
  type MachineCpu,
  machineCpu,
  procCpuTimes,
  procStatus,
  statusBytes,
} from "./proc.ts";

const ROOT = new URL("../", import.meta.url);
const BACKLOG = Number(Deno.env.get("KB_BENCH_E2E_BACKLOG") ?? 10_000);
const RATES = (Deno.env.get("KB_BENCH_E2E_RATES") ?? "100,1000,5000").split(",").map(Number);
const SECONDS = (Deno.env.get("KB_BENCH_E2E_SECONDS") ?? "20,10,4").split(",").map(Number);
const POLL_S = Number(Deno.env.get("KB_BENCH_E2E_POLL_S") ?? 10);
/** Seconds measured idle after the last offered load (`KB_BENCH_E2E_IDLE_S`). */
const IDLE_S = Number(Deno.env.get("KB_BENCH_E2E_IDLE_S") ?? 5);
/**
 * What to CPU-profile (see bench/profile.ts): `1` every process while it drains the backlog,
 * a rate (e.g. `1000`) every process during that offered load; unset: nothing.
 */
const PROFILE_ENV = Deno.env.get("KB_BENCH_E2E_PROFILE");
const PROFILE = PROFILE_ENV !== undefined && PROFILE_ENV !== "" && PROFILE_ENV !== "0";
const PROFILE_RATE = PROFILE && PROFILE_ENV !== "1" ? Number(PROFILE_ENV) : undefined;
if (PROFILE_RATE !== undefined && !(PROFILE_RATE > 0)) {
  throw new Error(
    `KB_BENCH_E2E_PROFILE=${PROFILE_ENV}: give 1 (profile the backlog's drain) or one of the ` +
      `offered loads of KB_BENCH_E2E_RATES (e.g. 1000)`,
  );
}
/**
 * `off`: `synchronous_commit = off` for the bench's database (an operator option, never a default:
 * docs/archive.md), to measure what waiting for each commit's WAL flush costs.
 */
const SYNC_COMMIT_OFF = Deno.env.get("KB_BENCH_E2E_SYNC_COMMIT") === "off";
/**
 * `1`: the archiver, classifier, results publisher and outbound gateway in one process
 * (`actors/main.ts a,b,c,d`) instead of one each, to measure what a process per stage costs.
 */
const TOGETHER = Deno.env.get("KB_BENCH_E2E_TOGETHER") === "1";
/**
 * Offered loads at which the floor pipeline (bench/floor_pipeline.ts) is timed, each for 10 s
 * (`KB_BENCH_E2E_FLOOR`, comma-separated; empty: not timed).
 */
const FLOOR_RATES = (Deno.env.get("KB_BENCH_E2E_FLOOR") ?? "1000").split(",").map((s) => s.trim())
  .filter(Boolean).map(Number);
if (FLOOR_RATES.some((r) => !(r > 0))) {
  throw new Error(
    `KB_BENCH_E2E_FLOOR=${Deno.env.get("KB_BENCH_E2E_FLOOR")}: give offered loads in alerts/s, ` +
      `comma-separated (e.g. 300,1000), or nothing to skip the floor pipeline`,
  );
}
const FLOOR_SECONDS = 10;
/** V8 flags for every pipeline process (`DENO_V8_FLAGS`, comma-separated), to try memory settings. */
const V8_FLAGS = Deno.env.get("KB_BENCH_E2E_V8_FLAGS");
const PROFILE_DIR = new URL("../.local/artifacts/profiles/", import.meta.url);
const T0 = 57982.52852314815;
const MAP = new URL(
  "../actors/source_publisher/data/skymap/bayestar_2017_G298107.flat.fits.gz",
  import.meta.url,
);
const MIB = 1024 * 1024;
const say = (what: string) => console.error(`e2e bench: ${what}`);

// ---- servers --------------------------------------------------------------

function brokers(): string {
  const b = Deno.env.get("KB_KAFKA_BROKERS");
  if (!b) throw new Error("KB_KAFKA_BROKERS is not set: run through `deno task bench e2e`");
  return b;
}

function kafkaConfig(topics: string[] = []) {
  return plainKafka(brokers(), topics);
}

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** A private nats-server with JetStream on its own ports and store. */
interface PrivateNats {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * NATS credential variables of the shared local server (`stack.sh env`): the bench's
 * private server has no auth, so they are taken out of this process's environment
 * (and so out of its children's) while the bench runs, and put back afterwards.
 */
const NATS_CREDENTIAL_VARS = [
  "KB_NATS_IDENTITY",
  "KB_NATS_NKEY_FILE",
  "KB_NATS_CREDS_FILE",
  "KB_NATS_USER",
  "KB_NATS_PASSWORD_FILE",
  "KB_NATS_CA_FILE",
  "NATS_NKEY",
  "NATS_CREDS",
  "NATS_USER",
  "NATS_PASSWORD",
  "NATS_CONTEXT",
];

function withoutNatsCredentials(): () => void {
  const saved = new Map<string, string>();
  for (const k of NATS_CREDENTIAL_VARS) {
    const v = Deno.env.get(k);
    if (v !== undefined) {
      saved.set(k, v);
      Deno.env.delete(k);
    }
  }
  return () => {
    for (const [k, v] of saved) Deno.env.set(k, v);
  };
}

async function startPrivateNats(): Promise<PrivateNats> {
  let port = 25330;
  while (!portFree(port) || !portFree(port + 1)) {
    port += 2;
    if (port > 25400) throw new Error("no free port pair in 25330–25400 for the bench's NATS");
  }
  const dir = await Deno.makeTempDir({ prefix: "kb-bench-e2e-nats-" });
  const bin = new URL(".tools/bin/nats-server", ROOT).pathname;
  const child = new Deno.Command(bin, {
    args: ["-a", "127.0.0.1", "-p", String(port), "-m", String(port + 1), "-js", "-sd", dir],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const url = `nats://127.0.0.1:${port}`;
  await waitFor(
    `the bench's nats-server on ${url}`,
    async () => {
      const r = await fetch(`http://127.0.0.1:${port + 1}/healthz?js-enabled-only=true`)
        .catch(() => undefined);
      if (!r) return false;
      await r.body?.cancel();
      return r.ok;
    },
    20_000,
    100,
  );
  return {
    url,
    pid: child.pid,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.stderr.cancel().catch(() => {});
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function createDatabase(): Promise<
  { name: string; url: string; drop: () => Promise<void> }
> {
  const name = `kb_bench_e2e_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const admin = connect(databaseUrl(), { max: 1 });
  await admin.unsafe(`create database ${name}`);
  if (SYNC_COMMIT_OFF) await admin.unsafe(`alter database ${name} set synchronous_commit = off`);
  await admin.end();
  return {
    name,
    url: withDatabase(databaseUrl(), name),
    drop: () => dropDatabase(databaseUrl(), name),
  };
}

async function kafkaAdmin<T>(f: (a: ReturnType<ReturnType<typeof kafkaClient>["admin"]>) => T) {
  const admin = kafkaClient(kafkaConfig()).admin();
  await admin.connect();
  try {
    return await f(admin);
  } finally {
    await admin.disconnect();
  }
}

// ---- /proc ----------------------------------------------------------------

/** CPU seconds (user + system) and RSS of a process. */
async function procSample(
  pid: number,
): Promise<{ cpuS: number; rss: number; hwm: number; anon: number }> {
  const cpu = await procCpuTimes(pid);
  const status = await procStatus(pid);
  return {
    cpuS: cpu.user + cpu.sys,
    rss: statusBytes(status, "VmRSS"),
    hwm: statusBytes(status, "VmHWM"),
    // Private memory: RSS less the file-backed pages (the deno binary's code, shared by every
    // Deno process on a node).
    anon: statusBytes(status, "RssAnon"),
  };
}

/**
 * CPU seconds used so far by PostgreSQL processes (by their command name), the
 * children the postmaster reaped while we watched included: all of them, or
 * only the backends serving `database` (by their process title: the bench's own
 * share of a server other work may share; a backend that ended meanwhile is lost).
 */
async function postgresCpuS(database?: string): Promise<number> {
  let sum = 0;
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${e.name}/stat`).catch(() => "");
    if (!stat.startsWith(`${e.name} (postgres) `)) continue;
    if (database !== undefined) {
      const title = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
      if (!title.startsWith("postgres: ") || !title.includes(` ${database} `)) continue;
    }
    const f = fieldsAfterName(stat);
    const own = cpuTimesOf(f);
    const children = childCpuTimesOf(f);
    sum += own.user + own.sys + children.user + children.sys;
  }
  return sum;
}

/**
 * CPU seconds used so far by the servers the pipeline leans on: every PostgreSQL
 * process and the Kafka broker. The servers are the local stack's, shared with
 * whatever else runs: read them on a quiet machine.
 */
async function serverCpuS(): Promise<{ postgresql: number; kafka: number }> {
  let kafka = 0;
  const pidFile = new URL(".local/kafka/kafka.pid", ROOT);
  const pid = Number((await Deno.readTextFile(pidFile).catch(() => "")).trim());
  if (pid) kafka = (await procSample(pid).catch(() => ({ cpuS: 0 }))).cpuS;
  return { postgresql: await postgresCpuS(), kafka };
}

/**
 * CPU seconds used so far by each process of `pids`, and by the PostgreSQL
 * backends serving `database`.
 */
async function cpuOf(
  pids: Map<string, number>,
  database: string,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, pid] of pids) {
    const s = await procSample(pid).catch(() => undefined);
    if (s) out[name] = s.cpuS;
  }
  out["postgresql (bench db backends)"] = await postgresCpuS(database);
  return out;
}

/**
 * Context switches so far: the machine's (`ctxt` of /proc/stat: every process, servers
 * included) and, per process, its main thread's voluntary ones (each one a wait that ended: the
 * event loop went to sleep and was woken), from /proc/<pid>/status.
 */
async function switchesOf(pids: Map<string, number>): Promise<Record<string, number>> {
  const out: Record<string, number> = { machine: await machineContextSwitches() };
  for (const [name, pid] of pids) {
    const status = await procStatus(pid).catch(() => undefined);
    const v = status?.get("voluntary_ctxt_switches");
    if (v !== undefined) out[name] = Number(v);
  }
  return out;
}

/**
 * Each counter's growth from `before` to `after`, divided by `n` (alerts, or seconds; a counter
 * not read before: 0).
 */
function deltaPer(
  before: Record<string, number>,
  after: Record<string, number>,
  n: number,
): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, (v - (before[k] ?? v)) / n]));
}

/** The sum of `values`' entries named in `keys` (a missing one counts 0). */
function sumOf(values: Record<string, number>, keys: Iterable<string>): number {
  let sum = 0;
  for (const k of keys) sum += values[k] ?? 0;
  return sum;
}

/** The log line of {@link switchesOf} figures per alert, `when` e.g. "at 1000/s". */
function switchesLine(when: string, switches: Record<string, number>): string {
  return `context switches per alert ${when}: machine ${switches.machine.toFixed(1)}; ` +
    `sleeps of each process's main thread: ${
      Object.entries(switches).filter(([k]) => k !== "machine")
        .map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")
    }`;
}

/** What the whole machine did over a window: its busy cores and the CPU per alert of each part. */
interface MachineWindow {
  /** Wall seconds of the window. */
  readonly seconds: number;
  /** Cores busy on average (of `cores`), steal excluded. */
  readonly coresBusy: number;
  readonly cores: number;
  /** Steal time as a share of the window's CPU time (the hypervisor's, not this machine's). */
  readonly stealPct: number;
  /** ms of CPU per alert: every core's busy time, then its parts (the rest is `other`). */
  readonly msPerAlert: Record<string, number>;
}

/** A reading of everything {@link machineWindow} compares. */
interface MachineMark {
  readonly at: number;
  readonly machine: MachineCpu;
  readonly servers: { postgresql: number; kafka: number };
  /** This process: the bench's producer, its reader of the results topic, its pollers. */
  readonly bench: number;
}

async function machineMark(): Promise<MachineMark> {
  const self = await procCpuTimes(Deno.pid);
  return {
    at: performance.now(),
    machine: await machineCpu(),
    servers: await serverCpuS(),
    bench: self.user + self.sys,
  };
}

/**
 * The machine's CPU from `a` to `b` for `n` alerts, split into the pipeline's processes (with the
 * bench's nats-server: `pipelineS`, CPU seconds over the same window), every PostgreSQL process,
 * the Kafka broker (in a deployment: Hopskotch's, elsewhere), the bench itself (the load it
 * offers and reads back) and everything else.
 */
function machineWindow(
  a: MachineMark,
  b: MachineMark,
  pipelineS: number,
  n: number,
): MachineWindow {
  const seconds = (b.at - a.at) / 1000;
  const busy = b.machine.busy - a.machine.busy;
  const steal = b.machine.steal - a.machine.steal;
  const all = busy + steal + (b.machine.idle - a.machine.idle);
  const parts: Record<string, number> = {
    "pipeline processes + nats-server": pipelineS,
    "PostgreSQL (every process)": b.servers.postgresql - a.servers.postgresql,
    "Kafka broker": b.servers.kafka - a.servers.kafka,
    "the bench (producer, reader, pollers)": b.bench - a.bench,
  };
  const known = Object.values(parts).reduce((x, y) => x + y, 0);
  const ms = (sec: number) => sec * 1000 / n;
  return {
    seconds,
    coresBusy: busy / seconds,
    cores: navigator.hardwareConcurrency,
    stealPct: all > 0 ? 100 * steal / all : 0,
    msPerAlert: {
      machine: ms(busy),
      ...Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, ms(v)])),
      other: ms(Math.max(0, busy - known)),
    },
  };
}

/** The log line of a {@link MachineWindow}, `when` e.g. "at 1000/s, produce to drained". */
function machineLine(when: string, w: MachineWindow): string {
  const { machine, ...parts } = w.msPerAlert;
  return `whole machine ${when}: ${w.coresBusy.toFixed(2)} of ${w.cores} cores busy over ${
    w.seconds.toFixed(1)
  } s (steal ${w.stealPct.toFixed(1)}%), ${machine.toFixed(2)} ms of CPU per alert: ${
    Object.entries(parts).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")
  }`;
}

/** Per-process CPU and RSS over a window. */
interface ProcWindow {
  cpuPct: number;
  rssMaxMiB: number;
}

class ProcMonitor {
  #timer: ReturnType<typeof setInterval> | undefined;
  #start = new Map<string, { cpuS: number; t: number }>();
  #rssMax = new Map<string, number>();
  #hwm = new Map<string, number>();
  #anonMax = new Map<string, number>();

  constructor(private readonly pids: Map<string, number>) {}

  async #sample(): Promise<
    Map<string, { cpuS: number; rss: number; hwm: number; anon: number }>
  > {
    const out = new Map();
    for (const [name, pid] of this.pids) {
      const s = await procSample(pid).catch(() => undefined);
      if (!s) continue;
      out.set(name, s);
      this.#rssMax.set(name, Math.max(this.#rssMax.get(name) ?? 0, s.rss));
      this.#hwm.set(name, Math.max(this.#hwm.get(name) ?? 0, s.hwm));
      this.#anonMax.set(name, Math.max(this.#anonMax.get(name) ?? 0, s.anon));
    }
    return out;
  }

  /** Starts a window. */
  async begin(): Promise<void> {
    this.#rssMax.clear();
    const t = performance.now();
    for (const [name, s] of await this.#sample()) this.#start.set(name, { cpuS: s.cpuS, t });
    this.#timer = setInterval(() => void this.#sample(), 250);
  }

  /** Ends the window: CPU % of one core, largest RSS seen. */
  async end(): Promise<Record<string, ProcWindow>> {
    clearInterval(this.#timer);
    const t = performance.now();
    const out: Record<string, ProcWindow> = {};
    for (const [name, s] of await this.#sample()) {
      const s0 = this.#start.get(name);
      if (!s0) continue;
      out[name] = {
        cpuPct: 100 * (s.cpuS - s0.cpuS) / ((t - s0.t) / 1000),
        rssMaxMiB: (this.#rssMax.get(name) ?? 0) / MIB,
      };
    }
    return out;
  }

  /** Peak RSS of each process over its life (VmHWM), MiB. */
  peaks(): Record<string, number> {
    return Object.fromEntries([...this.#hwm].map(([k, v]) => [k, v / MIB]));
  }

  /** Largest private (anonymous) RSS sampled, MiB, per process. */
  privatePeaks(): Record<string, number> {
    return Object.fromEntries([...this.#anonMax].map(([k, v]) => [k, v / MIB]));
  }
}

// ---- the source -----------------------------------------------------------

interface SourceAlert {
  readonly id: string;
  readonly objectId: string;
  readonly first: boolean;
  readonly value: Uint8Array;
}

/** The first `count` alerts (time order) of a fresh synthetic sky with its own id prefix. */
async function skyAlerts(count: number, seed: number, prefix: string): Promise<SourceAlert[]> {
  const enc = await loadEncoders();
  const map = await readSkyMapFile(MAP);
  // ~25 detections per candidate over the survey; a margin for the time-ordered cut.
  const sky = new SyntheticSky({
    n: Math.ceil(count / 12) + 50,
    seed,
    t0Mjd: T0,
    map,
    idPrefix: prefix,
  });
  const encoder = new SkyAlertEncoder(sky, enc);
  const seen = new Set<string>();
  const out: SourceAlert[] = [];
  for (const { candidate, k } of sky.alertsInTimeOrder()) {
    if (out.length >= count) break;
    const id = crypto.randomUUID();
    const first = !seen.has(candidate.objectId);
    seen.add(candidate.objectId);
    out.push({ id, objectId: candidate.objectId, first, value: encoder.encode(candidate, k, id) });
  }
  if (out.length < count) throw new Error(`the sky gave ${out.length} alerts, ${count} wanted`);
  return out;
}

function hopRecord(a: SourceAlert): HopRecord {
  return { format: "avro", id: a.id, value: a.value, key: a.objectId };
}

/** Produce times by the alert's NATS message id (`hop:<_id>`, the gateway's). */
const sentAt = new Map<string, number>();
/** Alerts handed to the producer so far. */
let produced = 0;

/** Produces `alerts` at `rate`/s (ticks of 10 ms, up to 16 produce requests in flight). */
async function produceAt(
  w: HopWriter,
  topic: string,
  alerts: SourceAlert[],
  rate: number,
): Promise<{ seconds: number; maxLagMs: number }> {
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  let sent = 0;
  let maxLagMs = 0;
  while (sent < alerts.length) {
    const due = Math.min(alerts.length, Math.floor((performance.now() - t0) * rate / 1000) + 1);
    if (due > sent) {
      maxLagMs = Math.max(maxLagMs, (performance.now() - t0) - (sent / rate) * 1000);
      const batch = alerts.slice(sent, due);
      sent = due;
      const now = Date.now();
      for (const a of batch) sentAt.set(`hop:${a.id}`, now);
      produced += batch.length;
      const p = w.publish(topic, batch.map(hopRecord));
      inflight.add(p);
      p.finally(() => inflight.delete(p));
      while (inflight.size >= 16) await Promise.race(inflight);
    }
    const next = t0 + (sent / rate) * 1000;
    await sleep(Math.max(0, Math.min(10, next - performance.now())));
  }
  await Promise.all(inflight);
  return { seconds: (performance.now() - t0) / 1000, maxLagMs };
}

// ---- the derived alerts ---------------------------------------------------

interface Derived {
  /** Kafka CreateTime of the derived alert − produce time of its triggering alert. */
  readonly latencyMs: number;
  readonly trigger: string;
  readonly firstOfCandidate: boolean;
  /** CreateTime of the derived alert's record, ms. */
  readonly kafkaMs: number;
  /** When this reader got it, ms. */
  readonly readMs: number;
}

/** Reads the results topic; keeps each derived alert's latency. */
async function derivedReader(topic: string, firsts: Set<string>) {
  const got: Derived[] = [];
  let unknown = 0;
  const consumer = kafkaClient(kafkaConfig()).consumer({
    groupId: `kb-bench-e2e-read-${topic}`,
    // The figure is the record's CreateTime, not when this reader gets it; a fetch returns as
    // soon as a record is there (minBytes 1), so a long wait only saves the broker (which the
    // pipeline shares) an empty fetch every 20 ms.
    maxWaitTimeInMs: 500,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      const d = JSON.parse(message.value!.toString("utf8"));
      const inputs = d.data?.inputs as { alert_id: string }[] | undefined;
      const trigger = inputs?.[inputs.length - 1]?.alert_id;
      const t = trigger ? sentAt.get(trigger) : undefined;
      if (t === undefined) unknown++;
      else {
        got.push({
          latencyMs: Number(message.timestamp) - t,
          trigger: trigger!,
          firstOfCandidate: firsts.has(trigger!),
          kafkaMs: Number(message.timestamp),
          readMs: Date.now(),
        });
      }
      return Promise.resolve();
    },
  });
  return { got, unknown: () => unknown, stop: () => consumer.disconnect() };
}

// ---- the pipeline ---------------------------------------------------------

const CONSUMER_OF: Record<string, { stream: string; consumer: string }> = {
  archiver: { stream: STREAMS.alertsIn.name, consumer: CONSUMERS.ofActor("archiver") },
  classifier: { stream: STREAMS.alertsIn.name, consumer: CONSUMERS.ofActor("classifier") },
  "results-publisher": {
    stream: STREAMS.results.name,
    consumer: CONSUMERS.ofActor("results-publisher"),
  },
  "hopskotch-outbound": {
    stream: STREAMS.alertsOut.name,
    consumer: CONSUMERS.ofActor("hopskotch-outbound"),
  },
};

/** Messages each stage has finished (acked), and what entered NATS. */
async function progress(t: NatsTransport): Promise<Record<string, number>> {
  const out: Record<string, number> = {
    inbound: (await t.streamState(STREAMS.alertsIn.name)).messages,
  };
  for (const [name, c] of Object.entries(CONSUMER_OF)) {
    const s = await t.streamState(c.stream).catch(() => ({ messages: 0 }));
    const st = await t.consumerState(c.stream, c.consumer).catch(() => undefined);
    out[name] = st ? s.messages - st.pending - st.ackPending : 0;
    out[`${c.stream}`] = s.messages;
  }
  return out;
}

/** Samples each stage's queue (work handed to it, not yet finished) while a phase runs. */
class QueueSampler {
  #timer: ReturnType<typeof setInterval> | undefined;
  #max: Record<string, number> = {};
  #busy = false;

  constructor(private readonly t: NatsTransport) {}

  begin(): void {
    this.#max = {};
    this.#timer = setInterval(async () => {
      if (this.#busy) return;
      this.#busy = true;
      try {
        const p = await progress(this.t);
        const q: Record<string, number> = { "inbound-gateway": produced - p.inbound };
        for (const [name, c] of Object.entries(CONSUMER_OF)) q[name] = p[c.stream] - p[name];
        for (const [k, v] of Object.entries(q)) this.#max[k] = Math.max(this.#max[k] ?? 0, v);
      } catch {
        /* a missed sample */
      } finally {
        this.#busy = false;
      }
    }, 250);
  }

  /** Largest queue of each stage since {@link begin}. */
  end(): Record<string, number> {
    clearInterval(this.#timer);
    return { ...this.#max };
  }
}

/** True when every stage has finished everything the inbound gateway put on NATS. */
async function drained(t: NatsTransport, expectIn: number): Promise<boolean> {
  const p = await progress(t);
  return p.inbound >= expectIn &&
    Object.entries(CONSUMER_OF).every(([name, c]) => p[name] === p[c.stream]);
}

// ---- ceilings -------------------------------------------------------------

/** What {@link passThrough} measured. */
interface PassThrough {
  /** Records/s, first batch to last. */
  readonly rate: number;
  /** The whole machine's CPU per record (the client, the broker, anything else), ms. */
  readonly machineMs: number;
  /** The records as the client read them: the same input for {@link archiveFloor}. */
  readonly records: KafkaRecord[];
}

/** kafkajs: consume the backlog from `from` and produce each batch to `to` (acks=all). */
async function passThrough(from: string, to: string, n: number): Promise<PassThrough> {
  const k = kafkaClient(kafkaConfig());
  const producer = k.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const consumer = k.consumer({ groupId: `kb-bench-e2e-pass-${to}`, maxWaitTimeInMs: 20 });
  await consumer.connect();
  await consumer.subscribe({ topics: [from], fromBeginning: true });
  const records: KafkaRecord[] = [];
  let done = 0;
  let t0 = 0;
  let t1 = 0;
  // From the first batch (not the group's join): the machine's work for these records only.
  let m0: MachineMark | undefined;
  await consumer.run({
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      if (!t0) {
        t0 = performance.now();
        m0 = await machineMark();
      }
      await producer.send({
        topic: to,
        acks: -1,
        messages: batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
      resolveOffset(batch.messages[batch.messages.length - 1].offset);
      await heartbeat();
      for (const m of batch.messages) {
        if (records.length < n) {
          records.push(toRecord(batch.topic, batch.partition, m));
        }
      }
      done += batch.messages.length;
      if (done >= n && !t1) t1 = performance.now();
    },
  });
  await waitFor("the pass-through to finish", () => t1 > 0, 600_000, 20);
  const m1 = await machineMark();
  await consumer.disconnect();
  await producer.disconnect();
  return {
    rate: n / ((t1 - t0) / 1000),
    machineMs: machineWindow(m0!, m1, 0, n).msPerAlert.machine,
    records,
  };
}

/** What {@link archiveFloor} measured. */
interface ArchiveFloor {
  /** Alerts/s written. */
  readonly rate: number;
  /** The whole machine's CPU per alert (the bench's client and PostgreSQL), ms. */
  readonly machineMs: number;
  /** Photometry rows sent, per alert (earlier points already written are left out). */
  readonly rowsPerAlert: number;
  /** The same alerts as one row each (id, record bytes) in a table with only its primary key. */
  readonly raw: { readonly rate: number; readonly machineMs: number };
}

/**
 * The least the archive must do: write `records` to a scratch database with the archiver's
 * statement, batch size and writers, nothing else (no NATS, no decoding in the timed part: the
 * rows are built first, and photometry already written by an earlier batch is left out, as the
 * archiver's known-points set does). With {@link passThrough}, the floor of any pipeline on this
 * machine that reads each alert from Kafka, archives it and writes a result back.
 */
async function archiveFloor(records: readonly KafkaRecord[]): Promise<ArchiveFloor> {
  const judge = { topicKinds: [], maxRecordBytes: Infinity, includeTest: true };
  const items: ArchiveItem[] = [];
  for (const r of records) {
    const v = judgeRecord(r, judge);
    if (v.action !== "publish") throw new Error(`archive floor: record ${r.offset}: ${v.action}`);
    const env = decodeArchiverInput(encodeEnvelope(v)) as HopEnvelope;
    items.push(extract(env, v.msgId, SUBJECTS.alertsIn(v.kind)).item);
  }
  const known = new KnownPoints(ARCHIVER_DEFAULTS.knownPoints);
  let rows = 0;
  const batches = chunk(items, ARCHIVER_DEFAULTS.batch).map((b) => {
    const unsent = known.unsent(b);
    known.remember(b);
    for (const it of unsent) rows += it.photometry.length;
    return unsent;
  });
  const db = await createDatabase();
  const sql = connect(db.url, { max: ARCHIVER_DEFAULTS.writers });
  /** Writes the batches with the archiver's writers; the machine's CPU per alert and alerts/s. */
  const timed = async <T>(xs: T[][], write: (b: T[]) => Promise<unknown>) => {
    const m0 = await machineMark();
    const rate = await writeRate(xs, ARCHIVER_DEFAULTS.writers, async (b) => {
      await write(b);
    });
    const m1 = await machineMark();
    return { rate, machineMs: machineWindow(m0, m1, 0, items.length).msPerAlert.machine };
  };
  try {
    await migrate(sql);
    const archive = await timed(batches, (b) => insertAlertBatch(sql, b, ARCHIVER_DEFAULTS.shape));
    // The least any archive could store: each record's bytes once, under its position (the
    // floor pipeline's table and statement; the backlog is one partition's).
    await createFloorTable(sql);
    const raw = await timed(
      chunk(records, ARCHIVER_DEFAULTS.batch),
      (b) => storeFloorRows(sql, b[0].partition, b),
    );
    return { ...archive, rowsPerAlert: rows / items.length, raw };
  } finally {
    await sql.end();
    await db.drop().catch((err) => say(`dropping the archive floor's database: ${err}`));
  }
}

/** What {@link floorLatency} measured at one offered load. */
interface FloorStep {
  readonly rate: number;
  readonly offeredRate: number;
  readonly alerts: number;
  /** Produce → the output record's CreateTime, ms. */
  readonly latency: { n: number; p50: number; p95: number; p99: number };
  readonly coresBusy: number;
  /** The whole machine's CPU per alert, ms, and the floor process's. */
  readonly machineMs: number;
  readonly processMs: number;
  /** How far the bench's producer fell behind its schedule at worst, ms. */
  readonly producerMaxLagMs: number;
}

/**
 * The floor pipeline (bench/floor_pipeline.ts: Kafka → one row of bytes in PostgreSQL → Kafka,
 * one process) at each offered load of `rates`: the latency and the CPU any pipeline on this
 * machine starts from, measured before the pipeline's processes start.
 */
async function floorLatency(
  w: HopWriter,
  from: string,
  to: string,
  databaseUrl: string,
  rates: readonly number[],
  seed: string,
): Promise<FloorStep[]> {
  const proc = await spawnFloorPipeline({ from, to, databaseUrl, brokers: brokers() });
  const times: number[] = [];
  const reader = kafkaClient(kafkaConfig()).consumer({
    groupId: `${to}-read`,
    maxWaitTimeInMs: 500,
  });
  try {
    await reader.connect();
    await reader.subscribe({ topics: [to], fromBeginning: true });
    let unknown = 0;
    await reader.run({
      eachMessage: ({ message }) => {
        const raw = message.headers?._id;
        const id = raw instanceof Uint8Array ? `hop:${uuidFromBytes(raw)}` : "";
        const t = sentAt.get(id);
        if (t === undefined) unknown++;
        else times.push(Number(message.timestamp) - t);
        return Promise.resolve();
      },
    });
    // Warm up first, as the backlog warms the pipeline before its steps: the first records wait
    // for the producer's metadata of the new topic and the first fetches (hundreds of ms), and
    // at 1,000/s for 10 s they would be the p99.
    const warm = await skyAlerts(200, 899, `FW${seed}`);
    await produceAt(w, from, warm, 1000);
    await waitFor("the floor pipeline warmed up", () => times.length >= warm.length, 60_000, 20);
    const out: FloorStep[] = [];
    for (const [i, rate] of rates.entries()) {
      const n = Math.round(rate * FLOOR_SECONDS);
      const alerts = await skyAlerts(n, 900 + i, `F${i}${seed}`);
      const before = times.length;
      const m0 = await machineMark();
      const cpu0 = await procCpuTimes(proc.child.pid);
      const sending = await produceAt(w, from, alerts, rate);
      await waitFor(
        `the floor pipeline's ${n} records at ${rate}/s`,
        () => times.length - before >= n,
        120_000,
        20,
      );
      const m1 = await machineMark();
      const cpu1 = await procCpuTimes(proc.child.pid);
      const latency = pct(times.slice(before).sort((a, b) => a - b));
      // No pipeline process runs yet: its share of the window is 0.
      const machine = machineWindow(m0, m1, 0, n);
      const step: FloorStep = {
        rate,
        offeredRate: n / sending.seconds,
        alerts: n,
        latency,
        coresBusy: machine.coresBusy,
        machineMs: machine.msPerAlert.machine,
        processMs: (cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) * 1000 / n,
        producerMaxLagMs: sending.maxLagMs,
      };
      say(
        `floor pipeline at ${rate}/s: p50 ${latency.p50} / p95 ${latency.p95} / p99 ${latency.p99} ` +
          `ms; ${step.coresBusy.toFixed(2)} cores busy, ${step.machineMs.toFixed(2)} ms of the ` +
          `machine's CPU per alert (the floor process ${step.processMs.toFixed(2)}); the bench's ` +
          `producer at worst ${step.producerMaxLagMs.toFixed(0)} ms behind its schedule` +
          (unknown ? `; ${unknown} records not produced by this run` : ""),
      );
      out.push(step);
    }
    return out;
  } finally {
    await reader.disconnect().catch((err) => say(`stopping the floor's reader: ${err}`));
    proc.kill("SIGTERM");
    const st = await Promise.race([proc.status, sleep(15_000).then(() => undefined)]);
    if (!st) {
      say("the floor pipeline did not stop on SIGTERM within 15 s; killing it");
      proc.kill("SIGKILL");
      await proc.status;
    }
  }
}

/** `nats bench`: JetStream async publish then consume, 1 KB, on the bench's server. */
async function natsBench(url: string, n: number): Promise<{ pub: number; consume: number }> {
  const bin = new URL(".tools/bin/nats", ROOT).pathname;
  const stream = `kbbenche2e${Date.now()}`;
  const rate = (out: string) => {
    const m = out.match(/stats: ([\d,]+) msgs\/sec/);
    if (!m) throw new Error(`cannot read nats bench output:\n${out}`);
    return Number(m[1].replaceAll(",", ""));
  };
  const common = ["--msgs", String(n), "--size", "1KB", "--no-progress"];
  const pub = rate(
    await run(bin, [
      "--no-context",
      "--server",
      url,
      "bench",
      "js",
      "pub",
      "async",
      `kbbench.${stream}`,
      "--stream",
      stream,
      "--create",
      ...common,
    ]),
  );
  const consume = rate(
    await run(bin, [
      "--no-context",
      "--server",
      url,
      "bench",
      "js",
      "consume",
      "--stream",
      stream,
      ...common,
    ]),
  );
  await run(bin, ["--no-context", "--server", url, "stream", "rm", stream, "-f"]);
  return { pub, consume };
}

/** The seed's way: read rows newer than the last seen every `everyS` seconds. */
function seedPoller(sql: Sql, everyS: number) {
  const lat: number[] = [];
  let last = 0n;
  let stopped = false;
  const loop = (async () => {
    const [r] = await sql`select coalesce(max(id), 0)::bigint as id from alerts`;
    last = BigInt(r.id);
    while (!stopped) {
      await sleep(everyS * 1000);
      const rows =
        await sql`select id, msg_id from alerts where id > ${last.toString()} order by id`;
      const now = Date.now();
      for (const row of rows) {
        last = BigInt(row.id);
        const t = sentAt.get(row.msg_id);
        if (t !== undefined) lat.push(now - t);
      }
    }
  })();
  return {
    lat,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

// ---- the bench ------------------------------------------------------------

function pct(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99) };
}

/** `deno task bench e2e`. */
export const e2eBench: Bench = {
  name: "e2e",
  description:
    "the whole pipeline in processes: Kafka → gateway → archiver + classifier → publisher → gateway → Kafka",
  needs: ["postgres", "kafka", "nats"],
  async run() {
    const id = Date.now().toString(36);
    const group = `kb-bench-e2e-${id}`;
    const source = `${group}.optical-candidates`;
    const results = `${group}.results`;
    const pass = `${group}.pass`;
    const floorIn = `${group}.floor-in`;
    const floorOut = `${group}.floor-out`;
    const topics = [source, results, pass, floorIn, floorOut];
    await kafkaAdmin((a) =>
      a.createTopics({
        waitForLeaders: true,
        topics: topics.map((topic) => ({
          topic,
          numPartitions: 1,
          replicationFactor: 1,
        })),
      })
    );
    const restoreEnv = withoutNatsCredentials();
    const nats = await startPrivateNats();
    const db = await createDatabase();
    const dbName = db.name;
    const sql = connect(db.url, { max: 2 });
    const procs = new Map<string, SpawnedProcess<unknown>>();
    let reader: Awaited<ReturnType<typeof derivedReader>> | undefined;
    const t = await NatsTransport.connect({ servers: nats.url, name: "kb-bench-e2e" });
    try {
      // 1. The backlog, produced before anything reads it; the same records feed the ceiling.
      say(`encoding ${BACKLOG} backlog alerts`);
      const firsts = new Set<string>();
      const backlog = await skyAlerts(BACKLOG, 101, `E2B${id}`);
      for (const a of backlog) if (a.first) firsts.add(`hop:${a.id}`);
      const w = await connectHopWriter(kafkaConfig());
      for (let i = 0; i < backlog.length; i += 1000) {
        const b = backlog.slice(i, i + 1000);
        const now = Date.now();
        for (const a of b) sentAt.set(`hop:${a.id}`, now);
        produced += b.length;
        await w.publish(source, b.map(hopRecord));
      }
      say("ceiling: kafkajs pass-through of the backlog");
      const passed = await passThrough(source, pass, BACKLOG);
      const passRate = passed.rate;
      say("floor: the archive's insert alone, the same alerts");
      const archived = await archiveFloor(passed.records);
      passed.records.length = 0;
      const floorMs = passed.machineMs + archived.machineMs;
      const floorRate = navigator.hardwareConcurrency * 1000 / floorMs;
      const rawFloorRate = navigator.hardwareConcurrency * 1000 /
        (passed.machineMs + archived.raw.machineMs);
      say(
        `floor: pass-through ${passed.machineMs.toFixed(3)} ms of the machine's CPU per record, ` +
          `archive insert ${archived.machineMs.toFixed(3)} ms per alert (${
            Math.round(archived.rate)
          } alerts/s, ${archived.rowsPerAlert.toFixed(1)} photometry rows each): at most ${
            Math.round(floorRate)
          } alerts/s on ${navigator.hardwareConcurrency} cores for any pipeline doing both; ` +
          `the record's bytes alone, one row each: ${archived.raw.machineMs.toFixed(3)} ms (${
            Math.round(archived.raw.rate)
          } alerts/s), at most ${Math.round(rawFloorRate)} alerts/s with the pass-through`,
      );
      say("ceiling: nats bench");
      const nb = await natsBench(nats.url, 100_000);
      say(`floor pipeline (bench/floor_pipeline.ts) at ${FLOOR_RATES.join(", ")}/s`);
      const floorSteps = FLOOR_RATES.length
        ? await floorLatency(w, floorIn, floorOut, db.url, FLOOR_RATES, id)
        : [];

      // 2. The pipeline, one process per stage.
      const common = {
        KB_NATS_URL: nats.url,
        KB_KAFKA_SECURITY_PROTOCOL: "PLAINTEXT",
        KB_LOG_LEVEL: "info",
        ...(V8_FLAGS === undefined ? {} : { DENO_V8_FLAGS: V8_FLAGS }),
      };
      const inspectPorts = new Map<string, number>();
      const spawn = async (
        name: string,
        args: string[],
        env: Record<string, string>,
        identity?: string,
      ) => {
        const port = 9240 + procs.size;
        if (PROFILE) inspectPorts.set(name, port);
        const p = await spawnProcess({
          name,
          args,
          denoFlags: PROFILE ? [inspectFlag(port)] : [],
          env: { ...common, ...env },
          // The process reports its memory as it logs ready (actors/runtime/memory.ts): sampled
          // from here later, the inbound gateway would already be reading the backlog.
          readyWhen: (e) =>
            e.msg === "host ready"
              ? { rssMiB: Number(e.rssMiB), privateMiB: Number(e.privateMiB) }
              : undefined,
          timeoutMs: 60_000,
          identity,
        });
        procs.set(name, p as SpawnedProcess<unknown>);
        rssAtReady[name] = p.ready.rssMiB;
        privateAtReady[name] = p.ready.privateMiB;
        // No pause after "ready": the inbound gateway starts reading the backlog at once, and the
        // drain's clock (the first alert on NATS) must start before downstream stages get ahead.
      };
      const profileAll = () =>
        Promise.all(
          [...inspectPorts].map(async ([name, port]) =>
            [name, await startCpuProfile(port)] as const
          ),
        );
      /** Stops each recording, writes its `.cpuprofile` and prints its hottest files and functions. */
      const reportProfiles = async (
        recs: readonly (readonly [string, Awaited<ReturnType<typeof startCpuProfile>>])[],
        suffix: string,
      ) => {
        for (const [name, rec] of recs) {
          const profile = await rec.stop();
          await Deno.mkdir(PROFILE_DIR, { recursive: true });
          const file = new URL(`e2e-${name}${suffix}.cpuprofile`, PROFILE_DIR);
          await Deno.writeTextFile(file, JSON.stringify(profile));
          const s = summarizeProfile(profile, 25);
          say(
            `profile of ${name}: busy ${s.busyMs.toFixed(0)} ms, idle ${
              s.idleMs.toFixed(0)
            } ms (${file.pathname})`,
          );
          for (const f of summarizeByFile(profile, 12)) {
            say(`  file ${f.pct.toFixed(1).padStart(5)}%  ${f.name}`);
          }
          for (const h of s.hot) say(`  fn   ${h.pct.toFixed(1).padStart(5)}%  ${h.name}`);
        }
      };
      say("starting the processes");
      const rssAtReady: Record<string, number> = {};
      const privateAtReady: Record<string, number> = {};
      const actorEnv = {
        archiver: { KB_DATABASE_URL: db.url },
        classifier: {},
        "results-publisher": { KB_DATABASE_URL: db.url, KB_RESULTS_TOPIC: results },
        "hopskotch-outbound": {
          KB_HOP_OUT_URL: `kafka://${brokers()}`,
          KB_HOP_OUT_TOPICS: `${RESULT_SUBJECTS.derivedTopicToken}=${results}`,
        },
      };
      if (TOGETHER) {
        const names = Object.keys(actorEnv);
        await spawn(
          "actors (one process)",
          ["actors/main.ts", names.join(",")],
          Object.assign({}, ...Object.values(actorEnv)),
          "", // the bench's private nats-server has no authentication: no identity needed
        );
      } else {
        for (const [name, env] of Object.entries(actorEnv)) {
          await spawn(name, ["actors/main.ts", name], env);
        }
      }
      reader = await derivedReader(results, firsts);
      const pids = new Map([...procs].map(([k, p]) => [k, p.child.pid]));
      pids.set("nats-server (bench's)", nats.pid);
      const mon = new ProcMonitor(pids);
      await spawn("inbound-gateway", ["gateway/hopskotch/inbound_main.ts"], {
        KB_HOP_IN_URL: `kafka://${brokers()}/${source}`,
        KB_HOP_IN_GROUP: `${group}-inbound`,
        KB_HOP_IN_START: "earliest",
      });
      pids.set("inbound-gateway", procs.get("inbound-gateway")!.child.pid);

      // 3. Sustained throughput: drain the backlog.
      say("draining the backlog");
      await mon.begin();
      const servers0 = await serverCpuS();
      const drainSwitches0 = await switchesOf(pids);
      const recordings = PROFILE && PROFILE_RATE === undefined ? await profileAll() : [];
      await waitFor(
        "the first alert on NATS",
        async () => (await progress(t)).inbound > 0,
        60_000,
        5,
      );
      const tStart = performance.now();
      const samples: { s: number; p: Record<string, number> }[] = [];
      await waitFor(
        "the backlog drained end to end",
        async () => {
          const p = await progress(t);
          samples.push({ s: (performance.now() - tStart) / 1000, p });
          return p.inbound >= BACKLOG && await drained(t, BACKLOG);
        },
        900_000,
        200,
      );
      const drainS = (performance.now() - tStart) / 1000;
      const throughput = BACKLOG / drainS;
      const tpProcs = await mon.end();
      const servers1 = await serverCpuS();
      const drainSwitches1 = await switchesOf(pids);
      const drainSwitchesPerAlert = deltaPer(drainSwitches0, drainSwitches1, BACKLOG);
      say(switchesLine("draining the backlog", drainSwitchesPerAlert));
      const serverMsPerAlert = {
        postgresql: (servers1.postgresql - servers0.postgresql) * 1000 / BACKLOG,
        kafka: (servers1.kafka - servers0.kafka) * 1000 / BACKLOG,
      };
      await reportProfiles(recordings, "");
      // CPU time per alert of each process while draining: what contention does not change
      // much, unlike rates on a shared machine.
      const cpuMsPerAlert = Object.fromEntries(
        Object.entries(tpProcs).map(([k, v]) => [k, (v.cpuPct / 100) * drainS * 1000 / BACKLOG]),
      );
      const cpuMsTotal = Object.values(cpuMsPerAlert).reduce((a, b) => a + b, 0);
      // Per stage: finished messages / time from the first sample to the stage's last increase.
      const stageRate = (k: string) => {
        const total = samples[samples.length - 1].p[k];
        const done = samples.find((x) => x.p[k] >= total);
        return total / Math.max(0.001, done?.s ?? drainS);
      };
      const stageNames = ["inbound", ...Object.keys(CONSUMER_OF)];
      const stages = Object.fromEntries(stageNames.map((k) => [k, stageRate(k)]));
      // Fastest 2 s of each stage: its capacity while it had work waiting.
      const peakRate = (k: string) => {
        let best = 0;
        for (let a = 0, b = 0; b < samples.length; b++) {
          while (samples[b].s - samples[a].s > 2) a++;
          if (samples[b].s - samples[a].s >= 1.5) {
            best = Math.max(
              best,
              (samples[b].p[k] - samples[a].p[k]) / (samples[b].s - samples[a].s),
            );
          }
        }
        return best;
      };
      const stagePeaks = Object.fromEntries(stageNames.map((k) => [k, peakRate(k)]));
      const timeline = samples.filter((_, i) => i % 5 === 0).map((x) => ({
        s: Math.round(x.s * 10) / 10,
        ...Object.fromEntries(stageNames.map((k) => [k, x.p[k]])),
      }));
      const results0 = samples[samples.length - 1].p[STREAMS.results.name];
      const out0 = samples[samples.length - 1].p[STREAMS.alertsOut.name];
      await waitFor("the backlog's derived alerts read", () => reader!.got.length >= out0, 60_000);
      const backlogDerived = reader.got.length;

      // 4. Fixed offered loads, each on a fresh part of the sky; the seed-style poller beside.
      const steps = [];
      let expectIn = BACKLOG;
      const queues = new QueueSampler(t);
      for (const [i, rate] of RATES.entries()) {
        const seconds = SECONDS[i] ?? SECONDS[SECONDS.length - 1];
        const n = Math.round(rate * seconds);
        say(`offered load ${rate}/s for ${seconds} s (${n} alerts)`);
        const alerts = await skyAlerts(n, 200 + i, `E2${i}${id}`);
        const mine = new Set(alerts.map((a) => `hop:${a.id}`));
        for (const a of alerts) if (a.first) firsts.add(`hop:${a.id}`);
        const before = reader.got.length;
        const poller = seedPoller(sql, POLL_S);
        const marks = await streamMarks(t);
        await sleep(200);
        await mon.begin();
        const cpu0 = await cpuOf(pids, dbName);
        const switches0 = await switchesOf(pids);
        const machine0 = await machineMark();
        queues.begin();
        const stepRecordings = PROFILE_RATE === rate ? await profileAll() : [];
        const sending = await produceAt(w, source, alerts, rate);
        const procStats = await mon.end();
        expectIn += n;
        await waitFor(`the ${rate}/s step drained`, () => drained(t, expectIn), 900_000, 200);
        const maxQueue = queues.end();
        await reportProfiles(stepRecordings, `-at-${rate}`);
        // CPU of the whole step (its drain included), per alert: what the step cost.
        const cpu1 = await cpuOf(pids, dbName);
        const switches1 = await switchesOf(pids);
        const machine1 = await machineMark();
        const switchesPerAlert = deltaPer(switches0, switches1, n);
        const stepCpuMs = Object.fromEntries(
          Object.entries(deltaPer(cpu0, cpu1, n)).map(([k, sec]) => [k, sec * 1000]),
        );
        const stepCpuTotal = Object.values(stepCpuMs).reduce((a, b) => a + b, 0);
        say(
          `CPU per alert at ${rate}/s, produce to drained: ${stepCpuTotal.toFixed(2)} ms (${
            Object.entries(stepCpuMs).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")
          })`,
        );
        say(switchesLine(`at ${rate}/s`, switchesPerAlert));
        const machine = machineWindow(
          machine0,
          machine1,
          sumOf(stepCpuMs, pids.keys()) * n / 1000,
          n,
        );
        // Produce → drained, less the producing: how far the pipeline fell behind the offer.
        const drainLagS = machine.seconds - sending.seconds;
        say(machineLine(`at ${rate}/s, produce to drained`, machine));
        say(
          `${rate}/s: produced in ${sending.seconds.toFixed(1)} s, drained ${
            drainLagS.toFixed(1)
          } s after the last alert (the pipeline kept ${
            Math.round(n / machine.seconds)
          } alerts/s against ${Math.round(n / sending.seconds)} offered)`,
        );
        const outNow = (await progress(t))[STREAMS.alertsOut.name];
        await waitFor("its derived alerts read", () => reader!.got.length >= outNow, 60_000);
        // One more poll so that every alert of the step is seen by the seed-style loop.
        await sleep(POLL_S * 1000 + 500);
        await poller.stop();
        const got = reader.got.slice(before).filter((d) => mine.has(d.trigger));
        const budget = await stageBudget(
          t,
          sql,
          marks,
          sentAt,
          got.filter((d) => d.firstOfCandidate),
          firsts,
        );
        for (const line of formatBudget(rate, budget)) say(line);
        steps.push({
          rate,
          seconds,
          alerts: n,
          newCandidates: alerts.filter((a) => a.first).length,
          offeredRate: n / sending.seconds,
          producerMaxLagMs: sending.maxLagMs,
          maxQueue,
          firstDerived: pct(got.filter((d) => d.firstOfCandidate).map((d) => d.latencyMs)),
          allDerived: pct(got.map((d) => d.latencyMs)),
          seed: pct(poller.lat.filter((x) => Number.isFinite(x))),
          procs: procStats,
          budget,
          cpuMsPerAlert: stepCpuMs,
          cpuMsPerAlertTotal: stepCpuTotal,
          switchesPerAlert,
          machine,
          drainLagS,
        });
      }
      // 5. Idle: everything drained, nothing offered (the seed-style poller stopped). A broker
      // waits most of the time between bursts: what its processes cost then, and how often they
      // wake (each wake-up also costs the machine a context switch).
      say(`idle for ${IDLE_S} s`);
      const idleCpu0 = await cpuOf(pids, dbName);
      const idleSwitches0 = await switchesOf(pids);
      const idleAt0 = performance.now();
      await sleep(IDLE_S * 1000);
      const idleSeconds = (performance.now() - idleAt0) / 1000;
      const idleCpuMsPerS = Object.fromEntries(
        Object.entries(deltaPer(idleCpu0, await cpuOf(pids, dbName), idleSeconds)).map((
          [k, sec],
        ) => [k, sec * 1000]),
      );
      const idleWakesPerS = deltaPer(idleSwitches0, await switchesOf(pids), idleSeconds);
      const idlePipelineMsPerS = sumOf(idleCpuMsPerS, pids.keys());
      say(
        `idle: ${idlePipelineMsPerS.toFixed(1)} ms of CPU a second in the pipeline's processes (${
          [...pids.keys()].map((k) =>
            `${k} ${idleCpuMsPerS[k]?.toFixed(1)} ms/s, ${idleWakesPerS[k]?.toFixed(0)} wake-ups/s`
          ).join("; ")
        }); machine ${idleWakesPerS.machine.toFixed(0)} context switches/s`,
      );
      const peaks = mon.peaks();
      const privatePeaks = mon.privatePeaks();
      const stored = (await sql`select count(*)::int as n from alerts`)[0].n as number;
      await w.close();

      // 5. The table.
      const rows: BenchRow[] = [
        {
          metric: `end to end sustained throughput (backlog of ${BACKLOG.toLocaleString("en-US")})`,
          value: throughput,
          unit: "alerts/s",
          ceiling: passRate,
          ceilingSource:
            "kafkajs Kafka → Kafka pass-through (consume + produce acks=all), same run",
          target: "≥ 20,000 alerts/s and ≥ 50% of ceiling",
          met: throughput >= 20_000 && throughput >= 0.5 * passRate,
          note: `${(100 * throughput / passRate).toFixed(0)}% of ceiling; fastest 2 s per stage ` +
            `(msgs/s): ${
              Object.entries(stagePeaks).map(([k, v]) => `${k} ${Math.round(v)}`).join(", ")
            }; ${results0} results, ${out0} derived alerts`,
        },
        {
          metric: "CPU per alert, every pipeline process + the bench's nats-server (backlog)",
          value: cpuMsTotal,
          unit: "ms",
          note: `${
            Object.entries(cpuMsPerAlert).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")
          }; 2 idle cores would bound the pipeline at ${
            Math.round(2000 / cpuMsTotal)
          } alerts/s without the servers below`,
        },
        {
          metric: "CPU per alert, the same plus PostgreSQL and the Kafka broker (backlog)",
          value: cpuMsTotal + serverMsPerAlert.postgresql + serverMsPerAlert.kafka,
          unit: "ms",
          note:
            `PostgreSQL (every server process) ${
              serverMsPerAlert.postgresql.toFixed(2)
            }, Kafka broker ${serverMsPerAlert.kafka.toFixed(2)}: the whole machine's work per ` +
            `alert; 2 idle cores bound the pipeline at ${
              Math.round(
                2000 / (cpuMsTotal + serverMsPerAlert.postgresql + serverMsPerAlert.kafka),
              )
            } alerts/s`,
        },
        {
          metric: "raw Kafka → Kafka pass-through, kafkajs (ceiling)",
          value: passRate,
          unit: "records/s",
          note: `${passed.machineMs.toFixed(3)} ms of the whole machine's CPU per record`,
        },
        {
          metric:
            "floor: Kafka pass-through + the archive's insert alone, whole machine CPU per alert",
          value: floorMs,
          unit: "ms",
          target: `≤ ${(navigator.hardwareConcurrency * 1000 / 20_000).toFixed(2)} ms ` +
            `(20,000 alerts/s on ${navigator.hardwareConcurrency} cores)`,
          met: floorRate >= 20_000,
          note:
            `pass-through ${passed.machineMs.toFixed(3)} + archive insert ${
              archived.machineMs.toFixed(3)
            } ms (${Math.round(archived.rate)} alerts/s alone, ${
              archived.rowsPerAlert.toFixed(1)
            } photometry rows each): no pipeline that reads each alert from Kafka, archives it and ` +
            `writes back to Kafka passes ${
              Math.round(floorRate)
            } alerts/s on this machine, even with NATS, classification and publishing free; ` +
            `storing only each record's bytes (${archived.raw.machineMs.toFixed(3)} ms, ${
              Math.round(archived.raw.rate)
            } alerts/s alone), ${Math.round(rawFloorRate)}`,
        },
        ...floorSteps.map((f): BenchRow => ({
          metric: `floor pipeline at ${f.rate}/s (Kafka → one row of bytes → Kafka, one ` +
            `process), p50`,
          value: f.latency.p50,
          unit: "ms",
          note: `p95 ${f.latency.p95}, p99 ${f.latency.p99} ms over ${f.latency.n} records ` +
            `(offered ${Math.round(f.offeredRate)}/s); ${f.coresBusy.toFixed(2)} of ` +
            `${navigator.hardwareConcurrency} cores busy, ${
              f.machineMs.toFixed(2)
            } ms of the machine's CPU per alert (the floor process ${f.processMs.toFixed(2)})`,
        })),
        {
          metric: "nats bench js pub async / js consume, 1 KB (bench's nats-server)",
          value: nb.consume,
          unit: "msgs/s",
          note: `publish ${Math.round(nb.pub).toLocaleString("en-US")} msgs/s`,
        },
      ];
      for (const s of steps) {
        const at1000 = s.rate === 1000;
        rows.push(
          {
            metric: `latency at ${s.rate}/s, first derived alert of each new candidate, p50`,
            value: s.firstDerived.p50,
            unit: "ms",
            target: at1000 ? "< 20 ms" : undefined,
            met: at1000 ? s.firstDerived.p50 < 20 : undefined,
            note: `p95 ${s.firstDerived.p95} ms; ${s.firstDerived.n} candidates; offered ${
              Math.round(s.offeredRate)
            }/s`,
          },
          {
            metric: `latency at ${s.rate}/s, first derived alert of each new candidate, p99`,
            value: s.firstDerived.p99,
            unit: "ms",
            target: at1000 ? "< 100 ms" : undefined,
            met: at1000 ? s.firstDerived.p99 < 100 : undefined,
          },
          {
            metric: `latency at ${s.rate}/s, every derived alert, p50 / p99`,
            value: s.allDerived.p50,
            unit: "ms",
            note: `p95 ${s.allDerived.p95}, p99 ${s.allDerived.p99} ms; ${s.allDerived.n} ` +
              `derived alerts from ${s.alerts} alerts; largest queue per stage: ${
                Object.entries(s.maxQueue).map(([k, v]) => `${k} ${v}`).join(", ")
              }`,
          },
          {
            metric: `seed-style baseline at ${s.rate}/s: poll the archive every ${POLL_S} s, p50`,
            value: s.seed.p50,
            unit: "ms",
            note: `p99 ${s.seed.p99} ms; ${s.seed.n} alerts; time to notice only`,
          },
          {
            metric: `whole machine at ${s.rate}/s, produce to drained: cores busy`,
            value: s.machine.coresBusy,
            unit: `of ${s.machine.cores} cores`,
            note: `${s.machine.msPerAlert.machine.toFixed(2)} ms of CPU per alert: ${
              Object.entries(s.machine.msPerAlert).filter(([k]) => k !== "machine")
                .map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")
            }; steal ${s.machine.stealPct.toFixed(1)}%; drained ${
              s.drainLagS.toFixed(1)
            } s after the last alert was produced`,
          },
        );
      }
      rows.push({
        metric: "idle pipeline: CPU of its processes and the bench's nats-server",
        value: idlePipelineMsPerS,
        unit: "ms/s",
        note: `over ${idleSeconds.toFixed(1)} s with nothing offered; main-thread wake-ups a ` +
          `second: ${
            [...pids.keys()].map((k) => `${k} ${idleWakesPerS[k]?.toFixed(0)}`).join(", ")
          }; machine ${idleWakesPerS.machine.toFixed(0)} context switches/s`,
      });
      const peakRows = Object.entries(peaks).filter(([k]) => !k.startsWith("nats-server"));
      for (const [name, mib] of peakRows) {
        const cpu = steps.find((s) => s.rate === 1000)?.procs[name]?.cpuPct;
        rows.push({
          metric: `${name}: peak RSS (VmHWM)`,
          value: mib,
          unit: "MiB",
          target: "< 100 MiB",
          met: mib < 100,
          note:
            `${rssAtReady[name]?.toFixed(0)} MiB when ready (${
              privateAtReady[name]?.toFixed(0)
            } private); private (anonymous) memory, largest sampled: ${
              privatePeaks[name]?.toFixed(0)
            } MiB, the rest is the deno binary's shared code pages; CPU ${
              tpProcs[name]?.cpuPct.toFixed(0)
            }% of a core draining the backlog` +
            (cpu === undefined ? "" : `, ${cpu.toFixed(0)}% at 1,000/s`),
        });
      }
      return {
        rows,
        details: {
          backlog: BACKLOG,
          drainSeconds: drainS,
          throughput,
          passThrough: passRate,
          floor: {
            passThroughMachineMs: passed.machineMs,
            archiveMachineMs: archived.machineMs,
            archiveRate: archived.rate,
            archiveRowsPerAlert: archived.rowsPerAlert,
            machineMs: floorMs,
            rate: floorRate,
            rawArchiveMachineMs: archived.raw.machineMs,
            rawArchiveRate: archived.raw.rate,
            rawRate: rawFloorRate,
            pipeline: floorSteps,
          },
          natsBench: nb,
          stages,
          stagePeaks,
          timeline,
          rssAtReadyMiB: rssAtReady,
          privateAtReadyMiB: privateAtReady,
          v8Flags: V8_FLAGS ?? "none",
          backlogResults: results0,
          backlogDerived,
          unknownDerived: reader.unknown(),
          stored,
          steps,
          drainProcs: tpProcs,
          drainSwitchesPerAlert,
          idle: {
            seconds: idleSeconds,
            cpuMsPerS: idleCpuMsPerS,
            wakesPerS: idleWakesPerS,
            pipelineMsPerS: idlePipelineMsPerS,
          },
          cpuMsPerAlert,
          serverMsPerAlert,
          cpuMsTotal,
          peakRssMiB: peaks,
          peakPrivateMiB: privatePeaks,
          // The knobs this run was given (none: a run with the bench's defaults, the only kind
          // bench/report.ts puts in the docs' tables).
          knobs: benchKnobs(Deno.env.toObject(), "KB_BENCH_E2E_"),
          latencyDefinition:
            "Kafka CreateTime of the derived alert − produce time of its last input alert " +
            "(data.inputs[-1], the alert whose classification triggered it)",
          topics: { source, results, pass, floorIn, floorOut },
          loadAverage: Deno.loadavg(),
        },
      };
    } finally {
      await reader?.stop().catch(() => {});
      for (const [name, p] of [...procs].reverse()) {
        try {
          p.kill("SIGTERM");
        } catch { /* gone */ }
        const st = await Promise.race([p.status, sleep(15_000).then(() => undefined)]);
        if (!st) {
          say(`${name} did not stop on SIGTERM within 15 s; killing it`);
          p.kill("SIGKILL");
          await p.status;
        }
      }
      await t.close().catch(() => {});
      await nats.stop();
      restoreEnv();
      await sql.end();
      await db.drop().catch((err) => say(`dropping the bench database: ${err}`));
      await kafkaAdmin((a) => a.deleteTopics({ topics })).catch((err) =>
        say(`deleting the bench topics: ${err}`)
      );
    }
  },
};
