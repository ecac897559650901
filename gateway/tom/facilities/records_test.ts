/**
 * applyState on both backends (the real PostgreSQL and the embedded PGlite): a
 * record's state and its history row change together or not at all, once per
 * state, and a terminal record never changes.
 */
import assert from "node:assert/strict";
import { BACKENDS, createTestDatabase } from "../../../db/testing.ts";
import { createTarget } from "../store/targets.ts";
import { applyState } from "./records.ts";

for (const backend of BACKENDS) {
  Deno.test(`records (${backend}): a state and its history row change together`, async () => {
    const db = await createTestDatabase(backend);
    try {
      const sql = db.sql;
      const target = await createTarget(sql, {
        name: "AT2017gfo",
        ra: 197.450374,
        dec: -23.381495,
      });
      const [{ id }] = await sql<{ id: number }[]>`insert into tom_observation_records
        (target_id, facility, observation_id, status, parameters, requested_by)
        values (${target}, 'LCO', 'grp-1', 'PENDING', '{}', 'test') returning id`;
      const record = async () => {
        const [r] = await sql<{ status: string; terminal: boolean }[]>`
          select status, terminal from tom_observation_records where id = ${id}`;
        return [r.status, r.terminal];
      };
      const history = async () =>
        (await sql<{ status: string; source: string }[]>`select status, source
          from tom_observation_states where record_id = ${id} order by at, status`)
          .map((r) => `${r.status}/${r.source}`);

      // A history row the database refuses (its source check) leaves the record as it was:
      // no reader ever sees a status its history lacks.
      await assert.rejects(
        applyState(sql, { id: Number(id) }, "COMPLETED", "done", "bogus" as "event"),
        /check constraint/,
      );
      assert.deepEqual(await record(), ["PENDING", false]);
      assert.deepEqual(await history(), []);

      // By the facility's id: the record and its history move together, once per state.
      const where = { facility: "LCO", observationId: "grp-1" };
      assert.equal(await applyState(sql, where, "COMPLETED", "done", "event"), true);
      assert.equal(await applyState(sql, where, "COMPLETED", "again", "reconcile"), false);
      assert.deepEqual(await record(), ["COMPLETED", true]);
      assert.deepEqual(await history(), ["COMPLETED/event"]);

      // A terminal record never changes, by its id either.
      assert.equal(await applyState(sql, { id: Number(id) }, "CANCELED", "late", "cancel"), false);
      assert.deepEqual(await record(), ["COMPLETED", true]);
      assert.deepEqual(await history(), ["COMPLETED/event"]);
    } finally {
      await db.drop();
    }
  });
}
