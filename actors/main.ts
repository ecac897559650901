/**
 * `deno task actor <name>`: runs one actor as its own process, configured by
 * `KB_*` environment variables (see docs/runtime.md). This is what each
 * Kubernetes replica runs.
 *
 * @module
 */
import { ConfigError, loadRuntimeConfig } from "./runtime/config.ts";
import { startHost } from "./runtime/host.ts";
import { ACTOR_LOADERS } from "./loaders.ts";

if (import.meta.main) {
  const name = Deno.args[0];
  const load = name ? ACTOR_LOADERS[name] : undefined;
  if (!load) {
    console.error(
      `usage: deno task actor <name>\n` +
        (name ? `unknown actor "${name}". ` : "") +
        `Actors: ${Object.keys(ACTOR_LOADERS).sort().join(", ")}`,
    );
    Deno.exit(2);
  }
  const def = await load();
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
    await startHost([def], config, { handleSignals: true });
  } catch (err) {
    console.error(`actor ${name} could not start: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
