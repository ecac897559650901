/**
 * `./kb run -A bench/threads.ts <seconds> [alerts]`: which threads of the whole machine wake and
 * work, over a window (e.g. while `deno task bench e2e` offers a load in another terminal). Reads
 * every `/proc/<pid>/task/<tid>` at the start and the end of the window and prints, per process
 * and per thread (numbers in thread names folded: `V8 DefaultWorker`), the context switches
 * (voluntary: it slept and was woken; the rest: preempted) and the CPU time, per `alerts` when
 * given (the alerts offered in the window), else per second. Processes are named by their command;
 * a Deno process by its script and arguments, a Java one as the Kafka broker or Keycloak.
 *
 * @module
 */
import { cpuTimesOf, fieldsAfterName, machineContextSwitches } from "./proc.ts";
import { parseProcStatus } from "../actors/runtime/memory.ts";

/** One thread's counters. */
export interface ThreadSample {
  readonly process: string;
  readonly thread: string;
  readonly voluntary: number;
  readonly involuntary: number;
  /** CPU seconds (user + system). */
  readonly cpu: number;
}

/** A process's name for the tables: its command, or what a Deno or Java process runs. */
export function processLabel(comm: string, cmdline: readonly string[]): string {
  if (comm === "deno") {
    const args = cmdline.slice(1).filter((a) => !a.startsWith("-") && a !== "run");
    return `deno ${args.join(" ")}`.slice(0, 60).trim();
  }
  if (comm === "java") {
    if (cmdline.some((a) => a.includes("keycloak"))) return "java (Keycloak)";
    if (cmdline.some((a) => a.includes("kafka"))) return "java (Kafka broker)";
  }
  return comm;
}

/**
 * Every thread of the machine now, by `pid/tid` (threads that end meanwhile are left out). Read
 * synchronously: asynchronous reads go through Deno's thread pool, and those wake-ups would count.
 */
export function sampleThreads(): Map<string, ThreadSample> {
  const out = new Map<string, ThreadSample>();
  for (const p of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(p.name)) continue;
    try {
      const comm = (Deno.readTextFileSync(`/proc/${p.name}/comm`)).trim();
      const cmdline = (Deno.readTextFileSync(`/proc/${p.name}/cmdline`)).split("\0");
      const process = processLabel(comm, cmdline);
      for (const t of Deno.readDirSync(`/proc/${p.name}/task`)) {
        const dir = `/proc/${p.name}/task/${t.name}`;
        const status = parseProcStatus(Deno.readTextFileSync(`${dir}/status`));
        // The task's own stat: /proc/<tid>/stat of a thread would give its whole process's times.
        const cpu = cpuTimesOf(fieldsAfterName(Deno.readTextFileSync(`${dir}/stat`)));
        out.set(`${p.name}/${t.name}`, {
          process,
          thread: (Deno.readTextFileSync(`${dir}/comm`)).trim().replace(/\d+/g, "#"),
          voluntary: Number(status.get("voluntary_ctxt_switches")),
          involuntary: Number(status.get("nonvoluntary_ctxt_switches")),
          cpu: cpu.user + cpu.sys,
        });
      }
    } catch (err) {
      // A process or thread that ended between the listing and the read.
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return out;
}

/** One row of {@link diffThreads}: counters' growth from the first sample to the second. */
export interface ThreadRow {
  readonly name: string;
  readonly switches: number;
  readonly voluntary: number;
  readonly cpu: number;
}

/**
 * Growth of every thread's counters from `a` to `b` (a thread new in `b` counts from 0), summed
 * by `key` (e.g. the process, or process and thread), largest number of switches first.
 */
export function diffThreads(
  a: Map<string, ThreadSample>,
  b: Map<string, ThreadSample>,
  key: (s: ThreadSample) => string,
): ThreadRow[] {
  const rows = new Map<string, { switches: number; voluntary: number; cpu: number }>();
  for (const [id, s] of b) {
    const before = a.get(id);
    const r = rows.get(key(s)) ?? { switches: 0, voluntary: 0, cpu: 0 };
    const v = s.voluntary - (before?.voluntary ?? 0);
    r.voluntary += v;
    r.switches += v + s.involuntary - (before?.involuntary ?? 0);
    r.cpu += s.cpu - (before?.cpu ?? 0);
    rows.set(key(s), r);
  }
  return [...rows].map(([name, r]) => ({ name, ...r })).sort((x, y) => y.switches - x.switches);
}

if (import.meta.main) {
  const seconds = Number(Deno.args[0]);
  const alerts = Deno.args[1] === undefined ? undefined : Number(Deno.args[1]);
  if (!(seconds > 0) || (alerts !== undefined && !(alerts > 0))) {
    console.error("usage: bench/threads.ts <seconds> [alerts offered in the window]");
    Deno.exit(2);
  }
  const per = alerts ?? seconds;
  const unit = alerts === undefined ? "a second" : "per alert";
  const a = sampleThreads();
  const c0 = await machineContextSwitches();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = sampleThreads();
  const c1 = await machineContextSwitches();
  console.log(`machine: ${((c1 - c0) / per).toFixed(1)} context switches ${unit}`);
  const print = (title: string, rows: ThreadRow[], n: number) => {
    console.log(`\n${title} (context switches, of which voluntary; CPU ms ${unit})`);
    for (const r of rows.slice(0, n)) {
      console.log(
        `${(r.switches / per).toFixed(2).padStart(9)} ${
          (r.voluntary / per).toFixed(2).padStart(9)
        } ${(r.cpu * 1000 / per).toFixed(3).padStart(9)}  ${r.name}`,
      );
    }
  };
  print("by process", diffThreads(a, b, (s) => s.process), 15);
  print("by thread", diffThreads(a, b, (s) => `${s.process} / ${s.thread}`), 25);
}
