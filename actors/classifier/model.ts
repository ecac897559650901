/**
 * The classifier's one scoring path: `score(lightCurve, context)` → class
 * probabilities, the features used and a short explanation. The actor, the
 * evaluation, the benchmark and a future `deno task classify` / HTTP endpoint
 * all call this function.
 *
 * @module
 */
import { extractFeatures, FEATURE_NAMES, NF } from "./features.ts";
import { Gbdt, type GbdtJson } from "./gbdt.ts";
import type { ScoreContext } from "./context.ts";
import type { LightCurve } from "./lightcurve.ts";
import { explain } from "./explain.ts";

/** Default weights file, committed beside this module (`deno task train` writes it). */
export const DEFAULT_MODEL_URL = new URL("./model/kilonova_gbdt.json", import.meta.url);

/** The stored model: trees plus identity and training metadata. */
export interface ModelFile extends GbdtJson {
  name: string;
  version: string;
  /** The probability of "kilonova" at which a candidate is called a kilonova. */
  threshold: number;
  /** Training summary (seed, sizes, options). */
  training: Record<string, unknown>;
}

/** A loaded model. */
export class KilonovaModel {
  readonly name: string;
  readonly version: string;
  readonly threshold: number;
  readonly gbdt: Gbdt;
  readonly kilonovaIndex: number;

  constructor(readonly file: ModelFile) {
    const want = FEATURE_NAMES.join(",");
    if (file.features.join(",") !== want) {
      throw new Error(
        `model ${file.name} ${file.version} was trained on other features; run \`deno task train\``,
      );
    }
    this.name = file.name;
    this.version = file.version;
    this.threshold = file.threshold;
    this.gbdt = new Gbdt(file);
    this.kilonovaIndex = file.classes.indexOf("kilonova");
    if (this.kilonovaIndex < 0) throw new Error(`model ${file.name} has no "kilonova" class`);
  }

  /** Reads a weights file (JSON). */
  static load(url: URL | string = DEFAULT_MODEL_URL): KilonovaModel {
    let text: string;
    try {
      text = Deno.readTextFileSync(url);
    } catch (e) {
      throw new Error(
        `classifier weights ${url}: cannot read (${(e as Error).message}); run \`deno task train\``,
      );
    }
    return new KilonovaModel(JSON.parse(text) as ModelFile);
  }
}

let defaultModel: KilonovaModel | undefined;

/** The committed model, loaded once. */
export function loadDefaultModel(): KilonovaModel {
  return defaultModel ??= KilonovaModel.load();
}

/** What {@link score} returns. */
export interface Score {
  /** P(kilonova). */
  readonly pKilonova: number;
  /** Probability per class. */
  readonly probabilities: Record<string, number>;
  /** The most probable class. */
  readonly label: string;
  /** P(kilonova) ≥ the model's operating threshold. */
  readonly isKilonova: boolean;
  /** Feature values (null = missing). */
  readonly features: Record<string, number | null>;
  /** Contributions to the kilonova log-odds per feature (non-zero only). */
  readonly contributions: Record<string, number>;
  /** Short human-readable explanation. */
  readonly explanation: string;
  /** True when scored without a GW event (light curve alone). */
  readonly lightCurveOnly: boolean;
  readonly model: { name: string; version: string };
}

/** Options of {@link score}. */
export interface ScoreOptions {
  /** Skip contributions and explanation (hot loops that only need probabilities). */
  readonly probabilitiesOnly?: boolean;
}

const scratch = new Float64Array(NF);

/** Scores a light curve in a context. Pure: reads `lc` and `ctx`, changes nothing. */
export function score(
  lc: LightCurve,
  ctx: ScoreContext,
  model: KilonovaModel = loadDefaultModel(),
  options: ScoreOptions = {},
): Score {
  const x = extractFeatures(lc, ctx, scratch);
  const p = model.gbdt.predict(x);
  const probabilities: Record<string, number> = {};
  let best = 0;
  const classes = model.gbdt.classes;
  for (let k = 0; k < classes.length; k++) {
    probabilities[classes[k]] = p[k];
    if (p[k] > p[best]) best = k;
  }
  const pKn = p[model.kilonovaIndex];
  const features: Record<string, number | null> = {};
  for (let i = 0; i < NF; i++) {
    features[FEATURE_NAMES[i]] = Number.isFinite(x[i]) ? round4(x[i]) : null;
  }
  const contributions: Record<string, number> = {};
  let explanation = "";
  if (!options.probabilitiesOnly) {
    const c = model.gbdt.contributions(x, model.kilonovaIndex);
    for (let i = 0; i < NF; i++) {
      const v = c.byFeature[i];
      if (Math.abs(v) >= 1e-4) contributions[FEATURE_NAMES[i]] = round4(v);
    }
    explanation = explain(lc, ctx, x, pKn, c.byFeature);
  }
  return {
    pKilonova: pKn,
    probabilities,
    label: model.gbdt.classes[best],
    isKilonova: pKn >= model.threshold,
    features,
    contributions,
    explanation,
    lightCurveOnly: !ctx.gw,
    model: { name: model.name, version: model.version },
  };
}

function round4(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}
