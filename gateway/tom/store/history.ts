/**
 * Derived alerts received (`/api/alerts/`), score history (`/api/results/`),
 * target lists and GW events, filtered by target visibility.
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import { COUNT_LIMIT, type Viewer, visible } from "./targets.ts";

const iso = (d: unknown): string | null =>
  d === null || d === undefined ? null : d instanceof Date ? d.toISOString() : String(d);

/** Filters of alert and result lists. */
export interface HistoryFilter {
  readonly targetId?: number;
  readonly eventId?: string;
  readonly scoreMin?: number;
  readonly since?: string;
  readonly until?: string;
  readonly limit: number;
  readonly offset: number;
}

function historyWhere(sql: Sql, v: Viewer, f: HistoryFilter) {
  const conds = [visible(sql, v)];
  if (f.targetId !== undefined) conds.push(sql`a.target_id = ${f.targetId}`);
  if (f.eventId !== undefined) conds.push(sql`a.event_id = ${f.eventId}`);
  if (f.scoreMin !== undefined) conds.push(sql`a.score >= ${f.scoreMin}`);
  if (f.since !== undefined) conds.push(sql`a.computed_at >= ${f.since}::timestamptz`);
  if (f.until !== undefined) conds.push(sql`a.computed_at < ${f.until}::timestamptz`);
  return conds.reduce((x, y) => sql`${x} and ${y}`);
}

/** Derived alerts received, newest first. */
export async function listAlerts(sql: Sql, v: Viewer, f: HistoryFilter) {
  const where = historyWhere(sql, v, f);
  const [rows, [{ n }]] = await Promise.all([
    sql`select a.* from tom_alerts a join tom_targets t on t.id = a.target_id where ${where}
        order by a.computed_at desc, a.id desc limit ${f.limit} offset ${f.offset}`,
    sql<{ n: number }[]>`select count(*)::int as n from (select 1 from tom_alerts a
        join tom_targets t on t.id = a.target_id where ${where} limit ${COUNT_LIMIT + 1}) s`,
  ]);
  return {
    count: Math.min(n, COUNT_LIMIT),
    exact: n <= COUNT_LIMIT,
    rows: rows.map((r) => ({
      id: Number(r.id),
      result_id: r.result_id,
      target_id: Number(r.target_id),
      alert_name: r.alert_name,
      matched_by: r.matched_by,
      event_id: r.event_id,
      model: r.model,
      model_version: r.model_version,
      top_class: r.top_class,
      score: r.score,
      revision: r.revision,
      computed_at: iso(r.computed_at)!,
      received_at: iso(r.received_at)!,
      payload: r.payload,
    })),
  };
}

/** Score history, oldest first (per target: the order the scores were computed). */
export async function listResults(sql: Sql, v: Viewer, f: HistoryFilter) {
  const where = historyWhere(sql, v, f);
  const [rows, [{ n }]] = await Promise.all([
    sql`select a.target_id, a.result_id, a.computed_at, a.model, a.model_version, a.top_class,
          a.score, a.scores, a.revision, a.event_id
        from tom_alerts a join tom_targets t on t.id = a.target_id where ${where}
        order by a.target_id, a.computed_at, a.id limit ${f.limit} offset ${f.offset}`,
    sql<{ n: number }[]>`select count(*)::int as n from (select 1 from tom_alerts a
        join tom_targets t on t.id = a.target_id where ${where} limit ${COUNT_LIMIT + 1}) s`,
  ]);
  return {
    count: Math.min(n, COUNT_LIMIT),
    exact: n <= COUNT_LIMIT,
    rows: rows.map((r) => ({
      target_id: Number(r.target_id),
      result_id: r.result_id,
      computed_at: iso(r.computed_at)!,
      model: r.model,
      model_version: r.model_version,
      top_class: r.top_class,
      score: r.score,
      scores: r.scores,
      revision: r.revision,
      event_id: r.event_id,
    })),
  };
}

// ---- target lists ---------------------------------------------------------------

