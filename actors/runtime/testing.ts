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
