/**
 * Targets, their aliases and extras in PostgreSQL, every query filtered by what
 * the viewer may see (TOM Toolkit's target permissions).
 *
 * @module
 */
import type { Sql, TxSql } from "../../../db/mod.ts";
import type { Principal } from "../auth/roles.ts";
import { type Cone, coneWith, skyIndex } from "./sky.ts";

/** Who is looking: decides which PRIVATE targets are visible. */
export interface Viewer {
  readonly subject: string;
  readonly groups: readonly string[];
  readonly admin: boolean;
}

/** The viewer a principal is. */
export function viewerOf(p: Principal): Viewer {
  return { subject: p.subject, groups: p.groups, admin: p.roles.includes("admin") };
}

/** The broker module and tools: sees everything. */
export const SYSTEM_VIEWER: Viewer = { subject: "system", groups: [], admin: true };

/** A target row as the API returns it. */
export interface TargetRow {
  id: number;
  name: string;
  type: "SIDEREAL" | "NON_SIDEREAL";
  ra: number;
  dec: number;
  epoch: number;
  permissions: "OPEN" | "PUBLIC" | "PRIVATE";
  groups: string[];
  created_by: string | null;
  score: number | null;
  score_at: string | null;
  event_id: string | null;
  aliases: string[];
  created: string;
  modified: string;
}

/** Filters of {@link listTargets}. */
export interface TargetFilter {
  readonly name?: string;
  readonly nameContains?: string;
  readonly scoreMin?: number;
  readonly scoreMax?: number;
  readonly createdAfter?: string;
  readonly createdBefore?: string;
  readonly eventId?: string;
  readonly cone?: Cone;
  /** Row order (default: id ascending); ties are broken by id. */
  readonly order?: TargetOrder;
  readonly limit: number;
  readonly offset: number;
  /**
   * Keyset cursor: only rows after this id in the list's order (id order only;
   * `offset` is then not applied). A page costs the same at any depth.
   */
  readonly afterId?: number;
}

/** Columns a target list may be sorted by. */
export const TARGET_SORT_KEYS = ["id", "name", "score", "ra", "dec", "created"] as const;

/** Sort order of {@link listTargets}. */
export interface TargetOrder {
  readonly by: typeof TARGET_SORT_KEYS[number];
  readonly desc: boolean;
}

/**
 * SQL fragments that do not depend on the request, made once per `sql`: a
 * postgres.js fragment is a Promise subclass, ~2 µs of CPU to create, and a
 * list query had a dozen of them (postgres.js only reads a nested fragment,
 * so one object serves every query). `key` must name what `make` builds.
 */
function once<T>(sql: Sql | TxSql, key: string, make: () => T): T {
  let m = fragments.get(sql);
  if (!m) fragments.set(sql, m = new Map());
  let f = m.get(key) as T | undefined;
  if (f === undefined) m.set(key, f = make());
  return f;
}
const fragments = new WeakMap<Sql | TxSql, Map<string, unknown>>();

/** The ORDER BY of an order on alias `t` (column names from the allow-list only). */
function orderBy(sql: Sql | TxSql, o: TargetOrder | undefined) {
  if (!o || o.by === "id") {
    return o?.desc
      ? once(sql, "order:id:desc", () => sql`t.id desc`)
      : once(sql, "order:id", () => sql`t.id`);
  }
  if (!(TARGET_SORT_KEYS as readonly string[]).includes(o.by)) {
    throw new RangeError(`cannot sort targets by ${JSON.stringify(o.by)}`);
  }
  return once(sql, `order:${o.by}:${o.desc}`, () => orderByColumn(sql, o));
}

/** {@link orderBy} of a column other than id. */
function orderByColumn(sql: Sql | TxSql, o: TargetOrder) {
  const col = sql("t." + o.by);
  // Each order matches an index (migrations 0100, 0102), so a page reads ~limit rows, not
  // the table: unscored targets go last both ways (`score desc nulls last, id` has its
  // own index, ascending uses `score`); the other columns are NOT NULL, so a descending
  // order is the backward scan of their index — `nulls last` there would cost a sort
  // of every row (0.5 s on 1M targets).
  if (o.by === "score") {
    return o.desc ? sql`${col} desc nulls last, t.id` : sql`${col} asc nulls last, t.id`;
  }
  return o.desc ? sql`${col} desc, t.id desc` : sql`${col}, t.id`;
}

