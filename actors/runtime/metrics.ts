/**
 * Prometheus metrics of the runtime (prom-client), labelled by actor, so the
 * demo's single process and a production replica expose the same names.
 *
 * @module
 */
import client from "prom-client";

/** The runtime's metrics on one registry. */
export interface RuntimeMetrics {
  readonly registry: client.Registry;
  readonly received: client.Counter<"actor">;
  readonly handled: client.Counter<"actor">;
  readonly failed: client.Counter<"actor">;
  readonly retried: client.Counter<"actor">;
  readonly deadLettered: client.Counter<"actor" | "reason">;
  readonly published: client.Counter<"actor" | "subject">;
  readonly duplicates: client.Counter<"actor">;
  readonly latency: client.Histogram<"actor">;
  readonly inFlight: client.Gauge<"actor">;
  /** Operations the NATS server refused (deploy/nats permissions), by publish/subscribe. */
  readonly permissionViolations: client.Counter<"operation">;
  readonly pending: client.Gauge<"actor">;
  readonly ackPending: client.Gauge<"actor">;
  /** Consumer-state probes called at scrape time, by actor. */
  readonly probes: Map<string, () => Promise<{ pending: number; ackPending: number }>>;
}

/**
 * How often the process's event-loop delay is sampled for `kb_process_nodejs_eventloop_lag_*`, in
 * ms. prom-client's default, 10 ms, wakes an idle process ~115 times a second (10 ms of CPU a second
 * on this project's machine, each wake-up ~55 µs of the machine's CPU more in context switches:
 * docs/performance.md); at 100 ms it is ~20 wake-ups and 2.5 ms. A stall of 100 ms or more is
 * always seen, a shorter one in proportion to its length: enough for an alert broker's
 * dashboards, whose message latencies are measured per message (`kb_handler_duration_seconds`).
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * A registry for one process: its series carry `labels` (e.g. the replica), and it holds the
 * process metrics (`kb_process_*`: CPU, memory, event-loop delay sampled every
 * {@link EVENT_LOOP_SAMPLE_MS} ms, open handles).
 */
export function processRegistry(labels: Record<string, string> = {}): client.Registry {
  const registry = new client.Registry();
  registry.setDefaultLabels(labels);
  client.collectDefaultMetrics({
    register: registry,
    prefix: "kb_process_",
    eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
  });
  return registry;
}

const cache = new WeakMap<client.Registry, RuntimeMetrics>();

/** Returns the runtime metrics registered on `registry` (created once per registry). */
export function runtimeMetrics(registry: client.Registry = new client.Registry()): RuntimeMetrics {
  const found = cache.get(registry);
  if (found) return found;
  const probes = new Map<string, () => Promise<{ pending: number; ackPending: number }>>();
  const registers = [registry];
  const labelNames = ["actor"] as const;
  // One probe of every consumer per scrape, shared by the gauges below (each
  // gauge's collect runs concurrently at scrape time).
  type Probed = Map<string, { pending: number; ackPending: number } | undefined>;
  let last: { at: number; result: Promise<Probed> } | undefined;
  const probeAll = (): Promise<Probed> => {
    if (last && Date.now() - last.at < 250) return last.result;
    const result = (async () => {
      const out: Probed = new Map();
      for (const [actor, probe] of probes) {
        out.set(actor, await probe().catch(() => undefined));
      }
      return out;
    })();
    last = { at: Date.now(), result };
    return result;
  };
  const probed = (
    name: string,
    help: string,
    value: (s: { pending: number; ackPending: number } | undefined) => number | undefined,
  ) =>
    new client.Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        this.reset();
        for (const [actor, s] of await probeAll()) {
          const v = value(s);
          if (v !== undefined) this.set({ actor }, v);
        }
      },
    });
  const pending = probed(
    "kb_consumer_pending",
    "Messages in the stream not yet delivered to the actor's durable consumer",
    (s) => s?.pending,
  );
  const ackPending = probed(
    "kb_consumer_ack_pending",
    "Messages delivered to the actor's durable consumer and not yet acknowledged",
    (s) => s?.ackPending,
  );
  probed(
    "kb_consumer_probe_ok",
    "1 when the consumer's state could be read at this scrape, else 0",
    (s) => (s ? 1 : 0),
  );
  const m: RuntimeMetrics = {
    registry,
    probes,
    pending,
    ackPending,
    received: new client.Counter({
      name: "kb_messages_received_total",
      help: "Deliveries received (redeliveries included)",
      labelNames,
      registers,
    }),
    handled: new client.Counter({
      name: "kb_messages_handled_total",
      help: "Messages handled and acknowledged",
      labelNames,
      registers,
    }),
    failed: new client.Counter({
      name: "kb_messages_failed_total",
      help: "Deliveries whose handling failed (retried or dead-lettered)",
      labelNames,
      registers,
    }),
    retried: new client.Counter({
      name: "kb_messages_retried_total",
      help: "Deliveries handed back for a later retry",
      labelNames,
      registers,
    }),
    deadLettered: new client.Counter({
      name: "kb_messages_dead_lettered_total",
      help: "Messages sent to the dead-letter stream, by reason",
      labelNames: ["actor", "reason"] as const,
      registers,
    }),
    published: new client.Counter({
      name: "kb_messages_published_total",
      help: "Output messages published, by subject",
      labelNames: ["actor", "subject"] as const,
      registers,
    }),
    duplicates: new client.Counter({
      name: "kb_publish_duplicates_total",
      help: "Output publishes the stream dropped as duplicates (replays after redelivery)",
      labelNames,
      registers,
    }),
    latency: new client.Histogram({
      name: "kb_handler_duration_seconds",
      help: "Time from delivery to acknowledgement",
      labelNames,
      buckets: [
        0.0001,
        0.00025,
        0.0005,
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1,
        2.5,
        5,
        10,
      ],
      registers,
    }),
    inFlight: new client.Gauge({
      name: "kb_in_flight",
      help: "Messages being handled now",
      labelNames,
      registers,
    }),
    permissionViolations: new client.Counter({
      name: "kb_nats_permission_violations_total",
      help: "Publishes or subscribes the NATS server refused: outside this identity's permissions",
      labelNames: ["operation"] as const,
      registers,
    }),
  };
  cache.set(registry, m);
  return m;
}
