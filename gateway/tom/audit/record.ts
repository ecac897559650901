/**
 * Writing the audit log: {@link recordAudit} appends one row to
 * `tom_audit_log` (migration 0103, append-only by trigger). Pass the
 * transaction of the change when there is one, so the change and its audit row
 * commit together; {@link actorOf} reads who is calling from the request.
 *
 * @module
 */
import type { Context } from "hono";
import type { TxSql } from "../../../db/mod.ts";
import type { Principal } from "../auth/roles.ts";

/** Who did it, and from where. */
export interface AuditActor {
  /** Token subject (`sub`), or `strategy:<rule>` / `system`. */
  readonly subject: string;
  readonly username: string;
  readonly roles: readonly string[];
  readonly kind: "user" | "strategy" | "system";
  readonly requestId?: string | null;
  readonly sourceIp?: string | null;
}

/** What was done. */
export interface AuditEvent {
  /** `<object>.<verb>`, e.g. `target.update`; see {@link AUDIT_ACTIONS}. */
  readonly action: AuditAction;
  readonly objectType: "target" | "target_name" | "target_list" | "observation";
  readonly objectId?: string | number | null;
  /** The diff (`{field: {from, to}}`) or a summary of the payload. Keep it small. */
  readonly detail?: Record<string, unknown>;
}

/** Every action the TOM records. */
export const AUDIT_ACTIONS = [
  "target.create",
  "target.update",
  "target.delete",
  "target.extras.update",
  "target.name.add",
  "target.name.delete",
  "targetlist.create",
  "targetlist.add",
  "targetlist.delete",
  "observation.request",
  "observation.cancel",
  "observation.auto_request",
] as const;
/** An audited action. */
export type AuditAction = typeof AUDIT_ACTIONS[number];

/** Variables the security middleware sets and the audit reads. */
export interface AuditVariables {
  principal?: Principal;
  requestId?: string;
  clientIp?: string;
}

/** The caller of a request (after bearer authentication). */
export function actorOf(c: Context): AuditActor {
  const p = c.get("principal") as Principal | undefined;
  if (!p) {
    throw new Error("actorOf: no principal on the request; mount it after bearerAuth");
  }
  return {
    subject: p.subject,
    username: p.username,
    roles: [...p.roles],
    kind: "user",
    requestId: (c.get("requestId") as string | undefined) ?? null,
    sourceIp: (c.get("clientIp") as string | undefined) ?? null,
  };
}

/** The actor of the observation strategy's automatic requests. */
export function strategyActor(rule: string): AuditActor {
  return { subject: `strategy:${rule}`, username: `strategy:${rule}`, roles: [], kind: "strategy" };
}

/** Largest `detail` kept whole, characters of JSON; larger ones are summarised. */
export const AUDIT_DETAIL_MAX_CHARS = 8_000;

/** `detail` as stored: whole when small, else its keys, size and a prefix. */
export function boundedDetail(detail: Record<string, unknown>): Record<string, unknown> {
  const text = JSON.stringify(detail);
  if (text.length <= AUDIT_DETAIL_MAX_CHARS) return detail;
  return {
    truncated: true,
    json_chars: text.length,
    keys: Object.keys(detail),
    prefix: text.slice(0, 1_000),
  };
}

/** Appends one audit row (in `db`'s transaction when `db` is one). */
export async function recordAudit(db: TxSql, who: AuditActor, what: AuditEvent): Promise<void> {
  const sql = db as import("../../../db/mod.ts").Sql;
  await sql`insert into tom_audit_log
    (actor_subject, actor_username, actor_roles, actor_kind, action, object_type, object_id,
     detail, request_id, source_ip)
    values (${who.subject}, ${who.username}, ${sql.array([...who.roles])}::text[], ${who.kind},
      ${what.action}, ${what.objectType},
      ${what.objectId === undefined || what.objectId === null ? null : String(what.objectId)},
      ${sql.json(boundedDetail(what.detail ?? {}) as never)}, ${who.requestId ?? null},
      ${who.sourceIp ?? null})`;
}

/**
 * The fields of `after` that differ from `before`, as `{field: {from, to}}`
 * (values compared as JSON).
 */
export function diff(
  before: object,
  after: object,
  fields: readonly string[] = [...new Set([...Object.keys(before), ...Object.keys(after)])],
): Record<string, { from: unknown; to: unknown }> {
  const b0 = before as Record<string, unknown>;
  const a0 = after as Record<string, unknown>;
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const k of fields) {
    const a = b0[k] ?? null;
    const b = a0[k] ?? null;
    if (JSON.stringify(a) !== JSON.stringify(b)) out[k] = { from: a, to: b };
  }
  return out;
}

/**
 * The automatic request the strategy made (call in the transaction that
 * inserted the record): the rule that fired, the score and the alert.
 */
export async function auditAutomaticRequest(
  tx: TxSql,
  r: {
    rule: { name: string; minScore: number };
    recordId: number | string;
    target: { id: number; name: string };
    score: number;
    alert: { result_id: string; event_id: string; revision?: number };
    facility: { name: string };
  },
): Promise<void> {
  await recordAudit(tx, strategyActor(r.rule.name), {
    action: "observation.auto_request",
    objectType: "observation",
    objectId: Number(r.recordId),
    detail: {
      rule: r.rule.name,
      min_score: r.rule.minScore,
      score: r.score,
      target_id: r.target.id,
      target: r.target.name,
      result_id: r.alert.result_id,
      revision: r.alert.revision ?? null,
      event_id: r.alert.event_id,
      facility: r.facility.name,
    },
  });
}
