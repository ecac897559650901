import assert from "node:assert/strict";
import {
  airmass,
  findVisibility,
  lstDeg,
  moonPosition,
  separationDeg,
  SITES,
  sunAltitudeDeg,
} from "./visibility.ts";

// NGC 4993 (host of AT2017gfo) seen from Cerro Tololo. Expected values computed
// independently with astropy 7 (SkyCoord → AltAz, no refraction; get_sun,
// get_body("moon")), script in the test's comment below:
//   c = SkyCoord(197.4500, -23.3839, unit="deg"); ctio = EarthLocation(lat=-30.1673833,
//   lon=-70.8047888, height=2198 m); c.transform_to(AltAz(obstime=t, location=ctio)).secz
const NGC4993 = { ra: 197.45, dec: -23.3839 };
const CTIO = SITES.find((s) => s.code === "lsc")!;
const REFERENCE = [
  { t: "2017-08-17T23:33:00Z", secz: 1.4366, sunAlt: -16.35, moonSep: 109.48, lst: 248.9793 },
  { t: "2017-08-18T00:00:00Z", secz: 1.6137, sunAlt: -22.16, moonSep: 109.14, lst: 255.7478 },
  { t: "2017-08-18T23:30:00Z", secz: 1.4419, sunAlt: -15.60, moonSep: 96.06, lst: 249.2129 },
  { t: "2017-08-19T01:00:00Z", secz: 2.3947, sunAlt: -35.01, moonSep: 94.93, lst: 271.7745 },
  { t: "2017-08-18T20:00:00Z", secz: 1.0070, sunAlt: 26.71, moonSep: 98.42, lst: 196.5692 },
];

Deno.test("visibility: NGC 4993 from Cerro Tololo matches astropy (airmass, Sun, Moon, LST)", () => {
  for (const r of REFERENCE) {
    const t = new Date(r.t);
    const x = airmass(NGC4993.ra, NGC4993.dec, CTIO, t);
    assert.ok(Math.abs(x - r.secz) < 0.01 * r.secz, `${r.t}: airmass ${x} vs astropy ${r.secz}`);
    assert.ok(Math.abs(lstDeg(t, CTIO.lon) - r.lst) < 0.01, `${r.t}: LST`);
    const sun = sunAltitudeDeg(CTIO, t);
    assert.ok(Math.abs(sun - r.sunAlt) < 0.1, `${r.t}: Sun altitude ${sun} vs ${r.sunAlt}`);
    const moon = separationDeg(NGC4993, moonPosition(t));
    assert.ok(Math.abs(moon - r.moonSep) < 1.5, `${r.t}: Moon distance ${moon} vs ${r.moonSep}`);
  }
});

Deno.test("visibility: NGC 4993 is observable from Cerro Tololo on the evening of 2017-08-18", () => {
  const v = findVisibility(
    NGC4993,
    {
      start: new Date("2017-08-18T18:00:00Z"),
      end: new Date("2017-08-19T06:00:00Z"),
    },
    { maxAirmass: 2, minLunarDistance: 30 },
    [CTIO],
  );
  assert.ok(v.first, v.reason);
  assert.equal(v.first.site.code, "lsc");
  // Dark (Sun < −12°) from about 23:15 UTC; airmass 2 is crossed at about 00:40 UTC.
  assert.ok(
    v.first.at >= new Date("2017-08-18T23:00:00Z") && v.first.at < new Date("2017-08-18T23:40:00Z"),
  );
  assert.ok(v.minutes >= 60 && v.minutes <= 120, `${v.minutes} minutes`);
  assert.equal(v.reason, "");
});

Deno.test("visibility: a target that never rises above the airmass limit says so", () => {
  const v = findVisibility(
    { ra: 197.45, dec: 70 },
    {
      start: new Date("2017-08-18T18:00:00Z"),
      end: new Date("2017-08-19T18:00:00Z"),
    },
    { maxAirmass: 2, minLunarDistance: 0 },
    [CTIO],
  );
  assert.equal(v.first, undefined);
  assert.match(v.reason, /never rises above the airmass limit 2/);
  assert.match(v.reason, /Cerro Tololo/);
});

Deno.test("visibility: a window in daylight has no dark time", () => {
  const v = findVisibility(
    NGC4993,
    {
      start: new Date("2017-08-18T14:00:00Z"),
      end: new Date("2017-08-18T20:00:00Z"),
    },
    { maxAirmass: 3, minLunarDistance: 0 },
    [CTIO],
  );
  assert.match(v.reason, /no dark time/);
});
