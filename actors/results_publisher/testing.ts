/**
 * Fixtures of the results publisher tests.
 *
 * @module
 */
import type { ClassificationResult } from "../../contracts/messages.ts";

/** A kilonova result for `candidate` from `inputs`, with the kilonova score `kn`. */
export function resultFixture(
  candidate: string,
  kn: number,
  inputs: string[],
  over: Partial<ClassificationResult> = {},
): ClassificationResult {
  return {
    schema: "kb.classification.v1",
    candidate_id: candidate,
    scores: { kilonova: kn, "SN Ia": Math.round((1 - kn) * 1e6) / 1e6 },
    model: { name: "kilonova-test", version: "1.0.0" },
    features: { rise_time_d: 1.2, color_g_r: 0.4, dist_to_gw_sigma: null },
    explanation: { summary: "fast red decline", contributions: { rise_time_d: 0.4 } },
    input_alert_ids: inputs,
    event_id: "S170817a",
    computed_at: new Date().toISOString(),
    ...over,
  };
}
