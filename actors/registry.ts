/**
 * Every actor of the pipeline by name: `deno task actor <name>` runs one, the
 * demo runs them all. Adding an actor = one folder under `actors/` + one line here.
 *
 * @module
 */
import type { ActorDefinition } from "./runtime/actor.ts";
import { echoActor } from "./echo/mod.ts";
import { outboundActor } from "../gateway/hopskotch/outbound.ts";

/** Actors by name. */
export const ACTORS: Record<string, ActorDefinition> = {
  [echoActor.name]: echoActor as unknown as ActorDefinition,
  [outboundActor.name]: outboundActor as unknown as ActorDefinition,
};
