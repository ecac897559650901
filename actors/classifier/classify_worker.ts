/**
 * A batch worker of `deno task classify`: reads, parses and scores the files
 * it is sent, one message per file, and answers each with its report or its
 * error. The sky map is never sent: only its location at the candidate.
 *
 * @module
 */
import { readLightCurveFile } from "./lightcurve_file.ts";
import { type OnDemandOptions, scoreParsed } from "./on_demand.ts";

/** A job sent to the worker. */
export interface WorkerJob {
  readonly index: number;
  readonly path: string;
  readonly options: OnDemandOptions;
}

/** A worker's answer. */
export type WorkerAnswer =
  | { readonly index: number; readonly report: import("./on_demand.ts").LightCurveReport }
  | { readonly index: number; readonly error: string };

/** Scores one file; errors become answers, never exceptions. */
export async function runJob(job: WorkerJob): Promise<WorkerAnswer> {
  try {
    const parsed = await readLightCurveFile(job.path);
    return { index: job.index, report: scoreParsed(parsed, job.options) };
  } catch (e) {
    return { index: job.index, error: (e as Error).message };
  }
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  scope.onmessage = async (ev: MessageEvent<WorkerJob>) => {
    scope.postMessage(await runJob(ev.data));
  };
}
