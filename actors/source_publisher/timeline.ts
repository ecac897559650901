/**
 * The multi-messenger timeline of 17 August 2017, built from the data set:
 * every message the world sent (or, where marked, would have sent) about
 * GW170817 / GRB 170817A / AT2017gfo, at its real time relative to the merger,
 * in the payload format of its topic.
 *
 * What is real and what is a stand-in (also in the README):
 * - IGWN alerts use today's `igwn.alerts.Alert` Avro schema (2017 notices were
 *   VOEvents); the superevent id `S170817a` is synthetic (O2 events had only
 *   G-ids). PRELIMINARY goes out at the time of the real first notice
 *   (G298048-1-Initial) with a synthetic H1-only sky map (a Gaussian of the
 *   GCN 21505 position and radius); INITIAL at GCN 21513 with the real 2017
 *   BAYESTAR HLV map; UPDATEs at GCN 21527 and 21983 re-send the BAYESTAR map
 *   (the LALInference maps of 2017 could not be obtained).
 * - Fermi GBM: the flight alert 14 s after the trigger (typical latency; the
 *   2017 notice time is not in the data set) and the ground position at the
 *   time it was first published (GCN 21506).
 * - IceCube: a null-result LVK track-search notice 10 minutes after the
 *   PRELIMINARY alert (synthetic: that notice type began in O3).
 * - GCN circulars: the 16 real texts at their real dates.
 * - Optical: one alert per AT2017gfo photometry row (detections and upper
 *   limits) at the observation time, with earlier rows as history; the
 *   contaminant light curves shifted in time and placed inside the map.
 *
 * @module
 */
import type { HopFormat } from "../../gateway/hopskotch/mod.ts";
import { nside2npix, pix2angNest, SkyMap, writeMultiOrderFits } from "../../astro/mod.ts";
import type { OpticalCandidate, TopicKey, TransientClass } from "../../contracts/mod.ts";
import { type Contaminant, DataError, type Dataset, type PhotometryRow } from "./dataset.ts";
import {
  circularDateMjd,
  encodeIgwnAlert,
  encodeJson,
  encodeOpticalAlert,
  type Encoders,
  fermiGbmNotice,
  gpsToMjd,
  iceCubeNotice,
  type IgwnAlertRecord,
  isoToMjd,
  mjdToIso,
  opticalCandidate,
  parseCircular,
  PUBLISHER,
} from "./payloads.ts";
import { Rng } from "./synthetic/rng.ts";

/** One message of the timeline. */
export interface TimelineEvent {
  /** Seconds after the merger (t0); negative before it. */
  readonly t: number;
  readonly topic: TopicKey;
  readonly format: HopFormat;
  /** Stable key of the event; with the run id it gives the hop `_id`. */
  readonly key: string;
  /** Kafka record key (e.g. the superevent or object id). */
  readonly recordKey: string;
  /** One line for the dry-run listing and logs. */
  readonly label: string;
  /** The payload bytes (built when needed, so large runs stay light). */
  encode(id: string): Uint8Array;
}

/** Truth of a replayed optical object (what the classifier must find). */
export interface ReplayTruth {
  readonly objectId: string;
  readonly class: TransientClass;
  readonly source: string;
  readonly ra: number;
  readonly dec: number;
}

/** Synthetic superevent id used for GW170817 (O2 events had no S-ids). */
export const SUPEREVENT_ID = "S170817a";

/** Alert history window, days (as ZTF: 30 days of previous measurements). */
export const HISTORY_DAYS = 30;

/**
 * How each contaminant is placed in time: its brightest detection lands
 * `peakAfterT0Days` after the merger (a plausible phase for a transient a
 * search of the localization meets in its first week).
 */
export const CONTAMINANT_PEAK_AFTER_T0_DAYS: Readonly<Record<string, number>> = {
  SN2011fe: 8,
  SN2014J: 2,
  SN2016X: 4,
  SN2016coi: 6,
  AT2018cow: 1.5,
};

/** Object ids of the replayed contaminants: neutral, so the name leaks no class. */
export function contaminantObjectId(index: number): string {
  return `KB17${String.fromCharCode(97 + Math.floor(index / 26))}${
    String.fromCharCode(97 + (index % 26))
  }`;
}

