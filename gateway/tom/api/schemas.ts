/**
 * Request and response schemas of the TOM API (zod), shared by validation and
 * the OpenAPI 3.1 document. Shapes follow TOM Toolkit's REST API (paginated
 * `{count, next, previous, results}` lists, targets with `aliases` and extras).
 *
 * @module
 */
import { z } from "@hono/zod-openapi";

/** No control characters (names end up in HTML, logs and CSV). */
const noControl = (s: string) => ![...s].some((ch) => ch.charCodeAt(0) < 0x20 || ch === "\x7f");
/** Longest name of a target or alias. */
const NAME = z.string().trim().min(1).max(200).refine(noControl, "no control characters");
/** Longest free text accepted. */
const MAX_TEXT = 10_000;

/** Target permissions (TOM Toolkit). */
export const Permissions = z.enum(["OPEN", "PUBLIC", "PRIVATE"]).openapi({
  description: "OPEN and PUBLIC: every reader; PRIVATE: members of `groups`, the creator, admins",
});

/** A JSON value of an extra (bounded). */
export const ExtraValue = z.union([
  z.string().max(MAX_TEXT),
  z.number(),
  z.boolean(),
  z.null(),
]).openapi("ExtraValue");

/** Extras of a target: key → value. */
export const Extras = z.record(
  z.string().min(1).max(100).refine(noControl, "no control characters"),
  ExtraValue,
).openapi("Extras");

/** A group name. */
const Group = z.string().min(1).max(100).regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, _ . -");

/** A target as returned. */
export const Target = z.object({
  id: z.number().int(),
  name: z.string(),
  type: z.enum(["SIDEREAL", "NON_SIDEREAL"]),
  ra: z.number().openapi({ description: "degrees, ICRS" }),
  dec: z.number().openapi({ description: "degrees, ICRS" }),
  epoch: z.number(),
  permissions: Permissions,
  groups: z.array(z.string()),
  created_by: z.string().nullable(),
  score: z.number().nullable().openapi({ description: "latest P(kilonova) from derived alerts" }),
  score_at: z.string().nullable(),
  event_id: z.string().nullable(),
  aliases: z.array(z.string()),
  created: z.string(),
  modified: z.string(),
}).openapi("Target");
/** A target as returned. */
export type Target = z.infer<typeof Target>;

/** A target with its extras (detail view). */
export const TargetDetail = Target.extend({ extras: Extras }).openapi("TargetDetail");

/** Body of a target creation. */
export const TargetCreate = z.object({
  name: NAME,
  type: z.enum(["SIDEREAL", "NON_SIDEREAL"]).default("SIDEREAL"),
  ra: z.number().min(0).lt(360),
  dec: z.number().min(-90).max(90),
  epoch: z.number().min(1000).max(3000).default(2000),
  permissions: Permissions.default("PUBLIC"),
  groups: z.array(Group).max(50).default([]),
  aliases: z.array(NAME).max(100).default([]),
  extras: Extras.default({}),
}).openapi("TargetCreate");
/** Body of a target creation. */
export type TargetCreate = z.infer<typeof TargetCreate>;

/** Body of a target update (every field optional). */
export const TargetUpdate = z.object({
  name: NAME.optional(),
  type: z.enum(["SIDEREAL", "NON_SIDEREAL"]).optional(),
  ra: z.number().min(0).lt(360).optional(),
  dec: z.number().min(-90).max(90).optional(),
  epoch: z.number().min(1000).max(3000).optional(),
  permissions: Permissions.optional(),
  groups: z.array(Group).max(50).optional(),
}).openapi("TargetUpdate");
/** Body of a target update. */
export type TargetUpdate = z.infer<typeof TargetUpdate>;

/** Pagination query parameters. */
export const Page = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50).openapi({
    param: { name: "limit", in: "query" },
  }),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0).openapi({
    param: { name: "offset", in: "query" },
  }),
});

const isoTime = z.iso.datetime({ offset: true });
const finite = (lo: number, hi: number) => z.coerce.number().min(lo).max(hi);

/** Filters of the target list. */
export const TargetQuery = Page.extend({
  name: z.string().min(1).max(200).optional().openapi({
    description: "exact name or alias",
  }),
  name_contains: z.string().min(1).max(200).optional(),
  score_min: finite(0, 1).optional(),
  score_max: finite(0, 1).optional(),
  created_after: isoTime.optional(),
  created_before: isoTime.optional(),
  event_id: z.string().min(1).max(200).optional(),
  ra: finite(0, 360).optional().openapi({ description: "cone search centre, degrees" }),
  dec: finite(-90, 90).optional(),
  radius: finite(0, 10).optional().openapi({ description: "cone radius, degrees (≤ 10)" }),
  after_id: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().openapi({
    description: "keyset cursor: only targets with a larger id (the `next` links carry it); " +
      "the page then costs the same at any depth and `offset` only numbers it",
  }),
}).refine(
  (q) =>
    (q.ra === undefined && q.dec === undefined && q.radius === undefined) ||
    (q.ra !== undefined && q.dec !== undefined && q.radius !== undefined),
  { message: "a cone search needs ra, dec and radius together" },
);
/** Filters of the target list. */
export type TargetQuery = z.infer<typeof TargetQuery>;

