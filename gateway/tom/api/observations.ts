/**
 * `/api/observations/` — ObservationRecords (TOM Toolkit's): list and detail
 * (observer), request by hand and cancel (pi), with the state history. A
 * request the facility finds unobservable is refused with its reasons (400)
 * and leaves no record.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireAccess } from "../auth/middleware.ts";
import { actorOf, recordAudit } from "../audit/record.ts";
import { getTarget, viewerOf } from "../store/targets.ts";
import {
  type Facility,
  FacilityRefusal,
  type ObservationParameters,
} from "../facilities/facility.ts";
import { applyState } from "../facilities/records.ts";
import { submitRecord } from "../facilities/strategy.ts";
import { type ApiDeps, ApiError, AUTH_ERRORS, NOT_FOUND, notFound, type TomApp } from "./common.ts";
import { IdParam, Page, paginated } from "./schemas.ts";

const TAG = ["observations"];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** An ObservationRecord. */
export const ObservationRecordSchema = z.object({
  id: z.number().int(),
  target_id: z.number().int(),
  facility: z.string(),
  observation_id: z.string().nullable(),
  status: z.string(),
  terminal: z.boolean(),
  parameters: z.unknown(),
  requested_by: z.string(),
  rule: z.string().nullable().openapi({ description: "the strategy rule (automatic requests)" }),
  trigger_result_id: z.string().nullable(),
  trigger_score: z.number().nullable(),
  event_id: z.string().nullable(),
  detail: z.string(),
  created: z.string(),
  modified: z.string(),
  states: z.array(
    z.object({ status: z.string(), detail: z.string(), source: z.string(), at: z.string() }),
  )
    .optional(),
}).openapi("ObservationRecord");

const ObservationQuery = Page.extend({
  target_id: z.coerce.number().int().min(1).optional(),
  status: z.string().min(1).max(40).optional(),
});

const ObservationCreate = z.object({
  target_id: z.number().int().min(1),
  facility: z.string().min(1).max(100).optional().openapi({
    description: "default: the first facility",
  }),
  filters: z.array(z.string().min(1).max(20)).min(1).max(10),
  exposure_time: z.number().positive().max(3600).default(300),
  exposure_count: z.number().int().min(1).max(100).default(1),
  windows: z.array(z.object({
    start: z.iso.datetime({ offset: true }),
    end: z.iso.datetime({ offset: true }),
  })).min(1).max(50),
  max_airmass: z.number().min(1).max(25).default(2),
  min_lunar_distance: z.number().min(0).max(180).default(30),
}).openapi("ObservationCreate");

type Row = Record<string, unknown> & { created: Date; modified: Date; id: number };
const out = (r: Row) =>
  ({
    ...r,
    id: Number(r.id),
    target_id: Number(r.target_id),
    trigger_score: r.trigger_score === null ? null : Number(r.trigger_score),
    created: r.created.toISOString(),
    modified: r.modified.toISOString(),
  }) as z.infer<typeof ObservationRecordSchema>;

