/**
 * Photometry points this archiver has seen committed, so that a batch does not
 * send them again. An optical alert repeats its object's history
 * (`prv_candidates`): in the end-to-end bench four of five points a batch sent
 * were already stored, and each cost the JSON it travelled in, its parse on
 * the server and a primary-key probe before `ON CONFLICT DO NOTHING` dropped it.
 *
 * Exact: a point is remembered only after the batch that carried it committed
 * with every one of its alerts inserted (a batch with a redelivered alert
 * teaches nothing: that alert's points were not written by it), and a point
 * remembered is in the archive for good (the archive only appends). What is
 * forgotten is sent again and skipped by the server as before. Bounded: two
 * generations of at most `max` keys each; the older one is dropped when the
 * newer fills.
 *
 * @module
 */
import type { ArchiveItem, PhotometryRow } from "../../db/archive.ts";

/**
 * One generation: measurement ids by candidate. Looked up by the candidate's id string (one
 * hash per alert, the string JSON.parse made) and then the numeric id, rather than by a
 * `candidate\0candid` string built per point: building and hashing that string per point was
 * 13–15% of the archiver's CPU at 1,000 alerts/s (profile of the e2e bench).
 */
class Generation {
  readonly byCandidate = new Map<string, Set<number>>();
  size = 0;

  has(candidate: string, candid: number): boolean {
    return this.byCandidate.get(candidate)?.has(candid) ?? false;
  }
}

/** Committed photometry points, by (candidate, measurement id). */
export class KnownPoints {
  #young = new Generation();
  #old = new Generation();

  /** `max`: keys per generation (0 remembers nothing). */
  constructor(readonly max: number) {}

  /** Points remembered (both generations; a key may be in both). */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  /** Whether the point is known to be archived. */
  has(p: PhotometryRow): boolean {
    return this.#young.has(p.candidate_id, p.candid) || this.#old.has(p.candidate_id, p.candid);
  }

  /** `items` without the photometry rows known to be archived (items without any are kept as is). */
  unsent(items: readonly ArchiveItem[]): ArchiveItem[] {
    if (this.max === 0) return [...items];
    return items.map((it) => {
      if (!it.photometry.length) return it;
      // An alert's points are one candidate's, mostly: its sets are found once.
      let candidate: string | undefined;
      let young: Set<number> | undefined;
      let old: Set<number> | undefined;
      const photometry = it.photometry.filter((p) => {
        if (p.candidate_id !== candidate) {
          candidate = p.candidate_id;
          young = this.#young.byCandidate.get(candidate);
          old = this.#old.byCandidate.get(candidate);
        }
        return !(young?.has(p.candid) || old?.has(p.candid));
      });
      return photometry.length === it.photometry.length ? it : { ...it, photometry };
    });
  }

  /** Remembers the photometry of a committed batch whose alerts were all inserted. */
  remember(items: readonly ArchiveItem[]): void {
    if (this.max === 0) return;
    for (const it of items) {
      let candidate: string | undefined;
      let set: Set<number> | undefined;
      for (const p of it.photometry) {
        if (p.candidate_id !== candidate || set === undefined) {
          candidate = p.candidate_id;
          set = this.#young.byCandidate.get(candidate);
        }
        if (set?.has(p.candid)) continue;
        if (this.#young.size >= this.max) {
          this.#old = this.#young;
          this.#young = new Generation();
          set = undefined;
        }
        if (set === undefined) {
          set = new Set();
          this.#young.byCandidate.set(candidate, set);
        }
        set.add(p.candid);
        this.#young.size++;
      }
    }
  }
}
