/**
 * The synthetic alert sky: N candidates at positions drawn from a GW sky map
 * (and, for a fraction of the impostors, anywhere on the sky), with light
 * curves from {@link modelMag}, observed with a ZTF-like survey cadence,
 * per-visit limiting magnitudes and flux noise. Seeded: the same options give
 * the same candidates, observations and alerts, and candidate `i` can be
 * regenerated on its own.
 *
 * Alerts are emitted for detections (SNR ≥ 5), each carrying the object's
 * earlier detections and upper limits of the last 30 days, like ZTF's. The
 * true class lives only in {@link SyntheticCandidate.truth}; alerts never carry it.
 *
 * @module
 */
import type { SkyMap } from "../../../astro/mod.ts";
import { uniformSphere } from "../../../astro/mod.ts";
import type {
  OpticalAlertContent,
  OpticalCandidate,
  SyntheticTruth,
  TransientClass,
} from "../../../contracts/mod.ts";
import { PUBLISHER } from "../payloads.ts";
import { drawParams, modelMag, type ModelParams } from "./models.ts";
import { Rng } from "./rng.ts";

/** Default class mix (fractions of candidates). */
export const DEFAULT_MIX: Readonly<Record<TransientClass, number>> = {
  "kilonova": 0.05,
  "SN Ia": 0.45,
  "SN II-P": 0.2,
  "SN Ib/c": 0.1,
  "FBOT": 0.05,
  "M-dwarf flare": 0.15,
};

/** A ZTF-like survey. */
export interface Survey {
  readonly name: string;
  readonly instrument: string;
  /** Median 5σ limiting magnitude per band. */
  readonly limits: Readonly<Record<string, number>>;
  /** Per-visit scatter of the limiting magnitude. */
  readonly limitScatter: number;
  /** Visits per night: band and offset from the field's first visit, days. */
  readonly visits: readonly { band: string; offsetDays: number; everyNights: number }[];
  /** Fraction of nights lost to weather. */
  readonly weatherLoss: number;
  /** Time of the first night's first visit after the merger, days (the 2017 Swope image: 0.45 d). */
  readonly firstNightDays: number;
}

/** The default survey: ZTF-like g/r every night, i every third night, 20% weather loss. */
export const ZTF_LIKE: Survey = {
  name: "KB-SIM",
  instrument: "P48/ZTF-like",
  limits: { g: 20.8, r: 20.6, i: 20.2 },
  limitScatter: 0.3,
  visits: [
    { band: "g", offsetDays: 0, everyNights: 1 },
    { band: "r", offsetDays: 0.04, everyNights: 1 },
    { band: "i", offsetDays: 0.08, everyNights: 3 },
  ],
  weatherLoss: 0.2,
  firstNightDays: 0.45,
};

/** Options of the generator. */
export interface SkyOptions {
  /** Number of candidates. */
  readonly n: number;
  readonly seed: number;
  /** GW merger time, UTC MJD (kilonovae start then; the survey is placed around it). */
  readonly t0Mjd: number;
  /** Sky map positions are drawn from. */
  readonly map: SkyMap;
  readonly mix?: Readonly<Partial<Record<TransientClass, number>>>;
  /** Fraction of non-kilonova candidates placed from the map (the rest uniform on the sky). Default 0.8. */
  readonly inMapFraction?: number;
  /** Nights observed after the merger. Default 21. */
  readonly days?: number;
  /** Nights observed before the merger (history). Default 14. */
  readonly preDays?: number;
  readonly survey?: Survey;
  /** Object-id prefix. Default "KBS". */
  readonly idPrefix?: string;
  /** Run id written into truth records. */
  readonly runId?: string;
}

/** One observation of a candidate. */
export interface Observation {
  readonly mjd: number;
  readonly band: string;
  /** 5σ limiting magnitude of the visit. */
  readonly limit: number;
  readonly detected: boolean;
  /** Measured magnitude (detections). */
  readonly mag: number;
  readonly magErr: number;
}

/** A generated candidate: what alerts show, plus the truth they never show. */
export interface SyntheticCandidate {
  readonly index: number;
  readonly objectId: string;
  readonly ra: number;
  readonly dec: number;
  readonly truth: SyntheticTruth;
  readonly observations: readonly Observation[];
}

