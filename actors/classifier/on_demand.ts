/**
 * Scoring a whole light curve on demand (`deno task classify`, `POST
 * /api/classify`) through the streaming actor's own code: a fresh
 * {@link ClassifierState} holds the GW event, the points go into a
 * {@link LightCurve} one by one in time order, and `state.result()` — the call
 * that makes the actor's `results.kilonova` message — gives each epoch's
 * result. Nothing here computes a feature or a probability.
 *
 * The sky map is located once at the candidate's position
 * ({@link locateOnSkyMap}); the state receives that location exactly as it
 * caches one per candidate, so batch workers need only the location, not the
 * (possibly large) map.
 *
 * @module
 */
import { MocSkyMap } from "../../astro/mod.ts";
import type { ClassificationResult } from "../../contracts/messages.ts";
import type { GwContext } from "./context.ts";
import { LightCurve } from "./lightcurve.ts";
import { type LightCurveRow, type ParsedLightCurve, rowToPoint } from "./lightcurve_file.ts";
import { type KilonovaModel, loadDefaultModel } from "./model.ts";
import { ClassifierState, isoToMjd, type LiveEvent } from "./state.ts";

/** A GW event as seen from the candidate's position (serialisable: crosses to workers). */
export interface LocatedEvent {
  readonly eventId: string;
  readonly t0Mjd: number;
  /** The event's sky map at (ra, dec), as the actor caches it per candidate. */
  readonly at: GwContext;
}

/** Options of one scoring. */
export interface OnDemandOptions {
  /** Merger time, MJD (default: the event's). Needed for `at`. */
  readonly t0Mjd?: number;
  /** Epochs, days after t0: score with the data up to t0 + day. Empty = all data once. */
  readonly at?: readonly number[];
  /** The GW event located at the candidate (absent = light curve only). */
  readonly event?: LocatedEvent;
  readonly ra?: number;
  readonly dec?: number;
}

/** One epoch's outcome; the result fields are those of the actor's `results.kilonova` message. */
export interface EpochScore {
  /** Days after t0 (null: all data). */
  readonly epoch_days: number | null;
  /** Data used: observations up to this MJD (inclusive); null = all. */
  readonly until_mjd: number | null;
  /** Rows used / detections / points in bands the classifier does not use. */
  readonly points: number;
  readonly detections: number;
  readonly ignored_points: number;
  /** P(kilonova) (null: no detection yet, nothing to score — the actor emits nothing then). */
  readonly p_kilonova: number | null;
  readonly label: string | null;
  readonly is_kilonova: boolean | null;
  readonly light_curve_only: boolean;
  readonly event_id: string | null;
  readonly scores: Record<string, number> | null;
  readonly model: { name: string; version: string };
  readonly features: Record<string, number | null> | null;
  readonly explanation: { summary: string; contributions: Record<string, number> } | null;
}

/** Scores of one light curve. */
export interface LightCurveReport {
  readonly source: string;
  readonly rows: number;
  readonly notes: readonly string[];
  readonly t0_mjd: number | null;
  readonly event_id: string | null;
  readonly epochs: readonly EpochScore[];
}

/** Raised for inconsistent options (e.g. epochs without a merger time). */
export class OnDemandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OnDemandError";
  }
}

