/**
 * A TOM process serving HTTP on more than one thread (`KB_TOM_WORKERS`): the
 * first thread is the whole TOM ({@link startTom}: migrations, broker module,
 * reconciliation, the listener of target changes, HTTP); each further thread is
 * a Web Worker running the API and web pages only (serve_thread.ts) on the
 * same port, the kernel spreading connections over the listening sockets
 * (`SO_REUSEPORT`, Linux; Deno needs `--unstable-net` for it).
 *
 * Why threads: one TOM thread tops out near one core (docs/tom.md, "Speed");
 * threads of one process share what replicas could not — the list cache's
 * generation counter is one `SharedArrayBuffer`, so a write through any
 * thread empties every thread's cache before it answers (read-your-writes
 * holds across threads as it did with one), and one LISTEN connection serves
 * them all. What stays per thread: the token cache, the rate-limit buckets (a
 * caller's connections may land on different threads: like N replicas, see
 * docs/tom.md "Hardening"), the database pool (`KB_TOM_DB_POOL` each).
 *
 * @module
 */
import type { RuntimeConfig } from "../../actors/runtime/config.ts";
import type { TomConfig } from "./config.ts";
import { type StartOptions, startTom, type Tom } from "./server.ts";

/** What the first thread tells a serving thread (structured-cloned). */
export interface ThreadStart {
  readonly type: "start";
  readonly index: number;
  readonly config: TomConfig;
  readonly runtime: RuntimeConfig;
  readonly listCacheGeneration: Int32Array<SharedArrayBuffer>;
  readonly listCacheLive: boolean;
}

/** Messages a serving thread answers with. */
export type ThreadReply =
  | { readonly type: "ready" }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "stopped" };

/** Refuses settings a multi-threaded TOM cannot honour, saying what to set. */
export function checkThreadedConfig(config: TomConfig): void {
  if (config.KB_TOM_WORKERS <= 1) return;
  const n = config.KB_TOM_WORKERS;
  if (!config.KB_DATABASE_URL) {
    throw new Error(
      `KB_TOM_WORKERS=${n} needs KB_DATABASE_URL: the embedded PGlite belongs to one thread`,
    );
  }
  if (!config.KB_OIDC_ISSUER) {
    throw new Error(
      `KB_TOM_WORKERS=${n} needs KB_OIDC_ISSUER: the development issuer's keys and codes ` +
        "live in one thread; use KB_TOM_WORKERS=1 with it",
    );
  }
}

/** Throws unless this Deno may open `SO_REUSEPORT` sockets. */
function checkReusePort(n: number): void {
  try {
    Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort: true } as Deno.TcpListenOptions)
      .close();
  } catch (err) {
    throw new Error(
      `KB_TOM_WORKERS=${n} shares the port between threads with SO_REUSEPORT, which this ` +
        `Deno refused (${(err as Error).message}): run deno with --unstable-net, or set ` +
        "KB_TOM_WORKERS=1",
    );
  }
}

/**
 * Starts a TOM with `config.KB_TOM_WORKERS` serving threads (1: exactly
 * {@link startTom}). The result is the first thread's TOM; its `stop` stops the
 * other threads first (each finishes its requests in flight), then itself.
 */
export async function startTomThreads(
  config: TomConfig,
  runtime: RuntimeConfig,
  options: StartOptions = {},
): Promise<Tom> {
  const n = config.KB_TOM_WORKERS;
  if (n <= 1) return await startTom(config, runtime, options);
  checkThreadedConfig(config);
  checkReusePort(n);
  const listCacheGeneration = new Int32Array(new SharedArrayBuffer(4));
  const first = await startTom(config, runtime, {
    ...options,
    reusePort: true,
    listCacheGeneration,
  });
  const workers: Worker[] = [];
  const stopWorkers = async () => {
    await Promise.all(
      workers.map((w, i) =>
        ask(w, { type: "stop" }, "stopped").catch((err) =>
          first.log.warn("a serving thread did not stop cleanly", {
            thread: i + 1,
            error: String(err),
          })
        )
      ),
    );
    for (const w of workers) w.terminate();
  };
  try {
    for (let i = 1; i < n; i++) {
      const w = new Worker(new URL("./serve_thread.ts", import.meta.url).href, {
        type: "module",
        name: `tom-http-${i}`,
      });
      workers.push(w);
      const start: ThreadStart = {
        type: "start",
        index: i,
        config: { ...config, KB_TOM_PORT: first.port, KB_TOM_BROKER: false },
        runtime,
        listCacheGeneration,
        listCacheLive: first.listCache.enabled,
      };
      await ask(w, start, "ready");
    }
  } catch (err) {
    await stopWorkers();
    await first.stop();
    throw err;
  }
  first.log.info("tom serving threads ready", { threads: n, port: first.port });
  let stopped: Promise<void> | undefined;
  return {
    ...first,
    stop: () => (stopped ??= stopWorkers().then(() => first.stop())),
  };
}

/** Sends `msg` to a serving thread and waits for the reply of type `want`. */
function ask(w: Worker, msg: unknown, want: ThreadReply["type"]): Promise<void> {
  return new Promise((resolve, reject) => {
    // Handlers only while waiting: afterwards an uncaught error in the thread propagates
    // to this one and ends the process (a supervisor restarts it), never unnoticed.
    const done = () => {
      w.onmessage = null;
      w.onerror = null;
    };
    w.onmessage = (e: MessageEvent<ThreadReply>) => {
      if (e.data.type === want) {
        done();
        resolve();
      } else if (e.data.type === "failed") {
        done();
        reject(new Error(`a TOM serving thread cannot start: ${e.data.message}`));
      }
    };
    w.onerror = (e) => {
      e.preventDefault();
      done();
      reject(new Error(`a TOM serving thread failed: ${e.message}`));
    };
    w.postMessage(msg);
  });
}
