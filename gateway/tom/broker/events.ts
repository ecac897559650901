/**
 * Fills a linked GW event's summary (alert type, time, FAR, 50%/90% credible
 * areas, distance) from the archive's newest IGWN alert of the superevent and
 * its sky map, when the archive has them. Recomputed only when the sky map
 * changes.
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import { SkyMap } from "../../../astro/skymap.ts";

/** What {@link refreshEventSummary} found. */
export type SummaryOutcome = "updated" | "unchanged" | "not_in_archive";

/** Updates `tom_events` for one event from the archive tables. */
export async function refreshEventSummary(sql: Sql, eventId: string): Promise<SummaryOutcome> {
  const [g] = await sql<{
    alert_type: string;
    event_time: Date | null;
    far: number | null;
    sha: string | null;
    bytes: Uint8Array | null;
  }[]>`select g.alert_type, g.event_time, g.far, encode(g.skymap_sha256, 'hex') as sha,
      s.bytes
    from gw_events g left join skymaps s on s.sha256 = g.skymap_sha256
    where g.superevent_id = ${eventId} order by g.time_created desc limit 1`;
  if (!g) return "not_in_archive";
  const [cur] = await sql<{ skymap_sha256: string | null; alert_type: string | null }[]>`
    select skymap_sha256, alert_type from tom_events where event_id = ${eventId}`;
  if (cur && cur.skymap_sha256 === g.sha && cur.alert_type === g.alert_type) return "unchanged";
  let area50: number | null = null;
  let area90: number | null = null;
  let dist: number | null = null;
  let distStd: number | null = null;
  if (g.bytes) {
    const map = await SkyMap.fromFits(new Uint8Array(g.bytes), `sky map of ${eventId}`);
    area50 = map.credibleArea(0.5);
    area90 = map.credibleArea(0.9);
    const mean = map.meta.get("DISTMEAN");
    const std = map.meta.get("DISTSTD");
    dist = typeof mean === "number" ? mean : null;
    distStd = typeof std === "number" ? std : null;
  }
  await sql`insert into tom_events (event_id, alert_type, event_time, far, area50_deg2,
      area90_deg2, distance_mpc, distance_std_mpc, skymap_sha256, updated)
    values (${eventId}, ${g.alert_type}, ${g.event_time}, ${g.far}, ${area50}, ${area90},
      ${dist}, ${distStd}, ${g.sha}, now())
    on conflict (event_id) do update set alert_type = excluded.alert_type,
      event_time = excluded.event_time, far = excluded.far, area50_deg2 = excluded.area50_deg2,
      area90_deg2 = excluded.area90_deg2, distance_mpc = excluded.distance_mpc,
      distance_std_mpc = excluded.distance_std_mpc, skymap_sha256 = excluded.skymap_sha256,
      updated = now()`;
  return "updated";
}
