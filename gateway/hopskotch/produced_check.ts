/**
 * Whether a record is already in a Kafka topic — the outbound gateway's check
 * of a redelivered NATS message before it produces it again.
 *
 * A NATS message is acknowledged only after Kafka acknowledged its record; a
 * gateway that dies between the two leaves the record in Kafka and the
 * message unacknowledged, and JetStream delivers it again (deliveryCount > 1).
 * Only such redeliveries pay for the check: it looks for the record's hop
 * `_id` in every partition of the topic, from the first offset whose
 * timestamp is at or after the time NATS stored the message (minus a margin
 * for clock skew) up to the end offsets captured when the check starts.
 * Whatever a previous attempt wrote is in that range: it was produced after
 * the message was stored, and it was acknowledged (or failed) before this
 * attempt began.
 *
 * Redeliveries that arrive close together share one scan per topic: after a
 * crash they come in a burst.
 *
 * @module
 */
import type { Logger } from "../../actors/runtime/log.ts";
import type { KafkaAdmin, PartitionRange, RangeReader } from "./kafka.ts";
import { uuidToBytes } from "./uuid.ts";

/** Options of {@link ProducedCheck}. */
export interface ProducedCheckOptions {
  /** Admin client (offsets by timestamp, end offsets); opened on first use. */
  readonly admin: () => Promise<KafkaAdmin>;
  /** Range reader; opened on first use. */
  readonly reader: () => Promise<RangeReader>;
  /**
   * How far before the NATS store time a record's Kafka timestamp may be
   * (clocks of the NATS server, the gateway and, for LogAppendTime topics,
   * the broker disagree by this much at most).
   */
  readonly skewMs: number;
  /** How long a check waits for more checks of its topic to share one scan. */
  readonly lingerMs: number;
  /** Longest a scan may take before it fails (the message is then retried). */
  readonly timeoutMs?: number;
  /** Called after a failed scan: drop the clients, so the next check connects afresh. */
  readonly reset?: () => Promise<void>;
  readonly log?: Logger;
}

interface Waiter {
  readonly id: string;
  readonly since: number;
  resolve(found: boolean): void;
  reject(err: unknown): void;
}

/** The 16 bytes of a UUID as lower-case hex (how ids are compared). */
function idKey(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Checks, in shared scans, whether records with given hop `_id`s are in a topic. */
export class ProducedCheck {
  private readonly pending = new Map<string, Waiter[]>();

  constructor(private readonly options: ProducedCheckOptions) {}

  /**
   * Whether a record whose `_id` header is `id` (a UUID) is in `topic` at or
   * after `sinceMs` (epoch ms, before the skew margin). Rejects when Kafka
   * cannot answer: the caller must then neither produce nor acknowledge.
   */
  has(topic: string, id: string, sinceMs: number): Promise<boolean> {
    const key = idKey(uuidToBytes(id)); // throws at once on a malformed id
    return new Promise<boolean>((resolve, reject) => {
      let list = this.pending.get(topic);
      if (!list) {
        this.pending.set(topic, list = []);
        setTimeout(() => void this.scan(topic), this.options.lingerMs);
      }
      list.push({ id: key, since: sinceMs, resolve, reject });
    });
  }

  private async scan(topic: string): Promise<void> {
    const waiters = this.pending.get(topic) ?? [];
    this.pending.delete(topic);
    if (!waiters.length) return;
    const wanted = new Set(waiters.map((w) => w.id));
    const found = new Set<string>();
    const started = performance.now();
    let read = 0;
    try {
      const since = waiters.reduce((m, w) => Math.min(m, w.since), Infinity) - this.options.skewMs;
      const admin = await this.options.admin();
      // The end first: anything a finished attempt wrote is below it.
      const ends = await admin.endOffsets(topic);
      const starts = await admin.offsetsForTimestamp(topic, Math.max(0, since));
      const ranges = scanRanges(starts, ends);
      const reader = await this.options.reader();
      await reader.read(topic, ranges, (records) => {
        read += records.length;
        for (const r of records) {
          const raw = r.headers?._id;
          const bytes = Array.isArray(raw) ? raw[0] : raw;
          if (typeof bytes === "string" || !bytes || bytes.byteLength !== 16) continue;
          const k = idKey(bytes);
          if (wanted.has(k)) found.add(k);
        }
        return found.size === wanted.size;
      }, this.options.timeoutMs);
      this.options.log?.debug("redelivery check scanned Kafka", {
        topic,
        ids: wanted.size,
        found: found.size,
        recordsRead: read,
        ranges,
        ms: Math.round(performance.now() - started),
      });
    } catch (err) {
      const e = new Error(
        `cannot check whether ${topic} already holds ${wanted.size} redelivered record(s) ` +
          `(the messages are retried, not produced blindly): ${(err as Error).message}`,
        { cause: err },
      );
      for (const w of waiters) w.reject(e);
      await this.options.reset?.().catch((err) =>
        this.options.log?.warn("closing the redelivery check's Kafka clients failed", {
          error: (err as Error).message,
        })
      );
      return;
    }
    for (const w of waiters) w.resolve(found.has(w.id));
  }
}

/**
 * Per partition, `[start, end)` from offsets by timestamp and end offsets.
 * A partition without a start (missing, -1) or whose start is at or past its
 * end has no record at or after the time: it is not read.
 */
export function scanRanges(
  starts: readonly { partition: number; offset: string }[],
  ends: readonly { partition: number; offset: string }[],
): PartitionRange[] {
  const from = new Map(starts.map((s) => [s.partition, s.offset]));
  const out: PartitionRange[] = [];
  for (const e of ends) {
    const f = from.get(e.partition);
    if (f === undefined || BigInt(f) < 0n || BigInt(f) >= BigInt(e.offset)) continue;
    out.push({ partition: e.partition, from: f, to: e.offset });
  }
  return out;
}
