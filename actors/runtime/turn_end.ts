/**
 * Work put off to the end of the current burst and run together:
 * acknowledgements and publishes queued by many handlers go to nats.js in one
 * synchronous run, which it writes to the socket in one system call (it
 * flushes once per microtask checkpoint: handlers finishing in different
 * microtasks otherwise cost one write each).
 *
 * The end of the burst is `setImmediate`: once the current task and every
 * microtask it queued have run (a few µs later). Not `setTimeout(0)`, which
 * Deno fires ~2 ms later at the earliest: a publish would wait that long at
 * every stage of the pipeline.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";

const flushes: (() => void)[] = [];
let timer: ReturnType<typeof setImmediate> | undefined;

/**
 * Runs `flush` at the end of the current burst, together with every other
 * flush registered meanwhile (each once, in registration order). Call it when
 * a queue goes from empty to non-empty.
 */
export function atTurnEnd(flush: () => void): void {
  if (!flushes.includes(flush)) flushes.push(flush);
  timer ??= setImmediate(runTurnEnd);
}

/** Runs the registered flushes now (e.g. before closing a connection). */
export function runTurnEnd(): void {
  if (timer !== undefined) clearImmediate(timer);
  timer = undefined;
  const now = flushes.splice(0);
  for (const f of now) f();
}
