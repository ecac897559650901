/**
 * A private nats-server with the generated authorization, for tests that check
 * permissions without touching the shared server's streams: fresh nkeys in a
 * temporary directory, the identities of `permissions.ts`, JetStream on.
 *
 * @module
 */
import { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import { natsConnectionOptions } from "../../actors/runtime/nats_auth.ts";
import { waitFor } from "../../actors/runtime/testing.ts";
import { seedFileName } from "./identities.ts";
import { ensureSeeds } from "./keys.ts";
import { natsIdentities } from "./permissions.ts";
import { renderServerAuth } from "./render.ts";

/** A running private server. */
export interface AuthNats {
  readonly url: string;
  readonly monitorUrl: string;
  /** Directory of the seeds (`<identity>.nk`). */
  readonly dir: string;
  /** Variables making a process connect as `identity`. */
  env(identity: string): Record<string, string>;
  /** A transport connected as `identity`. */
  connectAs(identity: string): Promise<NatsTransport>;
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts nats-server (`.tools/bin`, installed by deploy/local/nats.sh) with auth on. */
export async function startAuthNats(): Promise<AuthNats> {
  const root = new URL("../../", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "kb-nats-auth-" });
  const identities = natsIdentities();
  const keys = await ensureSeeds(`${dir}/auth`, identities.map((i) => i.name));
  const port = freePort();
  const http = freePort();
  await Deno.writeTextFile(
    `${dir}/nats.conf`,
    [
      `listen: "127.0.0.1:${port}"`,
      `http: "127.0.0.1:${http}"`,
      `jetstream { store_dir: "${dir}/data" }`,
      renderServerAuth(identities, keys),
    ].join("\n"),
  );
  const child = new Deno.Command(`${root}.tools/bin/nats-server`, {
    args: ["-c", `${dir}/nats.conf`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  const pump = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log.push(chunk);
  })();
  const monitorUrl = `http://127.0.0.1:${http}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* exited already; its status is awaited below */ }
    await child.status;
    await pump;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitFor(
      `private nats-server on ${port}`,
      async () => {
        const r = await fetch(`${monitorUrl}/healthz?js-enabled-only=true`);
        await r.body?.cancel();
        return r.ok;
      },
      20_000,
      50,
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${log.join("")}`);
  }
  const env = (identity: string) => ({
    KB_NATS_URL: `nats://127.0.0.1:${port}`,
    KB_NATS_IDENTITY: identity,
    KB_NATS_NKEY_FILE: `${dir}/auth/${seedFileName(identity)}`,
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    monitorUrl,
    dir: `${dir}/auth`,
    env,
    connectAs: async (identity) =>
      await NatsTransport.connect({
        servers: `nats://127.0.0.1:${port}`,
        name: `kb-test-${identity}`,
        connection: await natsConnectionOptions(env(identity)),
      }),
    stop,
  };
}
