import assert from "node:assert/strict";
import {
  ang2pixNest,
  angularDistanceDeg,
  nest2uniq,
  nside2npix,
  nsideToOrder,
  pix2angNest,
  radec2pixNest,
  uniq2nest,
} from "./healpix.ts";

const expected = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/healpy_expected.json", import.meta.url)),
) as {
  pix2ang: [number, number, number, number][];
  ang2pix: [number, number, number, number][];
};

Deno.test("pix2angNest matches healpy for NSIDE 1 … 32768", () => {
  assert.ok(expected.pix2ang.length > 90);
  for (const [nside, ipix, theta, phi] of expected.pix2ang) {
    const got = pix2angNest(nside, ipix);
    assert.ok(
      Math.abs(got.theta - theta) < 1e-12,
      `theta of ${ipix}@${nside}: ${got.theta} vs ${theta}`,
    );
    assert.ok(Math.abs(got.phi - phi) < 1e-12, `phi of ${ipix}@${nside}: ${got.phi} vs ${phi}`);
  }
});

Deno.test("ang2pixNest matches healpy, including the poles and RA≈360", () => {
  assert.ok(expected.ang2pix.length > 150);
  for (const [nside, ra, dec, ipix] of expected.ang2pix) {
    assert.equal(radec2pixNest(nside, ra, dec), ipix, `RA ${ra} Dec ${dec} NSIDE ${nside}`);
  }
});

Deno.test("ang2pix(pix2ang(p)) is p for every pixel of NSIDE 16", () => {
  const nside = 16;
  for (let p = 0; p < nside2npix(nside); p++) {
    const { theta, phi } = pix2angNest(nside, p);
    assert.equal(ang2pixNest(nside, theta, phi), p);
  }
});

Deno.test("NUNIQ packing round-trips and rejects bad input", () => {
  for (const order of [0, 1, 7, 12, 15]) {
    for (const ipix of [0, 5, 12 * 4 ** order - 1]) {
      assert.deepEqual(uniq2nest(nest2uniq(order, ipix)), { order, ipix });
    }
  }
  assert.throws(() => uniq2nest(3), /not a NUNIQ/);
  assert.throws(() => nsideToOrder(100), /power of two/);
  assert.throws(() => pix2angNest(4, 192), /outside/);
  assert.throws(() => radec2pixNest(4, 0, 91), /Dec must be/);
});

Deno.test("angular distance: 1 degree along a meridian, 180 between antipodes", () => {
  assert.ok(Math.abs(angularDistanceDeg({ ra: 10, dec: 0 }, { ra: 10, dec: 1 }) - 1) < 1e-9);
  assert.ok(Math.abs(angularDistanceDeg({ ra: 0, dec: 30 }, { ra: 180, dec: -30 }) - 180) < 1e-9);
});
