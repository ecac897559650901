/**
 * `/api/targetlists/`, `/api/alerts/`, `/api/results/` and `/api/events/`.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireAccess } from "../auth/middleware.ts";
import { actorOf, recordAudit } from "../audit/record.ts";
import {
  addToList,
  listAlerts,
  listEvents,
  listResults,
  listTargetLists,
} from "../store/history.ts";
import { TOM_NAMES_LOCK, viewerOf } from "../store/targets.ts";
import {
  type ApiDeps,
  AUTH_ERRORS,
  CONFLICT,
  conflict,
  NOT_FOUND,
  notFound,
  pageLinks,
  type TomApp,
} from "./common.ts";
import {
  Alert,
  Event,
  EventIdParam,
  HistoryQuery,
  IdParam,
  Page,
  paginated,
  Result,
  TargetList,
  TargetListAdd,
  TargetListCreate,
} from "./schemas.ts";

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

/** Registers target lists, alerts, results and events. */
export function registerCollections(app: TomApp, deps: ApiDeps): void {
  const { sql } = deps;

  // ---- target lists ----
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/targetlists/",
      tags: ["targetlists"],
      summary: "List target lists",
      middleware: [requireAccess("read")] as const,
      request: { query: Page },
      responses: {
        200: json(paginated(TargetList, "TargetListPage"), "a page of lists"),
        ...AUTH_ERRORS,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { rows, count } = await listTargetLists(sql, viewerOf(c.var.principal), q);
      return c.json({
        count,
        count_exact: true,
        ...pageLinks(c.req.url, q, rows.length, { count, exact: true }),
        results: rows,
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/targetlists/",
      tags: ["targetlists"],
      summary: "Create a target list",
      middleware: [requireAccess("write")] as const,
      request: body(TargetListCreate),
      responses: { 201: json(TargetList, "the new list"), ...AUTH_ERRORS, ...CONFLICT },
    }),
    async (c) => {
      const { name, targets } = c.req.valid("json");
      const v = viewerOf(c.var.principal);
      const id = await sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${TOM_NAMES_LOCK})`;
        const [taken] = await tx`select 1 from tom_target_lists where name = ${name}`;
        if (taken) return null;
        const [r] = await tx<{ id: number }[]>`insert into tom_target_lists (name, created_by)
          values (${name}, ${c.var.principal.subject}) returning id`;
        await addToList(tx as never, v, Number(r.id), targets);
        await recordAudit(tx, actorOf(c), {
          action: "targetlist.create",
          objectType: "target_list",
          objectId: Number(r.id),
          detail: { name, targets },
        });
        return Number(r.id);
      });
      if (id === null) {
        throw conflict(`a list named "${name}" exists`);
      }
      const { rows } = await listTargetLists(sql, v, { limit: 1, offset: 0 }, id);
      return c.json(rows[0], 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/targetlists/{id}/",
      tags: ["targetlists"],
      summary: "A target list",
      middleware: [requireAccess("read")] as const,
      request: { params: IdParam },
      responses: { 200: json(TargetList, "the list"), ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { rows } = await listTargetLists(
        sql,
        viewerOf(c.var.principal),
        { limit: 1, offset: 0 },
        id,
      );
      if (!rows[0]) throw notFound(`no list ${id}`);
      return c.json(rows[0], 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/targetlists/{id}/targets",
      tags: ["targetlists"],
      summary: "Add targets to a list",
      middleware: [requireAccess("write")] as const,
      request: { params: IdParam, ...body(TargetListAdd) },
      responses: { 200: json(TargetList, "the list"), ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const v = viewerOf(c.var.principal);
      const [list] = await sql`select id from tom_target_lists where id = ${id}`;
      if (!list) throw notFound(`no list ${id}`);
      const { targets } = c.req.valid("json");
      await sql.begin(async (tx) => {
        await addToList(tx as never, v, id, targets);
        await recordAudit(tx, actorOf(c), {
          action: "targetlist.add",
          objectType: "target_list",
          objectId: id,
          detail: { targets },
        });
      });
      const { rows } = await listTargetLists(sql, v, { limit: 1, offset: 0 }, id);
      return c.json(rows[0], 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/targetlists/{id}/",
      tags: ["targetlists"],
      summary: "Delete a target list (admin)",
      middleware: [requireAccess("delete")] as const,
      request: { params: IdParam },
      responses: { 204: { description: "deleted" }, ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const deleted = await sql.begin(async (tx) => {
        const [r] = await tx<{ name: string }[]>`delete from tom_target_lists where id = ${id}
          returning name`;
        if (!r) return false;
        await recordAudit(tx, actorOf(c), {
          action: "targetlist.delete",
          objectType: "target_list",
          objectId: id,
          detail: { name: r.name },
        });
        return true;
      });
      if (!deleted) throw notFound(`no list ${id}`);
      return c.body(null, 204);
    },
  );

  // ---- alerts and results ----
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/alerts/",
      tags: ["alerts"],
      summary: "Derived alerts received, newest first",
      middleware: [requireAccess("read")] as const,
      request: { query: HistoryQuery },
      responses: { 200: json(paginated(Alert, "AlertPage"), "a page of alerts"), ...AUTH_ERRORS },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { rows, count, exact } = await listAlerts(sql, viewerOf(c.var.principal), {
        targetId: q.target_id,
        eventId: q.event_id,
        scoreMin: q.score_min,
        since: q.since,
        until: q.until,
        limit: q.limit,
        offset: q.offset,
      });
      return c.json({
        count,
        count_exact: exact,
        ...pageLinks(c.req.url, q, rows.length, { count, exact }),
        results: rows,
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/results/",
      tags: ["results"],
      summary: "Score history, per target in the order computed",
      middleware: [requireAccess("read")] as const,
      request: { query: HistoryQuery },
      responses: {
        200: json(paginated(Result, "ResultPage"), "a page of results"),
        ...AUTH_ERRORS,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { rows, count, exact } = await listResults(sql, viewerOf(c.var.principal), {
        targetId: q.target_id,
        eventId: q.event_id,
        scoreMin: q.score_min,
        since: q.since,
        until: q.until,
        limit: q.limit,
        offset: q.offset,
      });
      return c.json({
        count,
        count_exact: exact,
        ...pageLinks(c.req.url, q, rows.length, { count, exact }),
        results: rows,
      }, 200);
    },
  );

  // ---- events ----
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/events/",
      tags: ["events"],
      summary: "GW events linked to targets, with their sky map summary",
      middleware: [requireAccess("read")] as const,
      request: { query: Page },
      responses: { 200: json(paginated(Event, "EventPage"), "a page of events"), ...AUTH_ERRORS },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { rows, count } = await listEvents(sql, viewerOf(c.var.principal), q);
      return c.json({
        count,
        count_exact: true,
        ...pageLinks(c.req.url, q, rows.length, { count, exact: true }),
        results: rows,
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/events/{event_id}/",
      tags: ["events"],
      summary: "One GW event",
      middleware: [requireAccess("read")] as const,
      request: { params: EventIdParam },
      responses: { 200: json(Event, "the event"), ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    async (c) => {
      const { event_id } = c.req.valid("param");
      const { rows } = await listEvents(
        sql,
        viewerOf(c.var.principal),
        { limit: 1, offset: 0 },
        event_id,
      );
      if (!rows[0]) throw notFound(`no event ${event_id}`);
      return c.json(rows[0], 200);
    },
  );
}
