/**
 * `deno task classify [options] <file|dir|glob>...` — the kilonova score of any
 * light curve, with the streaming classifier's own code (see on_demand.ts).
 * Several files are scored in parallel by workers, with a progress bar
 * (cli-progress, on a terminal) and a summary table.
 *
 * Exit status: 0 all files scored, 1 some file failed, 2 bad options.
 *
 * @module
 */
// @ts-types="npm:@types/cli-progress@3.11.6"
import cliProgress from "cli-progress";
import { globSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import type { WorkerAnswer, WorkerJob } from "./classify_worker.ts";
import { runJob } from "./classify_worker.ts";
import {
  type EpochScore,
  type LightCurveReport,
  locateOnSkyMap,
  type OnDemandOptions,
  parseEpochs,
} from "./on_demand.ts";

/** The usage text. */
export const USAGE = `usage: deno task classify [options] <file|directory|glob>...

Scores light curves (CSV: mjd,band,mag,mag_err,upper_limit[,system], other
columns ignored; or JSON Lines of the same fields) with the kilonova classifier.

options:
  --t0 <mjd>          merger time (default: the sky map's MJD-OBS/DATE-OBS)
  --ra <deg> --dec <deg>
                      candidate position (needed with --skymap)
  --skymap <fits>     GW sky map (flat or multi-order, .fits or .fits.gz);
                      without it the score is light-curve-only and flagged so
  --event <id>        event name (default: the sky map's OBJECT header)
  --at <day>[,<day>]  score with the data up to t0 + day, per day
  --format table|json|csv   output (default table)
  --jobs <n>          parallel workers for several files (default: CPUs)
  --no-progress       no progress bar
`;

/** One file's outcome. */
export type FileOutcome =
  | { readonly source: string; readonly report: LightCurveReport }
  | { readonly source: string; readonly error: string };

/** Expands files, directories (their .csv/.jsonl/.ndjson files, recursively) and globs. */
export function expandInputs(inputs: readonly string[]): string[] {
  const out: string[] = [];
  for (const input of inputs) {
    if (/[*?[{]/.test(input)) {
      const hits = globSync(input).filter((p) => isFile(p)).sort();
      if (!hits.length) throw new UsageError(`${input}: no file matches`);
      out.push(...hits);
      continue;
    }
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(input);
    } catch (e) {
      throw new UsageError(`${input}: ${(e as Error).message}`);
    }
    if (info.isDirectory) {
      const hits = globSync(`${input.replace(/\/$/, "")}/**/*.{csv,jsonl,ndjson}`)
        .filter((p) => isFile(p)).sort();
      if (!hits.length) throw new UsageError(`${input}: no .csv, .jsonl or .ndjson file inside`);
      out.push(...hits);
    } else out.push(input);
  }
  return out;
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** A bad command line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Scores files, `jobs` at a time in workers (in this thread when one file or one job). */
export async function scoreFiles(
  files: readonly string[],
  options: OnDemandOptions,
  jobs: number,
  onDone: (done: number, source: string) => void = () => {},
): Promise<FileOutcome[]> {
  const results: FileOutcome[] = new Array(files.length);
  const take = (a: WorkerAnswer) => {
    const source = files[a.index];
    results[a.index] = "report" in a ? { source, report: a.report } : { source, error: a.error };
  };
  let done = 0;
  const n = Math.max(1, Math.min(jobs, files.length));
  if (n === 1) {
    for (const [index, path] of files.entries()) {
      take(await runJob({ index, path, options }));
      onDone(++done, path);
    }
    return results;
  }
  let next = 0;
  const workers = Array.from(
    { length: n },
    () => new Worker(new URL("./classify_worker.ts", import.meta.url), { type: "module" }),
  );
  try {
    await Promise.all(workers.map((w) =>
      new Promise<void>((resolve, reject) => {
        const send = () => {
          if (next >= files.length) return resolve();
          const job: WorkerJob = { index: next, path: files[next], options };
          next++;
          w.postMessage(job);
        };
        w.onmessage = (ev: MessageEvent<WorkerAnswer>) => {
          take(ev.data);
          onDone(++done, files[ev.data.index]);
          send();
        };
        w.onerror = (ev) => {
          ev.preventDefault();
          reject(new Error(`classify worker failed: ${ev.message}`));
        };
        send();
      })
    ));
  } finally {
    for (const w of workers) w.terminate();
  }
  return results;
}

const f3 = (v: number | null) => (v === null ? "—" : v.toFixed(3));
const epochLabel = (e: EpochScore) => (e.epoch_days === null ? "all" : `+${e.epoch_days} d`);

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd()).join("\n");
}

/** The per-file table with explanations. */
export function formatTable(o: FileOutcome): string {
  if ("error" in o) return `${o.source}\n  error: ${o.error}\n`;
  const r = o.report;
  const classes = r.epochs.find((e) => e.scores)?.scores;
  const others = classes ? Object.keys(classes).filter((c) => c !== "kilonova") : [];
  const head = [
    "epoch",
    "until MJD",
    "points",
    "det",
    "P(kilonova)",
    ...others.map((c) => `P(${c})`),
    "label",
    "LC only",
    "event",
  ];
  const body = r.epochs.map((e) => [
    epochLabel(e),
    e.until_mjd === null ? "—" : e.until_mjd.toFixed(4),
    String(e.points),
    String(e.detections),
    f3(e.p_kilonova),
    ...others.map((c) => f3(e.scores?.[c] ?? null)),
    e.label ?? "(no detection)",
    e.light_curve_only ? "yes" : "no",
    e.event_id ?? "—",
  ]);
  const lines = [
    `${r.source}  (${r.rows} rows; t0 ${r.t0_mjd === null ? "—" : r.t0_mjd.toFixed(5)}; ` +
    `model ${r.epochs[0].model.name} ${r.epochs[0].model.version})`,
    ...r.notes.map((n) => `  note: ${n}`),
    table([head, ...body]).replace(/^/gm, "  "),
    ...r.epochs.map((e) =>
      `  ${epochLabel(e)}: ${e.explanation?.summary ?? "no detection yet: nothing to score"}`
    ),
  ];
  return lines.join("\n") + "\n";
}

/** The summary of a batch. */
export function formatSummary(outcomes: readonly FileOutcome[]): string {
  const rows = outcomes.map((o) => {
    if ("error" in o) return [o.source, "—", "—", "—", "—", `error: ${o.error}`];
    const last = o.report.epochs.at(-1)!;
    const best = Math.max(...o.report.epochs.map((e) => e.p_kilonova ?? -1));
    return [
      o.source,
      String(o.report.rows),
      f3(last.p_kilonova),
      best < 0 ? "—" : best.toFixed(3),
      last.label ?? "—",
      o.report.notes.length ? `${o.report.notes.length} note(s)` : "",
    ];
  });
  const failed = outcomes.filter((o) => "error" in o).length;
  return `summary: ${outcomes.length} file(s), ${
    outcomes.length - failed
  } scored, ${failed} failed\n` +
    table([["file", "rows", "P(kn) last", "P(kn) max", "label", "notes"], ...rows]) + "\n";
}

const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** CSV: one row per file and epoch (class probabilities and features as columns). */
export function formatCsv(outcomes: readonly FileOutcome[]): string {
  const any = outcomes.flatMap((o) => ("report" in o ? o.report.epochs : []));
  const classes = Object.keys(any.find((e) => e.scores)?.scores ?? {});
  const features = Object.keys(any.find((e) => e.features)?.features ?? {});
  const head = [
    "source",
    "epoch_days",
    "until_mjd",
    "points",
    "detections",
    "p_kilonova",
    "label",
    "is_kilonova",
    "light_curve_only",
    "event_id",
    "model",
    "model_version",
    ...classes.map((c) => `p_${c}`),
    ...features.map((f) => `f_${f}`),
    "explanation",
    "error",
  ];
  const lines = [head.join(",")];
  for (const o of outcomes) {
    if ("error" in o) {
      lines.push(
        [o.source, ...new Array(head.length - 2).fill(""), o.error].map(csvCell).join(","),
      );
      continue;
    }
    for (const e of o.report.epochs) {
      lines.push(
        [
          o.source,
          e.epoch_days,
          e.until_mjd,
          e.points,
          e.detections,
          e.p_kilonova,
          e.label,
          e.is_kilonova,
          e.light_curve_only,
          e.event_id,
          e.model.name,
          e.model.version,
          ...classes.map((c) => e.scores?.[c] ?? null),
          ...features.map((f) => e.features?.[f] ?? null),
          e.explanation?.summary ?? null,
          "",
        ].map(csvCell).join(","),
      );
    }
  }
  return lines.join("\n") + "\n";
}

function num(name: string, v: string | undefined, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < lo || n > hi) {
    throw new UsageError(`--${name}: "${v}" is not a number in ${lo}..${hi}`);
  }
  return n;
}

