/**
 * The embedded default: PGlite (PostgreSQL compiled to WebAssembly) in this
 * process, served on a local TCP socket by `@electric-sql/pglite-socket`, so the
 * very postgres.js code that talks to a real server talks to it too.
 *
 * PGlite is one PostgreSQL session: the socket server queues the queries of its
 * connections and keeps a transaction's queries together, but session state
 * (prepared statements, advisory locks) is shared, so clients of an embedded URL
 * run without named prepared statements (see {@link connect}).
 *
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  /** The PGlite instance (direct access, e.g. for dumps). */
  readonly db: PGlite;
  /** Stops the socket server and closes PGlite (flushing `dataDir`). */
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedOptions {
  /** Directory that keeps the data between runs (default: in memory, gone at stop). */
  readonly dataDir?: string;
  /** TCP port (default 0: a free one). */
  readonly port?: number;
  /** Socket connections accepted at once (default 32). */
  readonly maxConnections?: number;
}

const embeddedUrls = new Set<string>();

/** True when `url` points at an embedded server started in this process. */
export function isEmbeddedUrl(url: string): boolean {
  return embeddedUrls.has(url);
}

/** Starts PGlite and serves it on 127.0.0.1. */
export async function startEmbeddedPostgres(
  options: EmbeddedOptions = {},
): Promise<EmbeddedPostgres> {
  const db = options.dataDir ? await PGlite.create(options.dataDir) : await PGlite.create();
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: options.port ?? 0,
    maxConnections: options.maxConnections ?? 32,
  });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw new Error(
      `cannot serve the embedded PostgreSQL on 127.0.0.1:${options.port ?? 0}: ${
        (err as Error).message
      }`,
      { cause: err },
    );
  }
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  embeddedUrls.add(url);
  let stopped: Promise<void> | undefined;
  return {
    url,
    db,
    stop() {
      stopped ??= (async () => {
        embeddedUrls.delete(url);
        await server.stop();
        await db.close();
      })();
      return stopped;
    },
  };
}
