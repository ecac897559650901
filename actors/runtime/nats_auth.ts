/**
 * The NATS identity of a process: credentials read from files (mounted
 * secrets), never from the environment's values themselves, and the identity's
 * own inbox prefix (its permissions allow replies there only).
 *
 * | variable                | what                                                        |
 * |-------------------------|-------------------------------------------------------------|
 * | `KB_NATS_IDENTITY`      | identity name: connection name and inbox `_INBOX_<identity>`|
 * | `KB_NATS_NKEY_FILE`     | file with the identity's nkey seed (`SU...`)                |
 * | `KB_NATS_CREDS_FILE`    | a `.creds` file (decentralized JWT auth) instead            |
 * | `KB_NATS_USER`          | user name, with `KB_NATS_PASSWORD_FILE` holding the password|
 * | `KB_NATS_CA_FILE`       | CA certificate of the server's TLS (`tls://` URLs)          |
 *
 * @module
 */
import {
  type Authenticator,
  credsAuthenticator,
  nkeyAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/nats-core";
import type { ConnectionOptions } from "@nats-io/transport-node";
import { loadEnv, RUNTIME_ENV, type RuntimeConfig } from "./config.ts";
import { registerSecret } from "./log.ts";

/** The variables of {@link natsConnectionOptions}. */
export type NatsAuthConfig = Pick<
  RuntimeConfig,
  | "KB_NATS_IDENTITY"
  | "KB_NATS_NKEY_FILE"
  | "KB_NATS_CREDS_FILE"
  | "KB_NATS_USER"
  | "KB_NATS_PASSWORD_FILE"
  | "KB_NATS_CA_FILE"
>;

const enc = new TextEncoder();

async function readSecret(variable: string, path: string): Promise<string> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    if (!text) throw new Error("the file is empty");
    registerSecret(text);
    return text;
  } catch (err) {
    throw new Error(
      `${variable}=${path}: cannot read the NATS credential (${(err as Error).message}). ` +
        `Mount the identity's secret there (locally: bash deploy/local/nats.sh start creates ` +
        `.local/nats/auth/<identity>.nk).`,
    );
  }
}

/**
 * nats.js connection options for the configured identity: an authenticator
 * (nkey, creds or user/password, read from files now), the identity's inbox
 * prefix and TLS. Empty when no credential is configured (a server without auth).
 */
export async function natsConnectionOptions(
  config: Partial<NatsAuthConfig>,
): Promise<Partial<ConnectionOptions>> {
  const out: Partial<ConnectionOptions> = {};
  const given = [
    config.KB_NATS_NKEY_FILE && "KB_NATS_NKEY_FILE",
    config.KB_NATS_CREDS_FILE && "KB_NATS_CREDS_FILE",
    config.KB_NATS_USER && "KB_NATS_USER",
  ].filter(Boolean);
  if (given.length > 1) {
    throw new Error(`set one NATS credential, not ${given.join(" and ")}`);
  }
  let authenticator: Authenticator | undefined;
  if (config.KB_NATS_NKEY_FILE) {
    const seed = await readSecret("KB_NATS_NKEY_FILE", config.KB_NATS_NKEY_FILE);
    authenticator = nkeyAuthenticator(enc.encode(seed));
  } else if (config.KB_NATS_CREDS_FILE) {
    const creds = await readSecret("KB_NATS_CREDS_FILE", config.KB_NATS_CREDS_FILE);
    authenticator = credsAuthenticator(enc.encode(creds));
  } else if (config.KB_NATS_USER) {
    if (!config.KB_NATS_PASSWORD_FILE) {
      throw new Error("KB_NATS_USER is set without KB_NATS_PASSWORD_FILE: name the password file");
    }
    const password = await readSecret("KB_NATS_PASSWORD_FILE", config.KB_NATS_PASSWORD_FILE);
    authenticator = usernamePasswordAuthenticator(config.KB_NATS_USER, password);
  }
  if (authenticator) {
    // nats.js' option types come from two copies of nats-core; the function is the same.
    (out as Record<string, unknown>).authenticator = authenticator;
  }
  const identity = config.KB_NATS_IDENTITY ?? config.KB_NATS_USER;
  if (identity) out.inboxPrefix = `_INBOX_${identity}`;
  if (config.KB_NATS_CA_FILE) out.tls = { caFile: config.KB_NATS_CA_FILE };
  return out;
}

/**
 * {@link natsConnectionOptions} from the process environment's `KB_NATS_*`
 * credential variables (tools and scripts that connect without a host).
 */
export async function natsConnectionOptionsFromEnv(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<Partial<ConnectionOptions>> {
  const {
    KB_NATS_IDENTITY,
    KB_NATS_NKEY_FILE,
    KB_NATS_CREDS_FILE,
    KB_NATS_USER,
    KB_NATS_PASSWORD_FILE,
    KB_NATS_CA_FILE,
  } = RUNTIME_ENV;
  return await natsConnectionOptions(loadEnv({
    KB_NATS_IDENTITY,
    KB_NATS_NKEY_FILE,
    KB_NATS_CREDS_FILE,
    KB_NATS_USER,
    KB_NATS_PASSWORD_FILE,
    KB_NATS_CA_FILE,
  }, env));
}
