/**
 * Helpers for tests of actors and transports: real-server addresses from the
 * environment the test command sets, polling with deadlines, unique names.
 *
 * @module
 */
import { NatsTransport } from "./nats_transport.ts";
import { natsConnectionOptions, natsConnectionOptionsFromEnv } from "./nats_auth.ts";
import { ADMIN_IDENTITY, identityForProcess, seedFileName } from "../../deploy/nats/identities.ts";

/**
 * The real NATS server's URL. Tests that claim NATS behaviour call this; it fails
 * (never skips) when the test command did not start the local stack.
 */
export function natsUrl(): string {
  const url = Deno.env.get("KB_NATS_URL");
  if (!url) {
    throw new Error(
      "KB_NATS_URL is not set: run the suite with `./kb task test`, which starts the local " +
        "servers, or start them with `bash deploy/local/stack.sh up` and " +
        '`eval "$(bash deploy/local/stack.sh env)"`',
    );
  }
  return url;
}

/**
 * Connects a transport to the real NATS server as the test harness: the
 * identity the local stack's environment names (`KB_NATS_NKEY_FILE`, the
 * `admin` identity of deploy/nats), which may do everything tests do.
 */
export async function connectTestNats(name = "kb-test"): Promise<NatsTransport> {
  const seed = adminSeedFile();
  return await NatsTransport.connect({
    servers: natsUrl(),
    name,
    connection: await natsConnectionOptionsFromEnv({
      ...Deno.env.toObject(),
      ...(seed ? { KB_NATS_NKEY_FILE: seed } : {}),
    }),
  });
}

/**
 * The local stack's identities directory: `KB_NATS_AUTH_DIR`, else
 * `.local/nats-auth` when the local server at {@link natsUrl} runs with auth
 * (an environment evaluated before it was switched on still works).
 */
