/**
 * Runtime configuration from environment variables, validated with zod. A bad
 * value stops the process at start with a message naming the variable, what it
 * expects and what it got.
 *
 * @module
 */
import { z } from "zod";
import { redactText } from "./log.ts";

/** Every variable the runtime reads, with its schema and meaning. */
export const RUNTIME_ENV = {
  KB_TRANSPORT: {
    schema: z.enum(["memory", "nats"]).default("nats"),
    doc: "bus implementation: nats (JetStream) or memory (in-process, one process only)",
  },
  KB_NATS_URL: {
    schema: z.string().regex(/^(nats|tls|ws|wss):\/\/[^\s]+$/, "a nats:// URL").default(
      "nats://127.0.0.1:4222",
    ),
    doc: "NATS server URL(s), comma-separated",
  },
  KB_NATS_IDENTITY: {
    schema: z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '_' or '-'").optional(),
    doc: "NATS identity of this process (deploy/nats): its inbox prefix _INBOX_<identity>",
  },
  KB_NATS_NKEY_FILE: {
    schema: z.string().min(1).optional(),
    doc: "file holding the identity's NATS nkey seed (a mounted secret)",
  },
  KB_NATS_CREDS_FILE: {
    schema: z.string().min(1).optional(),
    doc: "NATS .creds file (JWT + nkey seed), instead of KB_NATS_NKEY_FILE",
  },
  KB_NATS_USER: {
    schema: z.string().min(1).optional(),
    doc: "NATS user name (with KB_NATS_PASSWORD_FILE), instead of an nkey",
  },
  KB_NATS_PASSWORD_FILE: {
    schema: z.string().min(1).optional(),
    doc: "file holding the password of KB_NATS_USER",
  },
  KB_NATS_CA_FILE: {
    schema: z.string().min(1).optional(),
    doc: "CA certificate of the NATS server's TLS (tls:// URLs)",
  },
  KB_STREAM_REPLICAS: {
    schema: z.coerce.number().int().min(1).max(5).default(1),
    doc: "JetStream stream replicas (1 on a single server, 3 in a cluster)",
  },
  KB_HTTP_HOST: {
    schema: z.string().min(1).default("0.0.0.0"),
    doc: "address of the /healthz /readyz /metrics server",
  },
  KB_HTTP_PORT: {
    schema: z.coerce.number().int().min(0).max(65535).default(9464),
    doc: "port of the /healthz /readyz /metrics server (0 picks a free port)",
  },
  KB_REPLICA_ID: {
    schema: z.string().regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, '.', '_' or '-'").optional(),
    doc: "replica id in logs and metrics (default: host name and process id)",
  },
  KB_MAX_IN_FLIGHT: {
    schema: z.coerce.number().int().min(1).max(10_000).default(64),
    doc: "messages one replica handles at once",
  },
  KB_MAX_IN_FLIGHT_BYTES: {
    schema: z.coerce.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(
      4 * 1024 * 1024,
    ),
    doc: "payload bytes one replica holds at once, pulled ahead and being handled " +
      "(a bound beside KB_MAX_IN_FLIGHT and KB_PREFETCH: whichever is reached first; " +
      "one larger message still comes alone)",
  },
  KB_PREFETCH: {
    schema: z.coerce.number().int().min(1).max(100_000).default(256),
    doc: "messages one replica pulls ahead of handling",
  },
  KB_MAX_ACK_PENDING: {
    schema: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
    doc: "unacknowledged messages allowed across all replicas of an actor (back-pressure)",
  },
  KB_MAX_ATTEMPTS: {
    schema: z.coerce.number().int().min(1).max(100).default(5),
    doc: "delivery attempts before a failing message is dead-lettered",
  },
  KB_BACKOFF_BASE_MS: {
    schema: z.coerce.number().int().min(0).max(600_000).default(500),
    doc: "first retry delay; doubles with each attempt",
  },
  KB_BACKOFF_MAX_MS: {
    schema: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
    doc: "longest retry delay",
  },
  KB_ACK_WAIT_MS: {
    schema: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    doc: "how long a delivery may stay unacknowledged before redelivery",
  },
  KB_GRACE_MS: {
    schema: z.coerce.number().int().min(0).max(3_600_000).default(20_000),
    doc: "time to finish in-flight work after SIGTERM/SIGINT",
  },
  KB_MAX_MESSAGE_BYTES: {
    schema: z.coerce.number().int().min(1).max(64 * 1024 * 1024).default(1024 * 1024),
    doc: "larger inputs are dead-lettered as oversize",
  },
  KB_LOG_LEVEL: {
    schema: z.enum(["debug", "info", "warn", "error"]).default("info"),
    doc: "lowest log level written",
  },
} as const;

type EnvSpec = typeof RUNTIME_ENV;

/** The parsed runtime configuration. */
export type RuntimeConfig = { [K in keyof EnvSpec]: z.infer<EnvSpec[K]["schema"]> };

/** Raised for an invalid environment; the message lists every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Reads a set of variables from `env`, failing with every problem at once.
 * Later issues use this for their own variables too.
 */
export function loadEnv<S extends Record<string, { schema: z.ZodType; doc: string }>>(
  spec: S,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): { [K in keyof S]: z.infer<S[K]["schema"]> } {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, { schema, doc }] of Object.entries(spec)) {
    const raw = env[name];
    const value = raw === "" ? undefined : raw;
    const parsed = schema.safeParse(value);
    if (parsed.success) out[name] = parsed.data;
    else {
      const expected = parsed.error.issues.map((i) => i.message).join("; ");
      // A secret's value is never echoed, even when it is wrong.
      const shown = value === undefined
        ? "(unset)"
        : /PASSWORD|SECRET|TOKEN|SEED/.test(name) && !name.endsWith("_FILE")
        ? "(hidden)"
        : redactText(JSON.stringify(value));
      problems.push(
        `${name}=${shown}: ${expected}. ` +
          `It sets the ${doc}.`,
      );
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return out as { [K in keyof S]: z.infer<S[K]["schema"]> };
}

/** Reads the runtime configuration. */
export function loadRuntimeConfig(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): RuntimeConfig {
  return loadEnv(RUNTIME_ENV, env) as RuntimeConfig;
}

/** The configuration with every default, overridden by `overrides` (tests, demo). */
export function runtimeConfig(overrides: Partial<RuntimeConfig> = {}): RuntimeConfig {
  return { ...loadRuntimeConfig({}), ...overrides };
}
