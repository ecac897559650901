/**
 * CPU time of processes on this machine, read from `/proc/<pid>/stat`: a
 * benchmarked process and the PostgreSQL backends serving a database (the
 * local server runs here). One reader for the benches that charge CPU to the
 * processes doing the work.
 *
 * @module
 */
import type { Sql } from "../db/connect.ts";
import { parseProcStatus, statusBytes } from "../actors/runtime/memory.ts";

export { statusBytes };

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
  return fieldsAfterName(await Deno.readTextFile(`/proc/${pid}/stat`));
}

/** A `/proc/<pid>/stat` line's fields after the command name (see {@link procStatFields}). */
export function fieldsAfterName(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** utime and stime (fields 14 and 15) of {@link procStatFields}' fields, in seconds. */
export function cpuTimesOf(f: readonly string[]): CpuTimes {
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
}

/**
 * cutime and cstime (fields 16 and 17) of {@link procStatFields}' fields, in seconds: what the
 * process's children that ended and were waited for used (a PostgreSQL postmaster's ended
 * backends, for one).
 */
export function childCpuTimesOf(f: readonly string[]): CpuTimes {
  return { user: Number(f[13]) / CLK_TCK, sys: Number(f[14]) / CLK_TCK };
}

/**
 * {@link procCpuTimes}, read synchronously (for a bench timing a loop of its own); `"self"` is
 * this process.
 */
export function procCpuTimesSync(pid: number | "self"): CpuTimes {
  return cpuTimesOf(fieldsAfterName(Deno.readTextFileSync(`/proc/${pid}/stat`)));
}

/** The CPU seconds process `pid` has used so far; throws `Deno.errors.NotFound` once it ended. */
export async function procCpuTimes(pid: number): Promise<CpuTimes> {
  return cpuTimesOf(await procStatFields(pid));
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
 * written (e.g. `"1234 kB"`); read them with {@link statusBytes}. Throws
 * `Deno.errors.NotFound` once the process ended.
 */
export async function procStatus(pid: number): Promise<Map<string, string>> {
  return parseProcStatus(await Deno.readTextFile(`/proc/${pid}/status`));
}

/** Context switches of the whole machine since boot (`ctxt` of `/proc/stat`): every process. */
export async function machineContextSwitches(): Promise<number> {
  const m = /^ctxt (\d+)$/m.exec(await Deno.readTextFile("/proc/stat"));
  if (!m) throw new Error("/proc/stat has no ctxt line: is this Linux?");
  return Number(m[1]);
}

/**
 * The whole machine's CPU time since boot, in seconds summed over every core (the `cpu` line of
 * `/proc/stat`): `busy` is user + nice + system + irq + softirq (work done), `idle` is idle +
 * iowait, `steal` the time the hypervisor ran something else while this machine's cores had
 * work (counted apart: neither done here nor idle).
 */
export interface MachineCpu {
  readonly busy: number;
  readonly idle: number;
  readonly steal: number;
}

/** {@link MachineCpu} from the text of `/proc/stat`. */
export function parseMachineCpu(procStat: string): MachineCpu {
  const m = /^cpu ((?: +\d+)+)$/m.exec(procStat);
  if (!m) throw new Error("/proc/stat has no aggregate cpu line: is this Linux?");
  // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
  const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = m[1].trim().split(/ +/)
    .map(Number);
  return {
    busy: (user + nice + system + irq + softirq) / CLK_TCK,
    idle: (idle + iowait) / CLK_TCK,
    steal: steal / CLK_TCK,
  };
}

/** The whole machine's CPU time so far ({@link parseMachineCpu} of `/proc/stat`). */
export async function machineCpu(): Promise<MachineCpu> {
  return parseMachineCpu(await Deno.readTextFile("/proc/stat"));
}
