import assert from "node:assert/strict";
import { extract, MIN_MJD, mjdOfMs } from "./extract.ts";
import {
  circularFixture,
  fermiFixture,
  gwFixture,
  iceCubeFixture,
  opticalFixture,
  otherFixture,
  point,
} from "./testing.ts";

const run = (f: { envelope: Parameters<typeof extract>[0]; msgId: string; subject: string }) =>
  extract(f.envelope, f.msgId, f.subject);

Deno.test("extract: optical alert → candidate and every photometry point, MJD exact", async () => {
  const f = await opticalFixture("ZTF17aaaaaaa", point(3), [
    point(1, { upper_limit: true, mag: null, mag_err: null }),
    point(2),
  ]);
  const ex = run(f);
  assert.equal(ex.rejection, undefined);
  assert.equal(ex.item.alert.status, "typed");
  assert.equal(ex.item.alert.kind, "optical");
  assert.equal(ex.item.candidates.length, 1);
  assert.equal(ex.item.candidates[0].candidate_id, "ZTF17aaaaaaa");
  assert.deepEqual(ex.item.photometry.map((p) => p.candid), [1, 2, 3]);
  assert.equal(ex.item.photometry[2].mjd, 60000.123456789 + 3 / 1000);
  assert.equal(ex.item.photometry[0].upper_limit, true);
  assert.equal(ex.item.alert.payload_size, atob(ex.item.alert.payload_base64).length);
});

Deno.test("extract: impossible optical values → rejected with the reason, no typed rows", async () => {
  const cases: [string, Parameters<typeof point>[1], RegExp][] = [
    ["dec", { dec: 95 }, /dec = 95 is outside \[-90, 90\]/],
    ["ra", { ra: 361 }, /ra = 361 is outside \[0, 360\)/],
    ["old", { mjd: MIN_MJD - 10 }, /before 1990/],
    ["future", { mjd: mjdOfMs(Date.now()) + 2 }, /in the future/],
    ["nan", { mag: NaN }, /mag = "NaN" is not a finite number/],
    ["missing", { mag: null }, /mag is missing on a detection/],
  ];
  for (const [name, over, reason] of cases) {
    const f = await opticalFixture(`bad-${name}`, point(1, over));
    const ex = run(f);
    assert.match(ex.rejection ?? "", reason, name);
    assert.equal(ex.item.alert.status, "rejected");
    assert.match(ex.item.alert.status_detail ?? "", reason);
    assert.equal(ex.item.candidates.length + ex.item.photometry.length, 0);
  }
  // A bad point in the history rejects the alert too.
  const f = await opticalFixture("bad-history", point(2), [point(1, { dec: -91 })]);
  assert.match(run(f).rejection ?? "", /prv_candidates\[0\]\.dec = -91/);
});

Deno.test("extract: IGWN alert → gw event and its sky map (by SHA-256)", async () => {
  const map = new Uint8Array(5000).map((_, i) => i % 251);
  const ex = run(await gwFixture("S170817a", "PRELIMINARY", map));
  assert.equal(ex.item.alert.status, "typed");
  assert.equal(ex.item.gwEvents.length, 1);
  const g = ex.item.gwEvents[0];
  assert.equal(g.superevent_id, "S170817a");
  assert.equal(g.alert_type, "PRELIMINARY");
  assert.equal(g.far, 3.0e-13);
  assert.equal(ex.item.skymaps.length, 1);
  assert.equal(ex.item.skymaps[0].size, 5000);
  assert.equal(g.skymap_sha256_hex, ex.item.skymaps[0].sha256_hex);
  const retraction = run(await gwFixture("S170817a", "RETRACTION", null));
  assert.equal(retraction.item.gwEvents[0].event_time, null);
  assert.equal(retraction.item.skymaps.length, 0);
});

Deno.test("extract: GCN notices typed (Fermi GBM with position, IceCube), circulars raw", () => {
  const fermi = run(fermiFixture());
  assert.equal(fermi.item.alert.status, "typed");
  const n = fermi.item.gcnNotices[0];
  assert.equal(n.mission, "Fermi");
  assert.equal(n.event_id, "bn170817529");
  assert.equal(n.ra, 176.8);
  assert.ok(n.hpx !== null && n.hpx > 0);
  const ice = run(iceCubeFixture("S170817a"));
  assert.equal(ice.item.gcnNotices[0].event_id, "S170817a");
  const bad = run(fermiFixture({ ra: 10, dec: -120, errorDeg: 1 }));
  assert.match(bad.rejection ?? "", /dec = -120/);
  const circ = run(circularFixture());
  assert.equal(circ.item.alert.status, "raw");
  assert.equal(circ.item.alert.kind, "gcn");
  const other = run(otherFixture());
  assert.equal(other.item.alert.status, "raw");
  assert.equal(other.item.alert.kind, "other");
  assert.equal(other.item.alert.payload_base64, btoa(String.fromCharCode(0, 1, 2, 255)));
});
