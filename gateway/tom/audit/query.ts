/**
 * Reading the audit log (newest first, filtered, counted up to a limit).
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";

/** Counts stop here (then `exact` is false). */
export const AUDIT_COUNT_LIMIT = 10_000;

/** Filters of {@link listAudit}. */
export interface AuditFilter {
  /** Subject or username. */
  actor?: string;
  actor_kind?: "user" | "strategy" | "system";
  /** Exact action, or a prefix when it ends in '.'. */
  action?: string;
  object_type?: string;
  object_id?: string;
  since?: string;
  until?: string;
  limit: number;
  offset: number;
}

interface Row {
  id: string | number;
  at: Date;
  actor_subject: string;
  actor_username: string;
  actor_roles: string[];
  actor_kind: "user" | "strategy" | "system";
  action: string;
  object_type: string;
  object_id: string | null;
  detail: Record<string, unknown>;
  request_id: string | null;
  source_ip: string | null;
}

/** A page of audit rows. */
export async function listAudit(sql: Sql, f: AuditFilter) {
  const n = <T>(v: T | undefined) => v ?? null;
  const prefix = f.action?.endsWith(".") ? f.action : null;
  const exactAction = prefix ? null : n(f.action);
  const where = sql`
    (${n(f.actor)}::text is null or a.actor_subject = ${n(f.actor)}
      or a.actor_username = ${n(f.actor)})
    and (${n(f.actor_kind)}::text is null or a.actor_kind = ${n(f.actor_kind)})
    and (${exactAction}::text is null or a.action = ${exactAction})
    and (${prefix}::text is null or starts_with(a.action, ${prefix}))
    and (${n(f.object_type)}::text is null or a.object_type = ${n(f.object_type)})
    and (${n(f.object_id)}::text is null or a.object_id = ${n(f.object_id)})
    and (${n(f.since)}::timestamptz is null or a.at >= ${n(f.since)})
    and (${n(f.until)}::timestamptz is null or a.at < ${n(f.until)})`;
  const rows = await sql<Row[]>`select a.* from tom_audit_log a where ${where}
    order by a.id desc limit ${f.limit} offset ${f.offset}`;
  const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from
    (select 1 from tom_audit_log a where ${where} limit ${AUDIT_COUNT_LIMIT}) x`;
  return {
    rows: rows.map((r) => ({ ...r, id: Number(r.id), at: r.at.toISOString() })),
    count,
    exact: count < AUDIT_COUNT_LIMIT,
  };
}
