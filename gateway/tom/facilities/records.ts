/**
 * ObservationRecords: the TOM's copy of each request's state, updated from
 * facility status events (exactly-once per state: a state already recorded is
 * skipped) and by reconciliation (which asks the facility for every open record).
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import type { ObservationState } from "../../../contracts/messages.ts";
import type { Facility } from "./facility.ts";
import { TERMINAL_STATES } from "./ocs.ts";

/** An ObservationRecord row. */
export interface ObservationRecord {
  id: number;
  target_id: number;
  facility: string;
  observation_id: string | null;
  status: string;
  terminal: boolean;
  parameters: unknown;
  requested_by: string;
  rule: string | null;
  trigger_result_id: string | null;
  trigger_score: number | null;
  event_id: string | null;
  detail: string;
  created: Date;
  modified: Date;
}

/**
 * Sets a record's state from the facility (`event`, `reconcile`, `submit` or
 * `cancel`). A terminal record never changes. Returns true when it changed.
 */
export async function applyState(
  sql: Sql,
  where: { id: number } | { facility: string; observationId: string },
  state: ObservationState | "REJECTED",
  detail: string,
  source: "submit" | "event" | "reconcile" | "cancel",
): Promise<boolean> {
  const terminal = state === "REJECTED" || TERMINAL_STATES.includes(state);
  const match = "id" in where
    ? sql`id = ${where.id}`
    : sql`facility = ${where.facility} and observation_id = ${where.observationId}`;
  // One statement: the record's state and its history row change together, so
  // a reader never sees a status its history lacks, nor a crash split them.
  const rows = await sql<{ id: number }[]>`with changed as (
      update tom_observation_records
      set status = ${state}, terminal = ${terminal}, detail = ${detail}, modified = now()
      where ${match} and not terminal and status <> ${state} returning id
    ), history as (
      insert into tom_observation_states (record_id, status, detail, source)
      select id, ${state}, ${detail}, ${source} from changed on conflict do nothing
    )
    select id from changed`;
  return rows.length > 0;
}

/** Asks the facilities for every open submitted record; returns how many changed. */
export async function reconcile(
  sql: Sql,
  facilities: ReadonlyMap<string, Facility>,
  log: { warn(msg: string, f?: Record<string, unknown>): void },
): Promise<number> {
  const open = await sql<{ id: number; facility: string; observation_id: string }[]>`
    select id, facility, observation_id from tom_observation_records
    where not terminal and observation_id is not null order by modified limit 500`;
  let changed = 0;
  for (const r of open) {
    const f = facilities.get(r.facility);
    if (!f) continue;
    try {
      const s = await f.status(r.observation_id);
      if (await applyState(sql, { id: Number(r.id) }, s.state, "reconciled", "reconcile")) {
        changed++;
      }
    } catch (err) {
      log.warn("reconciliation of an observation failed; next round retries", {
        record: r.id,
        error: (err as Error).message,
      });
    }
  }
  return changed;
}

/** Runs {@link reconcile} every `everyMs`; returns a stop function. */
export function startReconciliation(
  sql: Sql,
  facilities: ReadonlyMap<string, Facility>,
  everyMs: number,
  log: { warn(msg: string, f?: Record<string, unknown>): void },
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    reconcile(sql, facilities, log).catch((err) =>
      log.warn("reconciliation round failed", { error: (err as Error).message })
    ).finally(() => (running = false));
  }, everyMs);
  return () => clearInterval(timer);
}
