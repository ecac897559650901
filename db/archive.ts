/**
 * Writes of the ingest archive: a batch of alerts and their typed rows in ONE
 * statement (one round trip, one transaction). Each alert is inserted with
 * `ON CONFLICT (msg_id) DO NOTHING`; typed rows join on the alerts this very
 * statement inserted, so a redelivered alert adds nothing anywhere.
 *
 * Rows travel as one JSON document per table, unpacked by `json_to_recordset`:
 * one parameter per table whatever the batch size, bytes as base64 (as they
 * arrive in the gateway's envelope), decoded by the server.
 *
 * @module
 */
import type { TxSql } from "./connect.ts";

/** How an alert was archived. */
export type AlertStatus = "typed" | "raw" | "rejected";

/** One row of `alerts`. */
export interface AlertRow {
  readonly msg_id: string;
  readonly kind: string;
  readonly subject: string;
  readonly topic: string;
  readonly kafka_partition: number;
  /** Decimal string (int64). */
  readonly kafka_offset: string;
  /** ISO 8601, or null when the record had no usable timestamp. */
  readonly kafka_time: string | null;
  readonly kafka_key_base64: string | null;
  readonly hop_id: string | null;
  readonly hop_sender: string | null;
  readonly hop_test: boolean;
  readonly hop_format: string;
  readonly hop_format_header: string | null;
  readonly hop_via: string;
  /** Other Kafka headers, `[{key, base64}]`. */
  readonly headers: readonly { key: string; base64: string }[];
  readonly payload_base64: string;
  readonly payload_size: number;
  /** ISO 8601. */
  readonly received_at: string;
  readonly status: AlertStatus;
  readonly status_detail: string | null;
}

/** An optical candidate seen in an alert. */
export interface CandidateRow {
  readonly msg_id: string;
  readonly candidate_id: string;
  readonly survey: string;
  readonly ra: number;
  readonly dec: number;
  readonly hpx: number;
  readonly mjd: number;
}

/** One photometric point. */
export interface PhotometryRow {
  readonly msg_id: string;
  readonly candidate_id: string;
  readonly candid: number;
  /** UTC MJD, double precision. */
  readonly mjd: number;
  readonly ra: number;
  readonly dec: number;
  readonly band: string;
  readonly mag: number | null;
  readonly mag_err: number | null;
  readonly limiting_mag: number | null;
  readonly upper_limit: boolean;
  readonly mag_system: string | null;
  readonly instrument: string;
  readonly reference: string | null;
}

/** A sky map, stored once per SHA-256. */
export interface SkymapRow {
  readonly msg_id: string;
  readonly sha256_hex: string;
  readonly superevent_id: string;
  readonly size: number;
  readonly bytes_base64: string;
}

/** One IGWN alert. */
export interface GwEventRow {
  readonly msg_id: string;
  readonly superevent_id: string;
  readonly alert_type: string;
  readonly time_created: string;
  readonly event_time: string | null;
  readonly far: number | null;
  readonly significant: boolean | null;
  readonly pipeline: string | null;
  readonly search: string | null;
  readonly instruments: readonly string[] | null;
  readonly classification: Record<string, number> | null;
  readonly properties: Record<string, number> | null;
  readonly skymap_sha256_hex: string | null;
  readonly external_coinc: unknown;
  readonly urls: Record<string, string>;
}

/** One GCN notice in the unified JSON schema. */
export interface GcnNoticeRow {
  readonly msg_id: string;
  readonly schema_url: string;
  readonly mission: string | null;
  readonly instrument: string | null;
  readonly notice_type: string | null;
  readonly event_id: string | null;
  readonly alert_time: string | null;
  readonly trigger_time: string | null;
  readonly ra: number | null;
  readonly dec: number | null;
  readonly error_deg: number | null;
  readonly hpx: number | null;
  readonly body: unknown;
}

/** One alert with everything extracted from it. */
export interface ArchiveItem {
  readonly alert: AlertRow;
  readonly candidates: readonly CandidateRow[];
  readonly photometry: readonly PhotometryRow[];
  readonly skymaps: readonly SkymapRow[];
  readonly gwEvents: readonly GwEventRow[];
  readonly gcnNotices: readonly GcnNoticeRow[];
}

/** Rows written by one batch. */
export interface BatchResult {
  /** Alerts new to the archive (the rest were already there). */
  readonly inserted: number;
  readonly candidates: number;
  readonly photometry: number;
  readonly skymaps: number;
  readonly gwEvents: number;
  readonly gcnNotices: number;
}