/** Reads a sky map (FITS, gzip or not; flat or multi-order) and locates (ra, dec) on it. */
export async function locateOnSkyMap(
  bytes: Uint8Array,
  source: string,
  pos: { ra: number; dec: number },
  t0Override?: number,
  eventIdOverride?: string,
): Promise<LocatedEvent> {
  const map = await MocSkyMap.fromFits(bytes, source);
  const meta = (k: string) => map.meta.get(k);
  const object = String(meta("OBJECT") ?? "").trim();
  const eventId = eventIdOverride || object ||
    source.replace(/^.*\//, "").replace(/\.fits(\.gz)?$/i, "");
  let t0 = t0Override;
  if (t0 === undefined) {
    const mjdObs = Number(meta("MJD-OBS"));
    const dateObs = meta("DATE-OBS");
    if (Number.isFinite(mjdObs) && mjdObs > 0) t0 = mjdObs;
    else if (typeof dateObs === "string" && dateObs.trim()) t0 = isoToMjd(dateObs.trim());
  }
  if (t0 === undefined) {
    throw new OnDemandError(
      `${source}: the sky map has no MJD-OBS or DATE-OBS header; give the merger time with --t0`,
    );
  }
  const loc = map.locate(pos.ra, pos.dec);
  return {
    eventId,
    t0Mjd: t0,
    at: {
      eventId,
      t0Mjd: t0,
      credibleLevel: loc.credibleLevel,
      densityDeg2: loc.densityDeg2,
      distanceMpc: loc.conditional?.mean,
      distanceStdMpc: loc.conditional?.std,
    },
  };
}

/** The located event as the state's live event (its map is never read: the location is cached). */
function liveEvent(e: LocatedEvent): LiveEvent {
  const located = {
    locate(): never {
      throw new Error(`${e.eventId}: sky map not held here; locate with locateOnSkyMap()`);
    },
  } as unknown as MocSkyMap;
  return { id: e.eventId, t0Mjd: e.t0Mjd, map: located, alertId: "", alertType: "ON_DEMAND" };
}

/** Scores a parsed light curve at each epoch through the actor's state and scoring path. */
export function scoreParsed(
  parsed: ParsedLightCurve,
  options: OnDemandOptions = {},
  model: KilonovaModel = loadDefaultModel(),
): LightCurveReport {
  const t0 = options.t0Mjd ?? options.event?.t0Mjd;
  const at = [...(options.at ?? [])];
  if (at.length && t0 === undefined) {
    throw new OnDemandError("epochs (--at) need the merger time: give --t0 or a sky map");
  }
  at.sort((a, b) => a - b);
  const state = new ClassifierState(model, { maxCandidates: 1 });
  let event: LocatedEvent | undefined = options.event;
  if (event && t0 !== undefined && t0 !== event.t0Mjd) {
    event = { ...event, t0Mjd: t0, at: { ...event.at, t0Mjd: t0 } };
  }
  if (event) state.events.set(event.eventId, liveEvent(event));
  const id = parsed.source.replace(/^.*\//, "").replace(/\.[^.]*$/, "") || parsed.source;
  const cand = {
    lc: new LightCurve(id, options.ra ?? NaN, options.dec ?? NaN),
    inputIds: [] as string[],
    located: new Map<string, GwContext>(event ? [[event.eventId, event.at]] : []),
  };
  const rows = parsed.rows;
  const epochs: EpochScore[] = [];
  let next = 0;
  let used = 0;
  const feed = (until: number) => {
    while (next < rows.length && rows[next].mjd <= until) {
      cand.lc.add(rowToPoint(rows[next]));
      next++;
      used++;
    }
  };
  const snapshot = (day: number | null, until: number | null) => {
    const base = {
      epoch_days: day,
      until_mjd: until,
      points: used,
      detections: cand.lc.nDet,
      ignored_points: cand.lc.nIgnored,
      model: { name: model.name, version: model.version },
    };
    if (cand.lc.nDet === 0) {
      epochs.push({
        ...base,
        p_kilonova: null,
        label: null,
        is_kilonova: null,
        light_curve_only: !event,
        event_id: null,
        scores: null,
        features: null,
        explanation: null,
      });
      return;
    }
    const r = state.result(cand, new Date(0));
    epochs.push({ ...base, ...fromResult(r, model) });
  };
  if (at.length) {
    for (const day of at) {
      const until = t0! + day;
      feed(until);
      snapshot(day, until);
    }
  } else {
    feed(Infinity);
    snapshot(null, null);
  }
  return {
    source: parsed.source,
    rows: rows.length,
    notes: parsed.notes,
    t0_mjd: t0 ?? null,
    event_id: event?.eventId ?? null,
    epochs,
  };
}

/** The epoch fields of an actor result. */
export function fromResult(
  r: ClassificationResult,
  model: KilonovaModel,
): Omit<EpochScore, "epoch_days" | "until_mjd" | "points" | "detections" | "ignored_points"> {
  const p = r.scores.kilonova ?? 0;
  let label = "";
  let best = -Infinity;
  for (const [k, v] of Object.entries(r.scores)) if (v > best) [label, best] = [k, v];
  const { light_curve_only, ...features } = r.features;
  return {
    p_kilonova: p,
    label,
    is_kilonova: p >= model.threshold,
    light_curve_only: light_curve_only === 1,
    event_id: r.event_id,
    scores: r.scores,
    model: r.model,
    features: features as Record<string, number | null>,
    explanation: {
      summary: r.explanation.summary,
      contributions: r.explanation.contributions as Record<string, number>,
    },
  };
}

/** Parses `--at` (`1,2,3.5`). */
export function parseEpochs(text: string): number[] {
  return text.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    const v = Number(s);
    if (!Number.isFinite(v) || v < -1 || v > 1000) {
      throw new OnDemandError(`--at: "${s}" is not a number of days in -1..1000`);
    }
    return v;
  });
}

/** Re-exported for callers that only need rows. */
export type { LightCurveRow };
