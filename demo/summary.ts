/**
 * What the demo reports at the end, read from where the pipeline left it: the
 * archive and TOM tables, the bus's dead letters and derived alerts, and the
 * follow-up loop (observation requests, the observatory's photometry, the
 * re-scores it caused). Shared by both modes (embedded and `--stack local`).
 *
 * @module
 */
import { STREAMS, topicName } from "../contracts/names.ts";
import type { Sql } from "../db/mod.ts";
import type { Transport } from "../actors/runtime/transport.ts";

/** A target re-scored from the follow-up photometry. */
export interface Rescore {
  readonly target: string;
  /** Results computed from inputs that include the observatory's photometry. */
  readonly results: number;
  /** How many of them were material changes, republished as derived alerts. */
  readonly published: number;
  /** P(kilonova) of the last result before the follow-up photometry. */
  readonly before: number | null;
  /** P(kilonova) of the last result computed with it. */
  readonly after: number | null;
}

/** The follow-up loop in numbers. */
export interface FollowUpSummary {
  readonly requests: number;
  readonly automatic: number;
  readonly byStatus: Record<string, number>;
  /** The first automatic request: what triggered it. */
  readonly first?: { target: string; score: number; rule: string; event: string | null };
  /** Follow-up photometry archived (optical alerts from the observatory). */
  readonly exposures: number;
  readonly rescored: Rescore[];
}

/** What the demo prints at the end. */
export interface DemoSummary {
  mode: "embedded" | "local";
  alertsIn: number;
  alertsArchived: Record<string, number>;
  candidates: number;
  photometry: number;
  gwEvents: string[];
  results: number;
  derivedAlerts: number;
  /** Derived alerts on the Kafka results topic (`--stack local`: the outbound gateway's work). */
  kafkaResults?: { topic: string; records: number };
  targets: number;
  top: { name: string; score: number; explanation: string }[];
  followUp: FollowUpSummary;
  deadLetters: Record<string, number>;
  /** The first dead letter's reason per subject. */
  deadLetterReasons: Record<string, string>;
  seconds: number;
}

/** The observatory's topic in the archive (see actors/observatory/server.ts). */
export const OBSERVATORY_TOPIC = topicName("observatory", "optical");

/** Reads the follow-up loop's numbers. */
export async function followUpSummary(sql: Sql): Promise<FollowUpSummary> {
  const records = await sql<
    {
      status: string;
      rule: string | null;
      trigger_score: number | null;
      event_id: string | null;
      target: string;
    }[]
  >`select r.status, r.rule, r.trigger_score, r.event_id, t.name as target
    from tom_observation_records r join tom_targets t on t.id = r.target_id order by r.id`;
  const byStatus: Record<string, number> = {};
  for (const r of records) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const auto = records.filter((r) => r.rule !== null);
  const followIds = new Set(
    (await sql<{ msg_id: string }[]>`select msg_id from alerts where topic = ${OBSERVATORY_TOPIC}`)
      .map((r) => r.msg_id),
  );
  const rescored: Rescore[] = [];
  for (const target of [...new Set(records.map((r) => r.target))]) {
    const rows = await sql<{ p: number | null; decision: string; inputs: string[] }[]>`
      select (scores ->> 'kilonova')::float8 as p, decision, input_alert_ids as inputs
      from results where candidate_id = ${target} order by id`;
    const uses = rows.map((r) => r.inputs.some((i) => followIds.has(i)));
    const firstUse = uses.indexOf(true);
    if (firstUse < 0) continue;
    const withIt = rows.filter((_, i) => uses[i]);
    rescored.push({
      target,
      results: withIt.length,
      published: withIt.filter((r) => r.decision === "published").length,
      before: firstUse > 0 ? rows[firstUse - 1].p : null,
      after: withIt.at(-1)!.p,
    });
  }
  return {
    requests: records.length,
    automatic: auto.length,
    byStatus,
    first: auto[0]
      ? {
        target: auto[0].target,
        score: Number(auto[0].trigger_score),
        rule: auto[0].rule!,
        event: auto[0].event_id,
      }
      : undefined,
    exposures: followIds.size,
    rescored,
  };
}