const VALUE_OPTIONS = new Set([
  "--t0",
  "--ra",
  "--dec",
  "--skymap",
  "--event",
  "--at",
  "--format",
  "--jobs",
]);

/** `--dec -23.4` → `--dec=-23.4` (node's parseArgs takes a leading dash for an option). */
function joinNegativeValues(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (VALUE_OPTIONS.has(args[i]) && i + 1 < args.length && /^-\d|^-\./.test(args[i + 1])) {
      out.push(`${args[i]}=${args[++i]}`);
    } else out.push(args[i]);
  }
  return out;
}

/** Runs the CLI; returns the exit status. */
export async function main(args: readonly string[]): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: joinNegativeValues(args),
      allowPositionals: true,
      options: {
        t0: { type: "string" },
        ra: { type: "string" },
        dec: { type: "string" },
        skymap: { type: "string" },
        event: { type: "string" },
        at: { type: "string" },
        format: { type: "string", default: "table" },
        jobs: { type: "string" },
        "no-progress": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let files: string[];
  let options: OnDemandOptions;
  let jobs: number;
  const format = values.format;
  try {
    if (!["table", "json", "csv"].includes(format)) {
      throw new UsageError(`--format: "${format}" is not table, json or csv`);
    }
    if (!positionals.length) throw new UsageError("give at least one file, directory or glob");
    files = expandInputs(positionals);
    const t0 = num("t0", values.t0, 40000, 80000);
    const ra = num("ra", values.ra, 0, 360);
    const dec = num("dec", values.dec, -90, 90);
    if ((ra === undefined) !== (dec === undefined)) {
      throw new UsageError("give both --ra and --dec");
    }
    jobs = num("jobs", values.jobs, 1, 256) ?? navigator.hardwareConcurrency ?? 1;
    const at = values.at === undefined ? [] : parseEpochs(values.at);
    let event;
    if (values.skymap) {
      if (ra === undefined) throw new UsageError("--skymap needs --ra and --dec");
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(values.skymap);
      } catch (e) {
        throw new UsageError(`--skymap ${values.skymap}: ${(e as Error).message}`);
      }
      event = await locateOnSkyMap(bytes, values.skymap, { ra, dec: dec! }, t0, values.event);
    }
    if (at.length && t0 === undefined && !event) {
      throw new UsageError("--at needs the merger time: give --t0 or --skymap");
    }
    options = { t0Mjd: t0, at, event, ra, dec };
  } catch (e) {
    console.error(`classify: ${(e as Error).message}`);
    return 2;
  }

  const batch = files.length > 1;
  const showBar = batch && !values["no-progress"] && Deno.stderr.isTerminal();
  const bar = showBar
    ? new cliProgress.SingleBar({
      format:
        "classify [{bar}] {value}/{total} files | {rate} files/s | ETA {eta_formatted} | {file}",
      stream: process.stderr,
      hideCursor: true,
    }, cliProgress.Presets.shades_classic)
    : undefined;
  const started = performance.now();
  bar?.start(files.length, 0, { rate: "0", file: "" });
  const outcomes = await scoreFiles(files, options, jobs, (done, source) => {
    const rate = done / Math.max(0.001, (performance.now() - started) / 1000);
    bar?.update(done, { rate: rate.toFixed(1), file: source.slice(-40) });
  });
  bar?.stop();

  if (format === "json") {
    console.log(JSON.stringify(
      outcomes.map((o) => ("report" in o ? o.report : { source: o.source, error: o.error })),
      null,
      2,
    ));
  } else if (format === "csv") {
    Deno.stdout.writeSync(new TextEncoder().encode(formatCsv(outcomes)));
  } else {
    console.log(outcomes.map(formatTable).join("\n"));
  }
  for (const o of outcomes) if ("error" in o) console.error(`classify: ${o.error}`);
  if (batch) {
    const summary = formatSummary(outcomes);
    if (format === "table") console.log(summary);
    else console.error(summary);
  }
  return outcomes.some((o) => "error" in o) ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
