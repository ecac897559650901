/** @jsxImportSource hono/jsx */
/**
 * One target: details and extras, the light curve (per band, upper limits as
 * arrows, days since the GW merger), the score history, its position on the
 * event's 90% credible region, and its observation records with the request
 * and cancel forms (role `pi`, CSRF-protected).
 *
 * Plot data travel as JSON in `data-plot-data` attributes, read by
 * `/static/app.js` (no inline script).
 *
 * @module
 */
import type { TargetRow } from "../../store/targets.ts";
import type { TargetPhotometryPoint } from "../../store/history.ts";
import type { SkyRegion } from "../sky.ts";
import { Csrf, Layout, type PageUser } from "./layout.tsx";

/** A GW event's summary (as `listEvents` returns it). */
export interface EventSummary {
  event_id: string;
  alert_type: string | null;
  event_time: string | null;
  far: number | null;
  area50_deg2: number | null;
  area90_deg2: number | null;
  distance_mpc: number | null;
  distance_std_mpc: number | null;
  targets: number;
}

/** An observation record (as the API returns it). */
export interface RecordView {
  id: number;
  facility: string;
  observation_id: string | null;
  status: string;
  terminal: boolean;
  requested_by: string;
  rule: string | null;
  detail: string;
  created: string;
  parameters?: unknown;
}

/** MJD of the Unix epoch. */
const MJD_UNIX = 40587;

/** The light curve's plot data: times in days since `t0` (MJD), magnitudes, limits. */
export function lightCurveData(points: TargetPhotometryPoint[], t0Mjd: number | null) {
  return {
    t0: t0Mjd,
    points: points.map((p) => ({
      t: Math.round((p.mjd - (t0Mjd ?? 0)) * 1e5) / 1e5,
      band: p.bandpass,
      mag: p.brightness,
      err: p.brightness_error,
      limit: p.brightness === null ? p.limiting_brightness : null,
    })).filter((p) => p.mag !== null || p.limit !== null),
  };
}

/** MJD of an ISO time. */
export const mjdOf = (iso: string) => Date.parse(iso) / 86_400_000 + MJD_UNIX;

const n = (x: number | null | undefined, d: number) =>
  x === null || x === undefined ? "—" : x.toFixed(d);

/** A plot placeholder: a figure with a caption, filled by app.js. */
export function Plot(p: { id: string; kind: string; caption: string; data: unknown }) {
  return (
    <figure>
      <div
        id={p.id}
        class="plot"
        data-plot={p.kind}
        data-plot-data={JSON.stringify(p.data)}
        role="img"
        aria-label={p.caption}
      >
      </div>
      <figcaption>{p.caption}</figcaption>
    </figure>
  );
}

const isoLocal = (d: Date) => d.toISOString().slice(0, 16);

