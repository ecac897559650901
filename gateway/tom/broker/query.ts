/**
 * Query mode of the broker module, like TOM Toolkit's broker forms: search the
 * archive's classification results (min score, event, time window) and return
 * GenericAlert-like rows; a row can then be turned into a target (matched by
 * name and position first, so no duplicate appears).
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import { coneWhere, distanceSql } from "../store/sky.ts";
import { insertTarget, TOM_NAMES_LOCK } from "../store/targets.ts";

/** Filters of {@link queryResults}. */
export interface ResultQuery {
  readonly minScore: number;
  readonly eventId?: string;
  readonly since?: string;
  readonly until?: string;
  readonly limit: number;
  /** Class whose probability is the score (default kilonova). */
  readonly watchClass: string;
}

/** A row shaped like TOM Toolkit's GenericAlert. */
export interface GenericAlertRow {
  id: string;
  name: string;
  ra: number | null;
  dec: number | null;
  timestamp: string;
  score: number | null;
  top_class: string;
  model: string;
  model_version: string;
  event_id: string | null;
  url: string | null;
}

/** Searches the archive's results, best score first. */
export async function queryResults(sql: Sql, q: ResultQuery): Promise<GenericAlertRow[]> {
  const conds = [sql`coalesce((r.scores ->> ${q.watchClass})::float8, 0) >= ${q.minScore}`];
  if (q.eventId !== undefined) conds.push(sql`r.event_id = ${q.eventId}`);
  if (q.since !== undefined) conds.push(sql`r.computed_at >= ${q.since}::timestamptz`);
  if (q.until !== undefined) conds.push(sql`r.computed_at < ${q.until}::timestamptz`);
  const where = conds.reduce((a, b) => sql`${a} and ${b}`);
  const rows = await sql`select r.result_id, r.candidate_id, c.ra, c.dec, r.computed_at,
      (r.scores ->> ${q.watchClass})::float8 as score, r.top_class, r.model_name,
      r.model_version, r.event_id
    from results r left join candidates c on c.candidate_id = r.candidate_id
    where ${where} order by score desc nulls last, r.computed_at desc limit ${q.limit}`;
  return rows.map((r) => ({
    id: r.result_id,
    name: r.candidate_id,
    ra: r.ra,
    dec: r.dec,
    timestamp: (r.computed_at as Date).toISOString(),
    score: r.score,
    top_class: r.top_class,
    model: r.model_name,
    model_version: r.model_version,
    event_id: r.event_id,
    url: null,
  }));
}

/** Raised when a result id is not in the archive (or has no position). */
export class UnknownResultError extends Error {
  constructor(resultId: string, why: string) {
    super(`result "${resultId}" ${why}`);
    this.name = "UnknownResultError";
  }
}

/** Turns an archived result into a target; returns the target id and whether it was new. */
export async function resultToTarget(
  sql: Sql,
  resultId: string,
  options: {
    radiusDeg: number;
    permissions: "OPEN" | "PUBLIC" | "PRIVATE";
    groups: string[];
    createdBy: string;
  },
): Promise<{ id: number; created: boolean }> {
  const [r] = await sql`select r.candidate_id, c.ra, c.dec from results r
    left join candidates c on c.candidate_id = r.candidate_id where r.result_id = ${resultId}`;
  if (!r) throw new UnknownResultError(resultId, "is not in the archive");
  if (r.ra === null) throw new UnknownResultError(resultId, "has no candidate position");
  return await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${TOM_NAMES_LOCK})`;
    const [byName] = await tx`select id from tom_targets where name = ${r.candidate_id}
      union all select target_id from tom_target_names where name = ${r.candidate_id} limit 1`;
    if (byName) return { id: Number(byName.id), created: false };
    const s = tx as unknown as Sql;
    const cone = { ra: r.ra, dec: r.dec, radius: options.radiusDeg };
    const [byPos] = await tx`select t.id from tom_targets t where ${coneWhere(s, cone)}
      order by ${distanceSql(s, r.ra, r.dec)} limit 1`;
    if (byPos) {
      await tx`insert into tom_target_names (target_id, name) values (${byPos.id}, ${r.candidate_id})`;
      return { id: Number(byPos.id), created: false };
    }
    const id = await insertTarget(tx, {
      name: r.candidate_id,
      ra: r.ra,
      dec: r.dec,
      permissions: options.permissions,
      groups: options.groups,
      createdBy: options.createdBy,
    });
    return { id, created: true };
  });
}
