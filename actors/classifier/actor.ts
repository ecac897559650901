/**
 * The kilonova classifier actor: consumes `alerts.in.gw` (IGWN alerts: sky
 * maps held in memory per live event) and `alerts.in.optical` (candidate
 * alerts: per-candidate light curves updated in O(1) per point), and publishes
 * a {@link ClassificationResult} on `results.kilonova` for every optical alert
 * of a candidate with a detection.
 *
 * Replicas: the GW events are held per process and a GW alert reaches one
 * replica of the shared consumer, so run one replica per deployment (the
 * scoring itself is ~30 µs per alert; see docs/classifier.md).
 *
 * @module
 */
import {
  CHANNELS,
  type HopEnvelope,
  IgwnAlertContent,
  OpticalAlertContent,
} from "../../contracts/messages.ts";
import { RESULT_SUBJECTS, SUBJECTS } from "../../contracts/names.ts";
import { defineActor, emit, type Output, Rejection } from "../runtime/actor.ts";
import { ClassifierState } from "./state.ts";

/** Result kind (subject token) of this classifier. */
export const RESULT_KIND = "kilonova";

let shared: ClassifierState | undefined;

/** The process's classifier state (created on first use; tests may pass their own). */
export function classifierState(): ClassifierState {
  return shared ??= new ClassifierState();
}

/** Handles one inbound envelope against a state; returns the outputs. */
export async function handleEnvelope(
  env: HopEnvelope,
  msgId: string,
  state: ClassifierState,
  log: (msg: string, fields?: Record<string, unknown>) => void = () => {},
): Promise<Output[]> {
  if (env.content.format !== "avro") {
    throw new Rejection(
      "schema",
      `${env.kind} alert ${msgId}: expected Avro content, got "${env.content.format}"`,
    );
  }
  const out: Output[] = [];
  for (const [i, record] of env.content.records.entries()) {
    if (env.kind === "gw") {
      const a = IgwnAlertContent.safeParse(record);
      if (!a.success) {
        throw new Rejection("schema", `IGWN alert ${msgId} record ${i}: ${a.error.message}`);
      }
      try {
        log(await state.onGwAlert(a.data, msgId), { superevent: a.data.superevent_id });
      } catch (e) {
        throw new Rejection("rejected", `IGWN alert ${msgId}: ${(e as Error).message}`);
      }
    } else if (env.kind === "optical") {
      const a = OpticalAlertContent.safeParse(record);
      if (!a.success) {
        throw new Rejection("schema", `optical alert ${msgId} record ${i}: ${a.error.message}`);
      }
      const r = state.onOpticalAlert(a.data, msgId);
      if (r) {
        out.push(emit(CHANNELS.results, r, {
          subject: RESULT_SUBJECTS.results(RESULT_KIND),
          key: `${a.data.object_id}/${i}`,
        }));
      }
    }
  }
  return out;
}

/** The classifier actor. */
export const classifierActor = defineActor({
  name: "classifier",
  description: "kilonova classifier: GW sky maps + optical light curves → results.kilonova",
  version: "1.0.0",
  input: CHANNELS.alertsIn,
  inputSubjects: [SUBJECTS.alertsIn("gw"), SUBJECTS.alertsIn("optical")],
  outputs: [CHANNELS.results],
  tuning: { maxInFlight: 1 },
  handler(msg, ctx) {
    return handleEnvelope(msg.data, msg.id, classifierState(), (m, f) => ctx.log.info(m, f));
  },
});
