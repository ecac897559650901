/**
 * The identity of an Avro writer schema, as the inbound envelope carries it
 * instead of the schema itself (several KB per alert, and already in the
 * container the envelope keeps in `raw.base64`): the schema's full name and the
 * SHA-256 of its Parsing Canonical Form (the Avro specification's schema
 * fingerprint), which tells versions of one named schema apart.
 *
 * @module
 */
import avro from "avsc";

/** Full name and fingerprint of an Avro schema. */
export interface AvroSchemaId {
  /** Full name (`namespace.name`, e.g. `ztf.alert`); the type name for an unnamed schema. */
  readonly name: string;
  /** SHA-256 of the schema's Parsing Canonical Form, lowercase hex. */
  readonly fingerprint: string;
}

// Decoded containers share one frozen schema object per distinct schema text
// (avro.ts), so this is computed once per schema.
const ids = new WeakMap<object, AvroSchemaId>();

/** The {@link AvroSchemaId} of a (valid) Avro schema given as parsed JSON. */
export function avroSchemaId(schema: unknown): AvroSchemaId {
  const key = typeof schema === "object" && schema !== null ? schema : undefined;
  const hit = key && ids.get(key);
  if (hit) return hit;
  const type = avro.Type.forSchema(schema as avro.Schema);
  const id: AvroSchemaId = {
    name: type.name ?? type.typeName,
    fingerprint: type.fingerprint("sha256").toString("hex"),
  };
  if (key) ids.set(key, id);
  return id;
}
