import assert from "node:assert/strict";
import { angularDistance, radecToPixel } from "./healpix_index.ts";
import { coneSearch } from "./queries.ts";
import { BACKENDS, createTestDatabase } from "./testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function rng(seed: number) {
  let s = seed;
  return () => (s = (s * 48271) % 2147483647) / 2147483647;
}

/** Random sky positions, concentrated near the poles and the RA 0/360 seam as well as uniform. */
function positions(n: number, seed: number): { ra: number; dec: number }[] {
  const r = rng(seed);
  const out: { ra: number; dec: number }[] = [
    { ra: 0, dec: 90 },
    { ra: 180, dec: -90 },
    { ra: 0, dec: 0 },
    { ra: 359.999999, dec: 0 },
  ];
  for (let i = 0; i < n; i++) {
    const u = r();
    if (u < 0.5) out.push({ ra: r() * 360, dec: Math.asin(2 * r() - 1) * 180 / Math.PI });
    else if (u < 0.7) out.push({ ra: r() * 360, dec: 89 + r() * 1 }); // north cap
    else if (u < 0.85) out.push({ ra: r() * 360, dec: -90 + r() * 1 }); // south cap
    else out.push({ ra: (360 + (r() - 0.5) * 4) % 360, dec: (r() - 0.5) * 20 }); // RA seam
  }
  return out;
}

for (const backend of BACKENDS) {
  Deno.test(
    `cone search (${backend}) equals brute force, poles and RA wrap included`,
    opts,
    async () => {
      const db = await createTestDatabase(backend);
      try {
        const pts = positions(3000, 42).map((p, i) => ({
          candidate_id: `c${i}`,
          survey: "test",
          ra: p.ra,
          dec: p.dec,
          hpx: radecToPixel(p.ra, p.dec),
          first_mjd: 60000,
          last_mjd: 60000,
          n_alerts: 1,
          first_alert_id: i,
          last_alert_id: i,
        }));
        for (let i = 0; i < pts.length; i += 1000) {
          await db.sql`insert into candidates ${db.sql(pts.slice(i, i + 1000))}`;
        }
        const centres = [
          { ra: 0, dec: 90, radiusDeg: 0.7 },
          { ra: 77, dec: -89.6, radiusDeg: 0.5 },
          { ra: 0, dec: 0, radiusDeg: 1.5 },
          { ra: 359.5, dec: 3, radiusDeg: 2 },
          { ra: 0.3, dec: -5, radiusDeg: 1 },
          { ra: 123, dec: 45, radiusDeg: 20 },
          { ra: 200, dec: 89.2, radiusDeg: 1.1 },
          { ra: 10, dec: 10, radiusDeg: 0 },
          ...positions(12, 9).map((p, i) => ({ ...p, radiusDeg: [0.05, 3, 45][i % 3] })),
        ];
        let matched = 0;
        for (const c of centres) {
          const got = await coneSearch(db.sql, c);
          const gotIds = new Set(got.map((g) => g.candidate_id));
          for (const p of pts) {
            const d = angularDistance(c.ra, c.dec, p.ra, p.dec);
            if (Math.abs(d - c.radiusDeg) < 1e-9) continue; // on the rim: either answer is right
            assert.equal(
              gotIds.has(p.candidate_id),
              d <= c.radiusDeg,
              `${p.candidate_id} (${p.ra}, ${p.dec}) at ${d}° from (${c.ra}, ${c.dec}) r=${c.radiusDeg}`,
            );
          }
          for (const g of got) {
            assert.ok(Math.abs(g.distance_deg - angularDistance(c.ra, c.dec, g.ra, g.dec)) < 1e-9);
          }
          matched += got.length;
        }
        assert.ok(matched > 200, `the cones should hit many points (got ${matched})`);
      } finally {
        await db.drop();
      }
    },
  );
}
