/**
 * The results store: classification results (each once, by message id) and
 * the last publication per candidate and model, which decides whether a new
 * result is a material change worth a derived alert.
 *
 * @module
 */
import type { ClassificationResult } from "../contracts/messages.ts";
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
