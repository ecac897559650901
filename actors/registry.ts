/**
 * Every actor of the pipeline by name, loaded (for tools, tests and the demo that
 * need them all). A process running one actor imports `./loaders.ts` instead, so
 * that it loads only that actor's code. The list itself lives in `./loaders.ts`.
 *
 * @module
 */
import type { ActorDefinition } from "./runtime/actor.ts";
import { loadAllActors } from "./loaders.ts";

export { ACTOR_LOADERS, loadAllActors } from "./loaders.ts";

/** Actors by name. */
export const ACTORS: Record<string, ActorDefinition> = await loadAllActors();
