/**
 * What the derived alerts of a batch need of the archive, in one statement:
 * per candidate, its position and discovery date and its latest photometry
 * points, the points as ONE JSON text per candidate (positional arrays of only
 * the columns the alert shows).
 *
 * It replaced two queries that returned every column of every point as its
 * own row (`candidatesByIds` and `photometryOfCandidates`, since removed): with the light
 * curves of `deno task bench e2e` (tens of points per derived alert) the
 * publisher spent more CPU turning those rows into objects (postgres.js parses
 * each value, and every row is an object for the collector) than building the
 * alert. `JSON.parse` of one text gives the same numbers: the server prints a
 * float8 in a JSON value with the same output function (and
 * `extra_float_digits`) as in a text column, and both sides read the shortest
 * text that round-trips. Non-finite values, which JSON writes as strings, are
 * turned back into numbers.
 *
 * @module
 */
import type { TxSql } from "../../db/connect.ts";
import type { Candidate, PhotometryPoint } from "../../db/queries.ts";

/** What a derived alert shows of its candidate. */
export type DerivedCandidate = Pick<Candidate, "candidate_id" | "ra" | "dec" | "first_mjd">;

/** What a derived alert shows of a photometry point. */
export type DerivedPoint = Pick<
  PhotometryPoint,
  | "candidate_id"
  | "mjd"
  | "band"
  | "mag"
  | "mag_err"
  | "limiting_mag"
  | "upper_limit"
  | "mag_system"
  | "instrument"
>;

/** The archive's rows for one candidate's derived alert. */
export interface DerivedRows {
  /** Absent when the archive does not hold the candidate. */
  readonly candidate?: DerivedCandidate;
  /** The latest points, oldest first (empty when none). */
  readonly photometry: DerivedPoint[];
}

/** One point as the statement writes it: [mjd, band, mag, mag_err, limiting_mag, upper_limit, mag_system, instrument]. */
type PointTuple = [
  number | string,
  string,
  number | string | null,
  number | string | null,
  number | string | null,
  boolean,
  string | null,
  string,
];

/** A float8 read from JSON: non-finite values come as the strings `NaN`, `Infinity`, `-Infinity`. */
function num(v: number | string): number {
  return typeof v === "number" ? v : Number(v);
}

function numOrNull(v: number | string | null): number | null {
  return v === null ? null : num(v);
}

/**
 * The candidates `ids` (unique) and the latest `limit` photometry points of
 * each (ordered as `candidatePhotometry` of db/queries.ts orders them: by MJD, then candid,
 * the latest `limit` by the same order). Every id is in the map.
 */
export async function derivedRows(
  tx: TxSql,
  ids: readonly string[],
  limit: number,
): Promise<Map<string, DerivedRows>> {
  const out = new Map<string, DerivedRows>();
  if (!ids.length) return out;
  const rows = await tx<
    {
      id: string;
      ra: number | null;
      dec: number | null;
      first_mjd: number | null;
      points: string;
    }[]
  >`
    select c.id, k.ra, k.dec, k.first_mjd, coalesce((
      select json_agg(json_build_array(p.mjd, p.band, p.mag, p.mag_err, p.limiting_mag,
          p.upper_limit, p.mag_system, p.instrument) order by p.mjd, p.candid)
      from (
        select mjd, candid, band, mag, mag_err, limiting_mag, upper_limit, mag_system, instrument
        from photometry where candidate_id = c.id
        order by mjd desc, candid desc limit ${limit}
      ) p
    ), '[]')::text as points
    from unnest(${ids as string[]}::text[]) as c(id)
    left join candidates k on k.candidate_id = c.id`;
  for (const r of rows) {
    const points = JSON.parse(r.points) as PointTuple[];
    out.set(r.id, {
      candidate: r.ra === null
        ? undefined
        : { candidate_id: r.id, ra: r.ra, dec: r.dec!, first_mjd: r.first_mjd! },
      photometry: points.map((p) => ({
        candidate_id: r.id,
        mjd: num(p[0]),
        band: p[1],
        mag: numOrNull(p[2]),
        mag_err: numOrNull(p[3]),
        limiting_mag: numOrNull(p[4]),
        upper_limit: p[5],
        mag_system: p[6],
        instrument: p[7],
      })),
    });
  }
  return out;
}