/** A Gaussian (Fisher-like) sky map of a circular localization, NSIDE 64, 2D. */
export function circularSkyMap(ra: number, dec: number, sigmaDeg: number): SkyMap {
  const nside = 64;
  const prob = new Float64Array(nside2npix(nside));
  const d2r = Math.PI / 180;
  const c = {
    x: Math.cos(dec * d2r) * Math.cos(ra * d2r),
    y: Math.cos(dec * d2r) * Math.sin(ra * d2r),
    z: Math.sin(dec * d2r),
  };
  const kappa = 1 / (sigmaDeg * d2r) ** 2;
  let sum = 0;
  for (let i = 0; i < prob.length; i++) {
    const { theta, phi } = pix2angNest(nside, i);
    const st = Math.sin(theta);
    const dot = st * Math.cos(phi) * c.x + st * Math.sin(phi) * c.y + Math.cos(theta) * c.z;
    prob[i] = Math.exp(kappa * (dot - 1));
    sum += prob[i];
  }
  for (let i = 0; i < prob.length; i++) prob[i] /= sum;
  return new SkyMap({ nside, prob, meta: new Map() });
}

function findTimeline(ds: Dataset, pattern: RegExp, what: string): number {
  const e = ds.facts.timeline.find((x) => pattern.test(x.event));
  if (!e) {
    throw new DataError(
      `${ds.dir}events.json`,
      `alert_timeline has no entry for ${what} (${pattern})`,
    );
  }
  return e.tSec;
}

/** Everything built once per run: sky map bytes and the AT2017gfo/contaminant placements. */
export interface TimelineBuild {
  readonly events: TimelineEvent[];
  readonly truth: ReplayTruth[];
  /** Multi-order FITS bytes of the maps carried by the IGWN alerts. */
  readonly skymaps: { preliminary: Uint8Array; bayestar: Uint8Array };
  /** The 2017 BAYESTAR map (flat), for placing sources. */
  readonly map: SkyMap;
}

