/**
 * Turns one derived alert into targets: each target of the alert is matched to
 * an existing TOM target by name (primary or alias), else by position within
 * a radius (then its name becomes an alias — TOM Toolkit's duplicate-target
 * problem), else created. The alert is appended to the target's score history,
 * the target's latest score and extras (P(kilonova), model version, explanation)
 * follow the newest result, and the target is linked to the alert's event.
 *
 * Idempotent: a redelivered alert (same result id) changes nothing. Matching
 * runs under an advisory lock so concurrent alerts never create twins.
 *
 * @module
 */
import type { Sql, TxSql } from "../../../db/mod.ts";
import type { DerivedAlert } from "../../../contracts/messages.ts";
import { coneWhere, distanceSql } from "../store/sky.ts";
import { insertTarget, setExtras, TOM_NAMES_LOCK } from "../store/targets.ts";

/** How the broker module files alerts. */
export interface IngestOptions {
  /** Targets closer than this are the same object, degrees (default 1.5″). */
  readonly radiusDeg: number;
  /** Permissions of targets the broker creates. */
  readonly permissions: "OPEN" | "PUBLIC" | "PRIVATE";
  /** Groups of targets the broker creates (for PRIVATE). */
  readonly groups: readonly string[];
  /** The class whose probability is the target's score (default `kilonova`). */
  readonly watchClass: string;
}

/** Default ingest options. */
export const DEFAULT_INGEST: IngestOptions = {
  radiusDeg: 1.5 / 3600,
  permissions: "PUBLIC",
  groups: [],
  watchClass: "kilonova",
};

/** What happened to one target of an alert. */
export interface IngestedTarget {
  readonly targetId: number;
  readonly name: string;
  readonly matchedBy: "new" | "name" | "position" | "already";
}

/** The score of the watched class in an alert (null when the model did not give one). */
export function watchedScore(alert: DerivedAlert, watchClass: string): number | null {
  const c = alert.data.classification;
  return c.scores[watchClass] ?? (c.class === watchClass ? c.score : null);
}

async function findByName(tx: TxSql, name: string): Promise<number | undefined> {
  const [r] = await tx<{ id: number }[]>`select id from tom_targets where name = ${name}
    union all select target_id as id from tom_target_names where name = ${name} limit 1`;
  return r ? Number(r.id) : undefined;
}

async function findByPosition(
  tx: TxSql,
  ra: number,
  dec: number,
  radius: number,
): Promise<number | undefined> {
  const [r] = await tx<{ id: number }[]>`select t.id from tom_targets t
    where ${coneWhere(tx as unknown as Sql, { ra, dec, radius })}
    order by ${distanceSql(tx as unknown as Sql, ra, dec)} limit 1`;
  return r ? Number(r.id) : undefined;
}

/** Files one derived alert. Returns what happened per target. */
export async function ingestDerivedAlert(
  sql: Sql,
  alert: DerivedAlert,
  options: IngestOptions = DEFAULT_INGEST,
  msgId: string | null = null,
): Promise<IngestedTarget[]> {
  const d = alert.data;
  const c = d.classification;
  const score = watchedScore(alert, options.watchClass);
  const eventId = d.event_id === "" ? null : d.event_id;
  const computedAt = new Date(c.computed_at);
  if (Number.isNaN(computedAt.getTime())) {
    throw new Error(`derived alert ${d.result_id}: computed_at "${c.computed_at}" is not a time`);
  }
  return await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${TOM_NAMES_LOCK})`;
    const out: IngestedTarget[] = [];
    for (const t of d.targets) {
      const [seen] = await tx<{ target_id: number }[]>`select target_id from tom_alerts
        where result_id = ${d.result_id} and alert_name = ${t.name} limit 1`;
      if (seen) {
        out.push({ targetId: Number(seen.target_id), name: t.name, matchedBy: "already" });
        continue;
      }
      let matchedBy: IngestedTarget["matchedBy"] = "name";
      let id = await findByName(tx, t.name);
      if (id === undefined) {
        id = await findByPosition(tx, t.ra, t.dec, options.radiusDeg);
        if (id !== undefined) {
          matchedBy = "position";
          await tx`insert into tom_target_names (target_id, name) values (${id}, ${t.name})`;
        }
      }
      if (id === undefined) {
        matchedBy = "new";
        id = await insertTarget(tx, {
          name: t.name,
          ra: t.ra,
          dec: t.dec,
          permissions: options.permissions,
          groups: [...options.groups],
          createdBy: null,
        });
      }
      const inserted = await tx`insert into tom_alerts (result_id, target_id, alert_name,
          matched_by, event_id, model, model_version, top_class, score, scores, revision,
          computed_at, msg_id, payload)
        values (${d.result_id}, ${id}, ${t.name}, ${matchedBy}, ${eventId}, ${c.model},
          ${c.version}, ${c.class}, ${score}, ${tx.json(c.scores)}, ${d.revision},
          ${computedAt}, ${msgId}, ${tx.json(alert as never)})
        on conflict (result_id, target_id) do nothing`;
      if (inserted.count === 0) {
        // The same result named this target twice (two names, one object).
        out.push({ targetId: id, name: t.name, matchedBy: "already" });
        continue;
      }
      const newest = await tx`update tom_targets set score = ${score}, score_at = ${computedAt},
          event_id = coalesce(${eventId}, event_id), modified = now()
        where id = ${id} and (score_at is null or score_at <= ${computedAt})`;
      if (newest.count > 0) {
        await setExtras(tx, id, {
          [`P(${options.watchClass})`]: score,
          top_class: c.class,
          model: c.model,
          model_version: c.version,
          explanation: c.explanation.summary === "" ? null : c.explanation.summary,
        });
      }
      if (eventId !== null) {
        await tx`insert into tom_events (event_id) values (${eventId}) on conflict do nothing`;
        await tx`insert into tom_target_events (target_id, event_id) values (${id}, ${eventId})
          on conflict do nothing`;
      }
      out.push({ targetId: id, name: t.name, matchedBy });
    }
    return out;
  });
}
