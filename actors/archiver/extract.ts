/**
 * From a gateway envelope to archive rows: the `alerts` row every message gets
 * (raw bytes, hop headers, Kafka position), and for known kinds the typed rows
 * (optical candidates and photometry, IGWN alerts and sky maps, GCN notices).
 * Pure: no I/O, so every rule is unit-tested.
 *
 * Content that is malformed or physically impossible (Dec outside ±90, RA
 * outside [0, 360), MJD before 1990 or in the future, NaN or missing
 * magnitudes) makes the alert `rejected`: stored raw, kept out of the typed
 * tables, and dead-lettered by the actor with the reason.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { z } from "zod";
import {
  FermiGbmNotice,
  type HopEnvelope,
  IceCubeNuSearchNotice,
  IgwnAlertContent,
  OpticalAlertContent,
} from "../../contracts/messages.ts";
import type {
  AlertRow,
  ArchiveItem,
  CandidateRow,
  GcnNoticeRow,
  GwEventRow,
  PhotometryRow,
  SkymapRow,
} from "../../db/archive.ts";
import { radecToPixel } from "../../db/healpix_index.ts";

/** MJD of 1990-01-01T00:00Z: earlier observation times are impossible for these surveys. */
export const MIN_MJD = 47892;
const UNIX_EPOCH_MJD = 40587;

/** Options of {@link extract}. */
export interface ExtractOptions {
  /** "Now" in epoch ms (tests pin it). */
  readonly nowMs?: number;
  /** How far in the future an observation time may lie (clock skew), seconds. Default 3600. */
  readonly maxFutureS?: number;
}

/** The archive rows of one message, and why it was rejected if it was. */
export interface Extraction {
  readonly item: ArchiveItem;
  /** Set when the alert is stored raw but must be dead-lettered. */
  readonly rejection?: string;
}

/** MJD of an epoch-milliseconds time. */
export function mjdOfMs(ms: number): number {
  return ms / 86_400_000 + UNIX_EPOCH_MJD;
}

function issues(error: z.ZodError): string {
  return error.issues.slice(0, 5).map((i) =>
    `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`
  ).join("; ");
}

