/**
 * `deno task train`: trains the kilonova classifier on the synthetic sky and
 * writes the weights (`model/kilonova_gbdt.json`) and a training report
 * (`model/TRAINING.md`). Reproducible: the same options give the same file.
 *
 *   deno task train [--seed 7] [--per-variant 600] [--rounds 120] [--out FILE]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readSkyMapFile } from "../../astro/mod.ts";
import type { TransientClass } from "../../contracts/mod.ts";
import { FEATURE_NAMES } from "./features.ts";
import { trainGbdt, type TrainOptions } from "./gbdt.ts";
import type { ModelFile } from "./model.ts";
import {
  BAYESTAR_MAP_URL,
  CLASSES,
  DISTANCE_SCALES,
  N_FEATURES,
  type SetOptions,
  SURVEYS,
  syntheticSnapshots,
} from "./synthetic_set.ts";

/** Class mix of the training sky: kilonovae enriched (5% in the default sky). */
export const TRAIN_MIX: Readonly<Record<TransientClass, number>> = {
  "kilonova": 0.25,
  "SN Ia": 0.28,
  "SN II-P": 0.15,
  "SN Ib/c": 0.1,
  "FBOT": 0.1,
  "M-dwarf flare": 0.12,
};

/** Everything that determines a model. */
export interface TrainConfig {
  readonly set: SetOptions;
  readonly gbdt: Omit<TrainOptions, "onRound">;
}

/** The committed model's configuration. */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  set: {
    perVariant: 600,
    seed: 7,
    mix: TRAIN_MIX,
    noGwFraction: 0.25,
    noHistoryFraction: 0.35,
    maxEbv: 0.25,
    colourTilt: 0.1,
    maxSnapshots: 8,
  },
  gbdt: {
    rounds: 50,
    learningRate: 0.2,
    maxDepth: 5,
    lambda: 1,
    minChildWeight: 2,
    subsample: 0.8,
    bins: 48,
    seed: 7,
  },
};

