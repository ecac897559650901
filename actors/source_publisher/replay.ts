/**
 * Plays a time-ordered stream of timeline events into a {@link Sink}: filters
 * by `--from`/`--until`, paces by `--speed` (1 = real time, `max` = as fast as
 * the destination acknowledges), batches per topic, and gives every record its
 * deterministic hop `_id`.
 *
 * @module
 */
import { topicName } from "../../contracts/mod.ts";
import type { HopRecord } from "../../gateway/hopskotch/mod.ts";
import { eventId } from "./ids.ts";
import type { Sink } from "./sinks.ts";
import type { TimelineEvent } from "./timeline.ts";

/** A clock (replaceable in tests). */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The real clock. */
export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** Options of {@link runReplay}. */
export interface ReplayOptions {
  /** Timeline seconds per wall-clock second, or "max". */
  readonly speed: number | "max";
  /** First event time (s after t0) to pace from; earlier events are skipped, or sent at once with `backfill`. */
  readonly fromS?: number;
  /** Last event time (s after t0) to send. */
  readonly untilS?: number;
  /** Send events before `fromS` at once at the start (history) instead of skipping them. */
  readonly backfill?: boolean;
  /** Topic group prefix, e.g. "kb-demo". */
  readonly group: string;
  /** Run id: with the event key it makes the hop `_id`. */
  readonly runId: string;
  /** Mark records as hop test messages. */
  readonly test?: boolean;
  /** Most records per publish call. Default 1000. */
  readonly batchSize?: number;
  /** Most payload bytes per publish call (Kafka's default batch limit is 1 MB). Default 800,000. */
  readonly batchBytes?: number;
  readonly sink: Sink;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  /** Called after each batch with the running count. */
  readonly onProgress?: (sent: number, last: TimelineEvent) => void;
}

/** What a run did. */
export interface ReplayResult {
  readonly sent: number;
  readonly skipped: number;
  readonly byTopic: Record<string, number>;
  readonly wallMs: number;
}

/** Checks a speed value; throws naming the option. */
export function parseSpeed(value: string): number | "max" {
  if (value === "max") return "max";
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new Error(
      `--speed: "${value}" is not valid: give a positive number (1 = real time, 3600 = an hour per second) or "max"`,
    );
  }
  return n;
}

/** Parses a time offset like `-1h`, `10.9h`, `2d`, `90m`, `30s` or plain seconds; throws naming the option. */
export function parseOffset(value: string, option: string): number {
  const m = /^\s*([+-]?\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$/.exec(value);
  if (!m) {
    throw new Error(
      `${option}: "${value}" is not a time offset (examples: -1h, 10.9h, 2d, 90m, 3600)`,
    );
  }
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as "s" | "m" | "h" | "d" ?? "s"];
  return Number(m[1]) * unit;
}

/** Plays `events` (sorted by time) into the sink. */
export async function runReplay(
  events: Iterable<TimelineEvent>,
  o: ReplayOptions,
): Promise<ReplayResult> {
  const clock = o.clock ?? SYSTEM_CLOCK;
  const batchSize = o.batchSize ?? 1000;
  const batchBytes = o.batchBytes ?? 800_000;
  let pendingBytes = 0;
  const from = o.fromS ?? -Infinity;
  const until = o.untilS ?? Infinity;
  if (from > until) throw new Error(`--from (${from} s) is after --until (${until} s)`);
  const byTopic: Record<string, number> = {};
  const topics = new Map<string, string>();
  const topicOf = (key: TimelineEvent["topic"]) => {
    let t = topics.get(key);
    if (!t) topics.set(key, t = topicName(o.group, key));
    return t;
  };
  let sent = 0;
  let skipped = 0;
  const start = clock.now();
  let pending: { topic: string; record: HopRecord; ev: TimelineEvent }[] = [];
  // One publish in flight while the next batch is encoded; batches still reach
  // the sink one after the other, so per-topic order is kept.
  let inflight: Promise<void> = Promise.resolve();
  let failed: { error: unknown } | undefined;
  const flush = async () => {
    if (!pending.length) return;
    const batch = pending;
    pending = [];
    pendingBytes = 0;
    await inflight;
    if (failed) throw failed.error;
    const groups = new Map<string, HopRecord[]>();
    for (const p of batch) {
      let g = groups.get(p.topic);
      if (!g) groups.set(p.topic, g = []);
      g.push(p.record);
    }
    inflight = Promise.all([...groups].map(([topic, recs]) => o.sink.publish(topic, recs))).then(
      () => {
        for (const [topic, recs] of groups) byTopic[topic] = (byTopic[topic] ?? 0) + recs.length;
        sent += batch.length;
        o.onProgress?.(sent, batch[batch.length - 1].ev);
      },
      (error) => {
        failed = { error };
      },
    );
  };
  /** Sends what waits and returns once the sink has everything. */
  const drain = async () => {
    await flush();
    await inflight;
    if (failed) throw failed.error;
  };
  let paceFrom: number | undefined;
  for (const ev of events) {
    if (o.signal?.aborted) break;
    if (ev.t > until) break;
    const early = ev.t < from;
    if (early && !o.backfill) {
      skipped++;
      continue;
    }
    if (o.speed !== "max" && !early) {
      if (paceFrom === undefined) {
        await flush();
        paceFrom = Math.max(from, ev.t);
      }
      const due = start + ((ev.t - paceFrom) / o.speed) * 1000;
      const wait = due - clock.now();
      if (wait > 0) {
        await flush();
        await clock.sleep(wait);
      }
    }
    const id = eventId(o.runId, ev.key);
    const value = ev.encode(id);
    if (pendingBytes + value.byteLength > batchBytes) await flush();
    pending.push({
      topic: topicOf(ev.topic),
      ev,
      record: { format: ev.format, value, id, key: ev.recordKey, test: o.test },
    });
    pendingBytes += value.byteLength;
    if (pending.length >= batchSize) await flush();
  }
  await drain();
  return { sent, skipped, byTopic, wallMs: clock.now() - start };
}

/** Merges time-sorted streams into one time-sorted stream. */
export function* mergeByTime(...streams: Iterable<TimelineEvent>[]): Generator<TimelineEvent> {
  const its = streams.map((s) => s[Symbol.iterator]());
  const heads = its.map((it) => it.next());
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      if (!heads[i].done && (best < 0 || heads[i].value.t < heads[best].value.t)) best = i;
    }
    if (best < 0) return;
    yield heads[best].value as TimelineEvent;
    heads[best] = its[best].next();
  }
}

/** `T+1d02:03:04.5` style label of a timeline offset. */
export function formatOffset(t: number): string {
  const sign = t < 0 ? "-" : "+";
  let s = Math.round(Math.abs(t) * 10) / 10;
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const hms = `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${
    s.toFixed(1).padStart(4, "0")
  }`;
  return `T${sign}${d ? `${d}d` : ""}${hms}`;
}
