/**
 * The observation strategy: configurable rules deciding, for each derived
 * alert filed as a target, whether to request follow-up automatically —
 * P(watched class) ≥ threshold, inside the 90% region of a live GW event, not
 * requested for the target in the last N hours, within the event's budget —
 * and with which cadence (e.g. g, r, i every 8 h for 3 days: one request
 * group, one request per epoch; epochs the facility finds unobservable are
 * dropped). Every automatic request is recorded with its rule, the result and
 * the score that triggered it. Idempotent: the record is keyed by (rule,
 * target, result), so a replayed alert finds it and makes no second request.
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import type { DerivedAlert } from "../../../contracts/messages.ts";
import type { Facility, ObservationParameters } from "./facility.ts";
import { FacilityRefusal } from "./facility.ts";
import { applyState } from "./records.ts";
import { auditAutomaticRequest } from "../audit/record.ts";

/** A follow-up rule. */
export interface StrategyRule {
  readonly name: string;
  /** Minimum P(watched class). */
  readonly minScore: number;
  /** The target must be inside this credible level of the event's sky map (0.9 = the 90% region). */
  readonly maxCredibleLevel: number;
  /** The event counts as live this long after its time (sky time), days. */
  readonly liveDays: number;
  /** No second request for a target within this many hours (sky time). */
  readonly cooldownHours: number;
  /** At most this many automatic requests per event. */
  readonly budgetPerEvent: number;
  readonly cadence: { filters: readonly string[]; everyHours: number; forDays: number };
  readonly exposureTimeS: number;
  readonly maxAirmass: number;
  readonly minLunarDistance: number;
}

/** The default rule: P(KN) ≥ 0.5 in the 90% region; g, r, i every 8 h for 3 days. */
export const DEFAULT_RULE: StrategyRule = {
  name: "kilonova-followup",
  minScore: 0.5,
  maxCredibleLevel: 0.9,
  liveDays: 7,
  cooldownHours: 24,
  budgetPerEvent: 10,
  cadence: { filters: ["g", "r", "i"], everyHours: 8, forDays: 3 },
  exposureTimeS: 300,
  maxAirmass: 2,
  minLunarDistance: 30,
};

/** What the strategy decided for one target of one alert. */
export interface Decision {
  readonly action: "requested" | "rejected" | "skipped" | "already";
  readonly reason: string;
  readonly recordId?: number;
}

/**
 * The sky time of an alert: its result's newest detection (the classifier's
 * `t_last_det` feature, days after the event's time, when both are known), else
 * the newest photometry the alert carries, else when it was computed. The
 * feature comes first because the photometry an alert carries is what the
 * archive held when it was built, which during a fast replay can run ahead of
 * what the result was computed from.
 */
export function skyTimeOf(alert: DerivedAlert, eventTime?: Date | null): Date {
  const tLast = alert.data.classification.features.t_last_det;
  if (eventTime && typeof tLast === "number" && Number.isFinite(tLast)) {
    return new Date(eventTime.getTime() + tLast * 86_400_000);
  }
  const mjds = alert.data.photometry.map((p) => p.mjd);
  return mjds.length
    ? new Date((Math.max(...mjds) - 40587) * 86_400_000)
    : new Date(alert.data.classification.computed_at);
}

/** The epochs' windows from `start`. */
export function cadenceWindows(rule: StrategyRule, start: Date): { start: string; end: string }[] {
  const n = Math.max(1, Math.round(rule.cadence.forDays * 24 / rule.cadence.everyHours));
  const step = rule.cadence.everyHours * 3_600_000;
  return Array.from({ length: n }, (_, i) => ({
    start: new Date(start.getTime() + i * step).toISOString(),
    end: new Date(start.getTime() + (i + 1) * step).toISOString(),
  }));
}

