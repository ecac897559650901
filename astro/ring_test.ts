import assert from "node:assert/strict";
import { nside2npix } from "./healpix.ts";
import {
  ang2pixRing,
  nest2ring,
  pix2angRing,
  radec2pixRing,
  reorderRingToNest,
  ring2nest,
} from "./ring.ts";

const expected = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/healpy_ring_expected.json", import.meta.url)),
) as {
  pix2ang: [number, number, number, number][];
  ang2pix: [number, number, number, number][];
  ring2nest: [number, number, number][];
};

Deno.test("pix2angRing matches healpy for NSIDE 1 … 32768 (caps, equator, ring edges)", () => {
  assert.ok(expected.pix2ang.length > 100);
  for (const [nside, ipix, theta, phi] of expected.pix2ang) {
    const got = pix2angRing(nside, ipix);
    assert.ok(Math.abs(got.theta - theta) < 1e-12, `theta of ${ipix}@${nside}: ${got.theta}`);
    assert.ok(Math.abs(got.phi - phi) < 1e-12, `phi of ${ipix}@${nside}: ${got.phi} vs ${phi}`);
  }
});

Deno.test("ang2pixRing matches healpy, including poles, RA≈360 and the cap boundary", () => {
  assert.ok(expected.ang2pix.length > 150);
  for (const [nside, ra, dec, ipix] of expected.ang2pix) {
    assert.equal(radec2pixRing(nside, ra, dec), ipix, `RA ${ra} Dec ${dec} NSIDE ${nside}`);
  }
});

Deno.test("ring2nest matches healpy and nest2ring inverts it", () => {
  for (const [nside, ring, nest] of expected.ring2nest) {
    assert.equal(ring2nest(nside, ring), nest, `${ring}@${nside}`);
    assert.equal(nest2ring(nside, nest), ring);
  }
});

Deno.test("ang2pixRing(pix2angRing(p)) is p for every pixel of NSIDE 16; reorder is a permutation", () => {
  const nside = 16;
  const ring = new Float64Array(nside2npix(nside));
  for (let p = 0; p < ring.length; p++) {
    const { theta, phi } = pix2angRing(nside, p);
    assert.equal(ang2pixRing(nside, theta, phi), p);
    ring[p] = p;
  }
  const nest = reorderRingToNest(nside, ring);
  assert.deepEqual([...nest].sort((a, b) => a - b), [...ring]);
  for (let n = 0; n < nest.length; n++) assert.equal(nest2ring(nside, n), nest[n]);
  assert.throws(() => pix2angRing(4, 192), /outside/);
  assert.throws(() => reorderRingToNest(4, new Float64Array(3)), /needs 192 pixels/);
});
