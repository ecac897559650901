/**
 * CPU time of processes on this machine, read from `/proc/<pid>/stat`: a
 * benchmarked process and the PostgreSQL backends serving a database (the
 * local server runs here). One reader for the benches that charge CPU to the
 * processes doing the work.
 *
 * @module
 */
import type { Sql } from "../db/connect.ts";

/** Clock ticks per second of `/proc`'s times (`getconf CLK_TCK`: 100 on Linux). */
const CLK_TCK = 100;

/** CPU seconds a process has used so far (every thread): user and system (kernel) time. */
export interface CpuTimes {
  readonly user: number;
  readonly sys: number;
}

/**
 * The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
 * parentheses): `[0]` is field 3 (state), `[1]` field 4 (parent pid), `[11]` and `[12]`
 * fields 14 and 15 (utime, stime). Throws `Deno.errors.NotFound` once the process ended.
 */
export async function procStatFields(pid: number): Promise<string[]> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** {@link procStatFields}, read synchronously (for a bench timing a loop of its own). */
export function procStatFieldsSync(pid: number | "self"): string[] {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** {@link procCpuTimes}, read synchronously; `"self"` is this process. */
export function procCpuTimesSync(pid: number | "self"): CpuTimes {
  const f = procStatFieldsSync(pid);
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
}

/** The CPU seconds process `pid` has used so far; throws `Deno.errors.NotFound` once it ended. */
export async function procCpuTimes(pid: number): Promise<CpuTimes> {
  const f = await procStatFields(pid);
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
}

/**
 * CPU seconds used so far by each PostgreSQL backend serving `database` (the
 * current database of `sql` when not given), by pid. A backend that ended
 * between the query and the read, or that this user may not read, is left out.
 */
export async function backendCpuTimes(sql: Sql, database?: string): Promise<Map<number, CpuTimes>> {
  const rows = database === undefined
    ? await sql<{ pid: number }[]>`select pid from pg_stat_activity
        where datname = current_database()`
    : await sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${database}`;
  const out = new Map<number, CpuTimes>();
  for (const { pid } of rows) {
    try {
      out.set(pid, await procCpuTimes(pid));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied)) {
        throw err;
      }
    }
  }
  return out;
}

/**
 * The `key: value` lines of `/proc/<pid>/status` (memory, context switches, ...), values as
 * written (e.g. `"1234 kB"`). Throws `Deno.errors.NotFound` once the process ended.
 */
export async function procStatus(pid: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await Deno.readTextFile(`/proc/${pid}/status`)).split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}

/** A `… kB` value of {@link procStatus} in bytes (`VmRSS`, `VmHWM`, `RssAnon`); NaN when absent. */
export function statusBytes(status: Map<string, string>, key: string): number {
  const m = /^(\d+) kB$/.exec(status.get(key) ?? "");
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Context switches of the whole machine since boot (`ctxt` of `/proc/stat`): every process. */
export async function machineContextSwitches(): Promise<number> {
  const m = /^ctxt (\d+)$/m.exec(await Deno.readTextFile("/proc/stat"));
  if (!m) throw new Error("/proc/stat has no ctxt line: is this Linux?");
  return Number(m[1]);
}