/** Registers the observation routes. */
export function registerObservations(app: TomApp, deps: ApiDeps): void {
  const { sql } = deps;
  const facilities = deps.facilities ?? new Map<string, Facility>();
  const facilityOf = (name?: string): Facility => {
    const f = name ? facilities.get(name) : facilities.values().next().value;
    if (!f) {
      throw new ApiError(
        400,
        "invalid_request",
        name
          ? `no facility "${name}": known ${[...facilities.keys()].join(", ") || "none"}`
          : "no facility is configured (set KB_TOM_FACILITY_URL)",
      );
    }
    return f;
  };
  const visibleRecord = async (
    c: { var: { principal: Parameters<typeof viewerOf>[0] } },
    id: number,
  ) => {
    const [r] = await sql<Row[]>`select * from tom_observation_records where id = ${id}`;
    if (!r || !(await getTarget(sql, viewerOf(c.var.principal), Number(r.target_id)))) {
      throw notFound(`no observation record ${id}, or its target is not visible to you`);
    }
    return r;
  };

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/observations/",
      tags: TAG,
      summary: "List observation records (newest first)",
      middleware: [requireAccess("read")] as const,
      request: { query: ObservationQuery },
      responses: {
        200: json(paginated(ObservationRecordSchema, "ObservationPage"), "a page of records"),
        ...AUTH_ERRORS,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const v = viewerOf(c.var.principal);
      const rows = await sql<Row[]>`select o.* from tom_observation_records o
        join tom_targets t on t.id = o.target_id
        where (${q.target_id ?? null}::bigint is null or o.target_id = ${q.target_id ?? null})
          and (${q.status ?? null}::text is null or o.status = ${q.status ?? null})
          and (${v.admin} or t.permissions <> 'PRIVATE' or t.created_by = ${v.subject}
               or t.groups && ${sql.array([...v.groups])}::text[])
        order by o.id desc limit ${q.limit} offset ${q.offset}`;
      return c.json({
        count: q.offset + rows.length,
        count_exact: rows.length < q.limit,
        next: null,
        previous: null,
        results: rows.map(out),
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/observations/{id}/",
      tags: TAG,
      summary: "One observation record with its state history",
      middleware: [requireAccess("read")] as const,
      request: { params: IdParam },
      responses: { 200: json(ObservationRecordSchema, "the record"), ...AUTH_ERRORS, ...NOT_FOUND },
    }),
    async (c) => {
      const r = await visibleRecord(c, c.req.valid("param").id);
      const states = await sql<{ status: string; detail: string; source: string; at: Date }[]>`
        select status, detail, source, at from tom_observation_states
        where record_id = ${r.id} order by at`;
      return c.json(
        { ...out(r), states: states.map((s) => ({ ...s, at: s.at.toISOString() })) },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/observations/",
      tags: TAG,
      summary: "Request an observation (validated for visibility, then submitted)",
      middleware: [requireAccess("write")] as const,
      request: {
        body: { content: { "application/json": { schema: ObservationCreate } }, required: true },
      },
      responses: {
        201: json(ObservationRecordSchema, "the submitted record"),
        ...AUTH_ERRORS,
        ...NOT_FOUND,
      },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const t = await getTarget(sql, viewerOf(c.var.principal), b.target_id);
      if (!t) throw notFound(`no target ${b.target_id}, or not visible to you`);
      const facility = facilityOf(b.facility);
      const params: ObservationParameters = {
        target: { name: t.name, ra: t.ra, dec: t.dec },
        filters: b.filters,
        exposureTimeS: b.exposure_time,
        exposureCount: b.exposure_count,
        windows: b.windows,
        maxAirmass: b.max_airmass,
        minLunarDistance: b.min_lunar_distance,
      };
      const v = await facility.validate(params);
      if (!v.ok) {
        const reasons = v.problems.flatMap((p, i) => p.map((x) => `window ${i}: ${x}`));
        throw new ApiError(400, "not_observable", reasons.join("; "));
      }
      const row = await sql.begin(async (tx) => {
        const [r] = await tx<{ id: number }[]>`insert into tom_observation_records
          (target_id, facility, parameters, requested_by)
          values (${b.target_id}, ${facility.name}, ${tx.json(params as never)},
            ${c.var.principal.username}) returning id`;
        await recordAudit(tx, actorOf(c), {
          action: "observation.request",
          objectType: "observation",
          objectId: Number(r.id),
          detail: {
            target_id: b.target_id,
            target: t.name,
            facility: facility.name,
            filters: b.filters,
            windows: b.windows.length,
          },
        });
        return r;
      });
      await submitRecord(sql, facility, Number(row.id));
      return c.json(out(await visibleRecord(c, Number(row.id))), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/observations/{id}/cancel/",
      tags: TAG,
      summary: "Cancel a pending observation request",
      middleware: [requireAccess("write")] as const,
      request: { params: IdParam },
      responses: {
        200: json(ObservationRecordSchema, "the canceled record"),
        ...AUTH_ERRORS,
        ...NOT_FOUND,
        409: json(z.object({ error: z.string(), message: z.string() }), "already in a final state"),
      },
    }),
    async (c) => {
      const r = await visibleRecord(c, c.req.valid("param").id);
      if (r.terminal) {
        throw new ApiError(
          409,
          "conflict",
          `observation ${r.id} is ${r.status}: nothing to cancel`,
        );
      }
      const facility = facilityOf(String(r.facility));
      if (r.observation_id) {
        let s;
        try {
          s = await facility.cancel(String(r.observation_id));
        } catch (err) {
          if (!(err instanceof FacilityRefusal)) throw err;
          // The facility reached a final state before its event reached us (e.g. it just
          // completed): record what it says now, and tell the caller there is nothing to cancel.
          const now = await facility.status(String(r.observation_id));
          await applyState(
            sql,
            { id: Number(r.id) },
            now.state,
            "reconciled on cancel",
            "reconcile",
          );
          throw new ApiError(
            409,
            "conflict",
            `observation ${r.id} is ${now.state} at ${facility.name}: nothing to cancel ` +
              `(${err.message})`,
          );
        }
        await applyState(
          sql,
          { id: Number(r.id) },
          s.state,
          `canceled by ${c.var.principal.username}`,
          "cancel",
        );
      } else {
        await applyState(
          sql,
          { id: Number(r.id) },
          "CANCELED",
          `canceled by ${c.var.principal.username} before submission`,
          "cancel",
        );
      }
      const after = await visibleRecord(c, Number(r.id));
      await recordAudit(sql, actorOf(c), {
        action: "observation.cancel",
        objectType: "observation",
        objectId: Number(r.id),
        detail: {
          target_id: Number(r.target_id),
          observation_id: r.observation_id ?? null,
          status: { from: r.status, to: after.status },
        },
      });
      return c.json(out(after), 200);
    },
  );
}
