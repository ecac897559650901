/**
 * A private NATS, PostgreSQL and Kafka for one suite, started with the same
 * `deploy/local/` scripts as the shared servers but on their own ports and in
 * their own folder (`.local/e2e/<name>/`), so a suite may restart them without
 * touching the servers other tests share. Fresh on every start (the folder is
 * wiped), removed again by {@link PrivateStack.destroy}.
 *
 * @module
 */

import { natsConnectionOptions } from "../actors/runtime/nats_auth.ts";
import { NatsTransport } from "../actors/runtime/nats_transport.ts";

const ROOT = new URL("../", import.meta.url);

/** The servers a private stack runs, in start order. */
export const PRIVATE_SERVICES = ["nats", "postgres", "kafka"] as const;
/** One of {@link PRIVATE_SERVICES}. */
export type PrivateService = typeof PRIVATE_SERVICES[number];

/** A running private stack. */
export interface PrivateStack {
  /** The `export` lines of every script's `env` verb, parsed (KB_NATS_URL, KB_DATABASE_URL, ...). */
  readonly env: Readonly<Record<string, string>>;
  /** Restarts one server (its data is kept); resolves with how long it took, ms. */
  restart(service: PrivateService): Promise<number>;
  /** Stops every server and deletes the folder. */
  destroy(): Promise<void>;
}

/**
 * The overrides that move the scripts to ports `base`…`base + 6` and to
 * `.local/e2e/<name>/`. Kafka gets a small heap and no class-data-sharing
 * archive (the shared broker maps the default one).
 */
export function privateOverrides(name: string, base: number): Record<string, string> {
  const dir = new URL(`.local/e2e/${name}/`, ROOT).pathname;
  return {
    KB_NATS_PORT: String(base),
    KB_NATS_MONITOR_PORT: String(base + 1),
    KB_NATS_DIR: `${dir}nats`,
    KB_NATS_CONTEXT: "",
    KB_PG_PORT: String(base + 2),
    KB_PG_DIR: `${dir}postgres`,
    KB_KAFKA_PORT: String(base + 3),
    KB_KAFKA_SASL_PORT: String(base + 4),
    KB_KAFKA_SSL_PORT: String(base + 5),
    KB_KAFKA_CONTROLLER_PORT: String(base + 6),
    KB_KAFKA_STATE_DIR: `${dir}kafka`,
    KB_KAFKA_CDS: "0",
    KB_KAFKA_HEAP_OPTS: "-Xms128m -Xmx384m",
  };
}

async function script(
  service: PrivateService,
  verb: string,
  overrides: Record<string, string>,
): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: [`deploy/local/${service}.sh`, verb],
    cwd: ROOT,
    env: overrides,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `deploy/local/${service}.sh ${verb} (private, ${JSON.stringify(overrides)}) failed:\n` +
        dec.decode(out.stderr).slice(-3000),
    );
  }
  return dec.decode(out.stdout);
}

/** Connects the suite itself to a stack's NATS (as the harness identity when auth is on). */
export async function connectStackNats(
  env: Readonly<Record<string, string>>,
  name: string,
): Promise<NatsTransport> {
  return await NatsTransport.connect({
    servers: env.KB_NATS_URL,
    name,
    connection: await natsConnectionOptions({ KB_NATS_NKEY_FILE: env.KB_NATS_NKEY_FILE }),
  });
}

/** True when nothing listens on 127.0.0.1 ports `base`…`base + n - 1`. */
function portsFree(base: number, n: number): boolean {
  for (let p = base; p < base + n; p++) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port: p }).close();
    } catch {
      return false;
    }
  }
  return true;
}

/** Parses `export NAME=value` lines. */
export function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2].replace(/^'(.*)'$/, "$1").replace(/^"(.*)"$/, "$1");
  }
  return env;
}

/**
 * Starts a fresh private stack named `name` on ports `preferredBase`…`+ 6` (all
 * of {@link PRIVATE_SERVICES}, or the ones listed), or on the next free block
 * (`+ 100`, `+ 200`, …) when another run holds them; its files are in
 * `.local/e2e/<name>-<base>/`.
 */
export async function startPrivateStack(
  name: string,
  preferredBase: number,
  services: readonly PrivateService[] = PRIVATE_SERVICES,
): Promise<PrivateStack> {
  // Another run of the same suite (a second checkout's, or a colleague's `deno task test` in
  // this one) may hold the preferred ports: then take the next free block of seven.
  let base = preferredBase;
  for (let i = 0; i < 20 && !portsFree(base, 7); i++) base += 100;
  name = `${name}-${base}`;
  const overrides = privateOverrides(name, base);
  const dir = new URL(`.local/e2e/${name}/`, ROOT);
  const stopAll = async () => {
    for (const s of [...services].reverse()) {
      await script(s, "stop", overrides).catch((err) => console.error(String(err)));
    }
  };
  // A previous run that died may have left servers running: stop them, then start clean.
  await stopAll();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const env: Record<string, string> = {};
  try {
    for (const s of services) {
      await script(s, "start", overrides);
      Object.assign(env, parseExports(await script(s, "env", overrides)));
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    env,
    async restart(service) {
      const t0 = performance.now();
      await script(service, "restart", overrides);
      return performance.now() - t0;
    },
    async destroy() {
      await stopAll();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
