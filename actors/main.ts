/**
 * `deno task actor <name>`: runs one actor as its own process, configured by
 * `KB_*` environment variables (see docs/runtime.md). This is what each
 * Kubernetes replica runs. `deno task actor <name>,<name>...` runs several in
 * one process (one NATS connection, one ops port; each keeps its own durable
 * consumer), for a small node or a laptop; not faster on the bench's machine
 * (docs/performance.md, "Per message, not per alert").
 *
 * @module
 */
import { ConfigError, loadRuntimeConfig } from "./runtime/config.ts";
import { startHost } from "./runtime/host.ts";
import { ACTOR_LOADERS } from "./loaders.ts";

if (import.meta.main) {
  const names = (Deno.args[0] ?? "").split(",").map((n) => n.trim()).filter(Boolean);
  const unknown = names.filter((n) => !ACTOR_LOADERS[n]);
  if (!names.length || unknown.length || new Set(names).size !== names.length) {
    console.error(
      `usage: deno task actor <name>[,<name>...]\n` +
        (unknown.length ? `unknown actor ${unknown.map((n) => `"${n}"`).join(", ")}. ` : "") +
        (names.length && !unknown.length ? "an actor is named twice. " : "") +
        `Actors: ${Object.keys(ACTOR_LOADERS).sort().join(", ")}`,
    );
    Deno.exit(2);
  }
  const name = names.join(",");
  const defs = await Promise.all(names.map((n) => ACTOR_LOADERS[n]()));
  let config;
  try {
    config = loadRuntimeConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`actor ${name}: ${err.message}`);
      Deno.exit(2);
    }
    throw err;
  }
  try {
    await startHost(defs, config, { handleSignals: true });
  } catch (err) {
    console.error(`actor ${name} could not start: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
