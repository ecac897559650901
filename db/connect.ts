/**
 * Connections to PostgreSQL with postgres.js: the same code talks to a real
 * server and to the embedded PGlite (served on a local socket by
 * {@link startEmbeddedPostgres}).
 *
 * @module
 */
import postgres from "postgres";
import { isEmbeddedUrl } from "./embedded.ts";
import { shardedSql } from "./shards.ts";

/** A postgres.js client (a pool of connections). */
export type Sql = postgres.Sql;
/** A postgres.js transaction or client. */
export type TxSql = postgres.TransactionSql | postgres.Sql;

/** Options of {@link connect}. */
export interface ConnectOptions {
  /**
   * Connections in the pool (default 4; always 1 against the embedded server): one-connection
   * clients, an idle one chosen first (db/shards.ts), each opened at its first query.
   */
  readonly max?: number;
  /** Seconds to wait for a connection (default 10). */
  readonly connectTimeoutS?: number;
  /** Application name shown in `pg_stat_activity`. */
  readonly applicationName?: string;
}

/** Hides the password of a connection URL, for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}

/** A connection URL split for postgres.js: the URL and, for a unix socket, the socket's path. */
export interface SocketUrl {
  /** The URL without its `host` parameter. */
  readonly url: string;
  /** `<directory>/.s.PGSQL.<port>` when the URL names a socket directory, else undefined. */
  readonly socketPath?: string;
}

/**
 * Reads libpq's form for a unix-domain socket, `postgres://user:pass@host:port/db?host=/dir`:
 * the `host` parameter, an absolute directory, wins over the URL's host, and the URL's port
 * (default 5432) names the socket file in it, `/dir/.s.PGSQL.<port>`. postgres.js would send
 * an unknown URL parameter to the server as a setting, so the parameter is taken out of the
 * URL. A URL without it (TCP, the default) comes back unchanged.
 */
export function socketUrl(url: string): SocketUrl {
  const q = url.indexOf("?");
  if (q < 0) return { url };
  const params = new URLSearchParams(url.slice(q + 1));
  const dir = params.get("host");
  if (dir === null) return { url };
  if (!dir.startsWith("/") || params.getAll("host").length > 1) {
    throw new Error(
      `"${redactUrl(url)}": the host parameter must be one absolute directory (a unix ` +
        "socket's, e.g. ?host=/var/run/postgresql); for TCP write the host in the URL instead",
    );
  }
  params.delete("host");
  const rest = params.toString();
  const bare = url.slice(0, q) + (rest ? `?${rest}` : "");
  const port = new URL(bare).port || "5432";
  return { url: bare, socketPath: `${dir.replace(/\/+$/, "")}/.s.PGSQL.${port}` };
}

/**
 * Opens a pool on `url` (`postgres://user:pass@host:port/db`; with `?host=/dir`, on the
 * unix-domain socket in that directory, see {@link socketUrl}). Nothing is sent until the
 * first query. Against the embedded server, named prepared statements are off (its
 * connections share one PGlite session).
 */
export function connect(url: string, options: ConnectOptions = {}): Sql {
  guardClosedSocketWrite();
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new Error(
      `"${
        redactUrl(url)
      }" is not a PostgreSQL URL: write postgres://user:password@host:port/database`,
    );
  }
  const embedded = isEmbeddedUrl(url);
  const { url: bare, socketPath } = socketUrl(url);
  // PGlite is one session: several pool connections interleave their
  // extended-protocol messages on it, and transactions of one connection then
  // wait on queries of another (seen as hangs and "portal does not exist").
  // One connection per pool keeps postgres.js queueing in charge.
  const size = embedded ? 1 : Math.max(1, options.max ?? 4);
  // One-connection clients, one per connection of the pool (db/shards.ts: postgres.js's own
  // pool gets slower with every query once two or more of its connections are in use).
  const client = (max: number) =>
    postgres(bare, {
      ...(socketPath ? { path: socketPath } : {}),
      max,
      connect_timeout: options.connectTimeoutS ?? 10,
      prepare: !embedded,
      onnotice: () => {},
      connection: { application_name: options.applicationName ?? "kilonova-broker" },
      types: {
        // bigint columns come back as JS numbers when safe, else strings stay exact.
        bigint: {
          to: 20,
          from: [20],
          serialize: (v: number | bigint | string) => String(v),
          parse: (v: string) => {
            const n = Number(v);
            return Number.isSafeInteger(n) ? n : v;
          },
        },
      },
    });
  if (poolKind() === "postgres.js") return client(size);
  return shardedSql(Array.from({ length: size }, () => client(1)));
}

