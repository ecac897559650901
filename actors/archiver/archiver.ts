/**
 * The archiver actor: consumes every `alerts.in.<kind>` message the Hopskotch
 * gateway publishes and stores it in PostgreSQL — raw bytes, hop headers and
 * Kafka position for all, typed rows for known kinds — in batches written in
 * one round trip each. A message is acknowledged only after its batch
 * committed; the unique message id makes redeliveries and replays add nothing.
 * Impossible content is stored raw and dead-lettered with the reason.
 *
 * @module
 */
import { z } from "zod";
import { CHANNELS } from "../../contracts/messages.ts";
import { type ActorDefinition, defineActor, Rejection } from "../runtime/actor.ts";
import { loadEnv } from "../runtime/config.ts";
import type { Logger } from "../runtime/log.ts";
import { backoff, describe } from "../runtime/middleware.ts";
import { type ArchiveItem, type BatchShape, insertAlertBatch } from "../../db/archive.ts";
import { connect, isTransientDbError, redactUrl, type Sql } from "../../db/connect.ts";
import { isEmbeddedUrl } from "../../db/embedded.ts";
import { migrate } from "../../db/migrate.ts";
import { WriteBatcher } from "./batcher.ts";
import { decodeArchiverInput } from "./decode.ts";
import { extract } from "./extract.ts";
import { KnownPoints } from "./known_points.ts";

/** The archiver's actor name (durable consumer, dead-letter subject `dlq.archiver`). */
export const ARCHIVER_NAME = "archiver";

/**
 * Defaults of the archiver's knobs, chosen by `deno task bench archive` (see
 * docs/archive.md, "Which bulk path is faster here").
 */
export const ARCHIVER_DEFAULTS = {
  batch: 500,
  lingerMs: 20,
  writers: 3,
  maxFutureS: 3600,
  shape: "json" as BatchShape,
  knownPoints: 50_000,
} as const;

