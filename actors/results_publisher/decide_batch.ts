/**
 * Decides a batch of classification results in one transaction with a handful
 * of set-based statements (instead of one transaction of ~8 statements per
 * result): archive presence of all, the advisory locks of all (candidate,
 * model) pairs in lock-id order, their stored decisions and last publications;
 * then each result is decided in batch order exactly as one-by-one processing
 * would (a later result of the same candidate and model compares with the
 * publication an earlier one just made); then the rows the new derived alerts
 * need are read at once, and results and publications are written in one
 * statement each.
 *
 * @module
 */
import type { ClassificationResult, DerivedAlert } from "../../contracts/messages.ts";
import { uuidFromName } from "../../gateway/hopskotch/uuid.ts";
import type { Sql, TxSql } from "../../db/connect.ts";
import {
  insertResults,
  isMaterialChange,
  lastPublications,
  lockCandidateModels,
  pairKey,
  type Publication,
  type ResultToStore,
  storedDecisions,
  topClass,
  upsertPublications,
} from "../../db/results.ts";
import { buildDerivedAlert } from "./derived.ts";
import { derivedRows } from "./derived_rows.ts";
import { OriginCache } from "./origins.ts";

/** What the decision needs of the publisher's configuration. */
export interface DecideConfig {
  readonly minChange: number;
  readonly topic: string;
  readonly submitter: string;
  readonly maxPhotometry: number;
}

/** One result to decide. */
export interface ResultItem {
  readonly result: ClassificationResult;
  /** The result's message id (unique: a redelivery carries the same). */
  readonly resultId: string;
  readonly subject: string;
  /** Decide only when the archive holds the candidate and the newest input alert. */
  readonly requireArchived?: boolean;
}

/** What one result leads to. */
export interface Decision {
  readonly alert?: DerivedAlert;
  /**
   * `alert` as JSON text: the very text stored in `results.alert_json` (what a redelivery
   * re-sends), for an output path that can send text as it is.
   */
  readonly alertJson?: string;
  readonly hopId?: string;
  readonly why: string;
  /** With `requireArchived`: what the archive still lacks (nothing was stored or decided). */
  readonly missing?: string[];
}

/**
 * Which items the archive is not ready for: the candidate or the newest input
 * alert (the last of `input_alert_ids`; the archiver stores a stream in order,
 * so the older ones are there too) is missing. Only items with
 * `requireArchived` are checked; one query for all.
 */
export async function missingFromArchiveBatch(
  tx: TxSql,
  items: readonly ResultItem[],
): Promise<Map<number, string[]>> {
  const checked = items.flatMap((it, i) => it.requireArchived ? [i] : []);
  const out = new Map<number, string[]>();
  if (!checked.length) return out;
  const newest = (it: ResultItem) =>
    it.result.input_alert_ids[it.result.input_alert_ids.length - 1];
  const cands = [...new Set(checked.map((i) => items[i].result.candidate_id))];
  const alerts = [...new Set(checked.map((i) => newest(items[i])).filter((a) => a !== undefined))];
  const rows = await tx<{ kind: "c" | "a"; id: string }[]>`
    select 'c' as kind, candidate_id as id from candidates
      where candidate_id = any(${cands}::text[])
    union all
    select 'a', msg_id from alerts where msg_id = any(${alerts}::text[])`;
  const have = new Set(rows.map((r) => `${r.kind}:${r.id}`));
  for (const i of checked) {
    const r = items[i].result;
    const a = newest(items[i]);
    const missing = [
      ...(have.has(`c:${r.candidate_id}`) ? [] : [`candidate ${r.candidate_id}`]),
      ...(have.has(`a:${a}`) ? [] : [`input alert ${a}`]),
    ];
    if (missing.length) out.set(i, missing);
  }
  return out;
}

