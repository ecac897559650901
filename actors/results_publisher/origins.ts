/**
 * Where archived alerts came from (topic, partition, offset, hop `_id`), kept
 * in memory: every derived alert names all its input alerts, so a candidate's
 * n-th derived alert read the same n-1 rows again (about ten rows per derived
 * alert in `deno task bench e2e`, up to `maxInputIds` with long light curves).
 * An archived alert's row never changes (the archive only inserts, once per
 * message id), so a row read once can be reused as is; an id not archived yet
 * is not remembered and is asked for again. Bounded: least recently used
 * first out.
 *
 * @module
 */
import type { TxSql } from "../../db/connect.ts";
import { type AlertOrigin, alertsByMsgIds } from "../../db/queries.ts";

/** Archived alerts' origins by message id, with the database behind. */
export class OriginCache {
  readonly #rows = new Map<string, AlertOrigin>();

  /** `max`: origins kept (0 keeps none: every read goes to the database). */
  constructor(readonly max: number) {}

  /** Origins held. */
  get size(): number {
    return this.#rows.size;
  }

  /** The origins of `ids` that are archived (others absent), reading only those not held. */
  async get(tx: TxSql, ids: readonly string[]): Promise<Map<string, AlertOrigin>> {
    const out = new Map<string, AlertOrigin>();
    const unknown: string[] = [];
    for (const id of new Set(ids)) {
      const row = this.#rows.get(id);
      if (row) {
        // Most recently used last: Map order is the eviction order.
        this.#rows.delete(id);
        this.#rows.set(id, row);
        out.set(id, row);
      } else unknown.push(id);
    }
    if (unknown.length) {
      for (const row of await alertsByMsgIds(tx, unknown)) {
        out.set(row.msg_id, row);
        if (this.max > 0) {
          this.#rows.set(row.msg_id, row);
          if (this.#rows.size > this.max) this.#rows.delete(this.#rows.keys().next().value!);
        }
      }
    }
    return out;
  }
}
