/**
 * A small parser for the container recipe (Containerfile/Dockerfile syntax):
 * enough to check its rules in a test and to reproduce its run-time layout
 * without a container engine. Handles comments, line continuations, stages,
 * ARG defaults and the JSON (exec) form.
 *
 * @module
 */

/** One instruction, with the build stage it belongs to (0 = first FROM). */
export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  readonly keyword: string;
  /** The rest of the instruction, continuations joined. */
  readonly args: string;
  readonly stage: number;
  /** 1-based line of the keyword. */
  readonly line: number;
}

/** Parses a recipe into instructions (instructions before the first FROM get stage -1). */
export function parseContainerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split("\n");
  let stage = -1;
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i].trim();
    if (first === "" || first.startsWith("#")) continue;
    const start = i + 1;
    let joined = lines[i].replace(/\s+$/, "");
    let more = joined.endsWith("\\");
    if (more) joined = joined.slice(0, -1).trimEnd();
    while (more && i + 1 < lines.length) {
      i++;
      const next = lines[i].trim();
      if (next.startsWith("#")) continue; // comments inside a continuation are dropped
      more = next.endsWith("\\");
      joined += " " + (more ? next.slice(0, -1).trimEnd() : next);
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(joined);
    if (!m) throw new Error(`Containerfile line ${start}: cannot parse "${joined}"`);
    const keyword = m[1].toUpperCase();
    if (keyword === "FROM") stage++;
    out.push({ keyword, args: m[2].trim(), stage, line: start });
  }
  return out;
}

/** The JSON (exec) form of an instruction's arguments, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  const v = JSON.parse(args);
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new Error(`not a JSON array of strings: ${args}`);
  }
  return v;
}

/** Default values of the global ARGs (those before the first FROM). */
export function globalArgs(instructions: Instruction[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ins of instructions) {
    if (ins.keyword !== "ARG" || ins.stage !== -1) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(ins.args);
    if (!m) throw new Error(`line ${ins.line}: bad ARG ${ins.args}`);
    out[m[1]] = (m[2] ?? "").replace(/^"(.*)"$/, "$1");
  }
  return out;
}

/** ENV assignments of one stage, in order (`KEY=value` pairs, quotes removed). */
export function envOf(instructions: Instruction[], stage: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ins of instructions) {
    if (ins.keyword !== "ENV" || ins.stage !== stage) continue;
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) {
      out[m[1]] = m[3] ?? m[2];
    }
  }
  return out;
}

/** The last stage's index. */
export function finalStage(instructions: Instruction[]): number {
  return Math.max(...instructions.map((i) => i.stage));
}

/** Path of the project's recipe. */
export const CONTAINERFILE = new URL("Containerfile", import.meta.url);

/** The project's recipe, parsed. */
export function readContainerfile(): Instruction[] {
  return parseContainerfile(Deno.readTextFileSync(CONTAINERFILE));
}

/** The entry files the image pre-caches (ARG KB_ENTRYPOINTS). */
export function containerEntrypoints(instructions = readContainerfile()): string[] {
  const value = globalArgs(instructions).KB_ENTRYPOINTS;
  if (!value) throw new Error("the Containerfile declares no ARG KB_ENTRYPOINTS default");
  return value.split(/\s+/).filter(Boolean);
}
