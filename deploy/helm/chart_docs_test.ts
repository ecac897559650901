/** The chart's README tables are generated from values.yaml and kept up to date. */
import assert from "node:assert/strict";
import { CHART_FILES, generateReadme, valueDocs } from "./chart_docs.ts";

Deno.test("chart docs: README.md is what `deno task chart-docs` generates from values.yaml", async () => {
  const readme = Deno.readTextFileSync(CHART_FILES.readme);
  const values = Deno.readTextFileSync(CHART_FILES.values);
  assert.equal(
    await generateReadme(readme, values),
    readme,
    "deploy/helm/kilonova-broker/README.md is out of date: run `./kb task chart-docs`",
  );
});

Deno.test("chart docs: helm-docs style comments become rows, nested first keys included", () => {
  const docs = valueDocs(
    "# header\n\n# -- top\na: 1\nb:\n  # -- first nested\n  c: x\n  d: [1]\n  # -- map\n  e: {f: 2}\n",
  );
  assert.deepEqual(docs, [
    { key: "a", type: "int", default: "1", description: "top" },
    { key: "b.c", type: "string", default: '"x"', description: "first nested" },
    { key: "b.e", type: "object", default: '{"f":2}', description: "map" },
  ]);
});

Deno.test("chart docs: every top-level value and every actor setting is documented", () => {
  const docs = valueDocs(Deno.readTextFileSync(CHART_FILES.values)).map((d) => d.key);
  const undocumented = [
    "nameOverride",
    "fullnameOverride",
    "image.repository",
    "nats.url",
    "runtime",
    "autoscaling.mode",
    "actorDefaults.replicas",
    "actorDefaults.autoscaling.lagThreshold",
    "actorDefaults.secrets",
    "actors",
    "replay.enabled",
    "replay.cronJob.schedule",
  ].filter((k) => !docs.includes(k));
  assert.deepEqual(undocumented, []);
});
