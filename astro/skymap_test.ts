import assert from "node:assert/strict";
import { readBinTable, writeBinTable } from "./fits.ts";
import { radec2pixNest, uniq2nest } from "./healpix.ts";
import { readSkyMapFile, SkyMap, writeMultiOrderFits } from "./skymap.ts";

const MAP = new URL(
  "../actors/source_publisher/data/skymap/bayestar_2017_G298107.flat.fits.gz",
  import.meta.url,
);
const ref = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/healpy_expected.json", import.meta.url)),
).bayestar as Record<string, number>;
const map = await readSkyMapFile(MAP);
const NGC4993 = { ra: 197.4503, dec: -23.3815 };

Deno.test("the 2017 BAYESTAR map reads as healpy/astropy read it", () => {
  assert.equal(map.nside, 128);
  assert.equal(map.meta.get("OBJECT"), "G298107");
  assert.equal(map.maxPixel().ipix, ref.max_pixel);
  assert.ok(Math.abs(map.maxPixel().ra - ref.max_ra) < 1e-9);
  assert.ok(Math.abs(map.maxPixel().dec - ref.max_dec) < 1e-9);
  assert.ok(Math.abs(map.credibleArea(0.9) - ref.area90_deg2) < 1e-9, `${map.credibleArea(0.9)}`);
  assert.ok(Math.abs(map.credibleArea(0.5) - ref.area50_deg2) < 1e-9);
  assert.equal(radec2pixNest(128, NGC4993.ra, NGC4993.dec), ref.ngc4993_pixel);
  assert.ok(Math.abs(map.densityAt(NGC4993.ra, NGC4993.dec) - ref.ngc4993_density_deg2) < 1e-12);
  assert.ok(Math.abs(map.credibleLevelAt(NGC4993.ra, NGC4993.dec) - ref.ngc4993_level) < 1e-9);
  assert.ok(Math.abs(map.distanceAt(NGC4993.ra, NGC4993.dec)!.mu - ref.ngc4993_distmu) < 1e-9);
});

Deno.test("multi-order conversion conserves probability, stays small and round-trips through FITS", async () => {
  const moc = map.toMultiOrder();
  let total = 0;
  for (let i = 0; i < moc.uniq.length; i++) {
    const { order } = uniq2nest(moc.uniq[i]);
    total += moc.probdensity[i] * (4 * Math.PI) / (12 * 4 ** order);
  }
  assert.ok(Math.abs(total - 1) < 1e-9, `total ${total}`);
  const bytes = writeMultiOrderFits(moc, ["converted by a test"]);
  assert.ok(bytes.length < 1_000_000, `${bytes.length} bytes`);
  assert.ok(moc.uniq.length < 20_000, `${moc.uniq.length} rows`);
  const back = await SkyMap.fromFits(bytes, "round trip");
  assert.equal(back.nside, 128);
  assert.equal(back.meta.get("ORDERING"), "NUNIQ");
  assert.equal(back.meta.get("OBJECT"), "G298107");
  // Full resolution is kept where the probability is: 90% area and the peak are unchanged.
  assert.ok(
    Math.abs(back.credibleArea(0.9) - map.credibleArea(0.9)) < 0.5,
    `${back.credibleArea(0.9)}`,
  );
  assert.equal(back.maxPixel().ipix, map.maxPixel().ipix);
  assert.ok(Math.abs(back.credibleLevelAt(NGC4993.ra, NGC4993.dec) - ref.ngc4993_level) < 0.01);
});

Deno.test("sampling follows the map: 50% and 90% credible regions get ~50% and ~90% of the draws", () => {
  let s = 12345;
  const u = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const n = 20_000;
  let in50 = 0, in90 = 0;
  for (let i = 0; i < n; i++) {
    const p = map.sample(u(), u());
    const level = map.credibleLevelAt(p.ra, p.dec);
    if (level <= 0.5) in50++;
    if (level <= 0.9) in90++;
  }
  assert.ok(Math.abs(in50 / n - 0.5) < 0.02, `50%: ${in50 / n}`);
  assert.ok(Math.abs(in90 / n - 0.9) < 0.015, `90%: ${in90 / n}`);
});

Deno.test("FITS errors name the file and the problem", async () => {
  await assert.rejects(
    SkyMap.fromFits(new TextEncoder().encode("hello"), "x.fits"),
    /x\.fits: not a FITS file/,
  );
  const good = writeBinTable([{ name: "PROB", format: "D", data: [1] }]);
  await assert.rejects(
    readBinTable(good.subarray(0, 5000), { source: "cut.fits" }),
    /cut\.fits: .*truncated/,
  );
  await assert.rejects(SkyMap.fromFits(good, "noorder.fits"), /noorder\.fits: ORDERING=''/);
  await assert.rejects(readSkyMapFile("/nonexistent/map.fits"), /map\.fits: cannot read/);
});
