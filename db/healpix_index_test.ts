import assert from "node:assert/strict";
import { radec2pixNest } from "../astro/healpix.ts";
import {
  angularDistance,
  coneRanges,
  INDEX_ORDER,
  maxPixelRadius,
  pixelToRadec,
  radecToPixel,
  uniqToRange,
} from "./healpix_index.ts";

/** Deterministic uniform random positions, plus the poles and the RA wrap. */
function positions(n: number, seed = 7): { ra: number; dec: number }[] {
  let s = seed;
  const rnd = () => (s = (s * 48271) % 2147483647) / 2147483647;
  const out = [
    { ra: 0, dec: 90 },
    { ra: 123.4, dec: -90 },
    { ra: 0, dec: 0 },
    { ra: 359.9999999, dec: 0.5 },
    { ra: 0, dec: 41.8103149 }, // |z| = 2/3 boundary
    { ra: 45, dec: -41.8103149 },
  ];
  for (let i = 0; i < n; i++) {
    out.push({ ra: rnd() * 360, dec: Math.asin(2 * rnd() - 1) * 180 / Math.PI });
  }
  return out;
}

Deno.test("radecToPixel agrees with astro/healpix (checked against healpy) at orders 0..15", () => {
  // Random positions only: exact pixel boundaries (ra=0, dec=0) round either way.
  for (const p of positions(3000).slice(6)) {
    for (const order of [0, 1, 3, 7, 12, 15]) {
      assert.equal(
        radecToPixel(p.ra, p.dec, order),
        radec2pixNest(2 ** order, p.ra, p.dec),
        `order ${order} at ${p.ra},${p.dec}`,
      );
    }
  }
});

Deno.test("order-24 pixels are consistent with their parents and contain the position", () => {
  for (const p of positions(3000, 11)) {
    const pix = radecToPixel(p.ra, p.dec);
    assert.ok(pix >= 0 && pix < 12 * 4 ** INDEX_ORDER && Number.isSafeInteger(pix));
    // Dropping 2 bits per order gives the parent pixel.
    assert.equal(Math.floor(pix / 4 ** 9), radecToPixel(p.ra, p.dec, 15));
    const c = pixelToRadec(pix);
    const d = angularDistance(p.ra, p.dec, c.ra, c.dec) * Math.PI / 180;
    assert.ok(d <= maxPixelRadius(INDEX_ORDER), `centre ${d} rad away`);
  }
});

Deno.test("maxPixelRadius bounds every point of a pixel (sampled by sub-pixel centres)", () => {
  for (const order of [0, 1, 2, 4, 8]) {
    const R = maxPixelRadius(order);
    const sub = 6;
    const npix = 12 * 4 ** order;
    const step = Math.max(1, Math.floor(npix / 40));
    for (let ipix = 0; ipix < npix; ipix += step) {
      const c = pixelToRadec(ipix, order);
      for (let k = 0; k < 4 ** sub; k += 7) {
        const s = pixelToRadec(ipix * 4 ** sub + k, order + sub);
        const d = angularDistance(c.ra, c.dec, s.ra, s.dec) * Math.PI / 180;
        assert.ok(d <= R, `order ${order} pixel ${ipix}: ${d} > ${R}`);
      }
    }
  }
});

Deno.test("coneRanges covers every pixel within the radius (brute force over positions)", () => {
  const pts = positions(4000, 3).map((p) => ({ ...p, pix: radecToPixel(p.ra, p.dec) }));
  const centres = [...positions(20, 5), { ra: 0, dec: 89.9 }, { ra: 359.99, dec: -10 }];
  for (const c of centres) {
    for (const r of [0.5, 5, 30, 120]) {
      const ranges = coneRanges(c.ra, c.dec, r);
      for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i][0] > ranges[i - 1][1] + 1);
      for (const p of pts) {
        if (angularDistance(c.ra, c.dec, p.ra, p.dec) > r) continue;
        assert.ok(
          ranges.some(([lo, hi]) => p.pix >= lo && p.pix <= hi),
          `(${p.ra},${p.dec}) within ${r}° of (${c.ra},${c.dec}) but outside the ranges`,
        );
      }
    }
  }
});

Deno.test("uniqToRange: NUNIQ pixels map to nested ranges of the index", () => {
  assert.deepEqual(uniqToRange(4), [0, 4 ** 24 - 1]);
  assert.deepEqual(uniqToRange(4 * 4 + 5), [5 * 4 ** 23, 6 * 4 ** 23 - 1]);
  const p = { ra: 197.45, dec: -23.38 };
  const order = 10;
  const uniq = 4 * 4 ** order + radecToPixel(p.ra, p.dec, order);
  const [lo, hi] = uniqToRange(uniq);
  const pix = radecToPixel(p.ra, p.dec);
  assert.ok(pix >= lo && pix <= hi);
  assert.throws(() => uniqToRange(3), /not a valid pixel/);
  assert.throws(() => radecToPixel(10, 91), /not on the sky/);
});
