/**
 * `derivedRows` reads, for several candidates in one statement, the same
 * candidates and points as `getCandidate` + `candidatePhotometry` do one
 * candidate at a time, the same numbers to the bit (awkward floats, -0,
 * non-finite values), on both databases.
 */
import assert from "node:assert/strict";
import { candidatePhotometry, getCandidate } from "../../db/queries.ts";
import { BACKENDS, createTestDatabase } from "../../db/testing.ts";
import { archiveCandidates } from "../archiver/testing.ts";
import { type DerivedPoint, derivedRows } from "./derived_rows.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const FIELDS = [
  "candidate_id",
  "mjd",
  "band",
  "mag",
  "mag_err",
  "limiting_mag",
  "upper_limit",
  "mag_system",
  "instrument",
] as const satisfies readonly (keyof DerivedPoint)[];

for (const backend of BACKENDS) {
  Deno.test(
    `derivedRows (${backend}) reads what getCandidate + candidatePhotometry read`,
    opts,
    async () => {
      const db = await createTestDatabase(backend);
      try {
        await archiveCandidates(db.sql, [["ZTF-P", 5], ["ZTF-Q", 2]]);
        // Awkward values no fixture makes: shortest round-trip texts, -0, non-finite, nulls, an
        // MJD tie broken by candid, a Vega point and an upper limit.
        await db.sql`
        insert into photometry (candidate_id, candid, alert_id, mjd, ra, dec, band, mag, mag_err,
          limiting_mag, upper_limit, mag_system, instrument, reference)
        values
          ('ZTF-P', 9001, 1, 60000.123456789012, 1, 2, 'g', 0.30000000000000004, 1e-300,
            5e-324, false, 'AB', 'ZTF/cam', null),
          ('ZTF-P', 9002, 1, 60000.123456789012, 1, 2, 'r', '-0', 'NaN', 'Infinity', false,
            'Vega', 'ZTF', 'ref'),
          ('ZTF-P', 9003, 1, 60000.2, 1, 2, 'i', null, null, '-Infinity', true, null,
            'LSST/a/b', null)`;
        const ids = ["ZTF-Q", "ZTF-NONE", "ZTF-P"];
        for (const limit of [0, 3, 200]) {
          const got = await derivedRows(db.sql, ids, limit);
          assert.deepEqual([...got.keys()].sort(), [...ids].sort());
          for (const id of ids) {
            const c = await getCandidate(db.sql, id);
            assert.deepEqual(
              got.get(id)?.candidate,
              c && { candidate_id: c.candidate_id, ra: c.ra, dec: c.dec, first_mjd: c.first_mjd },
            );
            const want = (await candidatePhotometry(db.sql, id, { limit })).map((p) =>
              Object.fromEntries(FIELDS.map((k) => [k, p[k]]))
            );
            const have = got.get(id)!.photometry.map((p) =>
              Object.fromEntries(FIELDS.map((k) => [k, p[k]]))
            );
            assert.deepEqual(have, want, `${id}, limit ${limit}`);
          }
        }
        const p = (await derivedRows(db.sql, ["ZTF-P"], 200)).get("ZTF-P")!.photometry;
        assert.ok(Object.is(p.find((x) => x.band === "r")!.mag, -0), "-0 kept");
        assert.ok(Number.isNaN(p.find((x) => x.band === "r")!.mag_err), "NaN kept");
        assert.equal(p.find((x) => x.band === "i")!.limiting_mag, -Infinity);
        assert.equal(p.find((x) => x.band === "g")!.mag, 0.30000000000000004);
        assert.deepEqual(await derivedRows(db.sql, [], 200), new Map());
      } finally {
        await db.drop();
      }
    },
  );
}
