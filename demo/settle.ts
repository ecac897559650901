/**
 * Waiting for the pipeline to settle: every consumer drained, every
 * observation request finished, several looks in a row.
 *
 * @module
 */
import { sleep } from "../actors/runtime/testing.ts";
import type { Transport } from "../actors/runtime/transport.ts";
import type { Sql } from "../db/mod.ts";

/** Work still under way, by what holds it (0 everywhere = quiet). */
export type Backlog = Record<string, number>;

/**
 * Polls `look` every `everyMs` until it reports no work `quietLooks` times in a
 * row; fails after `timeoutMs` naming the backlog. Reports progress every 5 s
 * through `report`.
 */
export async function settle(
  look: () => Promise<Backlog>,
  options: {
    timeoutMs?: number;
    everyMs?: number;
    quietLooks?: number;
    report?: (backlog: Backlog) => void;
  } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 600_000;
  const start = Date.now();
  let lastReport = start;
  for (let quiet = 0; quiet < (options.quietLooks ?? 3);) {
    const backlog = await look();
    const busy = Object.values(backlog).reduce((a, b) => a + b, 0);
    quiet = busy === 0 ? quiet + 1 : 0;
    if (Date.now() - start > timeoutMs) {
      throw new Error(
        `the pipeline did not settle within ${timeoutMs / 1000} s: ${JSON.stringify(backlog)}`,
      );
    }
    if (busy && Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      options.report?.(backlog);
    }
    await sleep(options.everyMs ?? 250);
  }
}

/** Pending and unacknowledged messages of each durable consumer. */
export async function consumerBacklog(
  transport: Transport,
  consumers: readonly { stream: string; durable: string }[],
): Promise<Backlog> {
  const out: Backlog = {};
  for (const c of consumers) {
    const s = await transport.consumerState(c.stream, c.durable);
    out[c.durable] = s.pending + s.ackPending;
  }
  return out;
}

/** ObservationRecords the TOM has not seen finish. */
export async function openRequests(sql: Sql): Promise<number> {
  const [{ n }] = await sql<{ n: number }[]>`
    select count(*)::int as n from tom_observation_records where not terminal`;
  return n;
}
