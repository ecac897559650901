/**
 * Test databases: a fresh database on the real PostgreSQL (`KB_DATABASE_URL`,
 * set by the test command; a missing variable fails the test, never skips it)
 * and a fresh embedded PGlite, so one suite runs against both.
 *
 * @module
 */
import { connect, type Sql } from "./connect.ts";
import { startEmbeddedPostgres } from "./embedded.ts";
import { migrate } from "./migrate.ts";

/** The real server's URL from the environment; throws with what to do when unset. */
export function databaseUrl(): string {
  const url = Deno.env.get("KB_DATABASE_URL");
  if (!url) {
    throw new Error(
      "KB_DATABASE_URL is not set: run the suite with `./kb task test` (starts PostgreSQL), or " +
        '`bash deploy/local/postgres.sh start && eval "$(bash deploy/local/stack.sh env postgres)"`',
    );
  }
  return url;
}

/** A database for one test, migrated, with its client. */
export interface TestDatabase {
  /** `postgres` (real server) or `pglite` (embedded). */
  readonly backend: Backend;
  readonly url: string;
  readonly sql: Sql;
  /** Closes the client and removes the database. */
  drop(): Promise<void>;
}

/**
 * Drops database `name` on the server of `adminUrl`, ending its sessions. FORCE cannot end
 * a session our role may not signal (an autovacuum worker after bulk writes fails with
 * pg_signal_backend); such a worker ends soon, so the drop is retried for a few seconds.
 */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const a = connect(adminUrl, { max: 1 });
  try {
    for (let attempt = 1;; attempt++) {
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`);
        return;
      } catch (err) {
        if (attempt === 10 || !/pg_signal_backend/.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await a.end();
  }
}

/** The two database backends. */
export type Backend = "postgres" | "pglite";
/** Both backends, for `for (const backend of BACKENDS) Deno.test(...)`. */
export const BACKENDS: readonly Backend[] = ["postgres", "pglite"];

/** `postgres://…/<db>` → the same server, database `name`. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Creates an empty database `kb_test_<random>` on the real server (or starts a
 * PGlite), applies the migrations unless `migrated` is false, and connects.
 */
export async function createTestDatabase(
  backend: Backend,
  options: { migrated?: boolean; max?: number } = {},
): Promise<TestDatabase> {
  let url: string;
  let cleanup: () => Promise<void>;
  if (backend === "postgres") {
    const admin = connect(databaseUrl(), { max: 1 });
    const name = `kb_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    try {
      await admin.unsafe(`create database ${name}`);
    } finally {
      await admin.end();
    }
    url = withDatabase(databaseUrl(), name);
    cleanup = () => dropDatabase(databaseUrl(), name);
  } else {
    const pg = await startEmbeddedPostgres();
    url = pg.url;
    cleanup = () => pg.stop();
  }
  const sql = connect(url, { max: options.max });
  if (options.migrated !== false) await migrate(sql);
  return {
    backend,
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      await cleanup();
    },
  };
}
