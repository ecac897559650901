import assert from "node:assert/strict";
import { waitFor } from "../runtime/testing.ts";
import type { OcsRequestGroupInput } from "../../gateway/tom/facilities/ocs.ts";
import {
  canTransition,
  type Exposure,
  groupState,
  Observatory,
  OcsError,
  type StatusChange,
} from "./observatory.ts";
import { SITES } from "../../astro/visibility.ts";
import { AT2017GFO, LightCurveTruth, seededRandom } from "./photometry.ts";
import { fileStateStore } from "./state_store.ts";

const window = { start: "2017-08-18T18:00:00Z", end: "2017-08-19T06:00:00Z" };

function group(name: string, dec = AT2017GFO.dec, windows = [window]): OcsRequestGroupInput {
  return {
    name,
    proposal: "KB-TEST",
    observation_type: "NORMAL",
    operator: "SINGLE",
    ipp_value: 1.05,
    requests: [{
      location: { telescope_class: "1m0" },
      windows,
      configurations: ["g", "r"].map((f) => ({
        type: "EXPOSE" as const,
        instrument_type: "1M0-SCICAM-SINISTRO",
        instrument_configs: [{
          exposure_time: 300,
          exposure_count: 1,
          optical_elements: { filter: f },
        }],
        target: { name: "AT2017gfo", type: "ICRS" as const, ra: AT2017GFO.ra, dec },
        constraints: { max_airmass: 2, min_lunar_distance: 30 },
      })),
    }],
  };
}

function harness(
  weatherFails: (id: number, attempt: number) => boolean = () => false,
  sites = SITES,
) {
  const changes: StatusChange[] = [];
  const exposures: Exposure[] = [];
  const obs = new Observatory({
    delayMs: 10,
    failureLimit: 2,
    weatherFails,
    sites,
    onStatus: (c) => void changes.push(c),
    onExposure: (e) => void exposures.push(e),
    onError: (err) => {
      throw err;
    },
  });
  return { obs, changes, exposures };
}

Deno.test("observatory: state machine — only PENDING moves, to a terminal state", () => {
  assert.ok(canTransition("PENDING", "COMPLETED"));
  assert.ok(canTransition("PENDING", "CANCELED"));
  assert.ok(!canTransition("COMPLETED", "CANCELED"));
  assert.ok(!canTransition("CANCELED", "PENDING"));
  assert.equal(groupState(["COMPLETED", "PENDING"]), "PENDING");
  assert.equal(groupState(["COMPLETED", "COMPLETED"]), "COMPLETED");
  assert.equal(groupState(["COMPLETED", "WINDOW_EXPIRED"]), "WINDOW_EXPIRED");
});

Deno.test("observatory: a visible request is observed: PENDING → COMPLETED with g and r exposures", async () => {
  const { obs, changes, exposures } = harness();
  const { group: g, created } = obs.submit(group("kb-1"));
  assert.ok(created);
  assert.equal(g.state, "PENDING");
  await waitFor("group state", () => obs.get(g.id)!.state === "COMPLETED", 5000);
  assert.deepEqual(changes.map((c) => [c.previous, c.group.state]), [[null, "PENDING"], [
    "PENDING",
    "COMPLETED",
  ]]);
  assert.deepEqual(exposures.map((e) => e.filter), ["g", "r"]);
  assert.equal(exposures[0].site.code, "lsc");
  assert.ok(exposures[0].at >= new Date("2017-08-18T23:00:00Z"));
  // Idempotent submission: the same name returns the same group.
  assert.equal(obs.submit(group("kb-1")).created, false);
  obs.close();
});

Deno.test("observatory: validation rejects a target that never rises above the airmass limit", () => {
  // The southern sites: at Dec +70° it never gets above 20° (airmass > 2.9).
  const { obs } = harness(() => false, SITES.filter((s) => s.lat < 0));
  const v = obs.validate(group("kb-2", 70));
  assert.ok(v.errors.requests);
  assert.match(v.errors.requests![0].windows[0], /never rises above the airmass limit 2/);
  assert.throws(
    () => obs.submit(group("kb-2", 70)),
    (e) => e instanceof OcsError && e.status === 400,
  );
  obs.close();
});

