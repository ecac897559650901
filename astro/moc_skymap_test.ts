import assert from "node:assert/strict";
import { nest2uniq, nside2npix, pixelArea } from "./healpix.ts";
import { MocSkyMap } from "./moc_skymap.ts";
import { readSkyMapFile, writeMultiOrderFits } from "./skymap.ts";
import { writeBinTable } from "./fits.ts";
import { nest2ring } from "./ring.ts";

// In the repository (actors/source_publisher/data/SOURCES.md says where each map came from): a
// test must not read anything outside the checkout, which a fresh clone elsewhere does not have.
const DATA = new URL("../actors/source_publisher/data/skymap/", import.meta.url);
const BAYESTAR = new URL(
  "../actors/source_publisher/data/skymap/bayestar_2017_G298107.flat.fits.gz",
  import.meta.url,
);
const ref = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/healpy_expected.json", import.meta.url)),
).bayestar as Record<string, number>;
const NGC4993 = { ra: 197.4503, dec: -23.3815 };

Deno.test("GWTC-1 GW170817 map: 90% area 16.16 deg², 50% area 5.00 deg², NGC 4993 at level 0.383 (README)", async () => {
  const map = await readSkyMapFile(new URL("GW170817_skymap.fits.gz", DATA));
  assert.equal(map.nside, 1024);
  assert.equal(map.credibleArea(0.9).toFixed(2), "16.16");
  assert.equal(map.credibleArea(0.5).toFixed(2), "5.00");
  assert.equal(map.credibleLevelAt(NGC4993.ra, NGC4993.dec).toFixed(3), "0.383");
  assert.equal(map.densityAt(NGC4993.ra, NGC4993.dec).toFixed(4), "0.0868");
  assert.equal(map.maxPixel().ipix, 6376622);
});

Deno.test("the alert's multi-order BAYESTAR map answers like the flat one where the probability is", async () => {
  const flat = await readSkyMapFile(BAYESTAR);
  const bytes = writeMultiOrderFits(flat.toMultiOrder());
  const moc = await MocSkyMap.fromFits(bytes, "alert map");
  assert.ok(moc.rows < 20_000, `${moc.rows} rows`);
  assert.equal(moc.maxOrder, 7);
  const at = moc.locate(NGC4993.ra, NGC4993.dec);
  assert.ok(Math.abs(at.densityDeg2 - ref.ngc4993_density_deg2) < 1e-12, `${at.densityDeg2}`);
  assert.ok(Math.abs(at.credibleLevel - ref.ngc4993_level) < 0.01, `${at.credibleLevel}`);
  assert.ok(Math.abs(at.distance!.mu - ref.ngc4993_distmu) < 1e-9);
  assert.ok(at.conditional!.mean > 35 && at.conditional!.mean < 50, `${at.conditional!.mean}`);
  assert.ok(Math.abs(moc.credibleArea(0.9) - ref.area90_deg2) < 0.5, `${moc.credibleArea(0.9)}`);
  assert.ok(Math.abs(moc.credibleArea(0.5) - ref.area50_deg2) < 0.2, `${moc.credibleArea(0.5)}`);
  // Far from the localization: the least likely tail.
  assert.ok(moc.credibleLevelAt(10, 60) > 0.999);
  // The flat file read directly gives the healpy numbers exactly.
  const direct = await MocSkyMap.fromFits(await Deno.readFile(BAYESTAR), "flat");
  assert.ok(Math.abs(direct.credibleArea(0.9) - ref.area90_deg2) < 1e-9);
  assert.ok(Math.abs(direct.credibleLevelAt(NGC4993.ra, NGC4993.dec) - ref.ngc4993_level) < 1e-9);
});

Deno.test("a RING-ordered flat map reads the same as its NESTED twin", async () => {
  const nside = 4;
  const npix = nside2npix(nside);
  const nest = new Float64Array(npix);
  for (let i = 0; i < npix; i++) nest[i] = i + 1;
  const sum = nest.reduce((a, b) => a + b, 0);
  for (let i = 0; i < npix; i++) nest[i] /= sum;
  const ring = new Float64Array(npix);
  for (let i = 0; i < npix; i++) ring[nest2ring(nside, i)] = nest[i];
  const file = (data: Float64Array, ordering: string) =>
    writeBinTable([{ name: "PROB", format: "D", data }], [
      { key: "PIXTYPE", value: "HEALPIX" },
      { key: "ORDERING", value: ordering },
      { key: "NSIDE", value: nside },
    ]);
  const a = await MocSkyMap.fromFits(file(nest, "NESTED"), "nested");
  const b = await MocSkyMap.fromFits(file(ring, "RING"), "ring");
  for (const [ra, dec] of [[0, 0], [100, 45], [250, -70], [359, 89]]) {
    assert.equal(a.densityAt(ra, dec), b.densityAt(ra, dec));
    assert.equal(a.credibleLevelAt(ra, dec), b.credibleLevelAt(ra, dec));
  }
});

Deno.test("malformed multi-order maps are refused with the reason", () => {
  const d = 1 / (4 * Math.PI);
  const whole = Float64Array.from({ length: 12 }, (_, i) => nest2uniq(0, i));
  assert.ok(new MocSkyMap({ uniq: whole, probdensity: new Float64Array(12).fill(d) }));
  assert.throws(
    () =>
      new MocSkyMap({
        uniq: whole.subarray(0, 11),
        probdensity: new Float64Array(11).fill(d),
        source: "m.fits",
      }),
    /m\.fits: the NUNIQ rows cover 11 of 12/,
  );
  const overlap = Float64Array.from([...whole, nest2uniq(1, 0)]);
  assert.throws(
    () => new MocSkyMap({ uniq: overlap, probdensity: new Float64Array(13).fill(d) }),
    /overlap/,
  );
  assert.throws(
    () => new MocSkyMap({ uniq: whole, probdensity: new Float64Array(12).fill(2 * d) }),
    /sum to 2/,
  );
  assert.ok(pixelArea(1) > 0);
});
