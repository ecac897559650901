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
  const at = pageLinkWriter(url, page.limit, cursor !== undefined);
  return {
    next: more ? at(page.offset + page.limit, cursor?.lastId) : null,
    previous: page.offset > 0 ? at(Math.max(0, page.offset - page.limit), undefined) : null,
  };
}

/**
 * Writes links to pages of `url`: `limit` and `offset` set, and with `cursor`
 * `after_id` set (or removed when undefined), as `URLSearchParams` would. A
 * plain URL ({@link simpleUrl}, the usual case) is handled as text (~10 µs less
 * than URL objects); any other is parsed once. `parse` forces the parsed way
 * (tests compare the two).
 */
export function pageLinkWriter(
  url: string,
  limit: number,
  cursor: boolean,
  parse = false,
): (offset: number, afterId: number | undefined) => string {
  const simple = parse ? undefined : simpleUrl(url);
  if (simple) {
    return (offset, afterId) => {
      const p = [...simple.pairs];
      setPair(p, "limit", String(limit));
      setPair(p, "offset", String(offset));
      if (cursor) setPair(p, "after_id", afterId === undefined ? undefined : String(afterId));
      return simple.base + p.map(([k, v]) => `${k}=${v}`).join("&");
    };
  }
  // Parsed once; each link is the parameters set on a copy (cheaper than a URL per link).
  const u = new URL(url);
  const base = `${u.origin}${u.pathname}?`;
  return (offset, afterId) => {
    const p = new URLSearchParams(u.searchParams);
    p.set("limit", String(limit));
    p.set("offset", String(offset));
    if (cursor) {
      if (afterId === undefined) p.delete("after_id");
      else p.set("after_id", String(afterId));
    }
    return base + p.toString();
  };
}

/**
 * A URL that `new URL` and `URLSearchParams` would give back unchanged: lower-case
 * host with a non-default port or none, a path of letters, digits, `/`, `_` and
 * `-` (no dot segments, nothing to percent-encode), and `name=value` pairs of
 * characters the form encoding keeps as they are (letters, digits, `*-._`). Its
 * origin and path, and the pairs in order; undefined for any other URL (the
 * caller then parses it).
 */
export function simpleUrl(
  url: string,
): { base: string; pairs: readonly (readonly [string, string])[] } | undefined {
  const m = SIMPLE_URL.exec(url);
  if (!m) return undefined;
  const [, scheme, host, port, path, query] = m;
  if (
    port !== undefined &&
    (port === (scheme === "http" ? ":80" : ":443") || Number(port.slice(1)) > 65535)
  ) return undefined;
  // A host ending in a number is an IPv4 address to the URL parser (127.1, 0x7f.0.0.1,
  // 010.0.0.1 are rewritten): only the canonical dotted quad passes; no IDNA labels.
  const last = host.slice(host.lastIndexOf(".") + 1);
  if (/^(?:[0-9]+|0x[0-9a-f]*)$/.test(last) && !IPV4.test(host)) return undefined;
  if (/(?:^|\.)xn--/.test(host)) return undefined;
  const pairs: [string, string][] = [];
  if (query) {
    for (const part of query.split("&")) {
      const eq = part.indexOf("=");
      if (eq <= 0 || part.indexOf("=", eq + 1) !== -1) return undefined;
      pairs.push([part.slice(0, eq), part.slice(eq + 1)]);
    }
  }
  return { base: `${scheme}://${host}${port ?? ""}${path}?`, pairs };
}
const SIMPLE_URL =
  /^(https?):\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)*)(:[1-9][0-9]{0,4})?(\/[A-Za-z0-9_\/-]*)(?:\?([A-Za-z0-9*._=&-]*))?$/;
const IPV4 =
  /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/** `URLSearchParams.set` (a value) or `delete` (undefined) on pairs, in place. */
function setPair(pairs: (readonly [string, string])[], name: string, value: string | undefined) {
  const i = pairs.findIndex(([k]) => k === name);
  if (i === -1) {
    if (value !== undefined) pairs.push([name, value]);
    return;
  }
  for (let j = pairs.length - 1; j > i; j--) if (pairs[j][0] === name) pairs.splice(j, 1);
  if (value === undefined) pairs.splice(i, 1);
  else pairs[i] = [name, value];
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