Deno.test("observatory: cancellation → CANCELED, no exposure; a terminal group cannot be canceled", async () => {
  const { obs, changes, exposures } = harness();
  const { group: g } = obs.submit(group("kb-3"));
  assert.equal(obs.cancel(g.id).state, "CANCELED");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(exposures.length, 0);
  assert.equal(changes.at(-1)!.group.state, "CANCELED");
  assert.throws(() => obs.cancel(g.id), /CANCELED and cannot be canceled/);
  obs.close();
});

Deno.test("observatory: weather failures → FAILURE_LIMIT_REACHED; no time left → WINDOW_EXPIRED", async () => {
  const bad = harness(() => true);
  const { group: g } = bad.obs.submit(group("kb-4"));
  await waitFor("group state", () => bad.obs.get(g.id)!.state !== "PENDING", 5000);
  assert.equal(bad.obs.get(g.id)!.state, "FAILURE_LIMIT_REACHED");
  bad.obs.close();
  // Fails once; the next hour is still in the window only until the target sets.
  const once = new Observatory({
    ...harness().obs.options,
    failureLimit: 100,
    weatherFails: () => true,
  });
  const short = once.submit(
    group("kb-5", AT2017GFO.dec, [{ start: "2017-08-18T23:00:00Z", end: "2017-08-19T00:30:00Z" }]),
  );
  await waitFor("group state", () => once.get(short.group.id)!.state !== "PENDING", 5000);
  assert.equal(once.get(short.group.id)!.state, "WINDOW_EXPIRED");
  once.close();
});

Deno.test("observatory: AT2017gfo photometry follows the literature light curve", async () => {
  const truth = await LightCurveTruth.load();
  const m = truth.measure(AT2017GFO, "r", AT2017GFO.t0Mjd + 1.5, seededRandom(1));
  assert.equal(m.truth, "AT2017gfo literature");
  assert.ok(m.mag > 17 && m.mag < 19.5, `r at +1.5 d: ${m.mag}`);
  const other = truth.measure({ name: "X", ra: 10, dec: 10 }, "r", 58000, seededRandom(1));
  assert.equal(other.truth, "model");
});

Deno.test("observatory: state file — a restarted observatory resumes a pending request to COMPLETED", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kb-obs-state-" });
  try {
    const store = fileStateStore(dir, "LCO");
    const first = harness();
    const a = new Observatory({ ...first.obs.options, delayMs: 60_000, store });
    const { group: g } = a.submit(group("kb-persist"));
    await a.flush();
    a.close(); // "crash" before the observation
    assert.equal(first.exposures.length, 0);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/observatory-LCO.json`));
    assert.equal(saved.groups[0].state, "PENDING");
    assert.deepEqual(Object.keys(saved.runs), [String(g.requests[0].id)]);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["observatory-LCO.json"]);

    const second = harness();
    const b = new Observatory({ ...second.obs.options, store });
    assert.deepEqual(await b.restore(), { groups: 1, resumed: 1 });
    assert.equal(b.submit(group("kb-persist")).created, false, "the name is still known");
    await waitFor("resumed group", () => b.get(g.id)?.state === "COMPLETED", 5000);
    assert.deepEqual(second.exposures.map((e) => e.filter), ["g", "r"]);
    // Ids continue after the restored ones.
    const next = b.submit(group("kb-persist-2")).group;
    assert.equal(next.id, g.id + 1);
    await b.flush();
    b.close();
    const after = await store.load();
    assert.equal(after!.groups.find((x) => x.id === g.id)!.state, "COMPLETED");
    assert.equal(
      after!.runs[String(g.requests[0].id)],
      undefined,
      "no run kept for a done request",
    );

    // A damaged state file stops the start with a reason, instead of starting empty.
    await Deno.writeTextFile(`${dir}/observatory-LCO.json`, '{"version":1,"groups":');
    const c = new Observatory({ ...harness().obs.options, store });
    await assert.rejects(() => c.restore(), /is not JSON .* remove it to start empty/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
