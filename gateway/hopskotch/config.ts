/**
 * Kafka client configuration the way Hopskotch users write it: a hop URL plus
 * credentials from hop-client's `auth.toml` or from `KB_KAFKA_*` variables.
 *
 * Credential rule (first that applies):
 * 1. `KB_KAFKA_SECURITY_PROTOCOL=PLAINTEXT` → no authentication.
 * 2. `KB_KAFKA_USERNAME` + `KB_KAFKA_PASSWORD` with `KB_KAFKA_SECURITY_PROTOCOL`
 *    set → those (explicit configuration beats files; containers use this).
 * 3. `auth.toml` (`KB_HOP_AUTH`, else hop's own path) has a credential for the
 *    broker (and the URL's user) → that one, exactly as hop-client picks it.
 * 4. The URL names a user and `KB_KAFKA_USERNAME`/`KB_KAFKA_PASSWORD` are set →
 *    those, over SASL_SSL (hop's default) unless the protocol says otherwise.
 * 5. Otherwise → no authentication (a plaintext broker).
 *
 * Secrets: the password may come from a file (`KB_KAFKA_PASSWORD_FILE`, a
 * mounted secret) instead of the environment; an `auth.toml` readable by group
 * or others is refused (hop-client warns about it; we stop); every password
 * read is registered with the logger's redaction, so no log line shows it.
 *
 * @module
 */
import { z } from "zod";
import { loadEnv } from "../../actors/runtime/config.ts";
import { registerSecret } from "../../actors/runtime/log.ts";
import {
  defaultAuthPath,
  type HopCredential,
  parseAuthToml,
  type SaslMechanism,
  type SecurityProtocol,
  selectCredential,
} from "./auth.ts";
import { parseHopUrl } from "./url.ts";

/** Everything a Kafka client of the gateway needs. */
export interface KafkaClientConfig {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  /** Topics named by the hop URL (may be empty). */
  readonly topics: readonly string[];
  readonly protocol: SecurityProtocol;
  /** SASL credentials; absent on a plaintext broker. */
  readonly sasl?: {
    readonly mechanism: SaslMechanism;
    readonly username: string;
    readonly password: string;
  };
  /** PEM CA bundle for TLS (read from the CA file); absent = the system's roots. */
  readonly caPem?: string;
  /** `_sender` written on records (default: the user name, else "kilonova-broker"). */
  readonly sender: string;
  /** Kafka client id. */
  readonly clientId: string;
  /** Largest record value accepted for producing, in bytes (Hopskotch: about 1 MB). */
  readonly maxRecordBytes: number;
  /** Where the credential came from, for logs ("auth.toml", "env", "none"). */
  readonly credentialSource: "auth.toml" | "env" | "none";
  /** The Kafka client library (`KB_KAFKA_CLIENT`); see gateway/hopskotch/kafka.ts. */
  readonly client: "auto" | "kafkajs" | "platformatic";
}

