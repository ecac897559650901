import assert from "node:assert/strict";
import { conditionalDistance, distanceModulus, distancePdf, erfc } from "./distance.ts";

Deno.test("erfc matches tabulated values", () => {
  for (
    const [x, v] of [[0, 1], [0.5, 0.4795001222], [1, 0.1572992071], [2, 0.004677734981], [
      -1,
      1.8427007929,
    ]]
  ) {
    assert.ok(Math.abs(erfc(x) - v) < 2e-7 * Math.max(1, v), `erfc(${x}) = ${erfc(x)}`);
  }
});

Deno.test("conditional distance at NGC 4993 in the GWTC-1 map is 39.37 ± 7.16 Mpc (verification.txt)", () => {
  // DISTMU 36.456, DISTSIGMA 7.439 at NESTED pixel 6373777 (skymap/verification.txt).
  const d = conditionalDistance(36.45640218492203, 7.439490930923895)!;
  assert.ok(Math.abs(d.mean - 39.37) < 0.005, `mean ${d.mean}`);
  assert.ok(Math.abs(d.std - 7.16) < 0.005, `std ${d.std}`);
});

Deno.test("conditional distance agrees with numerical integration, also for broad lines of sight", () => {
  for (const [mu, sigma] of [[40, 8], [100, 60], [10, 30], [-20, 40], [500, 20]]) {
    let z0 = 0, z1 = 0, z2 = 0;
    const hi = Math.max(mu, 0) + 12 * sigma;
    const n = 200_000;
    for (let i = 1; i <= n; i++) {
      const r = (hi * (i - 0.5)) / n;
      const w = distancePdf(r, mu, sigma, 1);
      z0 += w;
      z1 += w * r;
      z2 += w * r * r;
    }
    const mean = z1 / z0;
    const std = Math.sqrt(z2 / z0 - mean * mean);
    const d = conditionalDistance(mu, sigma)!;
    assert.ok(
      Math.abs(d.mean - mean) < 1e-3 * mean,
      `mu ${mu} sigma ${sigma}: ${d.mean} vs ${mean}`,
    );
    assert.ok(Math.abs(d.std - std) < 2e-3 * std, `mu ${mu} sigma ${sigma}: ${d.std} vs ${std}`);
  }
  assert.equal(conditionalDistance(Infinity, 1), undefined);
  assert.equal(conditionalDistance(40, 0), undefined);
  assert.ok(Math.abs(distanceModulus(10e-6) - 0) < 1e-12);
  assert.ok(Math.abs(distanceModulus(40) - 33.0103) < 1e-4);
});