/** Builds the GW170817 timeline from a loaded data set. */
export async function buildTimeline(ds: Dataset, enc: Encoders): Promise<TimelineBuild> {
  const f = ds.facts;
  const t0 = f.t0Mjd;
  const sec = (mjd: number) => (mjd - t0) * 86_400;
  const events: TimelineEvent[] = [];

  // ---- sky maps -------------------------------------------------------------
  const map = await SkyMap.fromFits(ds.bayestarMap, ds.bayestarMapFile);
  const bayestar = writeMultiOrderFits(map.toMultiOrder(), [
    "Multi-order (NUNIQ) version of the 2017 BAYESTAR HLV map of G298107 (GCN 21513),",
    "converted from the flat NSIDE 128 file by kilonova-broker astro/skymap.ts.",
  ]);
  const loc = f.firstLocalization;
  const prelimMap = circularSkyMap(loc.ra, loc.dec, loc.radiusDeg);
  const prelimMeta = new Map<string, string | number>([
    ["OBJECT", SUPEREVENT_ID],
    ["INSTRUME", f.gw.instrumentsInitial.join(",")],
    ["DATE-OBS", mjdToIso(gpsToMjd(f.gw.triggerGps)).replace("Z", "")],
    ["CREATOR", "kilonova-broker"],
    ["ORIGIN", "synthetic"],
  ]);
  const preliminary = writeMultiOrderFits({
    ...prelimMap.toMultiOrder({ mergeBelow: 1e-4 }),
    meta: prelimMeta,
  }, [
    "SYNTHETIC stand-in for the H1-only localization of GCN 21505: a Gaussian of",
    `radius ${loc.radiusDeg} deg around RA ${loc.ra} Dec ${loc.dec}. Not a LIGO/Virgo product.`,
  ]);

  // ---- IGWN alerts ----------------------------------------------------------
  const gwMjd = gpsToMjd(f.gw.triggerGps);
  const gwIso = mjdToIso(gwMjd);
  const grbMjd = isoToMjd(f.grb.triggerUtc);
  const circ = new Map<number, { content: ReturnType<typeof parseCircular>; mjd: number }>();
  for (const [n, text] of ds.circulars) {
    const file = `${ds.dir}gcn/${n}.txt`;
    const content = parseCircular(text, file);
    circ.set(n, { content, mjd: circularDateMjd(content.header.date, file) });
  }
  const circTime = (n: number) => {
    const c = circ.get(n);
    if (!c) throw new DataError(`${ds.dir}gcn/${n}.txt`, "circular missing");
    return sec(c.mjd);
  };
  const prelimT = findTimeline(ds, /LVC Initial GCN notice/, "the first LVC notice");
  const igwn: {
    type: IgwnAlertRecord["alert_type"];
    t: number;
    map: Uint8Array;
    instruments: string[];
    coinc: boolean;
    note: string;
  }[] = [
    {
      type: "PRELIMINARY",
      t: prelimT,
      map: preliminary,
      instruments: f.gw.instrumentsInitial,
      coinc: false,
      note: "first notice (H1-only)",
    },
    {
      type: "INITIAL",
      t: circTime(21513),
      map: bayestar,
      instruments: f.gw.instruments,
      coinc: true,
      note: "BAYESTAR HLV map (GCN 21513)",
    },
    {
      type: "UPDATE",
      t: circTime(21527),
      map: bayestar,
      instruments: f.gw.instruments,
      coinc: true,
      note: "GCN 21527 (map stand-in: BAYESTAR)",
    },
    {
      type: "UPDATE",
      t: circTime(21983),
      map: bayestar,
      instruments: f.gw.instruments,
      coinc: true,
      note: "GCN 21983 (map stand-in: BAYESTAR)",
    },
  ];
  const isBns = f.gw.classification === "BNS";
  igwn.forEach((a, i) => {
    const record: IgwnAlertRecord = {
      alert_type: a.type,
      time_created: mjdToIso(t0 + a.t / 86_400),
      superevent_id: SUPEREVENT_ID,
      event: {
        time: gwIso,
        far: f.gw.farHz,
        significant: true,
        instruments: a.instruments,
        group: "CBC",
        pipeline: "gstlal",
        search: "AllSky",
        classification: { BNS: isBns ? 1 : 0, NSBH: 0, BBH: 0, Terrestrial: 0 },
        properties: { HasNS: f.gw.probHasNs, HasRemnant: f.gw.probHasRemnant },
        mchirp_source: null,
        duration: null,
        central_frequency: null,
        skymap: a.map,
      },
      external_coinc: a.coinc
        ? {
          gcn_notice_id: f.grb.triggerId,
          ivorn: `ivo://nasa.gsfc.gcn/Fermi#GBM_Gnd_Pos_${f.grb.triggerUtc}_${f.grb.triggerId}`,
          observatory: "Fermi",
          search: "GRB",
          time_difference: Math.round((grbMjd - gwMjd) * 86_400 * 1000) / 1000,
          time_coincidence_far: null,
          time_sky_position_coincidence_far: null,
          combined_skymap: null,
        }
        : null,
      urls: { gracedb: `https://gracedb.ligo.org/events/${f.gw.gracedbId}/view/` },
    };
    events.push({
      t: a.t,
      topic: "igwnAlert",
      format: "avro",
      key: `igwn/${SUPEREVENT_ID}/${i + 1}-${a.type}`,
      recordKey: SUPEREVENT_ID,
      label: `IGWN ${a.type} ${SUPEREVENT_ID} (${a.note})`,
      encode: () => encodeIgwnAlert(enc, record),
    });
  });

  // ---- GCN notices ----------------------------------------------------------
  const grbT = sec(grbMjd);
  const burst = `bn${f.grb.triggerName.split(" ")[0].replace(/^bn/, "")}`;
  const gbmBase = { triggerIso: f.grb.triggerUtc, triggerId: f.grb.triggerId, burstName: burst };
  const gbmAlertT = grbT + 14;
  events.push({
    t: gbmAlertT,
    topic: "gcnNotices",
    format: "json",
    key: `gcn/fermi-gbm/${f.grb.triggerId}/1`,
    recordKey: String(f.grb.triggerId),
    label: `Fermi GBM INITIAL_ALERT trigger ${f.grb.triggerId}`,
    encode: () =>
      encodeJson(fermiGbmNotice({
        ...gbmBase,
        subtype: "INITIAL_ALERT",
        alertIso: mjdToIso(t0 + gbmAlertT / 86_400),
        recordNumber: 1,
        info: "Replay of GRB 170817A (kilonova-broker); notice time assumed trigger + 14 s.",
      })),
  });
  const gbmPosT = circTime(21506);
  events.push({
    t: gbmPosT,
    topic: "gcnNotices",
    format: "json",
    key: `gcn/fermi-gbm/${f.grb.triggerId}/2`,
    recordKey: String(f.grb.triggerId),
    label: `Fermi GBM GROUND_POSITION RA ${f.grb.ra} Dec ${f.grb.dec} ±${f.grb.errorDeg}°`,
    encode: () =>
      encodeJson(fermiGbmNotice({
        ...gbmBase,
        subtype: "GROUND_POSITION",
        alertIso: mjdToIso(t0 + gbmPosT / 86_400),
        recordNumber: 2,
        position: { ra: f.grb.ra, dec: f.grb.dec, errorDeg: f.grb.errorDeg },
        info: "Replay of GRB 170817A (kilonova-broker); position as published in GCN 21506/21520.",
      })),
  });
  const icT = prelimT + 600;
  events.push({
    t: icT,
    topic: "gcnNotices",
    format: "json",
    key: `gcn/icecube/${SUPEREVENT_ID}/1`,
    recordKey: SUPEREVENT_ID,
    label: `IceCube LVK track search for ${SUPEREVENT_ID}: 0 coincident neutrinos`,
    encode: () =>
      encodeJson(iceCubeNotice({
        alertIso: mjdToIso(t0 + icT / 86_400),
        triggerIso: gwIso,
        supereventId: SUPEREVENT_ID,
        lvkAlertName: `${SUPEREVENT_ID}-1-Preliminary`,
        windowS: 500,
        nEvents: 0,
        info: "SYNTHETIC null result for the GW170817 replay (this notice type began in O3).",
      })),
  });

  // ---- GCN circulars --------------------------------------------------------
  for (const [n, c] of [...circ].sort((a, b) => a[0] - b[0])) {
    events.push({
      t: sec(c.mjd),
      topic: "gcnCirculars",
      format: "circular",
      key: `gcn/circular/${n}`,
      recordKey: String(n),
      label: `GCN Circular ${n}: ${c.content.header.subject.slice(0, 70)}`,
      encode: () => encodeJson(c.content),
    });
  }

  // ---- optical --------------------------------------------------------------
  const truth: ReplayTruth[] = [];
  const gfoId = "AT2017gfo";
  truth.push({
    objectId: gfoId,
    class: "kilonova",
    source: "AT2017gfo literature photometry",
    ra: f.counterpart.ra,
    dec: f.counterpart.dec,
  });
  events.push(
    ...opticalEvents(
      enc,
      gfoId,
      "literature",
      ds.at2017gfo,
      f.counterpart.ra,
      f.counterpart.dec,
      0,
      t0,
    ),
  );
  const rng = new Rng(170817);
  ds.contaminants.forEach((c, i) => {
    const id = contaminantObjectId(i);
    let pos = map.sample(rng.uniform(), rng.uniform());
    // Keep contaminants apart from the counterpart (a different galaxy).
    for (
      let k = 0;
      k < 100 && Math.abs(pos.ra - f.counterpart.ra) < 0.5 &&
      Math.abs(pos.dec - f.counterpart.dec) < 0.5;
      k++
    ) {
      pos = map.sample(rng.uniform(), rng.uniform());
    }
    const shift = contaminantShift(c, t0);
    truth.push({ objectId: id, class: c.class, source: c.name, ra: pos.ra, dec: pos.dec });
    events.push(...opticalEvents(enc, id, "literature", c.rows, pos.ra, pos.dec, shift, t0));
  });

  events.sort((a, b) => a.t - b.t || (a.key < b.key ? -1 : 1));
  return { events, truth, skymaps: { preliminary, bayestar }, map };
}