/** Environment variables read by {@link loadKafkaConfig}. */
export const KAFKA_ENV = {
  KB_KAFKA_URL: {
    schema: z.string().startsWith("kafka://").optional(),
    doc:
      "hop URL of the Kafka cluster, kafka://[user@]host:port[/topics] (default: KB_KAFKA_BROKERS)",
  },
  KB_KAFKA_BROKERS: {
    schema: z.string().min(1).default("127.0.0.1:9092"),
    doc: "bootstrap brokers host:port[,host:port] when KB_KAFKA_URL is not set",
  },
  KB_KAFKA_USERNAME: { schema: z.string().min(1).optional(), doc: "SASL user name" },
  KB_KAFKA_PASSWORD: { schema: z.string().min(1).optional(), doc: "SASL password" },
  KB_KAFKA_PASSWORD_FILE: {
    schema: z.string().min(1).optional(),
    doc: "file holding the SASL password (a mounted secret), instead of KB_KAFKA_PASSWORD",
  },
  KB_KAFKA_SASL_MECHANISM: {
    schema: z.string().transform((s) => s.toUpperCase().replaceAll("_", "-")).pipe(
      z.enum(["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]),
    ).default("SCRAM-SHA-512"),
    doc: "SASL mechanism (SCRAM-SHA-512 on Hopskotch)",
  },
  KB_KAFKA_SECURITY_PROTOCOL: {
    schema: z.enum(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]).optional(),
    doc: "security protocol: SASL_SSL (Hopskotch), SASL_PLAINTEXT, SSL or PLAINTEXT",
  },
  KB_KAFKA_CA_FILE: {
    schema: z.string().min(1).optional(),
    doc: "PEM CA bundle for TLS when the broker's certificate is not publicly trusted",
  },
  KB_HOP_AUTH: {
    schema: z.string().min(1).optional(),
    doc: "path of a hop-client auth.toml (default: $XDG_CONFIG_HOME/hop/auth.toml)",
  },
  KB_HOP_SENDER: {
    schema: z.string().min(1).optional(),
    doc: "_sender header written on records (default: the Kafka user name)",
  },
  KB_KAFKA_CLIENT_ID: {
    schema: z.string().regex(/^[A-Za-z0-9._-]+$/).default("kilonova-broker"),
    doc: "Kafka client id",
  },
  KB_KAFKA_CLIENT: {
    schema: z.enum(["auto", "kafkajs", "platformatic"]).default("auto"),
    doc: "Kafka client: auto (produce with @platformatic/kafka, consume with kafkajs), kafkajs " +
      "or platformatic; docs/hopskotch.md",
  },
  KB_HOP_MAX_RECORD_BYTES: {
    schema: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1_048_576),
    doc: "largest record value the gateway produces or accepts, in bytes",
  },
} as const;

/** Options of {@link loadKafkaConfig}. */
export interface KafkaConfigOptions {
  /** Hop URL; overrides KB_KAFKA_URL / KB_KAFKA_BROKERS. */
  readonly url?: string;
  /** Environment (default: the process's). */
  readonly env?: Record<string, string | undefined>;
  /** Skip authentication whatever is configured (hop's `--no-auth`). */
  readonly noAuth?: boolean;
}

function readCa(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    throw new Error(`cannot read the CA file ${path}: ${(err as Error).message}`);
  }
}

/**
 * Refuses a credential file that group or others may read (the mode of the
 * file a symlink points to, as hop-client checks it).
 */
export function checkPrivate(path: string): void {
  const mode = Deno.statSync(path).mode;
  if (mode !== null && (mode & 0o077) !== 0) {
    throw new Error(
      `hop credentials ${path} are readable by others (mode ${
        (mode & 0o777).toString(8).padStart(4, "0")
      }): run \`chmod 600 ${path}\` (only its owner may read a password file)`,
    );
  }
}

function readAuthFile(path: string | undefined, explicit: boolean): HopCredential[] {
  if (!path) return [];
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && !explicit) return [];
    throw new Error(`cannot read hop credentials ${path}: ${(err as Error).message}`);
  }
  checkPrivate(path);
  const creds = parseAuthToml(text, path);
  for (const c of creds) registerSecret(c.password);
  return creds;
}

function readPasswordFile(path: string): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path).replace(/\r?\n$/, "");
  } catch (err) {
    throw new Error(
      `KB_KAFKA_PASSWORD_FILE=${path}: cannot read the Kafka password (${
        (err as Error).message
      }): mount the secret there`,
    );
  }
  if (!text) throw new Error(`KB_KAFKA_PASSWORD_FILE=${path} is empty`);
  return text;
}

