/**
 * Where a consumer group starts reading: `earliest`, `latest`, a timestamp, or
 * explicit offsets (a long-standing hop-client request). The position applies to
 * partitions where the group has no committed offset yet — so a restart resumes
 * where it stopped — unless `force` is set, which rewinds or advances the group.
 *
 * @module
 */
import type { KafkaAdmin } from "./kafka.ts";
import type { Logger } from "../../actors/runtime/log.ts";

/** A start position. */
export type StartPosition =
  | { readonly kind: "earliest" }
  | { readonly kind: "latest" }
  | { readonly kind: "timestamp"; readonly timestampMs: number }
  | {
    readonly kind: "offsets";
    readonly offsets: readonly { topic: string; partition: number; offset: string }[];
  };

/**
 * Parses `earliest`, `latest`, `timestamp:<epoch ms | ISO 8601>` or
 * `offsets:<topic>:<partition>:<offset>[,...]`.
 */
export function parseStartPosition(text: string): StartPosition {
  const t = text.trim();
  if (t.toLowerCase() === "earliest") return { kind: "earliest" };
  if (t.toLowerCase() === "latest") return { kind: "latest" };
  if (t.startsWith("timestamp:")) {
    const v = t.slice("timestamp:".length);
    const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (!Number.isFinite(ms)) {
      throw new Error(`start position "${t}": the timestamp is neither epoch ms nor ISO 8601`);
    }
    return { kind: "timestamp", timestampMs: ms };
  }
  if (t.startsWith("offsets:")) {
    const offsets = t.slice("offsets:".length).split(",").filter(Boolean).map((e) => {
      const m = /^(.+):(\d+):(\d+)$/.exec(e.trim());
      if (!m) {
        throw new Error(`start position entry "${e}" is not <topic>:<partition>:<offset>`);
      }
      return { topic: m[1], partition: Number(m[2]), offset: m[3] };
    });
    if (!offsets.length) throw new Error(`start position "${t}" lists no offsets`);
    return { kind: "offsets", offsets };
  }
  throw new Error(
    `start position "${t}" is not one of earliest, latest, timestamp:<ms|ISO>, ` +
      `offsets:<topic>:<partition>:<offset>[,...]`,
  );
}

/**
 * Applies `start` to `groupId` for `topics` through the admin API, before the
 * group's consumer joins. Returns whether the consumer should read uncommitted
 * partitions from the beginning.
 */
export async function applyStartPosition(
  admin: KafkaAdmin,
  groupId: string,
  topics: readonly string[],
  start: StartPosition,
  options: { force: boolean; log: Logger },
): Promise<{ fromBeginning: boolean }> {
  const fromBeginning = start.kind !== "latest";
  for (const topic of topics) {
    const committed = await admin.committedOffsets(groupId, topic);
    const open = new Set(
      committed.filter((p) => options.force || Number(p.offset) < 0).map((p) => p.partition),
    );
    if (!open.size) continue;
    let target: { partition: number; offset: string }[] = [];
    if (start.kind === "timestamp") {
      target = await admin.offsetsForTimestamp(topic, start.timestampMs);
      if (target.some((p) => Number(p.offset) < 0)) {
        // No record at or after the timestamp: the end of the partition.
        const ends = new Map((await admin.endOffsets(topic)).map((p) => [p.partition, p.offset]));
        target = target.map((p) =>
          Number(p.offset) < 0 ? { ...p, offset: ends.get(p.partition) ?? "0" } : p
        );
      }
    } else if (start.kind === "offsets") {
      target = start.offsets.filter((o) => o.topic === topic)
        .map((o) => ({ partition: o.partition, offset: o.offset }));
    } else if (options.force) {
      target = start.kind === "earliest"
        ? await admin.startOffsets(topic)
        : await admin.endOffsets(topic);
    } else continue; // the consumer's fromBeginning covers uncommitted partitions
    target = target.filter((p) => open.has(p.partition));
    if (!target.length) continue;
    await admin.setGroupOffsets(groupId, topic, target);
    options.log.info("group offsets set", {
      groupId,
      topic,
      partitions: target,
      start: start.kind,
    });
  }
  return { fromBeginning };
}
