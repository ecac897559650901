/** @jsxImportSource hono/jsx */
/**
 * The targets table: sortable columns (links, `aria-sort`), pagination,
 * filters by score and event, and a cone search.
 *
 * @module
 */
import type { TargetRow } from "../../store/targets.ts";
import { Layout, type PageUser } from "./layout.tsx";

/** The query of the targets page, as parsed. */
export interface TargetsQuery {
  sort: "name" | "score" | "ra" | "dec" | "created";
  desc: boolean;
  limit: number;
  offset: number;
  score_min?: number;
  score_max?: number;
  event_id?: string;
  name?: string;
  ra?: number;
  dec?: number;
  radius?: number;
}

/** The query string of `q` with `change` applied. */
export function targetsHref(q: TargetsQuery, change: Partial<TargetsQuery>): string {
  const m = { ...q, ...change };
  const u = new URLSearchParams();
  u.set("sort", m.desc ? `-${m.sort}` : m.sort);
  if (m.offset) u.set("offset", String(m.offset));
  if (m.limit !== 50) u.set("limit", String(m.limit));
  for (const k of ["score_min", "score_max", "event_id", "name", "ra", "dec", "radius"] as const) {
    if (m[k] !== undefined) u.set(k, String(m[k]));
  }
  return `/targets/?${u}`;
}

const COLUMNS: { key: TargetsQuery["sort"]; label: string; numeric: boolean }[] = [
  { key: "name", label: "Name", numeric: false },
  { key: "score", label: "P(kilonova)", numeric: true },
  { key: "ra", label: "RA (°)", numeric: true },
  { key: "dec", label: "Dec (°)", numeric: true },
  { key: "created", label: "Created (UTC)", numeric: false },
];

const fmt = (x: number | null | undefined, digits: number) =>
  x === null || x === undefined ? "—" : x.toFixed(digits);

/** The targets page. */
export function TargetsPage(p: {
  user: PageUser;
  q: TargetsQuery;
  rows: TargetRow[];
  count: number;
  exact: boolean;
}) {
  const { q } = p;
  const last = q.offset + p.rows.length;
  return (
    <Layout title="Targets" user={p.user}>
      <form method="get" action="/targets/" class="filters" aria-label="Filter targets">
        <input type="hidden" name="sort" value={q.desc ? `-${q.sort}` : q.sort} />
        <fieldset>
          <legend>Score and event</legend>
          <label for="f-score-min">P(kilonova) ≥</label>
          <input
            id="f-score-min"
            name="score_min"
            type="number"
            min="0"
            max="1"
            step="any"
            value={q.score_min?.toString()}
          />
          <label for="f-score-max">≤</label>
          <input
            id="f-score-max"
            name="score_max"
            type="number"
            min="0"
            max="1"
            step="any"
            value={q.score_max?.toString()}
          />
          <label for="f-event">Event</label>
          <input id="f-event" name="event_id" type="text" value={q.event_id} size={10} />
          <label for="f-name">Name contains</label>
          <input id="f-name" name="name" type="text" value={q.name} size={12} />
        </fieldset>
        <fieldset>
          <legend>Cone search (degrees)</legend>
          <label for="f-ra">RA</label>
          <input
            id="f-ra"
            name="ra"
            type="number"
            min="0"
            max="360"
            step="any"
            value={q.ra?.toString()}
          />
          <label for="f-dec">Dec</label>
          <input
            id="f-dec"
            name="dec"
            type="number"
            min="-90"
            max="90"
            step="any"
            value={q.dec?.toString()}
          />
          <label for="f-radius">Radius</label>
          <input
            id="f-radius"
            name="radius"
            type="number"
            min="0"
            max="10"
            step="any"
            value={q.radius?.toString()}
          />
        </fieldset>
        <button type="submit">Filter</button> <a href="/targets/">Clear</a>
      </form>
      <table id="targets">
        <caption>
          {p.rows.length
            ? `Targets ${q.offset + 1}–${last} of ${p.exact ? p.count : `more than ${p.count}`}`
            : "No target matches"}
        </caption>
        <thead>
          <tr>
            {COLUMNS.map((col) => {
              const active = q.sort === col.key;
              const nextDesc = active ? !q.desc : col.numeric;
              return (
                <th
                  scope="col"
                  aria-sort={active ? (q.desc ? "descending" : "ascending") : undefined}
                >
                  <a href={targetsHref(q, { sort: col.key, desc: nextDesc, offset: 0 })}>
                    {col.label}
                    {active ? (q.desc ? " ▼" : " ▲") : ""}
                  </a>
                </th>
              );
            })}
            <th scope="col">Event</th>
          </tr>
        </thead>
        <tbody>
          {p.rows.map((t) => (
            <tr>
              <th scope="row">
                <a href={`/targets/${t.id}/`}>{t.name}</a>
              </th>
              <td class="num">{fmt(t.score, 3)}</td>
              <td class="num">{t.ra.toFixed(5)}</td>
              <td class="num">{t.dec.toFixed(5)}</td>
              <td>{t.created.slice(0, 19).replace("T", " ")}</td>
              <td>{t.event_id ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav aria-label="Pages" class="pager">
        {q.offset > 0 && (
          <a href={targetsHref(q, { offset: Math.max(0, q.offset - q.limit) })} rel="prev">
            ← Previous
          </a>
        )}
        {p.rows.length === q.limit && (!p.exact || last < p.count) && (
          <a href={targetsHref(q, { offset: q.offset + q.limit })} rel="next">Next →</a>
        )}
      </nav>
    </Layout>
  );
}
