/**
 * The results store: classification results (each once, by message id) and
 * the last publication per candidate and model, which decides whether a new
 * result is a material change worth a derived alert.
 *
 * @module
 */
import type { ClassificationResult } from "../contracts/messages.ts";
import { json } from "./archive.ts";
import type { TxSql } from "./connect.ts";

/** The last derived alert published for a candidate and model. */
export interface Publication {
  candidate_id: string;
  model_name: string;
  revision: number;
  result_id: string;
  model_version: string;
  scores: Record<string, number>;
  top_class: string;
  hop_id: string;
  /** The derived alert's JSON exactly as first sent (null for rows from before migration 0003). */
  alert_json?: string | null;
}

/** The class with the highest score (ties: alphabetical). */
export function topClass(scores: Record<string, number>): { cls: string; score: number } {
  let best = { cls: "", score: -1 };
  for (const [cls, score] of Object.entries(scores).sort(([a], [b]) => a.localeCompare(b))) {
    if (score > best.score) best = { cls, score };
  }
  return best;
}

/**
 * Whether `next` differs materially from the last publication: no publication
 * yet, another top class, another model version, or any class score moved by
 * at least `threshold`.
 */
export function isMaterialChange(
  last: Pick<Publication, "scores" | "top_class" | "model_version"> | undefined,
  next: Pick<ClassificationResult, "scores" | "model">,
  threshold: number,
): { material: boolean; why: string } {
  if (!last) return { material: true, why: "first result for this candidate and model" };
  if (last.model_version !== next.model.version) {
    return { material: true, why: `model version ${last.model_version} → ${next.model.version}` };
  }
  const top = topClass(next.scores).cls;
  if (top !== last.top_class) {
    return { material: true, why: `top class ${last.top_class} → ${top}` };
  }
  let maxDelta = 0;
  for (const k of new Set([...Object.keys(last.scores), ...Object.keys(next.scores)])) {
    maxDelta = Math.max(maxDelta, Math.abs((last.scores[k] ?? 0) - (next.scores[k] ?? 0)));
  }
  return maxDelta >= threshold
    ? { material: true, why: `a score moved by ${maxDelta.toFixed(3)} (≥ ${threshold})` }
    : { material: false, why: `largest score change ${maxDelta.toFixed(3)} < ${threshold}` };
}

/** A stored result's decision, when the result is already stored. */
export async function storedDecision(
  tx: TxSql,
  resultId: string,
): Promise<"published" | "unchanged" | undefined> {
  const [row] = await tx<{ decision: "published" | "unchanged" }[]>`
    select decision from results where result_id = ${resultId}`;
  return row?.decision;
}

/** Serialises work on one candidate and model within the transaction. */
export async function lockCandidateModel(tx: TxSql, candidateId: string, model: string) {
  await tx`select pg_advisory_xact_lock(hashtext(${`results:${candidateId}:${model}`}))`;
}

/** The last publication for a candidate and model. */
export async function lastPublication(
  tx: TxSql,
  candidateId: string,
  model: string,
): Promise<Publication | undefined> {
  const [row] = await tx<Publication[]>`
    select candidate_id, model_name, revision, result_id, model_version, scores, top_class,
      hop_id::text as hop_id, alert_json
    from publications where candidate_id = ${candidateId} and model_name = ${model}`;
  return row;
}

/** Stores a result (nothing when its id is already stored). */
export async function insertResult(
  tx: TxSql,
  r: ClassificationResult,
  meta: { resultId: string; subject: string; decision: "published" | "unchanged" },
): Promise<boolean> {
  const top = topClass(r.scores);
  const rows = await tx`
    insert into results (result_id, subject, candidate_id, model_name, model_version, scores,
      top_class, top_score, features, explanation, input_alert_ids, event_id, computed_at, decision)
    values (${meta.resultId}, ${meta.subject}, ${r.candidate_id}, ${r.model.name},
      ${r.model.version}, ${tx.json(r.scores)}, ${top.cls}, ${top.score},
      ${tx.json(r.features as never)}, ${tx.json(r.explanation as never)},
      ${r.input_alert_ids}::text[], ${r.event_id}, ${r.computed_at}, ${meta.decision})
    on conflict (result_id) do nothing
    returning 1`;
  return rows.length === 1;
}

