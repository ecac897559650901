/**
 * The process's memory as the kernel counts it, for the "host ready" log line:
 * what a replica holds before its first message (docs/performance.md, "Memory").
 *
 * @module
 */

const MIB = 1024 * 1024;

/** Resident memory in MiB: all of it, and the private (anonymous) part when the kernel says. */
export interface MemoryNow {
  /** VmRSS: every resident page, the deno binary's shared code pages included. */
  readonly rssMiB: number;
  /** RssAnon: private memory (heap, stacks); undefined where `/proc/self/status` is not. */
  readonly privateMiB?: number;
}

/**
 * The `key: value` lines of a `/proc/<pid>/status` text (memory, context switches, ...),
 * values as written (e.g. `"1234 kB"`).
 */
export function parseProcStatus(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}

/** A `… kB` value of {@link parseProcStatus} in bytes (`VmRSS`, `VmHWM`, `RssAnon`); NaN when absent. */
export function statusBytes(status: Map<string, string>, key: string): number {
  const m = /^(\d+) kB$/.exec(status.get(key) ?? "");
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Reads `/proc/self/status` (Linux); elsewhere `Deno.memoryUsage().rss` alone. */
export function memoryNow(): MemoryNow {
  let status = new Map<string, string>();
  try {
    status = parseProcStatus(Deno.readTextFileSync("/proc/self/status"));
  } catch (err) {
    // No /proc (not Linux), or a process run without read permission: the RSS alone.
    if (
      !(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied ||
        err instanceof Deno.errors.NotCapable)
    ) throw err;
  }
  const round = (b: number) => Math.round(b / MIB * 10) / 10;
  const rss = statusBytes(status, "VmRSS");
  const anon = statusBytes(status, "RssAnon");
  const rssMiB = round(Number.isNaN(rss) ? Deno.memoryUsage().rss : rss);
  return Number.isNaN(anon) ? { rssMiB } : { rssMiB, privateMiB: round(anon) };
}
