/**
 * The derived alert's photometry, byte for byte as the publisher always wrote it (the text
 * below was written by the code before the points were built without spreads and with the
 * remembered dates): every kind of point — detection with and without error and limit, Vega,
 * upper limit with and without a limit, a magnitude flagged as upper limit — and instrument
 * strings with 0, 1 and 2 slashes. Built twice: the second time from the caches.
 */
import assert from "node:assert/strict";
import { buildDerivedAlert, mjdToIso } from "./derived.ts";
import type { DerivedPoint } from "./derived_rows.ts";
import { resultFixture } from "./testing.ts";

const GOLDEN =
  '[{"target_name":"ZTF-X","date_obs":"2023-02-25T02:57:46.667Z","mjd":60000.123456789,"telescope":"ZTF","instrument":"ZTF-cam","bandpass":"g","brightness":19.5,"brightness_error":0.05,"limiting_brightness":21.2,"brightness_unit":"AB mag"},{"target_name":"ZTF-X","date_obs":"2023-02-25T14:57:46.667Z","mjd":60000.623456789,"telescope":"LSST","instrument":"LSST","bandpass":"r","brightness":19.25,"brightness_unit":"Vega mag"},{"target_name":"ZTF-X","date_obs":"2023-02-26T02:57:46.667Z","mjd":60001.123456789,"telescope":"LSST","instrument":"a/b","bandpass":"i","limiting_brightness":21.75,"brightness_unit":"AB mag"},{"target_name":"ZTF-X","date_obs":"2023-02-26T14:57:46.667Z","mjd":60001.623456789,"telescope":"ZTF","instrument":"ZTF","bandpass":"z","brightness_unit":"AB mag"},{"target_name":"ZTF-X","date_obs":"2023-02-27T02:57:46.667Z","mjd":60002.123456789,"telescope":"ZTF","instrument":"ZTF-cam","bandpass":"g","brightness_unit":"AB mag"}]';

const points: DerivedPoint[] = [
  {
    mag: 19.5,
    mag_err: 0.05,
    limiting_mag: 21.2,
    upper_limit: false,
    mag_system: "AB",
    instrument: "ZTF/ZTF-cam",
    band: "g",
  },
  {
    mag: 19.25,
    mag_err: null,
    limiting_mag: null,
    upper_limit: false,
    mag_system: "Vega",
    instrument: "LSST",
    band: "r",
  },
  {
    mag: null,
    mag_err: null,
    limiting_mag: 21.75,
    upper_limit: true,
    mag_system: null,
    instrument: "LSST/a/b",
    band: "i",
  },
  {
    mag: null,
    mag_err: null,
    limiting_mag: null,
    upper_limit: true,
    mag_system: "AB",
    instrument: "ZTF/",
    band: "z",
  },
  {
    mag: 20.5,
    mag_err: 0.125,
    limiting_mag: null,
    upper_limit: true,
    mag_system: "AB",
    instrument: "ZTF/ZTF-cam",
    band: "g",
  },
].map((p, i) => ({ candidate_id: "ZTF-X", mjd: 60000.123456789 + i * 0.5, ...p }));

Deno.test("buildDerivedAlert: photometry JSON as always written, from the caches too", () => {
  for (let round = 0; round < 2; round++) {
    const alert = buildDerivedAlert(
      resultFixture("ZTF-X", 0.7, ["hop:1"], { computed_at: "2026-01-01T00:00:00.000Z" }),
      {
        resultId: "r",
        revision: 2,
        topic: "t",
        submitter: "s",
        authors: "a",
        candidate: { candidate_id: "ZTF-X", ra: 10, dec: -5, first_mjd: 60000 },
        photometry: points,
        inputs: [],
      },
    );
    assert.equal(JSON.stringify(alert.data.photometry), GOLDEN, `round ${round}`);
    assert.equal(alert.data.targets[0].discovery_date, mjdToIso(60000));
  }
});
