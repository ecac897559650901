/**
 * `/api/targets/` — list (filters, cone search, pagination), create, detail,
 * update, delete; `/api/targets/{id}/extras` and `/api/targets/{id}/names`.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireAccess } from "../auth/middleware.ts";
import {
  addName,
  createTarget,
  deleteName,
  deleteTarget,
  getExtras,
  getTarget,
  listNames,
  listTargets,
  setExtras,
  updateTarget,
  viewerOf,
} from "../store/targets.ts";
import {
  type ApiDeps,
  AUTH_ERRORS,
  CONFLICT,
  NOT_FOUND,
  notFound,
  pageLinks,
  type TomApp,
} from "./common.ts";
import {
  Extras,
  IdParam,
  paginated,
  Target,
  TargetCreate,
  TargetDetail,
  TargetName,
  TargetNameCreate,
  TargetQuery,
  TargetUpdate,
} from "./schemas.ts";

const TAG = ["targets"];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

/** Registers the target routes. */
export function registerTargets(app: TomApp, deps: ApiDeps): void {
  const { sql } = deps;

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/targets/",
      tags: TAG,
      summary: "List targets",
      description: "Filters combine with AND. A cone search needs ra, dec and radius.",
      middleware: [requireAccess("read")] as const,
      request: { query: TargetQuery },
      responses: {
        200: json(paginated(Target, "TargetPage"), "a page of targets"),
        ...AUTH_ERRORS,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { rows, count, exact } = await listTargets(sql, viewerOf(c.var.principal), {
        name: q.name,
        nameContains: q.name_contains,
        scoreMin: q.score_min,
        scoreMax: q.score_max,
        createdAfter: q.created_after,
        createdBefore: q.created_before,
        eventId: q.event_id,
        cone: q.ra !== undefined && q.dec !== undefined && q.radius !== undefined
          ? { ra: q.ra, dec: q.dec, radius: q.radius }
          : undefined,
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
      method: "post",
      path: "/api/targets/",
      tags: TAG,
      summary: "Create a target",
      middleware: [requireAccess("write")] as const,
      request: body(TargetCreate),
      responses: { 201: json(TargetDetail, "the new target"), ...AUTH_ERRORS, ...CONFLICT },
    }),
    async (c) => {
      const t = c.req.valid("json");
      const p = c.var.principal;
      const id = await createTarget(sql, { ...t, createdBy: p.subject });
      const row = await getTarget(sql, viewerOf(p), id);
      return c.json({ ...row!, extras: await getExtras(sql, id) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/targets/{id}/",
      tags: TAG,
      summary: "A target with its aliases and extras",
      middleware: [requireAccess("read")] as const,
      request: { params: IdParam },
      responses: { 200: json(TargetDetail, "the target"), ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await getTarget(sql, viewerOf(c.var.principal), id);
      if (!row) throw notFound(`no target ${id}`);
      return c.json({ ...row, extras: await getExtras(sql, id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/api/targets/{id}/",
      tags: TAG,
      summary: "Update a target",
      middleware: [requireAccess("write")] as const,
      request: { params: IdParam, ...body(TargetUpdate) },
      responses: {
        200: json(TargetDetail, "the updated target"),
        ...AUTH_ERRORS,
        ...NOT_FOUND,
        ...CONFLICT,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const v = viewerOf(c.var.principal);
      if (!await updateTarget(sql, v, id, c.req.valid("json"))) {
        throw notFound(`no target ${id}`);
      }
      const row = await getTarget(sql, v, id);
      if (!row) throw notFound(`no target ${id}`);
      return c.json({ ...row, extras: await getExtras(sql, id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/targets/{id}/",
      tags: TAG,
      summary: "Delete a target (admin)",
      middleware: [requireAccess("delete")] as const,
      request: { params: IdParam },
      responses: { 204: { description: "deleted" }, ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!await deleteTarget(sql, viewerOf(c.var.principal), id)) {
        throw notFound(`no target ${id}`);
      }
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/targets/{id}/extras",
      tags: TAG,
      summary: "Extras of a target",
      middleware: [requireAccess("read")] as const,
      request: { params: IdParam },
      responses: { 200: json(Extras, "key → value"), ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!await getTarget(sql, viewerOf(c.var.principal), id)) {
        throw notFound(`no target ${id}`);
      }
      return c.json(await getExtras(sql, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/api/targets/{id}/extras",
      tags: TAG,
      summary: "Set extras (a null value removes the key)",
      middleware: [requireAccess("write")] as const,
      request: { params: IdParam, ...body(Extras) },
      responses: { 200: json(Extras, "the extras now"), ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!await getTarget(sql, viewerOf(c.var.principal), id)) {
        throw notFound(`no target ${id}`);
      }
      await setExtras(sql, id, c.req.valid("json"));
      return c.json(await getExtras(sql, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/targets/{id}/names",
      tags: TAG,
      summary: "Aliases of a target",
      middleware: [requireAccess("read")] as const,
      request: { params: IdParam },
      responses: { 200: json(z.array(TargetName), "aliases"), ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!await getTarget(sql, viewerOf(c.var.principal), id)) {
        throw notFound(`no target ${id}`);
      }
      return c.json(await listNames(sql, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/targets/{id}/names",
      tags: TAG,
      summary: "Add an alias",
      middleware: [requireAccess("write")] as const,
      request: { params: IdParam, ...body(TargetNameCreate) },
      responses: {
        201: json(TargetName, "the alias"),
        ...AUTH_ERRORS,
        ...NOT_FOUND,
        ...CONFLICT,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!await getTarget(sql, viewerOf(c.var.principal), id)) {
        throw notFound(`no target ${id}`);
      }
      return c.json(await addName(sql, id, c.req.valid("json").name), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/targets/{id}/names/{name_id}",
      tags: TAG,
      summary: "Remove an alias (admin)",
      middleware: [requireAccess("delete")] as const,
      request: {
        params: IdParam.extend({
          name_id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).openapi({
            param: { name: "name_id", in: "path" },
          }),
        }),
      },
      responses: { 204: { description: "removed" }, ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    async (c) => {
      const { id, name_id } = c.req.valid("param");
      if (
        !await getTarget(sql, viewerOf(c.var.principal), id) ||
        !await deleteName(sql, id, name_id)
      ) {
        throw notFound(`no alias ${name_id} of target ${id}`);
      }
      return c.body(null, 204);
    },
  );
}
