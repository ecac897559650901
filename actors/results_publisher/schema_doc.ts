/**
 * The JSON Schema of the derived alert, generated from the zod schema so the
 * published document can never drift from the code:
 * `deno run -A actors/results_publisher/schema_doc.ts` rewrites
 * docs/derived-alert.schema.json; `schema_doc_test.ts` fails when it is stale.
 *
 * @module
 */
import { z } from "zod";
import { DerivedAlert } from "../../contracts/messages.ts";

/** Where the schema is published. */
export const SCHEMA_DOC = new URL("../../docs/derived-alert.schema.json", import.meta.url);

/** The derived alert's JSON Schema document, as text. */
export function derivedAlertJsonSchema(): string {
  const schema = z.toJSONSchema(DerivedAlert, { target: "draft-2020-12" }) as Record<
    string,
    unknown
  >;
  return JSON.stringify(
    {
      $schema: schema.$schema,
      title: "kilonova-broker derived alert (kb.derived-alert.v1)",
      description:
        "A classification result published to the Hopskotch results topic as hop JSON, " +
        "shaped after SCiMMA HERMES messages (title, topic, submitter, authors, message_text, " +
        "data.event_id/targets/photometry/references) with a classification section and links " +
        "to the input alerts. Generated from contracts/messages.ts (DerivedAlert).",
      ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== "$schema")),
    },
    null,
    2,
  ) + "\n";
}

if (import.meta.main) {
  await Deno.writeTextFile(SCHEMA_DOC, derivedAlertJsonSchema());
  console.log(`wrote ${SCHEMA_DOC.pathname}`);
}