/** Target lists with the ids of their visible members. */
export async function listTargetLists(
  sql: Sql,
  v: Viewer,
  page: { limit: number; offset: number },
  id?: number,
) {
  const rows = await sql`select l.id, l.name, l.created_by, l.created,
      coalesce((select array_agg(m.target_id order by m.target_id) from tom_target_list_members m
        join tom_targets t on t.id = m.target_id where m.list_id = l.id and ${visible(sql, v)}),
        '{}') as targets
    from tom_target_lists l where ${id === undefined ? sql`true` : sql`l.id = ${id}`}
    order by l.id limit ${page.limit} offset ${page.offset}`;
  const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from tom_target_lists`;
  return {
    count: n,
    rows: rows.map((r) => ({
      id: Number(r.id),
      name: r.name,
      created_by: r.created_by,
      created: iso(r.created)!,
      targets: (r.targets as (number | string)[]).map(Number),
    })),
  };
}

/** Raised when a list names a target the caller cannot see. */
export class UnknownTargetsError extends Error {
  constructor(readonly ids: number[]) {
    super(`no target with id ${ids.join(", ")} (or not visible to you)`);
    this.name = "UnknownTargetsError";
  }
}

/** Adds visible targets to a list. */
export async function addToList(sql: Sql, v: Viewer, listId: number, ids: number[]) {
  const unique = [...new Set(ids)];
  const found = await sql<{ id: number }[]>`select t.id from tom_targets t
    where t.id = any(${sql.array(unique)}::bigint[]) and ${visible(sql, v)}`;
  const have = new Set(found.map((r) => Number(r.id)));
  const missing = unique.filter((i) => !have.has(i));
  if (missing.length) throw new UnknownTargetsError(missing);
  if (unique.length) {
    await sql`insert into tom_target_list_members (list_id, target_id)
      select ${listId}, unnest(${sql.array(unique)}::bigint[]) on conflict do nothing`;
  }
}

// ---- events -----------------------------------------------------------------------

/** GW events with their sky map summary and the number of visible linked targets. */
export async function listEvents(
  sql: Sql,
  v: Viewer,
  page: { limit: number; offset: number },
  eventId?: string,
) {
  const rows = await sql`select e.*, (select count(*)::int from tom_target_events te
      join tom_targets t on t.id = te.target_id where te.event_id = e.event_id and ${
    visible(sql, v)
  }) as targets
    from tom_events e where ${eventId === undefined ? sql`true` : sql`e.event_id = ${eventId}`}
    order by e.first_seen desc, e.event_id limit ${page.limit} offset ${page.offset}`;
  const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from tom_events`;
  return {
    count: n,
    rows: rows.map((r) => ({
      event_id: r.event_id,
      first_seen: iso(r.first_seen)!,
      alert_type: r.alert_type,
      event_time: iso(r.event_time),
      far: r.far,
      area50_deg2: r.area50_deg2,
      area90_deg2: r.area90_deg2,
      distance_mpc: r.distance_mpc,
      distance_std_mpc: r.distance_std_mpc,
      targets: r.targets,
    })),
  };
}

// ---- light curves and sky maps (web pages) -----------------------------------------

/** A photometric point of a target, as its derived alerts carried it. */
export interface TargetPhotometryPoint {
  mjd: number;
  bandpass: string;
  /** Magnitude of a detection; null for an upper limit. */
  brightness: number | null;
  brightness_error: number | null;
  /** Limiting magnitude (of an upper limit, or of the detection's image). */
  limiting_brightness: number | null;
  telescope: string;
  instrument: string;
}

/**
 * The light curve of a (visible) target: every distinct photometric point its
 * derived alerts carried (`data.photometry` of the stored alert), in time order. A point repeated
 * by later alerts is listed once.
 */
export async function targetPhotometry(
  sql: Sql,
  v: Viewer,
  targetId: number,
): Promise<TargetPhotometryPoint[]> {
  const rows = await sql<TargetPhotometryPoint[]>`
    select distinct on ((p->>'mjd')::float8, p->>'bandpass', p->>'telescope')
      (p->>'mjd')::float8 as mjd, p->>'bandpass' as bandpass,
      (p->>'brightness')::float8 as brightness,
      (p->>'brightness_error')::float8 as brightness_error,
      (p->>'limiting_brightness')::float8 as limiting_brightness,
      coalesce(p->>'telescope', '') as telescope, coalesce(p->>'instrument', '') as instrument
    from tom_alerts a join tom_targets t on t.id = a.target_id,
      jsonb_array_elements(coalesce(a.payload->'data'->'photometry', '[]'::jsonb)) p
    where a.target_id = ${targetId} and ${visible(sql, v)}
    order by (p->>'mjd')::float8, p->>'bandpass', p->>'telescope', a.id desc`;
  return rows;
}

/** The sky map bytes of an event as the archive holds them (the map its summary came from). */
export async function eventSkymap(
  sql: Sql,
  eventId: string,
): Promise<{ sha256: string; bytes: Uint8Array } | undefined> {
  const [r] = await sql<{ sha: string; bytes: Uint8Array }[]>`
    select e.skymap_sha256 as sha, s.bytes from tom_events e
    join skymaps s on s.sha256 = decode(e.skymap_sha256, 'hex')
    where e.event_id = ${eventId}`;
  return r ? { sha256: r.sha, bytes: new Uint8Array(r.bytes) } : undefined;
}
