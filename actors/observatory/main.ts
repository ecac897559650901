/**
 * `deno task observatory`: the simulated observatory (OCS-shaped API, status
 * events, follow-up photometry) as its own process. Configuration: the
 * KB_OBSERVATORY_* variables (server.ts) and the runtime's KB_NATS_URL/KB_TRANSPORT.
 *
 * @module
 */
import { loadRuntimeConfig } from "../runtime/config.ts";
import { connectTransport } from "../runtime/host.ts";
import { createLogger } from "../runtime/log.ts";
import { loadObservatoryConfig, startObservatory } from "./server.ts";

if (import.meta.main) {
  const runtime = loadRuntimeConfig();
  const log = createLogger({ level: runtime.KB_LOG_LEVEL, fields: { app: "observatory" } });
  let obs;
  let transport;
  try {
    transport = await connectTransport(runtime, "kb:observatory");
    obs = await startObservatory(loadObservatoryConfig(), transport, log);
  } catch (err) {
    console.error(`observatory: cannot start: ${(err as Error).message}`);
    Deno.exit(1);
  }
  const stop = async () => {
    await obs.stop();
    await transport.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
