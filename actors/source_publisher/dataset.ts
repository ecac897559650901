/**
 * The GW170817 data set: event facts (`events.json`) and photometry CSVs
 * (AT2017gfo and the contaminant transients), read and checked before anything
 * is published. Every error names the file and the field (and line) at fault.
 *
 * @module
 */
import { isKnownBand, KNOWN_BANDS } from "./bands.ts";

/** Default data folder: the copy kept beside this module. */
export const DEFAULT_DATA_DIR = new URL("./data/", import.meta.url);

/** Raised for a missing or corrupt input, naming the file and field. */
export class DataError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "DataError";
  }
}

/** One row of a photometry CSV. */
export interface PhotometryRow {
  /** 1-based line number in the file (for messages). */
  readonly line: number;
  readonly mjd: number;
  readonly band: string;
  readonly mag: number;
  readonly magErr: number | null;
  readonly upperLimit: boolean;
  readonly system: "AB" | "Vega" | null;
  readonly instrument: string;
  readonly source: string;
}

const CSV_HEADER = "mjd,band,mag,mag_err,upper_limit,system,instrument,source";

/** Parses a photometry CSV (format in data/README.md); `file` names it in errors. */
export function parsePhotometry(text: string, file: string): PhotometryRow[] {
  const lines = text.split("\n");
  if (lines[0]?.trim() !== CSV_HEADER) {
    throw new DataError(
      file,
      `line 1: header must be "${CSV_HEADER}", found "${lines[0]?.slice(0, 80)}"`,
    );
  }
  const rows: PhotometryRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i];
    if (raw.trim() === "") continue;
    const line = i + 1;
    const f = raw.split(",");
    const where = (field: string) => `line ${line}, field ${field}`;
    if (f.length !== 8) {
      throw new DataError(file, `line ${line}: expected 8 fields, found ${f.length}`);
    }
    const num = (s: string, field: string) => {
      const v = Number(s);
      if (s.trim() === "" || !Number.isFinite(v)) {
        throw new DataError(file, `${where(field)}: "${s}" is not a number`);
      }
      return v;
    };
    const mjd = num(f[0], "mjd");
    if (mjd < 40000 || mjd > 80000) {
      throw new DataError(file, `${where("mjd")}: ${mjd} is not a plausible MJD`);
    }
    const band = f[1];
    if (!isKnownBand(band)) {
      throw new DataError(
        file,
        `${where("band")}: unknown band "${band}" (known: ${KNOWN_BANDS.join(" ")})`,
      );
    }
    const mag = num(f[2], "mag");
    if (mag < -5 || mag > 35) {
      throw new DataError(file, `${where("mag")}: ${mag} is outside -5..35`);
    }
    const magErr = f[3] === "" ? null : num(f[3], "mag_err");
    if (magErr !== null && (magErr < 0 || magErr > 5)) {
      throw new DataError(file, `${where("mag_err")}: ${magErr} is outside 0..5`);
    }
    if (f[4] !== "true" && f[4] !== "false") {
      throw new DataError(file, `${where("upper_limit")}: "${f[4]}" must be true or false`);
    }
    if (f[5] !== "" && f[5] !== "AB" && f[5] !== "Vega") {
      throw new DataError(file, `${where("system")}: "${f[5]}" must be AB, Vega or empty`);
    }
    rows.push({
      line,
      mjd,
      band,
      mag,
      magErr,
      upperLimit: f[4] === "true",
      system: f[5] === "" ? null : f[5] as "AB" | "Vega",
      instrument: f[6],
      source: f[7],
    });
  }
  if (!rows.length) throw new DataError(file, "no data rows");
  for (let i = 1; i < rows.length; i++) {
    if (rows[i].mjd < rows[i - 1].mjd) {
      throw new DataError(file, `line ${rows[i].line}, field mjd: rows must be sorted by mjd`);
    }
  }
  return rows;
}

