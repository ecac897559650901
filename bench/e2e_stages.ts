/**
 * Where the end-to-end latency of `deno task bench e2e` goes, stage by stage,
 * from timestamps the pipeline already keeps (no trace in the hot path):
 *
 * | mark | what it is |
 * |---|---|
 * | produce | the bench's clock when it handed the source record to the producer |
 * | gateway | the envelope's `receivedAt` (the inbound gateway encoded it) |
 * | alertsIn | JetStream's store time of the envelope on `KB_ALERTS_IN` |
 * | archived | `alerts.archived_at`: start of the archiver's insert statement |
 * | result | JetStream's store time of the classification result on `KB_RESULTS` |
 * | decided | `results.stored_at`: start of the publisher's transaction that decided it |
 * | alertsOut | JetStream's store time of the derived alert on `KB_ALERTS_OUT` |
 * | kafka | CreateTime of the derived alert's Kafka record (the outbound gateway's send) |
 *
 * Every clock is the same machine's (the bench, the servers and the processes run
 * on one host).
 *
 * @module
 */
import { STREAMS } from "../contracts/names.ts";
import type { NatsTransport } from "../actors/runtime/nats_transport.ts";
import { MSG_ID_HEADER } from "../actors/runtime/transport.ts";
import type { Sql } from "../db/connect.ts";
import { quantile } from "./harness.ts";

/** Stream positions before a step: its messages are read from the next ones on. */
export type StreamMarks = Record<string, number>;

const STAGE_STREAMS = [STREAMS.alertsIn.name, STREAMS.results.name, STREAMS.alertsOut.name];

/** The last sequence of each stream the budget reads. */
export async function streamMarks(t: NatsTransport): Promise<StreamMarks> {
  const out: StreamMarks = {};
  for (const s of STAGE_STREAMS) out[s] = (await t.streamState(s)).lastSeq;
  return out;
}

/** One derived alert as the bench's reader saw it. */
export interface DerivedSeen {
  /** The NATS message id of the alert that triggered it (`hop:<_id>`). */
  readonly trigger: string;
  /** CreateTime of its Kafka record, ms. */
  readonly kafkaMs: number;
  /** When the bench's reader got it, ms (the measurement's own delay, not in the figure). */
  readonly readMs: number;
}

/** The stages, each from one mark to the next (names say which). */
const STAGES = [
  ["produce → gateway (Kafka, fetch)", "produce", "gateway"],
  ["gateway → alertsIn (JetStream publish)", "gateway", "alertsIn"],
  ["alertsIn → archived (archiver fetch, batch)", "alertsIn", "archived"],
  ["alertsIn → result (classifier)", "alertsIn", "result"],
  ["result → decided (publisher fetch, batch, archive wait)", "result", "decided"],
  ["decided → alertsOut (transaction, publish)", "decided", "alertsOut"],
  ["alertsOut → kafka (outbound fetch, linger)", "alertsOut", "kafka"],
  ["total (produce → kafka)", "produce", "kafka"],
  ["kafka → read by the bench (not in the figure)", "kafka", "read"],
] as const;

type Mark =
  | "produce"
  | "gateway"
  | "alertsIn"
  | "archived"
  | "result"
  | "decided"
  | "alertsOut"
  | "kafka"
  | "read";

/** p50 / p95 / p99 of one stage, ms. */
export interface StageRow {
  readonly stage: string;
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

/**
 * The budget of the derived alerts in `seen` whose trigger is in `triggers`
 * (e.g. the first derived alert of each new candidate of a step); streams are
 * read from `from` on.
 */
export async function stageBudget(
  t: NatsTransport,
  sql: Sql,
  from: StreamMarks,
  sentAt: ReadonlyMap<string, number>,
  seen: readonly DerivedSeen[],
  triggers: ReadonlySet<string>,
): Promise<StageRow[]> {
  const marks = new Map<string, Partial<Record<Mark, number>>>();
  for (const d of seen) {
    if (!triggers.has(d.trigger)) continue;
    const produce = sentAt.get(d.trigger);
    if (produce === undefined) continue;
    marks.set(d.trigger, { produce, kafka: d.kafkaMs, read: d.readMs });
  }
  const ids = [...marks.keys()];
  for await (
    const m of t.read(STREAMS.alertsIn.name, { fromSeq: from[STREAMS.alertsIn.name] + 1 })
  ) {
    const mk = marks.get(m.headers[MSG_ID_HEADER] ?? "");
    if (!mk) continue;
    mk.alertsIn = m.timestampMs;
    mk.gateway = Date.parse(JSON.parse(new TextDecoder().decode(m.data)).receivedAt);
  }
  for await (const m of t.read(STREAMS.results.name, { fromSeq: from[STREAMS.results.name] + 1 })) {
    const r = JSON.parse(new TextDecoder().decode(m.data)) as { input_alert_ids: string[] };
    const mk = marks.get(r.input_alert_ids[r.input_alert_ids.length - 1]);
    if (mk && mk.result === undefined) mk.result = m.timestampMs;
  }
  for await (
    const m of t.read(STREAMS.alertsOut.name, { fromSeq: from[STREAMS.alertsOut.name] + 1 })
  ) {
    const o = JSON.parse(new TextDecoder().decode(m.data)) as {
      content?: { data?: { inputs?: { alert_id: string }[] } };
    };
    const inputs = o.content?.data?.inputs ?? [];
    const mk = marks.get(inputs[inputs.length - 1]?.alert_id ?? "");
    if (mk && mk.alertsOut === undefined) mk.alertsOut = m.timestampMs;
  }
  const archived = await sql<{ id: string; t: number }[]>`
    select msg_id as id, extract(epoch from archived_at) * 1000 as t
    from alerts where msg_id = any(${ids}::text[])`;
  for (const r of archived) marks.get(r.id)!.archived = Number(r.t);
  const decided = await sql<{ id: string; t: number }[]>`
    select input_alert_ids[array_length(input_alert_ids, 1)] as id,
      min(extract(epoch from stored_at) * 1000) as t
    from results where input_alert_ids[array_length(input_alert_ids, 1)] = any(${ids}::text[])
    group by 1`;
  for (const r of decided) {
    const mk = marks.get(r.id);
    if (mk) mk.decided = Number(r.t);
  }
  return STAGES.map(([stage, a, b]) => {
    const xs: number[] = [];
    for (const mk of marks.values()) {
      const x = mk[a], y = mk[b];
      if (x !== undefined && y !== undefined) xs.push(y - x);
    }
    xs.sort((p, q) => p - q);
    const r = (v: number) => Math.round(v * 10) / 10;
    return {
      stage,
      n: xs.length,
      p50: r(quantile(xs, 0.5)),
      p95: r(quantile(xs, 0.95)),
      p99: r(quantile(xs, 0.99)),
    };
  });
}

/** The budget as lines for the bench's log. */
export function formatBudget(rate: number, rows: readonly StageRow[]): string[] {
  return [
    `latency budget at ${rate}/s (first derived alert of each new candidate; ms p50 / p95 / p99):`,
    ...rows.map((r) =>
      `  ${r.stage.padEnd(58)} ${String(r.p50).padStart(7)} ${String(r.p95).padStart(7)} ${
        String(r.p99).padStart(7)
      }  (n ${r.n})`
    ),
  ];
}
