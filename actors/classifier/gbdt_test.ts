import assert from "node:assert/strict";
import { Gbdt, type GbdtJson, trainGbdt } from "./gbdt.ts";
import { DEFAULT_MODEL_URL } from "./model.ts";

function dataset(n: number, seed: number) {
  let s = seed;
  const u = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const x = new Float64Array(n * 3), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = u() * 2 - 1, b = u() * 2 - 1;
    x[i * 3] = a;
    x[i * 3 + 1] = u() < 0.2 ? NaN : b; // missing values
    x[i * 3 + 2] = u(); // noise
    y[i] = a > 0.3 ? 2 : Number.isNaN(x[i * 3 + 1]) ? 1 : b > 0 ? 1 : 0;
  }
  return { x, y, w: new Float64Array(n).fill(1), nFeatures: 3 };
}

const OPTS = {
  rounds: 30,
  learningRate: 0.3,
  maxDepth: 3,
  lambda: 1,
  minChildWeight: 1,
  subsample: 0.9,
  bins: 32,
  seed: 1,
};

Deno.test("GBDT learns a rule with missing values and generalises to new data", () => {
  const json = trainGbdt(dataset(3000, 1), ["a", "b", "c"], ["f0", "f1", "f2"], OPTS);
  const m = new Gbdt(JSON.parse(JSON.stringify(json)));
  const test = dataset(1000, 2);
  let right = 0;
  for (let i = 0; i < 1000; i++) {
    const p = m.predict(test.x.subarray(i * 3, i * 3 + 3));
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    if (p.indexOf(Math.max(...p)) === test.y[i]) right++;
  }
  assert.ok(right / 1000 > 0.95, `accuracy ${right / 1000}`);
});

Deno.test("GBDT training is deterministic and contributions add up to the raw score", () => {
  const a = trainGbdt(dataset(800, 3), ["a", "b", "c"], ["f0", "f1", "f2"], OPTS);
  const b = trainGbdt(dataset(800, 3), ["a", "b", "c"], ["f0", "f1", "f2"], OPTS);
  assert.deepEqual(a, b);
  const m = new Gbdt(a);
  const x = Float64Array.from([0.5, NaN, 0.2]);
  for (let k = 0; k < 3; k++) {
    const c = m.contributions(x, k);
    const sum = c.bias + c.byFeature.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum - m.raw(x)[k]) < 1e-9, `class ${k}: ${sum} vs ${m.raw(x)[k]}`);
  }
  assert.throws(() => new Gbdt({ ...a, base: [0] }), /1 base scores for 3 classes/);
});

/** The plain walk of the JSON trees (node by node, one tree at a time): what raw() must equal. */
function referenceRaw(json: GbdtJson, x: ArrayLike<number>): number[] {
  const out = [...json.base];
  for (const round of json.trees) {
    round.forEach((t, k) => {
      let n = 0;
      while (t.f[n] >= 0) {
        const xv = x[t.f[n]];
        n = xv <= t.t[n] || (Number.isNaN(xv) && t.m[n] === 1) ? t.l[n] : t.r[n];
      }
      out[k] += t.v[n];
    });
  }
  return out;
}

Deno.test("GBDT raw scores equal the plain tree walk bit for bit (4-tree blocks and the rest)", () => {
  // 3 classes × 30 rounds = 90 trees: 22 blocks of 4 and 2 trees walked alone.
  const json = trainGbdt(dataset(800, 5), ["a", "b", "c"], ["f0", "f1", "f2"], OPTS);
  assert.equal(json.trees.length * 3 % 4, 2);
  const m = new Gbdt(json);
  const test = dataset(500, 6);
  const special = [NaN, -Infinity, Infinity, 0, -0, 0.3, -1, 1];
  const xs: Float64Array[] = [];
  for (let i = 0; i < 500; i++) xs.push(test.x.slice(i * 3, i * 3 + 3));
  for (const a of special) for (const b of special) xs.push(Float64Array.from([a, b, NaN]));
  let nan = 0;
  for (const x of xs) {
    if (x.some(Number.isNaN)) nan++;
    const want = referenceRaw(json, x);
    const got = m.raw(x);
    for (let k = 0; k < 3; k++) assert.ok(Object.is(got[k], want[k]), `x=${x} class ${k}`);
  }
  assert.ok(nan > 100, "missing values exercised");
});

Deno.test("GBDT raw scores of the committed model equal the plain tree walk bit for bit", () => {
  const file = JSON.parse(Deno.readTextFileSync(DEFAULT_MODEL_URL)) as GbdtJson;
  const m = new Gbdt(file);
  let s = 11;
  const u = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  for (let i = 0; i < 300; i++) {
    // Features spread over a wide range, a third missing.
    const x = Float64Array.from(file.features, () => (u() < 0.33 ? NaN : (u() - 0.3) * 40));
    const want = referenceRaw(file, x);
    const got = m.raw(x);
    for (let k = 0; k < want.length; k++) assert.ok(Object.is(got[k], want[k]), `class ${k}`);
  }
});