/** A derived alert to build once the rows it needs are read. */
interface Build {
  readonly item: ResultItem;
  readonly revision: number;
  /** The new publication (none for a legacy re-send). */
  readonly pub?: Publication;
  /** The item's index: where the decision goes. */
  readonly index: number;
  /** The result's row to store, which keeps the alert as sent. */
  readonly store?: ResultToStore;
  readonly hopId: string;
  readonly why: string;
}

/**
 * Stores `items` and decides, in one transaction, which become derived alerts;
 * returns one decision per item, in order. Items with `requireArchived` whose
 * inputs are not archived yet — and later items of the same candidate and
 * model that require it too, to keep their order — get `missing` and are
 * neither stored nor decided (the caller retries them); the rest go on.
 * `origins` keeps the input alerts' origins read for earlier batches (none:
 * every one is read).
 */
export async function decideBatch(
  sql: Sql,
  items: readonly ResultItem[],
  config: DecideConfig,
  origins: OriginCache = new OriginCache(0),
): Promise<Decision[]> {
  if (!items.length) return [];
  return await sql.begin(async (tx: TxSql) => {
    const out: Decision[] = new Array(items.length);
    // Sent together, in this order, without waiting for each other (the server runs them one
    // after another): the archive check, the locks of every pair — those of items found not
    // archived too, held only until the commit — then the stored decisions and last
    // publications, read once the locks are held. One round trip instead of four: on a loaded
    // machine each round trip waits for two processes to be scheduled.
    const allPairs = items.map((it) => ({
      candidateId: it.result.candidate_id,
      model: it.result.model.name,
    }));
    const [missing, , stored, last] = await Promise.all([
      missingFromArchiveBatch(tx, items),
      lockCandidateModels(tx, allPairs),
      storedDecisions(tx, items.map((it) => it.resultId)),
      // The last publication per pair as one-by-one processing would see it at each step.
      lastPublications(tx, allPairs),
    ]);
    const waiting = new Set<string>();
    const live: number[] = [];
    items.forEach((it, i) => {
      const key = pairKey(it.result.candidate_id, it.result.model.name);
      const m = missing.get(i) ??
        (it.requireArchived && waiting.has(key)
          ? [`an earlier result of candidate ${it.result.candidate_id} waiting for the archive`]
          : undefined);
      if (m) {
        waiting.add(key);
        out[i] = { why: "not archived yet", missing: m };
      } else live.push(i);
    });
    if (!live.length) return out;

    const decidedNow = new Map<string, "published" | "unchanged">();
    const toStore: ResultToStore[] = [];
    const builds: Build[] = [];
    // Re-sends of a publication made earlier in this batch: filled once it is built.
    const resends: { index: number; pub: Publication }[] = [];
    // The derived alerts built in this batch (their JSON text), by result id.
    const builtNow = new Map<string, string>();
    for (const i of live) {
      const it = items[i];
      const r = it.result;
      const key = pairKey(r.candidate_id, r.model.name);
      const prev = last.get(key);
      const storedRow = stored.get(it.resultId);
      const prior = decidedNow.get(it.resultId) ?? storedRow?.decision;
      if (prior === "unchanged") {
        out[i] = { why: "redelivered; judged unchanged before" };
        continue;
      }
      if (prior === "published") {
        if (prev?.result_id !== it.resultId) {
          // Superseded since, but perhaps never sent (the publisher died between the commit and
          // the publish): send the alert as it was first built; a copy that did go out has the
          // same hop _id and bytes.
          out[i] = storedRow?.alert_json && storedRow.hop_id
            ? {
              alert: JSON.parse(storedRow.alert_json) as DerivedAlert,
              alertJson: storedRow.alert_json,
              hopId: storedRow.hop_id,
              why: "redelivered; superseded since, re-sent",
            }
            : { why: "redelivered; superseded since" };
        } else if (storedRow?.alert_json || prev.alert_json) {
          // The very alert first sent (kept with the result since 0004; older publications
          // kept it in their own row): rebuilding it now would carry photometry archived
          // since, and one hop _id must always name the same bytes.
          const text = (storedRow?.alert_json ?? prev.alert_json)!;
          out[i] = {
            alert: JSON.parse(text) as DerivedAlert,
            alertJson: text,
            hopId: prev.hop_id,
            why: "redelivered; re-sent",
          };
        } else if (decidedNow.has(it.resultId)) {
          resends.push({ index: i, pub: prev });
        } else {
          // Published before migration 0003 kept the JSON: rebuilt as then.
          builds.push({
            item: it,
            revision: prev.revision,
            index: i,
            hopId: prev.hop_id,
            why: "redelivered; re-sent",
          });
        }
        continue;
      }
      const change = isMaterialChange(prev, r, config.minChange);
      const decision = change.material ? "published" : "unchanged";
      decidedNow.set(it.resultId, decision);
      const store: ResultToStore = {
        result: r,
        resultId: it.resultId,
        subject: it.subject,
        decision,
      };
      toStore.push(store);
      if (!change.material) {
        out[i] = { why: change.why };
        continue;
      }
      const pub: Publication = {
        candidate_id: r.candidate_id,
        model_name: r.model.name,
        revision: (prev?.revision ?? 0) + 1,
        result_id: it.resultId,
        model_version: r.model.version,
        scores: r.scores,
        top_class: topClass(r.scores).cls,
        hop_id: uuidFromName(`derived-alert:${it.resultId}`),
        alert_json: null,
      };
      last.set(key, pub);
      builds.push({
        item: it,
        revision: pub.revision,
        pub,
        index: i,
        store,
        hopId: pub.hop_id,
        why: change.why,
      });
    }

    if (builds.length) {
      const candIds = [...new Set(builds.map((b) => b.item.result.candidate_id))];
      // Both reads in one round trip: candidates with their light curves (derived_rows.ts),
      // and the input alerts' origins not held yet.
      const [archived, inputs] = await Promise.all([
        derivedRows(tx, candIds, config.maxPhotometry),
        origins.get(tx, builds.flatMap((b) => b.item.result.input_alert_ids)),
      ]);
      for (const b of builds) {
        const r = b.item.result;
        const alert = buildDerivedAlert(r, {
          resultId: b.item.resultId,
          revision: b.revision,
          topic: config.topic,
          submitter: config.submitter,
          authors: config.submitter,
          candidate: archived.get(r.candidate_id)?.candidate,
          photometry: archived.get(r.candidate_id)?.photometry ?? [],
          inputs: r.input_alert_ids.flatMap((id) => inputs.get(id) ?? []),
        });
        // Stringified once: the text stored with the result is the text a redelivery re-sends.
        const alertJson = JSON.stringify(alert);
        if (b.pub) builtNow.set(b.pub.result_id, alertJson);
        if (b.store) {
          b.store.alertJson = alertJson;
          b.store.hopId = b.hopId;
        }
        out[b.index] = { alert, alertJson, hopId: b.hopId, why: b.why };
      }
    }
    for (const s of resends) {
      // The same bytes as the stored JSON text (JSON.stringify of the alert built above).
      const text = builtNow.get(s.pub.result_id)!;
      out[s.index] = {
        alert: JSON.parse(text) as DerivedAlert,
        alertJson: text,
        hopId: s.pub.hop_id,
        why: "redelivered; re-sent",
      };
    }

    // One row per pair: the last publication this batch made of it.
    const finals = new Map<string, Publication>();
    for (const b of builds) {
      if (b.pub) finals.set(pairKey(b.pub.candidate_id, b.pub.model_name), b.pub);
    }
    // Both writes in one round trip. The alert as sent is kept once, in the result's row (0004):
    // the publication names the result, and the same JSON again in `publications.alert_json`
    // only cost the server WAL and compression (null in new rows; older rows keep theirs).
    await Promise.all([
      insertResults(tx, toStore),
      upsertPublications(tx, [...finals.values()]),
    ]);
    return out;
  });
}
