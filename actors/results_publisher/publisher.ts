/**
 * The results publisher actor: consumes classification results
 * (`results.<kind>`), stores each once in the `results` table, and turns each
 * material change (per candidate and model, beyond a configurable threshold)
 * into a derived alert on `alerts.out.results`, which the outbound gateway
 * produces to the Hopskotch results topic as hop JSON.
 *
 * Results are decided in batches (`KB_RESULTS_BATCH`, `KB_RESULTS_LINGER_MS`):
 * the handler hands its result to a batcher and is acknowledged only after the
 * batch's transaction committed (see decide_batch.ts).
 *
 * Exactly once in effect: the decision is taken and recorded in one
 * transaction (serialised per candidate and model); a redelivered result that
 * was published re-emits the very same message (same NATS message id, same hop
 * `_id`, so JetStream and hop readers drop the copy); one that was judged
 * unchanged emits nothing.
 *
 * @module
 */
import { z } from "zod";
import { CHANNELS, type ClassificationResult } from "../../contracts/messages.ts";
import { RESULT_SUBJECTS } from "../../contracts/names.ts";
import { type ActorDefinition, defineActor, emit } from "../runtime/actor.ts";
import { ConfigError, loadEnv } from "../runtime/config.ts";
import type { Logger } from "../runtime/log.ts";
import { backoff, describe } from "../runtime/middleware.ts";
import { connect, isTransientDbError, redactUrl, type Sql, type TxSql } from "../../db/connect.ts";
import { migrate } from "../../db/migrate.ts";
import { pairKey } from "../../db/results.ts";
import { WriteBatcher } from "../archiver/batcher.ts";
import { KeyOrder } from "./key_order.ts";
import { OriginCache } from "./origins.ts";
import {
  decideBatch,
  type Decision,
  missingFromArchiveBatch,
  type ResultItem,
} from "./decide_batch.ts";

/** The publisher's actor name. */
export const RESULTS_PUBLISHER_NAME = "results-publisher";

/**
 * Defaults of the batching knobs, chosen with `./kb run -A
 * bench/results_publisher.ts` (docs/archive.md, "Results publisher").
 */
export const RESULTS_PUBLISHER_DEFAULTS = {
  batch: 200,
  lingerMs: 5,
  writers: 2,
  origins: 20_000,
} as const;

/**
 * How soon a result whose inputs are not archived yet is decided again: after
 * `first` ms, then twice as long each time, at most `max` ms apart. The archiver
 * and the classifier read the same message, and on a quiet pipeline the result
 * comes only a few milliseconds before the archiver's commit (it was 20 ms, then
 * 40: most of the end-to-end latency at 100 alerts/s); results retried together
 * are decided in one batch, so a retry costs little more than one query. Deno
 * fires a timer about 1 ms late (2 → ~3 ms, 1 → ~2 ms), so the first retry asks
 * for 1 ms.
 */
export const ARCHIVE_RETRY_MS = { first: 1, max: 500 } as const;

/** Variables of the publisher's batching (read when the actor is defined: they size its inflight). */
const BATCHING_ENV = {
  KB_RESULTS_BATCH: {
    schema: z.coerce.number().int().min(1).max(5_000).default(RESULTS_PUBLISHER_DEFAULTS.batch),
    doc: "most results decided and stored in one transaction",
  },
  KB_RESULTS_LINGER_MS: {
    schema: z.coerce.number().int().min(0).max(10_000).default(
      RESULTS_PUBLISHER_DEFAULTS.lingerMs,
    ),
    doc: "longest wait of a batch of results for more while other batches are decided " +
      "(none while the publisher is idle)",
  },
  KB_RESULTS_WRITERS: {
    schema: z.coerce.number().int().min(1).max(16).default(RESULTS_PUBLISHER_DEFAULTS.writers),
    doc: "batches decided at once (each on its own connection; batches sharing a candidate " +
      "still go in arrival order)",
  },
} as const;

