/**
 * Waiting for a pipeline to converge without a speed target: a wait fails only
 * when nothing moved for `stallMs` (a stuck pipeline), never because a loaded
 * machine is slow. Progress is printed as it goes.
 *
 * @module
 */
import { sleep } from "../actors/runtime/testing.ts";

/** One look at the pipeline. */
export interface Probe {
  /** True when the wait is over. */
  readonly done: boolean;
  /** A number that grows while work is being done (e.g. rows written + messages acked). */
  readonly progress: number;
  /** What to print (and to fail with). */
  readonly detail: string;
}

/**
 * Polls `probe` every `everyMs` until it reports done; throws with the last
 * detail when `progress` did not change for `stallMs`.
 */
export async function waitWhileProgressing(
  what: string,
  probe: () => Promise<Probe>,
  options: { stallMs?: number; everyMs?: number; printEveryMs?: number } = {},
): Promise<Probe> {
  const stallMs = options.stallMs ?? 120_000;
  const everyMs = options.everyMs ?? 500;
  const printEveryMs = options.printEveryMs ?? 15_000;
  let lastProgress = Number.NaN;
  let lastChange = Date.now();
  let lastPrint = 0;
  let last: Probe | undefined;
  let lastError = "";
  for (;;) {
    try {
      last = await probe();
      lastError = "";
      if (last.done) return last;
      if (last.progress !== lastProgress) {
        lastProgress = last.progress;
        lastChange = Date.now();
      }
      if (Date.now() - lastPrint >= printEveryMs) {
        lastPrint = Date.now();
        console.error(`[waiting for ${what}] ${last.detail}`);
      }
    } catch (err) {
      lastError = (err as Error).message; // a server restarting: keep polling
    }
    if (Date.now() - lastChange > stallMs) {
      throw new Error(
        `no progress for ${stallMs / 1000} s waiting for ${what}: ${last?.detail ?? "(no probe)"}` +
          (lastError ? `; last probe error: ${lastError}` : ""),
      );
    }
    await sleep(everyMs);
  }
}
