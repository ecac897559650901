/**
 * Test helpers of the classifier: AT2017gfo's rows as the alerts the streaming
 * actor receives (optical alerts with history, an IGWN alert carrying the
 * BAYESTAR map as a multi-order FITS file), so tests can push them through
 * `handleEnvelope` and compare with other front ends.
 *
 * @module
 */
import { SkyMap, writeMultiOrderFits } from "../../astro/mod.ts";
import type {
  HopEnvelope,
  IgwnAlertContent,
  OpticalAlertContent,
  OpticalCandidate,
} from "../../contracts/messages.ts";
import type { Dataset } from "../source_publisher/mod.ts";

/** GW170817's merger time as the test IGWN alerts give it. */
export const GW170817_T0_ISO = "2017-08-17T12:41:04.446Z";

/** The data set's BAYESTAR map as multi-order FITS bytes (what IGWN alerts carry). */
export async function multiOrderMap(ds: Dataset): Promise<Uint8Array> {
  const flat = await SkyMap.fromFits(ds.bayestarMap, ds.bayestarMapFile);
  return writeMultiOrderFits(flat.toMultiOrder());
}

export { toBase64 } from "../runtime/base64.ts";

/** A hop envelope around one Avro record, as the gateway publishes it. */
export function envelope(kind: "gw" | "optical", record: unknown, n: number): HopEnvelope {
  return {
    schema: "kb.hop-envelope.v1",
    kind,
    kafka: { topic: `t.${kind}`, partition: 0, offset: String(n), timestampMs: 0, keyBase64: null },
    hop: {
      id: null,
      sender: null,
      test: true,
      format: "avro",
      formatHeader: "avro",
      via: "header",
      extraHeaders: [],
    },
    content: {
      format: "avro",
      schemaName: kind === "gw" ? "igwn.alerts.v1_0.AlertType" : "ztf.alert",
      schemaFingerprint: "0".repeat(64),
      records: [record],
    },
    raw: { base64: "", size: 0 },
    receivedAt: new Date().toISOString(),
  };
}

/** An IGWN alert of S170817a with a base64 sky map. */
export function gwAlert(skymapBase64: string, eventId = "S170817a"): IgwnAlertContent {
  return {
    alert_type: "INITIAL",
    time_created: GW170817_T0_ISO,
    superevent_id: eventId,
    event: {
      time: GW170817_T0_ISO,
      far: 1e-12,
      significant: true,
      instruments: ["H1", "L1", "V1"],
      group: "CBC",
      pipeline: "gstlal",
      search: "AllSky",
      classification: { BNS: 1 },
      properties: { HasNS: 1 },
      duration: null,
      central_frequency: null,
      skymap: skymapBase64,
    },
    external_coinc: null,
    urls: {},
  };
}

/** AT2017gfo's rows as optical alerts in time order (history: earlier rows of the last 30 days). */
export function gfoAlerts(
  ds: Dataset,
  objectId = "AT2017gfo",
  pos: { ra: number; dec: number } = ds.facts.counterpart,
): OpticalAlertContent[] {
  const { ra, dec } = pos;
  const cands: OpticalCandidate[] = ds.at2017gfo.map((r, i) => ({
    candid: i + 1,
    mjd: r.mjd,
    ra,
    dec,
    band: r.band,
    mag: r.upperLimit ? null : r.mag,
    mag_err: r.upperLimit ? null : r.magErr,
    limiting_mag: r.upperLimit ? r.mag : null,
    upper_limit: r.upperLimit,
    mag_system: r.system,
    instrument: r.instrument || "unknown",
    reference: null,
  }));
  return cands.map((c, i) => {
    const prv = cands.slice(0, i).filter((p) => p.mjd >= c.mjd - 30);
    return {
      schemavsn: "1.0",
      publisher: "test",
      alert_id: `a-${objectId}-${i}`,
      object_id: objectId,
      survey: "literature",
      candidate: c,
      prv_candidates: prv.length ? prv : null,
    };
  });
}
