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
 * How: `max` clients of one connection each, chosen as postgres.js's pool
 * chose connections: an idle one first, else a busy one to pipeline on (as
 * postgres.js does), never one inside a transaction (`begin`) while another is
 * free (the pool never sent a query to a reserved connection). Ties go to the
 * client whose turn it is; a turn lasts one round of the event loop, so the
 * queries made together leave in one write, and the next round starts at the
 * next client. Fragments, identifiers and
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
  /** Queries each client is running (handed to its connection, not yet answered). */
  const inFlight = new Array<number>(n).fill(0);
  let current = 0;
  let turnEnds = false;
  const after = (i: number) => i + 1 === n ? 0 : i + 1;
  const endTurn = () => {
    turnEnds = false;
    current = after(current);
  };
  /**
   * Where a query goes, as postgres.js's pool chose a connection: an idle client (nothing in
   * flight, no transaction) if there is one, else a busy one to pipeline on, never one inside
   * a transaction while another is free. Both searches start at the client whose turn it is;
   * a turn lasts until the event loop's next round, so queries made together (before any of
   * them is handed over) share one connection and leave in one write, and the next round
   * starts at the next client.
   */
  const pick = (): number => {
    if (!turnEnds) {
      turnEnds = true;
      setImmediate(endTurn);
    }
    for (let k = 0, i = current; k < n; k++, i = after(i)) {
      if (inTx[i] === 0 && inFlight[i] === 0) return i;
    }
    for (let k = 0, i = current; k < n; k++, i = after(i)) {
      if (inTx[i] === 0) return i;
    }
    return current;
  };
  /**
   * Counts `q` in client `i`'s flight from when postgres.js hands it over (its `handler`: a
   * query used as a fragment of another is never handed over, so never counted) to its answer.
   */
  // deno-lint-ignore no-explicit-any
  const track = (i: number, q: any) => {
    const handler = q?.handler;
    if (typeof handler !== "function") return q;
    // deno-lint-ignore no-explicit-any
    const counted = (query: any) => {
      inFlight[i]++;
      let open = true;
      const settle = () => {
        if (open) {
          open = false;
          inFlight[i]--;
        }
      };
      const { resolve, reject } = query;
      query.resolve = (x: unknown) => (settle(), resolve(x));
      query.reject = (x: unknown) => (settle(), reject(x));
      return handler(query);
    };
    counted.debug = handler.debug;
    q.handler = counted;
    return q;
  };
  const first = clients[0];
  // deno-lint-ignore no-explicit-any
  const call = function (this: unknown, strings: any, ...args: any[]) {
    // A tagged template is a query: the picked client runs it. Identifiers and helpers
    // (`sql("name")`, `sql(rows, "a", "b")`) are the same whichever client makes them.
    if (!(strings && Array.isArray(strings.raw))) return first(strings, ...args);
    const i = pick();
    return track(i, clients[i](strings, ...args));
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
    unsafe: (...a: any[]) => {
      const i = pick();
      // deno-lint-ignore no-explicit-any
      return track(i, (clients[i].unsafe as any)(...a));
    },
    // deno-lint-ignore no-explicit-any
    file: (...a: any[]) => {
      const i = pick();
      // deno-lint-ignore no-explicit-any
      return track(i, (clients[i].file as any)(...a));
    },
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
