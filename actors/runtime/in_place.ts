/**
 * Validation without zod's copy. `schema.safeParse` builds a new object for
 * every object, array and record it walks (that copy is what it returns); a
 * message the runtime only needs to _check_ pays that allocation and its
 * garbage on every publish and every delivery. {@link inPlaceCheck} compiles a
 * zod schema into a check that reads the value where it is and allocates
 * nothing.
 *
 * It is one-sided by design (like `actors/classifier/fast_check.ts`, but
 * derived from the schema): it answers `true` only for a value that zod accepts
 * **and** would return unchanged (deep-equal, up to key order): no default to
 * fill, no unknown key to strip, no transform. Anything else answers `false`,
 * and the caller asks zod, which gives the verdict, the copy and the error
 * message ({@link validate}). So a value the check cannot judge costs time,
 * never correctness. Checks the schema carries (lengths, bounds, formats,
 * regexes, `refine`) are zod's own check functions, run on the value.
 *
 * Not compiled (always `false`, so zod decides): transforms, pipes, coercion,
 * lazy, dates, tuples, maps, sets, intersections, records with non-string keys,
 * checks that rewrite the value (`trim`, `toLowerCase`, ...), async checks.
 *
 * @module
 */
import type { z } from "zod";

/** Says whether zod would accept a value and return it unchanged (`false`: ask zod). */
export type InPlaceCheck = (value: unknown) => boolean;

/** zod 4's internals, as far as the check reads them. */
interface Internals {
  readonly def: Def;
  readonly traits: Set<string>;
  readonly values?: Set<unknown>;
  readonly check?: (payload: Payload) => unknown;
  readonly optin?: "optional";
}
interface Def {
  readonly type: string;
  readonly checks?: readonly { _zod: Internals }[];
  readonly coerce?: boolean;
  readonly shape?: Record<string, { _zod: Internals }>;
  readonly catchall?: { _zod: Internals };
  readonly element?: { _zod: Internals };
  readonly keyType?: { _zod: Internals };
  readonly valueType?: { _zod: Internals };
  readonly innerType?: { _zod: Internals };
  readonly options?: readonly { _zod: Internals }[];
  readonly discriminator?: string;
  readonly unionFallback?: boolean;
  readonly check?: string;
  readonly when?: (payload: Payload) => boolean;
}
interface Payload {
  value: unknown;
  issues: unknown[];
}
type Schema = { _zod: Internals };

const NEVER: InPlaceCheck = () => false;
const ALWAYS: InPlaceCheck = () => true;
const compiled = new WeakMap<object, InPlaceCheck>();

/** The in-place check of `schema` (compiled once per schema). */
export function inPlaceCheck(schema: z.ZodType): InPlaceCheck {
  return compile(schema as unknown as Schema);
}

/** What {@link validate} returns: zod's result shape. */
export type Validated<T> =
  | { readonly success: true; readonly data: T }
  | { readonly success: false; readonly error: z.ZodError };

/**
 * Validates `value` against `schema`: the value itself when the in-place check
 * passes, else zod's `safeParse` (its copy, or its error).
 */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  check: InPlaceCheck = inPlaceCheck(schema),
): Validated<z.infer<S>> {
  if (check(value)) return { success: true, data: value as z.infer<S> };
  return schema.safeParse(value) as Validated<z.infer<S>>;
}

