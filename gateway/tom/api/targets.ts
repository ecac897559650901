/**
 * `/api/targets/` — list (filters, cone search, pagination), create, detail,
 * update, delete; `/api/targets/{id}/extras` and `/api/targets/{id}/names`.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { TypedResponse } from "hono";
import { requireAccess } from "../auth/middleware.ts";
import { actorOf, diff, recordAudit } from "../audit/record.ts";
import type { TxSql } from "../../../db/connect.ts";
import {
  addName,
  createTarget,
  deleteName,
  deleteTarget,
  getExtras,
  getTarget,
  listNames,
  listTargetsJson,
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
const TargetPage = paginated(Target, "TargetPage");
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

const utf8 = new TextEncoder();

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
        200: json(TargetPage, "a page of targets"),
        ...AUTH_ERRORS,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const cache = deps.listCache?.enabled ? deps.listCache : undefined;
      const key = cache?.key(c.var.principal, c.req.url);
      const cached = key === undefined ? undefined : cache!.get(key);
      if (cached) {
        return c.body(cached, 200, {
          "content-type": "application/json",
        }) as unknown as TypedResponse<z.infer<typeof TargetPage>, 200, "json">;
      }
      const generation = cache?.generation() ?? 0;
      const page = await listTargetsJson(sql, viewerOf(c.var.principal), {
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
        afterId: q.after_id,
      });
      const { count, exact } = page;
      const links = pageLinks(c.req.url, q, page.rows, { count, exact }, {
        lastId: page.lastId,
      });
      // The page's JSON comes written by PostgreSQL (store/targets.ts): spliced in, not re-parsed.
      const head = JSON.stringify({
        count,
        count_exact: exact,
        ...links,
      });
      // Bytes, not a string: the page is not decoded from UTF-8 and encoded again.
      const prefix = utf8.encode(`${head.slice(0, -1)},"results":`);
      const out = new Uint8Array(prefix.length + page.resultsUtf8.length + 1);
      out.set(prefix);
      out.set(page.resultsUtf8, prefix.length);
      out[out.length - 1] = 0x7d; // }
      if (key !== undefined) cache!.put(key, out, generation);
      return c.body(out, 200, {
        "content-type": "application/json",
      }) as unknown as TypedResponse<z.infer<typeof TargetPage>, 200, "json">;
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
      const id = await createTarget(
        sql,
        { ...t, createdBy: p.subject },
        (tx, id) =>
          recordAudit(tx, actorOf(c), {
            action: "target.create",
            objectType: "target",
            objectId: id,
            detail: { payload: t },
          }),
      );
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
      const patch = c.req.valid("json");
      const before = await getTarget(sql, v, id);
      const audit = (tx: TxSql) =>
        recordAudit(tx, actorOf(c), {
          action: "target.update",
          objectType: "target",
          objectId: id,
          detail: { changes: diff(before!, { ...before, ...patch }, Object.keys(patch)) },
        });
      if (!before || !await updateTarget(sql, v, id, patch, audit)) {
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
      const before = await getTarget(sql, viewerOf(c.var.principal), id);
      const audit = (tx: TxSql) => {
        const { name, ra, dec, permissions, groups } = before!;
        return recordAudit(tx, actorOf(c), {
          action: "target.delete",
          objectType: "target",
          objectId: id,
          detail: { deleted: { name, ra, dec, permissions, groups } },
        });
      };
      if (!before || !await deleteTarget(sql, viewerOf(c.var.principal), id, audit)) {
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
      const before = await getExtras(sql, id);
      const patch = c.req.valid("json");
      await sql.begin(async (tx) => {
        await setExtras(tx, id, patch);
        await recordAudit(tx, actorOf(c), {
          action: "target.extras.update",
          objectType: "target",
          objectId: id,
          detail: { changes: diff(before, patch) },
        });
      });
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
      const alias = await addName(
        sql,
        id,
        c.req.valid("json").name,
        (tx, alias) =>
          recordAudit(tx, actorOf(c), {
            action: "target.name.add",
            objectType: "target_name",
            objectId: alias.id,
            detail: { target_id: id, name: alias.name },
          }),
      );
      return c.json(alias, 201);
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
      const alias = (await getTarget(sql, viewerOf(c.var.principal), id))
        ? (await listNames(sql, id)).find((n) => n.id === name_id)
        : undefined;
      const audit = (tx: TxSql) =>
        recordAudit(tx, actorOf(c), {
          action: "target.name.delete",
          objectType: "target_name",
          objectId: name_id,
          detail: { target_id: id, name: alias!.name },
        });
      if (!alias || !await deleteName(sql, id, name_id, audit)) {
        throw notFound(`no alias ${name_id} of target ${id}`);
      }
      return c.body(null, 204);
    },
  );
}