function isoOrNull(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** Problems with one photometric point's values, checked before the schema (clear reasons). */
function impossiblePoint(p: Record<string, unknown>, where: string, maxMjd: number): string[] {
  const out: string[] = [];
  const num = (k: string) => p[k];
  const dec = num("dec");
  const ra = num("ra");
  const mjd = num("mjd");
  if (typeof dec !== "number" || !(dec >= -90 && dec <= 90)) {
    out.push(`${where}.dec = ${JSON.stringify(dec)} is outside [-90, 90]`);
  }
  if (typeof ra !== "number" || !(ra >= 0 && ra < 360)) {
    out.push(`${where}.ra = ${JSON.stringify(ra)} is outside [0, 360)`);
  }
  if (typeof mjd !== "number" || !Number.isFinite(mjd)) {
    out.push(`${where}.mjd = ${JSON.stringify(mjd)} is not a number`);
  } else if (mjd < MIN_MJD) {
    out.push(`${where}.mjd = ${mjd} is before 1990 (MJD ${MIN_MJD})`);
  } else if (mjd > maxMjd) {
    out.push(`${where}.mjd = ${mjd} is in the future (now + slack = MJD ${maxMjd.toFixed(5)})`);
  }
  for (const k of ["mag", "mag_err", "limiting_mag"]) {
    const v = num(k);
    if (v !== null && v !== undefined && (typeof v !== "number" || !Number.isFinite(v))) {
      out.push(`${where}.${k} = ${JSON.stringify(v)} is not a finite number (NaN?)`);
    }
  }
  if (p.upper_limit === false && (p.mag === null || p.mag === undefined)) {
    out.push(`${where}.mag is missing on a detection (upper_limit false)`);
  }
  if (p.upper_limit === true && (p.limiting_mag === null || p.limiting_mag === undefined)) {
    out.push(`${where}.limiting_mag is missing on an upper limit`);
  }
  return out;
}

function baseRow(env: HopEnvelope, msgId: string, subject: string): AlertRow {
  const ts = env.kafka.timestampMs;
  if (env.raw.base64 === null) {
    throw new Error(
      "the envelope's raw is sameAsJson (the record is in its bytes, not in raw.base64): " +
        "decode it with decodeArchiverInput (decode.ts), which fills raw.base64 in",
    );
  }
  return {
    msg_id: msgId,
    kind: env.kind,
    subject,
    topic: env.kafka.topic,
    kafka_partition: env.kafka.partition,
    kafka_offset: env.kafka.offset,
    kafka_time: ts > 0 && Number.isFinite(ts) ? new Date(ts).toISOString() : null,
    kafka_key_base64: env.kafka.keyBase64,
    hop_id: env.hop.id,
    hop_sender: env.hop.sender,
    hop_test: env.hop.test,
    hop_format: env.hop.format,
    hop_format_header: env.hop.formatHeader,
    hop_via: env.hop.via,
    headers: env.hop.extraHeaders,
    payload_base64: env.raw.base64,
    payload_size: env.raw.size,
    received_at: isoOrNull(env.receivedAt) ?? new Date().toISOString(),
    status: "raw",
    status_detail: null,
  };
}

type Typed = Omit<ArchiveItem, "alert">;
const EMPTY: Typed = { candidates: [], photometry: [], skymaps: [], gwEvents: [], gcnNotices: [] };

class Reject extends Error {}

function records(env: HopEnvelope, what: string): unknown[] {
  if (env.content.format !== "avro") {
    throw new Reject(`${what} alerts are Avro; this one is ${env.content.format}`);
  }
  if (env.content.records.length === 0) throw new Reject(`the Avro container holds no record`);
  return env.content.records;
}

function optical(env: HopEnvelope, msgId: string, maxMjd: number): Typed {
  const candidates: CandidateRow[] = [];
  const photometry: PhotometryRow[] = [];
  records(env, "optical").forEach((rec, i) => {
    const r = (rec ?? {}) as Record<string, unknown>;
    const where = env.content.format === "avro" && env.content.records.length > 1
      ? `records[${i}].`
      : "";
    const problems = impossiblePoint(
      (r.candidate ?? {}) as Record<string, unknown>,
      `${where}candidate`,
      maxMjd,
    );
    if (Array.isArray(r.prv_candidates)) {
      r.prv_candidates.forEach((p, k) =>
        problems.push(
          ...impossiblePoint(
            (p ?? {}) as Record<string, unknown>,
            `${where}prv_candidates[${k}]`,
            maxMjd,
          ),
        )
      );
    }
    if (problems.length) throw new Reject(`impossible values: ${problems.slice(0, 5).join("; ")}`);
    const parsed = OpticalAlertContent.safeParse(rec);
    if (!parsed.success) {
      throw new Reject(`not a kb.optical.v1.Alert: ${issues(parsed.error)}`);
    }
    const a = parsed.data;
    const c = a.candidate;
    candidates.push({
      msg_id: msgId,
      candidate_id: a.object_id,
      survey: a.survey,
      ra: c.ra,
      dec: c.dec,
      hpx: radecToPixel(c.ra, c.dec),
      mjd: c.mjd,
    });
    for (const p of [...(a.prv_candidates ?? []), c]) {
      photometry.push({
        msg_id: msgId,
        candidate_id: a.object_id,
        candid: p.candid,
        mjd: p.mjd,
        ra: p.ra,
        dec: p.dec,
        band: p.band,
        mag: p.mag,
        mag_err: p.mag_err,
        limiting_mag: p.limiting_mag,
        upper_limit: p.upper_limit,
        mag_system: p.mag_system,
        instrument: p.instrument,
        reference: p.reference,
      });
    }
  });
  return { ...EMPTY, candidates, photometry };
}

function gw(env: HopEnvelope, msgId: string): Typed {
  const gwEvents: GwEventRow[] = [];
  const skymaps: SkymapRow[] = [];
  for (const rec of records(env, "IGWN")) {
    const parsed = IgwnAlertContent.safeParse(rec);
    if (!parsed.success) throw new Reject(`not an igwn.alerts.Alert: ${issues(parsed.error)}`);
    const a = parsed.data;
    if (isoOrNull(a.time_created) === null) {
      throw new Reject(`time_created "${a.time_created}" is not an ISO 8601 time`);
    }
    const e = a.event;
    if (e && !(e.far >= 0)) throw new Reject(`event.far = ${e.far} is not a rate ≥ 0`);
    let sha: string | null = null;
    if (e?.skymap) {
      const bytes = Uint8Array.from(atob(e.skymap), (ch) => ch.charCodeAt(0));
      sha = createHash("sha256").update(bytes).digest("hex");
      if (!skymaps.some((s) => s.sha256_hex === sha)) {
        skymaps.push({
          msg_id: msgId,
          sha256_hex: sha,
          superevent_id: a.superevent_id,
          size: bytes.byteLength,
          bytes_base64: e.skymap,
        });
      }
    }
    gwEvents.push({
      msg_id: msgId,
      superevent_id: a.superevent_id,
      alert_type: a.alert_type,
      time_created: isoOrNull(a.time_created)!,
      event_time: e ? isoOrNull(e.time) : null,
      far: e?.far ?? null,
      significant: e?.significant ?? null,
      pipeline: e?.pipeline ?? null,
      search: e?.search ?? null,
      instruments: e?.instruments ?? null,
      classification: e?.classification ?? null,
      properties: e?.properties ?? null,
      skymap_sha256_hex: sha,
      external_coinc: a.external_coinc,
      urls: a.urls,
    });
    if (gwEvents.length > 1) throw new Reject(`an IGWN alert holds one record; this one has more`);
  }
  return { ...EMPTY, gwEvents, skymaps };
}

const FERMI_GBM = /\/gcn\/notices\/fermi\/gbm\/trigger\.schema\.json$/;
const ICECUBE_LVK = /\/gcn\/notices\/icecube\/lvk_nu_track_search\.schema\.json$/;

function gcn(env: HopEnvelope, msgId: string): Typed | "raw" {
  if (env.content.format !== "json") return "raw"; // circulars, VOEvents, text notices
  const body = env.content.json as Record<string, unknown> | null;
  const schema = body && typeof body === "object" ? body.$schema : undefined;
  if (typeof schema !== "string") return "raw";
  let row: GcnNoticeRow;
  if (FERMI_GBM.test(schema)) {
    const parsed = FermiGbmNotice.safeParse(body);
    if (!parsed.success) throw new Reject(`not a Fermi GBM notice: ${issues(parsed.error)}`);
    const n = parsed.data;
    const hasPos = n.ra !== undefined || n.dec !== undefined;
    if (hasPos) {
      const problems: string[] = [];
      if (!(typeof n.dec === "number" && n.dec >= -90 && n.dec <= 90)) {
        problems.push(`dec = ${n.dec} is outside [-90, 90]`);
      }
      if (!(typeof n.ra === "number" && n.ra >= 0 && n.ra < 360)) {
        problems.push(`ra = ${n.ra} is outside [0, 360)`);
      }
      if (problems.length) throw new Reject(`impossible values: ${problems.join("; ")}`);
    }
    row = {
      msg_id: msgId,
      schema_url: schema,
      mission: n.mission,
      instrument: n.instrument,
      notice_type: n.subtype,
      event_id: n.id[n.id.length - 1],
      alert_time: isoOrNull(n.alert_datetime),
      trigger_time: isoOrNull(n.trigger_time),
      ra: n.ra ?? null,
      dec: n.dec ?? null,
      error_deg: n.ra_dec_error ?? null,
      hpx: hasPos ? radecToPixel(n.ra!, n.dec!) : null,
      body,
    };
  } else if (ICECUBE_LVK.test(schema)) {
    const parsed = IceCubeNuSearchNotice.safeParse(body);
    if (!parsed.success) throw new Reject(`not an IceCube LVK notice: ${issues(parsed.error)}`);
    const n = parsed.data;
    row = {
      msg_id: msgId,
      schema_url: schema,
      mission: "IceCube",
      instrument: null,
      notice_type: "lvk_nu_track_search",
      event_id: n.ref_ID,
      alert_time: isoOrNull(n.alert_datetime),
      trigger_time: isoOrNull(n.trigger_time),
      ra: null,
      dec: null,
      error_deg: null,
      hpx: null,
      body,
    };
  } else return "raw";
  return { ...EMPTY, gcnNotices: [row] };
}

/**
 * Builds the archive rows of one envelope, whose `raw` must be in its base64
 * form (as `decodeArchiverInput` of decode.ts makes it); throws otherwise.
 */
export function extract(
  env: HopEnvelope,
  msgId: string,
  subject: string,
  options: ExtractOptions = {},
): Extraction {
  const alert = baseRow(env, msgId, subject);
  const maxMjd = mjdOfMs((options.nowMs ?? Date.now()) + (options.maxFutureS ?? 3600) * 1000);
  try {
    let typed: Typed | "raw";
    switch (env.kind) {
      case "optical":
        typed = optical(env, msgId, maxMjd);
        break;
      case "gw":
        typed = gw(env, msgId);
        break;
      case "gcn":
        typed = gcn(env, msgId);
        break;
      default:
        typed = "raw";
    }
    if (typed === "raw") {
      return {
        item: {
          alert: {
            ...alert,
            status: "raw",
            status_detail: `no typed tables for this ${env.kind} content`,
          },
          ...EMPTY,
        },
      };
    }
    return { item: { alert: { ...alert, status: "typed" }, ...typed } };
  } catch (err) {
    if (!(err instanceof Reject)) throw err;
    return {
      item: { alert: { ...alert, status: "rejected", status_detail: err.message }, ...EMPTY },
      rejection: err.message,
    };
  }
}
