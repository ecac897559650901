/**
 * The kilonova classifier actor: consumes `alerts.in.gw` (IGWN alerts: sky
 * maps held in memory per live event) and `alerts.in.optical` (candidate
 * alerts: per-candidate light curves updated in O(1) per point), and publishes
 * a {@link ClassificationResult} on `results.kilonova` for every optical alert
 * of a candidate with a detection.
 *
 * Concurrency: up to `KB_CLASSIFIER_MAX_IN_FLIGHT` alerts (64) are handled at
 * once, ordered by {@link classifierOrderKey}: the alerts of one candidate one
 * after another in delivery order, GW alerts as barriers (every optical alert
 * delivered after a GW alert is scored with its sky map, or without the event
 * after a retraction). Scoring an optical alert is synchronous, so concurrent
 * handlers never interleave inside the state (see docs/classifier.md).
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
import {
  defineActor,
  emit,
  type InputMessage,
  ORDER_BARRIER,
  type OrderKey,
  type Output,
  Rejection,
} from "../runtime/actor.ts";
import { loadEnv } from "../runtime/config.ts";
import { z } from "zod";
import { isOpticalAlertContent } from "./fast_check.ts";
import { ClassifierState } from "./state.ts";

/** Result kind (subject token) of this classifier. */
export const RESULT_KIND = "kilonova";

let shared: ClassifierState | undefined;

/** The process's classifier state (created on first use; tests may pass their own). */
export function classifierState(): ClassifierState {
  return shared ??= new ClassifierState();
}

/**
 * An optical alert record, checked: in place by {@link isOpticalAlertContent}
 * when it is valid (the usual case), else by zod, whose error names the field.
 */
function opticalAlert(record: unknown, msgId: string, i: number): OpticalAlertContent {
  if (isOpticalAlertContent(record)) return record;
  const a = OpticalAlertContent.safeParse(record);
  if (!a.success) {
    throw new Rejection("schema", `optical alert ${msgId} record ${i}: ${a.error.message}`);
  }
  return a.data;
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
      const a = opticalAlert(record, msgId, i);
      const r = state.onOpticalAlert(a, msgId);
      if (r) {
        out.push(emit(CHANNELS.results, r, {
          subject: RESULT_SUBJECTS.results(RESULT_KIND),
          key: `${a.object_id}/${i}`,
        }));
      }
    }
  }
  return out;
}

/** Variables of the classifier (besides the runtime's). */
export const CLASSIFIER_ENV = {
  KB_CLASSIFIER_MAX_IN_FLIGHT: {
    schema: z.coerce.number().int().min(1).max(10_000).default(64),
    doc: "alerts the classifier handles at once (one at a time per candidate; GW alerts alone)",
  },
} as const;

let maxInFlight: number | undefined;

/** Alerts handled at once: `KB_CLASSIFIER_MAX_IN_FLIGHT`, read once. */
export function classifierMaxInFlight(): number {
  return maxInFlight ??= loadEnv(CLASSIFIER_ENV, {
    KB_CLASSIFIER_MAX_IN_FLIGHT: Deno.env.get("KB_CLASSIFIER_MAX_IN_FLIGHT"),
  }).KB_CLASSIFIER_MAX_IN_FLIGHT;
}

/**
 * Orders an inbound alert against the others in flight: an optical alert by its
 * candidate (`object_id`), so a candidate's light curve grows and is scored in
 * delivery order; a GW alert (and an optical envelope carrying several
 * candidates) as a barrier, so every alert delivered after it sees its sky map
 * (or its retraction) and none delivered before it does. Content the handler
 * rejects or ignores is not ordered.
 */
export function classifierOrderKey(message: InputMessage<HopEnvelope>): OrderKey {
  const env = message.data;
  if (env.kind === "gw") return ORDER_BARRIER;
  if (env.kind !== "optical" || env.content.format !== "avro") return undefined;
  let key: string | undefined;
  for (const record of env.content.records) {
    const id = (record as { object_id?: unknown } | null)?.object_id;
    if (typeof id !== "string") return undefined; // rejected by the handler
    if (key === undefined) key = id;
    else if (key !== id) return ORDER_BARRIER;
  }
  return key;
}

/** The classifier actor. */
export const classifierActor = defineActor({
  name: "classifier",
  description: "kilonova classifier: GW sky maps + optical light curves → results.kilonova",
  version: "1.0.0",
  input: CHANNELS.alertsIn,
  inputSubjects: [SUBJECTS.alertsIn("gw"), SUBJECTS.alertsIn("optical")],
  outputs: [CHANNELS.results],
  orderKey: classifierOrderKey,
  // Read when a replica starts, not when the module loads.
  get tuning() {
    return { maxInFlight: classifierMaxInFlight() };
  },
  handler(msg, ctx) {
    return handleEnvelope(msg.data, msg.id, classifierState(), (m, f) => ctx.log.info(m, f));
  },
});
