/**
 * Minimal FITS (Flexible Image Transport System, FITS 4.0) support for sky maps:
 * reading binary-table extensions (`XTENSION='BINTABLE'`) with scalar numeric
 * columns, optionally gzip-compressed, and writing one. That is the whole of
 * what HEALPix sky maps (flat and multi-order NUNIQ) need; images, variable
 * length arrays, strings and scaled columns are refused with a clear error.
 *
 * @module
 */

const BLOCK = 2880;
const CARD = 80;

/** A header value: FITS strings, numbers and logicals. */
export type HeaderValue = string | number | boolean;

/** One header card kept in order (COMMENT/HISTORY cards have no value). */
export interface HeaderCard {
  readonly key: string;
  readonly value?: HeaderValue;
  readonly comment?: string;
}

/** Scalar column types supported: B (uint8), I (int16), J (int32), K (int64), E (float32), D (float64). */
export type ColumnFormat = "B" | "I" | "J" | "K" | "E" | "D";

const WIDTH: Record<ColumnFormat, number> = { B: 1, I: 2, J: 4, K: 8, E: 4, D: 8 };

/** A decoded binary table. Integer columns (K included) are returned as Float64Array. */
export interface BinTable {
  /** Header cards of the table's HDU, in order. */
  readonly cards: readonly HeaderCard[];
  /** Header values by keyword (the last card wins). */
  readonly header: ReadonlyMap<string, HeaderValue>;
  readonly rows: number;
  /** Columns by TTYPE name, in table order. */
  readonly columns: ReadonlyMap<string, Float64Array>;
  /** TUNITn per column, when given. */
  readonly units: ReadonlyMap<string, string>;
}

/** Raised for input that is not a FITS file this module can read; names the source. */
export class FitsError extends Error {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = "FitsError";
  }
}

/** True when the bytes start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses gzip bytes with the platform's DecompressionStream. */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Compresses bytes with gzip. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function parseValue(raw: string): { value?: HeaderValue; comment?: string } {
  const s = raw.trimStart();
  if (s.startsWith("'")) {
    let i = 1;
    let out = "";
    while (i < s.length) {
      if (s[i] === "'") {
        if (s[i + 1] === "'") {
          out += "'";
          i += 2;
          continue;
        }
        break;
      }
      out += s[i++];
    }
    const rest = s.slice(i + 1);
    const slash = rest.indexOf("/");
    return {
      value: out.trimEnd(),
      comment: slash >= 0 ? rest.slice(slash + 1).trim() : undefined,
    };
  }
  const slash = s.indexOf("/");
  const text = (slash >= 0 ? s.slice(0, slash) : s).trim();
  const comment = slash >= 0 ? s.slice(slash + 1).trim() : undefined;
  if (text === "T") return { value: true, comment };
  if (text === "F") return { value: false, comment };
  if (text === "") return { comment };
  const n = Number(text.replace(/D/g, "E"));
  return { value: Number.isNaN(n) ? text : n, comment };
}

function readHeader(
  bytes: Uint8Array,
  offset: number,
  source: string,
): { cards: HeaderCard[]; next: number } {
  const dec = new TextDecoder("latin1");
  const cards: HeaderCard[] = [];
  let pos = offset;
  for (;;) {
    if (pos + CARD > bytes.length) {
      throw new FitsError(source, `header at byte ${offset} has no END card (file truncated?)`);
    }
    const card = dec.decode(bytes.subarray(pos, pos + CARD));
    pos += CARD;
    const key = card.slice(0, 8).trim();
    if (key === "END") break;
    if (key === "" || key === "COMMENT" || key === "HISTORY") {
      if (key) cards.push({ key, comment: card.slice(8).trimEnd() });
      continue;
    }
    if (card.slice(8, 10) === "= ") {
      cards.push({ key, ...parseValue(card.slice(10)) });
    } else {
      cards.push({ key, comment: card.slice(8).trimEnd() });
    }
  }
  const next = offset + Math.ceil((pos - offset) / BLOCK) * BLOCK;
  return { cards, next };
}

function headerMap(cards: readonly HeaderCard[]): Map<string, HeaderValue> {
  const m = new Map<string, HeaderValue>();
  for (const c of cards) if (c.value !== undefined) m.set(c.key, c.value);
  return m;
}

function num(h: ReadonlyMap<string, HeaderValue>, key: string, source: string): number {
  const v = h.get(key);
  if (typeof v !== "number") {
    throw new FitsError(source, `header keyword ${key} is missing or not a number`);
  }
  return v;
}

