/**
 * Optical alerts for the suites from the synthetic sky generator
 * (`actors/source_publisher/synthetic/`): the first `n` alerts in time order of
 * a seeded sky placed in GW170817's sky map, Avro-encoded on demand as the
 * replay writes them to Hopskotch.
 *
 * @module
 */
import { readSkyMapFile } from "../astro/mod.ts";
import { BAYESTAR_MAP_URL, GW170817_T0_MJD } from "../actors/classifier/synthetic_set.ts";
import { loadEncoders } from "../actors/source_publisher/payloads.ts";
import { SkyAlertEncoder } from "../actors/source_publisher/synthetic/events.ts";
import { SyntheticSky } from "../actors/source_publisher/synthetic/generator.ts";
import { Rng } from "../actors/source_publisher/synthetic/rng.ts";
import type { HopRecord } from "../gateway/hopskotch/writer.ts";

/** A stream of alerts: `record(i)` encodes alert `i`. */
export interface SkyAlerts {
  /** Number of alerts. */
  readonly size: number;
  /** The hop `_id` of each alert (seeded UUIDs). */
  readonly ids: readonly string[];
  /** Candidates (object ids) the alerts belong to. */
  readonly candidates: ReadonlySet<string>;
  /** Alert `i` as a hop record (Avro `kb.optical.v1.Alert`, keyed by object id). */
  record(i: number): HopRecord;
}

/** A UUID (version 4 layout) from a seeded generator. */
export function seededUuid(rng: Rng): string {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = rng.next() & 0xff;
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The first `n` alerts in time order of a sky of `candidates` candidates
 * (seeded). About 10 alerts per candidate over the first week for
 * `candidates = n / 10`; 2.2 kB per alert on average.
 */
export async function skyAlerts(
  n: number,
  options: { seed: number; candidates: number; prefix: string },
): Promise<SkyAlerts> {
  const enc = await loadEncoders();
  const map = await readSkyMapFile(BAYESTAR_MAP_URL);
  const sky = new SyntheticSky({
    n: options.candidates,
    seed: options.seed,
    t0Mjd: GW170817_T0_MJD,
    map,
    idPrefix: options.prefix,
  });
  const encoder = new SkyAlertEncoder(sky, enc);
  const rng = new Rng(options.seed, 0x5eed);
  const list: { c: ReturnType<SyntheticSky["candidate"]>; k: number; id: string }[] = [];
  for (const { candidate, k } of sky.alertsInTimeOrder()) {
    list.push({ c: candidate, k, id: seededUuid(rng) });
    if (list.length >= n) break;
  }
  if (list.length < n) {
    throw new Error(`a sky of ${options.candidates} candidates has only ${list.length} alerts`);
  }
  return {
    size: n,
    ids: list.map((a) => a.id),
    candidates: new Set(list.map((a) => a.c.objectId)),
    record: (i) => {
      const a = list[i];
      return {
        format: "avro",
        id: a.id,
        key: a.c.objectId,
        value: encoder.encode(a.c, a.k, a.id),
      };
    },
  };
}