/** Reads the whole summary (everything but the Kafka count, which only the local mode has). */
export async function collectSummary(
  sql: Sql,
  transport: Transport,
  base: { mode: DemoSummary["mode"]; alertsIn: number; t0: number },
): Promise<DemoSummary> {
  const count = async (q: Promise<{ n: string | number }[]>) => Number((await q)[0].n);
  const byKind: Record<string, number> = {};
  for (
    const r of await sql<{ kind: string; n: string }[]>`
    select subject as kind, count(*)::text as n from alerts group by subject order by subject`
  ) {
    byKind[r.kind] = Number(r.n);
  }
  const deadLetters: Record<string, number> = {};
  const deadLetterReasons: Record<string, string> = {};
  for await (const m of transport.read(STREAMS.deadLetters.name)) {
    deadLetters[m.subject] = (deadLetters[m.subject] ?? 0) + 1;
    if (!(m.subject in deadLetterReasons)) {
      let why: string;
      try {
        const d = JSON.parse(new TextDecoder().decode(m.data));
        why = `${d.reason}: ${d.detail}`;
      } catch (err) {
        why = `(unreadable dead letter: ${(err as Error).message})`;
      }
      deadLetterReasons[m.subject] = why;
    }
  }
  const top = await sql<{ name: string; score: number; explanation: string | null }[]>`
    select t.name, t.score, e.value #>> '{}' as explanation
    from tom_targets t
    left join tom_target_extras e on e.target_id = t.id and e.key = 'explanation'
    where t.score is not null
    order by t.score desc, t.name
    limit 5`;
  return {
    mode: base.mode,
    alertsIn: base.alertsIn,
    alertsArchived: byKind,
    candidates: await count(sql`select count(*) as n from candidates`),
    photometry: await count(sql`select count(*) as n from photometry`),
    gwEvents:
      (await sql<{ id: string }[]>`select distinct superevent_id as id from gw_events order by 1`)
        .map((r) => r.id),
    results: await count(sql`select count(*) as n from results`),
    derivedAlerts: (await transport.streamState(STREAMS.alertsOut.name)).messages,
    targets: await count(sql`select count(*) as n from tom_targets`),
    top: top.map((r) => ({
      name: r.name,
      score: Number(r.score),
      explanation: r.explanation ?? "",
    })),
    followUp: await followUpSummary(sql),
    deadLetters,
    deadLetterReasons,
    seconds: (performance.now() - base.t0) / 1000,
  };
}

/** Prints the summary and how to reach the TOM. */
export function printSummary(
  s: DemoSummary,
  tomUrl: string,
  token: string,
  login: string,
  web?: { url: string; signIn: string },
): void {
  const n = (v: number) => v.toLocaleString("en-US");
  const p = (v: number | null) => (v === null ? "—" : v.toFixed(3));
  console.log(`\nsummary (${s.seconds.toFixed(1)} s, ${s.mode})`);
  console.log(`  alerts in:        ${n(s.alertsIn)} replayed`);
  console.log(
    `  archived:         ${
      Object.entries(s.alertsArchived).map(([k, v]) => `${k} ${n(v)}`).join(", ")
    }`,
  );
  console.log(`  GW events:        ${s.gwEvents.join(", ") || "none"}`);
  console.log(`  candidates:       ${n(s.candidates)} with ${n(s.photometry)} photometry points`);
  console.log(`  classifications:  ${n(s.results)}; derived alerts out: ${n(s.derivedAlerts)}`);
  if (s.kafkaResults) {
    console.log(
      `  on Kafka:         ${n(s.kafkaResults.records)} derived alerts on ${s.kafkaResults.topic}`,
    );
  }
  console.log(`  TOM targets:      ${n(s.targets)}`);
  console.log(`  top P(kilonova):`);
  for (const t of s.top) {
    console.log(
      `    ${t.score.toFixed(3)}  ${t.name}${t.explanation ? `  — ${t.explanation}` : ""}`,
    );
  }
  const f = s.followUp;
  const states = Object.entries(f.byStatus).map(([k, v]) => `${v} ${k}`).join(", ");
  console.log(
    `  observation requests: ${n(f.requests)} made (${n(f.automatic)} automatic)` +
      (states ? `: ${states}` : ""),
  );
  if (f.first) {
    console.log(
      `    first: ${f.first.target}, rule ${f.first.rule}, P(kilonova) ${f.first.score.toFixed(3)}${
        f.first.event ? ` in ${f.first.event}` : ""
      }`,
    );
  }
  console.log(`  follow-up photometry: ${n(f.exposures)} optical alerts from the observatory`);
  for (const r of f.rescored) {
    console.log(
      `    ${r.target} re-scored ${n(r.results)}× with it: P(kilonova) ${p(r.before)} → ${
        p(r.after)
      }; ${n(r.published)} republished as derived alerts`,
    );
  }
  const dl = Object.entries(s.deadLetters);
  console.log(
    `  dead letters:     ${dl.length ? dl.map(([k, v]) => `${k} ${v}`).join(", ") : "none"}`,
  );
  for (const [k, why] of Object.entries(s.deadLetterReasons)) {
    console.log(`    first on ${k}: ${why.slice(0, 300)}`);
  }
  console.log(`\nTOM: ${tomUrl}/docs   (API: ${tomUrl}/api/targets/)`);
  if (web) console.log(`web pages: ${web.url}   (${web.signIn})`);
  console.log(`a ready token for user "pi" (${login}):`);
  console.log(`  curl -H "Authorization: Bearer ${token}" ${tomUrl}/api/targets/?ordering=-score`);
}
