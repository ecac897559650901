/**
 * Fast, deterministic Avro object-container encoding for the publisher's
 * payloads (hop's `avro` format is one container per record, as hop-client's
 * `AvroBlob` writes it). The avsc type is compiled once per schema; the sync
 * marker derives from the schema name, so the same record always encodes to
 * the same bytes.
 *
 * @module
 */
import avro from "avsc";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);
const META_TYPE = avro.Type.forSchema({ type: "map", values: "bytes" });
const LONG_TYPE = avro.Type.forSchema("long");

/** Encodes records of one schema as Avro object containers. */
export class AvroContainerWriter {
  /** The compiled type (also validates records). */
  readonly type: avro.Type;
  readonly #header: Buffer;

  constructor(readonly schema: object) {
    this.type = avro.Type.forSchema(schema as avro.Schema);
    const meta = META_TYPE.toBuffer({
      "avro.schema": Buffer.from(JSON.stringify(this.type.schema()), "utf8"),
      "avro.codec": Buffer.from("null", "utf8"),
    });
    const name = (this.type as unknown as { name?: string }).name ?? "record";
    const sync = createHash("sha1").update(`kb-avro-sync/${name}`).digest().subarray(0, 16);
    this.#header = Buffer.concat([MAGIC, meta, sync]);
  }

  /** The container holding `record`; throws naming the first invalid field path. */
  encode(record: unknown): Uint8Array {
    let body: Buffer;
    try {
      body = this.type.toBuffer(record);
    } catch (err) {
      const paths: string[] = [];
      this.type.isValid(record, { errorHook: (path) => paths.push(path.join(".")) });
      throw new Error(
        `record does not match Avro schema ${this.type.name ?? ""}` +
          `${paths.length ? ` at field ${paths.join(", ")}` : ""}: ${(err as Error).message}`,
      );
    }
    const sync = this.#header.subarray(this.#header.length - 16);
    return new Uint8Array(
      Buffer.concat([
        this.#header,
        LONG_TYPE.toBuffer(1),
        LONG_TYPE.toBuffer(body.length),
        body,
        sync,
      ]),
    );
  }
}

/** Loads an .avsc file next to this module (schemas/NAME). */
export async function loadSchema(name: string): Promise<object> {
  const url = new URL(`./schemas/${name}`, import.meta.url);
  return JSON.parse(await Deno.readTextFile(url));
}
