/**
 * Light-curve files: the documented errors (unknown band with the accepted
 * labels, bad numbers with file/line/column, empty files, missing columns),
 * unsorted and duplicate rows accepted and reported, JSON Lines, and the CLI's
 * batch mode (directory and glob, summary, exit status) as a process.
 */
import assert from "node:assert/strict";
import {
  LightCurveFileError,
  parseLightCurveRecords,
  parseLightCurveText,
  readLightCurveFile,
} from "./lightcurve_file.ts";
import { type LightCurveReport, scoreParsed } from "./on_demand.ts";

const H = "mjd,band,mag,mag_err,upper_limit,system,instrument,source";
const ok = [
  "57982.98,i,17.48,0.02,false,AB,DECam,x",
  "57983.00,g,17.23,0.03,false,AB,DECam,x",
  "57983.99,r,17.80,0.04,false,AB,DECam,x",
];

function err(text: string, file = "lc.csv"): string {
  try {
    parseLightCurveText(text, file);
  } catch (e) {
    assert.ok(e instanceof LightCurveFileError, String(e));
    return e.message;
  }
  throw new Error("expected an error");
}

Deno.test("an unknown band is an error listing the accepted bands and aliases", () => {
  const m = err([H, ok[0], "57983.1,q,18.0,0.1,false,AB,x,x"].join("\n"));
  assert.match(m, /^lc\.csv: line 3, column band: unknown band "q"; used: u g r i z y /);
  assert.match(m, /aliases .*F625W→r/);
  assert.match(m, /accepted but not used by the classifier: .*Ks/);
});

Deno.test("bad numbers name the file, line and column", () => {
  assert.match(
    err([H, ok[0], "57983.1,r,abc,0.1,false,AB,x,x"].join("\n"), "a/b.csv"),
    /^a\/b\.csv: line 3, column mag: "abc" is not a number$/,
  );
  assert.match(
    err([H, "x,r,18,0.1,false,,,"].join("\n")),
    /line 2, column mjd: "x" is not a number/,
  );
  assert.match(
    err([H, "57983,r,18,-1,false,,,"].join("\n")),
    /line 2, column mag_err: -1 is outside 0\.\.5/,
  );
  assert.match(
    err([H, "57983,r,18,,maybe,,,"].join("\n")),
    /line 2, column upper_limit: "maybe" must be true or false/,
  );
  assert.match(
    err([H, "123,r,18,,false,,,"].join("\n")),
    /line 2, column mjd: 123 is not a plausible MJD/,
  );
  assert.match(err([H, "57983,r,,0.1,false,,,"].join("\n")), /line 2, column mag: missing value/);
  assert.match(
    err([H, "57983,r,18"].join("\n")),
    /line 2: expected 8 columns as in the header, found 3/,
  );
  assert.match(
    err('{"mjd":57983,"band":"r","mag":"18x","mag_err":null,"upper_limit":false}', "p.jsonl"),
    /^p\.jsonl: line 1, column mag: "18x" is not a number$/,
  );
  assert.match(err("{not json}\n", "p.jsonl"), /^p\.jsonl: line 1: not JSON/);
});

Deno.test("empty files, unreadable files and missing columns are errors", async () => {
  await assert.rejects(
    readLightCurveFile("/nonexistent/lc.csv"),
    /^LightCurveFileError: \/nonexistent\/lc\.csv: cannot read/,
  );
  assert.match(
    err(""),
    /^lc\.csv: empty file: expected a header row with mjd,band,mag,mag_err,upper_limit/,
  );
  assert.match(err(`${H}\n\n`), /^lc\.csv: empty: no data rows$/);
  assert.match(err("", "x.jsonl"), /^x\.jsonl: empty: no data rows$/);
  assert.match(
    err("mjd,band,mag\n57983,r,18\n"),
    /line 1: header lacks column\(s\) mag_err, upper_limit/,
  );
});

Deno.test("unsorted and duplicate rows are accepted, sorted, and reported", () => {
  const p = parseLightCurveText(
    [H, ok[2], ok[0], ok[1], ok[0], "57983.5,J,17,0.1,false,Vega,x,x"].join("\n"),
    "u.csv",
  );
  assert.deepEqual(p.rows.map((r) => r.line), [3, 5, 4, 6, 2]);
  assert.match(
    p.notes[0],
    /^2 row\(s\) out of time order \(first at line 3\); scored in time order$/,
  );
  assert.match(p.notes[1], /^1 exact duplicate row\(s\) ignored at line 5 \(= 3\)$/);
  assert.match(p.notes[2], /1 point\(s\) in bands the classifier does not use: J×1/);
  // The duplicate does not count twice; the J point is counted as ignored.
  const r = scoreParsed(p);
  assert.equal(r.epochs[0].detections, 3);
  assert.equal(r.epochs[0].ignored_points, 1);
  assert.deepEqual(
    scoreParsed(parseLightCurveText([H, ...ok].join("\n"), "s.csv")).epochs[0].scores,
    r.epochs[0].scores,
  );
});

