/** @jsxImportSource hono/jsx */
/**
 * GW events: each with its sky map summary (alert type, time, FAR, 50%/90%
 * areas, distance), its 90% region plot with the top candidates marked, and
 * the top-scored candidates inside.
 *
 * @module
 */
import type { TargetRow } from "../../store/targets.ts";
import type { SkyRegion } from "../sky.ts";
import { Layout, type PageUser } from "./layout.tsx";
import { type EventSummary, Plot } from "./target.tsx";

const n = (x: number | null | undefined, d: number) =>
  x === null || x === undefined ? "—" : x.toFixed(d);

/** The events page. */
export function EventsPage(p: {
  user: PageUser;
  events: { event: EventSummary; top: TargetRow[]; region?: SkyRegion }[];
}) {
  return (
    <Layout title="GW events" user={p.user} plots>
      {p.events.length === 0 && <p>No event is linked to a target yet.</p>}
      {p.events.map(({ event: e, top, region }) => (
        <section id={e.event_id} aria-labelledby={`h-${e.event_id}`} class="event">
          <h2 id={`h-${e.event_id}`}>{e.event_id}</h2>
          <dl class="details">
            <dt>Alert type</dt>
            <dd>{e.alert_type ?? "—"}</dd>
            <dt>Merger time (UTC)</dt>
            <dd>{e.event_time?.slice(0, 19).replace("T", " ") ?? "—"}</dd>
            <dt>False-alarm rate (Hz)</dt>
            <dd>{e.far === null ? "—" : e.far.toExponential(2)}</dd>
            <dt>50% / 90% area (deg²)</dt>
            <dd>{n(e.area50_deg2, 1)} / {n(e.area90_deg2, 1)}</dd>
            <dt>Distance (Mpc)</dt>
            <dd>{n(e.distance_mpc, 1)} ± {n(e.distance_std_mpc, 1)}</dd>
            <dt>Linked targets</dt>
            <dd>{e.targets}</dd>
          </dl>
          {region && (
            <Plot
              id={`plot-sky-${e.event_id}`}
              kind="sky"
              caption={`${Math.round(region.level * 100)}% credible region of ${e.event_id}` +
                ` with its top ${top.length} candidates marked`}
              data={{
                region: { ra: region.ra, dec: region.dec },
                marks: top.map((t) => ({ name: t.name, ra: t.ra, dec: t.dec })),
              }}
            />
          )}
          <table>
            <caption>Top-scored candidates of {e.event_id}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">P(kilonova)</th>
                <th scope="col">RA (°)</th>
                <th scope="col">Dec (°)</th>
              </tr>
            </thead>
            <tbody>
              {top.map((t) => (
                <tr>
                  <th scope="row">
                    <a href={`/targets/${t.id}/`}>{t.name}</a>
                  </th>
                  <td class="num">{n(t.score, 3)}</td>
                  <td class="num">{t.ra.toFixed(5)}</td>
                  <td class="num">{t.dec.toFixed(5)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            <a href={`/targets/?sort=-score&event_id=${encodeURIComponent(e.event_id)}`}>
              All targets of {e.event_id}
            </a>
          </p>
        </section>
      ))}
    </Layout>
  );
}
