/**
 * The runtime's policies as middleware around a message processor, after
 * Watermill's router middleware: retries, dead letters, size limits, redelivery
 * limits, ack-wait heartbeats and metrics are never code in actors.
 *
 * A {@link Processor} takes a delivery and settles it (ack, nak or term),
 * returning what it did; a {@link Middleware} wraps one processor in another.
 *
 * @module
 */
import type { DeadLetterReason } from "../../contracts/messages.ts";
import { Rejection } from "./actor.ts";
import type { Logger } from "./log.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import type { Delivery } from "./transport.ts";

/** How a delivery was settled. */
export type Outcome = "acked" | "retried" | "dead_lettered";

/** Handles one delivery and settles it. Throws when it could not. */
export type Processor = (delivery: Delivery) => Promise<Outcome>;

/** Wraps a processor. */
export type Middleware = (next: Processor) => Processor;

/** Applies middlewares, the first one outermost. */
export function compose(middlewares: readonly Middleware[], core: Processor): Processor {
  return middlewares.reduceRight<Processor>((next, mw) => mw(next), core);
}

/** Publishes a dead letter for a delivery; throws when the dead-letter stream did not take it. */
export type DeadLetterSink = (
  delivery: Delivery,
  reason: DeadLetterReason,
  detail: string,
) => Promise<void>;

/** Exponential back-off: `base · 2^(attempt−1)`, capped, with ±20% jitter. */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}

/**
 * Retries failures by nak with back-off; dead-letters rejections at once and
 * other failures after `maxAttempts` deliveries. If the dead-letter stream
 * refuses, the delivery is naked for later: nothing is ever dropped.
 */
export function retryOrDeadLetter(options: {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  deadLetter: DeadLetterSink;
  log: Logger;
}): Middleware {
  return (next) => async (d) => {
    try {
      return await next(d);
    } catch (err) {
      const rejected = err instanceof Rejection;
      const detail = rejected ? err.message : describe(err);
      if (rejected || d.deliveryCount >= options.maxAttempts) {
        const reason: DeadLetterReason = rejected ? err.reason : "handler_failed";
        try {
          await options.deadLetter(d, reason, detail);
        } catch (dlqErr) {
          const delay = backoff(d.deliveryCount, options.backoffBaseMs, options.backoffMaxMs);
          options.log.error("dead-letter publish failed; message handed back for retry", {
            msgId: d.msgId,
            seq: d.streamSeq,
            reason,
            error: describe(dlqErr),
            retryInMs: delay,
          });
          d.nak(delay);
          return "retried";
        }
        options.log.warn("message dead-lettered", {
          msgId: d.msgId,
          seq: d.streamSeq,
          reason,
          detail,
          attempts: d.deliveryCount,
        });
        d.term(reason);
        return "dead_lettered";
      }
      const delay = backoff(d.deliveryCount, options.backoffBaseMs, options.backoffMaxMs);
      options.log.warn("handler failed; will retry", {
        msgId: d.msgId,
        seq: d.streamSeq,
        attempt: d.deliveryCount,
        retryInMs: delay,
        error: detail,
      });
      d.nak(delay);
      return "retried";
    }
  };
}

/**
 * Rejects a delivery seen more than `maxAttempts` times: earlier attempts never
 * settled (the replica crashed or overran its ack wait), so the message is
 * probably what kills replicas.
 */
export function redeliveryLimit(maxAttempts: number): Middleware {
  return (next) => (d) => {
    if (d.deliveryCount > maxAttempts) {
      return Promise.reject(
        new Rejection(
          "redelivery_limit",
          `delivered ${d.deliveryCount} times without being settled (replica crashes or ack-wait ` +
            `timeouts); limit is ${maxAttempts}`,
        ),
      );
    }
    return next(d);
  };
}

/** Rejects payloads over `maxBytes`. */
export function sizeLimit(maxBytes: number): Middleware {
  return (next) => (d) => {
    if (d.data.byteLength > maxBytes) {
      return Promise.reject(
        new Rejection("oversize", `payload is ${d.data.byteLength} bytes; limit is ${maxBytes}`),
      );
    }
    return next(d);
  };
}

/**
 * Tells the server the work goes on while a delivery is handled: one timer per
 * replica calls `working()` on every delivery in flight for longer than a
 * third of the ack wait (a timer per message would cost more than the work).
 */
export function ackWaitHeartbeat(ackWaitMs: number): Middleware & { stop(): void } {
  const every = Math.max(50, Math.floor(ackWaitMs / 3));
  // Deliveries in flight, by the tick count when last marked (a coarse clock:
  // no system call per message).
  const active = new Map<Delivery, number>();
  const tickMs = Math.max(25, Math.floor(every / 2));
  const ticksPerBeat = Math.ceil(every / tickMs);
  let ticks = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  const tick = () => {
    ticks++;
    for (const [d, since] of active) {
      if (ticks - since >= ticksPerBeat) {
        d.working();
        active.set(d, ticks);
      }
    }
  };
  const mw: Middleware = (next) => async (d) => {
    timer ??= setInterval(tick, tickMs);
    active.set(d, ticks);
    try {
      return await next(d);
    } finally {
      active.delete(d);
    }
  };
  return Object.assign(mw, {
    stop: () => {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  });
}

/** Counts deliveries and outcomes, times handling, tracks work in flight. */
export function instrument(metrics: RuntimeMetrics, actor: string): Middleware {
  // Label children resolved once: hashing the label set per message costs more than the count.
  const received = metrics.received.labels(actor);
  const handled = metrics.handled.labels(actor);
  const failed = metrics.failed.labels(actor);
  const retried = metrics.retried.labels(actor);
  const inFlight = metrics.inFlight.labels(actor);
  const latency = metrics.latency.labels(actor);
  return (next) => async (d) => {
    received.inc();
    inFlight.inc();
    const start = performance.now();
    try {
      const outcome = await next(d);
      if (outcome === "acked") handled.inc();
      else failed.inc();
      if (outcome === "retried") retried.inc();
      return outcome;
    } catch (err) {
      failed.inc();
      throw err;
    } finally {
      latency.observe((performance.now() - start) / 1000);
      inFlight.dec();
    }
  };
}

/** A one-line description of an error, for logs and dead letters. */
export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
