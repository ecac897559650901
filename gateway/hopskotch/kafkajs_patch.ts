/**
 * A fix for kafkajs 2.2.4's request queue, applied when the kafkajs driver is loaded.
 *
 * After the first response on a broker connection, kafkajs re-arms a timer on every check of its
 * pending requests even when none is pending: the delay is then `throttledUntil (-1) − now`,
 * negative, which timers clamp to 1 ms, so every connection wakes its process about 500–1,000
 * times a second for as long as it is open, idle or not (upstream issues tulios/kafkajs#1556,
 * #1604, #1704 and #1751; the fixes proposed in pull requests #1667 and #1768 were never released,
 * and 2.2.4 is the last release). On this project's 2-core machine an idle process holding a
 * kafkajs admin client and a producer woke 478 times a second and spent 30 ms of CPU a second on
 * it (with the fix: 32 and 3–7); the idle inbound gateway woke 508 times a second (with the fix:
 * 38–60) (docs/hopskotch.md, "kafkajs' idle timer loop").
 *
 * The fix keeps kafkajs' own scheduling whenever a request is waiting (throttled by the broker or
 * held back by the in-flight limit: it still checks again when the throttle ends, or within 10 ms)
 * and schedules nothing when the queue is empty: a request pushed later is sent at once or
 * schedules its own check.
 *
 * @module
 */
import RequestQueue from "kafkajs/src/network/requestQueue/index.js";

/** The parts of kafkajs' `RequestQueue` the fix reads (internal API of kafkajs 2.2.4). */
interface QueueInternals {
  pending: unknown[];
  scheduleCheckPendingRequests(): void;
}

const PATCHED = Symbol.for("kilonova-broker.kafkajs.idleTimerFix");

/**
 * Applies the fix to kafkajs' request queue class (once; later calls do nothing). Throws when
 * kafkajs no longer has the method it replaces: a kafkajs upgrade must check whether the bug is
 * still there, then update or delete this module.
 */
export function fixKafkajsIdleTimer(): void {
  const proto = (RequestQueue as unknown as { prototype: QueueInternals & Record<symbol, true> })
    .prototype;
  if (proto[PATCHED]) return;
  const original = proto.scheduleCheckPendingRequests;
  if (typeof original !== "function") {
    throw new Error(
      "kafkajs' RequestQueue has no scheduleCheckPendingRequests: this kafkajs is not 2.2.4; " +
        "check whether its idle 1 ms timer loop is fixed, then update or remove " +
        "gateway/hopskotch/kafkajs_patch.ts",
    );
  }
  proto.scheduleCheckPendingRequests = function (this: QueueInternals) {
    if (this.pending.length === 0) return;
    original.call(this);
  };
  proto[PATCHED] = true;
}

fixKafkajsIdleTimer();
