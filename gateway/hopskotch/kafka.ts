/**
 * Builds kafkajs clients from a {@link KafkaClientConfig}, with kafkajs' own log
 * lines routed to the gateway's JSON logger.
 *
 * @module
 */
import { Kafka, logLevel, type SASLOptions } from "kafkajs";
import type { Logger } from "../../actors/runtime/log.ts";
import type { KafkaClientConfig } from "./config.ts";

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

/** A kafkajs client for `config`. kafkajs' INFO chatter is logged at debug level. */
export function kafkaClient(config: KafkaClientConfig, log?: Logger): Kafka {
  const sasl: SASLOptions | undefined = config.sasl
    ? {
      mechanism: config.sasl.mechanism.toLowerCase() as "scram-sha-512",
      username: config.sasl.username,
      password: config.sasl.password,
    }
    : undefined;
  const tls = config.protocol === "SSL" || config.protocol === "SASL_SSL";
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    ssl: tls ? (config.caPem ? { ca: [config.caPem] } : true) : false,
    sasl,
    connectionTimeout: 5_000,
    authenticationTimeout: 10_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries: 10 },
    logLevel: log ? logLevel.INFO : logLevel.NOTHING,
    logCreator: () => ({ namespace, level, label: _label, log: entry }) => {
      if (!log) return;
      const { message, timestamp: _t, logger: _l, ...fields } = entry as Record<string, unknown>;
      const lvl = LEVELS[level] ?? "info";
      (lvl === "info" ? log.debug : log[lvl])(`kafkajs: ${message}`, { namespace, ...fields });
    },
  });
}
