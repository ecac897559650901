/**
 * Payloads in the formats the real sources use: IGWN alerts (Avro,
 * `igwn.alerts.Alert`), GCN unified-schema JSON notices (Fermi GBM, IceCube),
 * GCN circulars (hop's `{header, body}`) and optical candidate alerts (Avro,
 * `kb.optical.v1.Alert`). Builders return plain records; encoders turn them
 * into wire bytes.
 *
 * @module
 */
import type {
  FermiGbmNotice,
  IceCubeNuSearchNotice,
  IgwnAlertContent,
  OpticalAlertContent,
  OpticalCandidate,
} from "../../contracts/messages.ts";
import { Buffer } from "node:buffer";
import { AvroContainerWriter, loadSchema } from "./avro.ts";

/** Version of the GCN unified schema the notices declare. */
export const GCN_SCHEMA_VERSION = "v7.2.3";
const GCN_SCHEMA_BASE = `https://gcn.nasa.gov/schema/${GCN_SCHEMA_VERSION}/gcn/notices`;

/** Publisher name written into optical alerts. */
export const PUBLISHER = "kilonova-broker source publisher";

/** UTC MJD → ISO 8601 with millisecond precision and a `Z`. */
export function mjdToIso(mjd: number): string {
  return new Date(Math.round((mjd - 40587) * 86_400_000)).toISOString();
}

/** ISO 8601 UTC (with or without `Z`) → MJD. */
export function isoToMjd(iso: string): number {
  const ms = Date.parse(/Z|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(ms)) throw new Error(`"${iso}" is not an ISO 8601 time`);
  return ms / 86_400_000 + 40587;
}

/** GPS seconds → UTC MJD (GPS−UTC = 18 s, valid 2017-01-01 onwards). */
export function gpsToMjd(gps: number): number {
  return (315_964_800 + gps - 18) / 86_400 + 40587;
}

/** The wire encoders, compiled once. */
export interface Encoders {
  readonly igwn: AvroContainerWriter;
  readonly optical: AvroContainerWriter;
}

/** Compiles the Avro schemas shipped in schemas/. */
export async function loadEncoders(): Promise<Encoders> {
  return {
    igwn: new AvroContainerWriter(await loadSchema("igwn.alerts.Alert.avsc")),
    optical: new AvroContainerWriter(await loadSchema("kb.optical.v1.Alert.avsc")),
  };
}

/** An IGWN alert record as avsc takes it (the sky map as raw bytes). */
export type IgwnAlertRecord = Omit<IgwnAlertContent, "event"> & {
  event:
    | (Omit<NonNullable<IgwnAlertContent["event"]>, "skymap"> & { skymap: Uint8Array | null })
    | null;
};

/** Encodes an IGWN alert as an Avro object container. */
export function encodeIgwnAlert(enc: Encoders, record: IgwnAlertRecord): Uint8Array {
  const r = {
    ...record,
    event: record.event && {
      ...record.event,
      mchirp_source: record.event.mchirp_source ?? null,
      skymap: record.event.skymap && Buffer.from(record.event.skymap),
    },
  };
  return enc.igwn.encode(r);
}

/** Encodes an optical candidate alert as an Avro object container. */
export function encodeOpticalAlert(enc: Encoders, alert: OpticalAlertContent): Uint8Array {
  return enc.optical.encode(alert);
}

