/**
 * The results publisher actor: consumes classification results
 * (`results.<kind>`), stores each once in the `results` table, and turns each
 * material change (per candidate and model, beyond a configurable threshold)
 * into a derived alert on `alerts.out.results`, which the outbound gateway
 * produces to the Hopskotch results topic as hop JSON.
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
import {
  CHANNELS,
  type ClassificationResult,
  type DerivedAlert,
} from "../../contracts/messages.ts";
import { RESULT_SUBJECTS } from "../../contracts/names.ts";
import { uuidFromName } from "../../gateway/hopskotch/uuid.ts";
import { type ActorDefinition, defineActor, emit } from "../runtime/actor.ts";
import { loadEnv } from "../runtime/config.ts";
import type { Logger } from "../runtime/log.ts";
import { backoff, describe } from "../runtime/middleware.ts";
import { connect, isTransientDbError, redactUrl, type Sql, type TxSql } from "../../db/connect.ts";
import { migrate } from "../../db/migrate.ts";
import { alertsByMsgIds, candidatePhotometry, getCandidate } from "../../db/queries.ts";
import {
  insertResult,
  isMaterialChange,
  lastPublication,
  lockCandidateModel,
  storedDecision,
  topClass,
  upsertPublication,
} from "../../db/results.ts";
import { buildDerivedAlert } from "./derived.ts";

/** The publisher's actor name. */
export const RESULTS_PUBLISHER_NAME = "results-publisher";

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
  KB_RESULTS_MAX_PHOTOMETRY: {
    schema: z.coerce.number().int().min(0).max(10_000).default(200),
    doc: "most recent photometry points carried by a derived alert",
  },
} as const;

/** The publisher's configuration. */
export interface ResultsPublisherConfig {
  readonly minChange: number;
  readonly topic: string;
  readonly submitter: string;
  readonly maxPhotometry: number;
  /** Longest wait for the archiver to store a result's inputs, ms. */
  readonly archiveWaitMs?: number;
}

/** Options of {@link createResultsPublisher}. */
export interface ResultsPublisherOptions {
  readonly sql?: Sql;
  readonly config?: Partial<ResultsPublisherConfig>;
}

interface State {
  sql: Sql;
  config: ResultsPublisherConfig;
}