/** Days to add to a contaminant's MJDs so its brightest detection falls at its chosen phase. */
export function contaminantShift(c: Contaminant, t0Mjd: number): number {
  const det = c.rows.filter((r) => !r.upperLimit);
  if (!det.length) throw new DataError(c.file, "no detections to align on");
  let peak = det[0];
  for (const r of det) if (r.mag < peak.mag) peak = r;
  const after = CONTAMINANT_PEAK_AFTER_T0_DAYS[c.name];
  if (after === undefined) {
    throw new DataError(c.file, `no placement for ${c.name} in CONTAMINANT_PEAK_AFTER_T0_DAYS`);
  }
  return t0Mjd + after - peak.mjd;
}

function opticalEvents(
  enc: Encoders,
  objectId: string,
  survey: string,
  rows: readonly PhotometryRow[],
  ra: number,
  dec: number,
  shiftDays: number,
  t0: number,
): TimelineEvent[] {
  const cands: OpticalCandidate[] = rows.map((r, i) =>
    opticalCandidate({
      candid: i + 1,
      mjd: r.mjd + shiftDays,
      ra,
      dec,
      band: r.band,
      mag: r.mag,
      magErr: r.magErr,
      upperLimit: r.upperLimit,
      system: r.system,
      instrument: r.instrument || "unknown",
      reference: r.source || null,
    })
  );
  return cands.map((c, i) => {
    const t = (c.mjd - t0) * 86_400;
    const what = c.upper_limit ? `limit >${c.limiting_mag}` : `${c.mag}±${c.mag_err ?? "?"}`;
    return {
      t,
      topic: "optical" as const,
      format: "avro" as const,
      key: `optical/${objectId}/${c.candid}`,
      recordKey: objectId,
      label: `optical ${objectId} ${c.band} ${what} (${c.instrument})`,
      encode: (id: string) => {
        let first = i;
        while (first > 0 && cands[first - 1].mjd >= c.mjd - HISTORY_DAYS) first--;
        const prv = cands.slice(first, i);
        return encodeOpticalAlert(enc, {
          schemavsn: "1.0",
          publisher: PUBLISHER,
          alert_id: id,
          object_id: objectId,
          survey: c.instrument.split("/")[0] || survey,
          candidate: c,
          prv_candidates: prv.length ? prv : null,
        });
      },
    };
  });
}