/** Variables of the archiver (besides the runtime's). */
export const ARCHIVER_ENV = {
  KB_DATABASE_URL: {
    schema: z.string().regex(/^postgres(ql)?:\/\//, "a postgres:// URL"),
    doc: "PostgreSQL URL of the archive (postgres://user:password@host:port/database)",
  },
  KB_ARCHIVE_BATCH: {
    schema: z.coerce.number().int().min(1).max(10_000).default(ARCHIVER_DEFAULTS.batch),
    doc: "most alerts written in one statement",
  },
  KB_ARCHIVE_LINGER_MS: {
    schema: z.coerce.number().int().min(0).max(10_000).default(ARCHIVER_DEFAULTS.lingerMs),
    doc: "longest wait of a batch for more alerts while others are written (none when idle)",
  },
  KB_ARCHIVE_WRITERS: {
    schema: z.coerce.number().int().min(1).max(64).default(ARCHIVER_DEFAULTS.writers),
    doc: "batches written at once (each on its own connection)",
  },
  KB_ARCHIVE_MAX_FUTURE_S: {
    schema: z.coerce.number().int().min(0).max(30 * 86_400).default(ARCHIVER_DEFAULTS.maxFutureS),
    doc: "how far in the future an observation time may lie before the alert is rejected",
  },
  KB_ARCHIVE_SHAPE: {
    schema: z.enum(["json", "copy"]).default(ARCHIVER_DEFAULTS.shape),
    doc: "how a batch travels: json (one statement, one JSON parameter per table) or copy " +
      "(COPY into staging tables, then the same statement)",
  },
  KB_ARCHIVE_KNOWN_POINTS: {
    schema: z.coerce.number().int().min(0).max(10_000_000).default(ARCHIVER_DEFAULTS.knownPoints),
    doc: "photometry points remembered as archived, so that the history an alert repeats is " +
      "not sent again (two generations of this many; 0 sends every point)",
  },
} as const;

/** The archiver's configuration. */
export interface ArchiverConfig {
  readonly batch: number;
  readonly lingerMs: number;
  readonly writers: number;
  readonly maxFutureS: number;
  /** How a batch travels to the server (db/archive.ts `BatchShape`). */
  readonly shape: BatchShape;
  /** Photometry points remembered as archived, per generation (known_points.ts; 0: none). */
  readonly knownPoints: number;
}

/** Options of {@link createArchiver}. */
export interface ArchiverOptions {
  /** Use this client (and skip KB_DATABASE_URL); migrations still run once. */
  readonly sql?: Sql;
  readonly config?: Partial<ArchiverConfig>;
}

interface State {
  sql: Sql;
  batcher: WriteBatcher<ArchiveItem>;
  config: ArchiverConfig;
}

/** Connects and migrates, waiting out a database that is not there yet. */
async function init(options: ArchiverOptions, log: Logger, signal: AbortSignal): Promise<State> {
  let url: string | undefined;
  const env = options.sql ? undefined : loadEnv(ARCHIVER_ENV);
  const fromEnv = (): Partial<ArchiverConfig> =>
    env
      ? {
        batch: env.KB_ARCHIVE_BATCH,
        lingerMs: env.KB_ARCHIVE_LINGER_MS,
        writers: env.KB_ARCHIVE_WRITERS,
        maxFutureS: env.KB_ARCHIVE_MAX_FUTURE_S,
        shape: env.KB_ARCHIVE_SHAPE,
        knownPoints: env.KB_ARCHIVE_KNOWN_POINTS,
      }
      : {};
  const config: ArchiverConfig = {
    ...ARCHIVER_DEFAULTS,
    ...fromEnv(),
    ...options.config,
  };
  let sql = options.sql;
  if (!sql) {
    url = env!.KB_DATABASE_URL;
    if (config.shape === "copy" && isEmbeddedUrl(url)) {
      throw new Error(
        "KB_ARCHIVE_SHAPE=copy needs PostgreSQL: the embedded PGlite server does not speak " +
          "COPY FROM STDIN; unset KB_ARCHIVE_SHAPE (json) or point KB_DATABASE_URL at PostgreSQL",
      );
    }
    sql = connect(url, { max: config.writers + 1, applicationName: ARCHIVER_NAME });
  }
  for (let attempt = 1;; attempt++) {
    try {
      const report = await migrate(sql, { log: (msg, f) => log.info(msg, f) });
      log.info("archive ready", {
        database: url ? redactUrl(url) : "(given client)",
        migrationsApplied: report.applied,
        ...config,
      });
      break;
    } catch (err) {
      if (!isTransientDbError(err) || signal.aborted) throw err;
      const delay = backoff(attempt, 200, 5_000);
      if (attempt === 1 || attempt % 10 === 0) {
        log.warn("database not reachable; waiting for it", {
          attempt,
          retryInMs: delay,
          error: describe(err),
        });
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  const db = sql;
  const known = new KnownPoints(config.knownPoints);
  const batcher = new WriteBatcher<ArchiveItem>({
    write: async (items) => {
      const written = await insertAlertBatch(db, known.unsent(items), config.shape);
      // Every alert new to the archive: every point it carried is archived now.
      if (written.inserted === new Set(items.map((i) => i.alert.msg_id)).size) {
        known.remember(items);
      }
    },
    maxBatch: config.batch,
    lingerMs: config.lingerMs,
    maxConcurrent: config.writers,
    isTransient: isTransientDbError,
    log,
  });
  return { sql: db, batcher, config };
}

/** Builds an archiver actor (the registry's uses KB_DATABASE_URL; the demo passes its client). */
export function createArchiver(options: ArchiverOptions = {}): ActorDefinition {
  let state: Promise<State> | undefined;
  const getState = (log: Logger, signal: AbortSignal) => {
    state ??= init(options, log, signal).catch((err) => {
      state = undefined; // the next message tries again
      throw err;
    });
    return state;
  };
  const batch = options.config?.batch ?? ARCHIVER_DEFAULTS.batch;
  const writers = options.config?.writers ?? ARCHIVER_DEFAULTS.writers;
  return defineActor({
    name: ARCHIVER_NAME,
    description: "stores every inbound alert in PostgreSQL (raw + typed), exactly once in effect",
    version: "1.0.0",
    input: CHANNELS.alertsIn,
    outputs: [],
    // raw.base64 filled in from the bytes of sameAsJson envelopes (the record is kept exactly).
    decode: decodeArchiverInput,
    // Enough messages in flight to fill the batches being written and the next ones.
    tuning: { maxInFlight: Math.min(10_000, batch * (writers + 2)) },
    async handler(msg, ctx) {
      const s = await getState(ctx.log, ctx.signal);
      const ex = extract(msg.data, msg.id, msg.subject, { maxFutureS: s.config.maxFutureS });
      await s.batcher.add(ex.item);
      if (ex.rejection) {
        throw new Rejection(
          "rejected",
          `stored raw in the archive (status rejected), kept out of the typed tables: ${ex.rejection}`,
        );
      }
    },
  }) as unknown as ActorDefinition;
}

/** The archiver, configured from the environment (`deno task actor archiver`). */
export const archiverActor: ActorDefinition = createArchiver();
