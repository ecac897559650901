/**
 * Prometheus metrics of the gateways, per Kafka topic: consumed, published to
 * NATS, produced to Kafka, dead-lettered, skipped test messages, lag.
 *
 * @module
 */
import client from "prom-client";

/** The gateway metrics on one registry. */
export interface GatewayMetrics {
  readonly consumed: client.Counter<"topic">;
  readonly published: client.Counter<"topic" | "subject">;
  readonly duplicates: client.Counter<"topic">;
  readonly deadLettered: client.Counter<"topic" | "reason">;
  readonly testSkipped: client.Counter<"topic">;
  readonly publishRetries: client.Counter<"topic">;
  readonly lag: client.Gauge<"topic" | "partition">;
  readonly produced: client.Counter<"topic">;
  readonly produceLatency: client.Histogram<"topic">;
  /** Redelivered outbound messages whose record Kafka already held: acked, not produced again. */
  readonly redeliveryAlreadyProduced: client.Counter<"topic">;
  /** Redelivered outbound messages checked against Kafka before producing. */
  readonly redeliveryChecked: client.Counter<"topic">;
}

const cache = new WeakMap<client.Registry, GatewayMetrics>();

/** Returns the gateway metrics registered on `registry` (created once per registry). */
export function gatewayMetrics(registry: client.Registry): GatewayMetrics {
  const found = cache.get(registry);
  if (found) return found;
  const registers = [registry];
  const t = ["topic"] as const;
  const m: GatewayMetrics = {
    consumed: new client.Counter({
      name: "kb_hop_consumed_total",
      help: "Kafka records read by the inbound gateway (redeliveries after a crash included)",
      labelNames: t,
      registers,
    }),
    published: new client.Counter({
      name: "kb_hop_published_total",
      help: "Kafka records stored on NATS as envelopes, by subject",
      labelNames: ["topic", "subject"] as const,
      registers,
    }),
    duplicates: new client.Counter({
      name: "kb_hop_duplicates_total",
      help:
        "Envelopes JetStream dropped as duplicates (same Nats-Msg-Id: re-read or re-sent records)",
      labelNames: t,
      registers,
    }),
    deadLettered: new client.Counter({
      name: "kb_hop_dead_lettered_total",
      help: "Kafka records sent to the dead-letter stream, by reason",
      labelNames: ["topic", "reason"] as const,
      registers,
    }),
    testSkipped: new client.Counter({
      name: "kb_hop_test_skipped_total",
      help: "Records with a _test header skipped (as hop-client does by default)",
      labelNames: t,
      registers,
    }),
    publishRetries: new client.Counter({
      name: "kb_hop_publish_retries_total",
      help: "NATS publishes retried after an error (NATS away or slow)",
      labelNames: t,
      registers,
    }),
    lag: new client.Gauge({
      name: "kb_hop_consumer_lag",
      help: "Records behind the end of the partition at the last batch",
      labelNames: ["topic", "partition"] as const,
      registers,
    }),
    produced: new client.Counter({
      name: "kb_hop_produced_total",
      help: "Records the outbound gateway produced to Kafka (acknowledged, acks=all)",
      labelNames: t,
      registers,
    }),
    produceLatency: new client.Histogram({
      name: "kb_hop_produce_duration_seconds",
      help: "Time for Kafka to acknowledge one produce batch of the outbound gateway",
      labelNames: t,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    redeliveryAlreadyProduced: new client.Counter({
      name: "kb_hop_redelivery_already_produced_total",
      help: "Redelivered alerts.out messages whose record (same hop _id) Kafka already held: " +
        "acknowledged without producing a second copy",
      labelNames: t,
      registers,
    }),
    redeliveryChecked: new client.Counter({
      name: "kb_hop_redelivery_checked_total",
      help: "Redelivered alerts.out messages checked against the Kafka topic before producing",
      labelNames: t,
      registers,
    }),
  };
  cache.set(registry, m);
  return m;
}
