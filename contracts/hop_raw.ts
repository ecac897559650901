/**
 * The exact bytes of the Kafka record a `HopEnvelope` carries, in either form
 * of its `raw` ({@link HopRaw}): base64, or `sameAsJson` — the record is the
 * JSON text of `content.json` as it stands in the envelope's bytes, so it is
 * read back from those bytes (the parsed value does not give them: a JSON
 * writer picks its own spelling of numbers, escapes and whitespace).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { HopEnvelope, HopRaw } from "./messages.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(b: Uint8Array, i: number): number {
  while (i < b.length && isSpace(b[i])) i++;
  return i;
}

function malformed(what: string, at: number): never {
  throw new SyntaxError(`the envelope bytes are not the JSON expected: ${what} at byte ${at}`);
}

/**
 * Index just past the JSON string that opens at `b[i]` (a quote). A plain loop:
 * `Uint8Array#indexOf` is a runtime call, slower for the short strings JSON is made of.
 */
function skipString(b: Uint8Array, i: number): number {
  for (let j = i + 1; j < b.length; j++) {
    const c = b[j];
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) j++; // the escaped byte is never the end
  }
  malformed("unterminated string", i);
}

/** Index just past the JSON value that starts at `b[i]` (not whitespace). */
function skipValue(b: Uint8Array, i: number): number {
  const n = b.length;
  const c = b[i];
  if (c === QUOTE) return skipString(b, i);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    // One loop over the whole object or array, strings skipped in line (the hot path).
    const open = i;
    let depth = 0;
    while (i < n) {
      const d = b[i++];
      if (d === QUOTE) {
        for (;;) {
          if (i >= n) malformed("unterminated string", open);
          const e = b[i++];
          if (e === QUOTE) break;
          if (e === BACKSLASH) i++; // the escaped byte is never the end
        }
      } else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) return i;
    }
    malformed("unclosed object or array", open);
  }
  // A number, true, false or null: up to the next delimiter.
  while (
    i < n && !isSpace(b[i]) && b[i] !== COMMA && b[i] !== CLOSE_BRACE && b[i] !== CLOSE_BRACKET
  ) i++;
  return i;
}

/** Whether the bytes `b[from, to)` are the ASCII text `name`. */
function sameName(b: Uint8Array, from: number, to: number, name: string): boolean {
  if (to - from !== name.length) return false;
  for (let k = 0; k < name.length; k++) if (b[from + k] !== name.charCodeAt(k)) return false;
  return true;
}

/** Where a member's value is: from just after its `:` to the `,` or `}` that ends it. */
interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * Scans the JSON object opening at `b[open]` once: returns the index just past
 * its `}` and where the value at `path[k..]` is (the member `path[k]`, then the
 * member `path[k + 1]` of that object, and so on; undefined when absent). The
 * last member of a name counts (as `JSON.parse` keeps the last); names are
 * matched as written (a name spelled with escapes does not match).
 */
function scanObject(
  b: Uint8Array,
  open: number,
  path: readonly string[],
  k: number,
): { next: number; found: Span | undefined } {
  if (b[open] !== OPEN_BRACE) malformed("expected an object", open);
  let found: Span | undefined;
  let i = skipSpace(b, open + 1);
  if (b[i] === CLOSE_BRACE) return { next: i + 1, found };
  for (;;) {
    if (b[i] !== QUOTE) malformed("expected a member name", i);
    const nameEnd = skipString(b, i);
    const matches = sameName(b, i + 1, nameEnd - 1, path[k]);
    i = skipSpace(b, nameEnd);
    if (b[i] !== COLON) malformed("expected ':'", i);
    const start = i + 1;
    const first = skipSpace(b, start);
    if (matches && k + 1 < path.length) {
      // Into the member's object (scanned once: its inner value is the long part).
      if (b[first] === OPEN_BRACE) {
        const inner = scanObject(b, first, path, k + 1);
        found = inner.found;
        i = skipSpace(b, inner.next);
      } else {
        found = undefined;
        i = skipSpace(b, skipValue(b, first));
      }
    } else {
      i = skipSpace(b, skipValue(b, first));
      if (matches) found = { start, end: i };
    }
    if (b[i] === CLOSE_BRACE) return { next: i + 1, found };
    if (b[i] !== COMMA) malformed("expected ',' or '}'", i);
    i = skipSpace(b, i + 1);
  }
}

const CONTENT_JSON = ["content", "json"] as const;

/**
 * The bytes of `content.json` in the JSON text of an envelope, exactly as they
 * stand there (a view into `envelopeBytes`), whitespace around the value
 * included; undefined when there is no such member. `envelopeBytes` must be
 * valid JSON (e.g. already accepted by `JSON.parse`); throws a SyntaxError
 * when the bytes do not have the shape of a JSON object.
 */
export function contentJsonBytes(envelopeBytes: Uint8Array): Uint8Array | undefined {
  const { found } = scanObject(envelopeBytes, skipSpace(envelopeBytes, 0), CONTENT_JSON, 0);
  return found && envelopeBytes.subarray(found.start, found.end);
}

/** The record's bytes of a `sameAsJson` raw, checked against its size. */
function sameAsJsonBytes(raw: HopRaw, envelopeBytes: Uint8Array): Uint8Array {
  const bytes = contentJsonBytes(envelopeBytes);
  if (!bytes) {
    throw new Error(
      "raw.sameAsJson is set but the envelope bytes have no content.json member: " +
        "pass the envelope's bytes exactly as received (not re-serialised)",
    );
  }
  if (bytes.byteLength !== raw.size) {
    throw new Error(
      `raw.sameAsJson is set but content.json is ${bytes.byteLength} bytes in the envelope, ` +
        `not raw.size ${raw.size}: the envelope was re-serialised after the gateway wrote it; ` +
        "keep the bytes as received (or re-serialise only after withRawBase64)",
    );
  }
  return bytes;
}

/**
 * The exact bytes of the record of `envelope`, parsed from `envelopeBytes`
 * (the envelope as received). A view into `envelopeBytes` for `sameAsJson`.
 * Throws when the bytes cannot be recovered (a re-serialised envelope).
 */
export function hopRecordBytes(envelope: HopEnvelope, envelopeBytes: Uint8Array): Uint8Array {
  const raw = envelope.raw;
  if (raw.base64 !== null) return new Uint8Array(Buffer.from(raw.base64, "base64"));
  return sameAsJsonBytes(raw, envelopeBytes);
}

/**
 * An envelope value (as `JSON.parse` made it from `envelopeBytes`, not yet
 * validated) with `raw` in its base64 form: unchanged when it has one, else
 * `raw.base64` filled from the envelope bytes (`sameAsJson` dropped). For
 * consumers that keep or forward `raw.base64` (the archiver), and before
 * re-serialising an envelope. Values that are not a `sameAsJson` envelope are
 * returned as they are (schema validation reports them).
 */
export function withRawBase64(value: unknown, envelopeBytes: Uint8Array): unknown {
  const raw = (value as { raw?: unknown } | null)?.raw as Partial<HopRaw> | undefined;
  if (!raw || typeof raw !== "object" || raw.base64 !== null || raw.sameAsJson !== true) {
    return value;
  }
  if (!Number.isInteger(raw.size)) return value; // the schema names the problem
  const bytes = sameAsJsonBytes(raw as HopRaw, envelopeBytes);
  const base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  (value as { raw: HopRaw }).raw = { base64, size: bytes.byteLength };
  return value;
}