/** The facts the replay uses, from `events.json`. */
export interface EventFacts {
  /** Merger time, UTC MJD. */
  readonly t0Mjd: number;
  readonly t0Utc: string;
  readonly gw: {
    readonly gracedbId: string;
    readonly instruments: string[];
    readonly instrumentsInitial: string[];
    readonly farHz: number;
    readonly classification: string;
    readonly probHasNs: number;
    readonly probHasRemnant: number;
    /** Low-latency (gstlal) trigger time, GPS seconds. */
    readonly triggerGps: number;
    readonly distanceMpc: number;
  };
  /** The H1-only first localization (GCN 21505). */
  readonly firstLocalization: { ra: number; dec: number; radiusDeg: number; issuedUtc: string };
  readonly grb: {
    readonly triggerId: number;
    readonly triggerName: string;
    readonly triggerUtc: string;
    readonly ra: number;
    readonly dec: number;
    readonly errorDeg: number;
    readonly t90: number;
    readonly fluence: number;
    readonly epeakKev: number;
    /** Published GW→GRB onset delay, seconds (~1.7). */
    readonly delayAfterGwS: number;
  };
  readonly counterpart: {
    readonly ra: number;
    readonly dec: number;
    readonly firstDetectionUtc: string;
    readonly hoursAfterGw: number;
    readonly names: string[];
  };
  /** The published timeline: notice/circular times. */
  readonly timeline: { utc: string; event: string; tSec: number }[];
}

type Json = Record<string, unknown>;

function at(root: unknown, path: string, file: string): unknown {
  let v: unknown = root;
  for (const p of path.split(".")) {
    if (v === null || typeof v !== "object" || !(p in (v as Json))) {
      throw new DataError(file, `field ${path} is missing`);
    }
    v = (v as Json)[p];
  }
  return v;
}

function numberAt(root: unknown, path: string, file: string): number {
  const v = at(root, path, file);
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new DataError(file, `field ${path} must be a number, found ${JSON.stringify(v)}`);
  }
  return v;
}

