/**
 * Light curves from files and requests: CSV with a header row (columns `mjd`,
 * `band`, `mag`, `mag_err`, `upper_limit`, optional `system`; other columns are
 * ignored — the format of the GW170817 data set's `photometry_at2017gfo.csv`),
 * JSON Lines of the same fields, or an array of such objects (the HTTP API).
 *
 * For an upper limit (`upper_limit` true) `mag` is the limiting magnitude.
 * Every error names the source, the line (or point) and the column. Rows out
 * of time order and exact duplicates are accepted and reported in `notes`;
 * bands the classifier knows but does not use (near-IR, UV, unfiltered) are
 * accepted, counted and reported; any other band label is an error that
 * lists the accepted labels.
 *
 * @module
 */
import { KNOWN_BANDS } from "../source_publisher/bands.ts";
import { bandAliases, bandIndex, BANDS } from "./bands.ts";
import type { PhotPoint } from "./lightcurve.ts";

/** Raised for a malformed light curve; the message names source, line and column. */
export class LightCurveFileError extends Error {
  constructor(
    readonly source: string,
    readonly where: string | null,
    message: string,
  ) {
    super(`${source}: ${where ? `${where}: ` : ""}${message}`);
    this.name = "LightCurveFileError";
  }
}

/** One validated row. */
export interface LightCurveRow {
  /** 1-based line in the file (CSV, JSON Lines) or point number (array). */
  readonly line: number;
  readonly mjd: number;
  readonly band: string;
  /** Magnitude, or the limiting magnitude of an upper limit. */
  readonly mag: number;
  readonly magErr: number | null;
  readonly upperLimit: boolean;
  readonly system: "AB" | "Vega" | null;
}

/** A parsed light curve: rows in time order, and what was noticed on the way. */
export interface ParsedLightCurve {
  readonly source: string;
  /** Rows sorted by time (stable). */
  readonly rows: readonly LightCurveRow[];
  /** Warnings: unsorted rows, duplicates, bands the classifier does not use. */
  readonly notes: readonly string[];
}

/** Columns every light curve needs. */
export const REQUIRED_COLUMNS = ["mjd", "band", "mag", "mag_err", "upper_limit"] as const;

const USED = bandAliases();
const UNUSED = KNOWN_BANDS.filter((b) => bandIndex(b) < 0);
const ACCEPTED = new Set<string>([...Object.keys(USED), ...UNUSED]);

/** The accepted band labels, for error messages and documentation. */
export function acceptedBandsText(): string {
  const aliases = Object.entries(USED).filter(([k, b]) => k !== b).map(([k, b]) => `${k}→${b}`);
  return `used: ${BANDS.join(" ")} (aliases ${aliases.join(" ")}); ` +
    `accepted but not used by the classifier: ${UNUSED.join(" ")}`;
}

/** Reads and parses a file; the format follows the extension (`.jsonl`/`.ndjson` = JSON Lines). */
export async function readLightCurveFile(path: string): Promise<ParsedLightCurve> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new LightCurveFileError(path, null, `cannot read (${(e as Error).message})`);
  }
  return parseLightCurveText(text, path);
}

/** Parses CSV or JSON Lines text (JSON Lines when the name ends in .jsonl/.ndjson or the text starts with `{`). */
export function parseLightCurveText(text: string, source: string): ParsedLightCurve {
  const trimmed = text.replace(/^\uFEFF/, "");
  if (/\.(jsonl|ndjson)$/i.test(source) || trimmed.trimStart().startsWith("{")) {
    return parseJsonLines(trimmed, source);
  }
  return parseCsv(trimmed, source);
}

/** Validates JSON objects with the CSV's field names (the HTTP API's `points`). */
export function parseLightCurveRecords(
  records: readonly Record<string, unknown>[],
  source: string,
): ParsedLightCurve {
  const rows = records.map((r, i) => validateRow(source, `point ${i + 1}`, i + 1, (c) => r[c]));
  return finish(source, rows, "point");
}

function parseJsonLines(text: string, source: string): ParsedLightCurve {
  const rows: LightCurveRow[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === "") return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      throw new LightCurveFileError(
        source,
        `line ${line}`,
        `not JSON (${(e as Error).message})`,
      );
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
      throw new LightCurveFileError(source, `line ${line}`, "expected a JSON object per line");
    }
    const o = obj as Record<string, unknown>;
    rows.push(validateRow(source, `line ${line}`, line, (c) => o[c]));
  });
  return finish(source, rows, "line");
}

function parseCsv(text: string, source: string): ParsedLightCurve {
  const lines = text.split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== "" && !l.startsWith("#"));
  if (headerAt < 0) {
    throw new LightCurveFileError(
      source,
      null,
      `empty file: expected a header row with ${REQUIRED_COLUMNS.join(",")} and data rows`,
    );
  }
  const header = splitCsvLine(lines[headerAt]).map((h) => h.trim().toLowerCase());
  const missing = REQUIRED_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length) {
    throw new LightCurveFileError(
      source,
      `line ${headerAt + 1}`,
      `header lacks column(s) ${missing.join(", ")} (need ${REQUIRED_COLUMNS.join(",")}; ` +
        `found "${lines[headerAt].slice(0, 120)}")`,
    );
  }
  const index = new Map(header.map((h, i) => [h, i]));
  const rows: LightCurveRow[] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    const raw = lines[i];
    if (raw.trim() === "" || raw.startsWith("#")) continue;
    const line = i + 1;
    const f = splitCsvLine(raw);
    if (f.length < header.length) {
      throw new LightCurveFileError(
        source,
        `line ${line}`,
        `expected ${header.length} columns as in the header, found ${f.length}`,
      );
    }
    rows.push(validateRow(source, `line ${line}`, line, (c) => {
      const k = index.get(c);
      return k === undefined ? undefined : f[k];
    }));
  }
  return finish(source, rows, "line");
}

