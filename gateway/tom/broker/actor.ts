/**
 * The TOM's alert-broker module as an actor: a durable JetStream consumer
 * (`tom`) of the derived-alert channel. Each alert becomes or updates targets
 * ({@link ingestDerivedAlert}); a database error is thrown, so the runtime
 * retries the delivery with back-off and dead-letters it after the last attempt.
 *
 * @module
 */
import { CHANNELS } from "../../../contracts/messages.ts";
import { type ActorDefinition, defineActor } from "../../../actors/runtime/actor.ts";
import type { Sql } from "../../../db/mod.ts";
import { refreshEventSummary } from "./events.ts";
import {
  DEFAULT_INGEST,
  ingestDerivedAlert,
  type IngestedTarget,
  type IngestOptions,
} from "./ingest.ts";
import type { DerivedAlert } from "../../../contracts/messages.ts";

/** Called after an alert is filed (the observation strategy, issue 9). */
export type FollowUp = (alert: DerivedAlert, filed: readonly IngestedTarget[]) => Promise<void>;

/** Name of the actor (its durable consumer, micro service and dead-letter subject). */
export const TOM_ACTOR = "tom";

/** The broker-module actor writing to `sql`. */
export function tomBrokerActor(
  sql: Sql,
  options: IngestOptions = DEFAULT_INGEST,
  followUp?: FollowUp,
): ActorDefinition<typeof CHANNELS.derivedAlerts> {
  return defineActor({
    name: TOM_ACTOR,
    description: "TOM alert-broker module: derived alerts → targets with score history",
    version: "1.0.0",
    input: CHANNELS.derivedAlerts,
    outputs: [],
    tuning: { maxInFlight: 8 },
    async handler(msg, ctx) {
      const alert = msg.data.content;
      const filed = await ingestDerivedAlert(sql, alert, options, msg.id);
      const eventId = alert.data.event_id;
      if (eventId !== "" && filed.some((f) => f.matchedBy !== "already")) {
        try {
          await refreshEventSummary(sql, eventId);
        } catch (err) {
          // The targets are filed; a sky map the TOM cannot read must not block them.
          ctx.log.warn("event summary not updated", {
            event: eventId,
            error: (err as Error).message,
          });
        }
      }
      ctx.log.debug("derived alert filed", { result: alert.data.result_id, filed });
      if (followUp) await followUp(alert, filed);
    },
  });
}
