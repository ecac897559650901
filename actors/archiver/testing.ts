/**
 * Test fixtures of the archiver: envelopes exactly as the archiver gets them
 * (wire bytes from the source publisher's encoders, decoded by the gateway's
 * `judgeRecord`, written by its `encodeEnvelope`, read by the archiver's
 * decoder), for every kind the archive types, and bad ones.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  HopEnvelope,
  type OpticalAlertContent,
  type OpticalCandidate,
} from "../../contracts/messages.ts";
import { SUBJECTS } from "../../contracts/names.ts";
import { encodeEnvelope, judgeRecord, msgIdOf } from "../../gateway/hopskotch/envelope.ts";
import type { HopFormat } from "../../gateway/hopskotch/format.ts";
import { hopHeaders } from "../../gateway/hopskotch/wire.ts";
import {
  encodeIgwnAlert,
  encodeJson,
  encodeOpticalAlert,
  type Encoders,
  fermiGbmNotice,
  iceCubeNotice,
  loadEncoders,
} from "../../actors/source_publisher/payloads.ts";
import { insertAlertBatch } from "../../db/archive.ts";
import type { Sql } from "../../db/connect.ts";
import { decodeArchiverInput } from "./decode.ts";
import { extract } from "./extract.ts";

/** A message as the archiver receives it. */
export interface Fixture {
  readonly msgId: string;
  readonly subject: string;
  /** The envelope as the archiver's decoder makes it (raw always base64). */
  readonly envelope: HopEnvelope;
  /** The envelope's bytes as the gateway publishes them (raw `sameAsJson` for JSON records). */
  readonly wire: Uint8Array;
  /** The Kafka record's value. */
  readonly record: Uint8Array;
}

let encoders: Promise<Encoders> | undefined;
/** The source publisher's Avro encoders (compiled once). */
export function testEncoders(): Promise<Encoders> {
  encoders ??= loadEncoders();
  return encoders;
}

let offset = 0;

/** Runs wire bytes through the gateway's decoding into an envelope. */
export function envelopeOf(
  topic: string,
  format: HopFormat,
  value: Uint8Array,
  id: string = crypto.randomUUID(),
): Fixture {
  const o = String(offset++);
  const verdict = judgeRecord({
    topic,
    partition: 0,
    offset: o,
    timestamp: String(Date.now()),
    key: null,
    value: Buffer.from(value),
    headers: hopHeaders({ format, id, sender: "kb-test" }),
  }, { topicKinds: [], maxRecordBytes: 16 * 1024 * 1024, includeTest: true });
  if (verdict.action !== "publish") {
    throw new Error(`the gateway would not publish this fixture: ${JSON.stringify(verdict)}`);
  }
  const wire = encodeEnvelope(verdict);
  return {
    msgId: msgIdOf(topic, 0, o, id),
    subject: SUBJECTS.alertsIn(verdict.kind),
    // Through the wire as the actor gets it: bytes, then the archiver's decoder.
    envelope: HopEnvelope.parse(decodeArchiverInput(wire)),
    wire,
    record: value,
  };
}

/** One optical measurement. */
export function point(candid: number, over: Partial<OpticalCandidate> = {}): OpticalCandidate {
  return {
    candid,
    mjd: 60000.123456789 + candid / 1000,
    ra: 197.450341,
    dec: -23.381481,
    band: "r",
    mag: 19.5,
    mag_err: 0.05,
    limiting_mag: 21,
    upper_limit: false,
    mag_system: "AB",
    instrument: "ZTF/ZTF-cam",
    reference: null,
    ...over,
  };
}

/** An optical alert for `objectId` whose newest point is `candidate`. */
export async function opticalFixture(
  objectId: string,
  candidate: OpticalCandidate,
  history: OpticalCandidate[] = [],
): Promise<Fixture> {
  const enc = await testEncoders();
  const alertId = crypto.randomUUID();
  const alert: OpticalAlertContent = {
    schemavsn: "1.0",
    publisher: "kb-test",
    alert_id: alertId,
    object_id: objectId,
    survey: "ZTF",
    candidate,
    prv_candidates: history.length ? history : null,
  };
  return envelopeOf("kb-test.optical-candidates", "avro", encodeOpticalAlert(enc, alert), alertId);
}