/** Records a publication as the new baseline. */
export async function upsertPublication(tx: TxSql, p: Publication): Promise<void> {
  await tx`
    insert into publications (candidate_id, model_name, revision, result_id, model_version,
      scores, top_class, hop_id, alert_json)
    values (${p.candidate_id}, ${p.model_name}, ${p.revision}, ${p.result_id}, ${p.model_version},
      ${tx.json(p.scores)}, ${p.top_class}, ${p.hop_id}, ${p.alert_json ?? null})
    on conflict (candidate_id, model_name) do update set
      revision = excluded.revision, result_id = excluded.result_id,
      model_version = excluded.model_version, scores = excluded.scores,
      top_class = excluded.top_class, hop_id = excluded.hop_id, alert_json = excluded.alert_json,
      published_at = now()`;
}

/** A stored result, as the TOM lists them. */
export interface StoredResult {
  result_id: string;
  candidate_id: string;
  model_name: string;
  model_version: string;
  scores: Record<string, number>;
  top_class: string;
  top_score: number;
  features: Record<string, number | null>;
  explanation: { summary: string; contributions?: Record<string, number> };
  input_alert_ids: string[];
  event_id: string | null;
  computed_at: Date;
  decision: "published" | "unchanged";
}

/** A candidate's results, newest first. */
export async function resultsOfCandidate(
  sql: TxSql,
  candidateId: string,
  options: { limit?: number } = {},
): Promise<StoredResult[]> {
  return await sql<StoredResult[]>`
    select result_id, candidate_id, model_name, model_version, scores, top_class, top_score,
      features, explanation, input_alert_ids, event_id, computed_at, decision
    from results where candidate_id = ${candidateId}
    order by computed_at desc, id desc limit ${options.limit ?? 100}`;
}

/** The advisory-lock key of a candidate and model (the same one {@link lockCandidateModel} takes). */
export function candidateModelKey(candidateId: string, model: string): string {
  return `results:${candidateId}:${model}`;
}

/**
 * Serialises work on several candidates and models within the transaction: the
 * same locks as {@link lockCandidateModel}, taken in ascending lock-id order so
 * that two transactions locking overlapping sets never deadlock. One round trip.
 */
export async function lockCandidateModels(
  tx: TxSql,
  pairs: readonly { candidateId: string; model: string }[],
): Promise<void> {
  if (!pairs.length) return;
  const keys = [...new Set(pairs.map((p) => candidateModelKey(p.candidateId, p.model)))];
  await tx`
    select count(pg_advisory_xact_lock(h)) from (
      select distinct hashtext(k) as h from unnest(${keys}::text[]) as k order by h
    ) s`;
}

/** Stored results' decisions by result id (ids not stored are absent). */
export async function storedDecisions(
  tx: TxSql,
  resultIds: readonly string[],
): Promise<Map<string, StoredDecision>> {
  if (!resultIds.length) return new Map();
  const rows = await tx<({ result_id: string } & StoredDecision)[]>`
    select result_id, decision, alert_json, hop_id::text as hop_id
    from results where result_id = any(${resultIds as string[]}::text[])`;
  return new Map(
    rows.map((r) => [r.result_id, {
      decision: r.decision,
      alert_json: r.alert_json,
      hop_id: r.hop_id,
    }]),
  );
}

/** A stored result's decision, with the derived alert as sent when it was published. */
export interface StoredDecision {
  readonly decision: "published" | "unchanged";
  /** The derived alert's JSON as first sent (null: unchanged, or stored before migration 0004). */
  readonly alert_json: string | null;
  readonly hop_id: string | null;
}

/** The map key of a candidate and model in {@link lastPublications}. */
export function pairKey(candidateId: string, model: string): string {
  return `${candidateId}\u0000${model}`;
}

/** The last publications of several candidates and models, by {@link pairKey}. */
export async function lastPublications(
  tx: TxSql,
  pairs: readonly { candidateId: string; model: string }[],
): Promise<Map<string, Publication>> {
  if (!pairs.length) return new Map();
  const unique = [...new Map(pairs.map((p) => [pairKey(p.candidateId, p.model), p])).values()];
  const rows = await tx<Publication[]>`
    select p.candidate_id, p.model_name, p.revision, p.result_id, p.model_version, p.scores,
      p.top_class, p.hop_id::text as hop_id, p.alert_json
    from unnest(${unique.map((p) => p.candidateId)}::text[], ${
    unique.map((p) => p.model)
  }::text[]) as k(c, m)
    join publications p on p.candidate_id = k.c and p.model_name = k.m`;
  return new Map(rows.map((r) => [pairKey(r.candidate_id, r.model_name), r]));
}

/** A result to store with its decision (see {@link insertResults}). */
export interface ResultToStore {
  readonly result: ClassificationResult;
  readonly resultId: string;
  readonly subject: string;
  readonly decision: "published" | "unchanged";
  /**
   * For a published result: its derived alert as JSON text (stored verbatim: the text a
   * redelivery re-sends), and its hop `_id`.
   */
  alertJson?: string;
  hopId?: string;
}

