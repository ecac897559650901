/**
 * Writes the benchmark report of `docs/performance.md` from `bench/results/`:
 *
 * - the table of every bench (value, ceiling of the same run, target, met, run
 *   date), between the `<!-- bench-table:begin -->` and `<!-- bench-table:end -->`
 *   markers of the doc (the text around them is hand-written);
 * - `docs/performance-e2e-latency.svg`: end-to-end latency (first derived alert
 *   of each new candidate p50/p95/p99, every derived alert p50, the seed-style
 *   poll) against offered load, from `e2e.json`; every `e2e-run*.json` (earlier
 *   runs kept for comparison) adds faint points.
 *
 * Rendering: Apache ECharts' server-side SVG renderer (`ssr: true`,
 * `renderToSVGString`), a maintained charting library that runs in Deno without
 * a DOM, rather than hand-written SVG.
 *
 * Usage: `./kb run -A bench/report.ts` (after `deno task bench ...`).
 *
 * @module
 */
import * as echarts from "echarts";
import { knobsText } from "./harness.ts";

const RESULTS = new URL("./results/", import.meta.url);
const OUT = new URL("../docs/performance-e2e-latency.svg", import.meta.url);
const DOC = new URL("../docs/performance.md", import.meta.url);
/** Table order (others follow in name order). */
const ORDER = ["runtime", "gateway", "replay", "archive", "db-pool", "classifier", "tom", "e2e"];

interface Row {
  metric: string;
  value: number;
  unit: string;
  ceiling?: number;
  ceilingSource?: string;
  target?: string;
  met?: boolean;
  note?: string;
}

function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");

/** The rows of a bench table (as {@link benchTable} writes it), by bench name. */
export function tableRowsByBench(table: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of table.split("\n")) {
    const m = /^\|\s*([a-z][a-z0-9-]*)\s*\|/.exec(line);
    if (!m || m[1] === "bench") continue;
    out.set(m[1], [...(out.get(m[1]) ?? []), line]);
  }
  return out;
}

/**
 * The bench whose default run `name` is (`<bench>.json`: e2e and db-pool included, digits and
 * dashes), or undefined: the kept `e2e-run*.json` and a run with knobs (`<bench>.variant.json`)
 * are not a bench's latest default run.
 */
export function benchOfResultFile(name: string): string | undefined {
  if (!/^[a-z][a-z0-9-]*\.json$/.test(name) || name.startsWith("e2e-run")) return undefined;
  return name.replace(/\.json$/, "");
}

/**
 * The markdown table of every `bench/results/<bench>.json`. A bench with no result file here
 * (`bench/results/` is not kept in git: a fresh checkout has only what it ran) keeps its rows
 * from `previous`, the table the doc holds, so running one bench does not drop the others.
 */
export async function benchTable(previous = ""): Promise<string> {
  const files: string[] = [];
  for await (const e of Deno.readDir(RESULTS)) {
    const bench = benchOfResultFile(e.name);
    if (bench) files.push(bench);
  }
  const kept = tableRowsByBench(previous);
  for (const name of files) kept.delete(name);
  const names = [...files, ...kept.keys()].sort((a, b) =>
    (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b)
  );
  const lines = [
    "| bench | metric | value | ceiling (same run) | ratio | target | met | run (UTC) |",
    "|---|---|---:|---:|---:|---|---|---|",
  ];
  for (const name of names) {
    const earlier = kept.get(name);
    if (earlier) {
      lines.push(...earlier);
      continue;
    }
    const r = JSON.parse(await Deno.readTextFile(new URL(`${name}.json`, RESULTS)));
    for (const row of r.rows as Row[]) {
      const ceiling = row.ceiling === undefined
        ? ""
        : `${num(row.ceiling)} ${row.unit} (${row.ceilingSource ?? ""})`;
      const ratio = row.ceiling ? `${Math.round(100 * row.value / row.ceiling)}%` : "";
      lines.push(
        `| ${name} | ${cell(row.metric)} | ${num(row.value)} ${row.unit} | ${cell(ceiling)} | ` +
          `${ratio} | ${cell(row.target ?? "")} | ${
            row.met === undefined ? "" : row.met ? "yes" : "**no**"
          } | ${String(r.at).slice(0, 16).replace("T", " ")} |`,
      );
    }
  }
  return lines.join("\n");
}

interface Pct {
  n: number;
  p50: number;
  p95: number;
  p99: number;
}

interface Step {
  rate: number;
  offeredRate: number;
  firstDerived: Pct;
  allDerived: Pct;
  seed: Pct;
  /** Whole-machine accounting of the step (runs before 2026-11-27 02:00 lack it). */
  machine?: { coresBusy: number; msPerAlert: Record<string, number> };
}

