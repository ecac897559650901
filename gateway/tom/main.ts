/**
 * `deno task tom`: one TOM process — the HTTP API and the alert-broker module
 * (the `tom` actor, a durable consumer of derived alerts) — configured by
 * environment variables (gateway/tom/config.ts and the runtime's KB_* variables).
 * With KB_TOM_WORKERS > 1 (and deno's --unstable-net) the HTTP API is served by
 * that many threads on one port (serve_threads.ts). SIGTERM/SIGINT drain the
 * consumer and stop the server(s).
 *
 * @module
 */
import { loadRuntimeConfig } from "../../actors/runtime/config.ts";
import { loadTomConfig } from "./config.ts";
import { startTomThreads } from "./serve_threads.ts";

if (import.meta.main) {
  let tom;
  try {
    tom = await startTomThreads(loadTomConfig(), loadRuntimeConfig());
  } catch (err) {
    console.error(`tom: cannot start: ${(err as Error).message}`);
    Deno.exit(1);
  }
  const onSignal = (signal: string) => {
    tom.log.info("signal received; stopping", { signal });
    tom.stop().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGTERM", () => onSignal("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => onSignal("SIGINT"));
}
