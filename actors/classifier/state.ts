/**
 * The classifier's memory: live GW events with their sky maps, and one
 * {@link LightCurve} per candidate. A new optical point costs O(1): it is added
 * to the candidate's nightly bins and the candidate is re-scored; the alert's
 * history (`prv_candidates`) is read only for a candidate not seen before (or
 * when this process missed earlier alerts of it), which also rebuilds the
 * state after a restart.
 *
 * @module
 */
import { MocSkyMap } from "../../astro/mod.ts";
import type {
  ClassificationResult,
  IgwnAlertContent,
  OpticalAlertContent,
  OpticalCandidate,
} from "../../contracts/mod.ts";
import type { GwContext, ScoreContext } from "./context.ts";
import { LightCurve, type PhotPoint } from "./lightcurve.ts";
import { type KilonovaModel, loadDefaultModel, score } from "./model.ts";

/** A live GW event. */
export interface LiveEvent {
  readonly id: string;
  readonly t0Mjd: number;
  readonly map: MocSkyMap;
  /** Message id of the alert that carried the map. */
  readonly alertId: string;
  readonly alertType: string;
}

/** Tuning of the state. */
export interface StateOptions {
  /** Candidates kept in memory (least recently updated dropped first). */
  readonly maxCandidates: number;
  /** An event stays live this many days after its merger. */
  readonly eventLiveDays: number;
  /** A candidate belongs to an event when inside this credible level. */
  readonly maxCredibleLevel: number;
  /** Input alert ids kept per candidate for `input_alert_ids`. */
  readonly maxInputIds: number;
}

/** Defaults. */
export const DEFAULT_STATE_OPTIONS: StateOptions = {
  maxCandidates: 200_000,
  eventLiveDays: 30,
  maxCredibleLevel: 0.95,
  maxInputIds: 100,
};

interface Candidate {
  readonly lc: LightCurve;
  readonly inputIds: string[];
  /** Sky-map context per event id (the position does not move). */
  readonly located: Map<string, GwContext>;
}

