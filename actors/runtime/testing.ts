/**
 * Helpers for tests of actors and transports: real-server addresses from the
 * environment the test command sets, polling with deadlines, unique names.
 *
 * @module
 */
import { NatsTransport } from "./nats_transport.ts";

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

/** Connects a transport to the real NATS server. */
export function connectTestNats(name = "kb-test"): Promise<NatsTransport> {
  return NatsTransport.connect({ servers: natsUrl(), name });
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
 * first or `timeoutMs` passes.
 */
export async function spawnProcess<T>(options: {
  readonly name: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly readyWhen: (entry: Record<string, unknown>) => T | undefined;
  readonly timeoutMs?: number;
}): Promise<SpawnedProcess<T>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...options.args],
    cwd: ROOT,
    env: { KB_TRANSPORT: "nats", KB_HTTP_PORT: "0", KB_HTTP_HOST: "127.0.0.1", ...options.env },
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
  const out = await new Deno.Command(bin, {
    args: ["--server", natsUrl(), ...args, "--json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`nats ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(text);
}
