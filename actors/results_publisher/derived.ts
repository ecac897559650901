/**
 * Builds the derived alert of a classification result: a HERMES-shaped JSON
 * message (title, topic, submitter, authors, message_text, data with event id,
 * targets, photometry, references) with a classification section and links to
 * every input alert. Pure (two bounded caches of derived texts aside): the
 * publisher gathers the rows, this shapes them.
 *
 * @module
 */
import type { ClassificationResult, DerivedAlert } from "../../contracts/messages.ts";
import type { AlertOrigin } from "../../db/queries.ts";
import type { DerivedCandidate, DerivedPoint } from "./derived_rows.ts";
import { topClass } from "../../db/results.ts";

const UNIX_EPOCH_MJD = 40587;

/** UTC MJD → ISO 8601 with millisecond precision. */
export function mjdToIso(mjd: number): string {
  return new Date(Math.round((mjd - UNIX_EPOCH_MJD) * 86_400_000)).toISOString();
}

/**
 * {@link mjdToIso}, remembered: a candidate's derived alerts repeat its light curve (up to
 * `KB_RESULTS_MAX_PHOTOMETRY` points each time), and a `Date` per point was a good part of
 * building the alert. Emptied when full.
 */
const isoOfMjd = new Map<number, string>();
const ISO_CACHE_MAX = 50_000;

function cachedIso(mjd: number): string {
  let iso = isoOfMjd.get(mjd);
  if (iso === undefined) {
    iso = mjdToIso(mjd);
    if (isoOfMjd.size >= ISO_CACHE_MAX) isoOfMjd.clear();
    isoOfMjd.set(mjd, iso);
  }
  return iso;
}

/** `telescope/instrument...` split once per distinct string (a handful per survey). */
const instrumentParts = new Map<string, readonly [string, string]>();

function splitInstrument(s: string): readonly [string, string] {
  let parts = instrumentParts.get(s);
  if (parts === undefined) {
    const [telescope, ...rest] = s.split("/");
    parts = [telescope, rest.join("/") || telescope];
    if (instrumentParts.size >= 10_000) instrumentParts.clear();
    instrumentParts.set(s, parts);
  }
  return parts;
}

/** A derived photometry point (HERMES names), built with its keys in one order, no spreads. */
interface PointOut {
  target_name: string;
  date_obs: string;
  mjd: number;
  telescope: string;
  instrument: string;
  bandpass: string;
  limiting_brightness?: number;
  brightness?: number;
  brightness_error?: number;
  brightness_unit?: "AB mag" | "Vega mag";
}

/**
 * One point of `data.photometry`. The keys and their order are those the alert always had
 * (an upper limit, or a point without a magnitude, carries `limiting_brightness` — undefined,
 * so left out of the JSON, when unknown; a detection its brightness, then its error and
 * limiting magnitude when known), so the JSON text is unchanged.
 */
function derivedPoint(p: DerivedPoint): PointOut & { brightness_unit: "AB mag" | "Vega mag" } {
  const [telescope, instrument] = splitInstrument(p.instrument);
  const o: PointOut = {
    target_name: p.candidate_id,
    date_obs: cachedIso(p.mjd),
    mjd: p.mjd,
    telescope,
    instrument,
    bandpass: p.band,
  };
  if (p.upper_limit || p.mag === null) {
    o.limiting_brightness = p.limiting_mag ?? undefined;
  } else {
    o.brightness = p.mag;
    if (p.mag_err !== null) o.brightness_error = p.mag_err;
    if (p.limiting_mag !== null) o.limiting_brightness = p.limiting_mag;
  }
  o.brightness_unit = p.mag_system === "Vega" ? "Vega mag" : "AB mag";
  return o as PointOut & { brightness_unit: "AB mag" | "Vega mag" };
}

/** What {@link buildDerivedAlert} needs besides the result. */
export interface DerivedContext {
  readonly resultId: string;
  readonly revision: number;
  /** The Hopskotch topic the alert is for (shown as HERMES `topic`). */
  readonly topic: string;
  readonly submitter: string;
  readonly authors: string;
  readonly candidate: DerivedCandidate | undefined;
  readonly photometry: readonly DerivedPoint[];
  /** Archived alerts found for the result's input ids. */
  readonly inputs: readonly AlertOrigin[];
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The derived alert of `r`. */
export function buildDerivedAlert(r: ClassificationResult, ctx: DerivedContext): DerivedAlert {
  const top = topClass(r.scores);
  const c = ctx.candidate;
  const byId = new Map(ctx.inputs.map((a) => [a.msg_id, a]));
  const inputs = r.input_alert_ids.map((id) => {
    const a = byId.get(id);
    return {
      alert_id: id,
      hop_id: a?.hop_id ?? null,
      topic: a?.topic ?? null,
      partition: a?.kafka_partition ?? null,
      offset: a ? String(a.kafka_offset) : null,
    };
  });
  const model = `${r.model.name} ${r.model.version}`;
  const where = c ? ` at RA ${c.ra.toFixed(5)}°, Dec ${c.dec.toFixed(5)}°` : "";
  const event = r.event_id ? `, associated with ${r.event_id}` : "";
  return {
    schema: "kb.derived-alert.v1",
    title: `${r.candidate_id}: ${top.cls} score ${round(top.score, 3)} (${model})`,
    topic: ctx.topic,
    submitter: ctx.submitter,
    authors: ctx.authors,
    message_text: `Candidate ${r.candidate_id}${where}${event}: ${model} scores it ` +
      `${top.cls} with ${round(top.score, 3)} (revision ${ctx.revision}, from ` +
      `${r.input_alert_ids.length} alert${r.input_alert_ids.length === 1 ? "" : "s"}).` +
      (r.explanation.summary ? ` ${r.explanation.summary}` : ""),
    data: {
      event_id: r.event_id ?? "",
      targets: c
        ? [{ name: c.candidate_id, ra: c.ra, dec: c.dec, discovery_date: mjdToIso(c.first_mjd) }]
        : [],
      photometry: ctx.photometry.map(derivedPoint),
      references: inputs.filter((i) => i.topic !== null).map((i) => ({
        source: "hopskotch",
        citation: `${i.topic}[${i.partition}]@${i.offset}` + (i.hop_id ? ` _id ${i.hop_id}` : ""),
      })),
      classification: {
        class: top.cls,
        score: top.score,
        scores: r.scores,
        model: r.model.name,
        version: r.model.version,
        features: r.features,
        explanation: r.explanation,
        computed_at: r.computed_at,
      },
      result_id: ctx.resultId,
      inputs,
      revision: ctx.revision,
    },
  };
}
