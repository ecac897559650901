/**
 * Reads of the archive that the TOM and the classifier ask for: candidates by
 * sky position (cone search and sky-map regions, via the `hpx` index), by time,
 * a candidate's photometry, alerts by message id.
 *
 * @module
 */
import type { TxSql } from "./connect.ts";
import { coneRanges, type PixelRange } from "./healpix_index.ts";

/** A candidate as stored. */
export interface Candidate {
  candidate_id: string;
  survey: string;
  ra: number;
  dec: number;
  hpx: number;
  first_mjd: number;
  last_mjd: number;
  n_alerts: number;
  first_alert_id: number;
  last_alert_id: number;
}

/** A candidate found by a cone search, with its distance from the centre. */
export interface ConeMatch extends Candidate {
  /** Angular distance from the cone's centre, degrees. */
  distance_deg: number;
}

function split(ranges: readonly PixelRange[]): { lo: string[]; hi: string[] } {
  return { lo: ranges.map((r) => String(r[0])), hi: ranges.map((r) => String(r[1])) };
}

/**
 * Candidates within `radiusDeg` of (ra, dec), nearest first: btree range scans
 * over the HEALPix ranges covering the disc, then the exact (haversine)
 * distance.
 */
export async function coneSearch(
  sql: TxSql,
  cone: { ra: number; dec: number; radiusDeg: number },
  options: { limit?: number } = {},
): Promise<ConeMatch[]> {
  const { lo, hi } = split(coneRanges(cone.ra, cone.dec, cone.radiusDeg));
  const limit = options.limit ?? 10_000;
  return await sql<ConeMatch[]>`
    select c.*, d.distance_deg
    from unnest(${lo}::bigint[], ${hi}::bigint[]) as r(lo, hi)
    join candidates c on c.hpx between r.lo and r.hi
    cross join lateral (select degrees(2 * asin(least(1, sqrt(
      sin(radians(c.dec - ${cone.dec}::float8) / 2) ^ 2 +
      cos(radians(c.dec)) * cos(radians(${cone.dec}::float8)) *
      sin(radians(c.ra - ${cone.ra}::float8) / 2) ^ 2)))) as distance_deg) d
    where d.distance_deg <= ${cone.radiusDeg}::float8
    order by d.distance_deg, c.candidate_id
    limit ${limit}`;
}

/**
 * Candidates whose position falls in any of `ranges` (order-24 NESTED index
 * ranges, e.g. from {@link uniqToRange} over a sky map's credible region).
 */
export async function candidatesInRanges(
  sql: TxSql,
  ranges: readonly PixelRange[],
  options: { sinceMjd?: number; limit?: number } = {},
): Promise<Candidate[]> {
  const { lo, hi } = split(ranges);
  return await sql<Candidate[]>`
    select c.* from unnest(${lo}::bigint[], ${hi}::bigint[]) as r(lo, hi)
    join candidates c on c.hpx between r.lo and r.hi
    where c.last_mjd >= ${options.sinceMjd ?? -1e9}::float8
    order by c.candidate_id
    limit ${options.limit ?? 10_000}`;
}

/** Candidates last seen in an MJD interval, most recent first. */
export async function candidatesByTime(
  sql: TxSql,
  fromMjd: number,
  toMjd: number,
  options: { limit?: number } = {},
): Promise<Candidate[]> {
  return await sql<Candidate[]>`
    select * from candidates where last_mjd between ${fromMjd}::float8 and ${toMjd}::float8
    order by last_mjd desc limit ${options.limit ?? 1000}`;
}

/** One candidate, or undefined. */
export async function getCandidate(sql: TxSql, id: string): Promise<Candidate | undefined> {
  const [row] = await sql<Candidate[]>`select * from candidates where candidate_id = ${id}`;
  return row;
}

/** A stored photometric point. */
export interface PhotometryPoint {
  candidate_id: string;
  candid: number;
  alert_id: number;
  mjd: number;
  ra: number;
  dec: number;
  band: string;
  mag: number | null;
  mag_err: number | null;
  limiting_mag: number | null;
  upper_limit: boolean;
  mag_system: string | null;
  instrument: string;
  reference: string | null;
}

/** A candidate's light curve in time order (the latest `limit` points). */
export async function candidatePhotometry(
  sql: TxSql,
  candidateId: string,
  options: { limit?: number } = {},
): Promise<PhotometryPoint[]> {
  return await sql<PhotometryPoint[]>`
    select * from (
      select * from photometry where candidate_id = ${candidateId}
      order by mjd desc, candid desc limit ${options.limit ?? 10_000}
    ) p order by mjd, candid`;
}

/** Where an archived alert came from. */
export interface AlertOrigin {
  msg_id: string;
  hop_id: string | null;
  topic: string;
  kafka_partition: number;
  kafka_offset: number | string;
  kind: string;
  status: string;
  received_at: Date;
}

/** Archived alerts by message id (unknown ids are absent from the result). */
export async function alertsByMsgIds(sql: TxSql, ids: readonly string[]): Promise<AlertOrigin[]> {
  return await sql<AlertOrigin[]>`
    select msg_id, hop_id::text as hop_id, topic, kafka_partition, kafka_offset, kind, status,
      received_at
    from alerts where msg_id = any(${ids as string[]}::text[])`;
}
