/**
 * Names of the NATS identities (one per kind of process) and where their
 * credentials live. Deliberately free of heavy imports: test helpers and
 * scripts use it to pick the identity of a process they start; the
 * permissions themselves are derived in `permissions.ts`.
 *
 * An actor process (`deno task actor <name>`) runs as the identity named like
 * the actor. The other processes have fixed identities, listed here.
 *
 * @module
 */

/** Operators and test harnesses: every subject of the broker account. Never mounted on a workload. */
export const ADMIN_IDENTITY = "admin";
/** Monitoring: a user of the NATS system account (`nats server report ...`). */
export const MONITOR_IDENTITY = "monitor";
/** The Hopskotch inbound gateway (Kafka → NATS). */
export const INBOUND_IDENTITY = "hopskotch-inbound";
/** The TOM: its broker module and observation-status actors. */
export const TOM_IDENTITY = "tom";
/** The source publisher (`deno task replay --sink nats`). */
export const REPLAY_IDENTITY = "replay";
/** The simulated observatory. */
export const OBSERVATORY_IDENTITY = "observatory";

/** Entry points that are not `actors/main.ts <actor>`, with the identity they run as. */
export const ENTRYPOINT_IDENTITIES: Readonly<Record<string, string>> = {
  "gateway/hopskotch/inbound_main.ts": INBOUND_IDENTITY,
  "gateway/tom/main.ts": TOM_IDENTITY,
  "actors/source_publisher/main.ts": REPLAY_IDENTITY,
  "actors/observatory/main.ts": OBSERVATORY_IDENTITY,
};

/**
 * The identity a project process runs as, from its `deno run` arguments
 * (script first), or `undefined` for a script this table does not know.
 */
export function identityForProcess(args: readonly string[]): string | undefined {
  const at = args.findIndex((a) => a.endsWith(".ts"));
  if (at < 0) return undefined;
  const script = args[at].replace(/^\.\//, "");
  if (script === "actors/main.ts") {
    const name = args[at + 1];
    return name && !name.startsWith("-") ? name : undefined;
  }
  return ENTRYPOINT_IDENTITIES[script];
}

/**
 * The inbox prefix of an identity: its replies (JetStream API answers, pulled
 * messages, publish acknowledgements) arrive under `<prefix>.>`, and only it
 * may subscribe there — so no identity can read another's deliveries.
 */
export function inboxPrefix(identity: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(identity)) {
    throw new Error(`"${identity}" is not an identity name: use letters, digits, '_' or '-'`);
  }
  return `_INBOX_${identity}`;
}

/** File name of an identity's nkey seed in a credentials directory (`<identity>.nk`). */
export function seedFileName(identity: string): string {
  inboxPrefix(identity);
  return `${identity}.nk`;
}