/** Counts stop here: a list never pays for counting a million rows. */
export const COUNT_LIMIT = 1_000;

/**
 * An unfiltered list's count is exact: the PUBLIC/OPEN targets come from
 * `tom_target_counts` (kept by triggers), the PRIVATE ones the viewer may see
 * are counted on their partial indexes up to this many.
 */
export const PRIVATE_COUNT_LIMIT = 10_000;

/** Raised for a cursor on a list sorted by something else than id. */
export class CursorOrderError extends RangeError {
  constructor() {
    super("after_id pages lists in id order only: drop `ordering`, or page with offset");
    this.name = "CursorOrderError";
  }
}

/**
 * The viewer's groups as a `text[]` parameter. The type is named: postgres.js
 * learns array types only after a connection's first query, and an untyped
 * array on that first query fails ("malformed array literal").
 */
function groupsParam(sql: Sql | TxSql, v: Viewer) {
  return sql.array([...v.groups], TEXT_ARRAY_OID);
}
const TEXT_ARRAY_OID = 1009;

/** The visibility condition on alias `t`. */
export function visible(sql: Sql | TxSql, v: Viewer) {
  if (v.admin) return once(sql, "true", () => sql`true`);
  // Remembered per viewer scope (a fragment holds its parameters and postgres.js only reads
  // it): a caller's requests make it once, not per request (~2 µs each).
  // A frozen groups array (a verified token's, shared by its requests) is a key by itself:
  // no JSON key to build on each request.
  const frozen = Object.isFrozen(v.groups);
  if (frozen) {
    const hit = frozenMemo.get(v.groups);
    if (hit !== undefined && hit.sql === sql && hit.subject === v.subject) return hit.f;
  }
  let m = visibleMemo.get(sql);
  if (!m) visibleMemo.set(sql, m = new Map());
  const key = JSON.stringify([v.subject, v.groups]);
  let f = m.get(key);
  if (f === undefined) {
    f = sql`(t.permissions <> 'PRIVATE' or t.created_by = ${v.subject} or t.groups && ${
      groupsParam(sql, v)
    }::text[])`;
    if (m.size >= VISIBLE_REMEMBERED) m.delete(m.keys().next().value!);
    m.set(key, f);
  }
  if (frozen) frozenMemo.set(v.groups, { sql, subject: v.subject, f });
  return f;
}
/** {@link visible}'s condition by frozen groups array (the last subject and pool seen with it). */
const frozenMemo = new WeakMap<
  readonly string[],
  { sql: Sql | TxSql; subject: string; f: ReturnType<Sql["unsafe"]> }
>();
/** Viewer scopes whose visibility condition is remembered, per `sql`. */
export const VISIBLE_REMEMBERED = 1_000;
const visibleMemo = new WeakMap<Sql | TxSql, Map<string, ReturnType<Sql["unsafe"]>>>();

const iso = (d: unknown): string | null =>
  d === null || d === undefined ? null : d instanceof Date ? d.toISOString() : String(d);

// deno-lint-ignore no-explicit-any
function toTarget(r: any): TargetRow {
  return {
    id: Number(r.id),
    name: r.name,
    type: r.type,
    ra: r.ra,
    dec: r.dec,
    epoch: r.epoch,
    permissions: r.permissions,
    groups: r.groups ?? [],
    created_by: r.created_by,
    score: r.score,
    score_at: iso(r.score_at),
    event_id: r.event_id,
    aliases: r.aliases ?? [],
    created: iso(r.created)!,
    modified: iso(r.modified)!,
  };
}

function columns(sql: Sql | TxSql) {
  return sql`t.id, t.name, t.type, t.ra, t.dec, t.epoch, t.permissions, t.groups, t.created_by,
    t.score, t.score_at, t.event_id, t.created, t.modified,
    coalesce((select array_agg(n.name order by n.name) from tom_target_names n
              where n.target_id = t.id), '{}') as aliases`;
}

/**
 * A small integer written into the SQL text rather than sent as a parameter:
 * with `limit $1` PostgreSQL cannot plan a statement once for all executions
 * (a generic plan assumes a tenth of the table), so it plans it again on every
 * request — most of an unfiltered page's database time. Page sizes are few
 * (1–1000), so the prepared statements stay few; offsets stay parameters.
 */