/**
 * Archives one optical alert per candidate of `counts` (candidate id → number
 * of points; candidate i's candids start at 100·i + 1) whose newest point
 * carries the others as its history: what queries over the archive's
 * photometry are tested against.
 */
export async function archiveCandidates(
  sql: Sql,
  counts: readonly (readonly [string, number])[],
): Promise<void> {
  const items = [];
  for (const [i, [c, n]] of counts.entries()) {
    const pts = Array.from({ length: n }, (_, k) => point(100 * i + k + 1));
    const f = await opticalFixture(c, pts[n - 1], pts.slice(0, -1));
    items.push(extract(f.envelope, f.msgId, f.subject).item);
  }
  await insertAlertBatch(sql, items);
}

/** An IGWN alert carrying `skymap` bytes. */
export async function gwFixture(
  supereventId: string,
  alertType: "PRELIMINARY" | "INITIAL" | "RETRACTION",
  skymap: Uint8Array | null,
): Promise<Fixture> {
  const enc = await testEncoders();
  const bytes = encodeIgwnAlert(enc, {
    alert_type: alertType,
    time_created: "2017-08-17T12:41:06.000Z",
    superevent_id: supereventId,
    event: alertType === "RETRACTION" ? null : {
      time: "2017-08-17T12:41:04.400Z",
      far: 3.0e-13,
      significant: true,
      instruments: ["H1", "L1", "V1"],
      group: "CBC",
      pipeline: "gstlal",
      search: "AllSky",
      classification: { BNS: 1, NSBH: 0, BBH: 0, Terrestrial: 0 },
      properties: { HasNS: 1, HasRemnant: 1 },
      mchirp_source: null,
      duration: null,
      central_frequency: null,
      skymap,
    },
    external_coinc: null,
    urls: { gracedb: `https://gracedb.ligo.org/superevents/${supereventId}/view/` },
  });
  return envelopeOf("kb-test.igwn-gwalert", "avro", bytes);
}

/** The Fermi GBM ground-position notice of GRB 170817A (its JSON value, not yet encoded). */
export function fermiNotice(
  position = { ra: 176.8, dec: -39.8, errorDeg: 11.6 },
  info = "test",
): ReturnType<typeof fermiGbmNotice> {
  return fermiGbmNotice({
    subtype: "GROUND_POSITION",
    alertIso: "2017-08-17T12:57:00Z",
    triggerIso: "2017-08-17T12:41:06.47Z",
    triggerId: 524666471,
    burstName: "bn170817529",
    recordNumber: 2,
    position,
    info,
  });
}

/** A Fermi GBM ground-position notice. */
export function fermiFixture(position = { ra: 176.8, dec: -39.8, errorDeg: 11.6 }): Fixture {
  return envelopeOf("kb-test.gcn-notices", "json", encodeJson(fermiNotice(position)));
}

/** An IceCube LVK neutrino search notice. */
export function iceCubeFixture(supereventId: string): Fixture {
  const n = iceCubeNotice({
    alertIso: "2017-08-17T13:41:00Z",
    triggerIso: "2017-08-17T12:41:04.4Z",
    supereventId,
    lvkAlertName: `${supereventId}-Initial`,
    windowS: 500,
    nEvents: 0,
    info: "test",
  });
  return envelopeOf("kb-test.gcn-notices", "json", encodeJson(n));
}

/** A GCN circular (no typed table: stored raw). */
export function circularFixture(): Fixture {
  const c = { header: { NUMBER: "21505", SUBJECT: "LIGO/Virgo G298048" }, body: "text" };
  return envelopeOf("kb-test.gcn-circulars", "circular", encodeJson(c));
}

/** Opaque bytes on an unknown topic (kind `other`). */
export function otherFixture(): Fixture {
  return envelopeOf("kb-test.something-else", "blob", new Uint8Array([0, 1, 2, 255]));
}
