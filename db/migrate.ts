/**
 * Versioned schema migrations, applied at start: `db/migrations/NNNN_name.sql`
 * files run in version order, each once, each in its own transaction, recorded
 * in `schema_migrations` with a checksum. Replicas starting together serialise
 * on a PostgreSQL advisory lock. A version missing from the table is applied
 * even when a higher one already was (parallel branches land in any order);
 * an applied file whose text changed stops the start: write a new migration.
 * Migrations only add: nothing here ever drops or resets (see migrate_test.ts).
 *
 * Version ranges: 0001–0099 the archive and results store (this module's
 * owner), 0100–0199 the TOM.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Sql } from "./connect.ts";

/** One migration file. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

/** What {@link migrate} did. */
export interface MigrateReport {
  /** Versions applied by this call, in order. */
  readonly applied: number[];
  /** Versions that were already there. */
  readonly present: number[];
}

/** Advisory lock key of the migrator ("kbmigr" as a number). */
export const MIGRATION_LOCK_KEY = 0x6b626d6967;

/** The directory of the migrations shipped with the code. */
export const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Reads `NNNN_name.sql` files of `dir`, sorted by version; fails on a duplicate version. */
export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const out: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    const m = FILE.exec(entry.name);
    if (!m) {
      throw new Error(
        `migration file "${entry.name}" is misnamed: use NNNN_name.sql (four digits, lower-case ` +
          `letters, digits and '_')`,
      );
    }
    const sql = await Deno.readTextFile(new URL(entry.name, dir));
    out.push({
      version: Number(m[1]),
      name: m[2],
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i].version === out[i - 1].version) {
      throw new Error(
        `two migrations have version ${out[i].version} (${out[i - 1].name}, ${out[i].name}): ` +
          `renumber one`,
      );
    }
  }
  return out;
}

/**
 * Applies every migration of `migrations` (default: the shipped ones) that the
 * database lacks. Safe to call from many replicas at once.
 */
export async function migrate(
  sql: Sql,
  options: {
    migrations?: Migration[];
    log?: (msg: string, fields?: Record<string, unknown>) => void;
  } = {},
): Promise<MigrateReport> {
  const migrations = options.migrations ?? await loadMigrations();
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`create table if not exists schema_migrations (
      version integer primary key,
      name text not null,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`;
  });
  const applied: number[] = [];
  const present: number[] = [];
  for (const m of migrations) {
    const done = await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
      const [row] = await tx<{ checksum: string; name: string }[]>`
        select checksum, name from schema_migrations where version = ${m.version}`;
      if (row) {
        if (row.checksum !== m.checksum) {
          throw new Error(
            `migration ${String(m.version).padStart(4, "0")}_${m.name} was changed after it was ` +
              `applied (checksum differs): migrations are never edited once applied; add a new ` +
              `migration with the change instead`,
          );
        }
        return false;
      }
      await tx.unsafe(m.sql).simple();
      await tx`insert into schema_migrations (version, name, checksum)
        values (${m.version}, ${m.name}, ${m.checksum})`;
      return true;
    });
    if (done) {
      applied.push(m.version);
      options.log?.("migration applied", { version: m.version, name: m.name });
    } else present.push(m.version);
  }
  return { applied, present };
}