function int(sql: Sql, n: number) {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${n} is not a row count`);
  // Few distinct values (page sizes 1–1000 and the count caps): made once each.
  return once(sql, `int:${n}`, () => sql.unsafe(String(n)));
}

/** The parts of a list query (see {@link listTargets}). */
function listQuery(sql: Sql, v: Viewer, f: TargetFilter) {
  const conds = [visible(sql, v)];
  if (f.name !== undefined) {
    conds.push(
      sql`(t.name = ${f.name} or t.id in (select target_id from tom_target_names where name = ${f.name}))`,
    );
  }
  if (f.nameContains !== undefined) {
    conds.push(sql`t.name ilike ${"%" + f.nameContains.replace(/[\\%_]/g, "\\$&") + "%"}`);
  }
  if (f.scoreMin !== undefined) conds.push(sql`t.score >= ${f.scoreMin}`);
  if (f.scoreMax !== undefined) conds.push(sql`t.score <= ${f.scoreMax}`);
  if (f.createdAfter !== undefined) conds.push(sql`t.created >= ${f.createdAfter}::timestamptz`);
  if (f.createdBefore !== undefined) conds.push(sql`t.created < ${f.createdBefore}::timestamptz`);
  if (f.eventId !== undefined) {
    conds.push(
      sql`t.id in (select target_id from tom_target_events where event_id = ${f.eventId})`,
    );
  }
  const filtered = conds.length > 1 || f.cone !== undefined;
  const and = (cs: ReturnType<typeof visible>[]) => cs.reduce((a, b) => sql`${a} and ${b}`);
  // A cone's rows are found once per statement (a materialised CTE) and filtered there, once:
  // the count and the page both read them (was two runs of the range scans, ~20% of
  // PostgreSQL's time per cone; then the filters on every row twice).
  const withCone = f.cone ? coneWith(sql, f.cone, and(conds)) : once(sql, "empty", () => sql``);
  const from = f.cone
    ? once(sql, "from:cone", () => sql`kb_cone t`)
    : once(sql, "from:targets", () => sql`tom_targets t`);
  const outerConds = f.cone ? [once(sql, "true", () => sql`true`)] : conds;
  const pageConds = [...outerConds];
  let offset = f.offset;
  if (f.afterId !== undefined) {
    if (f.order && f.order.by !== "id") throw new CursorOrderError();
    pageConds.push(f.order?.desc ? sql`t.id < ${f.afterId}` : sql`t.id > ${f.afterId}`);
    offset = 0;
  }
  let limit = COUNT_LIMIT;
  let counts;
  if (f.cone) {
    // The cone's rows are filtered already: the same statement text for every cone.
    counts = once(
      sql,
      "counts:cone",
      () =>
        sql`select 0::bigint as n_exact, (select count(*) from
          (select 1 from kb_cone t limit ${int(sql, COUNT_LIMIT + 1)}) s) as n_capped`,
    );
  } else if (filtered) {
    counts = sql`select 0::bigint as n_exact, (select count(*) from
      (select 1 from ${from} where ${and(conds)} limit ${
      int(sql, COUNT_LIMIT + 1)
    }) s) as n_capped`;
  } else if (v.admin) {
    counts = once(
      sql,
      "counts:admin",
      () => sql`select total as n_exact, 0::bigint as n_capped from tom_target_counts`,
    );
  } else {
    limit = PRIVATE_COUNT_LIMIT;
    // A function (migration 0102), so this statement's plan does not depend on the viewer.
    counts = sql`select total - private as n_exact, tom_private_targets_visible(${v.subject},
        ${groupsParam(sql, v)}::text[], ${int(sql, limit + 1)}) as n_capped
      from tom_target_counts`;
  }
  const order = orderBy(sql, f.order);
  const where = and(pageConds);
  // The page's ids, in order; the caller joins them to the rows (built when asked for).
  const ids = () =>
    sql`select t.id from ${from} where ${where}
    order by ${order} limit ${int(sql, f.limit)} ${
      offset ? sql`offset ${offset}` : once(sql, "empty", () => sql``)
    }`;
  // The page's rows: with an offset through `ids` (skipped rows stay in the index); without
  // one read directly, which saves a second index look-up per row.
  const direct = () =>
    sql`select t.* from ${from} where ${where} order by ${order} limit ${int(sql, f.limit)}`;
  const rows = offset
    ? sql`select t.* from (${ids()}) ids join tom_targets t on t.id = ids.id`
    // A cone page in id order without a cursor is the same text for every cone: made once
    // per page size and direction (at most 2 × 1,000).
    : f.cone && pageConds.length === 1 && (!f.order || f.order.by === "id")
    ? once(sql, `rows:cone:${f.order?.desc === true}:${f.limit}`, direct)
    : direct();
  const total = (r: Record<string, unknown> | undefined) => {
    if (!r) {
      throw new Error("tom_target_counts has no row: migration 0102 was undone; re-create its row");
    }
    const capped = Number(r.n_capped);
    return { count: Number(r.n_exact) + Math.min(capped, limit), exact: capped <= limit };
  };
  return { withCone, counts, ids, rows, order, total };
}

/**
 * Lists the visible targets matching `f` in one query, with a count: exact for
 * an unfiltered list (up to {@link PRIVATE_COUNT_LIMIT} visible PRIVATE
 * targets), capped at {@link COUNT_LIMIT} with a filter; `exact` false means
 * `count` is a lower bound.
 *
 * The page is found by id first — in id order an index-only scan of
 * `tom_targets_list_idx` filters PRIVATE rows on the index and skips `offset`
 * rows without visiting the table — then only the page's rows are read, with
 * their aliases. With `afterId` (keyset) there is nothing to skip.
 */
export async function listTargets(
  sql: Sql,
  v: Viewer,
  f: TargetFilter,
): Promise<{ rows: TargetRow[]; count: number; exact: boolean }> {
  const q = listQuery(sql, v, f);
  // One row even for an empty page (it carries the counts).
  const rows = await sql`${q.withCone}select c.n_exact, c.n_capped, t.* from (${q.counts}) c
    left join lateral (
      select ${columns(sql)} from (${q.ids()}) ids join tom_targets t on t.id = ids.id
    ) t on true
    order by ${q.order}`;
  return { rows: rows.filter((r) => r.id !== null).map(toTarget), ...q.total(rows[0]) };
}

/** A page of targets as JSON text, built by PostgreSQL (see {@link listTargetsJson}). */
export interface TargetPageJson {
  /** JSON array of the page's targets, each as {@link TargetRow} (same keys, same formats). */
  readonly results: string;
  /** {@link results} as PostgreSQL sent it (UTF-8): for a response body, with no decoding. */
  readonly resultsUtf8: Uint8Array;
  /** Targets on the page. */
  readonly rows: number;
  /** Id of the page's last target (the keyset cursor of the next page): id order only. */
  readonly lastId: number | undefined;
  readonly count: number;
  readonly exact: boolean;
}

/**
 * {@link listTargets} for the HTTP API: the same query and rows, but
 * PostgreSQL hands over the page as JSON text (same keys and formats as
 * {@link TargetRow}; each row's object is stored with it, migration 0105), so
 * the TOM neither parses 50 rows × 15 columns nor serialises them again — most
 * of a list request's CPU (docs/tom.md, "Speed").
 */
export async function listTargetsJson(
  sql: Sql,
  v: Viewer,
  f: TargetFilter,
): Promise<TargetPageJson> {
  const q = listQuery(sql, v, f);
  // The cursor exists for id order only (the keyset is the id).
  const byId = !f.order || f.order.by === "id";
  const lastId = !byId
    ? once(sql, "null::bigint", () => sql`null::bigint`)
    : f.order?.desc
    ? once(sql, "min(t.id)", () => sql`min(t.id)`)
    : once(sql, "max(t.id)", () => sql`max(t.id)`);
  // Each row's object is stored with it (api_json, migration 0105, kept by triggers): the
  // page is those strings joined, ~1 µs a row in PostgreSQL against ~6 µs for json_agg
  // of the row built here. A null (a row written with triggers off) is built on the spot.
  // Raw: the columns as the bytes PostgreSQL sent (the page stays UTF-8 for the response).
  const [r] = await sql`${q.withCone}select c.n_exact, c.n_capped, p.n, p.last_id, p.results
    from (${q.counts}) c cross join lateral (
      select count(*)::int as n, ${lastId} as last_id,
        '[' || coalesce(string_agg(coalesce(t.api_json,
          (select tom_target_api_json(x) from tom_targets x where x.id = t.id)), ','
          order by ${q.order}), '') || ']' as results
      from (${q.rows}) t
    ) p`.raw() as unknown as (Uint8Array | null)[][];
  const num = (b: Uint8Array | null | undefined) =>
    b === null || b === undefined ? null : Number(latin1.decode(b));
  const utf8 = r?.[4] ?? EMPTY_ARRAY;
  return {
    get results() {
      return new TextDecoder().decode(utf8);
    },
    resultsUtf8: utf8,
    rows: num(r?.[2]) ?? 0,
    lastId: num(r?.[3]) ?? undefined,
    ...q.total(r ? { n_exact: num(r[0]), n_capped: num(r[1]) } : undefined),
  };
}
const latin1 = new TextDecoder("latin1");
const EMPTY_ARRAY = new TextEncoder().encode("[]");

/** One visible target, or undefined. */
export async function getTarget(
  sql: Sql | TxSql,
  v: Viewer,
  id: number,
): Promise<TargetRow | undefined> {
  const [r] = await sql`select ${columns(sql)} from tom_targets t
    where t.id = ${id} and ${visible(sql, v)}`;
  return r ? toTarget(r) : undefined;
}

/** A value of an extra. */
export type ExtraValue = string | number | boolean | null;

/** Extras of a target. */
export async function getExtras(sql: Sql | TxSql, id: number): Promise<Record<string, ExtraValue>> {
  const rows = await sql<{ key: string; value: ExtraValue }[]>`
    select key, value from tom_target_extras where target_id = ${id} order by key`;
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

/** Sets extras (a null value removes the key). */
export async function setExtras(
  sql: Sql | TxSql,
  id: number,
  extras: Record<string, unknown>,
): Promise<void> {
  for (const [key, value] of Object.entries(extras)) {
    if (value === null) {
      await sql`delete from tom_target_extras where target_id = ${id} and key = ${key}`;
    } else {
      await sql`insert into tom_target_extras (target_id, key, value)
        values (${id}, ${key}, ${sql.json(value as never)})
        on conflict (target_id, key) do update set value = excluded.value, modified = now()`;
    }
  }
}

/** Raised when a name or alias is taken. */
export class NameTakenError extends Error {
  constructor(readonly taken: string) {
    super(`the name "${taken}" is already used by a target or alias: choose another`);
    this.name = "NameTakenError";
  }
}

/** True when a name is a target's name or alias. */
export async function nameTaken(sql: Sql | TxSql, name: string, exceptTarget?: number) {
  const [r] = await sql`select 1 from tom_targets where name = ${name}
      and id is distinct from ${exceptTarget ?? null}::bigint
    union all select 1 from tom_target_names where name = ${name}
      and target_id is distinct from ${exceptTarget ?? null}::bigint
    limit 1`;
  return r !== undefined;
}

/** What a new target needs. */
export interface NewTarget {
  name: string;
  type?: "SIDEREAL" | "NON_SIDEREAL";
  ra: number;
  dec: number;
  epoch?: number;
  permissions?: "OPEN" | "PUBLIC" | "PRIVATE";
  groups?: string[];
  aliases?: string[];
  extras?: Record<string, unknown>;
  createdBy?: string | null;
}

/**
 * More work for the transaction of a store write, run just before it commits (e.g. the
 * audit log's row), so that the change and its record stand or fall together.
 */
export type AlsoInTx<T> = (tx: TxSql, result: T) => Promise<void>;

/** Creates a target with its aliases and extras; throws {@link NameTakenError}. */
export async function createTarget(
  sql: Sql,
  t: NewTarget,
  alsoInTx?: AlsoInTx<number>,
): Promise<number> {
  return await sql.begin(async (tx) => {
    // Names are unique across targets and aliases: serialise creations.
    await tx`select pg_advisory_xact_lock(${TOM_NAMES_LOCK})`;
    const names = [t.name, ...(t.aliases ?? [])];
    if (new Set(names).size !== names.length) {
      throw new NameTakenError(names.find((n, i) => names.indexOf(n) !== i)!);
    }
    for (const n of names) if (await nameTaken(tx, n)) throw new NameTakenError(n);
    const id = await insertTarget(tx, t);
    for (const a of t.aliases ?? []) {
      await tx`insert into tom_target_names (target_id, name) values (${id}, ${a})`;
    }
    if (t.extras) await setExtras(tx, id, t.extras);
    await alsoInTx?.(tx, id);
    return id;
  });
}

/** Advisory lock serialising name changes and the broker's target matching. */
export const TOM_NAMES_LOCK = 0x746f6d6e616d; // "tomnam"

/** Inserts the target row only. */
export async function insertTarget(tx: Sql | TxSql, t: NewTarget): Promise<number> {
  const [{ id }] = await tx<{ id: number }[]>`insert into tom_targets
    (name, type, ra, dec, hpx, epoch, permissions, groups, created_by)
    values (${t.name}, ${t.type ?? "SIDEREAL"}, ${t.ra}, ${t.dec}, ${
    String(skyIndex(t.ra, t.dec))
  }, ${t.epoch ?? 2000},
            ${t.permissions ?? "PUBLIC"}, ${tx.array(t.groups ?? [])}::text[], ${
    t.createdBy ?? null
  })
    returning id`;
  return Number(id);
}

/** Updates fields of a visible target; false when it is not visible. */
export async function updateTarget(
  sql: Sql,
  v: Viewer,
  id: number,
  patch: {
    name?: string;
    type?: string;
    ra?: number;
    dec?: number;
    epoch?: number;
    permissions?: string;
    groups?: string[];
  },
  alsoInTx?: AlsoInTx<void>,
): Promise<boolean> {
  return await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${TOM_NAMES_LOCK})`;
    const [row] = await tx<{ id: number; ra: number; dec: number }[]>`select t.id, t.ra, t.dec
      from tom_targets t where t.id = ${id} and ${visible(tx, v)} for update`;
    if (!row) return false;
    if (patch.name !== undefined && await nameTaken(tx, patch.name, id)) {
      throw new NameTakenError(patch.name);
    }
    const set: Record<string, unknown> = {};
    for (const k of ["name", "type", "ra", "dec", "epoch", "permissions"] as const) {
      if (patch[k] !== undefined) set[k] = patch[k];
    }
    // A new position gets its sky index (store/sky.ts) in the same statement.
    if (patch.ra !== undefined || patch.dec !== undefined) {
      set.hpx = String(skyIndex(patch.ra ?? row.ra, patch.dec ?? row.dec));
    }
    if (Object.keys(set).length) {
      await tx`update tom_targets set ${tx(set as Record<string, string>)}, modified = now()
        where id = ${id}`;
    }
    if (patch.groups !== undefined) {
      await tx`update tom_targets set groups = ${tx.array(patch.groups)}::text[], modified = now()
        where id = ${id}`;
    }
    if (patch.name !== undefined) {
      // The new name must not linger as an alias of this target.
      await tx`delete from tom_target_names where target_id = ${id} and name = ${patch.name}`;
    }
    await alsoInTx?.(tx);
    return true;
  });
}

