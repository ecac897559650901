/**
 * CPU profiles of running Deno processes, taken through the V8 inspector
 * (Deno has no `--cpu-prof`): start the process with `--inspect=127.0.0.1:<port>`
 * ({@link inspectFlag}), then {@link startCpuProfile} and, later, `stop()` it.
 * The profile is the Chrome DevTools `.cpuprofile` format (open it in Chrome's
 * Performance panel or speedscope); {@link summarizeProfile} gives the
 * functions with the most self time, which is what a bench wants to print.
 *
 * Used by `bench/e2e.ts` with `KB_BENCH_E2E_PROFILE=1` to say where each
 * pipeline process spends its CPU while draining the backlog.
 *
 * @module
 */

/** The `deno run` flag that opens the inspector on `port` without waiting for a debugger. */
export function inspectFlag(port: number): string {
  return `--inspect=127.0.0.1:${port}`;
}

/** A V8 CPU profile (the DevTools `Profiler.Profile`). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A profile being recorded. */
export interface Recording {
  /** Stops recording and returns the profile. */
  stop(): Promise<CpuProfile>;
}

async function inspectorUrl(port: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json/list`);
      const targets = await res.json() as { webSocketDebuggerUrl?: string }[];
      const url = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
      if (url) return url;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(
          `no V8 inspector on 127.0.0.1:${port} (${err}): start the process with ${
            inspectFlag(port)
          }`,
        );
      }
    }
    if (Date.now() > deadline) throw new Error(`the inspector on port ${port} lists no target`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a CPU profile of the process whose inspector listens on `port`. */
export async function startCpuProfile(
  port: number,
  options: { samplingIntervalUs?: number; timeoutMs?: number } = {},
): Promise<Recording> {
  const ws = new WebSocket(await inspectorUrl(port, options.timeoutMs ?? 10_000));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error(`inspector websocket on port ${port}: ${e}`));
  });
  let next = 1;
  const pending = new Map<number, (r: { result?: unknown; error?: unknown }) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data));
    if (m.id !== undefined) pending.get(m.id)?.(m);
  };
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = next++;
      pending.set(id, (m) => {
        pending.delete(id);
        if (m.error) reject(new Error(`${method}: ${JSON.stringify(m.error)}`));
        else resolve(m.result);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: options.samplingIntervalUs ?? 500 });
  await call("Profiler.start");
  return {
    async stop() {
      const { profile } = await call("Profiler.stop") as { profile: CpuProfile };
      ws.close();
      return profile;
    },
  };
}

/** One line of a profile summary. */
export interface HotFunction {
  /** `function (file:line)`; `(program)`, `(garbage collector)` and `(idle)` are V8's own. */
  readonly name: string;
  /** Self time, ms. */
  readonly selfMs: number;
  /** Share of the non-idle time, %. */
  readonly pct: number;
}

/** The functions with the most self time (idle excluded from the shares). */
export function summarizeProfile(p: CpuProfile, top = 20): {
  busyMs: number;
  idleMs: number;
  hot: HotFunction[];
} {
  const byNode = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byNode.get(p.samples[i]);
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    if (!n) continue;
    const f = n.callFrame;
    if (f.functionName === "(idle)") {
      idle += dt;
      continue;
    }
    busy += dt;
    const file = f.url ? f.url.replace(/^.*\/(node_modules\/\.deno\/|work\/[^/]+\/)?/, "") : "";
    const name = `${f.functionName || "(anonymous)"}${
      file ? ` (${file}:${f.lineNumber + 1})` : ""
    }`;
    self.set(name, (self.get(name) ?? 0) + dt);
  }
  const hot = [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, ms]) => ({
    name,
    selfMs: ms,
    pct: busy ? (100 * ms) / busy : 0,
  }));
  return { busyMs: busy, idleMs: idle, hot };
}

/** Same, grouped by file (which library or module the time goes to). */
export function summarizeByFile(p: CpuProfile, top = 15): HotFunction[] {
  const byNode = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byNode.get(p.samples[i]);
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    if (!n || n.callFrame.functionName === "(idle)") continue;
    busy += dt;
    const url = n.callFrame.url;
    const m = /node_modules\/\.deno\/([^/]+)\//.exec(url);
    const key = m
      ? `npm:${m[1].replace(/@[\d.]+.*$/, "")}`
      : url
      ? url.replace(/^file:\/\/\/work\/[^/]+\//, "").replace(/^ext:/, "ext:")
      : n.callFrame.functionName;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, ms]) => ({
    name,
    selfMs: ms,
    pct: busy ? (100 * ms) / busy : 0,
  }));
}
