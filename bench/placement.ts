/**
 * CPU placement of a benchmark's processes (`taskset`, util-linux): the
 * server measured on core 0, its database and the load generator on the other
 * cores — as deployed, where PostgreSQL is another machine or pod and the
 * clients are elsewhere, and as web-framework benchmarks separate the
 * application, database and load-generator machines. On the two cores of this
 * project's machines, leaving every process free to run anywhere makes the
 * server's one JavaScript thread wait behind the database backends and the
 * load generator it woke; that is a property of the shared test machine, so
 * the TOM bench measures both placements side by side (docs/tom.md,
 * "Benchmark").
 *
 * @module
 */
import type { Sql } from "../db/connect.ts";
import { procStatFields } from "./proc.ts";

/** The command that pins processes, or undefined when this machine cannot (no taskset, 1 core). */
export async function pinCommand(): Promise<string | undefined> {
  if (navigator.hardwareConcurrency < 2) return undefined;
  for (const p of ["/usr/bin/taskset", "/bin/taskset"]) {
    try {
      await Deno.stat(p);
      return p;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return undefined;
}

/** Every CPU of this machine, as taskset writes a list (`0-1`). */
export function allCpus(): string {
  return `0-${navigator.hardwareConcurrency - 1}`;
}

/** The CPUs but core 0 (`1` on two cores, `1-3` on four). */
export function otherCpus(): string {
  const n = navigator.hardwareConcurrency;
  return n === 2 ? "1" : `1-${n - 1}`;
}

/** The parent pid of process `pid`, from `/proc/<pid>/stat` (field 4). */
export async function parentPid(pid: number): Promise<number> {
  return Number((await procStatFields(pid))[1]);
}

/** The pids whose parent is `pid`, now. */
export async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (await parentPid(Number(e.name)) === pid) out.push(Number(e.name));
    } catch (err) {
      // A process that ended between the listing and the read.
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return out;
}

/**
 * The local PostgreSQL server's processes: its postmaster (the parent of
 * `sql`'s backend) and everything it forked now (backends, checkpointer, WAL
 * writer …). Backends forked later inherit the postmaster's placement.
 */
export async function postgresPids(sql: Sql): Promise<number[]> {
  const [{ pid }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const postmaster = await parentPid(pid);
  return [postmaster, ...await childPids(postmaster)];
}

/**
 * Lets every thread of each process of `pids` run on `cpus` only (a taskset
 * list such as `0` or `1-3`). A process that ended meanwhile is left out;
 * anything else taskset refuses is an error saying so.
 */
export async function pin(taskset: string, pids: readonly number[], cpus: string): Promise<void> {
  for (const pid of pids) {
    const out = await new Deno.Command(taskset, {
      args: ["-a", "-p", "-c", cpus, String(pid)],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.success) continue;
    const err = new TextDecoder().decode(out.stderr).trim();
    try {
      await Deno.stat(`/proc/${pid}`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue; // ended: nothing to place
      throw e;
    }
    throw new Error(`taskset could not place process ${pid} on CPUs ${cpus}: ${err}`);
  }
}

/** A taskset CPU list (`0`, `0,1`, `0-3,6`) as the CPU numbers it names, ascending. */
export function parseCpus(list: string): number[] {
  const out = new Set<number>();
  for (const part of list.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`"${list}" is not a CPU list (write e.g. 0, 0,1 or 0-3)`);
    for (let c = Number(m[1]); c <= Number(m[2] ?? m[1]); c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

/** The CPUs process `pid`'s main thread may run on. */
export async function cpusOf(taskset: string, pid: number): Promise<number[]> {
  const out = await new Deno.Command(taskset, { args: ["-c", "-p", String(pid)] }).output();
  if (!out.success) {
    throw new Error(
      `taskset could not read process ${pid}'s CPUs: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return parseCpus(new TextDecoder().decode(out.stdout).trim().split(": ").at(-1)!);
}
