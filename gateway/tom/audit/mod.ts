/**
 * The TOM's audit log (issue 13): every state-changing action appended to
 * `tom_audit_log` (append-only by trigger, migration 0103) and readable by
 * `admin` at `GET /api/audit/`. See docs/tom.md, "Audit log".
 *
 * @module
 */
export * from "./record.ts";
export { AUDIT_COUNT_LIMIT, type AuditFilter, listAudit } from "./query.ts";
export { AuditEntrySchema, AuditQuery, registerAudit } from "./api.ts";
