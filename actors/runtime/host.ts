/**
 * A process hosting actors: connects the transport, serves `/healthz`,
 * `/readyz` and `/metrics`, registers each actor as a NATS micro service, and
 * drains everything on SIGTERM/SIGINT. `deno task actor <name>` hosts one actor
 * (one Kubernetes replica); the demo hosts them all on the in-process transport.
 *
 * @module
 */
import type { ActorDefinition } from "./actor.ts";
import type { RuntimeConfig } from "./config.ts";
import { serveOps } from "./http.ts";
import { createLogger, type Logger } from "./log.ts";
import { processRegistry, runtimeMetrics } from "./metrics.ts";
import type { MicroHandle } from "./micro.ts";
import type { NatsTransport } from "./nats_transport.ts";
import { type RunningActor, startActor } from "./runner.ts";
import type { Transport } from "./transport.ts";
import { memoryNow } from "./memory.ts";

/** A running host. */
export interface Host {
  readonly transport: Transport;
  readonly actors: readonly RunningActor[];
  /** Port of the operations server. */
  readonly port: number;
  readonly replica: string;
  readonly log: Logger;
  /** Stops every actor (draining), the services, the server and the transport. */
  stop(): Promise<{ clean: boolean }>;
}

/** Options of {@link startHost}. */
export interface HostOptions {
  /** Use this transport instead of building one from the configuration (the demo shares one). */
  readonly transport?: Transport;
  readonly log?: Logger;
  /** Install SIGTERM/SIGINT handlers that stop the host and exit (default false). */
  readonly handleSignals?: boolean;
}

/**
 * Builds the transport the configuration asks for, loading only its modules
 * (a replica on NATS never loads the in-process bus, and the reverse).
 */
export async function connectTransport(config: RuntimeConfig, name: string): Promise<Transport> {
  if (config.KB_TRANSPORT === "memory") {
    const { MemoryTransport } = await import("./memory_transport.ts");
    return new MemoryTransport();
  }
  const [{ NatsTransport }, { natsConnectionOptions }] = await Promise.all([
    import("./nats_transport.ts"),
    import("./nats_auth.ts"),
  ]);
  return await NatsTransport.connect({
    servers: config.KB_NATS_URL.split(","),
    name: config.KB_NATS_IDENTITY ? `${name}@${config.KB_NATS_IDENTITY}` : name,
    streamReplicas: config.KB_STREAM_REPLICAS,
    connection: await natsConnectionOptions(config),
  });
}

/** Starts actors in this process. */
export async function startHost(
  defs: readonly ActorDefinition[],
  config: RuntimeConfig,
  options: HostOptions = {},
): Promise<Host> {
  const replica = config.KB_REPLICA_ID ?? `${Deno.hostname()}-${Deno.pid}`;
  const log = options.log ?? createLogger({ level: config.KB_LOG_LEVEL, fields: { replica } });
  const transport = options.transport ??
    await connectTransport(config, `kb:${defs.map((d) => d.name).join(",")}:${replica}`);
  const registry = processRegistry({ replica });
  const metrics = runtimeMetrics(registry);
  const nats = isNats(transport) ? transport : undefined;
  const registerMicro = nats ? (await import("./micro.ts")).registerMicro : undefined;
  const unwatch = nats
    ? nats.onPermissionViolation((v) => {
      metrics.permissionViolations.inc({ operation: v.operation });
      log.error("NATS permission violation: this identity may not do that", {
        operation: v.operation,
        subject: v.subject,
        identity: config.KB_NATS_IDENTITY,
      });
    })
    : () => {};

  const actors: RunningActor[] = [];
  const services: MicroHandle[] = [];
  let stopping = false;
  const server = serveOps({
    registry,
    notReady: () => {
      if (stopping) return ["shutting down"];
      const missing = defs.filter((d) => !actors.some((a) => a.name === d.name && a.ready()));
      return missing.map((d) => `${d.name}: not consuming`);
    },
  }, { host: config.KB_HTTP_HOST, port: config.KB_HTTP_PORT });

  // Memory before the actors consume: with messages waiting, the first batches arrive while the
  // later actors start, and "when ready" would count them.
  const memoryAtStart = memoryNow();
  try {
    for (const def of defs) {
      def.useMetrics?.(registry);
      const actor = await startActor(def, { transport, config, log, metrics, replica });
      actors.push(actor);
      if (nats && registerMicro) {
        services.push(
          await registerMicro(nats.nc, {
            actor: def.name,
            version: def.version,
            description: def.description,
            replica,
            metadata: {
              stream: actor.consumer.stream,
              consumer: actor.consumer.durable,
              input: actor.consumer.filterSubjects.join(","),
              outputs: def.outputs.map((c) => c.subject).join(","),
              ops_port: String(server.port),
            },
            stats: () => ({ ...actor.stats() }),
          }),
        );
      }
    }
  } catch (err) {
    await server.stop();
    for (const a of actors) await a.stop(0);
    if (!options.transport) await transport.close();
    throw err;
  }
  log.info("host ready", {
    actors: defs.map((d) => d.name),
    transport: transport.kind,
    opsPort: server.port,
    ...memoryAtStart,
  });

  let stopped: Promise<{ clean: boolean }> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      const results = await Promise.all(actors.map((a) => a.stop(config.KB_GRACE_MS)));
      for (const s of services) await s.stop().catch(() => {});
      await server.stop();
      unwatch();
      if (!options.transport) await transport.close();
      const clean = results.every((r) => r.clean);
      log.info("host stopped", { clean });
      return { clean };
    })();
    return stopped;
  };

  if (options.handleSignals) {
    const onSignal = (signal: Deno.Signal) => {
      log.info("signal received; draining", { signal });
      stop().then(({ clean }) => Deno.exit(clean ? 0 : 1));
    };
    Deno.addSignalListener("SIGTERM", () => onSignal("SIGTERM"));
    Deno.addSignalListener("SIGINT", () => onSignal("SIGINT"));
  }

  return { transport, actors, port: server.port, replica, log, stop };
}

/** A NATS transport (told by its kind, so that this module need not load nats.js). */
function isNats(t: Transport): t is NatsTransport {
  return t.kind === "nats" && "nc" in t;
}
