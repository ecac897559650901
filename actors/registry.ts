/**
 * Every actor of the pipeline by name: `deno task actor <name>` runs one, the
 * demo runs them all. Adding an actor = one folder under `actors/` + one line here.
 *
 * @module
 */
import type { ActorDefinition } from "./runtime/actor.ts";
import { echoActor } from "./echo/mod.ts";
import { outboundActor } from "../gateway/hopskotch/outbound.ts";
import { archiverActor } from "./archiver/archiver.ts";
import { resultsPublisherActor } from "./results_publisher/publisher.ts";
import { classifierActor } from "./classifier/actor.ts";

/** Actors by name. */
export const ACTORS: Record<string, ActorDefinition> = {
  [echoActor.name]: echoActor as unknown as ActorDefinition,
  [outboundActor.name]: outboundActor as unknown as ActorDefinition,
  [archiverActor.name]: archiverActor,
  [resultsPublisherActor.name]: resultsPublisherActor,
  [classifierActor.name]: classifierActor as unknown as ActorDefinition,
};
