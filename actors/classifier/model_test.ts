import assert from "node:assert/strict";
import { readSkyMapFile } from "../../astro/mod.ts";
import { loadDataset } from "../source_publisher/mod.ts";
import {
  evaluateAt2017gfo,
  evaluateContaminant,
  evaluateSynthetic,
  gw170817Context,
} from "./evaluation.ts";
import { loadDefaultModel } from "./model.ts";
import { BAYESTAR_MAP_URL } from "./synthetic_set.ts";
import { DEFAULT_TRAIN_CONFIG } from "./train.ts";

const model = loadDefaultModel();
const ds = await loadDataset();
const ctx = await gw170817Context(ds);

Deno.test("committed model: AT2017gfo P(KN) ≥ 0.9 at every alert from the first night to day 7", () => {
  const r = evaluateAt2017gfo(ds, ctx, model);
  assert.ok(r.window.length > 400, `${r.window.length} alerts`);
  assert.ok(r.window[0].t < 0.5, "scored from the first detection (+0.45 d)");
  assert.ok(r.minWindow >= 0.9, `minimum P(KN) ${r.minWindow}`);
  assert.match(r.window[0].explanation, /inside the 50% region of S170817a/);
});

Deno.test("committed model: every contaminant at AT2017gfo's position P(KN) ≤ 0.1 once it has ≥ 3 nights", () => {
  for (const c of ds.contaminants) {
    const r = evaluateContaminant(ds, c, ctx, model, "as-published");
    assert.ok(r.points.some((p) => p.nights >= 3), `${c.name} reaches 3 nights`);
    assert.ok(r.maxLate <= 0.1, `${c.name}: ${r.maxLate}`);
  }
});

Deno.test("committed model: ROC AUC ≥ 0.95 on a small synthetic test sky of another seed", async () => {
  const map = await readSkyMapFile(BAYESTAR_MAP_URL);
  const r = evaluateSynthetic(map, model, {
    ...DEFAULT_TRAIN_CONFIG.set,
    perVariant: 25,
    seed: 4242,
    mix: undefined,
    maxSnapshots: 0,
  });
  assert.ok(r.overall.support > 20, `${r.overall.support} kilonova scorings`);
  assert.ok(r.overall.auc >= 0.95, `AUC ${r.overall.auc}`);
});
