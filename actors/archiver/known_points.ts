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

const key = (p: PhotometryRow) => `${p.candidate_id}\u0000${p.candid}`;

/** Committed photometry points, by (candidate, measurement id). */
export class KnownPoints {
  #young = new Set<string>();
  #old = new Set<string>();

  /** `max`: keys per generation (0 remembers nothing). */
  constructor(readonly max: number) {}

  /** Points remembered (both generations; a key may be in both). */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  /** Whether the point is known to be archived. */
  has(p: PhotometryRow): boolean {
    const k = key(p);
    return this.#young.has(k) || this.#old.has(k);
  }

  /** `items` without the photometry rows known to be archived (items without any are kept as is). */
  unsent(items: readonly ArchiveItem[]): ArchiveItem[] {
    if (this.max === 0) return [...items];
    return items.map((it) => {
      if (!it.photometry.length) return it;
      const photometry = it.photometry.filter((p) => !this.has(p));
      return photometry.length === it.photometry.length ? it : { ...it, photometry };
    });
  }

  /** Remembers the photometry of a committed batch whose alerts were all inserted. */
  remember(items: readonly ArchiveItem[]): void {
    if (this.max === 0) return;
    for (const it of items) {
      for (const p of it.photometry) {
        const k = key(p);
        if (this.#young.has(k)) continue;
        if (this.#young.size >= this.max) {
          this.#old = this.#young;
          this.#young = new Set();
        }
        this.#young.add(k);
      }
    }
  }
}
