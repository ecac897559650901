/**
 * Persistence of the simulated observatory's request groups: a JSON state file
 * (`observatory-<facility>.json` in `KB_OBSERVATORY_STATE_DIR`) rewritten
 * atomically after every change — written to a temporary file in the same
 * directory, flushed to disk, then renamed over the old one — so a crash leaves
 * either the old or the new state, never half a file. A restarted observatory
 * loads it and resumes every pending request (see {@link Observatory.restore}).
 *
 * Why a file and not PostgreSQL: the simulated observatory stands for someone
 * else's system (LCO's), holds a handful of request groups, and must run in the
 * zero-set-up demo and the tests without a database of its own.
 *
 * @module
 */
import { z } from "zod";
import { OcsRequestGroup } from "../../gateway/tom/facilities/ocs.ts";

/** Progress of one pending request (attempts so far, where the next slot search starts). */
export const RequestRunState = z.object({
  attempts: z.number().int().min(0),
  from: z.iso.datetime({ offset: true }),
});

/** Everything the observatory must remember across a restart. */
export const ObservatorySnapshot = z.object({
  version: z.literal(1),
  nextGroup: z.number().int().min(1),
  nextRequest: z.number().int().min(1),
  groups: z.array(OcsRequestGroup),
  /** Runs of pending requests, by request id. */
  runs: z.record(z.string(), RequestRunState),
});
/** Everything the observatory must remember across a restart. */
export type ObservatorySnapshot = z.infer<typeof ObservatorySnapshot>;

/** Where the observatory keeps its state. */
export interface ObservatoryStore {
  /** Where (for logs). */
  readonly location: string;
  /** The saved state, or undefined when there is none yet. */
  load(): Promise<ObservatorySnapshot | undefined>;
  /** Replaces the saved state. */
  save(snapshot: ObservatorySnapshot): Promise<void>;
}

/** A JSON state file in `dir`, named after the facility, replaced atomically. */
export function fileStateStore(dir: string, facility: string): ObservatoryStore {
  if (!/^[A-Za-z0-9_-]+$/.test(facility)) {
    throw new Error(`facility "${facility}" cannot name a state file: use letters, digits, _ or -`);
  }
  const path = `${dir.replace(/\/$/, "")}/observatory-${facility}.json`;
  const te = new TextEncoder();
  return {
    location: path,
    async load() {
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return undefined;
        throw new Error(`cannot read the observatory state ${path}: ${(err as Error).message}`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new Error(
          `the observatory state ${path} is not JSON (${(err as Error).message}): ` +
            "restore it from a backup or remove it to start empty",
        );
      }
      const parsed = ObservatorySnapshot.safeParse(json);
      if (!parsed.success) {
        throw new Error(
          `the observatory state ${path} is not a version-1 snapshot (${
            parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`)
              .join("; ")
          }): restore it from a backup or remove it to start empty`,
        );
      }
      return parsed.data;
    },
    async save(snapshot) {
      await Deno.mkdir(dir, { recursive: true });
      const tmp = `${path}.tmp-${Deno.pid}`;
      const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
      try {
        const bytes = te.encode(JSON.stringify(snapshot));
        for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
        await file.syncData();
      } finally {
        file.close();
      }
      await Deno.rename(tmp, path);
    },
  };
}
