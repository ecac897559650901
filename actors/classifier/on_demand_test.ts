/**
 * On-demand scoring is the streaming classifier: AT2017gfo's photometry file
 * scored by `deno task classify` (the real CLI, as a process) at 1, 2, 3, 5 and
 * 7 days gives exactly the results the actor's handler publishes after the
 * same points arrive as alerts — with the GW sky map and without one.
 */
import assert from "node:assert/strict";
import { ClassificationResult } from "../../contracts/messages.ts";
import { loadDataset } from "../source_publisher/mod.ts";
import { handleEnvelope } from "./actor.ts";
import { readLightCurveFile } from "./lightcurve_file.ts";
import { type LightCurveReport, locateOnSkyMap, scoreParsed } from "./on_demand.ts";
import { ClassifierState, isoToMjd } from "./state.ts";
import {
  envelope,
  gfoAlerts,
  GW170817_T0_ISO,
  gwAlert,
  multiOrderMap,
  toBase64,
} from "./testing.ts";

const ds = await loadDataset();
const FILE = new URL("../source_publisher/data/photometry_at2017gfo.csv", import.meta.url).pathname;
const EPOCHS = [1, 2, 3, 5, 7];
const T0 = isoToMjd(GW170817_T0_ISO);
const { ra, dec } = ds.facts.counterpart;
const mapBytes = await multiOrderMap(ds);

/** The actor's last result per epoch, streaming AT2017gfo's alerts (after an IGWN alert if `withMap`). */
async function streamed(withMap: boolean): Promise<(ClassificationResult | undefined)[]> {
  const state = new ClassifierState();
  if (withMap) {
    await handleEnvelope(envelope("gw", gwAlert(toBase64(mapBytes)), 0), "gw-1", state);
  }
  const last: { mjd: number; r: ClassificationResult }[] = [];
  for (const [i, a] of gfoAlerts(ds).entries()) {
    if (a.candidate.mjd > T0 + 7.5) break;
    const out = await handleEnvelope(envelope("optical", a, i + 1), `opt-${i}`, state);
    for (const o of out) last.push({ mjd: a.candidate.mjd, r: ClassificationResult.parse(o.data) });
  }
  return EPOCHS.map((d) => last.filter((x) => x.mjd <= T0 + d).at(-1)?.r);
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./classify_cli.ts", import.meta.url).pathname, ...args],
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function assertSame(report: LightCurveReport, stream: (ClassificationResult | undefined)[]) {
  assert.deepEqual(report.epochs.map((e) => e.epoch_days), EPOCHS);
  for (const [k, e] of report.epochs.entries()) {
    const r = stream[k];
    assert.ok(r, `the stream has a result by +${EPOCHS[k]} d`);
    const { light_curve_only, ...features } = r.features;
    const at = `+${EPOCHS[k]} d`;
    assert.deepEqual(e.scores, r.scores, `scores ${at}`);
    assert.equal(e.p_kilonova, r.scores.kilonova, `P(kilonova) ${at}`);
    assert.deepEqual(e.features, features, `features ${at}`);
    assert.equal(e.light_curve_only, light_curve_only === 1, `light-curve-only flag ${at}`);
    assert.deepEqual(e.explanation, r.explanation, `explanation ${at}`);
    assert.deepEqual(e.model, r.model, `model ${at}`);
    assert.equal(e.event_id, r.event_id, `event ${at}`);
  }
}

Deno.test({
  name: "classify CLI with a sky map = the streaming actor at +1, 2, 3, 5, 7 days (AT2017gfo)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "kb-classify-" });
    try {
      const map = `${dir}/bayestar.multiorder.fits`;
      await Deno.writeFile(map, mapBytes);
      const stream = await streamed(true);
      const run = await cli([
        FILE,
        "--format=json",
        `--t0=${T0}`,
        `--ra=${ra}`,
        `--dec=${dec}`,
        `--skymap=${map}`,
        "--event=S170817a",
        `--at=${EPOCHS.join(",")}`,
      ]);
      assert.equal(run.code, 0, run.stderr);
      const [report] = JSON.parse(run.stdout) as LightCurveReport[];
      assert.equal(report.event_id, "S170817a");
      assertSame(report, stream);
      assert.ok(report.epochs.every((e) => !e.light_curve_only && e.p_kilonova! >= 0.9));
      assert.match(report.epochs[0].explanation!.summary, /Mpc implies M_\w = −1\d\.\d/);
      // The in-process call the HTTP route makes gives the same report.
      const event = await locateOnSkyMap(mapBytes, map, { ra, dec }, T0, "S170817a");
      const inProcess = scoreParsed(await readLightCurveFile(FILE), {
        t0Mjd: T0,
        at: EPOCHS,
        event,
        ra,
        dec,
      });
      assert.deepEqual(JSON.parse(JSON.stringify(inProcess)), report);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "classify CLI without a sky map = the streaming actor with no GW event, flagged light-curve-only",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const stream = await streamed(false);
    const run = await cli([FILE, "--format", "json", "--t0", String(T0), "--at", "1,2,3,5,7"]);
    assert.equal(run.code, 0, run.stderr);
    const [report] = JSON.parse(run.stdout) as LightCurveReport[];
    assertSame(report, stream);
    assert.ok(report.epochs.every((e) => e.light_curve_only && e.event_id === null));
    assert.match(report.epochs[0].explanation!.summary, /light curve only/);
    assert.match(report.notes.join("\n"), /point\(s\) in bands the classifier does not use: .*Ks×/);
  },
});
