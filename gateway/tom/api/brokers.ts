/**
 * `/api/brokers/kilonova/query` (search the archive's results) and
 * `/api/brokers/kilonova/targets` (turn a result into a target).
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireAccess } from "../auth/middleware.ts";
import { actorOf, recordAudit } from "../audit/record.ts";
import { queryResults, resultToTarget, UnknownResultError } from "../broker/query.ts";
import { getExtras, getTarget, viewerOf } from "../store/targets.ts";
import { type ApiDeps, AUTH_ERRORS, NOT_FOUND, notFound, type TomApp } from "./common.ts";
import { BrokerQuery, BrokerToTarget, GenericAlert, TargetDetail } from "./schemas.ts";

/** Registers the broker routes. */
export function registerBrokers(app: TomApp, deps: ApiDeps): void {
  const { sql } = deps;
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/brokers/kilonova/query",
      tags: ["brokers"],
      summary: "Search the broker's classification results (TOM Toolkit broker query)",
      middleware: [requireAccess("read")] as const,
      request: { query: BrokerQuery },
      responses: {
        200: {
          description: "GenericAlert-like rows, best score first",
          content: {
            "application/json": { schema: z.object({ results: z.array(GenericAlert) }) },
          },
        },
        ...AUTH_ERRORS,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const results = await queryResults(sql, {
        minScore: q.min_score,
        eventId: q.event_id,
        since: q.since,
        until: q.until,
        limit: q.limit,
        watchClass: deps.ingest.watchClass,
      });
      return c.json({ results }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/brokers/kilonova/targets",
      tags: ["brokers"],
      summary: "Create a target from a result (or return the matching target)",
      middleware: [requireAccess("write")] as const,
      request: {
        body: { content: { "application/json": { schema: BrokerToTarget } }, required: true },
      },
      responses: {
        200: {
          description: "an existing target matched by name or position",
          content: { "application/json": { schema: TargetDetail } },
        },
        201: {
          description: "the new target",
          content: { "application/json": { schema: TargetDetail } },
        },
        ...AUTH_ERRORS,
        ...NOT_FOUND,
      },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const p = c.var.principal;
      let out: { id: number; created: boolean };
      try {
        out = await resultToTarget(sql, b.result_id, {
          radiusDeg: deps.ingest.radiusDeg,
          permissions: b.permissions,
          groups: b.groups,
          createdBy: p.subject,
        });
      } catch (err) {
        if (err instanceof UnknownResultError) {
          throw notFound(err.message);
        }
        throw err;
      }
      if (out.created) {
        await recordAudit(sql, actorOf(c), {
          action: "target.create",
          objectType: "target",
          objectId: out.id,
          detail: { from_result: b.result_id, permissions: b.permissions, groups: b.groups },
        });
      }
      const row = await getTarget(sql, viewerOf(p), out.id);
      if (!row) {
        throw notFound("the matching target is not visible to you");
      }
      const detail = { ...row, extras: await getExtras(sql, out.id) };
      return out.created ? c.json(detail, 201) : c.json(detail, 200);
    },
  );
}
