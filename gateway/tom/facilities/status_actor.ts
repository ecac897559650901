/**
 * The TOM's observation-status actor: a durable consumer (`tom-observations`)
 * of facility status events updating ObservationRecords. An event for a record
 * the TOM does not know (yet) is retried (the submission may still be
 * committing), then dead-lettered.
 *
 * @module
 */
import { CHANNELS } from "../../../contracts/messages.ts";
import { type ActorDefinition, defineActor } from "../../../actors/runtime/actor.ts";
import type { Sql } from "../../../db/mod.ts";
import { applyState } from "./records.ts";

/** Name of the actor. */
export const TOM_OBSERVATIONS_ACTOR = "tom-observations";

/** The status actor writing to `sql`. */
export function tomObservationsActor(sql: Sql): ActorDefinition<typeof CHANNELS.observationStatus> {
  return defineActor({
    name: TOM_OBSERVATIONS_ACTOR,
    description: "TOM: facility status events → ObservationRecord states",
    version: "1.0.0",
    input: CHANNELS.observationStatus,
    outputs: [],
    async handler(msg, ctx) {
      const e = msg.data;
      const [known] = await sql<{ id: number }[]>`select id from tom_observation_records
        where facility = ${e.facility} and observation_id = ${e.observation_id}`;
      if (!known) {
        throw new Error(
          `no ObservationRecord for ${e.facility} request group ${e.observation_id} (yet): retrying`,
        );
      }
      const changed = await applyState(
        sql,
        { facility: e.facility, observationId: e.observation_id },
        e.state,
        e.detail,
        "event",
      );
      ctx.log.debug("observation status", { id: e.observation_id, state: e.state, changed });
    },
  });
}
