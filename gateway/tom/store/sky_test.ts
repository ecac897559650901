/** The remembered cone ranges are exactly the computed ones, per exact cone; the cone windows. */
import assert from "node:assert/strict";
import { coneRanges } from "../../../db/healpix_index.ts";
import { CONE_RANGES_REMEMBERED, coneBox, coneDepth, coneRangeParams, coneWindows } from "./sky.ts";

const computed = (ra: number, dec: number, radius: number) => {
  const r = coneRanges(ra, dec, radius, { maxDepth: coneDepth(radius) });
  const lo = r.map((x) => String(x[0]));
  const hi = r.map((x) => String(x[1]));
  return { lo, hi, loLiteral: `{${lo.join(",")}}`, hiLiteral: `{${hi.join(",")}}` };
};

Deno.test("cone ranges: remembered by the exact cone, equal to the computed ones", () => {
  const cones = [
    [180, 10, 0.5],
    [180, 10, 0.5000000001], // a hair wider is another cone
    [180.0000001, 10, 0.5],
    [0, 89.9, 2],
    [359.99, -45, 0.01],
  ] as const;
  for (const [ra, dec, radius] of cones) {
    const first = coneRangeParams({ ra, dec, radius });
    assert.deepEqual(first, computed(ra, dec, radius), `${ra},${dec},${radius}`);
    assert.equal(coneRangeParams({ ra, dec, radius }), first, "the second call is remembered");
    assert.ok(Object.isFrozen(first.lo) && Object.isFrozen(first.hi));
  }
  assert.notDeepEqual(
    coneRangeParams({ ra: 0, dec: 0, radius: 1 }).lo,
    coneRangeParams({ ra: 90, dec: 0, radius: 1 }).lo,
  );
  // Bounded: after CONE_RANGES_REMEMBERED other cones the first is computed afresh.
  const a = coneRangeParams({ ra: 12, dec: 34, radius: 0.3 });
  for (let i = 0; i < CONE_RANGES_REMEMBERED; i++) {
    coneRangeParams({ ra: i / 10, dec: -60, radius: 0.1 });
  }
  const b = coneRangeParams({ ra: 12, dec: 34, radius: 0.3 });
  assert.notEqual(b, a);
  assert.deepEqual(b, a);
});

Deno.test("cone windows: the RA intervals select what coneWhere's RA condition selects", () => {
  // coneWhere's RA condition on ra in [0, 360), written out as it is in SQL.
  const inBox = (cone: { ra: number; dec: number; radius: number }, ra: number, dec: number) => {
    const box = coneBox(cone);
    if (dec < box.decLo || dec > box.decHi) return false;
    if (!box.ra) return true;
    const { lo, hi } = box.ra;
    if (lo < 0) return ra >= lo + 360 || ra <= hi;
    if (hi >= 360) return ra >= lo || ra <= hi - 360;
    return ra >= lo && ra <= hi;
  };
  const inWindows = (
    cone: { ra: number; dec: number; radius: number },
    ra: number,
    dec: number,
  ) => {
    const w = coneWindows(cone);
    return dec >= w.decLo && dec <= w.decHi &&
      ((ra >= w.ra[0] && ra <= w.ra[1]) || (ra >= w.ra[2] && ra <= w.ra[3]));
  };
  const cones = [
    { ra: 180, dec: 10, radius: 0.5 }, // no wrap
    { ra: 0.2, dec: 0, radius: 10 }, // wraps below 0
    { ra: 359.8, dec: -30, radius: 2 }, // wraps above 360
    { ra: 10, dec: 89.5, radius: 5 }, // a pole inside: every RA
    { ra: 100, dec: -88, radius: 1 }, // the window would pass 180°: every RA
  ];
  let seed = 11;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  let inside = 0;
  for (const c of cones) {
    const box = coneBox(c);
    const edges = box.ra ? [box.ra.lo, box.ra.hi, box.ra.lo + 360, box.ra.hi - 360] : [];
    const ras = [0, 359.9999999, ...edges.filter((x) => x >= 0 && x < 360)];
    for (let i = 0; i < 2000; i++) ras.push(c.ra + (rnd() - 0.5) * 4 * c.radius);
    for (const r of ras) {
      const ra = ((r % 360) + 360) % 360;
      const dec = c.dec + (rnd() - 0.5) * 2.2 * c.radius;
      const expect = inBox(c, ra, dec);
      assert.equal(inWindows(c, ra, dec), expect, `${JSON.stringify(c)} at ${ra}, ${dec}`);
      if (expect) inside++;
    }
  }
  assert.ok(inside > 1000, "points fall inside the windows (the test can fail)");
  assert.deepEqual(coneWindows({ ra: 180, dec: 10, radius: 0.5 }).ra.slice(2), [1, 0]);
});