/** Builds a {@link KafkaClientConfig} from a hop URL and credentials (see the module doc). */
export function loadKafkaConfig(options: KafkaConfigOptions = {}): KafkaClientConfig {
  const rawEnv = options.env ?? Deno.env.toObject();
  const env = loadEnv(KAFKA_ENV, rawEnv);
  const url = parseHopUrl(options.url ?? env.KB_KAFKA_URL ?? `kafka://${env.KB_KAFKA_BROKERS}`);
  const base = {
    brokers: url.brokers,
    topics: url.topics,
    clientId: env.KB_KAFKA_CLIENT_ID,
    maxRecordBytes: env.KB_HOP_MAX_RECORD_BYTES,
    client: env.KB_KAFKA_CLIENT,
  };
  if (env.KB_KAFKA_PASSWORD && env.KB_KAFKA_PASSWORD_FILE) {
    throw new Error("set KB_KAFKA_PASSWORD or KB_KAFKA_PASSWORD_FILE, not both");
  }
  const password = env.KB_KAFKA_PASSWORD_FILE
    ? readPasswordFile(env.KB_KAFKA_PASSWORD_FILE)
    : env.KB_KAFKA_PASSWORD;
  registerSecret(password);
  const envCreds = env.KB_KAFKA_USERNAME && password
    ? { username: env.KB_KAFKA_USERNAME, password }
    : undefined;
  const protocol = env.KB_KAFKA_SECURITY_PROTOCOL;
  const fromEnv = (p: SecurityProtocol): KafkaClientConfig => {
    const sasl = p.startsWith("SASL_") && envCreds
      ? { mechanism: env.KB_KAFKA_SASL_MECHANISM, ...envCreds }
      : undefined;
    if (p.startsWith("SASL_") && !sasl) {
      throw new Error(
        `KB_KAFKA_SECURITY_PROTOCOL=${p} needs KB_KAFKA_USERNAME and KB_KAFKA_PASSWORD`,
      );
    }
    return {
      ...base,
      protocol: p,
      sasl,
      caPem: p.endsWith("SSL") ? readCa(env.KB_KAFKA_CA_FILE) : undefined,
      sender: env.KB_HOP_SENDER ?? sasl?.username ?? "kilonova-broker",
      credentialSource: sasl ? "env" : "none",
    };
  };
  if (options.noAuth || protocol === "PLAINTEXT") return fromEnv("PLAINTEXT");
  if (protocol && envCreds) return fromEnv(protocol);
  const authPath = env.KB_HOP_AUTH ?? defaultAuthPath(rawEnv);
  const creds = readAuthFile(authPath, env.KB_HOP_AUTH !== undefined);
  if (creds.length) {
    let cred: HopCredential | undefined;
    try {
      cred = selectCredential(creds, url.brokers[0], url.username);
    } catch (err) {
      if (/several credentials/.test((err as Error).message)) throw err;
    }
    if (cred) {
      return {
        ...base,
        protocol: protocol ?? cred.protocol,
        sasl: { mechanism: cred.mechanism, username: cred.username, password: cred.password },
        caPem: readCa(cred.caFile ?? env.KB_KAFKA_CA_FILE),
        sender: env.KB_HOP_SENDER ?? cred.username,
        credentialSource: "auth.toml",
      };
    }
  }
  if (url.username && envCreds) {
    if (envCreds.username !== url.username) {
      throw new Error(
        `the hop URL names user "${url.username}" but KB_KAFKA_USERNAME is "${envCreds.username}"`,
      );
    }
    return fromEnv(protocol ?? "SASL_SSL");
  }
  if (url.username) {
    throw new Error(
      `the hop URL names user "${url.username}" but no credential was found: add it to ` +
        `${authPath ?? "auth.toml"} or set KB_KAFKA_USERNAME and KB_KAFKA_PASSWORD`,
    );
  }
  return fromEnv(protocol ?? "PLAINTEXT");
}

/**
 * The consumer group id: `<username>-<suffix>` as Hopskotch requires. An explicit
 * group must start with `<username>-` when there is a user.
 */
export function groupIdFor(
  config: KafkaClientConfig,
  group: string | undefined,
  suffix: string,
): string {
  const user = config.sasl?.username;
  if (group === undefined) return user ? `${user}-${suffix}` : suffix;
  if (user && !group.startsWith(`${user}-`)) {
    throw new Error(
      `consumer group "${group}" must start with "${user}-": Hopskotch only lets user ${user} ` +
        `use groups named ${user}-<anything>`,
    );
  }
  return group;
}