/** ISO 8601 → UTC MJD. */
export function isoToMjd(iso: string): number {
  const ms = Date.parse(iso.endsWith("Z") || /[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  if (!Number.isFinite(ms)) throw new Error(`"${iso}" is not an ISO 8601 time`);
  return ms / 86_400_000 + 40587;
}

function toPoint(c: OpticalCandidate): PhotPoint {
  return {
    mjd: c.mjd,
    band: c.band,
    mag: c.upper_limit ? null : c.mag,
    magErr: c.mag_err,
    limit: c.limiting_mag,
    upperLimit: c.upper_limit,
    system: c.mag_system,
    id: c.candid,
  };
}

/** Live events and candidates; turns alerts into classification results. */
export class ClassifierState {
  readonly events = new Map<string, LiveEvent>();
  readonly #cands = new Map<string, Candidate>();
  readonly options: StateOptions;

  constructor(
    readonly model: KilonovaModel = loadDefaultModel(),
    options: Partial<StateOptions> = {},
  ) {
    this.options = { ...DEFAULT_STATE_OPTIONS, ...options };
  }

  /** Candidates in memory. */
  get candidates(): number {
    return this.#cands.size;
  }

  /** The light curve of a candidate, if held. */
  lightCurve(id: string): LightCurve | undefined {
    return this.#cands.get(id)?.lc;
  }

  /**
   * Takes an IGWN alert: keeps (or replaces) the event's sky map, forgets the
   * event on RETRACTION. Returns what happened, for the log.
   */
  async onGwAlert(a: IgwnAlertContent, alertId: string): Promise<string> {
    if (a.alert_type === "RETRACTION") {
      const had = this.events.delete(a.superevent_id);
      for (const c of this.#cands.values()) c.located.delete(a.superevent_id);
      return had ? `retracted ${a.superevent_id}` : `retraction of unknown ${a.superevent_id}`;
    }
    if (!a.event?.skymap) return `${a.superevent_id} ${a.alert_type} has no sky map`;
    const bytes = Uint8Array.from(atob(a.event.skymap), (ch) => ch.charCodeAt(0));
    const map = await MocSkyMap.fromFits(bytes, `${a.superevent_id} ${a.alert_type} sky map`);
    this.events.set(a.superevent_id, {
      id: a.superevent_id,
      t0Mjd: isoToMjd(a.event.time),
      map,
      alertId,
      alertType: a.alert_type,
    });
    for (const c of this.#cands.values()) c.located.delete(a.superevent_id);
    return `${a.superevent_id} ${a.alert_type}: map with ${map.rows} rows, 90% area ${
      map.credibleArea(0.9).toFixed(1)
    } deg²`;
  }

  /** The scoring context of a candidate: the best live event containing it, if any. */
  contextFor(c: { lc: LightCurve; located: Map<string, GwContext> }): ScoreContext {
    let best: GwContext | undefined;
    let nearest = Infinity;
    for (const e of this.events.values()) {
      const dt = c.lc.lastObsMjd - e.t0Mjd;
      if (dt > this.options.eventLiveDays || dt < -1) continue;
      let g = c.located.get(e.id);
      if (!g) {
        const at = e.map.locate(c.lc.ra, c.lc.dec);
        g = {
          eventId: e.id,
          t0Mjd: e.t0Mjd,
          credibleLevel: at.credibleLevel,
          densityDeg2: at.densityDeg2,
          distanceMpc: at.conditional?.mean,
          distanceStdMpc: at.conditional?.std,
          alertId: e.alertId,
        };
        c.located.set(e.id, g);
      }
      nearest = Math.min(nearest, g.credibleLevel);
      if (
        g.credibleLevel <= this.options.maxCredibleLevel &&
        (!best || g.densityDeg2 > best.densityDeg2)
      ) {
        best = g;
      }
    }
    if (best) return { gw: best };
    return {
      noGwReason: Number.isFinite(nearest)
        ? `outside all live sky maps (nearest: level ${nearest.toFixed(3)})`
        : "no live GW event",
    };
  }

  /** Adds an optical alert's points and returns the candidate's new result (none without detections). */
  onOpticalAlert(
    a: OpticalAlertContent,
    alertId: string,
    now: Date = new Date(),
  ): ClassificationResult | undefined {
    let c = this.#cands.get(a.object_id);
    if (c) {
      // Most recently updated last: Map order is the eviction order.
      this.#cands.delete(a.object_id);
    } else {
      c = {
        lc: new LightCurve(a.object_id, a.candidate.ra, a.candidate.dec),
        inputIds: [],
        located: new Map(),
      };
    }
    this.#cands.set(a.object_id, c);
    if (this.#cands.size > this.options.maxCandidates) {
      this.#cands.delete(this.#cands.keys().next().value!);
    }
    const prv = a.prv_candidates ?? [];
    // O(1) when this process saw the previous alert; else merge the history once.
    if (prv.length && !c.lc.has(prv[prv.length - 1].candid)) {
      for (const p of prv) c.lc.add(toPoint(p));
    }
    c.lc.add(toPoint(a.candidate));
    c.inputIds.push(alertId);
    if (c.inputIds.length > this.options.maxInputIds) c.inputIds.shift();
    if (c.lc.nDet === 0) return undefined;
    return this.result(c, now);
  }

  /** The result of a held candidate in its current context. */
  result(c: Candidate, now: Date = new Date()): ClassificationResult {
    const ctx = this.contextFor(c);
    const s = score(c.lc, ctx, this.model);
    const ids = ctx.gw?.alertId ? [ctx.gw.alertId, ...c.inputIds] : [...c.inputIds];
    return {
      schema: "kb.classification.v1",
      candidate_id: c.lc.id,
      scores: s.probabilities,
      model: s.model,
      // Copies by spread, on purpose: `score` fills these records key by key, which leaves
      // V8 objects in dictionary mode (and the runtime's zod copy of the message with them),
      // and JSON.stringify of a message holding one takes ~2.5× as long (10 → 4 µs per
      // result); a spread copy is a fast-mode object and zod's copy follows its shape.
      features: { ...s.features, light_curve_only: s.lightCurveOnly ? 1 : 0 },
      explanation: { summary: s.explanation, contributions: { ...s.contributions } },
      input_alert_ids: ids,
      event_id: ctx.gw?.eventId ?? null,
      computed_at: now.toISOString(),
    };
  }
}
