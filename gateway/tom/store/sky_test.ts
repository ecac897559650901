/** The remembered cone ranges are exactly the computed ones, per exact cone; the cone windows. */
import assert from "node:assert/strict";
import { coneRanges } from "../../../db/healpix_index.ts";
import {
  angularDistance,
  CONE_RANGES_REMEMBERED,
  coneBox,
  coneDepth,
  coneRangeParams,
  coneWindows,
} from "./sky.ts";

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

Deno.test("cone windows: every point of the cone is inside, points off the box are not (grid)", () => {
  // Brute force over a grid of positions around each cone (wrapped into [0, 360)): a
  // position is inside the windows exactly when its declination is in the band and its RA,
  // taken modulo 360° around the centre, within the box's half-width (every RA when the
  // box has none) — and every position within the radius is inside.
  const inWindows = (w: ReturnType<typeof coneWindows>, ra: number, dec: number) =>
    dec >= w.decLo && dec <= w.decHi &&
    ((ra >= w.ra[0] && ra <= w.ra[1]) || (ra >= w.ra[2] && ra <= w.ra[3]));
  const cones = [
    { ra: 180, dec: 10, radius: 0.5 }, // no wrap
    { ra: 0.2, dec: 0, radius: 10 }, // the window passes below 0
    { ra: 359.8, dec: -30, radius: 2 }, // the window passes above 360
    { ra: 0, dec: 45, radius: 3 }, // centred on 0
    { ra: 10, dec: 89.5, radius: 5 }, // a pole inside: every RA
    { ra: 100, dec: -88, radius: 1 }, // the window would pass 180°: every RA
  ];
  const edge = 1e-7; // positions this close to a bound are not judged (rounding)
  let inCone = 0, inWindow = 0, outside = 0;
  for (const c of cones) {
    const w = coneWindows(c);
    const box = coneBox(c);
    const half = box.ra ? (box.ra.hi - box.ra.lo) / 2 : 180;
    const span = Math.min(180, 2 * half + 1);
    const n = 240;
    for (let i = 0; i <= n; i++) {
      // A grid slightly off any round number, over the box and a margin around it.
      const dRa = -span + 2 * span * (i + 0.37) / n;
      const ra = (((c.ra + dRa) % 360) + 360) % 360;
      const off = ((ra - c.ra + 540) % 360) - 180; // RA offset from the centre, [-180, 180)
      for (let j = 0; j <= n; j++) {
        const dec = Math.max(-90, Math.min(90, c.dec + (2 * (j + 0.61) / n - 1) * (c.radius + 1)));
        const at = `${JSON.stringify(c)} at ${ra}, ${dec}`;
        const got = inWindows(w, ra, dec);
        if (angularDistance(c.ra, c.dec, ra, dec) <= c.radius) {
          assert.ok(got, `in the cone but not in the windows: ${at}`);
          inCone++;
        }
        const nearEdge = Math.abs(dec - w.decLo) < edge || Math.abs(dec - w.decHi) < edge ||
          Math.abs(Math.abs(off) - half) < edge;
        if (nearEdge) continue;
        const expect = dec >= w.decLo && dec <= w.decHi && (!box.ra || Math.abs(off) <= half);
        assert.equal(got, expect, at);
        if (expect) inWindow++;
        else outside++;
      }
    }
  }
  // The test can fail: each kind of position was met.
  assert.ok(
    inCone > 1000 && inWindow > 1000 && outside > 1000,
    `${inCone} ${inWindow} ${outside}`,
  );
  assert.deepEqual(coneWindows({ ra: 180, dec: 10, radius: 0.5 }).ra.slice(2), [1, 0]);
});