interface E2eResult {
  at: string;
  details: {
    steps: Step[];
    throughput: number;
    passThrough: number;
    /** Pass-through + archive insert alone (runs before 2026-11-27 06:00 lack it). */
    floor?: {
      machineMs: number;
      rate: number;
      pipeline?: { rate: number; latency: Pct; coresBusy: number }[];
    };
    backlog: number;
    /** `KB_BENCH_E2E_*` variables the run was given (runs before session 11 lack it). */
    knobs?: Record<string, string>;
    drainSeconds: number;
    drainProcs: Record<string, { cpuPct: number }>;
    peakRssMiB: Record<string, number>;
    loadAverage?: number[];
  };
}

/** One row per figure, one column per e2e run, then min and median. */
export function e2eRunsTable(runs: E2eResult[]): string {
  const sorted = [...runs].sort((a, b) => a.at.localeCompare(b.at));
  const cpuPerAlert = (r: E2eResult) =>
    Object.values(r.details.drainProcs).reduce(
      (t, p) => t + (p.cpuPct / 100) * r.details.drainSeconds * 1000 / r.details.backlog,
      0,
    );
  const step = (r: E2eResult, rate: number) => r.details.steps.find((s) => s.rate === rate);
  const figures: [string, (r: E2eResult) => number | undefined][] = [
    ["sustained throughput (alerts/s)", (r) => r.details.throughput],
    ["raw Kafka → Kafka pass-through, same run (records/s)", (r) => r.details.passThrough],
    ["throughput / pass-through (%)", (r) => 100 * r.details.throughput / r.details.passThrough],
    ["CPU per alert, all processes (ms)", cpuPerAlert],
    [
      "floor: pass-through + archive insert alone, whole machine (ms per alert)",
      (r) => r.details.floor?.machineMs,
    ],
    ["floor's bound on this machine (alerts/s)", (r) => r.details.floor?.rate],
  ];
  const floorAt = (r: E2eResult, rate: number) =>
    r.details.floor?.pipeline?.find((f) => f.rate === rate);
  figures.push(
    ["1000/s, floor pipeline (one process): p50 (ms)", (r) => floorAt(r, 1000)?.latency.p50],
    ["1000/s, floor pipeline (one process): p99 (ms)", (r) => floorAt(r, 1000)?.latency.p99],
    ["1000/s, floor pipeline (one process): cores busy", (r) => floorAt(r, 1000)?.coresBusy],
  );
  for (const rate of [100, 1000, 5000]) {
    figures.push(
      [`${rate}/s: offered (alerts/s)`, (r) => step(r, rate)?.offeredRate],
      [`${rate}/s: first derived alert p50 (ms)`, (r) => step(r, rate)?.firstDerived.p50],
      [`${rate}/s: first derived alert p99 (ms)`, (r) => step(r, rate)?.firstDerived.p99],
      [`${rate}/s: every derived alert p50 (ms)`, (r) => step(r, rate)?.allDerived.p50],
      [`${rate}/s: seed-style 10 s poll p50 (ms)`, (r) => step(r, rate)?.seed.p50],
      [`${rate}/s: cores busy, produce to drained`, (r) => step(r, rate)?.machine?.coresBusy],
      [
        `${rate}/s: whole machine CPU per alert (ms)`,
        (r) => step(r, rate)?.machine?.msPerAlert.machine,
      ],
    );
  }
  figures.push(
    ["largest peak RSS of a pipeline process (MiB)", (r) =>
      Math.max(
        ...Object.entries(r.details.peakRssMiB).filter(([k]) => !k.startsWith("nats-server"))
          .map(([, v]) => v),
      )],
    ["load average (1 min) at the end", (r) => r.details.loadAverage?.[0]],
  );
  const head = sorted.map((r) => r.at.slice(0, 16).replace("T", " "));
  const lines = [
    `| figure | ${head.join(" | ")} | min | median |`,
    `|---|${head.map(() => "---:").join("|")}|---:|---:|`,
  ];
  for (const [name, f] of figures) {
    const vs = sorted.map(f);
    const ok = vs.filter((v): v is number => v !== undefined && Number.isFinite(v))
      .sort((a, b) => a - b);
    const median = ok.length
      ? (ok.length % 2 ? ok[(ok.length - 1) / 2] : (ok[ok.length / 2 - 1] + ok[ok.length / 2]) / 2)
      : NaN;
    lines.push(
      `| ${name} | ${vs.map((v) => v === undefined ? "" : num(v)).join(" | ")} | ${
        ok.length ? num(ok[0]) : ""
      } | ${ok.length ? num(median) : ""} |`,
    );
  }
  return lines.join("\n");
}

