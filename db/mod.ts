/**
 * The database of the pipeline: connections (postgres.js, to a real server or
 * the embedded PGlite), versioned migrations, and every query of the archive
 * and the results store in one place. See docs/archive.md.
 *
 * ```ts
 * import { connect, migrate, startEmbeddedPostgres } from "./db/mod.ts";
 * const pg = await startEmbeddedPostgres();       // or a real KB_DATABASE_URL
 * const sql = connect(pg.url);
 * await migrate(sql);
 * ```
 *
 * @module
 */
export * from "./connect.ts";
export * from "./embedded.ts";
export * from "./migrate.ts";
export * from "./healpix_index.ts";
export * from "./archive.ts";
export * from "./queries.ts";
export * from "./results.ts";
