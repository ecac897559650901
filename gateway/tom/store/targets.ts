/**
 * Targets, their aliases and extras in PostgreSQL, every query filtered by what
 * the viewer may see (TOM Toolkit's target permissions).
 *
 * @module
 */
import type { Sql, TxSql } from "../../../db/mod.ts";
import type { Principal } from "../auth/roles.ts";
import { type Cone, coneWhere } from "./sky.ts";

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
  readonly limit: number;
  readonly offset: number;
}

/** Counts stop here: a list never pays for counting a million rows. */
export const COUNT_LIMIT = 1_000;

/** The visibility condition on alias `t`. */
export function visible(sql: Sql | TxSql, v: Viewer) {
  if (v.admin) return sql`true`;
  return sql`(t.permissions <> 'PRIVATE' or t.created_by = ${v.subject} or t.groups && ${
    sql.array([...v.groups])
  }::text[])`;
}

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

/** Lists the visible targets matching `f`, with a count capped at {@link COUNT_LIMIT}. */
export async function listTargets(
  sql: Sql,
  v: Viewer,
  f: TargetFilter,
): Promise<{ rows: TargetRow[]; count: number; exact: boolean }> {
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
  if (f.cone) conds.push(coneWhere(sql, f.cone));
  const where = conds.reduce((a, b) => sql`${a} and ${b}`);
  const [rows, [{ n }]] = await Promise.all([
    // Aliases are looked up for the page's rows only, not for the skipped ones.
    sql`select ${columns(sql)} from (select * from tom_targets t where ${where}
        order by t.id limit ${f.limit} offset ${f.offset}) t order by t.id`,
    sql<{ n: number }[]>`select count(*)::int as n from
        (select 1 from tom_targets t where ${where} limit ${COUNT_LIMIT + 1}) s`,
  ]);
  return { rows: rows.map(toTarget), count: Math.min(n, COUNT_LIMIT), exact: n <= COUNT_LIMIT };
}

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

/** Creates a target with its aliases and extras; throws {@link NameTakenError}. */
export async function createTarget(sql: Sql, t: NewTarget): Promise<number> {
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
    return id;
  });
}

/** Advisory lock serialising name changes and the broker's target matching. */
export const TOM_NAMES_LOCK = 0x746f6d6e616d; // "tomnam"

/** Inserts the target row only. */
export async function insertTarget(tx: Sql | TxSql, t: NewTarget): Promise<number> {
  const [{ id }] = await tx<{ id: number }[]>`insert into tom_targets
    (name, type, ra, dec, epoch, permissions, groups, created_by)
    values (${t.name}, ${t.type ?? "SIDEREAL"}, ${t.ra}, ${t.dec}, ${t.epoch ?? 2000},
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
): Promise<boolean> {
  return await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${TOM_NAMES_LOCK})`;
    const [row] = await tx`select t.id from tom_targets t where t.id = ${id} and ${visible(tx, v)}
      for update`;
    if (!row) return false;
    if (patch.name !== undefined && await nameTaken(tx, patch.name, id)) {
      throw new NameTakenError(patch.name);
    }
    const set: Record<string, unknown> = {};
    for (const k of ["name", "type", "ra", "dec", "epoch", "permissions"] as const) {
      if (patch[k] !== undefined) set[k] = patch[k];
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
    return true;
  });
}

/** Deletes a visible target; false when it is not visible. */
export async function deleteTarget(sql: Sql, v: Viewer, id: number): Promise<boolean> {
  const r = await sql`delete from tom_targets t where t.id = ${id} and ${visible(sql, v)}`;
  return r.count > 0;
}

/** Aliases of a target. */
export async function listNames(sql: Sql | TxSql, id: number) {
  const rows = await sql<{ id: number; name: string; created: Date }[]>`
    select id, name, created from tom_target_names where target_id = ${id} order by id`;
  return rows.map((r) => ({ id: Number(r.id), name: r.name, created: iso(r.created)! }));
}

/** Adds an alias; throws {@link NameTakenError}. */
export async function addName(sql: Sql, id: number, name: string) {
  return await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${TOM_NAMES_LOCK})`;
    if (await nameTaken(tx, name)) throw new NameTakenError(name);
    const [r] = await tx<{ id: number; name: string; created: Date }[]>`
      insert into tom_target_names (target_id, name) values (${id}, ${name})
      returning id, name, created`;
    return { id: Number(r.id), name: r.name, created: iso(r.created)! };
  });
}

/** Removes an alias; false when the target has no such alias. */
export async function deleteName(sql: Sql, id: number, nameId: number): Promise<boolean> {
  const r = await sql`delete from tom_target_names where target_id = ${id} and id = ${nameId}`;
  return r.count > 0;
}
