/**
 * A pool of one-connection postgres.js clients behind one `Sql` face, so that
 * a long-lived busy process does not get slower with every query it makes.
 *
 * Why: postgres.js 3.4.9 (the latest release) keeps its pool's connections in
 * queues (`src/queue.js`) whose `shift()` only blanks the slot it takes; the
 * backing array is emptied only when a shift takes the last element. With two
 * or more connections in use, the idle and busy queues rarely run empty, so
 * every query leaves one more blank slot behind, and moving a connection
 * between queues (`remove`, an `indexOf` from the start) scans all of them.
 * Measured: 32 queries in flight on a pool of 4, `select 1`, 15.9 → 37.1 µs of
 * client CPU per query over 240,000 queries; the TOM under wrk, 148 → 197 µs
 * per list request over 320,000 requests (docs/tom.md, "Sixth round"). With one
 * connection per client the queues hold at most one connection, so every
 * shift empties them and nothing accumulates.
 *
 * How: `max` clients of one connection each, taking turns: the queries made
 * in one round of the event loop go to one client (they leave in one write),
 * the next round's to the next one, skipping clients inside a transaction
 * (`begin`) while any other is free — as postgres.js's own pool does not send
 * a query to a reserved connection. Queries on one client are pipelined on its
 * connection, as postgres.js does on a busy connection of a pool. Fragments, identifiers and
 * parameters (`sql\`…\`` inside a query, `sql(name)`, `sql.json`, …) do not
 * depend on the client that made them (one set of options), so they can be
 * used in a query of any client.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type postgres from "postgres";

/** One `Sql` face over `clients` (each a one-connection postgres.js client made with the same options). */
export function shardedSql(clients: readonly postgres.Sql[]): postgres.Sql {
  if (clients.length === 0) throw new Error("shardedSql: give at least one client");
  if (clients.length === 1) return clients[0];
  const n = clients.length;
  const inTx = new Array<number>(n).fill(0);
  let current = 0;
  let turnEnds = false;
  const endTurn = () => {
    turnEnds = false;
    current = current + 1 === n ? 0 : current + 1;
  };
  /**
   * The client whose turn it is, unless it is inside a transaction (then the next free one).
   * A turn lasts until the event loop's next round: queries made together share one
   * connection and leave in one write (postgres.js sends a connection's queries of one round
   * together), and the next round's go to the next client.
   */
  const pick = (): number => {
    if (!turnEnds) {
      turnEnds = true;
      setImmediate(endTurn);
    }
    for (let k = 0, i = current; k < n; k++, i = i + 1 === n ? 0 : i + 1) {
      if (inTx[i] === 0) return i;
    }
    return current;
  };
  const first = clients[0];
  // deno-lint-ignore no-explicit-any
  const call = function (this: unknown, strings: any, ...args: any[]) {
    // A tagged template is a query: the next client runs it. Identifiers and helpers
    // (`sql("name")`, `sql(rows, "a", "b")`) are the same whichever client makes them.
    const c = strings && Array.isArray(strings.raw) ? clients[pick()] : first;
    return c(strings, ...args);
  };
  const face = Object.assign(call, {
    types: first.types,
    typed: first.typed,
    array: first.array,
    json: first.json,
    CLOSE: first.CLOSE,
    END: first.END,
    PostgresError: first.PostgresError,
    // deno-lint-ignore no-explicit-any
    unsafe: (...a: any[]) => (clients[pick()].unsafe as any)(...a),
    // deno-lint-ignore no-explicit-any
    file: (...a: any[]) => (clients[pick()].file as any)(...a),
    notify: (channel: string, payload: string) => clients[pick()].notify(channel, payload),
    // One LISTEN connection for the face (postgres.js opens a dedicated one per client).
    listen: first.listen,
    subscribe: first.subscribe,
    // deno-lint-ignore no-explicit-any
    largeObject: (...a: any[]) => (clients[pick()].largeObject as any)(...a),
    reserve: () => clients[pick()].reserve(),
    // deno-lint-ignore no-explicit-any
    begin: async (...a: any[]) => {
      const i = pick();
      inTx[i]++;
      try {
        // deno-lint-ignore no-explicit-any
        return await (clients[i].begin as any)(...a);
      } finally {
        inTx[i]--;
      }
    },
    end: async (options?: { timeout?: number }) => {
      await Promise.all(clients.map((c) => c.end(options)));
    },
    // Not in postgres.js's types, but on its clients: end without waiting for queries.
    close: async () => {
      // deno-lint-ignore no-explicit-any
      await Promise.all(clients.map((c) => (c as any).close()));
    },
  });
  Object.defineProperties(face, {
    options: { get: () => first.options },
    parameters: { get: () => first.parameters },
  });
  return face as unknown as postgres.Sql;
}
