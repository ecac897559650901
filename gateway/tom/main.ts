/**
 * `deno task tom`: one TOM process — the HTTP API and the alert-broker module
 * (the `tom` actor, a durable consumer of derived alerts) — configured by
 * environment variables (gateway/tom/config.ts and the runtime's KB_* variables).
 * SIGTERM/SIGINT drain the consumer and stop the server.
 *
 * @module
 */
import { loadRuntimeConfig } from "../../actors/runtime/config.ts";
import { loadTomConfig } from "./config.ts";
import { startTom } from "./server.ts";

if (import.meta.main) {
  let tom;
  try {
    tom = await startTom(loadTomConfig(), loadRuntimeConfig());
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
