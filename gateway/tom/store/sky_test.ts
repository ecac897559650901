/** The remembered cone ranges are exactly the computed ones, per exact cone. */
import assert from "node:assert/strict";
import { coneRanges } from "../../../db/healpix_index.ts";
import { CONE_RANGES_REMEMBERED, coneDepth, coneRangeParams } from "./sky.ts";

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
