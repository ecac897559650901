/**
 * What every route module of the API shares: the app type, dependencies,
 * standard error responses for the OpenAPI document, and pagination links.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Sql } from "../../../db/mod.ts";
import type { Logger } from "../../../actors/runtime/log.ts";
import type { AuthVariables } from "../auth/middleware.ts";
import type { IngestOptions } from "../broker/ingest.ts";
import type { Facility } from "../facilities/facility.ts";
import type { ListCache } from "./list_cache.ts";
import { ErrorBody } from "./schemas.ts";

/** The API app with the caller in `c.var.principal`. */
export type TomApp = OpenAPIHono<{ Variables: AuthVariables }>;

/** What the routes need. */
export interface ApiDeps {
  readonly sql: Sql;
  readonly log: Logger;
  readonly ingest: IngestOptions;
  /** The short-lived cache of target lists (list_cache.ts); absent: no caching. */
  readonly listCache?: ListCache;
  /** Facilities observation requests go to, by name (issue 9). */
  readonly facilities?: ReadonlyMap<string, Facility>;
}

const err = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorBody } },
});

/** Error responses every authenticated route may give. */
export const AUTH_ERRORS = {
  400: err("invalid request (the message names the parameter)"),
  401: err("no, invalid or expired token (see WWW-Authenticate)"),
  403: err("the token's roles do not allow this"),
  429: err("too many requests for this token or address: wait Retry-After seconds"),
  503: err("the identity provider or the database is unreachable; retry"),
} as const;

/** A 404 response. */
export const NOT_FOUND = { 404: err("no such object, or not visible to you") } as const;
/** A 409 response. */
export const CONFLICT = { 409: err("the name is taken") } as const;

/**
 * `next`/`previous` links of a page, as absolute URLs (the request's with
 * `limit` and `offset` set). With `cursor`, `next` also carries `after_id` (the
 * page's last id: a keyset cursor, so following it costs the same at any
 * depth) and `previous` none (it pages back by offset).
 */
export function pageLinks(
  url: string,
  page: { limit: number; offset: number },
  rowsOnPage: number,
  count: { count: number; exact: boolean },
  cursor?: { lastId: number | undefined },
): { next: string | null; previous: string | null } {
  const more = rowsOnPage === page.limit &&
    (!count.exact || page.offset + page.limit < count.count);
  if (!more && page.offset <= 0) return { next: null, previous: null };
  // Parsed once; each link is the parameters set on a copy (cheaper than a URL per link).
  const u = new URL(url);
  const base = `${u.origin}${u.pathname}?`;
  const at = (offset: number, afterId: number | undefined) => {
    const p = new URLSearchParams(u.searchParams);
    p.set("limit", String(page.limit));
    p.set("offset", String(offset));
    if (cursor) {
      if (afterId === undefined) p.delete("after_id");
      else p.set("after_id", String(afterId));
    }
    return base + p.toString();
  };
  return {
    next: more ? at(page.offset + page.limit, cursor?.lastId) : null,
    previous: page.offset > 0 ? at(Math.max(0, page.offset - page.limit), undefined) : null,
  };
}

/** A refusal with a status and a JSON body `{error, message}` (turned into a response by the app). */
export class ApiError extends Error {
  constructor(readonly status: 400 | 404 | 409, readonly code: string, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

/** A 404 to throw. */
export function notFound(message: string): ApiError {
  return new ApiError(404, "not_found", message);
}

/** A 409 to throw. */
export function conflict(message: string): ApiError {
  return new ApiError(409, "conflict", message);
}