/** How a batch travels to the server: one JSON parameter per table, or COPY into staging tables. */
export type BatchShape = "json" | "copy";

/** Columns of the per-batch alert rows, as the statement reads them. */
const ALERT_COLS = [
  ["msg_id", "text"],
  ["kind", "text"],
  ["subject", "text"],
  ["topic", "text"],
  ["kafka_partition", "integer"],
  ["kafka_offset", "bigint"],
  ["kafka_time", "timestamptz"],
  ["kafka_key_base64", "text"],
  ["hop_id", "uuid"],
  ["hop_sender", "text"],
  ["hop_test", "boolean"],
  ["hop_format", "text"],
  ["hop_format_header", "text"],
  ["hop_via", "text"],
  ["headers", "jsonb"],
  ["payload_base64", "text"],
  ["payload_size", "integer"],
  ["received_at", "timestamptz"],
  ["status", "text"],
  ["status_detail", "text"],
] as const;

const CAND_COLS = [
  ["msg_id", "text"],
  ["candidate_id", "text"],
  ["survey", "text"],
  ["ra", "double precision"],
  ["dec", "double precision"],
  ["hpx", "bigint"],
  ["mjd", "double precision"],
] as const;

const PHOT_COLS = [
  ["msg_id", "text"],
  ["candidate_id", "text"],
  ["candid", "bigint"],
  ["mjd", "double precision"],
  ["ra", "double precision"],
  ["dec", "double precision"],
  ["band", "text"],
  ["mag", "double precision"],
  ["mag_err", "double precision"],
  ["limiting_mag", "double precision"],
  ["upper_limit", "boolean"],
  ["mag_system", "text"],
  ["instrument", "text"],
  ["reference", "text"],
] as const;

type Cols = readonly (readonly [string, string])[];

const colDefs = (cols: Cols) => cols.map(([n, t]) => `${n} ${t}`).join(", ");
const colNames = (cols: Cols) => cols.map(([n]) => n).join(", ");

/** Staging tables of the COPY shape: per session, emptied at commit. */
const STAGES = [
  ["kb_stage_alerts", ALERT_COLS],
  ["kb_stage_candidates", CAND_COLS],
  ["kb_stage_photometry", PHOT_COLS],
] as const;

/** One value in COPY text format. */
function copyValue(v: unknown): string {
  if (v === null || v === undefined) return "\\N";
  if (typeof v === "boolean") return v ? "t" : "f";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`cannot archive the number ${v}: not finite`);
    return String(v);
  }
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return /[\\\t\n\r]/.test(s)
    ? s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r")
    : s;
}

/** Rows in COPY text format. */
function copyText(cols: Cols, rows: readonly unknown[]): string {
  let out = "";
  for (const r of rows as Record<string, unknown>[]) {
    out += cols.map(([n]) => copyValue(r[n])).join("\t") + "\n";
  }
  return out;
}

/** Loads `text` into `table` with COPY … FROM STDIN. */
async function copyIn(tx: TxSql, table: string, cols: Cols, text: string): Promise<void> {
  if (!text) return;
  const stream = await tx.unsafe(`copy ${table} (${colNames(cols)}) from stdin`).writable();
  await new Promise<void>((resolve, reject) => {
    stream.on("error", reject);
    stream.on("finish", resolve);
    stream.end(text);
  });
}

/**
 * Writes `items` in one statement; already archived alerts are skipped.
 *
 * `shape` "json" (the default) sends each table as one JSON parameter
 * (`json_to_recordset`): one round trip. "copy" loads alerts, candidates and
 * photometry with `COPY … FROM STDIN` into session staging tables first, then
 * runs the same statement over them, in one transaction: PostgreSQL only (the
 * embedded PGlite socket server closes the connection on COPY FROM STDIN).
 * `deno task bench archive` measures both; docs/archive.md has the figures.
 */
