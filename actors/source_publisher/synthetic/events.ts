/**
 * The synthetic sky as timeline events (optical candidate alerts in time
 * order), so the replay can merge it with the GW170817 timeline. Each
 * measurement is Avro-encoded once and reused in the history of later alerts
 * ({@link FastOpticalEncoder}).
 *
 * @module
 */
import { avroString, FastOpticalEncoder, type MeasurementArena } from "../fast_optical.ts";
import { type Encoders, PUBLISHER } from "../payloads.ts";
import type { TimelineEvent } from "../timeline.ts";
import type { SyntheticCandidate, SyntheticSky } from "./generator.ts";

/** What {@link SkyAlertEncoder} keeps per candidate. */
interface CandidateBytes {
  arena: MeasurementArena;
  objectId: Uint8Array;
}

/**
 * Encodes the alerts of a sky. Each candidate's measurements are Avro-encoded
 * once, back to back (from its first alert's history to its last detection),
 * and every alert copies its history from there in one piece.
 */
export class SkyAlertEncoder {
  readonly #fast: FastOpticalEncoder;
  readonly #cache = new WeakMap<SyntheticCandidate, CandidateBytes>();
  readonly #schemavsn: Uint8Array;
  readonly #publisher: Uint8Array;
  readonly #survey: Uint8Array;

  constructor(readonly sky: SyntheticSky, enc: Encoders) {
    this.#fast = new FastOpticalEncoder(enc.optical);
    this.#schemavsn = this.#fast.constantString("1.0");
    this.#publisher = this.#fast.constantString(PUBLISHER);
    this.#survey = this.#fast.constantString(sky.surveyName);
  }

  #arena(c: SyntheticCandidate, from: number, k: number): MeasurementArena {
    let to = k + 1;
    const obs = c.observations;
    for (let j = obs.length - 1; j > k; j--) {
      if (obs[j].detected) {
        to = j + 1;
        break;
      }
    }
    return this.#fast.arena(from, to, (j) => this.sky.measurement(c, j));
  }

  /** The Avro container of detection `k` of candidate `c`. */
  encode(c: SyntheticCandidate, k: number, alertId: string): Uint8Array {
    const first = this.sky.historyStart(c, k);
    let cached = this.#cache.get(c);
    if (!cached) {
      cached = {
        arena: this.#arena(c, first, k),
        objectId: avroString(c.objectId),
      };
      this.#cache.set(c, cached);
    } else if (first < cached.arena.from || k >= cached.arena.to) {
      cached.arena = this.#arena(c, Math.min(first, cached.arena.from), k);
    }
    return this.#fast.alertFromArena(
      {
        schemavsn: this.#schemavsn,
        publisher: this.#publisher,
        alertId,
        objectId: cached.objectId,
        survey: this.#survey,
      },
      cached.arena,
      first,
      k,
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