/** Replaces the text between `<!-- <tag>:begin -->` and `<!-- <tag>:end -->`. */
function between(doc: string, tag: string, text: string): string {
  const begin = `<!-- ${tag}:begin -->`;
  const end = `<!-- ${tag}:end -->`;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${DOC.pathname} lacks the ${begin} … ${end} markers`);
  return doc.slice(0, a + begin.length) + "\n\n" + text + "\n\n" + doc.slice(b);
}

/** The text between a tag's markers. */
function inside(doc: string, tag: string): string {
  const begin = `<!-- ${tag}:begin -->`;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(`<!-- ${tag}:end -->`);
  return a < 0 || b < a ? "" : doc.slice(a + begin.length, b);
}

/**
 * Why an e2e result is not a run with the bench's defaults (the `KB_BENCH_E2E_*` variables it was
 * given), or undefined when it is one. Only default runs go into the docs' tables and plot.
 */
export function knobsOf(r: { details: { knobs?: Record<string, string> } }): string | undefined {
  return knobsText(r.details.knobs ?? {});
}

async function load(name: string): Promise<E2eResult> {
  const r = JSON.parse(await Deno.readTextFile(new URL(name, RESULTS))) as E2eResult;
  if (!Array.isArray(r.details?.steps)) {
    throw new Error(`${name} has no details.steps: is it the e2e bench's output?`);
  }
  return r;
}

/** The chart's SVG text for a latest run and earlier ones. */
export function renderLatencySvg(latest: E2eResult, earlier: E2eResult[]): string {
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width: 860, height: 540 });
  const pts = (f: (s: Step) => number) =>
    latest.details.steps.map((s) => [s.rate, Math.max(0.5, f(s))]);
  const line = (name: string, f: (s: Step) => number, dashed = false) => ({
    name,
    type: "line",
    data: pts(f),
    symbolSize: 7,
    lineStyle: dashed ? { type: "dashed" } : undefined,
  });
  chart.setOption({
    animation: false,
    backgroundColor: "#ffffff",
    title: {
      text: "End-to-end latency vs offered load",
      subtext: `Kafka produce → Kafka derived alert, every stage its own process; run ${
        latest.at.slice(0, 16).replace("T", " ")
      } UTC (faint: earlier runs, first-derived p50)`,
      left: "center",
    },
    legend: { bottom: 0 },
    grid: { left: 80, right: 40, top: 80, bottom: 120 },
    xAxis: {
      type: "log",
      name: "offered load (alerts/s)",
      nameLocation: "middle",
      nameGap: 30,
      min: 50,
      max: 10_000,
    },
    yAxis: {
      type: "log",
      name: "latency (ms)",
      nameLocation: "middle",
      nameGap: 55,
      min: 1,
    },
    series: [
      line("first derived alert p50", (s) => s.firstDerived.p50),
      line("first derived alert p95", (s) => s.firstDerived.p95),
      line("first derived alert p99", (s) => s.firstDerived.p99),
      line("every derived alert p50", (s) => s.allDerived.p50, true),
      line("seed-style 10 s poll p50 (time to notice)", (s) => s.seed.p50, true),
      {
        name: "targets at 1,000/s (p50 < 20 ms, p99 < 100 ms)",
        type: "scatter",
        symbol: "diamond",
        symbolSize: 12,
        itemStyle: { color: "#d62728" },
        data: [[1000, 20], [1000, 100]],
      },
      {
        name: "earlier runs",
        type: "scatter",
        symbolSize: 5,
        itemStyle: { color: "#7f7f7f", opacity: 0.5 },
        data: earlier.flatMap((r) =>
          r.details.steps.map((s) => [s.rate, Math.max(0.5, s.firstDerived.p50)])
        ),
      },
    ],
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}

if (import.meta.main) {
  const names: string[] = [];
  for await (const e of Deno.readDir(RESULTS)) {
    if (/^e2e-run.*\.json$/.test(e.name)) names.push(e.name);
  }
  const latest = await load("e2e.json");
  const latestKnobs = knobsOf(latest);
  if (latestKnobs) {
    throw new Error(
      `bench/results/e2e.json is from a run with ${latestKnobs}; the tables and the plot show ` +
        "runs with the bench's defaults: run `./kb task bench e2e` without KB_BENCH_E2E_* " +
        "variables, then this again",
    );
  }
  const earlier = (await Promise.all(names.sort().map(load))).filter((r) => {
    const knobs = knobsOf(r);
    if (knobs) console.warn(`left out ${r.at}: a run with ${knobs}`);
    return r.at !== latest.at && !knobs;
  });
  await Deno.writeTextFile(OUT, renderLatencySvg(latest, earlier) + "\n");
  console.log(`wrote ${OUT.pathname} (${earlier.length} earlier runs)`);
  let doc = await Deno.readTextFile(DOC);
  doc = between(doc, "bench-table", await benchTable(inside(doc, "bench-table")));
  doc = between(doc, "e2e-runs", e2eRunsTable([...earlier, latest]));
  await Deno.writeTextFile(DOC, doc);
  console.log(`wrote the tables of ${DOC.pathname}`);
  // `deno fmt --check` (CI) covers both files: leave them formatted.
  const fmt = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", OUT.pathname, DOC.pathname],
  }).output();
  if (!fmt.success) {
    throw new Error(`deno fmt failed on the report: ${new TextDecoder().decode(fmt.stderr)}`);
  }
}