export function localAuthDir(): string | undefined {
  const dir = Deno.env.get("KB_NATS_AUTH_DIR");
  if (dir) return dir;
  try {
    const conf = Deno.readTextFileSync(new URL(".local/nats/nats.conf", ROOT));
    const port = new URL(natsUrl().split(",")[0].replace(/^nats:/, "http:")).port;
    if (conf.includes("authorization {") && conf.includes(`listen: "127.0.0.1:${port}"`)) {
      return new URL(".local/nats-auth", ROOT).pathname;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return undefined;
}

/** The test harness's seed: `KB_NATS_NKEY_FILE`, else the local stack's `admin` identity. */
function adminSeedFile(): string | undefined {
  const explicit = Deno.env.get("KB_NATS_NKEY_FILE");
  if (explicit) return explicit;
  const dir = localAuthDir();
  return dir ? `${dir}/${seedFileName(ADMIN_IDENTITY)}` : undefined;
}

/**
 * The variables that make a process connect as `identity` (deploy/nats) on the
 * local stack: its seed file under `KB_NATS_AUTH_DIR` and its inbox prefix.
 * Empty when the local NATS runs without authentication (no KB_NATS_AUTH_DIR).
 */
export function natsIdentityEnv(identity: string): Record<string, string> {
  const dir = localAuthDir();
  if (!dir) return {};
  return { KB_NATS_IDENTITY: identity, KB_NATS_NKEY_FILE: `${dir}/${seedFileName(identity)}` };
}

/** Connects a transport to the real NATS server as `identity` (permission tests). */
export async function connectNatsAs(identity: string, name = `kb-test-${identity}`) {
  const env = natsIdentityEnv(identity);
  return await NatsTransport.connect({
    servers: natsUrl(),
    name,
    connection: await natsConnectionOptions(env),
  });
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A short random token for unique stream and subject names. */
export function uniqueToken(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 10);
}

/** A project process started by a test, reading its JSON log lines. */
export interface SpawnedProcess<T> {
  readonly child: Deno.ChildProcess;
  /** What the process reported when it became ready (e.g. its port). */
  readonly ready: T;
  /** Log lines so far (JSON objects; other lines as `{ raw }`). */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the exit status once its output is read. */
  readonly status: Promise<Deno.CommandStatus>;
  kill(signal: Deno.Signal): void;
}

const ROOT = new URL("../../", import.meta.url);

/**
 * Starts `deno run -A <args>` in the repository with the runtime's test
 * defaults (NATS transport, operations server on a free port) and waits until
 * `readyWhen` recognises a log line, failing with the logs if the process exits
 * first or `timeoutMs` passes. The process connects to NATS as its own
 * restricted identity (`identity`, else the one deploy/nats/identities.ts
 * gives its script) unless `env` names a credential itself.
 */
export async function spawnProcess<T>(options: {
  readonly name: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly readyWhen: (entry: Record<string, unknown>) => T | undefined;
  readonly timeoutMs?: number;
  /** NATS identity (default: from the script, e.g. `actors/main.ts <actor>` runs as `<actor>`). */
  readonly identity?: string;
  /** Flags for `deno run` before the script (e.g. `--inspect=...`, `--v8-flags=...`). */
  readonly denoFlags?: readonly string[];
}): Promise<SpawnedProcess<T>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const identity = options.identity ?? identityForProcess(options.args);
  const ownCredential = ["KB_NATS_NKEY_FILE", "KB_NATS_CREDS_FILE", "KB_NATS_USER"]
    .some((k) => k in options.env);
  // A credential the caller names replaces the inherited one (empty = unset).
  const identityEnv = ownCredential
    ? { KB_NATS_NKEY_FILE: "", KB_NATS_CREDS_FILE: "", KB_NATS_USER: "" }
    : identity
    ? natsIdentityEnv(identity)
    : {};
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...(options.denoFlags ?? []), ...options.args],
    cwd: ROOT,
    env: {
      KB_TRANSPORT: "nats",
      KB_HTTP_PORT: "0",
      KB_HTTP_HOST: "127.0.0.1",
      ...identityEnv,
      ...options.env,
    },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs: Record<string, unknown>[] = [];
  let onReady: (value: T) => void = () => {};
  const ready = new Promise<T>((resolve) => (onReady = resolve));
  const pump = (async () => {
    let buf = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line);
        } catch {
          logs.push({ raw: line });
          continue;
        }
        logs.push(entry);
        const value = options.readyWhen(entry);
        if (value !== undefined) onReady(value);
      }
    }
  })();
  const status = child.status.then(async (s) => {
    await pump;
    return s;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const value = await Promise.race([
      ready,
      status.then((s) => {
        throw new Error(
          `${options.name} exited with code ${s.code} before it was ready:\n` +
            logs.map((l) => JSON.stringify(l)).join("\n"),
        );
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${options.name} not ready after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return { child, ready: value, logs, status, kill: (signal) => child.kill(signal) };
  } finally {
    clearTimeout(timer);
  }
}

/** A replica started as its own process with `deno run actors/main.ts <name>`. */
export interface SpawnedActor extends SpawnedProcess<number> {
  /** Port of its /healthz /readyz /metrics server. */
  readonly port: number;
}

/** Starts one actor process and waits until it reports ready. */
export async function spawnActor(
  name: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<SpawnedActor> {
  const p = await spawnProcess({
    name: `actor ${name}`,
    args: ["actors/main.ts", name],
    env,
    readyWhen: (e) => (e.msg === "host ready" ? Number(e.opsPort) : undefined),
    timeoutMs,
  });
  return { ...p, port: p.ready };
}

/** Runs the NATS CLI against the test server and parses its JSON output. */
export async function natsCli(args: string[]): Promise<unknown> {
  const bin = new URL(".tools/bin/nats", ROOT).pathname;
  const nkey = adminSeedFile();
  const out = await new Deno.Command(bin, {
    args: ["--server", natsUrl(), ...(nkey ? ["--nkey", nkey] : []), ...args, "--json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`nats ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(text);
}

/** A nats-server of a test's own (its own port and JetStream store). */
export interface PrivateNats {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts a private nats-server (the binary `deploy/local/nats.sh` installs) with
 * JetStream on a free port and a temporary store — for tests that need the
 * pipeline's fixed stream and consumer names to themselves while other tests
 * share the local server. `stop()` ends it and removes its store.
 */
export async function startPrivateNats(): Promise<PrivateNats> {
  const bin = new URL(".tools/bin/nats-server", ROOT).pathname;
  const dir = await Deno.makeTempDir({ prefix: "kb-nats-" });
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(bin, {
      args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(
      `cannot start ${bin} (${(err as Error).message}): run \`bash deploy/local/nats.sh install\``,
    );
  }
  const url = `nats://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited: its status is awaited below */ }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitFor(
      `a private nats-server on ${url}`,
      async () => {
        const t = await NatsTransport.connect({ servers: url, name: "kb-probe" });
        await t.ensureStream({
          name: "KB_PROBE",
          subjects: ["kb-probe.>"],
          description: "start-up probe",
          maxAgeMs: 60_000,
          duplicateWindowMs: 1_000,
        });
        await t.deleteStream("KB_PROBE");
        await t.close();
        return true;
      },
      20_000,
      100,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}