async function sha256Hex(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Trains a model; returns it with a Markdown training report. */
export async function train(
  config: TrainConfig,
  log: (line: string) => void = () => {},
): Promise<{ model: ModelFile; report: string }> {
  const started = performance.now();
  const map = await readSkyMapFile(BAYESTAR_MAP_URL);
  const xs: number[] = [];
  const ys: number[] = [];
  const perClass = new Map<number, { snaps: number; cands: Set<string> }>();
  for (const s of syntheticSnapshots(map, config.set)) {
    for (let f = 0; f < N_FEATURES; f++) xs.push(s.x[f]);
    ys.push(s.cls);
    const e = perClass.get(s.cls) ?? { snaps: 0, cands: new Set<string>() };
    e.snaps++;
    e.cands.add(s.candidate);
    perClass.set(s.cls, e);
  }
  const genMs = performance.now() - started;
  log(`generated ${ys.length} snapshots in ${(genMs / 1000).toFixed(1)} s`);
  const losses: string[] = [];
  const t1 = performance.now();
  const gbdt = trainGbdt(
    {
      x: Float64Array.from(xs),
      y: Int32Array.from(ys),
      w: new Float64Array(ys.length).fill(1),
      nFeatures: N_FEATURES,
    },
    CLASSES,
    FEATURE_NAMES,
    {
      ...config.gbdt,
      onRound: (r, loss) => {
        if (r % 20 === 0 || r === config.gbdt.rounds - 1) {
          losses.push(`| ${r + 1} | ${loss.toFixed(4)} |`);
          log(`round ${r + 1}/${config.gbdt.rounds}: loss ${loss.toFixed(4)}`);
        }
      },
    },
  );
  const trainMs = performance.now() - t1;
  // Compact leaf values (6 significant digits); thresholds stay exact.
  for (const round of gbdt.trees) {
    for (const t of round) t.v = t.v.map((v) => Number(v.toPrecision(6)));
  }
  const splits = new Array(N_FEATURES).fill(0);
  for (const round of gbdt.trees) {
    for (const t of round) for (const f of t.f) if (f >= 0) splits[f]++;
  }
  const hash = (await sha256Hex(JSON.stringify(gbdt))).slice(0, 10);
  const model: ModelFile = {
    name: "kilonova-gbdt",
    version: `1.0.0+s${config.set.seed}.${hash}`,
    threshold: 0.5,
    training: {
      seed: config.set.seed,
      set: config.set,
      gbdt: config.gbdt,
      snapshots: ys.length,
      surveys: SURVEYS.map((s) => s.name),
      distanceScales: DISTANCE_SCALES,
    },
    ...gbdt,
  };
  const rows = CLASSES.map((c, k) => {
    const e = perClass.get(k);
    return `| ${c} | ${e?.cands.size ?? 0} | ${e?.snaps ?? 0} |`;
  });
  const imp = FEATURE_NAMES.map((n, i) => [n, splits[i]] as const).sort((a, b) => b[1] - a[1]);
  const report = [
    `# Training report: ${model.name} ${model.version}`,
    "",
    "Written by `deno task train` (actors/classifier/train.ts); do not edit by hand.",
    "",
    `- Data: the synthetic sky (actors/source_publisher/synthetic), seed ${config.set.seed}, ` +
    `${config.set.perVariant} candidates per variant × ${SURVEYS.length} surveys ` +
    `(${SURVEYS.map((s) => s.name).join(", ")}) × ${DISTANCE_SCALES.length} distance scales ` +
    `of the 2017 BAYESTAR map (${DISTANCE_SCALES.join(", ")} × ~40 Mpc); ` +
    `${config.set.noGwFraction * 100}% of candidates scored without the GW event; ` +
    `≤ ${config.set.maxSnapshots} snapshots (alerts) per candidate.`,
    `- Class mix: ${Object.entries(config.set.mix ?? {}).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
    `- Model: softmax gradient-boosted trees, ${config.gbdt.rounds} rounds × ${CLASSES.length} classes, ` +
    `depth ${config.gbdt.maxDepth}, learning rate ${config.gbdt.learningRate}, λ ${config.gbdt.lambda}, ` +
    `min child hessian ${config.gbdt.minChildWeight}, row subsample ${config.gbdt.subsample}, ` +
    `${config.gbdt.bins} bins, seed ${config.gbdt.seed}.`,
    `- Time: ${(genMs / 1000).toFixed(1)} s generating, ${
      (trainMs / 1000).toFixed(1)
    } s training ` +
    `(${ys.length} snapshots × ${N_FEATURES} features).`,
    "",
    "| class | candidates | snapshots |",
    "|---|---|---|",
    ...rows,
    "",
    "| round | training log-loss |",
    "|---|---|",
    ...losses,
    "",
    "Splits per feature (how often the trees use it):",
    "",
    "| feature | splits |",
    "|---|---|",
    ...imp.map(([n, c]) => `| ${n} | ${c} |`),
    "",
  ].join("\n");
  return { model, report };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seed: { type: "string" },
      "per-variant": { type: "string" },
      rounds: { type: "string" },
      out: { type: "string" },
      report: { type: "string" },
    },
  });
  const num = (v: string | undefined, name: string, dflt: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      console.error(`--${name} must be a positive integer, got "${v}"`);
      Deno.exit(2);
    }
    return n;
  };
  const d = DEFAULT_TRAIN_CONFIG;
  const seed = num(values.seed, "seed", d.set.seed);
  const config: TrainConfig = {
    set: {
      ...d.set,
      seed,
      perVariant: num(values["per-variant"], "per-variant", d.set.perVariant),
    },
    gbdt: { ...d.gbdt, seed, rounds: num(values.rounds, "rounds", d.gbdt.rounds) },
  };
  const out = values.out ?? new URL("./model/kilonova_gbdt.json", import.meta.url).pathname;
  const reportPath = values.report ?? new URL("./model/TRAINING.md", import.meta.url).pathname;
  const { model, report } = await train(config, (l) => console.log(l));
  await Deno.writeTextFile(out, JSON.stringify(model) + "\n");
  await Deno.writeTextFile(reportPath, report);
  const size = (await Deno.stat(out)).size;
  console.log(`wrote ${out} (${(size / 1024).toFixed(0)} KB, ${model.version}) and ${reportPath}`);
}
