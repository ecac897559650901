/**
 * Every actor of the pipeline by name, each loaded on demand: `deno task actor <name>`
 * imports only the module of the actor it runs (a process that loaded every actor's
 * dependencies — Kafka clients, the classifier's model, database drivers — started at
 * ~130 MiB; one actor's share is much less). Adding an actor = one folder under
 * `actors/` + one line here.
 *
 * @module
 */
import type { ActorDefinition } from "./runtime/actor.ts";

/** Actor name → loader of its definition. */
export const ACTOR_LOADERS: Readonly<Record<string, () => Promise<ActorDefinition>>> = {
  echo: async () => (await import("./echo/mod.ts")).echoActor as unknown as ActorDefinition,
  "hopskotch-outbound": async () =>
    (await import("../gateway/hopskotch/outbound.ts")).outboundActor as unknown as ActorDefinition,
  archiver: async () => (await import("./archiver/archiver.ts")).archiverActor,
  "results-publisher": async () =>
    (await import("./results_publisher/publisher.ts")).resultsPublisherActor,
  classifier: async () =>
    (await import("./classifier/actor.ts")).classifierActor as unknown as ActorDefinition,
};

/** Loads every actor's definition (tools and tests that need them all). */
export async function loadAllActors(): Promise<Record<string, ActorDefinition>> {
  const out: Record<string, ActorDefinition> = {};
  for (const [name, load] of Object.entries(ACTOR_LOADERS)) {
    const def = await load();
    if (def.name !== name) {
      throw new Error(
        `actors/loaders.ts: the loader under "${name}" gives actor "${def.name}"; ` +
          `name the entry after the actor's definition`,
      );
    }
    out[name] = def;
  }
  return out;
}