/** Splits one CSV line (RFC 4180 quotes: `"a,b"`, `""` = a quote). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur === "") quoted = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function validateRow(
  source: string,
  where: string,
  line: number,
  get: (column: string) => unknown,
): LightCurveRow {
  const fail = (column: string, message: string): never => {
    throw new LightCurveFileError(source, `${where}, column ${column}`, message);
  };
  const num = (column: string, optional: boolean): number | null => {
    const v = get(column);
    if (v === undefined || v === null || (typeof v === "string" && v.trim() === "")) {
      return optional ? null : fail(column, "missing value");
    }
    const n = typeof v === "number" ? v : typeof v === "string" ? Number(v.trim()) : NaN;
    if (!Number.isFinite(n)) fail(column, `${JSON.stringify(v)} is not a number`);
    return n;
  };
  const mjd = num("mjd", false)!;
  if (mjd < 40000 || mjd > 80000) fail("mjd", `${mjd} is not a plausible MJD (40000..80000)`);
  const bandRaw = get("band");
  const band = typeof bandRaw === "string" ? bandRaw.trim() : "";
  if (!band) fail("band", "missing value");
  if (!ACCEPTED.has(band)) fail("band", `unknown band "${band}"; ${acceptedBandsText()}`);
  const mag = num("mag", false)!;
  if (mag < -5 || mag > 35) fail("mag", `${mag} is outside -5..35`);
  const magErr = num("mag_err", true);
  if (magErr !== null && (magErr < 0 || magErr > 5)) {
    fail("mag_err", `${magErr} is outside 0..5`);
  }
  const ul = get("upper_limit");
  let upperLimit: boolean;
  if (typeof ul === "boolean") upperLimit = ul;
  else if (typeof ul === "string" && /^(true|false|1|0)$/i.test(ul.trim())) {
    upperLimit = /^(true|1)$/i.test(ul.trim());
  } else {
    upperLimit = fail("upper_limit", `${JSON.stringify(ul ?? null)} must be true or false`);
  }
  const sys = get("system");
  let system: "AB" | "Vega" | null = null;
  if (sys !== undefined && sys !== null && sys !== "") {
    if (sys !== "AB" && sys !== "Vega") {
      fail("system", `${JSON.stringify(sys)} must be AB, Vega or empty (= AB)`);
    }
    system = sys as "AB" | "Vega";
  }
  return { line, mjd, band, mag, magErr, upperLimit, system };
}

function finish(source: string, rows: LightCurveRow[], unit: string): ParsedLightCurve {
  if (!rows.length) {
    throw new LightCurveFileError(source, null, "empty: no data rows");
  }
  const notes: string[] = [];
  let unsorted = 0;
  let firstUnsorted = 0;
  for (let i = 1; i < rows.length; i++) {
    if (rows[i].mjd < rows[i - 1].mjd) {
      if (!unsorted) firstUnsorted = rows[i].line;
      unsorted++;
    }
  }
  const sorted = unsorted ? [...rows].sort((a, b) => a.mjd - b.mjd) : rows;
  if (unsorted) {
    notes.push(
      `${unsorted} row(s) out of time order (first at ${unit} ${firstUnsorted}); scored in time order`,
    );
  }
  const seen = new Map<string, number>();
  const dups: string[] = [];
  for (const r of rows) {
    const key = `${r.mjd}|${r.band}|${r.upperLimit ? "<" : ""}${r.mag}`;
    const first = seen.get(key);
    if (first !== undefined) dups.push(`${r.line} (= ${first})`);
    else seen.set(key, r.line);
  }
  if (dups.length) {
    notes.push(
      `${dups.length} exact duplicate row(s) ignored at ${unit} ${dups.slice(0, 10).join(", ")}${
        dups.length > 10 ? ", …" : ""
      }`,
    );
  }
  const unused = new Map<string, number>();
  for (const r of rows) {
    if (bandIndex(r.band) < 0) unused.set(r.band, (unused.get(r.band) ?? 0) + 1);
  }
  if (unused.size) {
    notes.push(
      `${[...unused.values()].reduce((a, b) => a + b, 0)} point(s) in bands the classifier ` +
        `does not use: ${[...unused].map(([b, n]) => `${b}×${n}`).join(" ")}`,
    );
  }
  return { source, rows: sorted, notes };
}

/** A row as the classifier's light curve takes it (the same mapping as the streaming path). */
export function rowToPoint(r: LightCurveRow): PhotPoint {
  return {
    mjd: r.mjd,
    band: r.band,
    mag: r.upperLimit ? null : r.mag,
    magErr: r.upperLimit ? null : r.magErr,
    limit: r.upperLimit ? r.mag : null,
    upperLimit: r.upperLimit,
    system: r.system,
  };
}
