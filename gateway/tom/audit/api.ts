/**
 * `GET /api/audit/` — the audit log, newest first, for `admin` only (403 for
 * everyone else): filters by actor, action, object and time, paginated.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireAccess } from "../auth/middleware.ts";
import { type ApiDeps, AUTH_ERRORS, pageLinks, type TomApp } from "../api/common.ts";
import { Page, paginated } from "../api/schemas.ts";
import { AUDIT_ACTIONS } from "./record.ts";
import { listAudit } from "./query.ts";

const isoTime = z.iso.datetime({ offset: true });

/** Filters of the audit log. */
export const AuditQuery = Page.extend({
  actor: z.string().min(1).max(300).optional().openapi({
    description: "token subject or username of the actor (exact)",
  }),
  actor_kind: z.enum(["user", "strategy", "system"]).optional(),
  action: z.string().min(1).max(100).optional().openapi({
    description: `an action (${AUDIT_ACTIONS.join(", ")}), or a prefix ending in '.' ` +
      "(e.g. `target.`)",
  }),
  object_type: z.enum(["target", "target_name", "target_list", "observation"]).optional(),
  object_id: z.string().min(1).max(100).optional(),
  since: isoTime.optional().openapi({ description: "at or after this time" }),
  until: isoTime.optional().openapi({ description: "before this time" }),
});

/** One audit row. */
export const AuditEntrySchema = z.object({
  id: z.number().int(),
  at: z.string(),
  actor_subject: z.string(),
  actor_username: z.string(),
  actor_roles: z.array(z.string()),
  actor_kind: z.enum(["user", "strategy", "system"]),
  action: z.string(),
  object_type: z.string(),
  object_id: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).openapi({
    description: "the change as {field: {from, to}}, or a summary of the payload",
  }),
  request_id: z.string().nullable(),
  source_ip: z.string().nullable(),
}).openapi("AuditEntry");

/** Registers the audit route. */
export function registerAudit(app: TomApp, deps: ApiDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/audit/",
      tags: ["audit"],
      summary: "The audit log, newest first (admin)",
      description: "Every state-changing action: who, when, what, request id and source address.",
      // "delete" access is the admin role (auth/roles.ts): the audit log is admin-only.
      middleware: [requireAccess("delete")] as const,
      request: { query: AuditQuery },
      responses: {
        200: {
          description: "a page of audit rows",
          content: { "application/json": { schema: paginated(AuditEntrySchema, "AuditPage") } },
        },
        ...AUTH_ERRORS,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { rows, count, exact } = await listAudit(deps.sql, q);
      return c.json({
        count,
        count_exact: exact,
        ...pageLinks(c.req.url, q, rows.length, { count, exact }),
        results: rows,
      }, 200);
    },
  );
}