function compile(s: Schema): InPlaceCheck {
  let c = compiled.get(s);
  if (c) return c;
  // A placeholder while compiling (a schema reached again through itself is not compiled).
  compiled.set(s, NEVER);
  c = withChecks(s, structural(s));
  compiled.set(s, c);
  return c;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** One payload for every check run: checks read it and push issues only on failure. */
const payload: Payload = { value: undefined, issues: [] };

/** Adds the schema's own checks (zod's functions) after its structural check. */
function withChecks(s: Schema, base: InPlaceCheck): InPlaceCheck {
  if (base === NEVER) return NEVER;
  const z = s._zod;
  const checks: Schema[] = [];
  if (z.traits.has("$ZodCheck")) checks.push(s);
  for (const ch of z.def.checks ?? []) checks.push(ch);
  if (!checks.length) return base;
  for (const ch of checks) {
    if (ch._zod.def.check === "overwrite" || typeof ch._zod.check !== "function") return NEVER;
  }
  const fast = checks.map(surelyPasses);
  const n = checks.length;
  return (v) => {
    if (!base(v)) return false;
    for (let i = 0; i < n; i++) {
      const f = fast[i];
      if (f !== undefined && f(v)) continue;
      if (!zodCheck(checks[i], v)) return false;
    }
    return true;
  };
}

/** Runs one of zod's checks on `v`: `true` when it raised no issue and left the value as it was. */
function zodCheck(ch: Schema, v: unknown): boolean {
  payload.value = v;
  if (payload.issues.length) payload.issues = [];
  const when = ch._zod.def.when;
  if (when && !when(payload)) return true;
  const r = ch._zod.check!(payload);
  if (r instanceof Promise || payload.issues.length || payload.value !== v) {
    payload.issues = [];
    return false;
  }
  return true;
}

/**
 * A shortcut for the commonest checks (bounds, integers, lengths) that answers
 * `true` only where zod's check surely passes (`false`: run zod's check).
 */
function surelyPasses(ch: Schema): ((v: unknown) => boolean) | undefined {
  const d = ch._zod.def as Def & {
    value?: unknown;
    inclusive?: boolean;
    format?: string;
    maximum?: number;
    minimum?: number;
  };
  switch (d.check) {
    case "less_than": {
      const max = d.value;
      if (typeof max !== "number") return undefined;
      return d.inclusive ? (v) => (v as number) <= max : (v) => (v as number) < max;
    }
    case "greater_than": {
      const min = d.value;
      if (typeof min !== "number") return undefined;
      return d.inclusive ? (v) => (v as number) >= min : (v) => (v as number) > min;
    }
    case "number_format":
      if (d.format === "safeint") return (v) => Number.isSafeInteger(v);
      if (d.format === "float64") return (v) => typeof v === "number";
      return undefined;
    case "max_length": {
      // Units bound code points from above.
      const max = d.maximum!;
      return (v) => (v as { length: number }).length <= max;
    }
    case "min_length": {
      // A string of twice the floor in units has at least the floor in code points.
      const min = d.minimum!;
      return (v) =>
        typeof v === "string" ? v.length >= 2 * min : (v as { length: number }).length >= min;
    }
    default:
      return undefined;
  }
}

/** The check of a schema's type and contents, without its own checks. */
function structural(s: Schema): InPlaceCheck {
  const def = s._zod.def;
  switch (def.type) {
    case "string":
      return def.coerce ? NEVER : (v) => typeof v === "string";
    case "number":
      return def.coerce ? NEVER : (v) => typeof v === "number" && Number.isFinite(v);
    case "boolean":
      return def.coerce ? NEVER : (v) => typeof v === "boolean";
    case "null":
      return (v) => v === null;
    case "undefined":
      return (v) => v === undefined;
    case "any":
    case "unknown":
      return ALWAYS;
    case "literal":
    case "enum": {
      const values = s._zod.values;
      return values ? (v) => values.has(v) : NEVER;
    }
    case "optional": {
      const inner = compile(def.innerType!);
      return (v) => v === undefined || inner(v);
    }
    case "nullable": {
      const inner = compile(def.innerType!);
      return (v) => v === null || inner(v);
    }
    case "default":
    case "prefault": {
      // Absent: zod fills the default, so its output differs.
      const inner = compile(def.innerType!);
      return (v) => v !== undefined && inner(v);
    }
    case "array":
      return arrayCheck(compile(def.element!));
    case "object":
      return objectCheck(def);
    case "record":
      return recordCheck(def);
    case "union":
      return def.discriminator === undefined ? unionCheck(def) : discriminatedCheck(def);
    default:
      return NEVER;
  }
}

function arrayCheck(element: InPlaceCheck): InPlaceCheck {
  if (element === NEVER) return NEVER;
  return (v) => {
    if (!Array.isArray(v)) return false;
    for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
    return true;
  };
}

function objectCheck(def: Def): InPlaceCheck {
  const shape = def.shape ?? {};
  const keys = Object.keys(shape).filter((k) => k !== "__proto__");
  const checks = keys.map((k) => compile(shape[k]));
  const known = new Set(keys);
  const n = keys.length;
  // `catchall` (loose or strict object): extra keys are checked by it, and kept.
  const catchall = def.catchall ? compile(def.catchall) : undefined;
  return (v) => {
    if (!isPlainObject(v)) return false;
    for (let i = 0; i < n; i++) if (!checks[i](v[keys[i]])) return false;
    for (const k in v) {
      if (known.has(k)) continue;
      // A stripped object (the default) drops unknown keys: its output differs.
      if (catchall === undefined || k === "__proto__" || !catchall(v[k])) return false;
    }
    return true;
  };
}

function recordCheck(def: Def): InPlaceCheck {
  // Only string keys (enum or literal keys make zod demand every key).
  if (def.keyType?._zod.def.type !== "string") return NEVER;
  const key = compile(def.keyType);
  const value = compile(def.valueType!);
  if (key === NEVER || value === NEVER) return NEVER;
  return (v) => {
    if (!isPlainObject(v)) return false;
    for (const k in v) if (k === "__proto__" || !key(k) || !value(v[k])) return false;
    return true;
  };
}

/**
 * zod returns the first option that accepts the value: option `i` may answer
 * only when every earlier one surely rejects it (its JavaScript type differs).
 */
function unionCheck(def: Def): InPlaceCheck {
  const options = def.options ?? [];
  const checks = options.map(compile);
  const rejects = options.map(surelyRejects);
  return (v) => {
    for (let i = 0; i < checks.length; i++) {
      if (checks[i](v)) return true;
      if (!rejects[i](v)) return false;
    }
    return false;
  };
}

/** `true` when the schema rejects the value for its JavaScript type alone (`false`: unsure). */
function surelyRejects(s: Schema): InPlaceCheck {
  const def = s._zod.def;
  if (def.coerce) return NEVER;
  switch (def.type) {
    case "string":
      return (v) => typeof v !== "string";
    case "number":
      return (v) => typeof v !== "number";
    case "boolean":
      return (v) => typeof v !== "boolean";
    case "null":
      return (v) => v !== null;
    case "literal":
    case "enum": {
      const values = s._zod.values;
      return values ? (v) => !values.has(v) : NEVER;
    }
    case "object":
    case "record":
      return (v) => typeof v !== "object" || v === null || Array.isArray(v);
    case "array":
      return (v) => !Array.isArray(v);
    case "nullable": {
      const inner = surelyRejects(def.innerType!);
      return (v) => v !== null && inner(v);
    }
    default:
      return NEVER;
  }
}

/** A discriminated union: the option named by the discriminator's value decides. */
function discriminatedCheck(def: Def): InPlaceCheck {
  const disc = def.discriminator!;
  const byValue = new Map<unknown, InPlaceCheck>();
  for (const o of def.options ?? []) {
    const values = o._zod.def.type === "object" ? o._zod.def.shape?.[disc]?._zod.values : undefined;
    if (!values) return NEVER;
    for (const value of values) {
      if (value === undefined || byValue.has(value)) return NEVER;
      byValue.set(value, compile(o));
    }
  }
  return (v) => {
    if (!isPlainObject(v)) return false;
    const check = byValue.get(v[disc]);
    return check !== undefined && check(v);
  };
}