const CLASSES = Object.keys(DEFAULT_MIX) as TransientClass[];

/** Checks options and fills defaults; throws naming the bad option. */
function resolve(o: SkyOptions) {
  if (!Number.isInteger(o.n) || o.n < 0) {
    throw new Error(`synthetic: n must be a non-negative integer, got ${o.n}`);
  }
  if (!Number.isInteger(o.seed)) {
    throw new Error(`synthetic: seed must be an integer, got ${o.seed}`);
  }
  const mix = { ...DEFAULT_MIX, ...(o.mix ?? {}) };
  for (const [k, v] of Object.entries(mix)) {
    if (!CLASSES.includes(k as TransientClass)) {
      throw new Error(`synthetic: unknown class "${k}" in mix (known: ${CLASSES.join(", ")})`);
    }
    if (!(v >= 0)) throw new Error(`synthetic: mix weight of ${k} must be ≥ 0, got ${v}`);
  }
  const weights = CLASSES.map((c) => mix[c]);
  if (weights.reduce((a, b) => a + b, 0) <= 0) {
    throw new Error("synthetic: the class mix has no positive weight");
  }
  const inMap = o.inMapFraction ?? 0.8;
  if (!(inMap >= 0 && inMap <= 1)) {
    throw new Error(`synthetic: inMapFraction must be in [0, 1], got ${inMap}`);
  }
  return {
    weights,
    inMap,
    days: o.days ?? 21,
    preDays: o.preDays ?? 14,
    survey: o.survey ?? ZTF_LIKE,
    prefix: o.idPrefix ?? "KBS",
  };
}

/** Deterministic object id of candidate `i`: prefix + base-26 letters, at least four (a = 0). */
export function syntheticObjectId(prefix: string, i: number): string {
  let s = "";
  let n = i;
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  } while (n > 0);
  return `${prefix}${s.padStart(4, "a")}`;
}

/** The synthetic sky of one seed. */
export class SyntheticSky {
  readonly options: SkyOptions;
  readonly #r: ReturnType<typeof resolve>;
  /** Nights lost to weather (index from -preDays). */
  readonly #lost: Uint8Array;

  constructor(options: SkyOptions) {
    this.options = options;
    this.#r = resolve(options);
    const nights = this.#r.preDays + this.#r.days;
    const rng = new Rng(options.seed, 0x5eed);
    this.#lost = Uint8Array.from(
      { length: nights },
      () => (rng.uniform() < this.#r.survey.weatherLoss ? 1 : 0),
    );
  }

  get size(): number {
    return this.options.n;
  }