function stringAt(root: unknown, path: string, file: string): string {
  const v = at(root, path, file);
  if (typeof v !== "string" || v === "") {
    throw new DataError(
      file,
      `field ${path} must be a non-empty string, found ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function stringsAt(root: unknown, path: string, file: string): string[] {
  const v = at(root, path, file);
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new DataError(file, `field ${path} must be a list of strings`);
  }
  return v as string[];
}

/** Parses and checks `events.json`. */
export function parseFacts(text: string, file: string): EventFacts {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (err) {
    throw new DataError(file, `not valid JSON: ${(err as Error).message}`);
  }
  const locs = at(j, "localizations", file);
  if (!Array.isArray(locs) || !locs.length) {
    throw new DataError(file, "field localizations must be a non-empty list");
  }
  const tl = at(j, "alert_timeline", file);
  if (!Array.isArray(tl)) throw new DataError(file, "field alert_timeline must be a list");
  const timeline = tl.map((e, i) => ({
    utc: stringAt(e, "utc", `${file} alert_timeline[${i}]`),
    event: stringAt(e, "event", `${file} alert_timeline[${i}]`),
    tSec: numberAt(e, "t_minus_t0_s", `${file} alert_timeline[${i}]`),
  }));
  const facts: EventFacts = {
    t0Mjd: numberAt(j, "t0.mjd.value", file),
    t0Utc: stringAt(j, "t0.utc.value", file),
    gw: {
      gracedbId: stringAt(j, "gw.gracedb_id.value", file),
      instruments: stringsAt(j, "gw.instruments.value", file),
      instrumentsInitial: stringsAt(j, "gw.instruments_initial_notice.value", file),
      farHz: numberAt(j, "gw.far_online_hz.value", file),
      classification: stringAt(j, "gw.classification.value", file),
      probHasNs: numberAt(j, "gw.prob_has_ns.value", file),
      probHasRemnant: numberAt(j, "gw.prob_has_remnant.value", file),
      triggerGps: numberAt(j, "gw.merger_time_gps_gstlal.value", file),
      distanceMpc: numberAt(j, "gw.luminosity_distance_mpc.value", file),
    },
    firstLocalization: {
      ra: numberAt(locs[0], "ra_deg", `${file} localizations[0]`),
      dec: numberAt(locs[0], "dec_deg", `${file} localizations[0]`),
      radiusDeg: numberAt(locs[0], "radius_deg", `${file} localizations[0]`),
      issuedUtc: stringAt(locs[0], "issued_utc", `${file} localizations[0]`),
    },
    grb: {
      triggerId: numberAt(j, "grb.fermi_gbm_trigger_id.value", file),
      triggerName: stringAt(j, "grb.fermi_gbm_trigger_name.value", file),
      triggerUtc: stringAt(j, "grb.trigger_time_utc.value", file),
      ra: numberAt(j, "grb.ra_deg.value", file),
      dec: numberAt(j, "grb.dec_deg.value", file),
      errorDeg: numberAt(j, "grb.error_radius_deg_1sigma_stat.value", file),
      t90: numberAt(j, "grb.t90_s.value", file),
      fluence: numberAt(j, "grb.fluence_erg_cm2.value", file),
      epeakKev: numberAt(j, "grb.epeak_kev.value", file),
      delayAfterGwS: numberAt(j, "grb.delay_after_gw_s.value", file),
    },
    counterpart: {
      ra: numberAt(j, "optical_counterpart.ra_deg.value", file),
      dec: numberAt(j, "optical_counterpart.dec_deg.value", file),
      firstDetectionUtc: stringAt(j, "optical_counterpart.first_detection_utc.value", file),
      hoursAfterGw: numberAt(j, "optical_counterpart.hours_after_gw.value", file),
      names: stringsAt(j, "optical_counterpart.names.value", file),
    },
    timeline,
  };
  if (facts.t0Mjd < 57000 || facts.t0Mjd > 70000) {
    throw new DataError(file, `field t0.mjd.value ${facts.t0Mjd} is not plausible`);
  }
  return facts;
}

/** A contaminant light curve and its class (from the data README). */
export interface Contaminant {
  readonly name: string;
  readonly file: string;
  readonly class: "SN Ia" | "SN II-P" | "SN Ib/c" | "FBOT";
  readonly rows: PhotometryRow[];
}

/** The contaminants shipped in data/contaminants/, with their classes. */
export const CONTAMINANTS = [
  { name: "SN2011fe", class: "SN Ia" },
  { name: "SN2014J", class: "SN Ia" },
  { name: "SN2016X", class: "SN II-P" },
  { name: "SN2016coi", class: "SN Ib/c" },
  { name: "AT2018cow", class: "FBOT" },
] as const;

/** Everything the replay reads from the data folder. */
export interface Dataset {
  readonly dir: string;
  readonly facts: EventFacts;
  readonly at2017gfo: PhotometryRow[];
  readonly contaminants: Contaminant[];
  /** Raw bytes of the 2017 BAYESTAR flat sky map. */
  readonly bayestarMap: Uint8Array;
  readonly bayestarMapFile: string;
  /** GCN circular texts by number. */
  readonly circulars: Map<number, string>;
}

async function readText(path: URL): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new DataError(path.pathname, `cannot read (${(err as Error).message})`);
  }
}

/** Loads and checks the whole data set; throws {@link DataError} naming the bad file/field. */
export async function loadDataset(dir: URL | string = DEFAULT_DATA_DIR): Promise<Dataset> {
  const base = typeof dir === "string"
    ? new URL(dir.endsWith("/") ? dir : `${dir}/`, `file://${Deno.cwd()}/`)
    : dir;
  const f = (p: string) => new URL(p, base);
  const facts = parseFacts(await readText(f("events.json")), f("events.json").pathname);
  const at2017gfo = parsePhotometry(
    await readText(f("photometry_at2017gfo.csv")),
    f("photometry_at2017gfo.csv").pathname,
  );
  const contaminants: Contaminant[] = [];
  for (const c of CONTAMINANTS) {
    const file = f(`contaminants/${c.name}.csv`);
    contaminants.push({
      ...c,
      file: file.pathname,
      rows: parsePhotometry(await readText(file), file.pathname),
    });
  }
  const mapFile = f("skymap/bayestar_2017_G298107.flat.fits.gz");
  let bayestarMap: Uint8Array;
  try {
    bayestarMap = await Deno.readFile(mapFile);
  } catch (err) {
    throw new DataError(mapFile.pathname, `cannot read (${(err as Error).message})`);
  }
  const circulars = new Map<number, string>();
  for (
    const n of [
      21505,
      21506,
      21507,
      21509,
      21510,
      21513,
      21515,
      21520,
      21527,
      21528,
      21529,
      21530,
      21531,
      21538,
      21547,
      21983,
    ]
  ) {
    circulars.set(n, await readText(f(`gcn/${n}.txt`)));
  }
  return {
    dir: base.pathname,
    facts,
    at2017gfo,
    contaminants,
    bayestarMap,
    bayestarMapFile: mapFile.pathname,
    circulars,
  };
}
