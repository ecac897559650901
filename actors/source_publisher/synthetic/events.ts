/**
 * The synthetic sky as timeline events (optical candidate alerts in time
 * order), so the replay can merge it with the GW170817 timeline. Each
 * measurement is Avro-encoded once and reused in the history of later alerts
 * ({@link FastOpticalEncoder}).
 *
 * @module
 */
import { FastOpticalEncoder } from "../fast_optical.ts";
import { type Encoders, PUBLISHER } from "../payloads.ts";
import type { TimelineEvent } from "../timeline.ts";
import type { SyntheticCandidate, SyntheticSky } from "./generator.ts";

/** Encodes the alerts of a sky, caching each candidate's measurement bytes. */
export class SkyAlertEncoder {
  readonly #fast: FastOpticalEncoder;
  readonly #cache = new WeakMap<SyntheticCandidate, (Uint8Array | undefined)[]>();

  constructor(readonly sky: SyntheticSky, enc: Encoders) {
    this.#fast = new FastOpticalEncoder(enc.optical);
  }

  #bytes(c: SyntheticCandidate, j: number): Uint8Array {
    let arr = this.#cache.get(c);
    if (!arr) this.#cache.set(c, arr = new Array(c.observations.length));
    return arr[j] ??= this.#fast.measurement(this.sky.measurement(c, j));
  }

  /** The Avro container of detection `k` of candidate `c`. */
  encode(c: SyntheticCandidate, k: number, alertId: string): Uint8Array {
    const history: Uint8Array[] = [];
    for (let j = this.sky.historyStart(c, k); j < k; j++) history.push(this.#bytes(c, j));
    return this.#fast.alert(
      {
        schemavsn: "1.0",
        publisher: PUBLISHER,
        alertId,
        objectId: c.objectId,
        survey: this.sky.surveyName,
      },
      this.#bytes(c, k),
      history,
    );
  }
}

/** Every synthetic alert, in time order, as timeline events. */
export function* syntheticEvents(sky: SyntheticSky, enc: Encoders): Generator<TimelineEvent> {
  const t0 = sky.options.t0Mjd;
  const alerts = new SkyAlertEncoder(sky, enc);
  for (const { candidate, k, mjd } of sky.alertsInTimeOrder()) {
    const obs = candidate.observations[k];
    yield {
      t: (mjd - t0) * 86_400,
      topic: "optical",
      format: "avro",
      key: `synthetic/${sky.options.seed}/${candidate.objectId}/${k}`,
      recordKey: candidate.objectId,
      label: `synthetic ${candidate.objectId} ${obs.band} ${obs.mag}±${obs.magErr}`,
      encode: (id) => alerts.encode(candidate, k, id),
    };
  }
}