/** The target page. */
export function TargetPage(p: {
  user: PageUser;
  canWrite: boolean;
  target: TargetRow;
  extras: Record<string, unknown>;
  history: { computed_at: string; score: number | null; model_version: string }[];
  photometry: TargetPhotometryPoint[];
  event?: EventSummary & { event_time: string | null };
  region?: SkyRegion;
  records: RecordView[];
  facilities: boolean;
  notice?: string;
  error?: string;
}) {
  const t = p.target;
  const t0 = p.event?.event_time ? mjdOf(p.event.event_time) : null;
  const now = new Date();
  const detections = p.photometry.filter((x) => x.brightness !== null).length;
  return (
    <Layout title={t.name} user={p.user} plots>
      {p.notice && <p class="notice" role="status">{p.notice}</p>}
      {p.error && <p class="error" role="alert">{p.error}</p>}
      <section aria-labelledby="h-details">
        <h2 id="h-details">Details</h2>
        <dl class="details">
          <dt>P(kilonova)</dt>
          <dd id="score">{n(t.score, 3)}</dd>
          <dt>Position (J2000)</dt>
          <dd>RA {t.ra.toFixed(5)}°, Dec {t.dec.toFixed(5)}°</dd>
          <dt>Event</dt>
          <dd>{t.event_id ? <a href={`/events/#${t.event_id}`}>{t.event_id}</a> : "—"}</dd>
          <dt>Aliases</dt>
          <dd>{t.aliases.join(", ") || "—"}</dd>
          <dt>Permissions</dt>
          <dd>{t.permissions}</dd>
          {Object.entries(p.extras).map(([k, v]) => (
            <>
              <dt>{k}</dt>
              <dd>{typeof v === "string" ? v : JSON.stringify(v)}</dd>
            </>
          ))}
        </dl>
      </section>
      <section aria-labelledby="h-lc">
        <h2 id="h-lc">Light curve</h2>
        <Plot
          id="plot-lightcurve"
          kind="lightcurve"
          caption={`${detections} detections and ${
            p.photometry.length - detections
          } upper limits (arrows), per band; x: ${
            t0 === null ? "MJD (no merger time known)" : "days since the GW merger"
          }`}
          data={lightCurveData(p.photometry, t0)}
        />
      </section>
      <section aria-labelledby="h-score">
        <h2 id="h-score">Score history</h2>
        <Plot
          id="plot-score"
          kind="score"
          caption={`P(kilonova) of each of ${p.history.length} classifications, in computation order`}
          data={{
            t: p.history.map((h) => Date.parse(h.computed_at) / 1000),
            score: p.history.map((h) => h.score),
          }}
        />
      </section>
      <section aria-labelledby="h-sky">
        <h2 id="h-sky">Sky position</h2>
        {p.region
          ? (
            <Plot
              id="plot-sky"
              kind="sky"
              caption={`${
                Math.round(p.region.level * 100)
              }% credible region of ${t.event_id} (HEALPix order ${p.region.order} pixels) with ${t.name} marked`}
              data={{
                region: { ra: p.region.ra, dec: p.region.dec },
                marks: [{ name: t.name, ra: t.ra, dec: t.dec }],
              }}
            />
          )
          : <p>No sky map of the target's event is in the archive.</p>}
      </section>
      <section aria-labelledby="h-obs">
        <h2 id="h-obs">Observations</h2>
        <table id="observations">
          <caption>{p.records.length} observation records, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Record</th>
              <th scope="col">Facility</th>
              <th scope="col">State</th>
              <th scope="col">Requested by</th>
              <th scope="col">Created (UTC)</th>
              <th scope="col">Detail</th>
              {p.canWrite && <th scope="col">Action</th>}
            </tr>
          </thead>
          <tbody>
            {p.records.map((r) => (
              <tr data-record={r.id}>
                <th scope="row">{r.id}</th>
                <td>{r.facility} {r.observation_id ? `#${r.observation_id}` : ""}</td>
                <td class="state">{r.status}</td>
                <td>{r.rule ? `${r.requested_by} (rule ${r.rule})` : r.requested_by}</td>
                <td>{r.created.slice(0, 19).replace("T", " ")}</td>
                <td>{r.detail}</td>
                {p.canWrite && (
                  <td>
                    {!r.terminal && (
                      <form method="post" action={`/observations/${r.id}/cancel`}>
                        <Csrf user={p.user} />
                        <input type="hidden" name="target_id" value={String(t.id)} />
                        <button type="submit" class="cancel">Cancel</button>
                      </form>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
        {p.canWrite && p.facilities && (
          <form
            method="post"
            action={`/targets/${t.id}/observations`}
            id="request-form"
            class="request"
          >
            <Csrf user={p.user} />
            <fieldset>
              <legend>Request an observation</legend>
              <label for="r-filters">Filters (comma-separated)</label>
              <input id="r-filters" name="filters" type="text" value="g,r,i" required />
              <label for="r-exposure">Exposure (s)</label>
              <input
                id="r-exposure"
                name="exposure_time"
                type="number"
                min="1"
                max="3600"
                value="300"
              />
              <label for="r-start">Window start (UTC)</label>
              <input
                id="r-start"
                name="start"
                type="datetime-local"
                value={isoLocal(now)}
                required
              />
              <label for="r-end">Window end (UTC)</label>
              <input
                id="r-end"
                name="end"
                type="datetime-local"
                value={isoLocal(new Date(now.getTime() + 3 * 86_400_000))}
                required
              />
              <label for="r-airmass">Max airmass</label>
              <input
                id="r-airmass"
                name="max_airmass"
                type="number"
                min="1"
                max="25"
                step="any"
                value="2"
              />
            </fieldset>
            <button type="submit" id="request-button">Request observation</button>
          </form>
        )}
        {p.canWrite && !p.facilities && <p>No facility is configured for requests.</p>}
      </section>
    </Layout>
  );
}