/** A page of results (DRF style, like TOM Toolkit). */
export function paginated<T extends z.ZodType>(item: T, name: string) {
  return z.object({
    count: z.number().int().openapi({
      description: "matching rows: exact when count_exact, else a lower bound (counting " +
        "stopped early; see the TOM docs)",
    }),
    count_exact: z.boolean(),
    next: z.string().nullable(),
    previous: z.string().nullable(),
    results: z.array(item),
  }).openapi(name);
}

/** Path parameter `id`. */
export const IdParam = z.object({
  id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).openapi({
    param: { name: "id", in: "path" },
    example: 1,
  }),
});

/** An alias of a target. */
export const TargetName = z.object({
  id: z.number().int(),
  name: z.string(),
  created: z.string(),
}).openapi("TargetName");

/** Body adding an alias. */
export const TargetNameCreate = z.object({ name: NAME }).openapi("TargetNameCreate");

/** A target list. */
export const TargetList = z.object({
  id: z.number().int(),
  name: z.string(),
  created_by: z.string().nullable(),
  created: z.string(),
  targets: z.array(z.number().int()).openapi({ description: "ids of the targets you may see" }),
}).openapi("TargetList");

/** Body of a target list creation. */
export const TargetListCreate = z.object({
  name: NAME,
  targets: z.array(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)).max(10_000).default([]),
}).openapi("TargetListCreate");

/** Body adding targets to a list. */
export const TargetListAdd = z.object({
  targets: z.array(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)).min(1).max(10_000),
}).openapi("TargetListAdd");

/** A derived alert as the TOM received it. */
export const Alert = z.object({
  id: z.number().int(),
  result_id: z.string(),
  target_id: z.number().int(),
  alert_name: z.string().openapi({ description: "the name the alert gave the target" }),
  matched_by: z.enum(["new", "name", "position"]),
  event_id: z.string().nullable(),
  model: z.string(),
  model_version: z.string(),
  top_class: z.string(),
  score: z.number().nullable(),
  revision: z.number().int(),
  computed_at: z.string(),
  received_at: z.string(),
  payload: z.record(z.string(), z.unknown()).openapi({
    description: "the derived alert (kb.derived-alert.v1)",
  }),
}).openapi("Alert");

/** One point of a target's score history. */
export const Result = z.object({
  target_id: z.number().int(),
  result_id: z.string(),
  computed_at: z.string(),
  model: z.string(),
  model_version: z.string(),
  top_class: z.string(),
  score: z.number().nullable().openapi({ description: "P(kilonova)" }),
  scores: z.record(z.string(), z.number()),
  revision: z.number().int(),
  event_id: z.string().nullable(),
}).openapi("Result");

/** Filters of alerts and results. */
export const HistoryQuery = Page.extend({
  target_id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  event_id: z.string().min(1).max(200).optional(),
  score_min: finite(0, 1).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
});
/** Filters of alerts and results. */
export type HistoryQuery = z.infer<typeof HistoryQuery>;

/** A GW event with its sky map summary. */
export const Event = z.object({
  event_id: z.string(),
  first_seen: z.string(),
  alert_type: z.string().nullable(),
  event_time: z.string().nullable(),
  far: z.number().nullable(),
  area50_deg2: z.number().nullable(),
  area90_deg2: z.number().nullable(),
  distance_mpc: z.number().nullable(),
  distance_std_mpc: z.number().nullable(),
  targets: z.number().int().openapi({ description: "linked targets you may see" }),
}).openapi("Event");

/** Path parameter `event_id`. */
export const EventIdParam = z.object({
  event_id: z.string().min(1).max(200).openapi({ param: { name: "event_id", in: "path" } }),
});

/** Filters of the broker query (TOM Toolkit broker form). */
export const BrokerQuery = z.object({
  min_score: finite(0, 1).default(0.5),
  event_id: z.string().min(1).max(200).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
/** Filters of the broker query. */
export type BrokerQuery = z.infer<typeof BrokerQuery>;

/** A row of the broker query, shaped like TOM Toolkit's GenericAlert. */
export const GenericAlert = z.object({
  id: z.string().openapi({ description: "result id" }),
  name: z.string(),
  ra: z.number().nullable(),
  dec: z.number().nullable(),
  timestamp: z.string(),
  score: z.number().nullable(),
  top_class: z.string(),
  model: z.string(),
  model_version: z.string(),
  event_id: z.string().nullable(),
  url: z.string().nullable(),
}).openapi("GenericAlert");

/** Body turning a broker row into a target. */
export const BrokerToTarget = z.object({
  result_id: z.string().min(1).max(300),
  permissions: Permissions.default("PUBLIC"),
  groups: z.array(Group).max(50).default([]),
}).openapi("BrokerToTarget");

/** Error body. */
export const ErrorBody = z.object({
  error: z.string(),
  message: z.string(),
}).passthrough().openapi("Error");