/** Variables of the results publisher (besides the runtime's). */
export const RESULTS_PUBLISHER_ENV = {
  KB_DATABASE_URL: {
    schema: z.string().regex(/^postgres(ql)?:\/\//, "a postgres:// URL"),
    doc: "PostgreSQL URL of the archive and results store",
  },
  KB_RESULTS_MIN_CHANGE: {
    schema: z.coerce.number().min(0).max(1).default(0.05),
    doc: "smallest score change (any class) that republishes a candidate's result",
  },
  KB_RESULTS_TOPIC: {
    schema: z.string().min(1).default("kilonova.results"),
    doc: "Hopskotch topic named in derived alerts (HERMES `topic`; routing is KB_HOP_OUT_TOPICS)",
  },
  KB_RESULTS_SUBMITTER: {
    schema: z.string().min(1).default("kilonova-broker"),
    doc: "submitter and authors written in derived alerts",
  },
  KB_RESULTS_ARCHIVE_WAIT_MS: {
    schema: z.coerce.number().int().min(0).max(600_000).default(10_000),
    doc: "longest wait for the archiver to store a result's input alerts before its derived " +
      "alert is built without them (no target, photometry or origins for what is missing)",
  },
  KB_RESULTS_ORIGINS: {
    schema: z.coerce.number().int().min(0).max(1_000_000).default(
      RESULTS_PUBLISHER_DEFAULTS.origins,
    ),
    doc: "input alerts' origins (topic, partition, offset, hop _id) kept in memory for the " +
      "derived alerts that name them again (0: read every time)",
  },
  KB_RESULTS_MAX_PHOTOMETRY: {
    schema: z.coerce.number().int().min(0).max(10_000).default(200),
    doc: "most recent photometry points carried by a derived alert",
  },
  ...BATCHING_ENV,
} as const;

/** The publisher's configuration. */
export interface ResultsPublisherConfig {
  readonly minChange: number;
  readonly topic: string;
  readonly submitter: string;
  readonly maxPhotometry: number;
  /** Longest wait for the archiver to store a result's inputs, ms. */
  readonly archiveWaitMs?: number;
  /** Most results per batch (default {@link RESULTS_PUBLISHER_DEFAULTS}). */
  readonly batch?: number;
  /** How long a batch waits for more results, ms. */
  readonly lingerMs?: number;
  /** Batches decided at once. */
  readonly writers?: number;
  /** Input alerts' origins kept in memory (origins.ts; default {@link RESULTS_PUBLISHER_DEFAULTS}). */
  readonly origins?: number;
}

/** Options of {@link createResultsPublisher}. */
export interface ResultsPublisherOptions {
  readonly sql?: Sql;
  readonly config?: Partial<ResultsPublisherConfig>;
}

/** A result waiting in a batch; `decision` is set once its batch committed. */
interface Pending extends ResultItem {
  decision?: Decision;
}

interface State {
  sql: Sql;
  config: ResultsPublisherConfig;
  batcher: WriteBatcher<Pending>;
}

/** The batching knobs: options first, then the environment (when it is used), then defaults. */
function batching(
  o: ResultsPublisherOptions,
): { batch: number; lingerMs: number; writers: number } {
  let env: Partial<Record<keyof typeof BATCHING_ENV, number>> = {};
  // Read when the actor is defined (it sizes maxInFlight); without env access (a module that
  // only imports the registry) the defaults stand, and init reads the environment anyway.
  if (!o.sql && Deno.permissions.querySync({ name: "env" }).state === "granted") {
    try {
      env = loadEnv(BATCHING_ENV);
    } catch (err) {
      // A wrong value is reported by init (loadEnv of every variable) before the first result.
      if (!(err instanceof ConfigError)) throw err;
    }
  }
  return {
    batch: o.config?.batch ?? env.KB_RESULTS_BATCH ?? RESULTS_PUBLISHER_DEFAULTS.batch,
    lingerMs: o.config?.lingerMs ?? env.KB_RESULTS_LINGER_MS ??
      RESULTS_PUBLISHER_DEFAULTS.lingerMs,
    writers: o.config?.writers ?? env.KB_RESULTS_WRITERS ?? RESULTS_PUBLISHER_DEFAULTS.writers,
  };
}

async function init(o: ResultsPublisherOptions, log: Logger): Promise<State> {
  const env = o.sql ? undefined : loadEnv(RESULTS_PUBLISHER_ENV);
  const config: ResultsPublisherConfig = {
    minChange: env?.KB_RESULTS_MIN_CHANGE ?? 0.05,
    topic: env?.KB_RESULTS_TOPIC ?? "kilonova.results",
    submitter: env?.KB_RESULTS_SUBMITTER ?? "kilonova-broker",
    maxPhotometry: env?.KB_RESULTS_MAX_PHOTOMETRY ?? 200,
    archiveWaitMs: env?.KB_RESULTS_ARCHIVE_WAIT_MS ?? 10_000,
    origins: env?.KB_RESULTS_ORIGINS ?? RESULTS_PUBLISHER_DEFAULTS.origins,
    ...batching(o),
    ...o.config,
  };
  const sql = o.sql ??
    connect(env!.KB_DATABASE_URL, {
      max: (config.writers ?? 1) + 1,
      applicationName: RESULTS_PUBLISHER_NAME,
    });
  for (let attempt = 1;; attempt++) {
    try {
      const report = await migrate(sql, { log: (msg, f) => log.info(msg, f) });
      log.info("results store ready", {
        database: env ? redactUrl(env.KB_DATABASE_URL) : "(given client)",
        migrationsApplied: report.applied,
        ...config,
      });
      break;
    } catch (err) {
      if (!isTransientDbError(err)) throw err;
      const delay = backoff(attempt, 200, 5_000);
      if (attempt === 1 || attempt % 10 === 0) {
        log.warn("database not reachable; waiting for it", { attempt, error: describe(err) });
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  // Batches decided side by side (writers > 1) that share a candidate and model go in order.
  const order = new KeyOrder();
  const origins = new OriginCache(config.origins ?? RESULTS_PUBLISHER_DEFAULTS.origins);
  const batcher = new WriteBatcher<Pending>({
    write: (items) =>
      order.run(
        items.map((it) => pairKey(it.result.candidate_id, it.result.model.name)),
        async () => {
          const decisions = await decideBatch(sql, items, config, origins);
          items.forEach((it, i) => it.decision = decisions[i]);
        },
      ),
    maxBatch: config.batch ?? RESULTS_PUBLISHER_DEFAULTS.batch,
    lingerMs: config.lingerMs ?? RESULTS_PUBLISHER_DEFAULTS.lingerMs,
    maxConcurrent: config.writers ?? RESULTS_PUBLISHER_DEFAULTS.writers,
    isTransient: isTransientDbError,
    log,
  });
  return { sql, config, batcher };
}

export type { Decision, ResultItem } from "./decide_batch.ts";

/**
 * Stores `r` and decides, in one transaction, whether it becomes a derived
 * alert: {@link decideBatch} with one item.
 */
export async function decide(
  sql: Sql,
  r: ClassificationResult,
  resultId: string,
  subject: string,
  config: ResultsPublisherConfig,
  options: { requireArchived?: boolean } = {},
): Promise<Decision> {
  const [d] = await decideBatch(sql, [{
    result: r,
    resultId,
    subject,
    requireArchived: options.requireArchived,
  }], config);
  return d;
}

/**
 * What the archive still lacks for `r`: its candidate and its newest input alert
 * (the last of `input_alert_ids`; the archiver stores a stream in order, so the
 * older ones are there too). Empty when all is there.
 */
export async function missingFromArchive(tx: TxSql, r: ClassificationResult): Promise<string[]> {
  const missing = await missingFromArchiveBatch(tx, [{
    result: r,
    resultId: "",
    subject: "",
    requireArchived: true,
  }]);
  return missing.get(0) ?? [];
}

/** Builds a results publisher (the registry's uses the environment; the demo passes its client). */
export function createResultsPublisher(o: ResultsPublisherOptions = {}): ActorDefinition {
  let state: Promise<State> | undefined;
  const getState = (log: Logger) => {
    state ??= init(o, log).catch((err) => {
      state = undefined;
      throw err;
    });
    return state;
  };
  const { batch, writers } = batching(o);
  return defineActor({
    name: RESULTS_PUBLISHER_NAME,
    description: "stores classification results; publishes material changes as derived alerts",
    version: "1.0.0",
    input: CHANNELS.results,
    outputs: [CHANNELS.derivedAlerts],
    // Enough results in flight to fill the batches being decided and the next ones (results
    // waiting for the archive hold a slot too).
    tuning: { maxInFlight: Math.min(10_000, batch * (writers + 2)) },
    async handler(msg, ctx) {
      const s = await getState(ctx.log);
      // The archiver and the classifier read the same alerts independently: wait (bounded) for
      // the archive to hold this result's candidate and inputs, so the derived alert names its
      // target and carries its photometry and origins. The check runs inside the batch's
      // transaction; a result not archived yet leaves its batch undecided and comes back in a
      // later one, without holding up the others.
      const waitMs = s.config.archiveWaitMs ?? 10_000;
      const deadline = Date.now() + waitMs;
      let d: Decision;
      let gaveUp = false;
      for (
        let delay: number = ARCHIVE_RETRY_MS.first;;
        delay = Math.min(delay * 2, ARCHIVE_RETRY_MS.max)
      ) {
        const requireArchived = Date.now() < deadline;
        gaveUp = !requireArchived && waitMs > 0;
        const item: Pending = {
          result: msg.data,
          resultId: msg.id,
          subject: msg.subject,
          requireArchived,
        };
        await s.batcher.add(item);
        d = item.decision!;
        if (!d.missing) break;
        await new Promise((res) =>
          setTimeout(res, Math.max(0, Math.min(delay, deadline - Date.now())))
        );
      }
      if (gaveUp) {
        ctx.log.warn("inputs not archived in time; the derived alert went without them", {
          candidate: msg.data.candidate_id,
          waitedMs: waitMs,
        });
      }
      ctx.log.debug("result handled", {
        candidate: msg.data.candidate_id,
        published: d.alert !== undefined,
        why: d.why,
      });
      if (!d.alert || !d.hopId) return;
      const key = msg.data.candidate_id;
      return emit(
        CHANNELS.derivedAlerts,
        { format: "json", content: d.alert, id: d.hopId, test: false, key },
        {
          subject: RESULT_SUBJECTS.derivedAlerts,
          // The alert's JSON as stored, not encoded again (the runtime still checks `content`).
          encoded: d.alertJson === undefined
            ? undefined
            : `{"format":"json","content":${d.alertJson},` +
              `"id":${JSON.stringify(d.hopId)},"test":false,"key":${JSON.stringify(key)}}`,
        },
      );
    },
  }) as unknown as ActorDefinition;
}

/** The results publisher configured from the environment (`deno task actor results-publisher`). */
export const resultsPublisherActor: ActorDefinition = createResultsPublisher();