/**
 * Stores several results in one statement, in the given order (ids already
 * stored, or repeated, are skipped). Returns how many rows were inserted.
 *
 * The rows travel as one JSON text (`json_to_recordset`), except the derived
 * alerts' JSON: each is a bind parameter of its own, gathered by `array[...]`
 * and joined by position, so the server takes it as a text value without
 * parsing it. Nested in the rows' JSON (as before), the server lexed every
 * alert twice (the `::json` cast validates, `json_to_recordset` parses again):
 * with e2e-sized alerts (~29 KB of JSON) that was more than half of the
 * server's CPU per published result (0.39 → 0.175 ms, docs/archive.md).
 */
export async function insertResults(tx: TxSql, batch: readonly ResultToStore[]): Promise<number> {
  const seen = new Set<string>();
  const alerts: string[] = [];
  const rows = batch.filter((b) => !seen.has(b.resultId) && seen.add(b.resultId)).map((b, i) => {
    const r = b.result;
    const top = topClass(r.scores);
    const text = b.alertJson;
    if (text !== undefined) alerts.push(text);
    return {
      result_id: b.resultId,
      subject: b.subject,
      candidate_id: r.candidate_id,
      model_name: r.model.name,
      model_version: r.model.version,
      scores: r.scores,
      top_class: top.cls,
      top_score: top.score,
      features: r.features,
      explanation: r.explanation,
      input_alert_ids: r.input_alert_ids,
      event_id: r.event_id ?? null,
      computed_at: r.computed_at,
      decision: b.decision,
      // 1-based position of the alert's text among the parameters below (null: none).
      alert_n: text === undefined ? null : alerts.length,
      hop_id: b.hopId ?? null,
      // The row's position: rows are inserted in the given order (their ids follow it).
      i,
    };
  });
  if (!rows.length) return 0;
  // array[$2::text, $3::text, ...]: one parameter per alert, none parsed by the server (an array
  // of fragments is written one after the other: flat, whatever the batch size).
  const texts = alerts.map((a, n) => n ? tx`, ${a}::text` : tx`${a}::text`);
  const inserted = await tx`
    insert into results (result_id, subject, candidate_id, model_name, model_version, scores,
      top_class, top_score, features, explanation, input_alert_ids, event_id, computed_at, decision,
      alert_json, hop_id)
    select x.result_id, x.subject, x.candidate_id, x.model_name, x.model_version, x.scores,
      x.top_class, x.top_score, x.features, x.explanation, x.input_alert_ids, x.event_id,
      x.computed_at, x.decision, a.alert_json, x.hop_id
    from json_to_recordset(${json(rows)}::text::json) as x(result_id text, subject text,
      candidate_id text, model_name text, model_version text, scores jsonb, top_class text,
      top_score double precision, features jsonb, explanation jsonb, input_alert_ids text[],
      event_id text, computed_at timestamptz, decision text, alert_n bigint, hop_id uuid,
      i integer)
    left join unnest(array[${
    texts.length ? texts : tx``
  }]::text[]) with ordinality as a(alert_json, n)
      on a.n = x.alert_n
    order by x.i
    on conflict (result_id) do nothing
    returning 1`;
  return inserted.length;
}

/**
 * Records several publications as the new baselines in one statement. At most
 * one per candidate and model (throws otherwise: keep the last of each).
 */
export async function upsertPublications(tx: TxSql, pubs: readonly Publication[]): Promise<void> {
  if (!pubs.length) return;
  const keys = new Set(pubs.map((p) => pairKey(p.candidate_id, p.model_name)));
  if (keys.size !== pubs.length) {
    throw new Error(
      "upsertPublications got two publications of one candidate and model: pass only the last",
    );
  }
  const rows = pubs.map((p) => ({ ...p, alert_json: p.alert_json ?? null }));
  await tx`
    insert into publications (candidate_id, model_name, revision, result_id, model_version,
      scores, top_class, hop_id, alert_json)
    select candidate_id, model_name, revision, result_id, model_version, scores, top_class,
      hop_id, alert_json
    from json_to_recordset(${json(rows)}::text::json) as x(candidate_id text,
      model_name text, revision integer, result_id text, model_version text, scores jsonb,
      top_class text, hop_id uuid, alert_json text)
    on conflict (candidate_id, model_name) do update set
      revision = excluded.revision, result_id = excluded.result_id,
      model_version = excluded.model_version, scores = excluded.scores,
      top_class = excluded.top_class, hop_id = excluded.hop_id, alert_json = excluded.alert_json,
      published_at = now()`;
}