Deno.test("JSON Lines and JSON records read like the CSV; extra columns are ignored", () => {
  const csv = parseLightCurveText([H, ...ok].join("\n"), "a.csv");
  const objs = csv.rows.map((r) => ({
    mjd: r.mjd,
    band: r.band,
    mag: r.mag,
    mag_err: r.magErr,
    upper_limit: r.upperLimit,
    telescope: "extra",
  }));
  const jsonl = parseLightCurveText(objs.map((o) => JSON.stringify(o)).join("\n"), "a.jsonl");
  const records = parseLightCurveRecords(objs, "request");
  const strip = (p: typeof csv) => p.rows.map(({ line: _l, system: _s, ...x }) => x);
  assert.deepEqual(strip(jsonl), strip(csv));
  assert.deepEqual(strip(records), strip(csv));
  assert.match(
    (() => {
      try {
        parseLightCurveRecords([{ ...objs[0], band: "zz" }], "request");
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    })(),
    /^request: point 1, column band: unknown band "zz"/,
  );
});

async function cli(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./classify_cli.ts", import.meta.url).pathname, ...args],
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test({
  name: "CLI batch: a directory and a glob scored in parallel, a bad file reported, summary table",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "kb-classify-batch-" });
    try {
      const gfo = new URL("../source_publisher/data/photometry_at2017gfo.csv", import.meta.url);
      const text = await Deno.readTextFile(gfo);
      for (let i = 0; i < 5; i++) await Deno.writeTextFile(`${dir}/lc${i}.csv`, text);
      await Deno.mkdir(`${dir}/sub`);
      await Deno.writeTextFile(
        `${dir}/sub/lc.jsonl`,
        ok.map((l) => {
          const [mjd, band, mag, magErr] = l.split(",");
          return JSON.stringify({
            mjd: +mjd,
            band,
            mag: +mag,
            mag_err: +magErr,
            upper_limit: false,
          });
        }).join("\n"),
      );
      await Deno.writeTextFile(`${dir}/sub/bad.csv`, `${H}\n57983,r,1e,0.1,false,,,\n`);

      // Directory (recursive), table format, 2 workers.
      let run = await cli([dir, "--jobs", "2", "--t0", "57982.5285", "--at", "1,3"]);
      assert.equal(run.code, 1, "a bad file makes the exit status 1");
      assert.match(
        run.stderr,
        /classify: .*sub\/bad\.csv: line 2, column mag: "1e" is not a number/,
      );
      assert.match(run.stdout, /summary: 7 file\(s\), 6 scored, 1 failed/);
      assert.match(run.stdout, /lc4\.csv\s+821\s+1\.000/);
      assert.match(run.stdout, /\+1 d\s+57983\.5285\s+116\s+35\s+0\.9\d\d/);

      // Glob, JSON: reports in input order, the same numbers for the same file.
      run = await cli([`${dir}/lc*.csv`, "--format", "json", "--t0", "57982.5285", "--at", "1,3"]);
      assert.equal(run.code, 0, run.stderr);
      const reports = JSON.parse(run.stdout) as LightCurveReport[];
      assert.deepEqual(
        reports.map((r) => r.source.replace(/^.*\//, "")),
        [0, 1, 2, 3, 4].map((i) => `lc${i}.csv`),
      );
      for (const r of reports) assert.deepEqual(r.epochs, reports[0].epochs);
      assert.match(run.stderr, /summary: 5 file\(s\), 5 scored, 0 failed/);

      // CSV: header and one row per file and epoch.
      run = await cli([`${dir}/sub/lc.jsonl`, "--format", "csv"]);
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.trim().split("\n");
      assert.match(
        lines[0],
        /^source,epoch_days,until_mjd,points,detections,p_kilonova,label,.*,p_SN Ia,.*,f_t_first_det,.*,explanation,error$/,
      );
      assert.equal(lines.length, 2);

      // Usage errors: exit status 2 with the reason.
      run = await cli([`${dir}/lc0.csv`, "--at", "1"]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /--at needs the merger time: give --t0 or --skymap/);
      run = await cli([`${dir}/nothing*.csv`]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /no file matches/);
      run = await cli([`${dir}/lc0.csv`, "--skymap", `${dir}/lc0.csv`]);
      assert.match(run.stderr, /--skymap needs --ra and --dec/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
