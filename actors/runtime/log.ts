/**
 * Structured JSON logs, one object per line, carrying the actor, the replica
 * and (when known) the message id.
 *
 * @module
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Record<string, unknown>): Logger;
}

// ---- redaction ----------------------------------------------------------------
//
// Credentials never reach a log line, whatever the level or the path (error
// messages of client libraries included): fields named like secrets are
// replaced, known secret values (registered by the code that loads them) are
// cut out of every string, and secret-shaped text is masked.

const REDACTED = "[redacted]";
/** Field names whose values are never logged. */
const SECRET_KEY =
  /(^|[_-])pass(wd|phrase)?$|password$|secret|^token$|[_-]token$|[a-z]Token$|^authorization$|^cookie$|seed$|api_?key|private_?key|^creds$|^sasl$/i;
const secretValues = new Set<string>();
/** Secret-shaped text: URL user info, bearer tokens, JWTs, nkey seeds, `password=...`. */
const SECRET_TEXT: [RegExp, string][] = [
  [/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):[^\s@/]+@/gi, `$1:${REDACTED}@`],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\bS[UAONCPX][A-Z2-7]{56}\b/g, REDACTED],
  [/\b(pass(?:word|wd)?|secret|token)(["']?\s*[=:]\s*["']?)[^\s"',;&]+/gi, `$1$2${REDACTED}`],
];

/**
 * Registers a secret value (a password, a seed) read at start: any log line
 * containing it shows `[redacted]` instead. Values shorter than 4 characters
 * are ignored (they would mask ordinary text).
 */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secretValues.add(value);
}

/** `text` with registered secrets and secret-shaped parts masked. */
export function redactText(text: string): string {
  let out = text;
  for (const v of secretValues) if (out.includes(v)) out = out.replaceAll(v, REDACTED);
  for (const [re, to] of SECRET_TEXT) out = out.replace(re, to);
  return out;
}

function redactReplacer(key: string, value: unknown): unknown {
  if (key !== "" && SECRET_KEY.test(key) && value !== undefined && value !== null) {
    return typeof value === "boolean" ? value : REDACTED;
  }
  return typeof value === "string" ? redactText(value) : value;
}

/** Where lines go (default: stderr). */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();
const stderrSink: LogSink = (line) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

/** Creates a JSON logger. */
export function createLogger(
  options: { level?: LogLevel; fields?: Record<string, unknown>; sink?: LogSink } = {},
): Logger {
  const min = ORDER[options.level ?? "info"];
  const base = options.fields ?? {};
  const sink = options.sink ?? stderrSink;
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level, msg, ...base };
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        entry[k] = v instanceof Error ? { name: v.name, message: v.message } : v;
      }
    }
    sink(JSON.stringify(entry, redactReplacer));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger({ level: options.level, fields: { ...base, ...fields }, sink }),
  };
}
