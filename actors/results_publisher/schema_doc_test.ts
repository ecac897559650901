import assert from "node:assert/strict";
import Ajv2020 from "ajv/dist/2020.js";
import { derivedAlertJsonSchema, SCHEMA_DOC } from "./schema_doc.ts";
import { buildDerivedAlert } from "./derived.ts";
import { resultFixture } from "./testing.ts";

Deno.test("docs/derived-alert.schema.json is the schema of the code (regenerate: schema_doc.ts)", async () => {
  const doc = await Deno.readTextFile(SCHEMA_DOC);
  assert.equal(
    doc,
    derivedAlertJsonSchema(),
    "stale: run `./kb run -A actors/results_publisher/schema_doc.ts`",
  );
  const schema = JSON.parse(doc);
  assert.deepEqual(schema.required, [
    "schema",
    "title",
    "topic",
    "submitter",
    "authors",
    "message_text",
    "data",
  ]);
  // A built alert validates against the published JSON Schema (as a non-TypeScript reader checks it).
  const ajv = new Ajv2020.default({ strict: false });
  const validate = ajv.compile(schema);
  const alert = buildDerivedAlert(resultFixture("ZTF-X", 0.7, ["hop:1"]), {
    resultId: "r",
    revision: 1,
    topic: "t",
    submitter: "s",
    authors: "a",
    candidate: {
      candidate_id: "ZTF-X",
      ra: 10,
      dec: -5,
      first_mjd: 60000,
    },
    photometry: [{
      candidate_id: "ZTF-X",
      mjd: 60000.5,
      band: "g",
      mag: 20.1,
      mag_err: 0.1,
      limiting_mag: null,
      upper_limit: false,
      mag_system: "AB",
      instrument: "ZTF/ZTF-cam",
    }],
    inputs: [],
  });
  assert.ok(validate(alert), JSON.stringify(validate.errors));
  assert.ok(!validate({ ...alert, title: 5 }));
});