async function init(o: ResultsPublisherOptions, log: Logger): Promise<State> {
  const env = o.sql ? undefined : loadEnv(RESULTS_PUBLISHER_ENV);
  const config: ResultsPublisherConfig = {
    minChange: env?.KB_RESULTS_MIN_CHANGE ?? 0.05,
    topic: env?.KB_RESULTS_TOPIC ?? "kilonova.results",
    submitter: env?.KB_RESULTS_SUBMITTER ?? "kilonova-broker",
    maxPhotometry: env?.KB_RESULTS_MAX_PHOTOMETRY ?? 200,
    archiveWaitMs: env?.KB_RESULTS_ARCHIVE_WAIT_MS ?? 10_000,
    ...o.config,
  };
  const sql = o.sql ??
    connect(env!.KB_DATABASE_URL, { max: 4, applicationName: RESULTS_PUBLISHER_NAME });
  for (let attempt = 1;; attempt++) {
    try {
      const report = await migrate(sql, { log: (msg, f) => log.info(msg, f) });
      log.info("results store ready", {
        database: env ? redactUrl(env.KB_DATABASE_URL) : "(given client)",
        migrationsApplied: report.applied,
        ...config,
      });
      return { sql, config };
    } catch (err) {
      if (!isTransientDbError(err)) throw err;
      const delay = backoff(attempt, 200, 5_000);
      if (attempt === 1 || attempt % 10 === 0) {
        log.warn("database not reachable; waiting for it", { attempt, error: describe(err) });
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** What one result leads to. */
export interface Decision {
  readonly alert?: DerivedAlert;
  readonly hopId?: string;
  readonly why: string;
  /** With `requireArchived`: what the archive still lacks (nothing was stored or decided). */
  readonly missing?: string[];
}

/** Stores `r` and decides, in one transaction, whether it becomes a derived alert. */
export async function decide(
  sql: Sql,
  r: ClassificationResult,
  resultId: string,
  subject: string,
  config: ResultsPublisherConfig,
  options: { requireArchived?: boolean } = {},
): Promise<Decision> {
  return await sql.begin(async (tx: TxSql) => {
    if (options.requireArchived) {
      const missing = await missingFromArchive(tx, r);
      if (missing.length) return { why: "not archived yet", missing };
    }
    await lockCandidateModel(tx, r.candidate_id, r.model.name);
    const prior = await storedDecision(tx, resultId);
    const last = await lastPublication(tx, r.candidate_id, r.model.name);
    const build = async (revision: number) =>
      buildDerivedAlert(r, {
        resultId,
        revision,
        topic: config.topic,
        submitter: config.submitter,
        authors: config.submitter,
        candidate: await getCandidate(tx, r.candidate_id),
        photometry: await candidatePhotometry(tx, r.candidate_id, { limit: config.maxPhotometry }),
        inputs: await alertsByMsgIds(tx, r.input_alert_ids),
      });
    if (prior === "unchanged") return { why: "redelivered; judged unchanged before" };
    if (prior === "published") {
      if (last?.result_id !== resultId) return { why: "redelivered; superseded since" };
      // The very alert first sent: rebuilding it now would carry photometry archived since,
      // and one hop _id must always name the same bytes.
      const alert = last.alert_json
        ? JSON.parse(last.alert_json) as DerivedAlert
        : await build(last.revision);
      return { alert, hopId: last.hop_id, why: "redelivered; re-sent" };
    }
    const change = isMaterialChange(last, r, config.minChange);
    await insertResult(tx, r, {
      resultId,
      subject,
      decision: change.material ? "published" : "unchanged",
    });
    if (!change.material) return { why: change.why };
    const revision = (last?.revision ?? 0) + 1;
    const hopId = uuidFromName(`derived-alert:${resultId}`);
    const alert = await build(revision);
    await upsertPublication(tx, {
      candidate_id: r.candidate_id,
      model_name: r.model.name,
      revision,
      result_id: resultId,
      model_version: r.model.version,
      scores: r.scores,
      top_class: topClass(r.scores).cls,
      hop_id: hopId,
      alert_json: JSON.stringify(alert),
    });
    return { alert, hopId, why: change.why };
  });
}

/**
 * What the archive still lacks for `r`: its candidate and its newest input alert
 * (the last of `input_alert_ids`; the archiver stores a stream in order, so the
 * older ones are there too). Empty when all is there.
 */
export async function missingFromArchive(tx: TxSql, r: ClassificationResult): Promise<string[]> {
  const newest = r.input_alert_ids[r.input_alert_ids.length - 1];
  const [row] = await tx<{ alert: boolean; candidate: boolean }[]>`
    select exists (select 1 from alerts where msg_id = ${newest}) as alert,
      exists (select 1 from candidates where candidate_id = ${r.candidate_id}) as candidate`;
  return [
    ...(row.candidate ? [] : [`candidate ${r.candidate_id}`]),
    ...(row.alert ? [] : [`input alert ${newest}`]),
  ];
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
  return defineActor({
    name: RESULTS_PUBLISHER_NAME,
    description: "stores classification results; publishes material changes as derived alerts",
    version: "1.0.0",
    input: CHANNELS.results,
    outputs: [CHANNELS.derivedAlerts],
    async handler(msg, ctx) {
      const s = await getState(ctx.log);
      // The archiver and the classifier read the same alerts independently: wait (bounded) for
      // the archive to hold this result's candidate and inputs, so the derived alert names its
      // target and carries its photometry and origins. The check runs inside the decision's
      // transaction (one round trip, and atomic on the embedded PGlite).
      const waitMs = s.config.archiveWaitMs ?? 10_000;
      const deadline = Date.now() + waitMs;
      let d: Decision;
      let gaveUp = false;
      for (let delay = 20;; delay = Math.min(delay * 2, 500)) {
        const requireArchived = Date.now() < deadline;
        gaveUp = !requireArchived && waitMs > 0;
        d = await decide(s.sql, msg.data, msg.id, msg.subject, s.config, { requireArchived });
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
      return emit(
        CHANNELS.derivedAlerts,
        { format: "json", content: d.alert, id: d.hopId, test: false, key: msg.data.candidate_id },
        { subject: RESULT_SUBJECTS.derivedAlerts },
      );
    },
  }) as unknown as ActorDefinition;
}

/** The results publisher configured from the environment (`deno task actor results-publisher`). */
export const resultsPublisherActor: ActorDefinition = createResultsPublisher();
