/**
 * Validation of GCN notices against the official unified JSON schemas
 * (`@nasa-gcn/schema`, draft 2020-12) with ajv, the JSON-schema validator the
 * schema project itself uses. Used by the tests and available to the publisher.
 *
 * @module
 */
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const CORE = [
  "AdditionalInfo",
  "Alert",
  "DateTime",
  "DetectorStatus",
  "Event",
  "FollowUp",
  "GeoLocBase",
  "HardnessRatio",
  "Localization",
  "Reporter",
  "Spectral",
  "Statistics",
  "models/Band",
  "models/CutoffPowerLaw",
  "models/PowerLaw",
];

/** Schemas a replayed notice can declare (paths under gcn/notices/). */
export const GCN_NOTICE_SCHEMAS = ["fermi/gbm/trigger", "icecube/lvk_nu_track_search"] as const;

async function load(path: string): Promise<Record<string, unknown>> {
  const mod = await import(`@nasa-gcn/schema/gcn/notices/${path}.schema.json`, {
    with: { type: "json" },
  });
  return mod.default as Record<string, unknown>;
}

/** A validator for the notice schemas; returns error text, or null when valid. */
export async function gcnNoticeValidator(): Promise<
  (notice: Record<string, unknown>) => string | null
> {
  // deno-lint-ignore no-explicit-any
  const ajv = new (Ajv2020 as any)({ strict: false, allErrors: true, allowUnionTypes: true });
  // deno-lint-ignore no-explicit-any
  (addFormats as any)(ajv);
  for (const c of CORE) ajv.addSchema(await load(`core/${c}`));
  const validators = new Map<string, (v: unknown) => boolean>();
  for (const s of GCN_NOTICE_SCHEMAS) {
    const schema = await load(s);
    validators.set(String(schema.$id), ajv.compile(schema));
  }
  return (notice) => {
    const id = String(notice.$schema ?? "");
    const v = validators.get(id) as ((x: unknown) => boolean) & { errors?: unknown[] } | undefined;
    if (!v) return `no known GCN schema for $schema "${id}"`;
    return v(notice) ? null : JSON.stringify(v.errors);
  };
}
