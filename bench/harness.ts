/**
 * The benchmark harness behind `deno task bench`. Each area registers a
 * {@link Bench} in `registry.ts`; the runner starts the servers it needs,
 * runs it, prints one table per bench (measured value next to the raw ceiling
 * measured in the same run, and the target) and writes
 * `bench/results/<name>.json` (`<name>.variant.json` for a run with any
 * `KB_BENCH_*` knob set).
 *
 * @module
 */

/** One measured figure. */
export interface BenchRow {
  /** What was measured, e.g. "actor-to-actor throughput (1 KB)". */
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  /** The raw ceiling measured in the same run (e.g. `nats bench`), same unit. */
  readonly ceiling?: number;
  /** Where the ceiling comes from. */
  readonly ceilingSource?: string;
  /** The target, as text (e.g. "≥ 70% of ceiling"). */
  readonly target?: string;
  /** Whether the target was met (undefined when there is none). */
  readonly met?: boolean;
  readonly note?: string;
}

/** What one bench returns. */
export interface BenchResult {
  readonly rows: BenchRow[];
  /** Anything else worth keeping in the JSON file. */
  readonly details?: Record<string, unknown>;
}

/**
 * The `KB_BENCH_*` variables of an environment (the benches' knobs; one bench's with a longer
 * `prefix`, e.g. `KB_BENCH_E2E_`), sorted by name.
 */
export function benchKnobs(
  env: Readonly<Record<string, string>>,
  prefix = "KB_BENCH_",
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0
    ),
  );
}

/** `K=V K=V` of a run's knobs, or undefined when it had none. */
export function knobsText(knobs: Readonly<Record<string, string>>): string | undefined {
  const set = Object.entries(knobs);
  return set.length ? set.map(([k, v]) => `${k}=${v}`).join(" ") : undefined;
}

/**
 * The file in `bench/results/` a run is written to: `<name>.json` for a run
 * with the benches' defaults (what `bench/report.ts` draws the docs from),
 * else (`variant`: its knobs) `<name>.variant.json`, so a partial or tuned run
 * never replaces it.
 */
export function resultFileName(name: string, variant: string | undefined): string {
  return variant ? `${name}.variant.json` : `${name}.json`;
}

/** Local servers a bench needs (names of `deploy/local/<name>.sh`). */
export type Service = "nats" | "postgres" | "kafka" | "hop" | "keycloak";

/** A benchmark. */
export interface Bench {
  /** Short name, used to select it: `deno task bench <name>`. */
  readonly name: string;
  readonly description: string;
  readonly needs: readonly Service[];
  run(): Promise<BenchResult>;
}

/** Quantile of a sorted array (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Formats a number for a table. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(3);
}

/** Runs a command and returns its stdout, failing with its stderr. */
export async function run(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout);
}