/** Applies `rule` to one filed target of an alert. */
export async function applyStrategy(
  sql: Sql,
  facility: Facility,
  rule: StrategyRule,
  alert: DerivedAlert,
  target: { id: number; name: string; ra: number; dec: number },
  score: number | null,
): Promise<Decision> {
  const d = alert.data;
  if (score === null || score < rule.minScore) {
    return { action: "skipped", reason: `score ${score} below ${rule.minScore}` };
  }
  if (d.event_id === "") return { action: "skipped", reason: "not associated with an event" };
  const cl = d.classification.features.credible_level;
  if (cl === undefined || cl === null || cl > rule.maxCredibleLevel) {
    return { action: "skipped", reason: `credible level ${cl} outside ${rule.maxCredibleLevel}` };
  }
  const [ev] = await sql<{ alert_type: string | null; event_time: Date | null }[]>`
    select alert_type, event_time from tom_events where event_id = ${d.event_id}`;
  if (!ev) return { action: "skipped", reason: `event ${d.event_id} unknown to the TOM` };
  const sky = skyTimeOf(alert, ev.event_time);
  if ((ev.alert_type ?? "").toUpperCase() === "RETRACTION") {
    return { action: "skipped", reason: `event ${d.event_id} was retracted` };
  }
  if (ev.event_time && sky.getTime() - ev.event_time.getTime() > rule.liveDays * 86_400_000) {
    return { action: "skipped", reason: `event ${d.event_id} older than ${rule.liveDays} days` };
  }

  const claimed = await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext(${`kb-strategy:${rule.name}:${target.id}`}))`;
    const [same] = await tx<{ id: number; status: string }[]>`
      select id, status from tom_observation_records
      where rule = ${rule.name} and target_id = ${target.id} and trigger_result_id = ${d.result_id}`;
    if (same) return { existing: same };
    const [recent] = await tx<{ id: number }[]>`select id from tom_observation_records
      where rule = ${rule.name} and target_id = ${target.id} and status <> 'REJECTED'
        and trigger_sky_time > ${new Date(sky.getTime() - rule.cooldownHours * 3_600_000)}
      limit 1`;
    if (recent) {
      return { skip: `requested within the last ${rule.cooldownHours} h (record ${recent.id})` };
    }
    const [{ n }] = await tx<{ n: number }[]>`select count(*)::int as n from tom_observation_records
      where rule = ${rule.name} and event_id = ${d.event_id} and status <> 'REJECTED'`;
    if (n >= rule.budgetPerEvent) {
      return { skip: `budget of ${rule.budgetPerEvent} requests for ${d.event_id} spent` };
    }
    const params: ObservationParameters = {
      target: { name: target.name, ra: target.ra, dec: target.dec },
      filters: rule.cadence.filters,
      exposureTimeS: rule.exposureTimeS,
      exposureCount: 1,
      windows: cadenceWindows(rule, sky),
      maxAirmass: rule.maxAirmass,
      minLunarDistance: rule.minLunarDistance,
    };
    const [row] = await tx<{ id: number }[]>`insert into tom_observation_records
      (target_id, facility, parameters, requested_by, rule, trigger_result_id, trigger_score,
       event_id, trigger_sky_time, detail)
      values (${target.id}, ${facility.name}, ${
      tx.json(params as never)
    }, ${`strategy:${rule.name}`},
        ${rule.name}, ${d.result_id}, ${score}, ${d.event_id}, ${sky},
        ${`P=${score.toFixed(3)} ≥ ${rule.minScore}, credible level ${cl.toFixed(3)}`})
      returning id`;
    await auditAutomaticRequest(tx, { rule, recordId: row.id, target, score, alert: d, facility });
    return { created: Number(row.id) };
  });
  if ("skip" in claimed) return { action: "skipped", reason: claimed.skip! };
  if ("existing" in claimed && claimed.existing!.status !== "SUBMITTING") {
    return {
      action: "already",
      reason: "this alert already triggered a request",
      recordId: Number(claimed.existing!.id),
    };
  }
  const recordId = "created" in claimed ? claimed.created! : Number(claimed.existing!.id);
  return await submitRecord(sql, facility, recordId);
}

/**
 * Validates and submits a SUBMITTING record (resumable: the facility returns the
 * existing request for the same name `kb-<record id>`). Unobservable epochs are dropped.
 */
export async function submitRecord(
  sql: Sql,
  facility: Facility,
  recordId: number,
): Promise<Decision> {
  const [rec] = await sql<{ parameters: ObservationParameters }[]>`
    select parameters from tom_observation_records where id = ${recordId}`;
  const params = rec.parameters;
  const v = await facility.validate(params);
  const windows = params.windows.filter((_, i) => v.problems[i].length === 0);
  if (windows.length === 0) {
    const reason = `not observable: ${[...new Set(v.problems.flat())].join("; ")}`;
    await applyState(sql, { id: recordId }, "REJECTED", reason, "submit");
    return { action: "rejected", reason, recordId };
  }
  const kept = { ...params, windows };
  try {
    const s = await facility.submit(`kb-${recordId}`, kept);
    await sql`update tom_observation_records set observation_id = ${s.observationId},
      parameters = ${sql.json(kept as never)} where id = ${recordId}`;
    await applyState(
      sql,
      { id: recordId },
      s.state,
      `submitted ${windows.length} of ${params.windows.length} epochs`,
      "submit",
    );
  } catch (err) {
    if (err instanceof FacilityRefusal) {
      await applyState(sql, { id: recordId }, "REJECTED", err.message, "submit");
      return { action: "rejected", reason: err.message, recordId };
    }
    throw err;
  }
  return { action: "requested", reason: `${windows.length} epochs`, recordId };
}
