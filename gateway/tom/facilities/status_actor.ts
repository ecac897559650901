/**
 * The TOM's observation-status actor: a durable consumer (`tom-observations`)
 * of facility status events updating ObservationRecords. An event for a record
 * the TOM does not know (yet) is retried (the submission may still be
 * committing), then dead-lettered; one that arrives before the facility's id is
 * recorded is matched by the request-group name (`kb-<record id>`).
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
      // By the facility's id, or — when the event outruns the recording of that id after
      // submission — by the request-group name the TOM submitted under (`kb-<record id>`).
      const [known] = await sql<{ id: number; observation_id: string | null }[]>`
        select id, observation_id from tom_observation_records
        where facility = ${e.facility} and (observation_id = ${e.observation_id}
          or (observation_id is null and 'kb-' || id::text = ${e.name}))`;
      if (!known) {
        throw new Error(
          `no ObservationRecord for ${e.facility} request group ${e.observation_id} (yet): retrying`,
        );
      }
      if (known.observation_id === null) {
        await sql`update tom_observation_records set observation_id = ${e.observation_id}
          where id = ${known.id} and observation_id is null`;
      }
      const changed = await applyState(sql, { id: Number(known.id) }, e.state, e.detail, "event");
      ctx.log.debug("observation status", { id: e.observation_id, state: e.state, changed });
    },
  });
}