/** JSON text bytes. */
export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** Fermi GBM notice: the automatic flight alert or the ground position. */
export function fermiGbmNotice(input: {
  subtype: "INITIAL_ALERT" | "GROUND_POSITION";
  alertIso: string;
  triggerIso: string;
  triggerId: number;
  burstName: string;
  recordNumber: number;
  position?: { ra: number; dec: number; errorDeg: number };
  info: string;
}): FermiGbmNotice {
  const year = input.triggerIso.slice(0, 4);
  const n: FermiGbmNotice = {
    $schema: `${GCN_SCHEMA_BASE}/fermi/gbm/trigger.schema.json`,
    additional_info: input.info,
    alert_datetime: input.alertIso,
    alert_tense: "current",
    alert_type: input.subtype === "INITIAL_ALERT" ? "initial" : "update",
    data_archive_page:
      `http://heasarc.gsfc.nasa.gov/FTP/fermi/data/gbm/triggers/${year}/${input.burstName}`,
    ground_generated_notice: input.subtype !== "INITIAL_ALERT",
    human_in_the_loop: input.subtype !== "INITIAL_ALERT",
    id: [String(input.triggerId), input.burstName],
    instrument: "GBM",
    messenger: "EM",
    mission: "Fermi",
    record_number: input.recordNumber,
    subtype: input.subtype,
    trigger_time: input.triggerIso,
    trigger_type: "rate",
  };
  if (input.position) {
    Object.assign(n, {
      ra: input.position.ra,
      dec: input.position.dec,
      ra_dec_error: input.position.errorDeg,
      containment_probability: 0.68,
      systematic_included: false,
      duration_class: "SHORT",
    });
  }
  return n;
}

/** IceCube's LVK neutrino track search notice. */
export function iceCubeNotice(input: {
  alertIso: string;
  triggerIso: string;
  supereventId: string;
  lvkAlertName: string;
  windowS: number;
  nEvents: number;
  info: string;
}): IceCubeNuSearchNotice {
  const t = Date.parse(input.triggerIso);
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    $schema: `${GCN_SCHEMA_BASE}/icecube/lvk_nu_track_search.schema.json`,
    type: "IceCube LVK Alert Nu Track Search",
    reference: { "gcn.notices.LVK.alert": input.lvkAlertName },
    ref_ID: input.supereventId,
    alert_datetime: input.alertIso,
    trigger_time: input.triggerIso,
    observation_start: iso(t - input.windowS * 1000),
    observation_stop: iso(t + input.windowS * 1000),
    observation_livetime: 2 * input.windowS,
    pval_generic: null,
    pval_bayesian: null,
    n_events_coincident: input.nEvents,
    additional_info: input.info,
  };
}

/** A GCN circular as hop-client's `GCNCircular` model serialises it. */
export interface CircularContent {
  header: Record<string, string>;
  body: string;
}

/** Parses a circular in the archive's text layout (TITLE/NUMBER/SUBJECT/DATE/FROM, blank line, body). */
export function parseCircular(text: string, file: string): CircularContent {
  const lines = text.split("\n");
  const header: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length && lines[i].trim() !== ""; i++) {
    const m = /^([A-Z]+):\s*(.*)$/.exec(lines[i]);
    if (!m) {
      throw new Error(`${file}: line ${i + 1}: expected "NAME: value" in the circular header`);
    }
    header[m[1].toLowerCase()] = m[2].trim();
  }
  for (const k of ["title", "number", "subject", "date", "from"]) {
    if (!header[k]) throw new Error(`${file}: circular header has no ${k.toUpperCase()}`);
  }
  return { header, body: lines.slice(i + 1).join("\n") };
}

/** Date of a circular header (`17/08/17 13:47:37 GMT`) → MJD. */
export function circularDateMjd(date: string, file: string): number {
  const m = /^(\d\d)\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d) GMT$/.exec(date.trim());
  if (!m) throw new Error(`${file}: DATE "${date}" is not "YY/MM/DD hh:mm:ss GMT"`);
  return isoToMjd(`20${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}

/** One optical measurement → the Avro candidate record. */
export function opticalCandidate(p: {
  candid: number;
  mjd: number;
  ra: number;
  dec: number;
  band: string;
  mag: number;
  magErr: number | null;
  upperLimit: boolean;
  limitingMag?: number | null;
  system: string | null;
  instrument: string;
  reference: string | null;
}): OpticalCandidate {
  return {
    candid: p.candid,
    mjd: p.mjd,
    ra: p.ra,
    dec: p.dec,
    band: p.band,
    mag: p.upperLimit ? null : p.mag,
    mag_err: p.upperLimit ? null : p.magErr,
    limiting_mag: p.upperLimit ? p.mag : (p.limitingMag ?? null),
    upper_limit: p.upperLimit,
    mag_system: p.system,
    instrument: p.instrument,
    reference: p.reference,
  };
}