function dataSize(h: ReadonlyMap<string, HeaderValue>, source: string): number {
  const naxis = num(h, "NAXIS", source);
  if (naxis === 0) return 0;
  let n = Math.abs(num(h, "BITPIX", source)) / 8;
  for (let i = 1; i <= naxis; i++) n *= num(h, `NAXIS${i}`, source);
  const pcount = (h.get("PCOUNT") as number | undefined) ?? 0;
  const gcount = (h.get("GCOUNT") as number | undefined) ?? 1;
  return (n + pcount) * gcount;
}

/**
 * Reads the first binary table of a FITS file (gzip-compressed or not).
 * `only` limits decoding to the named columns (saves memory on big maps).
 * `source` names the file in error messages.
 */
export async function readBinTable(
  input: Uint8Array,
  options: { source?: string; only?: readonly string[] } = {},
): Promise<BinTable> {
  const source = options.source ?? "FITS input";
  const bytes = isGzip(input) ? await gunzip(input) : input;
  if (bytes.length < BLOCK || new TextDecoder().decode(bytes.subarray(0, 6)) !== "SIMPLE") {
    throw new FitsError(source, "not a FITS file (no SIMPLE card at the start)");
  }
  let offset = 0;
  let first = true;
  while (offset < bytes.length) {
    const { cards, next } = readHeader(bytes, offset, source);
    const h = headerMap(cards);
    const size = dataSize(h, source);
    if (!first && h.get("XTENSION") === "BINTABLE") {
      return decodeTable(bytes, next, cards, h, source, options.only);
    }
    first = false;
    offset = next + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new FitsError(source, "no BINTABLE extension found");
}

function decodeTable(
  bytes: Uint8Array,
  start: number,
  cards: readonly HeaderCard[],
  h: ReadonlyMap<string, HeaderValue>,
  source: string,
  only?: readonly string[],
): BinTable {
  const rowBytes = num(h, "NAXIS1", source);
  const rows = num(h, "NAXIS2", source);
  const nfields = num(h, "TFIELDS", source);
  if (start + rowBytes * rows > bytes.length) {
    throw new FitsError(
      source,
      `table data needs ${rowBytes * rows} bytes but the file ends early (truncated?)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, rowBytes * rows);
  const columns = new Map<string, Float64Array>();
  const units = new Map<string, string>();
  let colOffset = 0;
  for (let i = 1; i <= nfields; i++) {
    const name = String(h.get(`TTYPE${i}`) ?? `COL${i}`).trim();
    const form = String(h.get(`TFORM${i}`) ?? "").trim();
    const m = /^(\d*)([A-Z])$/.exec(form);
    if (!m) throw new FitsError(source, `column ${name}: TFORM${i}='${form}' is not supported`);
    const repeat = m[1] === "" ? 1 : Number(m[1]);
    const code = m[2] as ColumnFormat;
    const width = WIDTH[code];
    if (width === undefined) {
      throw new FitsError(
        source,
        `column ${name}: type '${m[2]}' is not supported (numeric B I J K E D only)`,
      );
    }
    if (h.has(`TSCAL${i}`) || h.has(`TZERO${i}`)) {
      const zero = h.get(`TZERO${i}`);
      const scal = h.get(`TSCAL${i}`);
      if ((zero !== undefined && zero !== 0) || (scal !== undefined && scal !== 1)) {
        throw new FitsError(
          source,
          `column ${name}: scaled columns (TSCAL/TZERO) are not supported`,
        );
      }
    }
    const unit = h.get(`TUNIT${i}`);
    if (typeof unit === "string") units.set(name, unit);
    if (repeat === 1 && (!only || only.includes(name))) {
      const out = new Float64Array(rows);
      for (let r = 0, p = colOffset; r < rows; r++, p += rowBytes) {
        switch (code) {
          case "D":
            out[r] = view.getFloat64(p);
            break;
          case "E":
            out[r] = view.getFloat32(p);
            break;
          case "J":
            out[r] = view.getInt32(p);
            break;
          case "K":
            out[r] = Number(view.getBigInt64(p));
            break;
          case "I":
            out[r] = view.getInt16(p);
            break;
          case "B":
            out[r] = view.getUint8(p);
            break;
        }
      }
      columns.set(name, out);
    }
    colOffset += repeat * width;
  }
  if (colOffset !== rowBytes) {
    throw new FitsError(
      source,
      `columns add up to ${colOffset} bytes per row but NAXIS1 is ${rowBytes}`,
    );
  }
  if (only) {
    for (const c of only) if (!columns.has(c)) throw new FitsError(source, `column ${c} not found`);
  }
  return { cards, header: h, rows, columns, units };
}

/** A column to write. */
export interface ColumnSpec {
  readonly name: string;
  readonly format: ColumnFormat;
  readonly unit?: string;
  readonly data: ArrayLike<number>;
}

function formatValue(v: HeaderValue): string {
  if (typeof v === "boolean") return (v ? "T" : "F").padStart(20);
  if (typeof v === "number") {
    let s: string;
    if (Number.isInteger(v) && Math.abs(v) < 1e15) s = String(v);
    else s = v.toPrecision(16).replace(/\.?0+e/, "e").toUpperCase();
    if (!s.includes(".") && !s.includes("E") && !Number.isInteger(v)) s += ".0";
    return s.padStart(20);
  }
  const quoted = `'${v.replace(/'/g, "''").padEnd(8)}'`;
  return quoted.padEnd(20);
}

function card(key: string, value?: HeaderValue, comment?: string): string {
  let s: string;
  if (value === undefined) s = `${key.padEnd(8)}${comment ? ` ${comment}` : ""}`;
  else s = `${key.padEnd(8)}= ${formatValue(value)}${comment ? ` / ${comment}` : ""}`;
  if (s.length > CARD) s = s.slice(0, CARD);
  return s.padEnd(CARD);
}

function padBlock(text: string): Uint8Array {
  const len = Math.ceil(text.length / BLOCK) * BLOCK;
  const out = new Uint8Array(len).fill(0x20);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0x7f;
  return out;
}

/**
 * Writes a FITS file: an empty primary HDU and one binary table with the given
 * columns and extra header cards (e.g. PIXTYPE, ORDERING, OBJECT).
 */
export function writeBinTable(
  columns: readonly ColumnSpec[],
  extra: readonly HeaderCard[] = [],
): Uint8Array {
  const rows = columns[0]?.data.length ?? 0;
  for (const c of columns) {
    if (c.data.length !== rows) {
      throw new RangeError(`column ${c.name} has ${c.data.length} rows, expected ${rows}`);
    }
  }
  const rowBytes = columns.reduce((s, c) => s + WIDTH[c.format], 0);
  const primary = [
    card("SIMPLE", true, "conforms to FITS standard"),
    card("BITPIX", 8, "array data type"),
    card("NAXIS", 0, "number of array dimensions"),
    card("EXTEND", true),
    card("END"),
  ].join("");
  const ext = [
    card("XTENSION", "BINTABLE", "binary table extension"),
    card("BITPIX", 8, "array data type"),
    card("NAXIS", 2, "number of array dimensions"),
    card("NAXIS1", rowBytes, "length of dimension 1"),
    card("NAXIS2", rows, "length of dimension 2"),
    card("PCOUNT", 0, "number of group parameters"),
    card("GCOUNT", 1, "number of groups"),
    card("TFIELDS", columns.length, "number of table fields"),
  ];
  columns.forEach((c, i) => {
    ext.push(card(`TTYPE${i + 1}`, c.name));
    ext.push(card(`TFORM${i + 1}`, c.format));
    if (c.unit) ext.push(card(`TUNIT${i + 1}`, c.unit));
  });
  for (const c of extra) ext.push(card(c.key, c.value, c.comment));
  ext.push(card("END"));
  const head1 = padBlock(primary);
  const head2 = padBlock(ext.join(""));
  const dataLen = Math.ceil((rowBytes * rows) / BLOCK) * BLOCK;
  const out = new Uint8Array(head1.length + head2.length + dataLen);
  out.set(head1, 0);
  out.set(head2, head1.length);
  const view = new DataView(out.buffer, head1.length + head2.length, rowBytes * rows);
  let colOffset = 0;
  for (const c of columns) {
    for (let r = 0, p = colOffset; r < rows; r++, p += rowBytes) {
      const v = c.data[r];
      switch (c.format) {
        case "D":
          view.setFloat64(p, v);
          break;
        case "E":
          view.setFloat32(p, v);
          break;
        case "J":
          view.setInt32(p, v);
          break;
        case "K":
          view.setBigInt64(p, BigInt(Math.round(v)));
          break;
        case "I":
          view.setInt16(p, v);
          break;
        case "B":
          view.setUint8(p, v);
          break;
      }
    }
    colOffset += WIDTH[c.format];
  }
  return out;
}
