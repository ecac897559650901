/**
 * hop-client's credential file, `auth.toml` (`[[auth]]` entries with username,
 * password, hostname, protocol, mechanism, ssl_ca_location), and its rule for
 * picking the credential of a broker: an entry whose hostname matches the
 * broker (port 9092 implied when one side has none) wins over entries without
 * a hostname; the URL's user name, when given, must match; more than one match
 * is an error asking for the user name in the URL.
 *
 * @module
 */
import { parse } from "smol-toml";

/** SASL mechanisms hop-client's credentials name (dashes or underscores). */
export type SaslMechanism = "SCRAM-SHA-512" | "SCRAM-SHA-256" | "PLAIN";

/** Kafka security protocols. */
export type SecurityProtocol = "PLAINTEXT" | "SSL" | "SASL_PLAINTEXT" | "SASL_SSL";

/** One credential. */
export interface HopCredential {
  readonly username: string;
  readonly password: string;
  /** `host[:port]` the credential is for; empty when for any host. */
  readonly hostname: string;
  readonly protocol: SecurityProtocol;
  readonly mechanism: SaslMechanism;
  /** CA bundle for TLS, when the broker's certificate is not publicly trusted. */
  readonly caFile?: string;
}

/** Parses auth.toml text (old single-table files too, as hop does). */
export function parseAuthToml(text: string, source = "auth.toml"): HopCredential[] {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${source} is not valid TOML: ${(err as Error).message}`);
  }
  const raw = doc.auth;
  if (raw === undefined) throw new Error(`${source} has no [[auth]] section`);
  const entries = Array.isArray(raw) ? raw : [raw];
  return entries.map((e, i) => {
    const entry = e as Record<string, unknown>;
    const where = `${source} [[auth]] entry ${i + 1}`;
    if (typeof entry.username !== "string" || typeof entry.password !== "string") {
      throw new Error(`${where}: username and password are required`);
    }
    const mech = String(entry.mechanism ?? "SCRAM_SHA_512").toUpperCase().replaceAll("_", "-");
    if (mech !== "SCRAM-SHA-512" && mech !== "SCRAM-SHA-256" && mech !== "PLAIN") {
      throw new Error(
        `${where}: mechanism "${entry.mechanism}" is not supported (SCRAM_SHA_512, SCRAM_SHA_256, PLAIN)`,
      );
    }
    // hop: SASL_PLAINTEXT disables TLS; anything else means SASL_SSL.
    const protocol: SecurityProtocol = entry.protocol === "SASL_PLAINTEXT"
      ? "SASL_PLAINTEXT"
      : "SASL_SSL";
    return {
      username: entry.username,
      password: entry.password,
      hostname: typeof entry.hostname === "string" ? entry.hostname : "",
      protocol,
      mechanism: mech,
      caFile: typeof entry.ssl_ca_location === "string" ? entry.ssl_ca_location : undefined,
    };
  });
}

function splitHostPort(h: string): [string, string | undefined] {
  const m = /^(.*):(\d+)$/.exec(h);
  return m ? [m[1], m[2]] : [h, undefined];
}

/** Picks the credential for `broker` (and `username` when given), as hop does. */
export function selectCredential(
  creds: readonly HopCredential[],
  broker: string,
  username?: string,
): HopCredential {
  const [host, port] = splitHostPort(broker);
  const exact: HopCredential[] = [];
  const loose: HopCredential[] = [];
  for (const c of creds) {
    if (username !== undefined && c.username !== username) continue;
    if (!c.hostname) {
      loose.push(c);
      continue;
    }
    const [ch, cp] = splitHostPort(c.hostname);
    if ((port === undefined) === (cp === undefined)) {
      if (c.hostname === broker) exact.push(c);
    } else if (ch === host && (port === "9092" || cp === "9092")) exact.push(c);
  }
  const matches = exact.length ? exact : loose;
  const who = username ? ` with username '${username}'` : "";
  if (!matches.length) throw new Error(`no credential in auth.toml for '${broker}'${who}`);
  if (matches.length > 1) {
    throw new Error(
      `several credentials in auth.toml match '${broker}'${who} (` +
        matches.map((m) => m.username).join(", ") +
        `): put the user name in the URL, kafka://<user>@${broker}/<topics>`,
    );
  }
  return matches[0];
}

/** Where hop-client looks for auth.toml: `$XDG_CONFIG_HOME/hop/auth.toml`, else `~/.config/hop/auth.toml`. */
export function defaultAuthPath(env: Record<string, string | undefined>): string | undefined {
  const base = env.XDG_CONFIG_HOME ?? (env.HOME ? `${env.HOME}/.config` : undefined);
  return base ? `${base}/hop/auth.toml` : undefined;
}