export async function insertAlertBatch(
  sql: TxSql,
  batch: readonly ArchiveItem[],
  shape: BatchShape = "json",
): Promise<BatchResult> {
  // A message twice in one batch (a redelivery racing its first delivery) counts once.
  const seen = new Set<string>();
  const items = batch.filter((i) => !seen.has(i.alert.msg_id) && seen.add(i.alert.msg_id));
  if (items.length === 0) {
    return { inserted: 0, candidates: 0, photometry: 0, skymaps: 0, gwEvents: 0, gcnNotices: 0 };
  }
  const alertRows = items.map((i) => i.alert);
  const candRows = items.flatMap((i) => i.candidates);
  // Alerts repeat their object's history: send each point once per batch (the first
  // alert carrying it); points already stored are skipped by ON CONFLICT.
  const points = new Set<string>();
  const photRows = items.flatMap((i) => i.photometry).filter((p) => {
    const key = `${p.candidate_id}\u0000${p.candid}`;
    return !points.has(key) && points.add(key);
  });
  if (shape === "copy") {
    const write = async (tx: TxSql) => {
      // Once per session in effect (a no-op afterwards), all three in one round trip.
      await tx.unsafe(
        STAGES.map(([table, cols]) =>
          `create temp table if not exists ${table} (${colDefs(cols)}) on commit delete rows`
        ).join(";\n"),
      ).simple();
      await copyIn(tx, "kb_stage_alerts", ALERT_COLS, copyText(ALERT_COLS, alertRows));
      await copyIn(tx, "kb_stage_candidates", CAND_COLS, copyText(CAND_COLS, candRows));
      await copyIn(tx, "kb_stage_photometry", PHOT_COLS, copyText(PHOT_COLS, photRows));
      return writeStatement(
        tx,
        items,
        tx`select * from kb_stage_alerts`,
        tx`select * from kb_stage_candidates`,
        tx`select * from kb_stage_photometry`,
      );
    };
    return "begin" in sql
      ? await (sql as { begin: (f: typeof write) => Promise<BatchResult> }).begin(write)
      : await write(sql);
  }
  return writeStatement(
    sql,
    items,
    sql`select * from json_to_recordset(${json(alertRows)}::text::json) as x(${
      sql.unsafe(colDefs(ALERT_COLS))
    })`,
    sql`select * from json_to_recordset(${json(candRows)}::text::json) as x(${
      sql.unsafe(colDefs(CAND_COLS))
    })`,
    sql`select * from json_to_recordset(${json(photRows)}::text::json) as x(${
      sql.unsafe(colDefs(PHOT_COLS))
    })`,
  );
}

type Fragment = ReturnType<TxSql["unsafe"]>;

/**
 * Rows as ONE JSON text parameter, written `${json(rows)}::text::json` (the `::text` keeps
 * postgres.js from serialising the string again as a JSON value). Not postgres.js's `sql.json`:
 * that sends a jsonb parameter, which the server parses into jsonb, prints back as text for the
 * `::json` cast and then parses again in `json_to_recordset`; a text parameter is parsed once,
 * and a nested object reaches a `text` column as the very text `JSON.stringify` wrote.
 */
export function json(rows: readonly unknown[]): string {
  return JSON.stringify(rows);
}

