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

/** Reads `/proc/self/status` (Linux); elsewhere `Deno.memoryUsage().rss` alone. */
export function memoryNow(): MemoryNow {
  let status: string | undefined;
  try {
    status = Deno.readTextFileSync("/proc/self/status");
  } catch (err) {
    // No /proc (not Linux), or a process run without read permission: the RSS alone.
    if (
      !(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied ||
        err instanceof Deno.errors.NotCapable)
    ) throw err;
  }
  const kb = (k: string) => {
    const m = status ? new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status) : null;
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const round = (b: number) => Math.round(b / MIB * 10) / 10;
  const rss = kb("VmRSS") ?? Deno.memoryUsage().rss;
  const anon = kb("RssAnon");
  return anon === undefined
    ? { rssMiB: round(rss) }
    : { rssMiB: round(rss), privateMiB: round(anon) };
}