/**
 * `KB_DB_POOL`: `turns` (default) — one-connection clients taking turns (db/shards.ts); or
 * `postgres.js` — postgres.js's own pool, which gets slower with every query a busy process
 * makes (docs/archive.md): for comparisons, and as a way back should the default misbehave.
 */
function poolKind(): "turns" | "postgres.js" {
  const v = Deno.env.get("KB_DB_POOL") ?? "turns";
  if (v !== "turns" && v !== "postgres.js") {
    throw new Error(`KB_DB_POOL="${v}" is not a pool kind: write turns (default) or postgres.js`);
  }
  return v;
}

let guarded = false;

/**
 * postgres.js 3.4.9 (the latest release) crashes the process when the server
 * goes away under a transaction: the failed query's rejection makes
 * `sql.begin` write its ROLLBACK on the connection that just closed, which
 * schedules a write on a socket postgres.js has already set to null, and the
 * `TypeError: Cannot read properties of null (reading 'write')` thrown from that
 * timer is uncaught (found by e2e/faults_test.ts: a PostgreSQL restart killed
 * the TOM). The queries involved have already failed with CONNECTION_CLOSED and
 * are retried by their callers, so this one error is logged and the process goes
 * on; any other uncaught error still ends it.
 */
function guardClosedSocketWrite(): void {
  if (guarded) return;
  guarded = true;
  globalThis.addEventListener("error", (event) => {
    const err = event.error as Error | undefined;
    if (
      err instanceof TypeError && err.message.includes("reading 'write'") &&
      /postgres\/[^/]+\/src\/connection\.js/.test(err.stack ?? "")
    ) {
      event.preventDefault();
      console.error(JSON.stringify({
        time: new Date().toISOString(),
        level: "warn",
        msg: "postgres.js wrote on a closed connection (known client bug); ignored",
        error: err.message,
      }));
    }
  });
}

/** True for errors that mean "the server is away or restarting": retry later. */
export function isTransientDbError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) return false;
  const code = e.code ?? "";
  // 08xxx connection exceptions, 57P01-03 admin shutdown / crash shutdown / cannot connect now,
  // 40001/40P01 serialization failure and deadlock, 53300 too many connections.
  if (/^08/.test(code) || /^57P0[123]$/.test(code)) return true;
  if (code === "40001" || code === "40P01" || code === "53300") return true;
  if (
    /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|CONNECT_TIMEOUT|CONNECTION_CLOSED|CONNECTION_ENDED|CONNECTION_DESTROYED)$/
      .test(code)
  ) return true;
  if (isMissingSocket(code, e.message)) return true;
  return /connection (terminated|closed|refused|ended)|ECONNREFUSED|ECONNRESET/i.test(
    e.message ?? "",
  );
}

/** On a unix socket (`?host=/dir`), a stopped or restarting server has no socket file. */
function isMissingSocket(code: string, message: string | undefined): boolean {
  return code === "ENOENT" && /\/\.s\.PGSQL\.\d+$/.test(message ?? "");
}

/**
 * True for errors that mean the server cannot be reached (refused, connect timeout, no socket
 * file, a connection exception or an administrator's shutdown): what an API answers 503 for.
 */
export function isDbUnreachable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  const code = e?.code ?? "";
  return /^08|^57P0/.test(code) || /ECONNREFUSED|CONNECT_TIMEOUT/.test(code) ||
    isMissingSocket(code, e?.message);
}