  /** Candidate `i` with its observations (regenerated deterministically). */
  candidate(i: number): SyntheticCandidate {
    const o = this.options;
    const r = this.#r;
    const rng = new Rng(o.seed, i + 1);
    const cls = CLASSES[rng.pick(r.weights)];
    const inMap = cls === "kilonova" || rng.uniform() < r.inMap;
    let ra: number, dec: number, dist: number | undefined;
    if (inMap) {
      const p = o.map.sample(rng.uniform(), rng.uniform());
      ra = p.ra;
      dec = p.dec;
      if (cls === "kilonova") {
        const d = o.map.distanceAt(ra, dec);
        if (d && Number.isFinite(d.mu) && d.mu > 0) {
          dist = Math.max(5, d.mu + d.sigma * rng.normal());
        }
      }
    } else {
      ({ ra, dec } = uniformSphere(rng.uniform(), rng.uniform()));
    }
    const params: ModelParams = drawParams(cls, rng, dist);
    const s = r.survey;
    const fieldOffset = rng.between(0, 0.2);
    // Start time of the transient relative to the merger, days.
    let start: number;
    switch (cls) {
      case "kilonova":
        start = 0;
        break;
      case "SN II-P":
        start = rng.between(-150, r.days);
        break;
      case "M-dwarf flare": {
        const night = Math.floor(rng.between(-r.preDays, r.days));
        start = s.firstNightDays + night + fieldOffset - rng.between(0, 0.05);
        break;
      }
      default:
        start = rng.between(-60, r.days);
    }
    const observations: Observation[] = [];
    const noise = new Rng(o.seed, i + 1, 0x0b5);
    for (let night = -r.preDays; night < r.days; night++) {
      if (this.#lost[night + r.preDays]) continue;
      for (const v of s.visits) {
        if (((night % v.everyNights) + v.everyNights) % v.everyNights !== 0) continue;
        const tDay = s.firstNightDays + night + fieldOffset + v.offsetDays;
        const limit = s.limits[v.band] + s.limitScatter * noise.normal();
        const m = modelMag(cls, params, tDay - start, v.band);
        // Flux in units of the 5σ limit: σ = 1/5.
        const flux = Number.isFinite(m) ? Math.pow(10, -0.4 * (m - limit)) : 0;
        const measured = flux + 0.2 * noise.normal();
        const snr = measured / 0.2;
        const detected = snr >= 5;
        observations.push({
          mjd: o.t0Mjd + tDay,
          band: v.band,
          limit: round3(limit),
          detected,
          mag: detected ? round3(limit - 2.5 * Math.log10(measured)) : NaN,
          magErr: detected ? round3(1.0857 / snr) : NaN,
        });
      }
    }
    const objectId = syntheticObjectId(r.prefix, i);
    const truth: SyntheticTruth = {
      run_id: o.runId ?? `seed-${o.seed}`,
      object_id: objectId,
      class: cls,
      ra,
      dec,
      distance_mpc: params.distance_mpc,
      t0_mjd: o.t0Mjd + start,
      in_map: inMap,
      params,
      detections: observations.filter((x) => x.detected).length,
    };
    return { index: i, objectId, ra, dec, truth, observations };
  }

  /** Observation `j` of a candidate as the alert's measurement record. */
  measurement(c: SyntheticCandidate, j: number): OpticalCandidate {
    const x = c.observations[j];
    return {
      candid: c.index * 1000 + j,
      mjd: x.mjd,
      ra: c.ra,
      dec: c.dec,
      band: x.band,
      mag: x.detected ? x.mag : null,
      mag_err: x.detected ? x.magErr : null,
      limiting_mag: x.limit,
      upper_limit: !x.detected,
      mag_system: "AB",
      instrument: this.#r.survey.instrument,
      reference: null,
    };
  }

  /** First observation index inside the 30-day history window of observation `k`. */
  historyStart(c: SyntheticCandidate, k: number): number {
    const obs = c.observations;
    let first = k;
    while (first > 0 && obs[first - 1].mjd >= obs[k].mjd - 30) first--;
    return first;
  }

  /** The alert of detection `k` (index into the candidate's observations). */
  alert(c: SyntheticCandidate, k: number, alertId: string): OpticalAlertContent {
    const prv: OpticalCandidate[] = [];
    for (let j = this.historyStart(c, k); j < k; j++) prv.push(this.measurement(c, j));
    return {
      schemavsn: "1.0",
      publisher: PUBLISHER,
      alert_id: alertId,
      object_id: c.objectId,
      survey: this.#r.survey.name,
      candidate: this.measurement(c, k),
      prv_candidates: prv.length ? prv : null,
    };
  }

  /** Name of the survey the alerts come from. */
  get surveyName(): string {
    return this.#r.survey.name;
  }

  /** Every candidate, in index order. */
  *candidates(): Generator<SyntheticCandidate> {
    for (let i = 0; i < this.options.n; i++) yield this.candidate(i);
  }

  /**
   * Every alert in time order, as (candidate, observation index) pairs. Holds
   * each candidate's observations in memory (about 1.5 KB per candidate).
   */
  *alertsInTimeOrder(): Generator<{ candidate: SyntheticCandidate; k: number; mjd: number }> {
    const cands: SyntheticCandidate[] = [];
    let count = 0;
    for (const c of this.candidates()) {
      cands.push(c);
      for (const x of c.observations) if (x.detected) count++;
    }
    const times = new Float64Array(count);
    const who = new Uint32Array(count);
    const which = new Uint16Array(count);
    let n = 0;
    for (const c of cands) {
      c.observations.forEach((x, k) => {
        if (!x.detected) return;
        times[n] = x.mjd;
        who[n] = c.index;
        which[n] = k;
        n++;
      });
    }
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    order.sort((a, b) => times[a] - times[b] || who[a] - who[b]);
    for (const j of order) yield { candidate: cands[who[j]], k: which[j], mjd: times[j] };
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
