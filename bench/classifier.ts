/**
 * Classifier throughput on one core: synthetic optical alerts (time order)
 * through the actor's state — add the new point, pick the GW context, score
 * with explanation, build the result — next to the raw ceiling of the same
 * loop without the model (points + features only).
 *
 * @module
 */
import { readSkyMapFile, SkyMap } from "../astro/mod.ts";
import { MocSkyMap, writeMultiOrderFits } from "../astro/mod.ts";
import { ClassifierState } from "../actors/classifier/state.ts";
import { extractFeatures } from "../actors/classifier/features.ts";
import { LightCurve } from "../actors/classifier/lightcurve.ts";
import { BAYESTAR_MAP_URL, GW170817_T0_MJD } from "../actors/classifier/synthetic_set.ts";
import { SyntheticSky } from "../actors/source_publisher/synthetic/mod.ts";
import type { OpticalAlertContent } from "../contracts/mod.ts";
import { type Bench, quantile } from "./harness.ts";

const TARGET = 20_000;

/** The classifier benchmark. */
export const classifierBench: Bench = {
  name: "classifier",
  description: "kilonova classifier updates/s on one core (add point + score + explanation)",
  needs: [],
  async run() {
    const flat: SkyMap = await readSkyMapFile(BAYESTAR_MAP_URL);
    const moc = await MocSkyMap.fromFits(writeMultiOrderFits(flat.toMultiOrder()), "bench map");
    const sky = new SyntheticSky({ n: 3000, seed: 99, t0Mjd: GW170817_T0_MJD, map: flat });
    const alerts: OpticalAlertContent[] = [];
    for (const { candidate, k } of sky.alertsInTimeOrder()) {
      alerts.push(sky.alert(candidate, k, `a${alerts.length}`));
    }
    const run = (withModel: boolean) => {
      const state = new ClassifierState();
      state.events.set("S170817a", {
        id: "S170817a",
        t0Mjd: GW170817_T0_MJD,
        map: moc,
        alertId: "gw-1",
        alertType: "INITIAL",
      });
      const lcs = new Map<string, LightCurve>();
      const lat: number[] = [];
      const start = performance.now();
      for (let i = 0; i < alerts.length; i++) {
        const a = alerts[i];
        const t = performance.now();
        if (withModel) {
          state.onOpticalAlert(a, `m${i}`);
        } else {
          let lc = lcs.get(a.object_id);
          if (!lc) {
            lcs.set(a.object_id, lc = new LightCurve(a.object_id, a.candidate.ra, a.candidate.dec));
            for (const p of a.prv_candidates ?? []) {
              lc.add({
                ...p,
                magErr: p.mag_err,
                limit: p.limiting_mag,
                upperLimit: p.upper_limit,
                id: p.candid,
              });
            }
          }
          const c = a.candidate;
          lc.add({
            ...c,
            magErr: c.mag_err,
            limit: c.limiting_mag,
            upperLimit: c.upper_limit,
            id: c.candid,
          });
          extractFeatures(lc, { noGwReason: "bench" });
        }
        lat.push(performance.now() - t);
      }
      const secs = (performance.now() - start) / 1000;
      lat.sort((x, y) => x - y);
      return {
        rate: alerts.length / secs,
        p50: quantile(lat, 0.5) * 1000,
        p99: quantile(lat, 0.99) * 1000,
      };
    };
    const load = Deno.loadavg().map((v) => v.toFixed(1)).join(" ");
    run(true); // warm-up (JIT)
    const ceiling = run(false);
    const full = run(true);
    return {
      rows: [
        {
          metric: "classifier updates (add + context + score + explanation + result)",
          value: full.rate,
          unit: "updates/s",
          ceiling: ceiling.rate,
          ceilingSource: "same loop without the model: add point + features only",
          target: `≥ ${TARGET.toLocaleString("en-US")}/s`,
          met: full.rate >= TARGET,
        },
        {
          metric: "classifier update latency p50",
          value: full.p50,
          unit: "µs",
          target: "< 1000 µs",
          met: full.p50 < 1000,
          note: `p99 ${full.p99.toFixed(1)} µs; load average at start ${load}`,
        },
      ],
      details: { alerts: alerts.length, candidates: sky.size, full, ceiling },
    };
  },
};