/** Deletes a visible target; false when it is not visible. */
export async function deleteTarget(
  sql: Sql,
  v: Viewer,
  id: number,
  alsoInTx?: AlsoInTx<void>,
): Promise<boolean> {
  return await sql.begin(async (tx) => {
    const r = await tx`delete from tom_targets t where t.id = ${id} and ${visible(tx, v)}`;
    if (r.count === 0) return false;
    await alsoInTx?.(tx);
    return true;
  });
}

/** Aliases of a target. */
export async function listNames(sql: Sql | TxSql, id: number) {
  const rows = await sql<{ id: number; name: string; created: Date }[]>`
    select id, name, created from tom_target_names where target_id = ${id} order by id`;
  return rows.map((r) => ({ id: Number(r.id), name: r.name, created: iso(r.created)! }));
}

/** Adds an alias; throws {@link NameTakenError}. */
export async function addName(
  sql: Sql,
  id: number,
  name: string,
  alsoInTx?: AlsoInTx<{ id: number; name: string }>,
) {
  return await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${TOM_NAMES_LOCK})`;
    if (await nameTaken(tx, name)) throw new NameTakenError(name);
    const [r] = await tx<{ id: number; name: string; created: Date }[]>`
      insert into tom_target_names (target_id, name) values (${id}, ${name})
      returning id, name, created`;
    const alias = { id: Number(r.id), name: r.name, created: iso(r.created)! };
    await alsoInTx?.(tx, alias);
    return alias;
  });
}

/** Removes an alias; false when the target has no such alias. */
export async function deleteName(
  sql: Sql,
  id: number,
  nameId: number,
  alsoInTx?: AlsoInTx<void>,
): Promise<boolean> {
  return await sql.begin(async (tx) => {
    const r = await tx`delete from tom_target_names where target_id = ${id} and id = ${nameId}`;
    if (r.count === 0) return false;
    await alsoInTx?.(tx);
    return true;
  });
}