/** The batch statement over sources of alert, candidate and photometry rows. */
async function writeStatement(
  sql: TxSql,
  items: readonly ArchiveItem[],
  alertsFrom: Fragment,
  candsFrom: Fragment,
  photFrom: Fragment,
): Promise<BatchResult> {
  const sky = json(items.flatMap((i) => i.skymaps));
  const gw = json(items.flatMap((i) => i.gwEvents));
  const gcn = json(items.flatMap((i) => i.gcnNotices));
  const [row] = await sql`
    with a as (${alertsFrom}),
    ins as (
      insert into alerts (msg_id, kind, subject, topic, kafka_partition, kafka_offset, kafka_time,
        kafka_key, hop_id, hop_sender, hop_test, hop_format, hop_format_header, hop_via, headers,
        payload, payload_size, received_at, status, status_detail)
      select msg_id, kind, subject, topic, kafka_partition, kafka_offset, kafka_time,
        decode(kafka_key_base64, 'base64'), hop_id, hop_sender, hop_test, hop_format,
        hop_format_header, hop_via, headers, decode(payload_base64, 'base64'), payload_size,
        received_at, status, status_detail
      from a
      on conflict (msg_id) do nothing
      returning id, msg_id
    ),
    c as (
      select x.*, ins.id as alert_id
      from (${candsFrom}) as x
      join ins using (msg_id)
    ),
    cand as (
      insert into candidates as t (candidate_id, survey, ra, dec, hpx, first_mjd, last_mjd,
        n_alerts, first_alert_id, last_alert_id)
      select distinct on (candidate_id) candidate_id, survey, ra, dec, hpx,
        min(mjd) over w, max(mjd) over w, count(*) over w, min(alert_id) over w,
        max(alert_id) over w
      from c
      window w as (partition by candidate_id)
      order by candidate_id, alert_id
      on conflict (candidate_id) do update set
        first_mjd = least(t.first_mjd, excluded.first_mjd),
        last_mjd = greatest(t.last_mjd, excluded.last_mjd),
        n_alerts = t.n_alerts + excluded.n_alerts,
        last_alert_id = greatest(t.last_alert_id, excluded.last_alert_id),
        updated_at = now()
      returning 1
    ),
    phot as (
      insert into photometry (candidate_id, candid, alert_id, mjd, ra, dec, band, mag, mag_err,
        limiting_mag, upper_limit, mag_system, instrument, reference)
      select p.candidate_id, p.candid, ins.id, p.mjd, p.ra, p.dec, p.band, p.mag, p.mag_err,
        p.limiting_mag, p.upper_limit, p.mag_system, p.instrument, p.reference
      from (${photFrom}) as p
      join ins using (msg_id)
      on conflict (candidate_id, candid) do nothing
      returning 1
    ),
    sky as (
      insert into skymaps (sha256, superevent_id, first_alert_id, size, bytes)
      select decode(s.sha256_hex, 'hex'), s.superevent_id, ins.id, s.size,
        decode(s.bytes_base64, 'base64')
      from json_to_recordset(${sky}::text::json) as s(msg_id text, sha256_hex text,
        superevent_id text, size integer, bytes_base64 text)
      join ins using (msg_id)
      on conflict (sha256) do nothing
      returning 1
    ),
    gw as (
      insert into gw_events (alert_id, superevent_id, alert_type, time_created, event_time, far,
        significant, pipeline, search, instruments, classification, properties, skymap_sha256,
        external_coinc, urls)
      select ins.id, g.superevent_id, g.alert_type, g.time_created, g.event_time, g.far,
        g.significant, g.pipeline, g.search,
        (select array_agg(v) from json_array_elements_text(g.instruments) as v),
        g.classification, g.properties, decode(g.skymap_sha256_hex, 'hex'), g.external_coinc,
        coalesce(g.urls, '{}')
      from json_to_recordset(${gw}::text::json) as g(msg_id text, superevent_id text,
        alert_type text, time_created timestamptz, event_time timestamptz,
        far double precision, significant boolean, pipeline text, search text, instruments json,
        classification jsonb, properties jsonb, skymap_sha256_hex text, external_coinc jsonb,
        urls jsonb)
      join ins using (msg_id)
      on conflict (alert_id) do nothing
      returning 1
    ),
    gcn as (
      insert into gcn_notices (alert_id, schema_url, mission, instrument, notice_type, event_id,
        alert_time, trigger_time, ra, dec, error_deg, hpx, body)
      select ins.id, n.schema_url, n.mission, n.instrument, n.notice_type, n.event_id,
        n.alert_time, n.trigger_time, n.ra, n.dec, n.error_deg, n.hpx, n.body
      from json_to_recordset(${gcn}::text::json) as n(msg_id text, schema_url text, mission text,
        instrument text, notice_type text, event_id text, alert_time timestamptz,
        trigger_time timestamptz, ra double precision, dec double precision,
        error_deg double precision, hpx bigint, body jsonb)
      join ins using (msg_id)
      on conflict (alert_id) do nothing
      returning 1
    )
    select (select count(*) from ins)::int as inserted,
      (select count(*) from cand)::int as candidates,
      (select count(*) from phot)::int as photometry,
      (select count(*) from sky)::int as skymaps,
      (select count(*) from gw)::int as gw_events,
      (select count(*) from gcn)::int as gcn_notices`;
  return {
    inserted: row.inserted,
    candidates: row.candidates,
    photometry: row.photometry,
    skymaps: row.skymaps,
    gwEvents: row.gw_events,
    gcnNotices: row.gcn_notices,
  };
}

/** Archive counters (tests, status pages). */
export async function archiveCounts(sql: TxSql): Promise<Record<string, number>> {
  const [row] = await sql`select
    (select count(*) from alerts)::int as alerts,
    (select count(*) from alerts where status = 'typed')::int as typed,
    (select count(*) from alerts where status = 'raw')::int as raw,
    (select count(*) from alerts where status = 'rejected')::int as rejected,
    (select count(*) from candidates)::int as candidates,
    (select count(*) from photometry)::int as photometry,
    (select count(*) from skymaps)::int as skymaps,
    (select count(*) from gw_events)::int as gw_events,
    (select count(*) from gcn_notices)::int as gcn_notices`;
  return { ...row } as Record<string, number>;
}
